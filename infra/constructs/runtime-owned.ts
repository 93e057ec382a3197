import { type Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as appmesh from 'aws-cdk-lib/aws-appmesh';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IDependable } from 'constructs';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import { CreateOnlyResource } from './create-only';

/**
 * The three things a release changes at run time, each created once by a {@link CreateOnlyResource}
 * and never updated by CloudFormation again: an ECS service per colour (its desired count and
 * task definition revision), the ALB listener rule with the weighted forward, and the App Mesh
 * weighted route. A `cdk deploy` after a release leaves all three as the release left them.
 */

/** Properties of {@link CreateOnlyFargateService}. */
export interface CreateOnlyFargateServiceProps {
  readonly cluster: ecs.ICluster;
  /** The service's name; the release configuration names it too. */
  readonly serviceName: string;
  /** What the service runs when it is created. Later revisions come from releases. */
  readonly taskDefinition: ecs.TaskDefinition;
  /** Tasks the service starts with. Later counts come from releases. */
  readonly desiredCount: number;
  /** Subnets of the tasks (awsvpc). */
  readonly subnets: ec2.SelectedSubnets;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  /**
   * The target group the service registers its tasks to, with the container and port.
   * @default - no load balancer
   */
  readonly loadBalancer?: {
    readonly targetGroup: elbv2.IApplicationTargetGroup;
    readonly containerName: string;
    readonly containerPort: number;
  };
  /**
   * How long ECS ignores the load balancer's health checks of a new task (with `loadBalancer` only).
   * @default - ECS's default
   */
  readonly healthCheckGracePeriod?: Duration;
  /**
   * The Cloud Map service the tasks register in.
   * @default - none
   */
  readonly cloudMapService?: servicediscovery.IService;
  /**
   * What must exist before the service is created: for example the listener rules that attach
   * the target group to a load balancer (CreateService refuses a target group with none).
   * @default - nothing more than what the parameters reference
   */
  readonly dependsOn?: readonly IDependable[];
}

/**
 * A Fargate service created with ECS CreateService once and deleted (forced) with the stack, and
 * otherwise never touched by CloudFormation: its desired count and task definition belong to the
 * releases. FAILED deployments surface to the release engine, which owns the rollback, so the
 * circuit breaker is on with ECS's own rollback off. ECS calls the load balancer and Cloud Map
 * with its service-linked role, so no role is passed (no iam:PassRole).
 */
export class CreateOnlyFargateService extends Construct {
  /** The service, for grants and the release configuration. */
  readonly service: ecs.IBaseService;
  readonly resource: CreateOnlyResource;

