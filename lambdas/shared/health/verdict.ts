import type { Baseline, Comparison, Verdict } from '../documents';
import { compareErrorRates, compareLatencies, DETECTION_POWER, minRequestsToCompare, normalQuantile, requestsPerPeriod, wilsonInterval, type RelativeSettings } from './compare';

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
 * With relative judgement (`thresholds.relative` set) and a comparison with the live colour in
 * `evidence.comparison` (see {@link compareWithLive}), `minSuccessRate` is the disaster floor:
 * unhealthy when the success rate is shown below it at the confidence (the Wilson bound of the
 * error rate), at any request count; and:
 * - the new error rate shown worse than the live one beyond the tolerance: unhealthy, whatever
 *   the request count (the test already accounts for it);
 * - with at least `minRequests` requests, a p99 or p50 above ratio × live + allowance: unhealthy,
 *   for a statistic that stands on enough requests a period on both sides (see compareLatencies).
 * Without a comparison (no live figures), the caller passes the fixed `minSuccessRate` and the
 * reasons say the verdict was made on fixed thresholds only.
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
  const relative = evidence.comparison ? thresholds.relative : undefined;
  const minimum = relative ? 'floor' : 'minimum';
  // With relative judgement the floor, like the comparison, fails only what the data shows at the
  // confidence: at a 10% step of a service with 1.5% errors, 4 errors in 60 requests is noise.
  const shownBelowFloor =
    relative !== undefined &&
    requests > 0 &&
    wilsonInterval(Math.min(errors5xx, requests), requests, normalQuantile(relative.confidence)).lower > 1 - minSuccessRate + TOLERANCE;
  const floorReason = () =>
    `Success rate ${percent(successRate ?? 0)} (${errors5xx} 5xx in ${requests} requests) is below the floor ` +
    `${percent(minSuccessRate)} at ${percent(relative!.confidence)} confidence.`;

  for (const alarm of alarmsInAlarm) {
    unhealthy.push(`Alarm ${alarm} is in ALARM.`);
  }

  if (requests < minRequests) {
    // Only below minRequests: at or above it this is exactly "successRate < minSuccessRate",
    // and the same fact must not be reported twice.
    const allowedErrors = (1 - minSuccessRate) * minRequests;
    if (relative) {
      if (shownBelowFloor) unhealthy.push(floorReason());
      else {
        inconclusive.push(
          `Only ${requests} requests in the window, fewer than the ${minRequests} needed to judge ` +
            'success rate and latency; no data is never healthy.',
        );
      }
    } else if (errors5xx > allowedErrors + TOLERANCE) {
      const bestCaseRate = 1 - errors5xx / minRequests;
      unhealthy.push(
        `${errors5xx} 5xx response${errors5xx === 1 ? '' : 's'} in only ${requests} requests: even if the next ` +
          `${minRequests - requests} requests all succeed, the success rate over ${minRequests} ` +
          `requests would be at most ${percent(bestCaseRate)}, below the ${minimum} ${percent(minSuccessRate)}.`,
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
    } else if (relative) {
      if (shownBelowFloor) unhealthy.push(floorReason());
    } else if (successRate < minSuccessRate - TOLERANCE) {
      unhealthy.push(
        `Success rate ${percent(successRate)} (${errors5xx} 5xx in ${requests} requests) is below ` +
          `the ${minimum} ${percent(minSuccessRate)}.`,
      );
    }
    if (p99LatencyMs === null) {
      inconclusive.push(`p99 latency is unknown (no latency data) although ${requests} requests were counted.`);
    } else if (p99LatencyMs > maxP99LatencyMs) {
      unhealthy.push(`p99 latency ${ms(p99LatencyMs)} is above the maximum ${ms(maxP99LatencyMs)}.`);
    }
    if (successRate !== null && p99LatencyMs !== null) {
      healthy =
        `Success rate ${percent(successRate)} (${errors5xx} 5xx in ${requests} requests) is ` +
        `${relative ? 'not shown below' : 'at or above'} the ${minimum} ${percent(minSuccessRate)}, p99 latency ${ms(p99LatencyMs)} is at or below ` +
        `the maximum ${ms(maxP99LatencyMs)}, and no alarm is in ALARM.`;
    }
  }

  const notes: string[] = [];
  const comparison = evidence.comparison;
  if (thresholds.relative) {
    if (comparison) {
      if (comparison.errorsWorse) unhealthy.push(`${comparison.summary}: unhealthy.`);
      if (comparison.latencyWorse && requests >= minRequests) unhealthy.push(`${comparison.summary}: unhealthy.`);
      if (healthy !== null) healthy = `${comparison.summary}. ${healthy}`;
    } else {
      notes.push(
        'No live figures to compare with (the live colour served no requests in the window, and no earlier step ' +
          'measured it): judged on the fixed thresholds only.',
      );
    }
  }

  if (unhealthy.length > 0) return { status: 'unhealthy', reasons: [...new Set(unhealthy), ...inconclusive, ...notes] };
  if (inconclusive.length > 0 || healthy === null) return { status: 'inconclusive', reasons: [...inconclusive, ...notes] };
  return { status: 'healthy', reasons: [healthy, ...notes] };
}

