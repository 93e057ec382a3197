import { createHash } from 'node:crypto';
import {
  DescribeRouteCommand,
  UpdateRouteCommand,
  type AppMeshClient,
  type RouteData,
  type RouteSpec,
  type UpdateRouteInput,
  type WeightedTarget,
} from '@aws-sdk/client-app-mesh';
import type { z } from 'zod';
import type { Colour, Weights } from '../colours';
import type { AppMeshTrafficSchema } from '../config';
import { ResourceNotFoundError, RouteDriftError, ValidationError } from '../errors';
import { withThrottlingRetry } from '../retry';
import type { TargetsCheck, TrafficRole, TrafficRouter } from './traffic-router';

/** App Mesh traffic configuration, as parsed from the service configuration. */
export type AppMeshTrafficConfig = z.infer<typeof AppMeshTrafficSchema>;

/** The four route types a {@link RouteSpec} may carry; App Mesh allows exactly one per route. */
const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;
type RouteType = (typeof ROUTE_TYPES)[number];

/** The part every route type shares, and the only part this router ever changes. */
interface WeightedAction {
  action?: { weightedTargets?: WeightedTarget[] };
}

/** What one DescribeRoute told us, reduced to what the router decides on. */
interface CurrentRoute {
  readonly route: RouteData;
  readonly spec: RouteSpec;
  readonly type: RouteType;
  readonly targets: readonly WeightedTarget[];
  /** Raw App Mesh weights summed per role; App Mesh weights are relative, so these need not sum to 100. */
  readonly raw: Weights;
}

/**
 * A {@link TrafficRouter} over one App Mesh route whose weighted targets are the two colours'
 * virtual nodes. `UpdateRoute` replaces the whole spec, so every update copies the current spec
 * and changes nothing but `action.weightedTargets`: match rules, retry policy, timeouts and
 * priority survive a release untouched.
 *
 * @example
 * const router = new AppMeshRouter(new AppMeshClient({}), config.traffic, { live: 'blue', idle: 'green' });
 * await router.setWeights({ live: 90, idle: 10 }); // { changed: true }
 * await router.setWeights({ live: 90, idle: 10 }); // { changed: false }: nothing sent
 * await router.getWeights(); // { live: 90, idle: 10 }
 */
export class AppMeshRouter implements TrafficRouter {
  private readonly liveNode: string;
  private readonly idleNode: string;

  /**
   * @param appmesh App Mesh client; every call goes through {@link withThrottlingRetry}.
   * @param config the mesh, router, route and the virtual node of each colour.
   * @param colours which colour is live and which one the release moves traffic to.
   * @throws ValidationError when both roles are the same colour or both colours share a virtual
   *   node, because weights could then not be told apart.
   */
  constructor(
    private readonly appmesh: AppMeshClient,
    private readonly config: AppMeshTrafficConfig,
    private readonly colours: { live: Colour; idle: Colour },
  ) {
    if (colours.live === colours.idle) {
      throw new ValidationError(
        `Traffic router for ${this.describe()}: live and idle colour are both '${colours.live}'; they must differ`,
      );
    }
    if (config.virtualNodes.blue === config.virtualNodes.green) {
      throw new ValidationError(
        `Traffic router for ${this.describe()}: blue and green use the same virtual node ` +
          `'${config.virtualNodes.blue}'; give each colour its own virtual node in the service configuration`,
      );
    }
    this.liveNode = config.virtualNodes[colours.live];
    this.idleNode = config.virtualNodes[colours.idle];
  }

  /** `appmesh:<mesh>/<virtual router>/<route>`, for logs and error messages. */
  describe(): string {
    return `appmesh:${this.config.meshName}/${this.config.virtualRouterName}/${this.config.routeName}`;
  }

