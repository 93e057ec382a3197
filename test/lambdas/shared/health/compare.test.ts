import { RelativeHealthSchema } from '../../../../lambdas/shared/config';
import {
  binomialTailAtLeast,
  compareErrorRates,
  compareLatencies,
  minRequestsToCompare,
  requestsPerPeriod,
  differenceLowerBound,
  normalQuantile,
  wilsonInterval,
} from '../../../../lambdas/shared/health/compare';
import { rollbackRate } from '../../../support/release-simulation';

const defaults = { errorRateTolerance: 0.001, confidence: 0.99 };

describe('normalQuantile', () => {
  it.each([
    [0.5, 0],
    [0.95, 1.6448536],
    [0.975, 1.959964],
    [0.99, 2.3263479],
    [0.001, -3.0902323],
  ])('Φ⁻¹(%p) = %p', (p, z) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 6);
  });
});

describe('wilsonInterval', () => {
  it.each([
    // errors, requests, z, lower, upper: the published Wilson limits (Newcombe 1998, table I, 95% two-sided)
    [81, 263, 1.959964, 0.2553, 0.3662],
    [15, 148, 1.959964, 0.0624, 0.1605],
    [0, 20, 1.959964, 0, 0.1611],
    [1, 29, 1.959964, 0.0061, 0.1718],
  ])('%p / %p at z %p is [%p, %p]', (errors, requests, z, lower, upper) => {
    const interval = wilsonInterval(errors, requests, z);
    expect(interval.lower).toBeCloseTo(lower, 4);
    expect(interval.upper).toBeCloseTo(upper, 4);
  });

  it('refuses no requests: there is no rate to bound', () => {
    expect(() => wilsonInterval(0, 0, 1.96)).toThrow(RangeError);
  });
});

describe('differenceLowerBound (Newcombe hybrid score)', () => {
  it.each([
    // Newcombe 1998, table II, method 10, 95% two-sided = 97.5% one-sided lower limit.
    [56, 70, 48, 80, 0.0524],
    [9, 10, 3, 10, 0.1705],
    [0, 10, 0, 20, -0.1611],
  ])('%p/%p vs %p/%p has the published lower limit %p', (e1, n1, e2, n2, lower) => {
    expect(differenceLowerBound({ errors: e1, requests: n1 }, { errors: e2, requests: n2 }, 0.975)).toBeCloseTo(lower, 4);
  });
});

describe('compareErrorRates', () => {
  const cases: { behaviour: string; newer: [number, number]; live: [number, number]; worse: boolean; detectable: 'null' | 'some' }[] = [
    { behaviour: 'zero errors on both sides is never worse', newer: [0, 1200], live: [0, 1200], worse: false, detectable: 'some' },
    { behaviour: 'a regression from 0% to 0.83% over 2,400 / 1,200 requests is worse', newer: [20, 2400], live: [0, 1200], worse: true, detectable: 'some' },
    { behaviour: 'the same 1.5% on both sides is not worse', newer: [9, 600], live: [81, 5400], worse: false, detectable: 'some' },
    { behaviour: 'one error in a tiny sample is not worse than none', newer: [1, 10], live: [0, 90], worse: false, detectable: 'some' },
    { behaviour: 'a tiny sample that cannot show anything says so (no detectable rise)', newer: [0, 1], live: [0, 1], worse: false, detectable: 'null' },
    { behaviour: 'a clear disaster is worse even on few requests', newer: [20, 40], live: [0, 360], worse: true, detectable: 'some' },
    { behaviour: 'errors counted above the requests (connection errors) are clamped, not a negative rate', newer: [12, 10], live: [0, 90], worse: true, detectable: 'some' },
  ];
  it.each(cases)('$behaviour', ({ newer, live, worse, detectable }) => {
    const result = compareErrorRates({ errors: newer[0], requests: newer[1] }, { errors: live[0], requests: live[1] }, defaults);
    expect(result.worse).toBe(worse);
    if (detectable === 'null') expect(result.detectableDifference).toBeNull();
    else expect(result.detectableDifference).toBeGreaterThan(defaults.errorRateTolerance);
  });

  it('refuses a live colour with no traffic: there is nothing to compare with', () => {
    expect(() => compareErrorRates({ errors: 0, requests: 100 }, { errors: 0, requests: 0 }, defaults)).toThrow(RangeError);
  });

  it('reports a detectable rise that shrinks as the sample grows', () => {
    const small = compareErrorRates({ errors: 0, requests: 600 }, { errors: 0, requests: 600 }, defaults).detectableDifference!;
    const large = compareErrorRates({ errors: 0, requests: 60_000 }, { errors: 0, requests: 60_000 }, defaults).detectableDifference!;
    expect(large).toBeLessThan(small);
    expect(large).toBeGreaterThan(defaults.errorRateTolerance);
  });

  it('detects the reported rise in about 80% of bakes (its definition)', () => {
    const detectable = compareErrorRates({ errors: 0, requests: 2000 }, { errors: 0, requests: 2000 }, defaults).detectableDifference!;
    // Exact binomial: the share of draws at that rate the test calls worse.
    let power = 0;
    for (let k = 0; k <= 2000; k++) {
      const pk = binomialTailAtLeast(2000, detectable, k) - binomialTailAtLeast(2000, detectable, k + 1);
      if (compareErrorRates({ errors: k, requests: 2000 }, { errors: 0, requests: 2000 }, defaults).worse) power += pk;
      if (pk < 1e-12 && k > 2000 * detectable) break;
    }
    expect(power).toBeGreaterThan(0.79);
    expect(power).toBeLessThan(0.85);
  });
});

