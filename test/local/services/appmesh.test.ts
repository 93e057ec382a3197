import {
  AppMeshClient,
  BadRequestException,
  ConflictException,
  DeleteRouteCommand,
  DescribeRouteCommand,
  DescribeVirtualNodeCommand,
  DescribeVirtualRouterCommand,
  NotFoundException,
  paginateListRoutes,
  TooManyRequestsException,
  UpdateRouteCommand,
  type RouteSpec,
  type WeightedTarget,
} from '@aws-sdk/client-app-mesh';
import { ResourceNotFoundError } from '../../../lambdas/shared/errors';
import { AppMeshRouter } from '../../../lambdas/shared/traffic/appmesh-router';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { appMeshRestHandler, LocalAppMesh, tooManyRequests } from '../../../local/services/appmesh';
import { appMeshConfig, routeSpecs } from '../../support/traffic-fixtures';
import { clientConfig } from '../endpoint/harness';

// The local App Mesh through the real SDK v3 client, the real endpoint and the real AppMeshRouter.

const ACCOUNT = '111122223333';
const MESH = appMeshConfig.meshName;
const ROUTER = appMeshConfig.virtualRouterName;
const ROUTE = appMeshConfig.routeName;
const ref = { meshName: MESH, virtualRouterName: ROUTER, routeName: ROUTE };
const T0 = new Date('2026-03-01T12:00:00.000Z');
const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;

let clock: Date;
let mesh: LocalAppMesh;
let endpoint: LocalEndpoint;
let client: AppMeshClient;

beforeAll(async () => {
  // The endpoint dispatches to whichever LocalAppMesh the current test built.
  endpoint = await startLocalEndpoint({ jsonServices: [], restAppMesh: (request) => appMeshRestHandler(mesh)(request) });
  client = new AppMeshClient(clientConfig(endpoint.url));
});

afterAll(async () => {
  client.destroy();
  await endpoint.close();
});

beforeEach(() => {
  clock = T0;
  mesh = new LocalAppMesh({ accountId: ACCOUNT, now: () => clock });
  mesh.seedVirtualNode({ meshName: MESH, virtualNodeName: 'colorapp-blue' });
  mesh.seedVirtualNode({ meshName: MESH, virtualNodeName: 'colorapp-green' });
});

function targets(blue: number, green: number): WeightedTarget[] {
  return [
    { virtualNode: 'colorapp-blue', weight: blue },
    { virtualNode: 'colorapp-green', weight: green },
  ];
}

function seed(spec: RouteSpec = { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(100, 0) } } }) {
  return mesh.seedRoute({ ...ref, spec });
}

function update(spec: RouteSpec, clientToken?: string) {
  return client.send(new UpdateRouteCommand({ ...ref, spec, ...(clientToken ? { clientToken } : {}) }));
}

const router = (meshOwner?: string) =>
  new AppMeshRouter(client, { ...appMeshConfig, ...(meshOwner ? { meshOwner } : {}) }, { live: 'blue', idle: 'green' });