  constructor(scope: Construct, id: string, props: CreateOnlyFargateServiceProps) {
    super(scope, id);
    if (!Number.isInteger(props.desiredCount) || props.desiredCount < 0) {
      throw new Error(`CreateOnlyFargateService ${this.node.path}: desiredCount must be a whole number >= 0, got ${props.desiredCount}`);
    }
    if (props.healthCheckGracePeriod && !props.loadBalancer) {
      throw new Error(`CreateOnlyFargateService ${this.node.path}: healthCheckGracePeriod needs a loadBalancer`);
    }
    const { cluster, serviceName } = props;
    this.service = ecs.FargateService.fromFargateServiceAttributes(this, 'Service', { cluster, serviceName });
    this.resource = new CreateOnlyResource(this, 'Resource', {
      resourceType: 'Custom::EcsReleaseService',
      onCreate: {
        service: 'ECS',
        action: 'CreateService',
        parameters: {
          cluster: cluster.clusterName,
          serviceName,
          taskDefinition: props.taskDefinition.taskDefinitionArn,
          desiredCount: props.desiredCount,
          launchType: 'FARGATE',
          deploymentController: { type: 'ECS' },
          deploymentConfiguration: {
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            deploymentCircuitBreaker: { enable: true, rollback: false },
          },
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: props.subnets.subnetIds,
              securityGroups: props.securityGroups.map((g) => g.securityGroupId),
              assignPublicIp: 'DISABLED',
            },
          },
          ...(props.loadBalancer
            ? {
                loadBalancers: [
                  {
                    targetGroupArn: props.loadBalancer.targetGroup.targetGroupArn,
                    containerName: props.loadBalancer.containerName,
                    containerPort: props.loadBalancer.containerPort,
                  },
                ],
              }
            : {}),
          ...(props.healthCheckGracePeriod ? { healthCheckGracePeriodSeconds: props.healthCheckGracePeriod.toSeconds() } : {}),
          ...(props.cloudMapService ? { serviceRegistries: [{ registryArn: props.cloudMapService.serviceArn }] } : {}),
          propagateTags: 'SERVICE',
          enableECSManagedTags: true,
        },
        physicalResourceId: cr.PhysicalResourceId.fromResponse('service.serviceArn'),
      },
      // force: a service with running tasks is deleted too (the stack is going away).
      onDelete: { service: 'ECS', action: 'DeleteService', parameters: { cluster: cluster.clusterName, service: serviceName, force: true } },
      policyStatements: [
        new iam.PolicyStatement({ actions: ['ecs:CreateService', 'ecs:DeleteService'], resources: [this.service.serviceArn] }),
      ],
    });
    // Tasks need their route to the internet (image pulls) before they start.
    this.resource.node.addDependency(props.subnets.internetConnectivityEstablished, ...(props.dependsOn ?? []));
  }
}

/** Properties of {@link CreateOnlyWeightedListenerRule}. */
export interface CreateOnlyWeightedListenerRuleProps {
  readonly listener: elbv2.IApplicationListener;
  /**
   * The rule's priority: after the rules that must win over the weights (header test rules).
   */
  readonly priority: number;
  /** The target group of each colour. */
  readonly targetGroups: Readonly<Record<Colour, elbv2.IApplicationTargetGroup>>;
  /**
   * The colour that gets 100 at first; the other gets 0.
   * @default 'blue'
   */
  readonly live?: Colour;
}

/**
 * A listener rule matching every path whose forward action is weighted between the colours'
 * target groups, created once (ELB CreateRule) and deleted with the stack (DeleteRule). The
 * release rewrites its weights with ModifyRule; CloudFormation never does.
 */
export class CreateOnlyWeightedListenerRule extends Construct {
  /** The rule's ARN (the custom resource's physical id). */
  readonly ruleArn: string;
  readonly resource: CreateOnlyResource;

  constructor(scope: Construct, id: string, props: CreateOnlyWeightedListenerRuleProps) {
    super(scope, id);
    if (!Number.isInteger(props.priority) || props.priority < 1 || props.priority > 50000) {
      throw new Error(`CreateOnlyWeightedListenerRule ${this.node.path}: priority must be 1-50000, got ${props.priority}`);
    }
    const live = props.live ?? 'blue';
    const listenerArn = props.listener.listenerArn;
    this.resource = new CreateOnlyResource(this, 'Resource', {
      resourceType: 'Custom::EcsReleaseWeightedListenerRule',
      onCreate: {
        service: 'ElasticLoadBalancingV2',
        action: 'CreateRule',
        parameters: {
          ListenerArn: listenerArn,
          Priority: props.priority,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
          Actions: [
            {
              Type: 'forward',
              ForwardConfig: {
                TargetGroups: COLOURS.map((colour) => ({
                  TargetGroupArn: props.targetGroups[colour].targetGroupArn,
                  Weight: colour === live ? 100 : 0,
                })),
              },
            },
          ],
        },
        physicalResourceId: cr.PhysicalResourceId.fromResponse('Rules.0.RuleArn'),
      },
      onDelete: { service: 'ElasticLoadBalancingV2', action: 'DeleteRule', parameters: { RuleArn: new cr.PhysicalResourceIdReference() } },
      policyStatements: [
        new iam.PolicyStatement({ actions: ['elasticloadbalancing:CreateRule'], resources: [listenerArn] }),
        // The rule's ARN is only known once created: any rule of this listener.
        new iam.PolicyStatement({ actions: ['elasticloadbalancing:DeleteRule'], resources: [rulesOf(listenerArn)] }),
      ],
    });
    this.ruleArn = this.resource.ref;
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, rulesOf(listenerArn))}]`,
      reason:
        'DeleteRule needs the ARN of the rule CreateRule made, which exists only after the create call: the statement names ' +
        'every rule of the one listener the rule is created on.',
    });
  }
}

/** How cdk-nag spells a resource built with `Fn::Join` in a finding's id: intrinsics as JSON. */
function nagResourceId(scope: Construct, value: string): string {
  const resolved = Stack.of(scope).resolve(value) as { 'Fn::Join': [string, unknown[]] };
  const [separator, parts] = resolved['Fn::Join'];
  return parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(separator);
}

/** `arn:...:listener-rule/app/<lb>/<id>/<listener-id>/*`: every rule of a listener. */
export function rulesOf(listenerArn: string): string {
  const [head, tail] = [Fn.select(0, Fn.split(':listener/', listenerArn)), Fn.select(1, Fn.split(':listener/', listenerArn))];
  return Fn.join('', [head, ':listener-rule/', tail, '/*']);
}

