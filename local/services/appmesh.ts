/**
 * Local App Mesh: meshes, virtual routers, routes and virtual nodes, answering the REST JSON API
 * the router (`lambdas/shared/traffic/appmesh-router.ts`) and the CLI use, and telling the local
 * gateway the current weights of a route on every request. Shapes are the SDK's own types, so
 * what the endpoint returns is what `@aws-sdk/client-app-mesh` would get from AWS.
 */

import { createHash, randomUUID } from 'node:crypto';
import type {
  DescribeRouteInput,
  DescribeVirtualNodeInput,
  DescribeVirtualRouterInput,
  ListRoutesInput,
  ListRoutesOutput,
  ResourceMetadata,
  RouteData,
  RouteSpec,
  UpdateRouteInput,
  VirtualNodeData,
  VirtualNodeSpec,
  VirtualRouterData,
  VirtualRouterSpec,
  WeightedTarget,
} from '@aws-sdk/client-app-mesh';
import { AwsServiceError, type RouteWeights } from '../contracts';
import { matchPath, type AppMeshRestHandler } from '../endpoint/rest';

/** Operations {@link LocalAppMesh} answers (and in which failures can be injected). */
export type AppMeshOperationName = 'DescribeRoute' | 'UpdateRoute' | 'ListRoutes' | 'DescribeVirtualRouter' | 'DescribeVirtualNode';

/** Options for {@link LocalAppMesh}. */
export interface LocalAppMeshOptions {
  /** Owner of every mesh. @default '000000000000' */
  readonly accountId?: string;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** One change of a route's weights, as UpdateRoute (or the seed) applied it. */
export interface RouteWeightChange {
  /** The route's `metadata.version` after the change. */
  readonly version: number;
  readonly at: Date;
  /** Weight by virtual node name. */
  readonly weights: Readonly<Record<string, number>>;
}

/** App Mesh's error for a throttled call (HTTP 429), for {@link LocalAppMesh.injectFailures}. */
export function tooManyRequests(message = 'Rate exceeded'): AwsServiceError {
  return new AwsServiceError('TooManyRequestsException', message, 429);
}

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;
const MAX_WEIGHTED_TARGETS = 10;
/** Client tokens remembered per route; enough for any retry storm, bounded for a long `npm run local`. */
const MAX_TOKENS_PER_ROUTE = 100;

interface Resource<S> {
  readonly name: string;
  spec: S;
  readonly uid: string;
  version: number;
  readonly createdAt: Date;
  lastUpdatedAt: Date;
}

interface RouteState extends Resource<RouteSpec> {
  /** clientToken -> the request it came with and the answer it got. */
  readonly tokens: Map<string, { fingerprint: string; answer: RouteData }>;
  readonly history: RouteWeightChange[];
}

interface RouterState extends Resource<VirtualRouterSpec> {
  readonly routes: Map<string, RouteState>;
}

interface MeshState {
  readonly name: string;
  readonly nodes: Map<string, Resource<VirtualNodeSpec>>;
  readonly routers: Map<string, RouterState>;
}

/**
 * In-memory App Mesh. Seed it with {@link seedVirtualNode} and {@link seedRoute}; serve it with
 * {@link appMeshRestHandler}; the gateway reads {@link weights}.
 *
 * @example
 * const mesh = new LocalAppMesh();
 * mesh.seedVirtualNode({ meshName: 'apps', virtualNodeName: 'colorapp-blue' });
 * mesh.seedVirtualNode({ meshName: 'apps', virtualNodeName: 'colorapp-green' });
 * mesh.seedRoute({
 *   meshName: 'apps', virtualRouterName: 'colorapp-router', routeName: 'colorapp-route',
 *   spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [
 *     { virtualNode: 'colorapp-blue', weight: 100 }, { virtualNode: 'colorapp-green', weight: 0 }] } } },
 * });
 * mesh.weights('apps', 'colorapp-router', 'colorapp-route'); // { 'colorapp-blue': 100, 'colorapp-green': 0 }
 * mesh.injectFailures('UpdateRoute', [tooManyRequests()]); // the next UpdateRoute is throttled
 */
export class LocalAppMesh implements RouteWeights {
  private readonly meshes = new Map<string, MeshState>();
  private readonly failures = new Map<AppMeshOperationName, AwsServiceError[]>();
  private readonly accountId: string;
  private readonly region: string;
  private readonly now: () => Date;

