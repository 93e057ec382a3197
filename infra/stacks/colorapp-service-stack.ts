import * as path from 'node:path';
import { Annotations, Aws, CfnDeletionPolicy, CfnOutput, type CfnResource, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as appmesh from 'aws-cdk-lib/aws-appmesh';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import { STATSD_PORT, cloudWatchAgentConfig, envoyStatsConfigScript } from '../envoy-telemetry';
import { COLORAPP, type ReleaseSettings, type SampleTrafficKind } from '../colorapp-settings';
import { templateFamilyOf } from '../../lambdas/shared/task-definition';
import { CreateOnlyFargateService, type CreateOnlyFargateServiceProps, CreateOnlyWeightedListenerRule, CreateOnlyWeightedRoute } from '../constructs/runtime-owned';

/** Pinned sidecar images: a release must never pick up a new proxy or agent by accident. */
export const DEFAULT_ENVOY_IMAGE = 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod';
export const DEFAULT_CLOUDWATCH_AGENT_IMAGE = 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300049.1b929';

/** The port colorapp listens on in its tasks. */
export const APP_PORT = 8080;
/** The weighted rule (ALB) and route (App Mesh) come after the header rules and routes, which win first. */
/** The weighted rule's priority: after the header test rules (1 and 2). */
export const WEIGHTED_PRIORITY = 10;
const ENVOY_UID = '1337';
const STATS_CONFIG_DIR = '/etc/envoy-release';

/** The warning a synth with `-c traffic=appmesh` prints. */
export const APP_MESH_END_OF_SUPPORT_WARNING =
  'AWS App Mesh was discontinued on 2026-09-30: this App Mesh variant of the sample is kept for existing meshes only. ' +
  'Deploy the default (an Application Load Balancer, `cdk deploy` without -c traffic=appmesh) instead.';

/** The App Mesh pieces of the service (`traffic: 'appmesh'` only). */
export interface ColorappMesh {
  readonly mesh: appmesh.Mesh;
  /**
   * The route the release engine rewrites: blue 100 / green 0 at first. Created once, by a
   * custom resource ({@link weightedRouteResource}); CloudFormation never updates it.
   */
  readonly weightedRoute: appmesh.IRoute;
  /** The custom resource that created {@link weightedRoute}. */
  readonly weightedRouteResource: CreateOnlyWeightedRoute;
  readonly virtualNodes: Record<Colour, appmesh.VirtualNode>;
  /** The Network Load Balancer in front of the virtual gateway. */
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
}

/** The Application Load Balancer pieces of the service (`traffic: 'alb'`, the default). */
export interface ColorappAlb {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The load balancer's security group (port 80 from anywhere; egress to the colour tasks only). */
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  /** The colour tasks' security group: HTTP from the load balancer only (copies of colorapp use it too). */
  readonly tasksSecurityGroup: ec2.SecurityGroup;
  /**
   * The production listener (HTTP 80). Its default action answers 503 (no release rule) and never
   * changes: the weights live in {@link weightedRule}.
   */
  readonly listener: elbv2.ApplicationListener;
  /**
   * The rule with the weighted forward a release rewrites (blue 100 / green 0 at first), created
   * once by a custom resource; CloudFormation never updates it (see {@link CreateOnlyWeightedListenerRule}).
   */
  readonly weightedRule: CreateOnlyWeightedListenerRule;
  /** One target group per colour; each colour's ECS service registers its tasks to its own. */
  readonly targetGroups: Record<Colour, elbv2.ApplicationTargetGroup>;
  /** Rules that send a request with `<testHeader>: <colour>` to that colour, whatever the weights. */
  readonly testRules: Record<Colour, elbv2.ApplicationListenerRule>;
}

/** What both traffic variants build their colours from. */
interface ColourBuildContext {
  readonly settings: ReleaseSettings;
  readonly image: ecrAssets.DockerImageAsset;
  readonly logGroup: logs.ILogGroup;
  readonly desiredCount: number;
}

/** The colours as a traffic variant built them. */
interface BuiltColours {
  readonly services: Record<Colour, ecs.IBaseService>;
  readonly taskDefinitions: Record<Colour, ecs.FargateTaskDefinition>;
}

/** Properties of {@link ColorappServiceStack}. */
export interface ColorappServiceStackProps extends StackProps {
  /**
   * How traffic reaches the colours: an internet-facing Application Load Balancer with one
   * target group per colour, or the App Mesh sample (discontinued on 2026-09-30).
   * @default 'alb'
   */
  readonly traffic?: SampleTrafficKind;
  /**
   * Tasks the live colour runs. The idle colour starts at zero; a release deploys it at the live
   * colour's count.
   * @default 2
   */
  readonly desiredCount?: number;
  /**
   * Tasks of the virtual gateway (the Envoy behind the load balancer; App Mesh only).
   * @default 2
   */
  readonly gatewayDesiredCount?: number;
  /**
   * The App Mesh Envoy image.
   * @default DEFAULT_ENVOY_IMAGE
   */
  readonly envoyImage?: string;
  /**
   * The CloudWatch agent image that ships Envoy's StatsD metrics.
   * @default DEFAULT_CLOUDWATCH_AGENT_IMAGE
   */
  readonly cloudWatchAgentImage?: string;
  /**
   * The names and release settings of the service: its cluster, ECS services, task definition
   * family, container, load balancer and target groups (ALB), or App Mesh mesh, virtual router,
   * route and virtual nodes and the namespace its Envoy metrics are published to (App Mesh). The release stack and the local environment read the
   * same settings, so what is deployed is what the release configuration names.
   * @default COLORAPP
   */
  readonly settings?: ReleaseSettings;
  /**
   * What happens to the image repository and log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The sample service, colorapp: a VPC, a Fargate cluster, an image repository and one ECS service
 * per colour, reached in one of two ways.
 *
 * By default (`traffic: 'alb'`), an internet-facing Application Load Balancer: one target group
 * per colour, a production listener whose weighted rule forwards blue 100 / green 0 at first (the
 * weights a release rewrites), and listener rules that send `x-release-color: <colour>` to that
 * colour whatever the weights. Health comes from the load balancer's own metrics.
 *
 * With `traffic: 'appmesh'` (App Mesh was discontinued on 2026-09-30), Cloud
 * Map, an App Mesh mesh (egress DROP_ALL) with one virtual node per colour, a virtual router
 * whose weighted route starts at blue 100 / green 0 plus header routes that reach either colour
 * on purpose (`x-release-color: green`), a virtual service, and a virtual gateway (Envoy on
 * Fargate) behind a Network Load Balancer.
 *
 * Each colour is one ECS service whose tasks run colorapp behind the Envoy sidecar (App Mesh
 * proxy configuration), plus a CloudWatch agent that receives Envoy's statistics over StatsD and
 * publishes them with the `Service` and `Color` dimensions of `lambdas/shared/envoy-metrics.ts`.
 *
 * Who owns what: CloudFormation creates everything, but what a release changes at run time (each
 * colour's ECS service with its desired count and task definition revision, the weighted rule or
 * route) is created once by custom resources with no update call, so a later `cdk deploy` never
 * undoes a release. The task definitions here are templates (family
 * `<taskDefinitionFamily>-<colour>-template`): the services are created from them, and every
 * release clones the newest one, so a change made here reaches production with the next release.
 */
export class ColorappServiceStack extends Stack {
  /** What the stack was built from; the release pipeline of this service reads the same. */
  readonly settings: ReleaseSettings;
  /** The service's name everywhere: SSM prefix, metric dimension, ECS service prefix. */
  readonly serviceName: string;
  /** Family of every revision a release registers (the templates are `<family>-<colour>-template`). */
  readonly taskDefinitionFamily: string;
  /** The container a release replaces the image of. */
  readonly containerName: string;
  /** Set to the colour in each revision (colorapp answers it on `GET /`). */
  readonly colourEnvironmentVariable: string;
  readonly metricNamespace: string;

  /** How traffic reaches the colours. */
  readonly traffic: SampleTrafficKind;
  readonly vpc: ec2.Vpc;
  readonly cluster: ecs.Cluster;
  /** The App Mesh pieces; only with `traffic: 'appmesh'`. */
  readonly appMesh?: ColorappMesh;
  /** The load balancer pieces; only with `traffic: 'alb'`. */
  readonly alb?: ColorappAlb;
  /** Each colour's ECS service, created once (see {@link CreateOnlyFargateService}). */
  readonly services: Record<Colour, ecs.IBaseService>;
  /**
   * Each colour's template task definition: what its service was created with, and what every
   * release of that colour clones (family `<taskDefinitionFamily>-<colour>-template`).
   */
  readonly taskDefinitions: Record<Colour, ecs.FargateTaskDefinition>;
  /** Shared by both colours: a release clones one colour's revision for the other. */
  readonly taskRole: iam.Role;
  /** Shared by both colours, for the same reason. */
  readonly executionRole: iam.Role;
  /** Where release images are pushed; the pipeline watches it. */
  readonly repository: ecr.Repository;
  /** The first image every colour starts on (copies of colorapp start on it too). */
  readonly initialImage: ecrAssets.DockerImageAsset;
  /** The containers' log group. */
  readonly containerLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ColorappServiceStackProps = {}) {
    super(scope, id, props);
    this.traffic = props.traffic ?? 'alb';
    const settings = props.settings ?? COLORAPP;
    if (!settings.colourEnvironmentVariable) {
      throw new Error(
        `ColorappServiceStack settings for '${settings.serviceName}' have no colourEnvironmentVariable: colorapp tells its ` +
          'colour by that variable, so set it (COLORAPP uses COLOR).',
      );
    }
    this.settings = settings;
    this.serviceName = settings.serviceName;
    this.taskDefinitionFamily = settings.taskDefinitionFamily;
    this.containerName = settings.containerName;
    this.colourEnvironmentVariable = settings.colourEnvironmentVariable;
    this.metricNamespace = settings.health.metricNamespace;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const desiredCount = props.desiredCount ?? 2;

    // --- Network, cluster, discovery --------------------------------------------------------
    const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } },
    });
    // Physical names from the settings: the release configuration and the local world name them too.
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      clusterName: settings.clusterName,
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const logGroup = new logs.LogGroup(this, 'ContainerLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    this.containerLogs = logGroup;

    // --- Colour services ------------------------------------------------------------------------
    this.repository = new ecr.Repository(this, 'Repository', {
      imageScanOnPush: true,
      // The pipeline follows a moving tag ('latest'); releases themselves deploy by digest.
      imageTagMutability: ecr.TagMutability.MUTABLE,
      lifecycleRules: [{ description: 'Keep the last 50 images', maxImageCount: 50 }],
      removalPolicy,
      emptyOnDelete: removalPolicy === RemovalPolicy.DESTROY,
    });
    const image = new ecrAssets.DockerImageAsset(this, 'InitialImage', {
      directory: path.join(__dirname, '..', '..', 'colorapp'),
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
    this.initialImage = image;

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        this.traffic === 'appmesh'
          ? 'colorapp tasks of both colours: Envoy reads its mesh config, the agent publishes Envoy metrics'
          : 'colorapp tasks of both colours (the app needs no AWS access; a release passes this role on)',
    });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Pulls colorapp images (initial asset and released images) and writes container logs',
    });
    this.repository.grantPull(this.executionRole);
    Validations.of(this.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken supports no resource-level permissions; image pulls are limited to the named repositories.',
    });

    const built =
      this.traffic === 'appmesh'
        ? this.buildAppMesh(props, { settings, image, logGroup, desiredCount })
        : this.buildAlb({ settings, image, logGroup, desiredCount });
    this.services = built.services;
    this.taskDefinitions = built.taskDefinitions;
    if (built.kind === 'appmesh') this.appMesh = built.appMesh;
    else this.alb = built.alb;
  }

  /**
   * One colour's ECS service, created once (a release owns its revision and size afterwards), in
   * the private subnets: blue is live at first, green waits at zero until a release deploys to
   * it. `attach` is how the backend reaches its tasks (a target group, or Cloud Map for App Mesh).
   */
  private colourService(
    colour: Colour,
    taskDefinition: ecs.TaskDefinition,
    common: { settings: ReleaseSettings; desiredCount: number; tasksSecurityGroup: ec2.ISecurityGroup },
    attach: Pick<CreateOnlyFargateServiceProps, 'loadBalancer' | 'healthCheckGracePeriod' | 'cloudMapService' | 'dependsOn'>,
  ): ecs.IBaseService {
    return new CreateOnlyFargateService(this, `${title(colour)}Service`, {
      cluster: this.cluster,
      serviceName: common.settings.ecsServices[colour],
      taskDefinition,
      desiredCount: colour === 'blue' ? common.desiredCount : 0,
      subnets: this.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
      securityGroups: [common.tasksSecurityGroup],
      ...attach,
    }).service;
  }

  /** The internet-facing load balancer's security group (both variants): HTTP from anywhere, no egress until granted. */
  private publicEndpointSecurityGroup(): ec2.SecurityGroup {
    const securityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'colorapp public endpoint',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'colorapp over HTTP from anywhere');
    Validations.of(securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'This is the public endpoint of the sample web service: port 80 from anywhere is its purpose.',
    });
    return securityGroup;
  }

  /**
   * The default sample: an internet-facing Application Load Balancer in front of one target
   * group per colour. The production listener's weighted rule is the forward a release rewrites
   * (blue 100 / green 0 at first); header rules reach either colour on purpose.
   */
  private buildAlb({ settings, image, logGroup, desiredCount }: ColourBuildContext): BuiltColours & { kind: 'alb'; alb: ColorappAlb } {
    const lbSecurityGroup = this.publicEndpointSecurityGroup();
    const tasksSecurityGroup = new ec2.SecurityGroup(this, 'ColourTasks', {
      vpc: this.vpc,
      description: 'colorapp tasks (both colours): HTTP from the load balancer only',
    });
    tasksSecurityGroup.addIngressRule(lbSecurityGroup, ec2.Port.tcp(APP_PORT), 'From the load balancer');
    lbSecurityGroup.addEgressRule(tasksSecurityGroup, ec2.Port.tcp(APP_PORT), 'To the colour tasks');

    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      loadBalancerName: settings.alb.loadBalancerName,
      internetFacing: true,
      securityGroup: lbSecurityGroup,
      dropInvalidHeaderFields: true,
    });
    Validations.of(loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'A sample endpoint: an access log bucket would outlive `cdk destroy` and cost more than the sample. The release ' +
        'reads its health from the AWS/ApplicationELB metrics, and colorapp logs every request to CloudWatch Logs.',
    });

    const targetGroups = {} as Record<Colour, elbv2.ApplicationTargetGroup>;
    for (const colour of COLOURS) {
      targetGroups[colour] = new elbv2.ApplicationTargetGroup(this, `${title(colour)}TargetGroup`, {
        vpc: this.vpc,
        targetGroupName: settings.alb.targetGroupNames[colour],
        // Fargate tasks (awsvpc) register by IP.
        targetType: elbv2.TargetType.IP,
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: APP_PORT,
        // The release waits for it when the old colour scales down, so it is short.
        deregistrationDelay: Duration.seconds(settings.alb.deregistrationDelaySeconds),
        healthCheck: {
          path: '/healthcheck',
          interval: Duration.seconds(10),
          timeout: Duration.seconds(5),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 2,
        },
      });
    }

    // `open: false`: the security group above already admits port 80 (plain HTTP: the sample has
    // no domain, so no certificate), acknowledged where it is.
    const listener = loadBalancer.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      // Never reached while the weighted rule (every path) exists; releases never change it, so
      // CloudFormation may own it.
      defaultAction: elbv2.ListenerAction.fixedResponse(503, {
        contentType: 'text/plain',
        messageBody: 'colorapp: no release rule (the weighted listener rule is missing)',
      }),
    });
    // Rules come before the default action: `x-release-color: green` reaches green whatever the
    // weights say, so the idle colour can be tried before it gets traffic.
    const testRules = {} as Record<Colour, elbv2.ApplicationListenerRule>;
    COLOURS.forEach((colour, i) => {
      testRules[colour] = new elbv2.ApplicationListenerRule(this, `${title(colour)}ByHeaderRule`, {
        listener,
        priority: i + 1,
        conditions: [elbv2.ListenerCondition.httpHeader(settings.alb.testHeader, [colour])],
        action: elbv2.ListenerAction.forward([targetGroups[colour]]),
      });
    });
    const weightedRule = new CreateOnlyWeightedListenerRule(this, 'WeightedRule', {
      listener,
      priority: WEIGHTED_PRIORITY,
      targetGroups,
    });

    const taskDefinitions = {} as Record<Colour, ecs.FargateTaskDefinition>;
    const services = {} as Record<Colour, ecs.IBaseService>;
    for (const colour of COLOURS) {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${title(colour)}TaskDefinition`, {
        family: templateFamilyOf(this.taskDefinitionFamily, colour),
        cpu: 256,
        memoryLimitMiB: 512,
        taskRole: this.taskRole,
        executionRole: this.executionRole,
      });
      taskDefinition.addContainer(this.containerName, {
        image: ecs.ContainerImage.fromDockerImageAsset(image),
        essential: true,
        environment: { PORT: String(APP_PORT), [this.colourEnvironmentVariable]: colour },
        portMappings: [{ containerPort: APP_PORT }],
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: `${colour}-app` }),
        // The image's own check (ECS ignores the Dockerfile HEALTHCHECK): a task that never gets
        // healthy fails the deployment, which the release engine sees as FAILED.
        healthCheck: {
          command: ['CMD', 'node', '/app/healthcheck.js'],
          interval: Duration.seconds(10),
          timeout: Duration.seconds(3),
          retries: 3,
          startPeriod: Duration.seconds(10),
        },
      });
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason:
          'The environment holds no secrets: the colour and the port. They must stay plain values because a release ' +
          'clones this revision and rewrites the colour variable.',
      });
      taskDefinitions[colour] = this.template(taskDefinition);

      services[colour] = this.colourService(colour, taskDefinition, { settings, desiredCount, tasksSecurityGroup }, {
        // Each colour in its own target group: the weights of the forward are the traffic split.
        loadBalancer: { targetGroup: targetGroups[colour], containerName: this.containerName, containerPort: APP_PORT },
        healthCheckGracePeriod: Duration.seconds(30),
        // CreateService refuses a target group no load balancer forwards to: the rules attach them.
        dependsOn: [testRules.blue, testRules.green, weightedRule],
      });
    }

    new CfnOutput(this, 'Url', {
      value: `http://${loadBalancer.loadBalancerDnsName}/`,
      description: `colorapp through the load balancer (add the header ${settings.alb.testHeader}: green to reach green)`,
    });
    return {
      kind: 'alb',
      alb: { loadBalancer, loadBalancerSecurityGroup: lbSecurityGroup, tasksSecurityGroup, listener, weightedRule, targetGroups, testRules },
      services,
      taskDefinitions,
    };
  }

  /**
   * The App Mesh sample: Cloud Map, the mesh, its routes, the colours behind Envoy sidecars and a
   * CloudWatch agent, and a virtual gateway behind a Network Load Balancer.
   */
  private buildAppMesh(
    props: ColorappServiceStackProps,
    { settings, image, logGroup, desiredCount }: ColourBuildContext,
  ): BuiltColours & { kind: 'appmesh'; appMesh: ColorappMesh } {
    Annotations.of(this).addWarning(APP_MESH_END_OF_SUPPORT_WARNING);
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W3696',
      reason:
        'App Mesh reached end of support on 2026-09-30. This variant is only built with -c traffic=appmesh, for meshes ' +
        'that still run; the default sample uses an Application Load Balancer instead.',
    });
    const envoyImage = ecs.ContainerImage.fromRegistry(props.envoyImage ?? DEFAULT_ENVOY_IMAGE);
    const agentImage = ecs.ContainerImage.fromRegistry(props.cloudWatchAgentImage ?? DEFAULT_CLOUDWATCH_AGENT_IMAGE);
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `${this.serviceName}.local`,
      vpc: this.vpc,
      description: 'Service discovery for the colorapp mesh',
    });

    // --- Mesh --------------------------------------------------------------------------------
    const mesh = new appmesh.Mesh(this, 'Mesh', { meshName: settings.appMesh.meshName, egressFilter: appmesh.MeshFilterType.DROP_ALL });

    // DROP_ALL blocks every destination the mesh does not know. The CloudWatch agent must reach
    // CloudWatch, so the monitoring endpoint is declared as an external service (TLS passes
    // through Envoy untouched) and is the only backend the colours may call.
    const monitoringHost = `monitoring.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const monitoringNode = mesh.addVirtualNode('CloudWatchMonitoring', {
      serviceDiscovery: appmesh.ServiceDiscovery.dns(monitoringHost),
      listeners: [appmesh.VirtualNodeListener.tcp({ port: 443 })],
    });
    const monitoring = new appmesh.VirtualService(this, 'CloudWatchMonitoringService', {
      virtualServiceName: monitoringHost,
      virtualServiceProvider: appmesh.VirtualServiceProvider.virtualNode(monitoringNode),
    });

    const cloudMapServices = {} as Record<Colour, servicediscovery.Service>;
    const nodes = {} as Record<Colour, appmesh.VirtualNode>;
    for (const colour of COLOURS) {
      cloudMapServices[colour] = namespace.createService(`${title(colour)}Discovery`, {
        name: colour,
        dnsRecordType: servicediscovery.DnsRecordType.A,
        dnsTtl: Duration.seconds(10),
        customHealthCheck: { failureThreshold: 1 },
      });
      nodes[colour] = mesh.addVirtualNode(`${title(colour)}Node`, {
        virtualNodeName: settings.appMesh.virtualNodes[colour],
        serviceDiscovery: appmesh.ServiceDiscovery.cloudMap(cloudMapServices[colour]),
        listeners: [
          appmesh.VirtualNodeListener.http({
            port: APP_PORT,
            healthCheck: appmesh.HealthCheck.http({
              path: '/healthcheck',
              interval: Duration.seconds(5),
              timeout: Duration.seconds(2),
              healthyThreshold: 2,
              unhealthyThreshold: 2,
            }),
          }),
        ],
        backends: [appmesh.Backend.virtualService(monitoring)],
        accessLog: appmesh.AccessLog.fromFilePath('/dev/stdout'),
      });
    }

    const router = mesh.addVirtualRouter('Router', {
      virtualRouterName: settings.appMesh.virtualRouterName,
      listeners: [appmesh.VirtualRouterListener.http(APP_PORT)],
    });
    // Header routes come first (lower priority number wins): `x-release-color: green` reaches
    // green whatever the weights say, so the idle colour can be tried before it gets traffic.
    COLOURS.forEach((colour, i) => {
      new appmesh.Route(this, `${title(colour)}ByHeaderRoute`, {
        mesh,
        virtualRouter: router,
        routeName: `${colour}-by-header`,
        routeSpec: appmesh.RouteSpec.http({
          priority: i,
          match: {
            path: appmesh.HttpRoutePathMatch.startsWith('/'),
            headers: [appmesh.HeaderMatch.valueIs('x-release-color', colour)],
          },
          weightedTargets: [{ virtualNode: nodes[colour], weight: 100 }],
        }),
      });
    });
    const weightedRouteResource = new CreateOnlyWeightedRoute(this, 'WeightedRoute', {
      router,
      routeName: settings.appMesh.routeName,
      priority: WEIGHTED_PRIORITY,
      virtualNodes: nodes,
      perRequestTimeout: Duration.seconds(15),
    });
    const virtualService = new appmesh.VirtualService(this, 'VirtualService', {
      virtualServiceName: `${this.serviceName}.${namespace.namespaceName}`,
      virtualServiceProvider: appmesh.VirtualServiceProvider.virtualRouter(router),
    });

    this.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['appmesh:StreamAggregatedResources'],
        resources: COLOURS.map((colour) => nodes[colour].virtualNodeArn),
      }),
    );
    this.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': this.metricNamespace } },
      }),
    );
    Validations.of(this.taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:PutMetricData supports no resource-level permissions; the condition limits it to the Envoy metric namespace.',
    });

    const tasksSecurityGroup = new ec2.SecurityGroup(this, 'ColourTasks', {
      vpc: this.vpc,
      description: 'colorapp tasks (both colours): HTTP from the gateway only',
    });

    const taskDefinitions = {} as Record<Colour, ecs.FargateTaskDefinition>;
    const services = {} as Record<Colour, ecs.IBaseService>;
    for (const colour of COLOURS) {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${title(colour)}TaskDefinition`, {
        family: templateFamilyOf(this.taskDefinitionFamily, colour),
        cpu: 512,
        memoryLimitMiB: 1024,
        taskRole: this.taskRole,
        executionRole: this.executionRole,
        proxyConfiguration: new ecs.AppMeshProxyConfiguration({
          containerName: 'envoy',
          properties: {
            appPorts: [APP_PORT],
            proxyIngressPort: 15000,
            proxyEgressPort: 15001,
            ignoredUID: Number(ENVOY_UID),
            // Task metadata and credentials endpoints must not go through the proxy.
            egressIgnoredIPs: ['169.254.170.2', '169.254.169.254'],
          },
        }),
      });
      taskDefinition.addVolume({ name: 'envoy-release' });
      this.addColourContainers(taskDefinition, colour, {
        appImage: ecs.ContainerImage.fromDockerImageAsset(image),
        envoyImage,
        agentImage,
        logGroup,
        virtualNode: nodes[colour],
      });
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason:
          'The environment holds no secrets: the colour, the port, the App Mesh node ARN and the metric agent config. ' +
          'They must stay plain values because a release clones this revision and rewrites the colour variable.',
      });
      taskDefinitions[colour] = this.template(taskDefinition);

      services[colour] = this.colourService(colour, taskDefinition, { settings, desiredCount, tasksSecurityGroup }, {
        cloudMapService: cloudMapServices[colour],
        // Envoy needs its virtual node before the first task can become healthy.
        dependsOn: [nodes[colour]],
      });
    }

    // --- Gateway behind a Network Load Balancer --------------------------------------------
    const gateway = mesh.addVirtualGateway('Gateway', {
      listeners: [appmesh.VirtualGatewayListener.http({ port: APP_PORT })],
      accessLog: appmesh.AccessLog.fromFilePath('/dev/stdout'),
    });
    gateway.addGatewayRoute('ToColorapp', {
      routeSpec: appmesh.GatewayRouteSpec.http({
        routeTarget: virtualService,
        match: { path: appmesh.HttpGatewayRoutePathMatch.startsWith('/') },
      }),
    });
    const gatewayRole = new iam.Role(this, 'GatewayTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'The colorapp virtual gateway reads its mesh config',
    });
    gatewayRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['appmesh:StreamAggregatedResources'], resources: [gateway.virtualGatewayArn] }),
    );
    const gatewayTask = new ecs.FargateTaskDefinition(this, 'GatewayTaskDefinition', {
      family: `${this.serviceName}-gateway`,
      cpu: 256,
      memoryLimitMiB: 512,
      taskRole: gatewayRole,
    });
    gatewayTask.addContainer('envoy', {
      image: envoyImage,
      essential: true,
      user: ENVOY_UID,
      environment: { APPMESH_RESOURCE_ARN: gateway.virtualGatewayArn },
      portMappings: [{ containerPort: APP_PORT }],
      healthCheck: envoyHealthCheck(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'gateway' }),
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 15000, hardLimit: 15000 }],
    });
    Validations.of(gatewayTask).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The only variable is the virtual gateway ARN, which is not a secret.',
    });

    const lbSecurityGroup = this.publicEndpointSecurityGroup();
    const gatewaySecurityGroup = new ec2.SecurityGroup(this, 'GatewayTasks', {
      vpc: this.vpc,
      description: 'colorapp virtual gateway: from the load balancer only',
    });
    gatewaySecurityGroup.addIngressRule(lbSecurityGroup, ec2.Port.tcp(APP_PORT), 'From the load balancer');
    lbSecurityGroup.addEgressRule(gatewaySecurityGroup, ec2.Port.tcp(APP_PORT), 'To the gateway tasks');
    tasksSecurityGroup.addIngressRule(gatewaySecurityGroup, ec2.Port.tcp(APP_PORT), 'From the virtual gateway');

    const gatewayService = new ecs.FargateService(this, 'GatewayService', {
      cluster: this.cluster,
      serviceName: `${this.serviceName}-gateway`,
      taskDefinition: gatewayTask,
      desiredCount: props.gatewayDesiredCount ?? 2,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      securityGroups: [gatewaySecurityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    gatewayService.node.addDependency(gateway);

    const loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: true,
      securityGroups: [lbSecurityGroup],
      crossZoneEnabled: true,
    });
    Validations.of(loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'Network Load Balancers write access logs only for TLS listeners; this one forwards TCP, so a log bucket would ' +
        'stay empty. The gateway Envoy logs every request to CloudWatch Logs instead.',
    });
    loadBalancer
      .addListener('Http', { port: 80, protocol: elbv2.Protocol.TCP })
      .addTargets('Gateway', {
        port: APP_PORT,
        protocol: elbv2.Protocol.TCP,
        targets: [gatewayService],
        deregistrationDelay: Duration.seconds(30),
        healthCheck: { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(10) },
      });
    new CfnOutput(this, 'Url', {
      value: `http://${loadBalancer.loadBalancerDnsName}/`,
      description: 'colorapp through the virtual gateway (add the header x-release-color: green to reach green)',
    });
    return {
      kind: 'appmesh',
      appMesh: { mesh, weightedRoute: weightedRouteResource.route, weightedRouteResource, virtualNodes: nodes, loadBalancer },
      services,
      taskDefinitions,
    };
  }

  /**
   * Marks a colour's task definition as a template: a change made here registers a new revision
   * that a service only runs once a release clones it. The revision it replaces is kept ACTIVE
   * (UpdateReplacePolicy Retain), because a service may still run it, and ECS refuses to deploy
   * an INACTIVE revision again (a rollback to it would fail). Deleting the stack deregisters the
   * current one.
   */
  private template(taskDefinition: ecs.FargateTaskDefinition): ecs.FargateTaskDefinition {
    (taskDefinition.node.defaultChild as CfnResource).cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
    Validations.of(taskDefinition).acknowledge({
      id: 'CloudFormation-Validate::W3011',
      reason:
        'On purpose: a replaced template revision stays ACTIVE because a service may still run it, while deleting the ' +
        'stack deregisters the current one (a sample leaves nothing behind).',
    });
    return taskDefinition;
  }

  /**
   * colorapp, its Envoy sidecar, the init container that writes Envoy's stats tags, and the
   * CloudWatch agent. Everything colour-specific is a plain environment variable.
   */
  private addColourContainers(
    taskDefinition: ecs.FargateTaskDefinition,
    colour: Colour,
    options: {
      appImage: ecs.ContainerImage;
      envoyImage: ecs.ContainerImage;
      agentImage: ecs.ContainerImage;
      logGroup: logs.ILogGroup;
      virtualNode: appmesh.IVirtualNode;
    },
  ): void {
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup: options.logGroup, streamPrefix: `${colour}-${prefix}` });

    // Envoy reads fixed stats tags from a file only, so a short-lived container writes that file
    // from plain variables (Service, Color) into a volume Envoy mounts read-only.
    const statsConfig = taskDefinition.addContainer('envoy-stats-config', {
      image: options.envoyImage,
      essential: false,
      user: '0', // the task volume is root-owned; the file it writes is world-readable
      entryPoint: ['sh', '-c'],
      command: [envoyStatsConfigScript(`${STATS_CONFIG_DIR}/stats.yaml`)],
      environment: { SERVICE: this.serviceName, [this.colourEnvironmentVariable]: colour },
      logging: logging('envoy-stats-config'),
      memoryReservationMiB: 32,
    });
    statsConfig.addMountPoints({ sourceVolume: 'envoy-release', containerPath: STATS_CONFIG_DIR, readOnly: false });

    const agent = taskDefinition.addContainer('cloudwatch-agent', {
      image: options.agentImage,
      // If the agent dies the service keeps serving; the missing metrics make the next release's
      // health check inconclusive, which never promotes.
      essential: false,
      environment: { CW_CONFIG_CONTENT: JSON.stringify(cloudWatchAgentConfig(this.metricNamespace)) },
      logging: logging('cloudwatch-agent'),
      memoryReservationMiB: 64,
    });

    const envoy = taskDefinition.addContainer('envoy', {
      image: options.envoyImage,
      essential: true,
      user: ENVOY_UID,
      environment: {
        APPMESH_RESOURCE_ARN: options.virtualNode.virtualNodeArn,
        ENABLE_ENVOY_DOG_STATSD: '1',
        STATSD_ADDRESS: '127.0.0.1',
        STATSD_PORT: String(STATSD_PORT),
        ENVOY_STATS_CONFIG_FILE: `${STATS_CONFIG_DIR}/stats.yaml`,
        ENVOY_STATS_FLUSH_INTERVAL: '10s',
      },
      healthCheck: envoyHealthCheck(),
      logging: logging('envoy'),
      memoryReservationMiB: 128,
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 15000, hardLimit: 15000 }],
    });
    envoy.addMountPoints({ sourceVolume: 'envoy-release', containerPath: STATS_CONFIG_DIR, readOnly: true });
    envoy.addContainerDependencies(
      { container: statsConfig, condition: ecs.ContainerDependencyCondition.SUCCESS },
      { container: agent, condition: ecs.ContainerDependencyCondition.START },
    );

    const app = taskDefinition.addContainer(this.containerName, {
      image: options.appImage,
      essential: true,
      environment: { PORT: String(APP_PORT), [this.colourEnvironmentVariable]: colour },
      portMappings: [{ containerPort: APP_PORT }],
      logging: logging('app'),
      memoryReservationMiB: 256,
      // The image's own check (ECS ignores the Dockerfile HEALTHCHECK): a task that never gets
      // healthy fails the deployment, which the release engine sees as FAILED.
      healthCheck: {
        command: ['CMD', 'node', '/app/healthcheck.js'],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(3),
        retries: 3,
        startPeriod: Duration.seconds(10),
      },
    });
    // Traffic reaches the app only through Envoy, so the app starts once Envoy is ready.
    app.addContainerDependencies({ container: envoy, condition: ecs.ContainerDependencyCondition.HEALTHY });
  }
}

/** The App Mesh documented liveness check of the Envoy container. */
function envoyHealthCheck(): ecs.HealthCheck {
  return {
    command: ['CMD-SHELL', 'curl -s http://localhost:9901/server_info | grep state | grep -q LIVE'],
    interval: Duration.seconds(5),
    timeout: Duration.seconds(2),
    retries: 3,
    startPeriod: Duration.seconds(10),
  };
}

function title(colour: string): string {
  return colour.charAt(0).toUpperCase() + colour.slice(1);
}
