import type { Verdict } from '../documents';

/** The numbers a verdict is made from: traffic, failures, latency and alarms over one window. */
export type HealthEvidence = Verdict['evidence'];

/** What "healthy" means for one judgement. */
export type HealthThresholds = Verdict['thresholds'];

/** A verdict's outcome. */
export type HealthStatus = Verdict['status'];

/** The outcome of {@link judge}: a status and every reason that led to it. */
export interface Judgement {
  readonly status: HealthStatus;
  /** Human sentences, each naming the measured number and the threshold it was held against. */
  readonly reasons: string[];
}

/**
 * Judges one window of evidence against the thresholds. Every rule that fires adds a reason;
 * `unhealthy` outranks `inconclusive`, which outranks `healthy`.
 *
 * 1. Any alarm in ALARM: unhealthy.
 * 2. With fewer than `minRequests` requests:
 *    - so many 5xx that even if every request still missing up to `minRequests` succeeded the
 *      success rate would be below `minSuccessRate`: unhealthy (a clearly bad version fails
 *      fast, even with little traffic);
 *    - otherwise inconclusive: no data is never healthy. Success rate and latency are not judged,
 *      because over a handful of requests they are noise.
 * 3. With enough requests: success rate below `minSuccessRate`, or p99 above `maxP99LatencyMs`:
 *    unhealthy; an unknown success rate or p99: inconclusive.
 * 4. Otherwise healthy.
 *
 * @example
 * judge(
 *   { requests: 400, errors5xx: 12, successRate: 0.97, p99LatencyMs: 180, alarmsInAlarm: [] },
 *   { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
 * ); // { status: 'unhealthy', reasons: ['Success rate 97% ... below the minimum 99% ...'] }
 */
export function judge(evidence: HealthEvidence, thresholds: HealthThresholds): Judgement {
  const unhealthy: string[] = [];
  const inconclusive: string[] = [];
  let healthy: string | null = null;
  const { requests, errors5xx, successRate, p99LatencyMs, alarmsInAlarm } = evidence;
  const { minSuccessRate, maxP99LatencyMs, minRequests } = thresholds;

  for (const alarm of alarmsInAlarm) {
    unhealthy.push(`Alarm ${alarm} is in ALARM.`);
  }

  if (requests < minRequests) {
    // Only below minRequests: at or above it this is exactly "successRate < minSuccessRate",
    // and the same fact must not be reported twice.
    const allowedErrors = (1 - minSuccessRate) * minRequests;
    if (errors5xx > allowedErrors + TOLERANCE) {
      const bestCaseRate = 1 - errors5xx / minRequests;
      unhealthy.push(
        `${errors5xx} 5xx response${errors5xx === 1 ? '' : 's'} in only ${requests} requests: even if the next ` +
          `${minRequests - requests} requests all succeed, the success rate over ${minRequests} ` +
          `requests would be at most ${percent(bestCaseRate)}, below the minimum ${percent(minSuccessRate)}.`,
      );
    } else {
      inconclusive.push(
        `Only ${requests} requests in the window, fewer than the ${minRequests} needed to judge ` +
          'success rate and latency; no data is never healthy.',
      );
    }
  } else {
    if (successRate === null) {
      inconclusive.push(`Success rate is unknown although ${requests} requests were counted.`);
    } else if (successRate < minSuccessRate - TOLERANCE) {
      unhealthy.push(
        `Success rate ${percent(successRate)} (${errors5xx} 5xx in ${requests} requests) is below ` +
          `the minimum ${percent(minSuccessRate)}.`,
      );
    }
    if (p99LatencyMs === null) {
      inconclusive.push(`p99 latency is unknown (no latency data) although ${requests} requests were counted.`);
    } else if (p99LatencyMs > maxP99LatencyMs) {
      unhealthy.push(`p99 latency ${ms(p99LatencyMs)} is above the maximum ${ms(maxP99LatencyMs)}.`);
    }
    if (successRate !== null && p99LatencyMs !== null) {
      healthy =
        `Success rate ${percent(successRate)} (${errors5xx} 5xx in ${requests} requests) is at or above ` +
        `the minimum ${percent(minSuccessRate)}, p99 latency ${ms(p99LatencyMs)} is at or below ` +
        `the maximum ${ms(maxP99LatencyMs)}, and no alarm is in ALARM.`;
    }
  }

  if (unhealthy.length > 0) return { status: 'unhealthy', reasons: [...unhealthy, ...inconclusive] };
  if (inconclusive.length > 0 || healthy === null) return { status: 'inconclusive', reasons: inconclusive };
  return { status: 'healthy', reasons: [healthy] };
}

/**
 * Rates are floats: `(1 - 0.9) * 10` is `0.9999999999999998`, which would turn exactly one error
 * in ten requests into "below 90%". Far below any difference a threshold could mean.
 */
const TOLERANCE = 1e-9;

/** `0.98996` -> `98.996%`: enough digits that a rate just under a threshold never prints as equal to it. */
function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(3))}%`;
}

function ms(value: number): string {
  return `${Number(value.toFixed(1))} ms`;
}