  constructor(options: LocalAppMeshOptions = {}) {
    this.accountId = options.accountId ?? '000000000000';
    this.region = options.region ?? 'eu-west-1';
    this.now = options.now ?? (() => new Date());
  }

  // ---------- seeding (the local world's CreateX) ----------

  /**
   * Creates a virtual node (and its mesh if needed).
   *
   * @throws AwsServiceError `ConflictException` when the node exists; `BadRequestException` for a bad name.
   */
  seedVirtualNode(input: { meshName: string; virtualNodeName: string; spec?: VirtualNodeSpec }): VirtualNodeData {
    const mesh = this.meshFor(input.meshName);
    validateName(input.virtualNodeName, 'virtualNodeName');
    if (mesh.nodes.has(input.virtualNodeName)) {
      throw new AwsServiceError('ConflictException', `VirtualNode with name ${input.virtualNodeName} already exists in mesh ${input.meshName}`, 409);
    }
    const node = this.newResource(input.virtualNodeName, input.spec ?? {});
    mesh.nodes.set(node.name, node);
    return this.nodeData(mesh, node);
  }

  /**
   * Creates a virtual router (and its mesh if needed). {@link seedRoute} creates one on demand,
   * listening on 8080/http, so call this only to give a router another spec.
   *
   * @throws AwsServiceError `ConflictException` when the router exists; `BadRequestException` for a bad name.
   */
  seedVirtualRouter(input: { meshName: string; virtualRouterName: string; spec?: VirtualRouterSpec }): VirtualRouterData {
    const mesh = this.meshFor(input.meshName);
    validateName(input.virtualRouterName, 'virtualRouterName');
    if (mesh.routers.has(input.virtualRouterName)) {
      throw new AwsServiceError('ConflictException', `VirtualRouter with name ${input.virtualRouterName} already exists in mesh ${input.meshName}`, 409);
    }
    const router: RouterState = {
      ...this.newResource(input.virtualRouterName, input.spec ?? { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] }),
      routes: new Map(),
    };
    mesh.routers.set(router.name, router);
    return this.routerData(mesh, router);
  }

  /**
   * Creates a route (and its mesh and virtual router if needed), validated as UpdateRoute
   * validates: the world cannot start from a route AWS would refuse.
   *
   * @throws AwsServiceError `ConflictException` when the route exists; `BadRequestException` for
   *   an invalid spec; `NotFoundException` when a target virtual node does not exist.
   */
  seedRoute(input: { meshName: string; virtualRouterName: string; routeName: string; spec: RouteSpec }): RouteData {
    const mesh = this.meshFor(input.meshName);
    if (!mesh.routers.has(input.virtualRouterName)) {
      this.seedVirtualRouter({ meshName: input.meshName, virtualRouterName: input.virtualRouterName });
    }
    const router = mesh.routers.get(input.virtualRouterName)!;
    validateName(input.routeName, 'routeName');
    if (router.routes.has(input.routeName)) {
      throw new AwsServiceError('ConflictException', `Route with name ${input.routeName} already exists in virtual router ${router.name}`, 409);
    }
    this.validateSpec(mesh, input.spec);
    const route: RouteState = { ...this.newResource(input.routeName, structuredClone(input.spec)), tokens: new Map(), history: [] };
    route.history.push({ version: route.version, at: route.lastUpdatedAt, weights: weightsOf(route.spec) });
    router.routes.set(route.name, route);
    return this.routeData(mesh, router, route);
  }

  // ---------- what the gateway and the tests read ----------

  /**
   * The route's weights by virtual node name, straight from its current spec.
   *
   * @throws AwsServiceError `NotFoundException` when the mesh, router or route does not exist.
   */
  weights(meshName: string, virtualRouterName: string, routeName: string): Record<string, number> {
    const { route } = this.findRoute({ meshName, virtualRouterName, routeName });
    return weightsOf(route.spec);
  }

