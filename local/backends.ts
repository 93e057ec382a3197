/**
 * The traffic backends the local world runs, and the `traffic` section of the config document
 * for each: ALB weighted target groups (the default, as the CDK sample's) or App Mesh (a working
 * choice still; App Mesh itself was discontinued on 2026-09-30).
 */
import type { TrafficConfig } from '../lambdas/shared/config';
import { appMeshTrafficOf, type ReleaseSettings } from '../infra/colorapp-settings';
import { localAlbTrafficOf, type AlbArnScope } from './alb-sample';

/** Backends of the local world, the default first. */
export const LOCAL_BACKENDS = ['alb', 'appmesh'] as const;
/** A traffic backend of the local world. */
export type LocalBackend = (typeof LOCAL_BACKENDS)[number];

/** The region and account the local world runs in (and its ARNs name). */
export const LOCAL_SCOPE: AlbArnScope = { region: 'eu-west-1', account: '000000000000' };

/**
 * The backend `value` names; `alb` when it is undefined.
 *
 * @throws Error naming both backends for any other value.
 */
export function backendOf(value: string | undefined): LocalBackend {
  if (value === undefined) return 'alb';
  const known = LOCAL_BACKENDS.find((backend) => backend === value);
  if (known === undefined) {
    throw new Error(`--traffic must be alb (ALB weighted target groups, the default) or appmesh (App Mesh), got '${value}'`);
  }
  return known;
}

/**
 * The `traffic` section for `settings` on `backend`, with the local world's ARNs.
 *
 * @example
 * serviceConfigOf(settings, { traffic: localTrafficOf(settings, 'alb') });
 */
export function localTrafficOf(settings: ReleaseSettings, backend: LocalBackend, scope: AlbArnScope = LOCAL_SCOPE): TrafficConfig {
  switch (backend) {
    case 'alb':
      return localAlbTrafficOf(settings.alb, scope);
    case 'appmesh':
      return appMeshTrafficOf(settings);
    default: {
      const unknown: never = backend;
      throw new Error(`Unknown backend '${String(unknown)}'; supported: ${LOCAL_BACKENDS.join(', ')}`);
    }
  }
}