describe('binomialTailAtLeast', () => {
  it.each([
    [10, 0.5, 0, 1],
    [10, 0.5, 11, 0],
    [10, 0.5, 10, 1 / 1024],
    [3, 0.2, 1, 1 - 0.8 ** 3],
  ])('P(Bin(%p, %p) >= %p) = %p', (n, p, k, expected) => {
    expect(binomialTailAtLeast(n, p, k)).toBeCloseTo(expected, 9);
  });
});

describe('compareLatencies', () => {
  const settings = { latencyRatio: 1.5, latencyAllowanceMs: 10 };
  const side = ([p99, p50]: number[], requestsPerPeriod = 1000) => ({ p99LatencyMs: p99, p50LatencyMs: p50, requestsPerPeriod });
  it.each([
    { behaviour: 'a doubling from 40 to 80 ms is worse (limit 70 ms)', newer: [80, 30], live: [40, 20], worse: [true, false] },
    { behaviour: 'jitter of a fast service is within the allowance', newer: [3, 2], live: [1, 1], worse: [false, false] },
    { behaviour: 'a median that rose is worse even with the p99 alike', newer: [100, 60], live: [100, 20], worse: [false, true] },
  ])('$behaviour', ({ newer, live, worse }) => {
    const checks = compareLatencies(side(newer), side(live), settings);
    expect(checks.map((c) => [c.judged, c.worse])).toEqual(worse.map((w) => [true, w]));
  });

  it('compares nothing it does not know on both sides', () => {
    expect(compareLatencies({ p99LatencyMs: 80, p50LatencyMs: null, requestsPerPeriod: 5000 }, { p99LatencyMs: null, p50LatencyMs: 5, requestsPerPeriod: 5000 }, settings)).toEqual([]);
  });

  it('needs ten requests beyond a quantile on each side in a period: 1,000 for the p99, 20 for the p50', () => {
    expect([minRequestsToCompare('p99'), minRequestsToCompare('p50')]).toEqual([1000, 20]);
  });

  it.each([
    // 3,000 requests over a 10-minute window of 10 s periods: each period's p99 stands on 50.
    { window: ['2026-12-03T10:00:00Z', '2026-12-03T10:10:00Z'], periodSeconds: 10, requests: 3000, perPeriod: 50 },
    { window: ['2026-12-03T10:00:00Z', '2026-12-03T10:00:05Z'], periodSeconds: 10, requests: 40, perPeriod: 40 },
    { window: ['2026-12-03T10:00:00Z', '2026-12-03T10:00:25Z'], periodSeconds: 10, requests: 300, perPeriod: 100 },
  ])('counts $requests requests over $window at $periodSeconds s periods as $perPeriod a period', ({ window, periodSeconds, requests, perPeriod }) => {
    expect(requestsPerPeriod(requests, { start: window[0], end: window[1] }, periodSeconds)).toBe(perPeriod);
  });

  it.each([
    // The false rollback this rule prevents: a 100% step of 172 requests on a busy host, whose
    // p99 (its second slowest request) was 309 ms against 71 ms for live in the previous step.
    { behaviour: 'a p99 over 172 requests is reported, not judged; the p50 still is', newer: 172, live: 124, p99: [false, false], p50: [true, false] },
    { behaviour: 'one side under 1,000 is enough to leave the p99 unjudged', newer: 5000, live: 999, p99: [false, false], p50: [true, false] },
    { behaviour: 'at 1,000 requests a side the p99 is judged', newer: 1000, live: 1000, p99: [true, true], p50: [true, false] },
  ])('$behaviour', ({ newer, live, p99, p50 }) => {
    const checks = compareLatencies(side([309, 30], newer), side([71, 20], live), settings);
    expect(checks.map((c) => [c.stat, c.judged, c.worse])).toEqual([['p99', ...p99], ['p50', ...p50]]);
  });

  it('still judges a uniformly slower version on its median at a small step', () => {
    const [, p50] = compareLatencies(side([400, 300], 60), side([80, 40], 500), settings);
    expect(p50).toMatchObject({ judged: true, worse: true, limitMs: 70 });
  });
});

describe('the default decision rule over whole releases (seeded simulation)', () => {
  const relative = RelativeHealthSchema.parse({});
  // 300 simulated releases each: a second or two, and the rates' standard error about 1 point.
  it.each([
    { name: 'npm start, both at 1.5% errors', liveErrorRate: 0.015, newErrorRate: 0.015, rps: 100, steps: [10, 50, 100], max: 0.04 },
    { name: 'npm start, both at 0%', liveErrorRate: 0, newErrorRate: 0, rps: 100, steps: [10, 50, 100], max: 0 },
    { name: '400 rps canary 50/100, both at 1.5%', liveErrorRate: 0.015, newErrorRate: 0.015, rps: 400, steps: [50, 100], max: 0.04, runs: 100 },
  ])('rarely rolls back a release as good as live: $name', ({ liveErrorRate, newErrorRate, rps, steps, max, runs }) => {
    expect(rollbackRate({ steps, requestsPerSecond: rps, bakeSeconds: 6, liveErrorRate, newErrorRate, relative }, runs ?? 300, 7)).toBeLessThanOrEqual(max);
  });

  it('rolls back a regression from 0% to 0.8% at 400 rps (npm start -- --fault-rate 0.008 --rps 400)', () => {
    expect(
      rollbackRate({ steps: [10, 50, 100], requestsPerSecond: 400, bakeSeconds: 6, liveErrorRate: 0, newErrorRate: 0.008, relative }, 150, 11),
    ).toBeGreaterThanOrEqual(0.94);
  });
});
