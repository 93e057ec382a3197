import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Colour } from '../colours';
import type { TrafficConfig } from '../config';
import { ValidationError } from '../errors';
import { AlbTrafficRouter } from './alb-router';
import { AppMeshRouter } from './appmesh-router';
import type { TrafficRouter } from './traffic-router';

/** SDK clients a router may use; tests and callers with their own clients pass them here. */
export interface TrafficClients {
  /** @default - one AppMeshClient per process, created on first use */
  readonly appmesh?: AppMeshClient;
  /** @default - one ElasticLoadBalancingV2Client per process, created on first use */
  readonly elbv2?: ElasticLoadBalancingV2Client;
}

// Created on first use so a function whose service uses one backend never builds the other's
// client, and kept for the life of the process so warm invocations reuse its connections.
let defaultAppMesh: AppMeshClient | undefined;
let defaultElbv2: ElasticLoadBalancingV2Client | undefined;

function appMeshClient(): AppMeshClient {
  defaultAppMesh ??= new AppMeshClient({});
  return defaultAppMesh;
}

function elbv2Client(): ElasticLoadBalancingV2Client {
  defaultElbv2 ??= new ElasticLoadBalancingV2Client({});
  return defaultElbv2;
}

/**
 * Picks the {@link TrafficRouter} for a service's traffic configuration. An unknown kind fails
 * fast with a {@link ValidationError}: falling back to a default backend would move traffic on
 * a route nobody configured.
 *
 * @example
 * const router = createTrafficRouter(release.config.traffic, { live: 'blue', idle: 'green' });
 * await router.setWeights({ live: 90, idle: 10 });
 */
export function createTrafficRouter(
  config: TrafficConfig,
  colours: { live: Colour; idle: Colour },
  clients: TrafficClients = {},
): TrafficRouter {
  const kind = config.kind;
  switch (kind) {
    case 'appmesh':
      return new AppMeshRouter(clients.appmesh ?? appMeshClient(), config, colours);
    case 'alb':
      return new AlbTrafficRouter(clients.elbv2 ?? elbv2Client(), config, colours);
    default: {
      // Adding a member to TrafficConfigSchema without a case here is a compile error.
      const unknownKind: never = kind;
      throw new ValidationError(
        `Unknown traffic kind '${String(unknownKind)}'; supported: alb, appmesh. Fix traffic.kind in the service configuration.`,
      );
    }
  }
}
