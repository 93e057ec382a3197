import {
  AppMeshClient,
  DescribeRouteCommand,
  NotFoundException,
  UpdateRouteCommand,
  type RouteSpec,
  type UpdateRouteInput,
  type WeightedTarget,
} from '@aws-sdk/client-app-mesh';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  ResourceNotFoundError,
  RouteDriftError,
  ThrottledError,
  ValidationError,
} from '../../../../lambdas/shared/errors';
import { AppMeshRouter } from '../../../../lambdas/shared/traffic/appmesh-router';
import { appMeshConfig, describeRouteOutput, routeSpecs } from '../../../support/traffic-fixtures';

const appmesh = mockClient(AppMeshClient);
const client = new AppMeshClient({});
const blueLive = { live: 'blue', idle: 'green' } as const;
const routeRef = {
  meshName: 'colorapp-mesh',
  virtualRouterName: 'colorapp-router',
  routeName: 'colorapp-route',
};
const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;

function router(config = appMeshConfig, colours: { live: 'blue' | 'green'; idle: 'blue' | 'green' } = blueLive) {
  return new AppMeshRouter(client, config, colours);
}

function routeReturns(spec: RouteSpec, options?: Parameters<typeof describeRouteOutput>[1]) {
  appmesh.on(DescribeRouteCommand).resolves(describeRouteOutput(spec, options));
}

function throttling(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
}

