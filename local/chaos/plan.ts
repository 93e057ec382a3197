/**
 * The chaos plan: which faults each release of `npm run chaos` gets, drawn from a seed. Pure: the
 * same seed and options give the same plan, so a run that found a violation can be replayed with
 * its seed. The per-call endpoint faults are drawn from the seed too, keyed by the call (service,
 * operation and how many times it was called in this release), not by the order calls arrive in.
 */

/** A small seeded PRNG (mulberry32): 32-bit state, uniform floats in [0, 1). Enough for test plans; not for secrets. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash (FNV-1a) of `text`, to seed a PRNG from a key. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The AWS APIs of the local endpoint, by the names the plan uses. */
export const CHAOS_SERVICES = ['ssm', 'ecs', 'cloudwatch', 'stepfunctions', 'elbv2', 'appmesh'] as const;
export type ChaosService = (typeof CHAOS_SERVICES)[number];

/** The ways an endpoint call goes wrong. */
export const ENDPOINT_FAULT_KINDS = ['throttle', 'internal-error', 'unavailable', 'slow', 'drop-before', 'drop-after'] as const;
export type EndpointFaultKind = (typeof ENDPOINT_FAULT_KINDS)[number];

/** How the released version behaves (a property of its image, as in the local registry). */
export type VersionBehaviour = 'healthy' | 'faulty' | 'slow' | 'crash';

/**
 * The state machine handlers a crash can hit (files under `lambdas/`), those every release that
 * gets past Plan runs, plus the rollback. A crash is an untyped `Error`, as a bug or an
 * out-of-memory would be.
 */
export const CRASHABLE_HANDLERS = [
  'plan-release',
  'acquire-lock',
  'load-state',
  'preflight',
  'register-task-definition',
  'deploy-idle',
  'check-stability',
  'shift-traffic',
  'check-health',
  'promote-release',
  'scale-down-old-colour',
  'release-lock',
  'rollback-release',
] as const;

/** The faults of one release. */
export interface ReleaseFaultPlan {
  /** 1-based. */
  readonly index: number;
  /** The image released, `colorapp:v<index + 1>`. */
  readonly image: string;
  readonly version: VersionBehaviour;
  /** Endpoint faults: a share of the calls to the chosen services, or null for none. */
  readonly endpoint: { readonly rate: number; readonly services: readonly ChaosService[] } | null;
  /** A handler that throws on its first invocation in this release, before or after doing its work. */
  readonly crash: { readonly handler: (typeof CRASHABLE_HANDLERS)[number]; readonly when: 'before' | 'after' } | null;
  /** StopExecution this long after the start (if it still runs). */
  readonly stopAfterMs: number | null;
  /** The execution's end status event is lost: only the reconciler can recover it. */
  readonly dropStatusEvent: boolean;
}

/** A whole run's plan. */
export interface ChaosPlan {
  readonly seed: number;
  readonly releases: readonly ReleaseFaultPlan[];
}

/** How often each fault is chosen, per release; each in [0, 1]. */
export interface ChaosFractions {
  /** @default 0.6 */
  readonly endpoint?: number;
  /** Largest share of a chosen service's calls that fail. @default 0.12 */
  readonly maxEndpointRate?: number;
  /** @default 0.3 */
  readonly crash?: number;
  /** @default 0.3 */
  readonly stop?: number;
  /** @default 0.3 */
  readonly dropStatusEvent?: number;
  /** Shares of faulty, slow and crashing versions (the rest are healthy). @default 0.15, 0.1, 0.1 */
  readonly faultyVersion?: number;
  readonly slowVersion?: number;
  readonly crashingVersion?: number;
  /** StopExecution falls in [0.3 s, this]: within a local release's few seconds. @default 7000 */
  readonly maxStopAfterMs?: number;
}

const DEFAULTS: Required<ChaosFractions> = {
  endpoint: 0.6,
  maxEndpointRate: 0.12,
  crash: 0.3,
  stop: 0.3,
  dropStatusEvent: 0.3,
  faultyVersion: 0.15,
  slowVersion: 0.1,
  crashingVersion: 0.1,
  maxStopAfterMs: 7000,
};

/** Thrown for a plan that cannot be made (bad release count, seed or fraction). */
export class ChaosPlanError extends Error {
  override readonly name = 'ChaosPlanError';
}

