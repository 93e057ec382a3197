import { Arn, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import type * as appmesh from 'aws-cdk-lib/aws-appmesh';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LISTENER_DEFAULT_ACTION, type MetricSource, type Strategy, type TrafficConfig } from '../../lambdas/shared/config';
import {
  albTrafficProblemsAtSynth,
  type AlbTrafficConfig,
  type LoadBalancerMetricDimensions,
  loadBalancerFullNameOf,
  targetGroupFullNameOf,
} from './alb-traffic';

/**
 * How a release moves traffic from the live colour to the idle one. A class with static
 * factories (like CodeDeploy's `TrafficRouting`), so an invalid schedule fails where it is
 * written, with a message that names it.
 *
 * @example
 * ReleaseStrategy.canary([10, 50, 100]); // 10%, bake, 50%, bake, 100%, bake
 * ReleaseStrategy.linear(25);            // 25, 50, 75, 100
 * ReleaseStrategy.blueGreen();           // 100% at once, one bake
 */
export class ReleaseStrategy {
  /** Explicit idle-colour weights per step, strictly increasing, ending at 100. */
  static canary(steps: readonly number[]): ReleaseStrategy {
    if (steps.length < 1 || steps.length > 20) {
      throw new Error(`ReleaseStrategy.canary needs 1 to 20 steps, got ${steps.length}`);
    }
    steps.forEach((step, i) => {
      if (!Number.isInteger(step) || step < 1 || step > 100) {
        throw new Error(`ReleaseStrategy.canary step ${i + 1} is ${step}; every step must be an integer from 1 to 100`);
      }
      if (i > 0 && step <= steps[i - 1]) {
        throw new Error(`ReleaseStrategy.canary steps must increase strictly: step ${i + 1} (${step}) follows ${steps[i - 1]}`);
      }
    });
    if (steps[steps.length - 1] !== 100) {
      throw new Error(`ReleaseStrategy.canary must end at 100 so the release can be promoted; it ends at ${steps[steps.length - 1]}`);
    }
    return new ReleaseStrategy({ type: 'canary', steps: [...steps] });
  }

  /** The idle colour gains `stepPercent` each step until it has 100. */
  static linear(stepPercent: number): ReleaseStrategy {
    if (!Number.isInteger(stepPercent) || stepPercent < 1 || stepPercent > 100) {
      throw new Error(`ReleaseStrategy.linear stepPercent must be an integer from 1 to 100, got ${stepPercent}`);
    }
    return new ReleaseStrategy({ type: 'linear', stepPercent });
  }

  /** All traffic at once, then one bake. */
  static blueGreen(): ReleaseStrategy {
    return new ReleaseStrategy({ type: 'blue-green' });
  }

  /**
   * The strategy a service configuration document spells (`defaultStrategy`), checked by the
   * factory of its type.
   */
  static fromConfig(strategy: Strategy): ReleaseStrategy {
    const type = strategy.type;
    switch (type) {
      case 'canary':
        return ReleaseStrategy.canary(strategy.steps);
      case 'linear':
        return ReleaseStrategy.linear(strategy.stepPercent);
      case 'blue-green':
        return ReleaseStrategy.blueGreen();
      default: {
        const unknown: never = type;
        throw new Error(`ReleaseStrategy.fromConfig: unknown strategy type '${String(unknown)}'; use canary, linear or blue-green`);
      }
    }
  }

  private constructor(
    /** The strategy as the service configuration document spells it. */
    readonly config: Strategy,
  ) {}
}

/** The traffic backend as bound to a release pipeline: its configuration and its grants. */
export interface ReleaseTrafficBinding {
  /**
   * The `traffic` member of the service configuration document. Its ARNs may be CloudFormation
   * tokens; the backend checked at synth time what synth time can know.
   */
  readonly config: TrafficConfig;
  /** Where health metrics come from when the pipeline does not say: the backend's own (see `metricSourceOf`). */
  readonly naturalMetricSource: MetricSource;
  /** Dimension values of the backend's `AWS/ApplicationELB` metrics; only a backend behind a load balancer has them. */
  readonly loadBalancerMetrics?: LoadBalancerMetricDimensions;
  /** Lets `grantee` read the current split (and nothing else). */
  grantRead(grantee: iam.IGrantable): void;
  /** Lets `grantee` read and change the split. */
  grantWrite(grantee: iam.IGrantable): void;
  /**
   * Lets `grantee` read the health of each colour's targets, for a backend that checks it before
   * moving traffic (ALB: DescribeTargetHealth); nothing for a backend that does not.
   */
  grantReadTargetHealth(grantee: iam.IGrantable): void;
}

