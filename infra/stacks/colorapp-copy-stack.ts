import { CfnDeletionPolicy, CfnOutput, type CfnResource, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { Construct } from 'constructs';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import { templateFamilyOf } from '../../lambdas/shared/task-definition';
import type { ReleaseSettings } from '../colorapp-settings';
import { CreateOnlyFargateService, CreateOnlyWeightedListenerRule } from '../constructs/runtime-owned';
import { APP_PORT, type ColorappServiceStack, WEIGHTED_PRIORITY } from './colorapp-service-stack';

/** The first listener port of the copies: copy `index` listens on `COPY_BASE_PORT + index`. */
export const COPY_BASE_PORT = 8000;

/** Properties of {@link ColorappCopyStack}. */
export interface ColorappCopyStackProps extends StackProps {
  /** The sample service stack (ALB) whose cluster, load balancer, roles and image the copy shares. */
  readonly main: ColorappServiceStack;
  /** The copy's settings (`sampleServiceSettings(settings, index)`). */
  readonly settings: ReleaseSettings;
  /** The copy's index, 2 and up: its listener port is `COPY_BASE_PORT + index`. */
  readonly index: number;
  /** Tasks of the live colour at first. @default 2 */
  readonly desiredCount?: number;
}

/**
 * One more copy of colorapp behind the sample's load balancer, for the fleet sample
 * (`cdk synth -c services=N`): its own listener (port 8000 + index), header test rules, weighted
 * rule (created once), target groups, template task definitions and ECS services (created once),
 * in colorapp's cluster with colorapp's roles, image and task security group. A stack per copy
 * keeps each within CloudFormation's 500 resources and leaves colorapp's own stack unchanged.
 */
export class ColorappCopyStack extends Stack {
  readonly settings: ReleaseSettings;
  readonly serviceName: string;
  readonly listener: elbv2.ApplicationListener;
  readonly targetGroups: Record<Colour, elbv2.ApplicationTargetGroup>;
  readonly weightedRule: CreateOnlyWeightedListenerRule;
  readonly services: Record<Colour, ecs.IBaseService>;
  readonly taskDefinitions: Record<Colour, ecs.FargateTaskDefinition>;

  constructor(scope: Construct, id: string, props: ColorappCopyStackProps) {
    super(scope, id, props);
    const { main, settings, index } = props;
    const alb = main.alb;
    if (!alb) throw new Error('ColorappCopyStack: copies of colorapp run behind the sample\'s Application Load Balancer; App Mesh has one service only');
    this.settings = settings;
    this.serviceName = settings.serviceName;
    const port = COPY_BASE_PORT + index;
    const publicPort = new ec2.CfnSecurityGroupIngress(this, 'PublicPort', {
      groupId: alb.loadBalancerSecurityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: port,
      toPort: port,
      cidrIp: '0.0.0.0/0',
      description: `${settings.serviceName} over HTTP from anywhere`,
    });
    Validations.of(publicPort).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: `The public endpoint of ${settings.serviceName}, a copy of the sample web service: its port from anywhere is its purpose.`,
    });

    this.listener = new elbv2.ApplicationListener(this, 'Http', {
      loadBalancer: alb.loadBalancer,
      port,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.fixedResponse(503, { contentType: 'text/plain', messageBody: `${settings.serviceName}: no release rule` }),
    });
    this.targetGroups = {} as Record<Colour, elbv2.ApplicationTargetGroup>;
    for (const colour of COLOURS) {
      this.targetGroups[colour] = new elbv2.ApplicationTargetGroup(this, `${title(colour)}TargetGroup`, {
        vpc: main.vpc,
        targetGroupName: settings.alb.targetGroupNames[colour],
        targetType: elbv2.TargetType.IP,
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: APP_PORT,
        deregistrationDelay: Duration.seconds(settings.alb.deregistrationDelaySeconds),
        healthCheck: { path: '/healthcheck', interval: Duration.seconds(10), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 2 },
      });
    }
    const testRules = COLOURS.map(
      (colour, i) =>
        new elbv2.ApplicationListenerRule(this, `${title(colour)}ByHeaderRule`, {
          listener: this.listener,
          priority: i + 1,
          conditions: [elbv2.ListenerCondition.httpHeader(settings.alb.testHeader, [colour])],
          action: elbv2.ListenerAction.forward([this.targetGroups[colour]]),
        }),
    );
    this.weightedRule = new CreateOnlyWeightedListenerRule(this, 'WeightedRule', {
      listener: this.listener,
      priority: WEIGHTED_PRIORITY,
      targetGroups: this.targetGroups,
    });

    this.taskDefinitions = {} as Record<Colour, ecs.FargateTaskDefinition>;
    this.services = {} as Record<Colour, ecs.IBaseService>;
    for (const colour of COLOURS) {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${title(colour)}TaskDefinition`, {
        family: templateFamilyOf(settings.taskDefinitionFamily, colour),
        cpu: 256,
        memoryLimitMiB: 512,
        taskRole: main.taskRole,
        executionRole: main.executionRole,
      });
      taskDefinition.addContainer(settings.containerName, {
        image: ecs.ContainerImage.fromDockerImageAsset(main.initialImage),
        essential: true,
        environment: { PORT: String(APP_PORT), [main.colourEnvironmentVariable]: colour, SERVICE_NAME: settings.serviceName },
        portMappings: [{ containerPort: APP_PORT }],
        logging: ecs.LogDrivers.awsLogs({ logGroup: main.containerLogs, streamPrefix: `${settings.serviceName}-${colour}-app` }),
        healthCheck: { command: ['CMD', 'node', '/app/healthcheck.js'], interval: Duration.seconds(10), timeout: Duration.seconds(3), retries: 3, startPeriod: Duration.seconds(10) },
      });
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason: 'The environment holds no secrets: the colour, the port and the service name, which a release rewrites (the colour).',
      });
      // As colorapp's templates: a replaced revision stays ACTIVE (a service may still run it).
      (taskDefinition.node.defaultChild as CfnResource).cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
      Validations.of(taskDefinition).acknowledge({
        id: 'CloudFormation-Validate::W3011',
        reason: 'On purpose: a replaced template revision stays ACTIVE because a service may still run it, while deleting the stack deregisters the current one.',
      });
      this.taskDefinitions[colour] = taskDefinition;
      this.services[colour] = new CreateOnlyFargateService(this, `${title(colour)}Service`, {
        cluster: main.cluster,
        serviceName: settings.ecsServices[colour],
        taskDefinition,
        desiredCount: colour === 'blue' ? (props.desiredCount ?? 2) : 0,
        subnets: main.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
        securityGroups: [alb.tasksSecurityGroup],
        loadBalancer: { targetGroup: this.targetGroups[colour], containerName: settings.containerName, containerPort: APP_PORT },
        healthCheckGracePeriod: Duration.seconds(30),
        dependsOn: [...testRules, this.weightedRule],
      }).service;
    }
    new CfnOutput(this, 'Url', {
      value: `http://${alb.loadBalancer.loadBalancerDnsName}:${port}/`,
      description: `${settings.serviceName} through the sample's load balancer`,
    });
  }
}

function title(colour: string): string {
  return colour.charAt(0).toUpperCase() + colour.slice(1);
}