  /** Every weight the route has had, oldest first, starting with the seed. */
  weightHistory(meshName: string, virtualRouterName: string, routeName: string): readonly RouteWeightChange[] {
    return [...this.findRoute({ meshName, virtualRouterName, routeName }).route.history];
  }

  /**
   * Makes the next calls of `operation` fail, one error per call, in order, before they touch
   * any state (e.g. throttle one UpdateRoute with {@link tooManyRequests}).
   */
  injectFailures(operation: AppMeshOperationName, errors: readonly AwsServiceError[]): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...errors]);
  }

  /** Drops every failure injected and not yet thrown. */
  clearInjectedFailures(): void {
    this.failures.clear();
  }

  // ---------- the API ----------

  /** DescribeRoute. */
  async describeRoute(input: DescribeRouteInput): Promise<{ route: RouteData }> {
    this.failInjected('DescribeRoute');
    const { mesh, router, route } = this.findRoute(input);
    return { route: this.routeData(mesh, router, route) };
  }

  /**
   * UpdateRoute: replaces the whole spec and bumps `metadata.version`. A repeated `clientToken`
   * with the same request returns the first answer without applying it again; with a different
   * request it is a `ConflictException`.
   */
  async updateRoute(input: UpdateRouteInput): Promise<{ route: RouteData }> {
    this.failInjected('UpdateRoute');
    const { mesh, router, route } = this.findRoute(input);
    if (input.spec === undefined || input.spec === null || typeof input.spec !== 'object') {
      throw new AwsServiceError('BadRequestException', 'spec is required');
    }
    const fingerprint = createHash('sha256').update(canonicalJson(input.spec)).digest('hex');
    const token = input.clientToken;
    if (token !== undefined && !/^[A-Za-z0-9_-]{1,36}$/.test(token)) {
      // The documented limit: up to 36 letters, numbers, hyphens and underscores.
      throw new AwsServiceError('BadRequestException', `clientToken must be 1 to 36 letters, numbers, hyphens or underscores; got '${token}'`);
    }
    if (token !== undefined) {
      const seen = route.tokens.get(token);
      if (seen !== undefined) {
        if (seen.fingerprint !== fingerprint) {
          throw new AwsServiceError(
            'ConflictException',
            `clientToken ${token} was already used for a different UpdateRoute request on route ${route.name}`,
            409,
          );
        }
        return { route: structuredClone(seen.answer) };
      }
    }
    this.validateSpec(mesh, input.spec);

    route.spec = structuredClone(input.spec);
    route.version += 1;
    route.lastUpdatedAt = this.now();
    route.history.push({ version: route.version, at: route.lastUpdatedAt, weights: weightsOf(route.spec) });
    const answer = this.routeData(mesh, router, route);
    if (token !== undefined) {
      route.tokens.set(token, { fingerprint, answer: structuredClone(answer) });
      if (route.tokens.size > MAX_TOKENS_PER_ROUTE) route.tokens.delete(route.tokens.keys().next().value!);
    }
    return { route: answer };
  }

  /** ListRoutes, in name order, paginated with `limit` (1..100) and `nextToken`. */
  async listRoutes(input: ListRoutesInput): Promise<Omit<ListRoutesOutput, '$metadata'>> {
    this.failInjected('ListRoutes');
    const { mesh, router } = this.findRouter(input);
    const limit = input.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new AwsServiceError('BadRequestException', `limit must be an integer from 1 to 100; got ${input.limit}`);
    }
    const names = [...router.routes.keys()].sort();
    let start = 0;
    if (input.nextToken !== undefined) {
      const after = Buffer.from(input.nextToken, 'base64url').toString('utf8');
      if (after === '') throw new AwsServiceError('BadRequestException', 'nextToken is not valid');
      start = names.findIndex((name) => name > after);
      if (start < 0) start = names.length;
    }
    const page = names.slice(start, start + limit);
    const routes = page.map((name) => {
      const route = router.routes.get(name)!;
      const { metadata } = this.routeData(mesh, router, route);
      return {
        meshName: mesh.name,
        virtualRouterName: router.name,
        routeName: route.name,
        meshOwner: metadata!.meshOwner,
        resourceOwner: metadata!.resourceOwner,
        arn: metadata!.arn,
        version: metadata!.version,
        createdAt: metadata!.createdAt,
        lastUpdatedAt: metadata!.lastUpdatedAt,
      };
    });
    const more = start + limit < names.length;
    return { routes, ...(more ? { nextToken: Buffer.from(page[page.length - 1], 'utf8').toString('base64url') } : {}) };
  }

  /** DescribeVirtualRouter. */
  async describeVirtualRouter(input: DescribeVirtualRouterInput): Promise<{ virtualRouter: VirtualRouterData }> {
    this.failInjected('DescribeVirtualRouter');
    const { mesh, router } = this.findRouter(input);
    return { virtualRouter: this.routerData(mesh, router) };
  }

  /** DescribeVirtualNode. */
  async describeVirtualNode(input: DescribeVirtualNodeInput): Promise<{ virtualNode: VirtualNodeData }> {
    this.failInjected('DescribeVirtualNode');
    const mesh = this.findMesh(input.meshName, input.meshOwner);
    const node = mesh.nodes.get(input.virtualNodeName ?? '');
    if (node === undefined) {
      throw notFound(`VirtualNode with name ${input.virtualNodeName} is not present under mesh ${mesh.name} for account ${this.accountId}`);
    }
    return { virtualNode: this.nodeData(mesh, node) };
  }

  // ---------- internals ----------

  private failInjected(operation: AppMeshOperationName): void {
    const error = this.failures.get(operation)?.shift();
    if (error !== undefined) throw error;
  }

  private meshFor(meshName: string): MeshState {
    let mesh = this.meshes.get(meshName);
    if (mesh === undefined) {
      validateName(meshName, 'meshName');
      mesh = { name: meshName, nodes: new Map(), routers: new Map() };
      this.meshes.set(meshName, mesh);
    }
    return mesh;
  }

  private findMesh(meshName: string | undefined, meshOwner: string | undefined): MeshState {
    const mesh = this.meshes.get(meshName ?? '');
    // A mesh owned by another account is not visible unless shared; nothing is shared locally.
    if (mesh === undefined || (meshOwner !== undefined && meshOwner !== this.accountId)) {
      throw notFound(`Mesh with name ${meshName} is not present for account ${meshOwner ?? this.accountId}`);
    }
    return mesh;
  }

  private findRouter(input: { meshName?: string; virtualRouterName?: string; meshOwner?: string }) {
    const mesh = this.findMesh(input.meshName, input.meshOwner);
    const router = mesh.routers.get(input.virtualRouterName ?? '');
    if (router === undefined) {
      throw notFound(`VirtualRouter with name ${input.virtualRouterName} is not present under mesh ${mesh.name} for account ${this.accountId}`);
    }
    return { mesh, router };
  }

  private findRoute(input: { meshName?: string; virtualRouterName?: string; routeName?: string; meshOwner?: string }) {
    const { mesh, router } = this.findRouter(input);
    const route = router.routes.get(input.routeName ?? '');
    if (route === undefined) {
      throw notFound(
        `Route with name ${input.routeName} is not present under virtual router ${router.name} in mesh ${mesh.name} for account ${this.accountId}`,
      );
    }
    return { mesh, router, route };
  }

  /** The checks App Mesh makes on a route spec that matter to a release. */
  private validateSpec(mesh: MeshState, spec: RouteSpec): void {
    const present = ROUTE_TYPES.filter((type) => spec[type] !== undefined && spec[type] !== null);
    if (present.length !== 1) {
      throw new AwsServiceError(
        'BadRequestException',
        `A route spec must contain exactly one of ${ROUTE_TYPES.join(', ')}; got ${present.length === 0 ? 'none' : present.join(', ')}`,
      );
    }
    if (spec.priority !== undefined && (!Number.isInteger(spec.priority) || spec.priority < 0 || spec.priority > 1000)) {
      throw new AwsServiceError('BadRequestException', `priority must be an integer from 0 to 1000; got ${spec.priority}`);
    }
    const type = present[0];
    const route = spec[type] as { match?: unknown; action?: { weightedTargets?: unknown } };
    if (type !== 'tcpRoute' && (route.match === undefined || route.match === null)) {
      throw new AwsServiceError('BadRequestException', `${type}.match is required`);
    }
    const targets = route.action?.weightedTargets;
    if (!Array.isArray(targets) || targets.length < 1 || targets.length > MAX_WEIGHTED_TARGETS) {
      throw new AwsServiceError('BadRequestException', `${type}.action.weightedTargets must list 1 to ${MAX_WEIGHTED_TARGETS} targets`);
    }
    let total = 0;
    for (const target of targets as WeightedTarget[]) {
      if (typeof target?.virtualNode !== 'string' || target.virtualNode.length === 0) {
        throw new AwsServiceError('BadRequestException', 'Every weighted target needs a virtualNode');
      }
      if (!Number.isInteger(target.weight) || target.weight! < 0 || target.weight! > 100) {
        throw new AwsServiceError(
          'BadRequestException',
          `The weight of target ${target.virtualNode} must be an integer from 0 to 100; got ${JSON.stringify(target.weight)}`,
        );
      }
      if (target.port !== undefined && (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535)) {
        throw new AwsServiceError('BadRequestException', `The port of target ${target.virtualNode} must be from 1 to 65535; got ${target.port}`);
      }
      if (!mesh.nodes.has(target.virtualNode)) {
        throw notFound(`VirtualNode with name ${target.virtualNode} is not present under mesh ${mesh.name} for account ${this.accountId}`);
      }
      total += target.weight!;
    }
    if (total > 100) {
      throw new AwsServiceError('BadRequestException', `The total weight of all targets must be at most 100; got ${total}`);
    }
  }

  private newResource<S>(name: string, spec: S): Resource<S> {
    const now = this.now();
    return { name, spec: structuredClone(spec), uid: randomUUID(), version: 1, createdAt: now, lastUpdatedAt: now };
  }

  private metadata(arnPath: string, resource: Resource<unknown>): ResourceMetadata {
    return {
      arn: `arn:aws:appmesh:${this.region}:${this.accountId}:${arnPath}`,
      createdAt: resource.createdAt,
      lastUpdatedAt: resource.lastUpdatedAt,
      meshOwner: this.accountId,
      resourceOwner: this.accountId,
      uid: resource.uid,
      version: resource.version,
    };
  }

  private routeData(mesh: MeshState, router: RouterState, route: RouteState): RouteData {
    return {
      meshName: mesh.name,
      virtualRouterName: router.name,
      routeName: route.name,
      spec: structuredClone(route.spec),
      metadata: this.metadata(`mesh/${mesh.name}/virtualRouter/${router.name}/route/${route.name}`, route),
      status: { status: 'ACTIVE' },
    };
  }

  private routerData(mesh: MeshState, router: RouterState): VirtualRouterData {
    return {
      meshName: mesh.name,
      virtualRouterName: router.name,
      spec: structuredClone(router.spec),
      metadata: this.metadata(`mesh/${mesh.name}/virtualRouter/${router.name}`, router),
      status: { status: 'ACTIVE' },
    };
  }

  private nodeData(mesh: MeshState, node: Resource<VirtualNodeSpec>): VirtualNodeData {
    return {
      meshName: mesh.name,
      virtualNodeName: node.name,
      spec: structuredClone(node.spec),
      metadata: this.metadata(`mesh/${mesh.name}/virtualNode/${node.name}`, node),
      status: { status: 'ACTIVE' },
    };
  }
}