/** The only UpdateRoute input sent. */
function sentUpdate(): UpdateRouteInput {
  const calls = appmesh.commandCalls(UpdateRouteCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input;
}

beforeEach(() => {
  appmesh.reset();
  appmesh.on(UpdateRouteCommand).resolves({ route: undefined, $metadata: {} });
});

describe('AppMeshRouter', () => {
  it('describes itself as appmesh:mesh/router/route', () => {
    expect(router().describe()).toBe('appmesh:colorapp-mesh/colorapp-router/colorapp-route');
  });

  it('rejects live and idle being the same colour', () => {
    expect(() => router(appMeshConfig, { live: 'blue', idle: 'blue' })).toThrow(ValidationError);
  });

  it('rejects both colours sharing one virtual node', () => {
    const config = { ...appMeshConfig, virtualNodes: { blue: 'same', green: 'same' } };
    expect(() => router(config)).toThrow(/same virtual node 'same'/);
  });

  describe('getWeights', () => {
    it.each(ROUTE_TYPES)('reads the weights of a %s', async (type) => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 90 },
          { virtualNode: 'colorapp-green', weight: 10 },
        ])[type],
      );

      await expect(router().getWeights()).resolves.toEqual({ live: 90, idle: 10 });
      expect(appmesh).toHaveReceivedCommandTimes(DescribeRouteCommand, 1);
      expect(appmesh).toHaveReceivedCommandWith(DescribeRouteCommand, routeRef);
    });

    it('maps nodes to colours by configuration, whichever colour is live', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-green', weight: 100 }]).httpRoute);

      await expect(router(appMeshConfig, { live: 'green', idle: 'blue' }).getWeights()).resolves.toEqual({
        live: 100,
        idle: 0,
      });
    });

    it('gives a colour with no target weight 0', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);

      await expect(router().getWeights()).resolves.toEqual({ live: 100, idle: 0 });
    });

    it('reports relative App Mesh weights as percentages summing to 100', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 1 },
          { virtualNode: 'colorapp-green', weight: 3 },
        ]).tcpRoute,
      );

      await expect(router().getWeights()).resolves.toEqual({ live: 25, idle: 75 });
    });

    it('is a RouteDriftError naming the route when a target points at another node', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 50 },
          { virtualNode: 'someone-elses-node', weight: 50 },
        ]).httpRoute,
      );

      const error = await router().getWeights().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RouteDriftError);
      expect((error as Error).message).toContain('appmesh:colorapp-mesh/colorapp-router/colorapp-route');
      expect((error as Error).message).toContain("'someone-elses-node'");
    });

    it('is a RouteDriftError when every target has weight 0', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 0 }]).httpRoute);

      await expect(router().getWeights()).rejects.toThrow(RouteDriftError);
    });

    it('is a ResourceNotFoundError naming the route when the route is DELETED', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute, { status: 'DELETED' });

      const error = await router().getWeights().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as Error).message).toMatch(/route colorapp-route .*colorapp-router .*colorapp-mesh is DELETED/);
    });

    it('turns App Mesh NotFoundException into a ResourceNotFoundError naming mesh, router and route', async () => {
      const notFound = new NotFoundException({ message: 'Route not found', $metadata: {} });
      appmesh.on(DescribeRouteCommand).rejects(notFound);

      const error = await router().getWeights().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as Error).message).toMatch(/mesh colorapp-mesh.*virtual router colorapp-router.*route colorapp-route/);
      expect((error as Error).cause).toBe(notFound);
    });

    it('passes meshOwner when the mesh is shared', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);

      await router({ ...appMeshConfig, meshOwner: '444455556666' }).getWeights();

      expect(appmesh).toHaveReceivedCommandWith(DescribeRouteCommand, { ...routeRef, meshOwner: '444455556666' });
    });

    it('does not send meshOwner for an own mesh', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);

      await router().getWeights();

      expect(appmesh.commandCalls(DescribeRouteCommand)[0].args[0].input).toStrictEqual(routeRef);
    });
  });

  describe('setWeights', () => {
    it.each(ROUTE_TYPES)('preserves a %s exactly and replaces only its weighted targets', async (type) => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }])[type]);

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });

      const expectedSpec = routeSpecs([
        { virtualNode: 'colorapp-blue', weight: 90 },
        { virtualNode: 'colorapp-green', weight: 10 },
      ])[type];
      expect(appmesh).toHaveReceivedCommandTimes(DescribeRouteCommand, 1);
      expect(appmesh).toHaveReceivedCommandWith(DescribeRouteCommand, routeRef);
      expect(sentUpdate()).toStrictEqual({
        ...routeRef,
        spec: expectedSpec,
        clientToken: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    });

    it('keeps each node its existing port', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 90, port: 8080 },
          { virtualNode: 'colorapp-green', weight: 10, port: 8081 },
        ]).httpRoute,
      );

      await router().setWeights({ live: 50, idle: 50 });

      expect(sentUpdate().spec?.httpRoute?.action?.weightedTargets).toStrictEqual([
        { virtualNode: 'colorapp-blue', weight: 50, port: 8080 },
        { virtualNode: 'colorapp-green', weight: 50, port: 8081 },
      ]);
    });

    it("gives a new idle target the live target's port", async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100, port: 8080 }]).grpcRoute);

      await router().setWeights({ live: 90, idle: 10 });

      expect(sentUpdate().spec?.grpcRoute?.action?.weightedTargets).toStrictEqual([
        { virtualNode: 'colorapp-blue', weight: 90, port: 8080 },
        { virtualNode: 'colorapp-green', weight: 10, port: 8080 },
      ]);
    });

    it('sends no port when no target had one', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).tcpRoute);

      await router().setWeights({ live: 0, idle: 100 });

      const targets: WeightedTarget[] | undefined = sentUpdate().spec?.tcpRoute?.action?.weightedTargets;
      expect(targets).toStrictEqual([
        { virtualNode: 'colorapp-blue', weight: 0 },
        { virtualNode: 'colorapp-green', weight: 100 },
      ]);
    });

    it('rolls back to 100/0 by writing both targets, idle at weight 0', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 50 },
          { virtualNode: 'colorapp-green', weight: 50 },
        ]).httpRoute,
      );

      await expect(router().setWeights({ live: 100, idle: 0 })).resolves.toEqual({ changed: true });

      expect(sentUpdate().spec?.httpRoute?.action?.weightedTargets).toStrictEqual([
        { virtualNode: 'colorapp-blue', weight: 100 },
        { virtualNode: 'colorapp-green', weight: 0 },
      ]);
    });

    it('sends no UpdateRoute when the route already has the weights', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 90 },
          { virtualNode: 'colorapp-green', weight: 10 },
        ]).http2Route,
      );

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: false });

      expect(appmesh).toHaveReceivedCommandTimes(DescribeRouteCommand, 1);
      expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    });

    it('treats a missing idle target as weight 0, so 100/0 is already set', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);

      await expect(router().setWeights({ live: 100, idle: 0 })).resolves.toEqual({ changed: false });
      expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    });

    it('rewrites relative weights that only round to the requested split', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 2 },
          { virtualNode: 'colorapp-green', weight: 1 },
        ]).httpRoute,
      );

      await expect(router().setWeights({ live: 67, idle: 33 })).resolves.toEqual({ changed: true });
      expect(appmesh).toHaveReceivedCommandTimes(UpdateRouteCommand, 1);
    });

    it('retries a throttled UpdateRoute with the same request and succeeds', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);
      appmesh.on(UpdateRouteCommand).rejectsOnce(throttling()).resolves({ route: undefined, $metadata: {} });

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });

      const calls = appmesh.commandCalls(UpdateRouteCommand);
      expect(calls).toHaveLength(2);
      expect(calls[1].args[0].input).toStrictEqual(calls[0].args[0].input);
    });

    it('retries a throttled DescribeRoute and succeeds', async () => {
      appmesh
        .on(DescribeRouteCommand)
        .rejectsOnce(throttling())
        .resolves(describeRouteOutput(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute));

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });
      expect(appmesh).toHaveReceivedCommandTimes(DescribeRouteCommand, 2);
    });

    it('is a ThrottledError when UpdateRoute is throttled on every attempt', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);
      appmesh.on(UpdateRouteCommand).rejects(throttling());

      const error = await router().setWeights({ live: 90, idle: 10 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ThrottledError);
      expect((error as Error).message).toContain('UpdateRoute appmesh:colorapp-mesh/colorapp-router/colorapp-route');
      expect(appmesh).toHaveReceivedCommandTimes(UpdateRouteCommand, 6);
    });

    it('is a RouteDriftError and sends no update when a target points at another node', async () => {
      routeReturns(
        routeSpecs([
          { virtualNode: 'colorapp-blue', weight: 90 },
          { virtualNode: 'colorapp-debug', weight: 10 },
        ]).httpRoute,
      );

      await expect(router().setWeights({ live: 100, idle: 0 })).rejects.toThrow(RouteDriftError);
      expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    });

    it('is a RouteDriftError when the spec has no route type', async () => {
      routeReturns({ priority: 1 });

      await expect(router().setWeights({ live: 100, idle: 0 })).rejects.toThrow(/has no route type/);
      expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    });

    it.each([
      { live: 90, idle: 20 },
      { live: 110, idle: -10 },
      { live: 50.5, idle: 49.5 },
      { live: Number.NaN, idle: 100 },
    ])('is a ValidationError and sends nothing for live=$live idle=$idle', async (weights) => {
      await expect(router().setWeights(weights)).rejects.toThrow(ValidationError);
      expect(appmesh).not.toHaveReceivedAnyCommand();
    });

    it('is a ResourceNotFoundError when UpdateRoute says the route is gone', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);
      appmesh.on(UpdateRouteCommand).rejects(new NotFoundException({ message: 'gone', $metadata: {} }));

      await expect(router().setWeights({ live: 90, idle: 10 })).rejects.toThrow(ResourceNotFoundError);
    });

    it('is a ResourceNotFoundError and sends no update when the route is DELETED', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute, { status: 'DELETED' });

      await expect(router().setWeights({ live: 90, idle: 10 })).rejects.toThrow(ResourceNotFoundError);
      expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    });

    it('passes meshOwner on DescribeRoute and UpdateRoute for a shared mesh', async () => {
      routeReturns(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute, { meshOwner: '444455556666' });

      await router({ ...appMeshConfig, meshOwner: '444455556666' }).setWeights({ live: 90, idle: 10 });

      expect(appmesh).toHaveReceivedCommandWith(DescribeRouteCommand, { ...routeRef, meshOwner: '444455556666' });
      expect(appmesh).toHaveReceivedCommandWith(UpdateRouteCommand, { ...routeRef, meshOwner: '444455556666' });
    });

    it('derives the client token from route version and weights, so only a repeat of the same change shares it', async () => {
      const spec = routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute;
      const tokenFor = async (version: number, weights: { live: number; idle: number }) => {
        appmesh.reset();
        routeReturns(spec, { version });
        await router().setWeights(weights);
        return sentUpdate().clientToken;
      };

      const first = await tokenFor(7, { live: 90, idle: 10 });
      expect(await tokenFor(7, { live: 90, idle: 10 })).toBe(first);
      expect(await tokenFor(8, { live: 90, idle: 10 })).not.toBe(first);
      expect(await tokenFor(7, { live: 50, idle: 50 })).not.toBe(first);
    });

    it('leaves the client token to the SDK when the route has no version metadata', async () => {
      const output = describeRouteOutput(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute);
      appmesh.on(DescribeRouteCommand).resolves({ ...output, route: { ...output.route!, metadata: undefined } });

      await router().setWeights({ live: 90, idle: 10 });

      expect(sentUpdate()).not.toHaveProperty('clientToken');
    });
  });

  describe('checks beside the weights', () => {
    it('reports target health as not checked, naming the virtual node and what stands in for it, and sends nothing', async () => {
      await expect(router().checkTargets('idle')).resolves.toStrictEqual({
        checked: false,
        role: 'idle',
        colour: 'green',
        reason:
          'App Mesh has no target health to read for virtual node colorapp-green; ' +
          'the ECS service stability check (running tasks, container health checks) stands in for it',
      });
      await expect(router(appMeshConfig, { live: 'green', idle: 'blue' }).checkTargets('live')).resolves.toMatchObject({
        checked: false,
        colour: 'green',
      });
      expect(appmesh).not.toHaveReceivedAnyCommand();
    });

    it('has no test routes to check and sends nothing', async () => {
      await expect(router().checkTestRoutes()).resolves.toEqual([]);
      expect(appmesh).not.toHaveReceivedAnyCommand();
    });
  });
});