/**
 * The fault plan of `releases` releases from `seed`.
 *
 * @example
 * const plan = planChaos(7, 3);
 * plan.releases[0]; // { index: 1, image: 'colorapp:v2', version: 'healthy', endpoint: { rate: 0.07, services: ['ssm'] }, ... }
 */
export function planChaos(seed: number, releases: number, fractions: ChaosFractions = {}): ChaosPlan {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ChaosPlanError(`The seed must be an integer from 0 to 4294967295, got ${seed}`);
  if (!Number.isInteger(releases) || releases < 1 || releases > 10_000) throw new ChaosPlanError(`The number of releases must be an integer from 1 to 10000, got ${releases}`);
  const f = { ...DEFAULTS, ...fractions };
  for (const [name, value] of Object.entries(f)) {
    if (name === 'maxStopAfterMs') continue;
    if (!(value >= 0 && value <= 1)) throw new ChaosPlanError(`Fraction ${name} must be from 0 to 1, got ${value}`);
  }
  if (f.faultyVersion + f.slowVersion + f.crashingVersion > 1) throw new ChaosPlanError('The faulty, slow and crashing version shares add up to more than 1');
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const plans: ReleaseFaultPlan[] = [];
  for (let index = 1; index <= releases; index++) {
    // Every draw happens for every release, chosen or not, so one fraction changing does not shift the others' draws.
    const draws = { endpoint: random(), rate: random(), crash: random(), when: random(), stop: random(), stopAt: random(), drop: random(), version: random() };
    const services = CHAOS_SERVICES.filter(() => random() < 0.5);
    const handler = pick(CRASHABLE_HANDLERS);
    const v = draws.version;
    const version: VersionBehaviour =
      v < f.faultyVersion ? 'faulty' : v < f.faultyVersion + f.slowVersion ? 'slow' : v < f.faultyVersion + f.slowVersion + f.crashingVersion ? 'crash' : 'healthy';
    plans.push({
      index,
      image: `colorapp:v${index + 1}`,
      version,
      endpoint:
        draws.endpoint < f.endpoint
          ? { rate: round(0.02 + draws.rate * Math.max(0, f.maxEndpointRate - 0.02)), services: services.length > 0 ? services : [pick(CHAOS_SERVICES)] }
          : null,
      crash: draws.crash < f.crash ? { handler, when: draws.when < 0.5 ? 'before' : 'after' } : null,
      stopAfterMs: draws.stop < f.stop ? Math.round(300 + draws.stopAt * (f.maxStopAfterMs - 300)) : null,
      dropStatusEvent: draws.drop < f.dropStatusEvent,
    });
  }
  return { seed, releases: plans };
}

/**
 * The fault of one endpoint call, or null: drawn from the seed, the release, the call's service
 * and operation and its ordinal (the n-th call of that operation in the release), so it does not
 * depend on how concurrent calls interleave.
 */
export function endpointFaultOf(
  plan: ChaosPlan,
  release: ReleaseFaultPlan,
  call: { readonly service: ChaosService; readonly operation: string; readonly ordinal: number },
): EndpointFaultKind | null {
  if (!release.endpoint || !release.endpoint.services.includes(call.service)) return null;
  const random = mulberry32(hash32(`${plan.seed}/${release.index}/${call.service}/${call.operation}/${call.ordinal}`));
  if (random() >= release.endpoint.rate) return null;
  const r = random();
  // Throttling is what AWS does most; dropped connections least.
  return r < 0.4 ? 'throttle' : r < 0.55 ? 'internal-error' : r < 0.7 ? 'unavailable' : r < 0.9 ? 'slow' : r < 0.95 ? 'drop-before' : 'drop-after';
}

/** One line per release, for the log: what will go wrong. */
export function describeRelease(release: ReleaseFaultPlan): string {
  const parts = [`version ${release.version}`];
  if (release.endpoint) parts.push(`endpoint faults ${(release.endpoint.rate * 100).toFixed(0)}% on ${release.endpoint.services.join(',')}`);
  if (release.crash) parts.push(`${release.crash.handler} crashes ${release.crash.when} its work`);
  if (release.stopAfterMs !== null) parts.push(`StopExecution after ${release.stopAfterMs} ms`);
  if (release.dropStatusEvent) parts.push('status event dropped');
  return `release ${release.index} (${release.image}): ${parts.join('; ')}`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
