/**
 * The fleet sample in the local world: N copies of colorapp (colorapp, colorapp-2, ...) named as
 * the CDK app names them (`sampleServiceSettings`, `cdk synth -c services=N`), each registered
 * with the one release engine and, as `ColorappCopyStack` builds it, behind a listener of its
 * own on colorapp's load balancer (port 8000 + its index), with its own target groups, header
 * test rules and weighted rule.
 */
import { sampleServiceSettings, serviceConfigOf, type ReleaseSettings } from '../infra/colorapp-settings';
import type { ServiceConfig } from '../lambdas/shared/config';
import { SAMPLE_LISTENER_PORT, localAlbTrafficOf } from './alb-sample';
import { LOCAL_SCOPE, localTrafficOf, type LocalBackend } from './backends';
import type { AlarmDefinition } from './contracts';
import type { LocalServiceOptions } from './local-service';

/**
 * At most this many services in the local world (the CDK sample allows 50). Each one runs real
 * processes on this machine: two live colorapp tasks, two more on its new colour during a
 * release, a listener and, with `npm start`, its own client traffic (100 requests/s by default).
 * Ten services is 40 colorapp processes and 1,000 requests/s through one Node.js process at the
 * peak, which a two-core machine still runs without the release's timings (bakes, 1-second
 * alarm periods) being distorted by CPU starvation; beyond that the measurements would be of
 * the machine, not of the release.
 */
export const MAX_LOCAL_SERVICES = 10;

/** `ColorappCopyStack`'s `COPY_BASE_PORT` (infra/stacks/colorapp-copy-stack.ts, not imported: it loads aws-cdk-lib): copy `k` listens on this + k. */
export const COPY_LISTENER_BASE_PORT = 8000;

/** A bad `--services` value: not a whole number from 1 to {@link MAX_LOCAL_SERVICES}, or more than one on App Mesh. */
export class InvalidServicesError extends Error {
  override readonly name = 'InvalidServicesError' as const;
}

/**
 * The number of services `raw` (the `--services` value) asks for; 1 when it is undefined.
 *
 * @throws InvalidServicesError for anything but a whole number from 1 to {@link MAX_LOCAL_SERVICES}, or more than one on App Mesh.
 * @example
 * servicesOf('3', 'alb'); // 3
 */
export function servicesOf(raw: string | undefined, backend: LocalBackend): number {
  if (raw === undefined) return 1;
  // Number('') is 0 and Number(' 3') is 3: only digits are a count.
  const count = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_LOCAL_SERVICES) {
    throw new InvalidServicesError(
      `--services must be a whole number from 1 to ${MAX_LOCAL_SERVICES} (each service runs its own colorapp processes on this machine), got '${raw}'`,
    );
  }
  if (count > 1 && backend !== 'alb') {
    throw new InvalidServicesError(`--services ${count} needs the load balancer (--traffic alb, the default): App Mesh (discontinued) runs one service only, as the CDK sample`);
  }
  return count;
}

/**
 * `argv` with a negative number after `--services` joined to it (`--services=-1`), so that
 * `parseArgs` hands it to {@link servicesOf} (which names the problem) instead of refusing it as
 * an ambiguous option.
 *
 * @example
 * withServicesValueJoined(['--services', '-1']); // ['--services=-1']
 */
export function withServicesValueJoined(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--services' && i + 1 < argv.length && /^-\d/.test(argv[i + 1])) {
      out.push(`--services=${argv[i + 1]}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/**
 * The listener port of copy `index` of the fleet sample: colorapp's (index 1) is 80, copy `k`'s
 * is 8000 + k, as `ColorappCopyStack` creates it.
 */
export function sampleListenerPort(index: number): number {
  return index === 1 ? SAMPLE_LISTENER_PORT : COPY_LISTENER_BASE_PORT + index;
}

/** One service of the local fleet. */
export interface LocalFleetMember {
  /** 1 for colorapp, k for colorapp-k. */
  readonly index: number;
  readonly settings: ReleaseSettings;
  readonly config: ServiceConfig;
  /** What the world builds it from (no gateway port: any free one). */
  readonly service: LocalServiceOptions;
}

/**
 * The first `count` services of the fleet sample for `settings` (colorapp in the local profile):
 * settings by `sampleServiceSettings`, config documents with the local world's ARNs (each copy on
 * its own listener), and alarms by `alarmsOf`.
 *
 * @throws InvalidServicesError as {@link servicesOf}.
 * @example
 * const [first, ...more] = localFleetOf(localProfile(COLORAPP), 3, 'alb', alarmDefinitionsOf);
 * await startLocalWorld({ config: first.config, alarms: first.service.alarms, additionalServices: more.map((m) => m.service), ... });
 */
export function localFleetOf(
  settings: ReleaseSettings,
  count: number,
  backend: LocalBackend,
  alarmsOf: (settings: ReleaseSettings, config: ServiceConfig) => readonly AlarmDefinition[],
  adjust: (settings: ReleaseSettings) => ReleaseSettings = (s) => s,
): LocalFleetMember[] {
  servicesOf(String(count), backend);
  return Array.from({ length: count }, (_, i) => {
    const index = i + 1;
    const member = adjust(sampleServiceSettings(settings, index));
    const listenerPort = sampleListenerPort(index);
    const traffic = index === 1 ? localTrafficOf(member, backend) : localAlbTrafficOf(member.alb, LOCAL_SCOPE, 'rule', listenerPort);
    const config = serviceConfigOf(member, { traffic });
    return { index, settings: member, config, service: { config, alarms: alarmsOf(member, config), listenerPort } };
  });
}
