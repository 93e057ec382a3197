import type { DescribeRouteCommandOutput, RouteSpec, WeightedTarget } from '@aws-sdk/client-app-mesh';
import type { AppMeshTrafficConfig } from '../../lambdas/shared/traffic/appmesh-router';

/** Fixtures for traffic-router tests: one App Mesh route per route type, two colour nodes. */

/** A service's App Mesh traffic configuration (own mesh, no owner). */
export const appMeshConfig: AppMeshTrafficConfig = {
  kind: 'appmesh',
  meshName: 'colorapp-mesh',
  virtualRouterName: 'colorapp-router',
  routeName: 'colorapp-route',
  virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
};

/**
 * A route spec of each type, with every optional field set so a test notices if an update
 * loses one. Targets are filled in by {@link specWith}.
 */
export function routeSpecs(targets: WeightedTarget[]): Record<'httpRoute' | 'http2Route' | 'grpcRoute' | 'tcpRoute', RouteSpec> {
  const httpRoute = {
    match: {
      prefix: '/',
      method: 'GET' as const,
      scheme: 'https' as const,
      headers: [{ name: 'x-canary', invert: false, match: { exact: 'true' } }],
      queryParameters: [{ name: 'debug', match: { exact: '1' } }],
      path: { regex: '/color.*' },
      port: 8080,
    },
    action: { weightedTargets: targets },
    retryPolicy: {
      maxRetries: 3,
      perRetryTimeout: { unit: 'ms' as const, value: 2000 },
      httpRetryEvents: ['server-error', 'gateway-error'],
      tcpRetryEvents: ['connection-error' as const],
    },
    timeout: { idle: { unit: 's' as const, value: 30 }, perRequest: { unit: 's' as const, value: 15 } },
  };
  return {
    httpRoute: { priority: 10, httpRoute },
    http2Route: { priority: 20, http2Route: httpRoute },
    grpcRoute: {
      priority: 30,
      grpcRoute: {
        match: { serviceName: 'color.ColorService', methodName: 'GetColor', metadata: [{ name: 'tier', invert: false, match: { prefix: 'gold' } }], port: 9090 },
        action: { weightedTargets: targets },
        retryPolicy: {
          maxRetries: 2,
          perRetryTimeout: { unit: 'ms', value: 500 },
          grpcRetryEvents: ['unavailable', 'deadline-exceeded'],
          httpRetryEvents: ['server-error'],
          tcpRetryEvents: ['connection-error'],
        },
        timeout: { idle: { unit: 's', value: 60 }, perRequest: { unit: 's', value: 5 } },
      },
    },
    tcpRoute: {
      priority: 40,
      tcpRoute: {
        match: { port: 7000 },
        action: { weightedTargets: targets },
        timeout: { idle: { unit: 's', value: 600 } },
      },
    },
  };
}

/** A DescribeRoute response for `spec` in the configured mesh. */
export function describeRouteOutput(
  spec: RouteSpec,
  options: { status?: 'ACTIVE' | 'INACTIVE' | 'DELETED'; version?: number; uid?: string; meshOwner?: string } = {},
): DescribeRouteCommandOutput {
  const owner = options.meshOwner ?? '111122223333';
  return {
    $metadata: {},
    route: {
      meshName: appMeshConfig.meshName,
      virtualRouterName: appMeshConfig.virtualRouterName,
      routeName: appMeshConfig.routeName,
      spec,
      metadata: {
        arn: `arn:aws:appmesh:eu-west-1:${owner}:mesh/colorapp-mesh/virtualRouter/colorapp-router/route/colorapp-route`,
        version: options.version ?? 7,
        uid: options.uid ?? 'a1b2c3d4-0000-4000-8000-000000000001',
        createdAt: new Date('2024-01-01T00:00:00Z'),
        lastUpdatedAt: new Date('2024-01-02T00:00:00Z'),
        meshOwner: owner,
        resourceOwner: owner,
      },
      status: { status: options.status ?? 'ACTIVE' },
    },
  };
}
