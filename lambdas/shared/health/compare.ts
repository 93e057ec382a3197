/**
 * The statistics of relative judgement: is the new colour worse than the live one, over the same
 * window? Pure functions, no I/O, so every case (zero errors on both sides, a live colour with
 * no traffic, tiny samples) has a table test.
 *
 * Errors: a one-sided test of H0 `p_new - p_live <= tolerance` against H1 `p_new - p_live >
 * tolerance`, decided by the lower confidence bound of the difference from Newcombe's hybrid
 * score method (Newcombe 1998, "Interval estimation for the difference between independent
 * proportions", Statistics in Medicine 17, method 10): the difference is shown worse than the
 * tolerance when that bound is above it. Chosen over the z-test because releases live at the
 * edges where the z-test is wrong: error rates near 0, often exactly 0 errors on one or both
 * sides, and small samples at a 10% step. The Wald variance of 0 errors is 0, so a z-test would
 * call one error in forty requests significant against a live colour with none; Wilson score
 * limits, which Newcombe combines, stay inside [0, 1] and keep their coverage with zero counts.
 */

/** Requests and failed requests of one colour over a window. */
export interface Counts {
  readonly requests: number;
  readonly errors: number;
}

/** Latencies of one colour over a window, milliseconds; `null` for no data. */
export interface Latencies {
  readonly p99LatencyMs: number | null;
  readonly p50LatencyMs: number | null;
}

/** The relative judgement settings (`health.relative` in the service configuration). */
export interface RelativeSettings {
  /** How much higher (a share, 0.0025 = 0.25 percentage points) the new error rate may be. */
  readonly errorRateTolerance: number;
  /** Confidence of the one-sided test, e.g. 0.95. */
  readonly confidence: number;
  /** The new colour's p99 and p50 may be this many times the live colour's ... */
  readonly latencyRatio: number;
  /** ... plus this many milliseconds. */
  readonly latencyAllowanceMs: number;
}

/** The power at which the detectable regression is reported: the convention for sample sizing. */
export const DETECTION_POWER = 0.8;

/**
 * The standard normal quantile (inverse CDF), by Acklam's rational approximation: relative error
 * below 1.2e-9 over (0, 1), far below what a confidence setting means.
 *
 * @example
 * normalQuantile(0.95); // 1.6448536...
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/** The standard normal CDF (erfc by the Numerical Recipes Chebyshev fit, error below 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * The Wilson score interval of `errors / requests` at normal quantile `z` (each limit one-sided
 * at the level `z` stands for). Inside [0, 1] even for 0 or `requests` errors.
 *
 * @throws RangeError for no requests or impossible counts: there is no rate to bound.
 */