  /**
   * The current split, normalised to integers summing to 100 (App Mesh weights are relative).
   *
   * @throws RouteDriftError when the route targets a node that is neither colour's, or sends no traffic at all.
   * @throws ResourceNotFoundError when the mesh, virtual router or route does not exist or is DELETED.
   */
  async getWeights(): Promise<Weights> {
    const { raw } = await this.read();
    const total = raw.live + raw.idle;
    if (total === 0) {
      throw new RouteDriftError(
        `Route ${this.describe()} gives every target weight 0, so it sends no traffic; ` +
          `set it to 100 for ${this.liveNode} by hand before releasing`,
      );
    }
    if (total === 100) return { live: raw.live, idle: raw.idle };
    // Relative weights (e.g. 1:1) are legal in App Mesh; report them as the percentages they mean.
    const idle = Math.round((raw.idle * 100) / total);
    return { live: 100 - idle, idle };
  }

  /**
   * Sets the split to exactly `[live node: live, idle node: idle]`. A no-op (nothing sent) when
   * the route already has these weights.
   *
   * @throws ValidationError when the weights are not integers 0..100 summing to 100 (nothing is sent).
   * @throws RouteDriftError when the route targets a node that is neither colour's: a change made
   *   outside the release is never overwritten silently.
   * @throws ResourceNotFoundError when the mesh, virtual router or route does not exist or is DELETED.
   */
  async setWeights(weights: Weights): Promise<{ changed: boolean }> {
    validateWeights(weights, this.describe());
    const current = await this.read();
    // Compare raw values, not normalised ones: 1:2 is not 33/67, and must be rewritten.
    if (current.raw.live === weights.live && current.raw.idle === weights.idle) {
      return { changed: false };
    }

    // A RouteSpec is plain JSON (no dates, no class instances), so a JSON round trip is an
    // exact deep copy and never shares objects with the response we compared against.
    const spec = JSON.parse(JSON.stringify(current.spec)) as RouteSpec;
    const routeOfType = spec[current.type] as WeightedAction;
    routeOfType.action = { ...routeOfType.action, weightedTargets: this.targetsFor(weights, current.targets) };

    const input: UpdateRouteInput = { ...this.routeRef(), spec };
    const clientToken = updateToken(this.describe(), this.config.meshOwner, current.route, weights);
    if (clientToken !== undefined) input.clientToken = clientToken;

    // The input (and so the token) is built once, so every throttled attempt is the same request.
    await this.call(`UpdateRoute ${this.describe()}`, () => this.appmesh.send(new UpdateRouteCommand(input)));
    return { changed: true };
  }

  /**
   * App Mesh keeps no health of its own that the release could read: Envoy sends to the virtual
   * node's endpoints as service discovery lists them, and those are the colour's running ECS
   * tasks. What stands in for target health is the idle service's stability, which CheckStability
   * already required (ECS running count at the desired count, container health checks passing)
   * before any traffic moves. So nothing is sent here, and nothing is refused.
   */
  async checkTargets(role: TrafficRole): Promise<TargetsCheck> {
    return {
      checked: false,
      role,
      colour: this.colours[role],
      reason:
        `App Mesh has no target health to read for virtual node ${role === 'live' ? this.liveNode : this.idleNode}; ` +
        'the ECS service stability check (running tasks, container health checks) stands in for it',
    };
  }

  /** The App Mesh configuration names no test routes, so there is nothing to check. */
  async checkTestRoutes(): Promise<readonly string[]> {
    return [];
  }

  /** Mesh, router and route names, plus the owner of a shared mesh only when configured. */
  private routeRef() {
    return {
      meshName: this.config.meshName,
      virtualRouterName: this.config.virtualRouterName,
      routeName: this.config.routeName,
      ...(this.config.meshOwner !== undefined ? { meshOwner: this.config.meshOwner } : {}),
    };
  }