describe('LocalAppMesh through the endpoint', () => {
  it('describes a seeded route as App Mesh does, dates included', async () => {
    seed();

    const { route } = await client.send(new DescribeRouteCommand(ref));

    expect(route).toEqual({
      ...ref,
      spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(100, 0) } } },
      metadata: {
        arn: `arn:aws:appmesh:eu-west-1:${ACCOUNT}:mesh/${MESH}/virtualRouter/${ROUTER}/route/${ROUTE}`,
        createdAt: T0,
        lastUpdatedAt: T0,
        meshOwner: ACCOUNT,
        resourceOwner: ACCOUNT,
        uid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        version: 1,
      },
      status: { status: 'ACTIVE' },
    });
    expect(route?.metadata?.createdAt).toBeInstanceOf(Date);
  });

  it('replaces the spec on UpdateRoute and bumps the version', async () => {
    seed();
    clock = new Date('2026-03-01T12:00:05.500Z');

    const { route } = await update({ httpRoute: { match: { prefix: '/v2' }, action: { weightedTargets: targets(90, 10) } } });

    expect(route?.metadata).toMatchObject({ version: 2, createdAt: T0, lastUpdatedAt: clock });
    expect(route?.spec).toEqual({ httpRoute: { match: { prefix: '/v2' }, action: { weightedTargets: targets(90, 10) } } });
    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 90, 'colorapp-green': 10 });
    expect(mesh.weightHistory(MESH, ROUTER, ROUTE).map((change) => [change.version, change.weights])).toEqual([
      [1, { 'colorapp-blue': 100, 'colorapp-green': 0 }],
      [2, { 'colorapp-blue': 90, 'colorapp-green': 10 }],
    ]);
  });

  it.each(ROUTE_TYPES)('lets AppMeshRouter shift a %s end to end, keeping every other field', async (type) => {
    const spec = routeSpecs([
      { virtualNode: 'colorapp-blue', weight: 100, port: 8080 },
      { virtualNode: 'colorapp-green', weight: 0, port: 8080 },
    ])[type];
    seed(spec);

    await expect(router().getWeights()).resolves.toEqual({ live: 100, idle: 0 });
    await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });
    await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: false });
    await expect(router().getWeights()).resolves.toEqual({ live: 90, idle: 10 });

    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 90, 'colorapp-green': 10 });
    const { route } = await client.send(new DescribeRouteCommand(ref));
    expect(route?.metadata?.version).toBe(2);
    expect(route?.spec).toEqual(
      routeSpecs([
        { virtualNode: 'colorapp-blue', weight: 90, port: 8080 },
        { virtualNode: 'colorapp-green', weight: 10, port: 8080 },
      ])[type],
    );
  });

  it('is reached through AWS_ENDPOINT_URL, as the handlers reach it', async () => {
    seed();
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = endpoint.url;
    const plain = new AppMeshClient({ maxAttempts: 1 });
    try {
      await expect(new AppMeshRouter(plain, appMeshConfig, { live: 'blue', idle: 'green' }).setWeights({ live: 0, idle: 100 })).resolves.toEqual({
        changed: true,
      });
      expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 0, 'colorapp-green': 100 });
    } finally {
      plain.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it('passes meshOwner as a query parameter, and hides a mesh from another owner', async () => {
    seed();

    await expect(router(ACCOUNT).setWeights({ live: 50, idle: 50 })).resolves.toEqual({ changed: true });
    await expect(router('999999999999').getWeights()).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it('surfaces a throttled UpdateRoute as a 429 the router retries', async () => {
    seed();
    mesh.injectFailures('UpdateRoute', [tooManyRequests()]);

    const throttled = update({ httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(0, 100) } } });
    await expect(throttled).rejects.toBeInstanceOf(TooManyRequestsException);
    await expect(throttled).rejects.toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });

    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 100, 'colorapp-green': 0 });

    mesh.injectFailures('UpdateRoute', [tooManyRequests(), tooManyRequests()]);
    await expect(router().setWeights({ live: 20, idle: 80 })).resolves.toEqual({ changed: true });
    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 20, 'colorapp-green': 80 });
    expect(mesh.weightHistory(MESH, ROUTER, ROUTE)).toHaveLength(2);
  });

  it('names a missing route NotFoundException, which the router turns into ResourceNotFoundError', async () => {
    await expect(client.send(new DescribeRouteCommand(ref))).rejects.toBeInstanceOf(NotFoundException);
    await expect(client.send(new DescribeRouteCommand(ref))).rejects.toMatchObject({
      name: 'NotFoundException',
      message: expect.stringContaining(`VirtualRouter with name ${ROUTER} is not present under mesh ${MESH}`),
      $metadata: { httpStatusCode: 404 },
    });
    seed();
    await expect(client.send(new DescribeRouteCommand({ ...ref, routeName: 'other' }))).rejects.toMatchObject({
      message: expect.stringContaining('Route with name other is not present'),
    });
    await expect(router().getWeights()).resolves.toEqual({ live: 100, idle: 0 });
    await expect(new AppMeshRouter(client, { ...appMeshConfig, routeName: 'other' }, { live: 'blue', idle: 'green' }).getWeights()).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
  });

  it.each([
    ['a weight over 100', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(101, 0) } } }],
    ['a negative weight', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(-1, 100) } } }],
    ['weights summing over 100', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(60, 60) } } }],
    ['no targets', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [] } } }],
    ['two route types', { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(100, 0) } }, tcpRoute: { action: { weightedTargets: targets(100, 0) } } }],
    ['an http route without a match', { httpRoute: { action: { weightedTargets: targets(100, 0) } } as RouteSpec['httpRoute'] }],
  ])('rejects %s with BadRequestException and leaves the route alone', async (_, spec) => {
    seed();

    await expect(update(spec as RouteSpec)).rejects.toBeInstanceOf(BadRequestException);

    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 100, 'colorapp-green': 0 });
    expect((await client.send(new DescribeRouteCommand(ref))).route?.metadata?.version).toBe(1);
  });

  it('rejects a target virtual node that does not exist with NotFoundException', async () => {
    seed();

    const spec = { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'colorapp-purple', weight: 100 }] } } };
    await expect(update(spec)).rejects.toMatchObject({
      name: 'NotFoundException',
      message: `VirtualNode with name colorapp-purple is not present under mesh ${MESH} for account ${ACCOUNT}`,
    });
    expect(() => mesh.seedRoute({ ...ref, routeName: 'second', spec })).toThrow(/colorapp-purple is not present/);
  });

  it('applies a repeated clientToken once, and refuses it for a different request', async () => {
    seed();
    const spec = { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(50, 50) } } };

    const first = await update(spec, 'token-1');
    const again = await update(spec, 'token-1');
    const other = update({ httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(0, 100) } } }, 'token-1');

    expect(first.route?.metadata?.version).toBe(2);
    expect(again.route).toEqual(first.route);
    await expect(other).rejects.toBeInstanceOf(ConflictException);
    await expect(update(spec, 'x'.repeat(37))).rejects.toBeInstanceOf(BadRequestException);
    expect((await client.send(new DescribeRouteCommand(ref))).route?.metadata?.version).toBe(2);
  });

  it('lists routes page by page', async () => {
    seed();
    for (const routeName of ['b-route', 'c-route']) {
      mesh.seedRoute({ ...ref, routeName, spec: { tcpRoute: { action: { weightedTargets: targets(100, 0) } } } });
    }

    const names: string[] = [];
    for await (const page of paginateListRoutes({ client, pageSize: 1 }, { meshName: MESH, virtualRouterName: ROUTER })) {
      expect(page.routes).toHaveLength(1);
      names.push(...page.routes!.map((r) => r.routeName!));
      expect(page.routes![0]).toMatchObject({ meshName: MESH, virtualRouterName: ROUTER, version: 1, createdAt: T0, meshOwner: ACCOUNT });
    }

    expect(names).toEqual(['b-route', 'c-route', ROUTE]);
  });

  it('describes virtual routers and virtual nodes', async () => {
    seed();

    const { virtualRouter } = await client.send(new DescribeVirtualRouterCommand({ meshName: MESH, virtualRouterName: ROUTER }));
    const { virtualNode } = await client.send(new DescribeVirtualNodeCommand({ meshName: MESH, virtualNodeName: 'colorapp-green' }));

    expect(virtualRouter).toMatchObject({
      virtualRouterName: ROUTER,
      spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] },
      status: { status: 'ACTIVE' },
    });
    expect(virtualNode).toMatchObject({ virtualNodeName: 'colorapp-green', metadata: { version: 1, createdAt: T0 } });
    await expect(client.send(new DescribeVirtualNodeCommand({ meshName: MESH, virtualNodeName: 'nope' }))).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('answers an operation it does not implement with UnknownOperationException', async () => {
    seed();

    await expect(client.send(new DeleteRouteCommand(ref))).rejects.toMatchObject({
      name: 'UnknownOperationException',
      $metadata: { httpStatusCode: 404 },
    });
    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 100, 'colorapp-green': 0 });
  });
});

describe('LocalAppMesh for the gateway', () => {
  it('reads weights of the current spec, and fails for a route that does not exist', () => {
    seed({ tcpRoute: { action: { weightedTargets: targets(70, 30) } } });

    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 70, 'colorapp-green': 30 });
    expect(() => mesh.weights(MESH, ROUTER, 'nope')).toThrow(/Route with name nope is not present/);
  });

  it('does not let a caller change the route through what it was given', () => {
    const spec: RouteSpec = { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: targets(100, 0) } } };
    seed(spec);

    spec.httpRoute!.action!.weightedTargets![0].weight = 0;
    mesh.weights(MESH, ROUTER, ROUTE)['colorapp-blue'] = 0;

    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 100, 'colorapp-green': 0 });
  });

  it('refuses to seed the same route twice', () => {
    seed();

    expect(() => seed()).toThrow(`Route with name ${ROUTE} already exists`);
  });
});
