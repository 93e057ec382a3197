// A seeded simulation of the relative health verdict over whole canary releases: binomial draws
// of each colour's requests and errors per bake, judged by the real rules (`compareWithLive` and
// `judge`). Pure and fast, so the false-rollback rate of the defaults is a unit test, not a
// guess; `npm run bench` checks the same with real releases in the local world.
import { RelativeHealthSchema, type RelativeHealthConfig } from '../../lambdas/shared/config';
import type { Baseline } from '../../lambdas/shared/documents';
import { compareWithLive, judge } from '../../lambdas/shared/health/verdict';
import { mulberry32 } from '../../local/chaos/plan';

/** mulberry32, the chaos suite's seeded PRNG, uniform in [0, 1). */
export const seededRandom = mulberry32;

/** A Binomial(n, p) draw, one Bernoulli trial per request (n is a few thousand here). */
export function binomial(random: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}

/** One simulated scenario. */
export interface Scenario {
  /** Idle-colour weights per step, ending at 100. */
  readonly steps: readonly number[];
  /** Requests per second through the service, and the bake of each step. */
  readonly requestsPerSecond: number;
  readonly bakeSeconds: number;
  /** Error rates of the live and the new version. */
  readonly liveErrorRate: number;
  readonly newErrorRate: number;
  readonly relative?: RelativeHealthConfig;
  readonly minRequests?: number;
  readonly maxInconclusiveBakes?: number;
}

/** How a simulated release ended. */
export type SimulatedOutcome = 'promoted' | 'rolled-back';

/** One release of `scenario`, every step judged as CheckHealth judges it (alarms aside). */
export function simulateRelease(scenario: Scenario, random: () => number): SimulatedOutcome {
  const relative = scenario.relative ?? RelativeHealthSchema.parse({});
  const minRequests = scenario.minRequests ?? 50;
  const window = { start: '', end: '' };
  let previous: Baseline | undefined;
  for (const weight of scenario.steps) {
    let attempt = 0;
    for (;;) {
      const total = scenario.requestsPerSecond * scenario.bakeSeconds;
      const newRequests = binomial(random, total, weight / 100);
      const liveRequests = total - newRequests;
      const newErrors = binomial(random, newRequests, scenario.newErrorRate);
      const liveErrors = binomial(random, liveRequests, scenario.liveErrorRate);
      const same: Baseline | undefined =
        weight < 100
          ? { colour: 'blue', requests: liveRequests, errors5xx: liveErrors, successRate: null, p99LatencyMs: null, p50LatencyMs: null, from: 'same-window', window }
          : undefined;
      const baseline = same ?? (previous && { ...previous, from: 'previous-step' as const });
      const comparison = baseline
        ? compareWithLive({ colour: 'green', requests: newRequests, errors5xx: newErrors, p99LatencyMs: null, p50LatencyMs: null }, baseline, relative)
        : null;
      const { status } = judge(
        {
          requests: newRequests,
          errors5xx: newErrors,
          successRate: newRequests > 0 ? 1 - newErrors / newRequests : null,
          p99LatencyMs: 10,
          alarmsInAlarm: [],
          ...(comparison ? { comparison } : {}),
        },
        { minSuccessRate: comparison ? relative.floorSuccessRate : 0.99, maxP99LatencyMs: 1000, minRequests, relative },
      );
      if (status === 'unhealthy') return 'rolled-back';
      if (status === 'healthy') {
        if (same) previous = same;
        break;
      }
      attempt += 1;
      if (attempt > (scenario.maxInconclusiveBakes ?? 2)) return 'rolled-back';
    }
  }
  return 'promoted';
}

/** The share of `runs` seeded releases of `scenario` that roll back. */
export function rollbackRate(scenario: Scenario, runs: number, seed = 1): number {
  const random = seededRandom(seed);
  let rolledBack = 0;
  for (let i = 0; i < runs; i++) if (simulateRelease(scenario, random) === 'rolled-back') rolledBack++;
  return rolledBack / runs;
}