/** App Mesh: one weighted route of a virtual router, one virtual node per colour. */
export interface AppMeshReleaseTrafficOptions {
  /** The weighted route the release engine rewrites. It must target both virtual nodes. */
  readonly route: appmesh.IRoute;
  /** The blue colour's virtual node. */
  readonly blueVirtualNode: appmesh.IVirtualNode;
  /** The green colour's virtual node. */
  readonly greenVirtualNode: appmesh.IVirtualNode;
  /**
   * Account that owns the mesh, when it is shared with this account through AWS RAM.
   * @default - the mesh belongs to this account
   */
  readonly meshOwner?: string;
}

/** A listener rule, as the construct or as its ARN. */
export type ListenerRuleReference = elbv2.ApplicationListenerRule | string;

/**
 * Application Load Balancer: one forward action with two weighted target groups, one per colour,
 * in a listener rule or in the listener's default action.
 */
export interface AlbReleaseTrafficOptions {
  /** The listener whose rule (or default action) carries the weighted forward. */
  readonly listener: elbv2.IApplicationListener;
  /**
   * The listener's load balancer: the `LoadBalancer` dimension of the colour alarms' metrics.
   * @default - the listener's own load balancer when the app created the listener, else derived
   *   from the listener ARN (`listener/app/<name>/<id>/...`)
   */
  readonly loadBalancer?: elbv2.IApplicationLoadBalancer;
  /**
   * The listener rule whose forward action is weighted between the two target groups: the rule,
   * or its ARN. It must be a rule of `listener`.
   * @default - the listener's default action
   */
  readonly rule?: ListenerRuleReference;
  /** The target group the blue ECS service is registered to. */
  readonly blueTargetGroup: elbv2.IApplicationTargetGroup;
  /** The target group the green ECS service is registered to. */
  readonly greenTargetGroup: elbv2.IApplicationTargetGroup;
  /**
   * Rules of the same listener that forward to one colour only, whatever the weights (test
   * traffic, for example on a header). The release checks that each still forwards to its colour.
   * @default - no test rules
   */
  readonly testRules?: { readonly blue: ListenerRuleReference; readonly green: ListenerRuleReference };
}

/**
 * The traffic seam on the infrastructure side: what the handlers are told about the traffic
 * layer and what they may do to it. Each backend is one static factory here and one member of
 * `TrafficConfigSchema` on the handler side.
 *
 * @example
 * ReleaseTraffic.alb({ listener, rule: weightedRule, blueTargetGroup: blue, greenTargetGroup: green });
 * ReleaseTraffic.appMesh({ route: weightedRoute, blueVirtualNode: blue, greenVirtualNode: green });
 */
export abstract class ReleaseTraffic {
  /**
   * Weighted target groups of an Application Load Balancer (the default backend): the release
   * rewrites the two weights of one forward action and nothing else.
   */
  static alb(options: AlbReleaseTrafficOptions): ReleaseTraffic {
    return new AlbReleaseTraffic(options);
  }

  /**
   * Weighted App Mesh route between two virtual nodes. App Mesh was discontinued on
   * 2026-09-30; prefer {@link ReleaseTraffic.alb}.
   */
  static appMesh(options: AppMeshReleaseTrafficOptions): ReleaseTraffic {
    return new AppMeshReleaseTraffic(options);
  }

  /** Binds the backend to the pipeline that releases through it. */
  abstract bind(scope: Construct): ReleaseTrafficBinding;
}

class AppMeshReleaseTraffic extends ReleaseTraffic {
  constructor(private readonly options: AppMeshReleaseTrafficOptions) {
    super();
  }

  bind(scope: Construct): ReleaseTrafficBinding {
    const { route, blueVirtualNode, greenVirtualNode, meshOwner } = this.options;
    if (meshOwner !== undefined && !/^\d{12}$/.test(meshOwner)) {
      throw new Error(`ReleaseTraffic.appMesh meshOwner must be a 12-digit account id, got '${meshOwner}'`);
    }
    const router = route.virtualRouter;
    const mesh = router.mesh;
    for (const [colour, node] of [['blue', blueVirtualNode], ['green', greenVirtualNode]] as const) {
      if (node.mesh !== mesh) {
        throw new Error(
          `ReleaseTraffic.appMesh: the ${colour} virtual node ${node.node.path} is not in the route's mesh ${mesh.node.path}`,
        );
      }
    }
    // The route's ARN, written out rather than taken from the resource when the mesh is shared:
    // the engine acts on the owner's route.
    const routeArn = meshOwner
      ? Arn.format(
          {
            service: 'appmesh',
            account: meshOwner,
            resource: 'mesh',
            resourceName: `${mesh.meshName}/virtualRouter/${router.virtualRouterName}/route/${route.routeName}`,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          },
          Stack.of(scope),
        )
      : route.routeArn;
    const config: TrafficConfig = {
      kind: 'appmesh',
      meshName: mesh.meshName,
      ...(meshOwner ? { meshOwner } : {}),
      virtualRouterName: router.virtualRouterName,
      routeName: route.routeName,
      virtualNodes: { blue: blueVirtualNode.virtualNodeName, green: greenVirtualNode.virtualNodeName },
    };
    return {
      config,
      naturalMetricSource: 'envoy',
      grantRead: (grantee) => {
        iam.Grant.addToPrincipal({ grantee, actions: ['appmesh:DescribeRoute'], resourceArns: [routeArn] });
      },
      grantWrite: (grantee) => {
        // UpdateRoute replaces the whole spec, so the router reads it first: both, on this route only.
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['appmesh:DescribeRoute', 'appmesh:UpdateRoute'],
          resourceArns: [routeArn],
        });
      },
      // Envoy only routes to endpoints that passed its health checks: nothing to read here.
      grantReadTargetHealth: () => undefined,
    };
  }
}