export function wilsonInterval(errors: number, requests: number, z: number): { lower: number; upper: number } {
  if (!(requests > 0) || errors < 0 || errors > requests) {
    throw new RangeError(`wilsonInterval: need 0 <= errors <= requests and requests > 0, got ${errors}/${requests}`);
  }
  const p = errors / requests;
  const z2 = z * z;
  const denominator = 1 + z2 / requests;
  const centre = (p + z2 / (2 * requests)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / requests + z2 / (4 * requests * requests));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/**
 * The one-sided lower confidence bound of `rate(new) - rate(live)` at `confidence`, by Newcombe's
 * hybrid score method: `d - sqrt((p_new - l_new)^2 + (u_live - p_live)^2)` with Wilson limits.
 *
 * @example
 * differenceLowerBound({ errors: 10, requests: 1200 }, { errors: 0, requests: 1200 }, 0.95); // ≈ 0.0043
 */
export function differenceLowerBound(newer: Counts, live: Counts, confidence: number): number {
  const z = normalQuantile(confidence);
  const pNew = newer.errors / newer.requests;
  const pLive = live.errors / live.requests;
  const { lower } = wilsonInterval(newer.errors, newer.requests, z);
  const { upper } = wilsonInterval(live.errors, live.requests, z);
  return pNew - pLive - Math.sqrt((pNew - lower) ** 2 + (upper - pLive) ** 2);
}

/** P(X >= k) for X ~ Binomial(n, p): exact (log-space sum) for small variance, normal with continuity correction above. */
export function binomialTailAtLeast(n: number, p: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const variance = n * p * (1 - p);
  if (variance >= 400) return 1 - normalCdf((k - 0.5 - n * p) / Math.sqrt(variance));
  // P(X <= k-1), term by term: log pmf(j+1) = log pmf(j) + log((n-j)/(j+1)) + log(p/(1-p)).
  let logPmf = n * Math.log1p(-p);
  const logOdds = Math.log(p) - Math.log1p(-p);
  let cdf = 0;
  for (let j = 0; j < k; j++) {
    cdf += Math.exp(logPmf);
    logPmf += Math.log((n - j) / (j + 1)) + logOdds;
  }
  return Math.max(0, Math.min(1, 1 - cdf));
}

/** The outcome of {@link compareErrorRates}. */
export interface ErrorComparison {
  /** The new colour's error rate. */
  readonly newRate: number;
  /** The live colour's error rate. */
  readonly liveRate: number;
  /** `newRate - liveRate`. */
  readonly difference: number;
  /** The one-sided lower confidence bound of the difference. */
  readonly lowerBound: number;
  /** The lower bound is above the tolerance: the new colour is worse beyond it. */
  readonly worse: boolean;
  /**
   * The smallest rise of the error rate over the live colour's that this window's sample sizes
   * would show worse in {@link DETECTION_POWER} of bakes, or `null` when none could be: even
   * every request of the new colour failing would not be shown (too few requests).
   */
  readonly detectableDifference: number | null;
}

/**
 * Compares the error rates of two colours over one window (the module comment says how).
 * Needs requests on both sides: with none on one side there is nothing to compare, and the
 * caller judges on the fixed thresholds instead.
 *
 * @throws RangeError when either side has no requests.
 *
 * @example
 * compareErrorRates({ requests: 1200, errors: 10 }, { requests: 1200, errors: 0 }, { errorRateTolerance: 0.0025, confidence: 0.95 });
 * // { newRate: 0.0083, liveRate: 0, difference: 0.0083, lowerBound: 0.0043, worse: true, detectableDifference: 0.0087 }
 */
export function compareErrorRates(
  newer: Counts,
  live: Counts,
  settings: Pick<RelativeSettings, 'errorRateTolerance' | 'confidence'>,
): ErrorComparison {
  const n = clampCounts(newer);
  const l = clampCounts(live);
  const { errorRateTolerance: tolerance, confidence } = settings;
  const lowerBound = differenceLowerBound(n, l, confidence);
  const newRate = n.errors / n.requests;
  const liveRate = l.errors / l.requests;
  return {
    newRate,
    liveRate,
    difference: newRate - liveRate,
    lowerBound,
    worse: lowerBound > tolerance + EPSILON,
    detectableDifference: detectableDifference(n.requests, l, tolerance, confidence),
  };
}

/**
 * The smallest rise over the live colour's observed rate that `newRequests` requests would show
 * worse than `tolerance` with probability {@link DETECTION_POWER}, the live counts as observed:
 * the critical error count (the fewest errors the test calls worse; the bound grows with it) by
 * bisection, then the error rate at which the binomial reaches it with that power.
 */
export function detectableDifference(newRequests: number, live: Counts, tolerance: number, confidence: number): number | null {
  const worseAt = (errors: number) => differenceLowerBound({ errors, requests: newRequests }, live, confidence) > tolerance + EPSILON;
  if (!worseAt(newRequests)) return null;
  let lo = 0;
  let hi = newRequests;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (worseAt(mid)) hi = mid;
    else lo = mid + 1;
  }
  const critical = lo;
  let pLo = 0;
  let pHi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (pLo + pHi) / 2;
    if (binomialTailAtLeast(newRequests, mid, critical) >= DETECTION_POWER) pHi = mid;
    else pLo = mid;
  }
  return Math.max(0, pHi - live.errors / live.requests);
}