/**
 * The REST JSON handler the endpoint serves App Mesh with: maps each path to its operation,
 * decodes labels and query, and answers with the operation's payload member as the body
 * (`route`, `virtualRouter`, `virtualNode`: their output shapes bind them with `httpPayload`).
 *
 * @example
 * await startLocalEndpoint({ jsonServices: [ssm], restAppMesh: appMeshRestHandler(mesh) });
 */
export function appMeshRestHandler(mesh: LocalAppMesh): AppMeshRestHandler {
  const routePath = '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes/{routeName}';
  const operations: {
    method: string;
    path: string;
    run: (labels: Record<string, string>, query: URLSearchParams, body: Record<string, unknown> | undefined) => Promise<unknown>;
  }[] = [
    {
      method: 'GET',
      path: routePath,
      run: async (labels, query) => (await mesh.describeRoute({ ...routeRef(labels), ...owner(query) })).route,
    },
    {
      method: 'PUT',
      path: routePath,
      run: async (labels, query, body) => {
        const spec = body?.spec;
        if (spec === undefined || spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
          throw new AwsServiceError('BadRequestException', 'The request body must contain a spec object');
        }
        const clientToken = typeof body?.clientToken === 'string' ? body.clientToken : undefined;
        return (await mesh.updateRoute({ ...routeRef(labels), ...owner(query), spec: spec as RouteSpec, clientToken })).route;
      },
    },
    {
      method: 'GET',
      path: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes',
      run: async (labels, query) => {
        const limit = query.get('limit');
        if (limit !== null && !/^\d+$/.test(limit)) throw new AwsServiceError('BadRequestException', `limit must be an integer; got '${limit}'`);
        return mesh.listRoutes({
          meshName: labels.meshName,
          virtualRouterName: labels.virtualRouterName,
          ...owner(query),
          ...(limit !== null ? { limit: Number(limit) } : {}),
          ...(query.get('nextToken') !== null ? { nextToken: query.get('nextToken')! } : {}),
        });
      },
    },
    {
      method: 'GET',
      path: '/v20190125/meshes/{meshName}/virtualRouters/{virtualRouterName}',
      run: async (labels, query) =>
        (await mesh.describeVirtualRouter({ meshName: labels.meshName, virtualRouterName: labels.virtualRouterName, ...owner(query) }))
          .virtualRouter,
    },
    {
      method: 'GET',
      path: '/v20190125/meshes/{meshName}/virtualNodes/{virtualNodeName}',
      run: async (labels, query) =>
        (await mesh.describeVirtualNode({ meshName: labels.meshName, virtualNodeName: labels.virtualNodeName, ...owner(query) }))
          .virtualNode,
    },
  ];

  return async (request) => {
    for (const operation of operations) {
      if (operation.method !== request.method) continue;
      const labels = matchPath(operation.path, request.path);
      if (labels !== null) return { body: await operation.run(labels, request.query, request.body) };
    }
    throw new AwsServiceError(
      'UnknownOperationException',
      `The local App Mesh does not implement ${request.method} ${request.path}; it implements DescribeRoute, UpdateRoute, ` +
        'ListRoutes, DescribeVirtualRouter and DescribeVirtualNode',
      404,
    );
  };
}

