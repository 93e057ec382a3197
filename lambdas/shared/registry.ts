import { GetParametersByPathCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ValidationError } from './errors';
import { withThrottlingRetry } from './retry';

/**
 * The services one release engine serves, as SSM parameters under the engine's own registry path,
 * one per service: `/ecs-release-registry/<engine>/<service>`, whose value is the service's name.
 * Registering a service (the `ReleasedService` construct) creates its entry; nothing else is in
 * that path.
 *
 * Why a path of its own rather than `GetParametersByPath` on `/ecs-release/`: SSM authorises
 * GetParametersByPath against the path asked for, not the parameters it returns, so a grant on
 * `/ecs-release/` would let the engine-wide reader see every service's task tokens (bake and
 * approval documents). The registry path holds names only; each service's documents stay behind
 * its own per-service grants. Why SSM rather than a list in the engine's configuration: a service
 * registered in another stack adds its own entry, without redeploying the engine's stack.
 */
export const REGISTRY_ROOT = '/ecs-release-registry';

/** The environment variable that names the engine's registry path (engine-wide handlers). */
export const REGISTRY_PATH_ENV = 'RELEASE_REGISTRY_PATH';

/** SSM's hierarchy path of `engine`'s registry (no trailing slash). */
export function registryPathOf(engine: string): string {
  return `${REGISTRY_ROOT}/${engine}`;
}

/** The registry entry of `service` in `engine`'s registry. */
export function registryEntryOf(engine: string, service: string): string {
  return `${registryPathOf(engine)}/${service}`;
}

/** What the registry holds: the services, and the entries that could not be read as one. */
export interface RegisteredServices {
  /** Registered services, sorted, each once. */
  readonly services: readonly string[];
  /** Entries whose value is not the service their name ends in: reported, never acted on. */
  readonly invalid: readonly { readonly name: string; readonly reason: string }[];
}

/**
 * Lists the services registered under `path` (`GetParametersByPath`, not recursive, every page,
 * retried on throttling). One bad entry does not hide the others: it is returned in `invalid`.
 *
 * @throws ValidationError when `path` is not an absolute SSM path.
 */
export async function listRegisteredServices(ssm: SSMClient, path: string): Promise<RegisteredServices> {
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(path) || path.endsWith('/')) {
    throw new ValidationError(`Registry path '${path}' is not an SSM path like ${registryPathOf('ecs-release')}; set ${REGISTRY_PATH_ENV} to it.`);
  }
  const services = new Set<string>();
  const invalid: { name: string; reason: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await withThrottlingRetry(`GetParametersByPath ${path}`, () =>
      ssm.send(new GetParametersByPathCommand({ Path: path, Recursive: false, NextToken: nextToken })),
    );
    for (const parameter of page.Parameters ?? []) {
      const name = parameter.Name ?? '';
      const service = name.slice(path.length + 1);
      const value = (parameter.Value ?? '').trim();
      if (value !== service) {
        invalid.push({ name, reason: `its value '${value.slice(0, 80)}' is not the service its name ends in ('${service}')` });
      } else {
        services.add(service);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return { services: [...services].sort(), invalid };
}

/** The registry path the engine-wide handlers read, from {@link REGISTRY_PATH_ENV}. */
export function registryPathFromEnv(): string {
  const path = process.env[REGISTRY_PATH_ENV];
  if (!path) {
    throw new ValidationError(
      `Environment variable ${REGISTRY_PATH_ENV} is not set; set it to the release engine's registry path (${registryPathOf('<engine>')}).`,
    );
  }
  return path;
}

/**
 * Runs `work` for every item, at most `limit` at a time, and settles all of them: one item's
 * failure never stops or hides another's.
 */
export async function settleEach<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index]) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