/** Properties of {@link CreateOnlyWeightedRoute}. */
export interface CreateOnlyWeightedRouteProps {
  readonly router: appmesh.IVirtualRouter;
  readonly routeName: string;
  /** After the header routes that must win over the weights. */
  readonly priority: number;
  readonly virtualNodes: Readonly<Record<Colour, appmesh.IVirtualNode>>;
  /** Per-request timeout of the route. */
  readonly perRequestTimeout: Duration;
  /**
   * The colour that gets 100 at first; the other gets 0.
   * @default 'blue'
   */
  readonly live?: Colour;
}

/**
 * An App Mesh HTTP route of every path (`/` prefix) weighted between the colours' virtual nodes,
 * created once (CreateRoute) and deleted with the stack (DeleteRoute). The release rewrites its
 * weights with UpdateRoute; CloudFormation never does.
 */
export class CreateOnlyWeightedRoute extends Construct {
  /** The route, for the release's traffic configuration and grants. */
  readonly route: appmesh.IRoute;
  readonly resource: CreateOnlyResource;

  constructor(scope: Construct, id: string, props: CreateOnlyWeightedRouteProps) {
    super(scope, id);
    const live = props.live ?? 'blue';
    const { router } = props;
    this.route = appmesh.Route.fromRouteAttributes(this, 'Route', { routeName: props.routeName, virtualRouter: router });
    const names = { meshName: router.mesh.meshName, virtualRouterName: router.virtualRouterName, routeName: props.routeName };
    this.resource = new CreateOnlyResource(this, 'Resource', {
      resourceType: 'Custom::EcsReleaseWeightedRoute',
      onCreate: {
        service: 'AppMesh',
        action: 'CreateRoute',
        parameters: {
          ...names,
          spec: {
            priority: props.priority,
            httpRoute: {
              match: { prefix: '/' },
              action: {
                weightedTargets: COLOURS.map((colour) => ({
                  virtualNode: props.virtualNodes[colour].virtualNodeName,
                  weight: colour === live ? 100 : 0,
                })),
              },
              timeout: { perRequest: { unit: 'ms', value: props.perRequestTimeout.toMilliseconds() } },
            },
          },
        },
        physicalResourceId: cr.PhysicalResourceId.fromResponse('route.metadata.arn'),
      },
      onDelete: { service: 'AppMesh', action: 'DeleteRoute', parameters: names },
      policyStatements: [
        new iam.PolicyStatement({ actions: ['appmesh:CreateRoute', 'appmesh:DeleteRoute'], resources: [this.route.routeArn] }),
      ],
    });
  }
}