function routeRef(labels: Record<string, string>) {
  return { meshName: labels.meshName, virtualRouterName: labels.virtualRouterName, routeName: labels.routeName };
}

function owner(query: URLSearchParams): { meshOwner?: string } {
  const meshOwner = query.get('meshOwner');
  return meshOwner === null ? {} : { meshOwner };
}

function notFound(message: string): AwsServiceError {
  return new AwsServiceError('NotFoundException', message, 404);
}

function validateName(name: string, field: string): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > 255) {
    throw new AwsServiceError('BadRequestException', `${field} must be 1 to 255 characters; got ${JSON.stringify(name)}`);
  }
}

/** Weight by virtual node name of the spec's one route type (summed if a node is listed twice). */
function weightsOf(spec: RouteSpec): Record<string, number> {
  const type = ROUTE_TYPES.find((t) => spec[t] !== undefined && spec[t] !== null);
  const targets = type === undefined ? [] : ((spec[type] as { action?: { weightedTargets?: WeightedTarget[] } }).action?.weightedTargets ?? []);
  const weights: Record<string, number> = {};
  for (const target of targets) {
    weights[target.virtualNode!] = (weights[target.virtualNode!] ?? 0) + (target.weight ?? 0);
  }
  return weights;
}

/** JSON with object keys sorted, so the same request always has the same fingerprint. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, current: unknown) =>
    current !== null && typeof current === 'object' && !Array.isArray(current)
      ? Object.fromEntries(Object.entries(current as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : current,
  );
}