/** One latency statistic compared. */
export interface LatencyCheck {
  readonly stat: 'p99' | 'p50';
  readonly newMs: number;
  readonly liveMs: number;
  /** `latencyRatio * liveMs + latencyAllowanceMs`. */
  readonly limitMs: number;
  /**
   * False when either side has too few requests for this statistic to mean anything
   * ({@link MIN_REQUESTS_BEYOND_QUANTILE}); such a statistic is never `worse`.
   */
  readonly judged: boolean;
  readonly worse: boolean;
}

/**
 * A quantile is compared only when at least this many requests of each side lie beyond it: a p99
 * needs 1,000 requests, a p50 20, in each metric period (the statistic compared is the worst
 * period's). Below that the p99 is one or two requests (of 172, the second slowest), so a single
 * stall, a garbage collection or a busy host decides it, and a healthy release is rolled back.
 * Such a step is still held to the fixed maximum p99 and to the p50 comparison, which a
 * uniformly slower version fails.
 */
export const MIN_REQUESTS_BEYOND_QUANTILE = 10;

const QUANTILE = { p99: 0.99, p50: 0.5 } as const;

/** The fewest requests per metric period a side needs for `stat` to be compared. */
export function minRequestsToCompare(stat: 'p99' | 'p50'): number {
  return Math.ceil(MIN_REQUESTS_BEYOND_QUANTILE / (1 - QUANTILE[stat]) - 1e-9);
}

/**
 * Compares p99 and p50: the new colour is worse when a statistic is above `latencyRatio` times
 * the live colour's plus `latencyAllowanceMs` (the allowance keeps a fast service's jitter, 2 ms
 * against 1 ms, from counting as a doubling). A statistic unknown on either side is not compared;
 * one of a side with fewer than {@link minRequestsToCompare} requests per period is reported, not
 * judged. `requestsPerPeriod` is what each period's quantile stands on: a side's requests over
 * the window divided by its periods ({@link requestsPerPeriod}).
 *
 * @example
 * compareLatencies({ p99LatencyMs: 80, p50LatencyMs: 30, requestsPerPeriod: 2000 }, { p99LatencyMs: 40, p50LatencyMs: 20, requestsPerPeriod: 2000 },
 *   { latencyRatio: 1.5, latencyAllowanceMs: 10 }); // p99 80 > 70: worse
 */
export function compareLatencies(
  newer: Latencies & { readonly requestsPerPeriod: number },
  live: Latencies & { readonly requestsPerPeriod: number },
  settings: Pick<RelativeSettings, 'latencyRatio' | 'latencyAllowanceMs'>,
): LatencyCheck[] {
  const checks: LatencyCheck[] = [];
  for (const [stat, newMs, liveMs] of [
    ['p99', newer.p99LatencyMs, live.p99LatencyMs],
    ['p50', newer.p50LatencyMs, live.p50LatencyMs],
  ] as const) {
    if (newMs === null || liveMs === null) continue;
    const limitMs = settings.latencyRatio * liveMs + settings.latencyAllowanceMs;
    const judged = Math.min(newer.requestsPerPeriod, live.requestsPerPeriod) >= minRequestsToCompare(stat);
    checks.push({ stat, newMs, liveMs, limitMs, judged, worse: judged && newMs > limitMs + EPSILON });
  }
  return checks;
}

/**
 * A side's requests per metric period on average over `window`: the sample each period's
 * quantile stands on (traffic is steady within a bake). A window shorter than a period is one.
 */
export function requestsPerPeriod(requests: number, window: { readonly start: string; readonly end: string }, periodSeconds: number): number {
  const spanMs = Date.parse(window.end) - Date.parse(window.start);
  const periods = Number.isFinite(spanMs) && spanMs > 0 ? Math.ceil(spanMs / (periodSeconds * 1000) - 1e-9) : 1;
  return requests / Math.max(1, periods);
}

/** Counts as a source reports them, made valid: errors within [0, requests] (the load balancer's connection errors can exceed requests). */
function clampCounts(counts: Counts): Counts {
  if (!(counts.requests > 0)) throw new RangeError(`compareErrorRates: no requests to compare (${counts.requests})`);
  return { requests: counts.requests, errors: Math.min(Math.max(0, counts.errors), counts.requests) };
}

/** Floats: a bound equal to the tolerance is not "beyond" it. */
const EPSILON = 1e-12;