  /** Describes the route and reduces it to the live/idle weights, rejecting anything we cannot reason about. */
  private async read(): Promise<CurrentRoute> {
    const out = await this.call(`DescribeRoute ${this.describe()}`, () =>
      this.appmesh.send(new DescribeRouteCommand(this.routeRef())),
    );
    const route = out.route;
    if (!route || route.status?.status === 'DELETED') {
      throw new ResourceNotFoundError(
        `App Mesh route ${this.config.routeName} in virtual router ${this.config.virtualRouterName} of mesh ` +
          `${this.config.meshName} is ${route ? 'DELETED' : 'missing from the DescribeRoute response'}. ` +
          'Recreate it or fix the traffic section of the service configuration.',
      );
    }
    const spec = route.spec ?? {};
    const present = ROUTE_TYPES.filter((type) => spec[type] !== undefined);
    if (present.length !== 1) {
      throw new RouteDriftError(
        `Route ${this.describe()} has ${present.length === 0 ? 'no route type' : `several route types (${present.join(', ')})`}; ` +
          'expected exactly one of httpRoute, http2Route, grpcRoute or tcpRoute',
      );
    }
    const type = present[0];
    const targets = (spec[type] as WeightedAction).action?.weightedTargets ?? [];
    if (targets.length === 0) {
      throw new RouteDriftError(`Route ${this.describe()} has no weighted targets in its ${type} action`);
    }

    const raw = { live: 0, idle: 0 };
    for (const target of targets) {
      const role = target.virtualNode === this.liveNode ? 'live' : target.virtualNode === this.idleNode ? 'idle' : undefined;
      if (role === undefined) {
        throw new RouteDriftError(
          `Route ${this.describe()} sends weight ${target.weight ?? 0} to virtual node '${target.virtualNode}', ` +
            `which is neither colour's (${this.liveNode}, ${this.idleNode}). Someone changed the route outside a ` +
            'release: restore it to the two colour nodes, or fix virtualNodes in the service configuration.',
        );
      }
      raw[role] += target.weight ?? 0;
    }
    return { route, spec, type, targets, raw };
  }

  /**
   * The new weighted targets, live first. Each node keeps the port it had, because a virtual
   * node with several listeners needs it; a node that had no target yet borrows the other
   * colour's port, as both colours run the same task definition shape.
   */
  private targetsFor(weights: Weights, current: readonly WeightedTarget[]): WeightedTarget[] {
    const existing = (node: string) => current.find((t) => t.virtualNode === node);
    const liveTarget = existing(this.liveNode);
    const idleTarget = existing(this.idleNode);
    const livePort = liveTarget ? liveTarget.port : idleTarget?.port;
    const idlePort = idleTarget ? idleTarget.port : liveTarget?.port;
    return [
      { virtualNode: this.liveNode, weight: weights.live, ...(livePort !== undefined ? { port: livePort } : {}) },
      { virtualNode: this.idleNode, weight: weights.idle, ...(idlePort !== undefined ? { port: idlePort } : {}) },
    ];
  }

  /** Retries throttling and turns App Mesh's NotFoundException into our catalogue error. */
  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await withThrottlingRetry(what, send);
    } catch (error) {
      if (error instanceof Error && error.name === 'NotFoundException') {
        throw new ResourceNotFoundError(
          `App Mesh mesh ${this.config.meshName}` +
            (this.config.meshOwner !== undefined ? ` (owner ${this.config.meshOwner})` : '') +
            `, virtual router ${this.config.virtualRouterName} or route ${this.config.routeName} was not found: ` +
            `${error.message}. Check the traffic section of the service configuration.`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}

/** Throws a {@link ValidationError} unless both weights are integers 0..100 summing to 100. */
function validateWeights(weights: Weights, route: string): void {
  const valid = (w: number) => Number.isInteger(w) && w >= 0 && w <= 100;
  if (!valid(weights.live) || !valid(weights.idle) || weights.live + weights.idle !== 100) {
    throw new ValidationError(
      `Weights for ${route} must be integers 0..100 summing to 100; got live=${weights.live}, idle=${weights.idle}`,
    );
  }
}

/**
 * A client token that is the same for the same change to the same version of the same route,
 * so a repeated request is recognised by App Mesh rather than applied twice. Derived from the
 * route's uid and version: reusing a token for a different spec is a ConflictException, and a
 * recreated route (new uid) or a later version must never collide with an old update. Without
 * both, the SDK's random token is safer than a guess.
 */
function updateToken(route: string, owner: string | undefined, data: RouteData, weights: Weights): string | undefined {
  const uid = data.metadata?.uid;
  const version = data.metadata?.version;
  if (uid === undefined || version === undefined) return undefined;
  return createHash('sha256')
    .update(JSON.stringify([route, owner ?? null, uid, version, weights.live, weights.idle]))
    .digest('hex')
    .slice(0, 32);
}