/** What {@link compareWithLive} compares: the new colour's numbers over the window. */
export interface NewColourNumbers {
  readonly colour: string;
  readonly requests: number;
  readonly errors5xx: number;
  readonly p99LatencyMs: number | null;
  readonly p50LatencyMs: number | null;
  /** The window these numbers are over; with `periodSeconds`, it says how many requests each period's quantile stands on. */
  readonly window?: { readonly start: string; readonly end: string };
}

/**
 * The comparison of the new colour with the live colour's `baseline`, with the sentence the
 * verdict, the CLI and the reports print, or `null` when the baseline has no requests (nothing
 * to compare with) or the new colour has none (nothing to judge; the minimum-requests rule makes
 * that inconclusive).
 *
 * @example
 * compareWithLive({ colour: 'green', requests: 1200, errors5xx: 10, p99LatencyMs: 20, p50LatencyMs: 5 },
 *   { colour: 'blue', requests: 1200, errors5xx: 0, ..., from: 'same-window' }, settings).summary;
 * // 'green 0.83% errors vs blue 0% over 1,200 / 1,200 requests: worse beyond the 0.25 pp tolerance at 95% (...)'
 */
export function compareWithLive(newer: NewColourNumbers, baseline: Baseline, settings: RelativeSettings, periodSeconds?: number): Comparison | null {
  if (!(baseline.requests > 0) || !(newer.requests > 0)) return null;
  const errors = compareErrorRates(
    { requests: newer.requests, errors: newer.errors5xx },
    { requests: baseline.requests, errors: baseline.errors5xx },
    settings,
  );
  // The latencies compared are each side's worst period's: judged on the requests of a period.
  const perPeriod = (requests: number, window: { start: string; end: string } | undefined) =>
    periodSeconds !== undefined && window ? requestsPerPeriod(requests, window, periodSeconds) : requests;
  const latencies = compareLatencies(
    { ...newer, requestsPerPeriod: perPeriod(newer.requests, newer.window) },
    { ...baseline, requestsPerPeriod: perPeriod(baseline.requests, baseline.window) },
    settings,
  );
  const where = baseline.from === 'previous-step' ? " in the previous step's window (it has no traffic at this step)" : '';
  const verdictOnErrors = errors.worse
    ? `worse beyond the ${pp(settings.errorRateTolerance)} tolerance at ${percent(settings.confidence)} ` +
      `(lower bound ${signedPp(errors.lowerBound)})`
    : `not shown worse beyond the ${pp(settings.errorRateTolerance)} tolerance at ${percent(settings.confidence)} ` +
      `(lower bound ${signedPp(errors.lowerBound)}; ` +
      (errors.detectableDifference === null
        ? 'too few requests to detect any rise)'
        : `this window detects a rise of ${pp(errors.detectableDifference)} or more at ${percent(DETECTION_POWER)} power)`);
  const latency = latencies
    .map((c) =>
      c.judged
        ? `${c.stat} ${ms(c.newMs)} vs ${ms(c.liveMs)} ${c.worse ? 'above' : 'within'} the limit ${ms(c.limitMs)} ` +
          `(${settings.latencyRatio} × live + ${ms(settings.latencyAllowanceMs)})`
        : `${c.stat} ${ms(c.newMs)} vs ${ms(c.liveMs)} not compared (fewer than ${count(minRequestsToCompare(c.stat))} requests per period a side)`,
    )
    .join(', ');
  const summary =
    `${newer.colour} ${percent(errors.newRate)} errors vs ${baseline.colour} ${percent(errors.liveRate)}${where} ` +
    `over ${count(newer.requests)} / ${count(baseline.requests)} requests: ${verdictOnErrors}` +
    (latency ? `; latency ${latency}` : '');
  return {
    test: 'newcombe-hybrid-score',
    errorRateDifference: round(errors.difference),
    lowerBound: round(errors.lowerBound),
    errorsWorse: errors.worse,
    detectableDifference: errors.detectableDifference === null ? null : round(errors.detectableDifference),
    latencyWorse: latencies.some((c) => c.worse),
    summary,
  };
}

/** Shares kept to 6 significant digits: enough for any decision, short in the state document. */
function round(value: number): number {
  return Number(value.toPrecision(6));
}

/** `0.0025` -> `0.25 pp`. */
function pp(share: number): string {
  return `${Number((share * 100).toFixed(2))} pp`;
}

/** `-0.0153` -> `-1.53 pp`, `0.0043` -> `+0.43 pp`. */
function signedPp(share: number): string {
  return `${share > 0 ? '+' : ''}${pp(share)}`;
}

/** `1200` -> `1,200`. */
function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
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