/**
 * IAM for the ALB router, from the Service Authorization Reference for Elastic Load Balancing V2
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html):
 * DescribeRules, DescribeListeners and DescribeTargetHealth name no resource type (Resource `*`);
 * ModifyRule takes the `listener-rule/app` resource, ModifyListener the `listener/app` one.
 */
class AlbReleaseTraffic extends ReleaseTraffic {
  constructor(private readonly options: AlbReleaseTrafficOptions) {
    super();
  }

  bind(_scope: Construct): ReleaseTrafficBinding {
    const { listener, loadBalancer, rule, blueTargetGroup, greenTargetGroup, testRules } = this.options;
    if (loadBalancer && listener instanceof elbv2.ApplicationListener && listener.loadBalancer !== loadBalancer) {
      throw new Error(
        `ReleaseTraffic.alb: the listener ${listener.node.path} belongs to ${listener.loadBalancer.node.path}, ` +
          `not to the loadBalancer given (${loadBalancer.node.path}); the alarms would watch the wrong load balancer`,
      );
    }
    if (blueTargetGroup === greenTargetGroup) {
      throw new Error('ReleaseTraffic.alb: blueTargetGroup and greenTargetGroup must be two different target groups');
    }
    const ruleArn = rule === undefined ? LISTENER_DEFAULT_ACTION : arnOfRule(rule);
    const config: AlbTrafficConfig = {
      kind: 'alb',
      listenerArn: listener.listenerArn,
      rule: ruleArn,
      targetGroups: { blue: blueTargetGroup.targetGroupArn, green: greenTargetGroup.targetGroupArn },
      ...(testRules ? { testRules: { blue: arnOfRule(testRules.blue), green: arnOfRule(testRules.green) } } : {}),
    };
    const problems = albTrafficProblemsAtSynth(config);
    if (problems.length > 0) throw new Error(`ReleaseTraffic.alb: ${problems.join('; ')}`);

    // The router reads the weighted forward with DescribeRules (a rule) or DescribeListeners (the
    // default action), and checks the test rules with DescribeRules.
    const readActions = [
      ...(ruleArn === LISTENER_DEFAULT_ACTION ? ['elasticloadbalancing:DescribeListeners'] : []),
      ...(ruleArn !== LISTENER_DEFAULT_ACTION || testRules ? ['elasticloadbalancing:DescribeRules'] : []),
    ];
    const describeAnything = (grantee: iam.IGrantable, actions: string[], why: string) => {
      iam.Grant.addToPrincipal({ grantee, actions, resourceArns: ['*'] });
      if (Construct.isConstruct(grantee)) {
        Validations.of(grantee).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: `${actions.join(', ')} support no resource-level permissions (Service Authorization Reference); read-only, ${why}.`,
        });
      }
    };
    return {
      config: config as TrafficConfig,
      naturalMetricSource: 'load-balancer',
      loadBalancerMetrics: {
        loadBalancer: loadBalancerFullNameOf(listener.listenerArn, loadBalancer ?? (listener instanceof elbv2.ApplicationListener ? listener.loadBalancer : undefined)),
        targetGroups: { blue: targetGroupFullNameOf(blueTargetGroup), green: targetGroupFullNameOf(greenTargetGroup) },
      },
      grantRead: (grantee) => describeAnything(grantee, readActions, 'the release reads the weights of its forward action'),
      grantWrite: (grantee) => {
        describeAnything(grantee, readActions, 'the release reads the forward action before it rewrites its weights');
        // Only the one rule (or listener) that carries the weighted forward may be changed.
        iam.Grant.addToPrincipal(
          ruleArn === LISTENER_DEFAULT_ACTION
            ? { grantee, actions: ['elasticloadbalancing:ModifyListener'], resourceArns: [listener.listenerArn] }
            : { grantee, actions: ['elasticloadbalancing:ModifyRule'], resourceArns: [ruleArn] },
        );
      },
      grantReadTargetHealth: (grantee) =>
        describeAnything(grantee, ['elasticloadbalancing:DescribeTargetHealth'], 'no traffic moves to a target group without healthy targets'),
    };
  }
}

function arnOfRule(rule: ListenerRuleReference): string {
  return typeof rule === 'string' ? rule : rule.listenerRuleArn;
}
