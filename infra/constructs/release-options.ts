import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import type * as appmesh from 'aws-cdk-lib/aws-appmesh';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { Strategy, TrafficConfig } from '../../lambdas/shared/config';

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
  /** The `traffic` member of the service configuration document. */
  readonly config: TrafficConfig;
  /** Lets `grantee` read the current split (and nothing else). */
  grantRead(grantee: iam.IGrantable): void;
  /** Lets `grantee` read and change the split. */
  grantWrite(grantee: iam.IGrantable): void;
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

/**
 * The traffic seam on the infrastructure side: what the handlers are told about the traffic
 * layer and what they may do to it. App Mesh is one implementation; another backend (ALB
 * weighted target groups, say) is one more static factory here and one more member of
 * `TrafficConfigSchema` on the handler side.
 *
 * @example
 * ReleaseTraffic.appMesh({ route: weightedRoute, blueVirtualNode: blue, greenVirtualNode: green });
 */
export abstract class ReleaseTraffic {
  /** Weighted App Mesh route between two virtual nodes. */
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
    };
  }
}
