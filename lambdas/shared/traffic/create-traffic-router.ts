import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import type { Colour } from '../colours';
import type { TrafficConfig } from '../config';
import { ValidationError } from '../errors';
import { AppMeshRouter } from './appmesh-router';
import type { TrafficRouter } from './traffic-router';

/** SDK clients a router may use; tests and callers with their own clients pass them here. */
export interface TrafficClients {
  /** @default - one AppMeshClient per process, created on first use */
  readonly appmesh?: AppMeshClient;
}

// Created on first use so a function whose service uses another backend never builds an App
// Mesh client, and kept for the life of the process so warm invocations reuse its connections.
let defaultAppMesh: AppMeshClient | undefined;

function appMeshClient(): AppMeshClient {
  defaultAppMesh ??= new AppMeshClient({});
  return defaultAppMesh;
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
      // TODO(alb-router): replaced by AlbTrafficRouter on the router branch before anything lands.
      throw new ValidationError('ALB traffic is not wired yet');
    default: {
      // Adding a member to TrafficConfigSchema without a case here is a compile error.
      const unknownKind: never = kind;
      throw new ValidationError(
        `Unknown traffic kind '${String(unknownKind)}'; supported: alb, appmesh. Fix traffic.kind in the service configuration.`,
      );
    }
  }
}
