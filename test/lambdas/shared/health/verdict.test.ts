import type { Baseline } from '../../../../lambdas/shared/documents';
import { compareWithLive, judge, type HealthEvidence, type HealthThresholds } from '../../../../lambdas/shared/health/verdict';

const thresholds: HealthThresholds = { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 };

function evidence(overrides: Partial<HealthEvidence>): HealthEvidence {
  return { requests: 1000, errors5xx: 0, successRate: 1, p99LatencyMs: 200, alarmsInAlarm: [], ...overrides };
}

describe('judge', () => {
  const cases: {
    behaviour: string;
    evidence: HealthEvidence;
    thresholds?: HealthThresholds;
    status: 'healthy' | 'unhealthy' | 'inconclusive';
    reasons: string[];
  }[] = [
    {
      behaviour: 'is healthy when traffic is enough, errors and latency are within limits and no alarm fires',
      evidence: evidence({ requests: 1000, errors5xx: 5, successRate: 0.995, p99LatencyMs: 200 }),
      status: 'healthy',
      reasons: [
        'Success rate 99.5% (5 5xx in 1000 requests) is at or above the minimum 99%, p99 latency 200 ms ' +
          'is at or below the maximum 1000 ms, and no alarm is in ALARM.',
      ],
    },
    {
      behaviour: 'is unhealthy when an alarm is in ALARM even if the numbers are good',
      evidence: evidence({ alarmsInAlarm: ['colorapp-green-5xx'] }),
      status: 'unhealthy',
      reasons: ['Alarm colorapp-green-5xx is in ALARM.'],
    },
    {
      behaviour: 'names every alarm in ALARM',
      evidence: evidence({ alarmsInAlarm: ['a', 'b'] }),
      status: 'unhealthy',
      reasons: ['Alarm a is in ALARM.', 'Alarm b is in ALARM.'],
    },
    {
      behaviour: 'fails fast when 5xx with little traffic already make the threshold unreachable',
      evidence: evidence({ requests: 10, errors5xx: 1, successRate: 0.9, p99LatencyMs: 20 }),
      status: 'unhealthy',
      reasons: [
        '1 5xx response in only 10 requests: even if the next 40 requests all succeed, the success rate ' +
          'over 50 requests would be at most 98%, below the minimum 99%.',
      ],
    },
    {
      behaviour: 'is inconclusive, never healthy, with fewer requests than the minimum and no errors',
      evidence: evidence({ requests: 49, errors5xx: 0, successRate: 1, p99LatencyMs: 20 }),
      status: 'inconclusive',
      reasons: [
        'Only 49 requests in the window, fewer than the 50 needed to judge success rate and latency; ' +
          'no data is never healthy.',
      ],
    },
    {
      behaviour: 'is inconclusive with no data at all',
      evidence: evidence({ requests: 0, errors5xx: 0, successRate: null, p99LatencyMs: null }),
      status: 'inconclusive',
      reasons: [
        'Only 0 requests in the window, fewer than the 50 needed to judge success rate and latency; ' +
          'no data is never healthy.',
      ],
    },
    {
      behaviour: 'does not fail fast when the remaining requests could still reach the threshold exactly',
      // 1 error in 10 requests is exactly 90%: (1 - 0.9) * 10 is 0.9999999999999998 in floats.
      evidence: evidence({ requests: 5, errors5xx: 1, successRate: 0.8, p99LatencyMs: 20 }),
      thresholds: { minSuccessRate: 0.9, maxP99LatencyMs: 1000, minRequests: 10 },
      status: 'inconclusive',
      reasons: [
        'Only 5 requests in the window, fewer than the 10 needed to judge success rate and latency; ' +
          'no data is never healthy.',
      ],
    },
    {
      behaviour: 'fails fast one error past that boundary',
      evidence: evidence({ requests: 5, errors5xx: 2, successRate: 0.6, p99LatencyMs: 20 }),
      thresholds: { minSuccessRate: 0.9, maxP99LatencyMs: 1000, minRequests: 10 },
      status: 'unhealthy',
      reasons: [
        '2 5xx responses in only 5 requests: even if the next 5 requests all succeed, the success rate ' +
          'over 10 requests would be at most 80%, below the minimum 90%.',
      ],
    },
    {
      behaviour: 'does not judge latency over too few requests',
      evidence: evidence({ requests: 3, errors5xx: 0, successRate: 1, p99LatencyMs: 5000 }),
      status: 'inconclusive',
      reasons: [
        'Only 3 requests in the window, fewer than the 50 needed to judge success rate and latency; ' +
          'no data is never healthy.',
      ],
    },
    {
      behaviour: 'judges a window with exactly the minimum number of requests',
      evidence: evidence({ requests: 50, errors5xx: 0, successRate: 1, p99LatencyMs: 100 }),
      status: 'healthy',
      reasons: [
        'Success rate 100% (0 5xx in 50 requests) is at or above the minimum 99%, p99 latency 100 ms ' +
          'is at or below the maximum 1000 ms, and no alarm is in ALARM.',
      ],
    },
    {
      behaviour: 'is unhealthy when the success rate is below the minimum',
      evidence: evidence({ requests: 200, errors5xx: 4, successRate: 0.98 }),
      status: 'unhealthy',
      reasons: ['Success rate 98% (4 5xx in 200 requests) is below the minimum 99%.'],
    },
    {
      behaviour: 'prints a rate just under the threshold with enough digits to differ from it',
      evidence: evidence({ requests: 1000, errors5xx: 11, successRate: 0.989 }),
      status: 'unhealthy',
      reasons: ['Success rate 98.9% (11 5xx in 1000 requests) is below the minimum 99%.'],
    },
    {
      behaviour: 'is healthy at exactly the minimum success rate',
      evidence: evidence({ requests: 100, errors5xx: 1, successRate: 1 - 1 / 100 }),
      status: 'healthy',
      reasons: [
        'Success rate 99% (1 5xx in 100 requests) is at or above the minimum 99%, p99 latency 200 ms ' +
          'is at or below the maximum 1000 ms, and no alarm is in ALARM.',
      ],
    },
    {
      behaviour: 'is unhealthy when p99 latency is above the maximum',
      evidence: evidence({ p99LatencyMs: 1500.25 }),
      status: 'unhealthy',
      reasons: ['p99 latency 1500.3 ms is above the maximum 1000 ms.'],
    },
    {
      behaviour: 'is healthy at exactly the maximum p99 latency',
      evidence: evidence({ p99LatencyMs: 1000 }),
      status: 'healthy',
      reasons: [
        'Success rate 100% (0 5xx in 1000 requests) is at or above the minimum 99%, p99 latency 1000 ms ' +
          'is at or below the maximum 1000 ms, and no alarm is in ALARM.',
      ],
    },
    {
      behaviour: 'is inconclusive when latency is unknown despite enough requests',
      evidence: evidence({ p99LatencyMs: null }),
      status: 'inconclusive',
      reasons: ['p99 latency is unknown (no latency data) although 1000 requests were counted.'],
    },
    {
      behaviour: 'is inconclusive when the success rate is unknown despite enough requests',
      evidence: evidence({ successRate: null }),
      status: 'inconclusive',
      reasons: ['Success rate is unknown although 1000 requests were counted.'],
    },
    {
      behaviour: 'collects every reason when several rules fire',
      evidence: evidence({ errors5xx: 50, successRate: 0.95, p99LatencyMs: 2000, alarmsInAlarm: ['a'] }),
      status: 'unhealthy',
      reasons: [
        'Alarm a is in ALARM.',
        'Success rate 95% (50 5xx in 1000 requests) is below the minimum 99%.',
        'p99 latency 2000 ms is above the maximum 1000 ms.',
      ],
    },
    {
      behaviour: 'stays unhealthy, with both reasons, when an alarm fires during a window with too little traffic',
      evidence: evidence({ requests: 2, errors5xx: 0, successRate: 1, alarmsInAlarm: ['a'] }),
      status: 'unhealthy',
      reasons: [
        'Alarm a is in ALARM.',
        'Only 2 requests in the window, fewer than the 50 needed to judge success rate and latency; ' +
          'no data is never healthy.',
      ],
    },
    {
      behaviour: 'is unhealthy but also reports unknown latency when the success rate is too low',
      evidence: evidence({ errors5xx: 100, successRate: 0.9, p99LatencyMs: null }),
      status: 'unhealthy',
      reasons: [
        'Success rate 90% (100 5xx in 1000 requests) is below the minimum 99%.',
        'p99 latency is unknown (no latency data) although 1000 requests were counted.',
      ],
    },
  ];

  it.each(cases)('$behaviour', (c) => {
    expect(judge(c.evidence, c.thresholds ?? thresholds)).toEqual({ status: c.status, reasons: c.reasons });
  });

  /**
   * `1 - 7 / 100` is `0.9299999999999999` in floating point: without the tolerance, exactly the
   * allowed 7 errors in 100 requests against a 93 % minimum would roll a healthy release back.
   * The rate is computed here as the health check computes it.
   */
  describe('at exactly the minimum success rate, despite floating point', () => {
    const atMinimum: HealthThresholds = { minSuccessRate: 0.93, maxP99LatencyMs: 1000, minRequests: 100 };
    const rateOf = (errors: number, requests: number) => 1 - errors / requests;

    it('is healthy with 7 errors in 100 requests against 93 %', () => {
      expect(rateOf(7, 100)).toBeLessThan(0.93); // the float trap this guards against
      expect(judge(evidence({ requests: 100, errors5xx: 7, successRate: rateOf(7, 100) }), atMinimum).status).toBe('healthy');
    });

    it('is unhealthy with 8 errors in 100 requests', () => {
      expect(judge(evidence({ requests: 100, errors5xx: 8, successRate: rateOf(8, 100) }), atMinimum).status).toBe('unhealthy');
    });

    it('counts 7 errors in the first 50 of the 100 required requests as still able to pass, not as failed', () => {
      expect(judge(evidence({ requests: 50, errors5xx: 7, successRate: rateOf(7, 50) }), atMinimum).status).toBe('inconclusive');
    });
  });
});

describe('judge with relative judgement', () => {
  const relative = { errorRateTolerance: 0.001, confidence: 0.99, latencyRatio: 1.5, latencyAllowanceMs: 100 };
  const baseline = (requests: number, errors5xx: number, p99 = 20): Baseline => ({
    colour: 'blue',
    requests,
    errors5xx,
    successRate: requests ? 1 - errors5xx / requests : null,
    p99LatencyMs: p99,
    p50LatencyMs: 5,
    from: 'same-window',
    window: { start: '', end: '' },
  });
  const judged = (requests: number, errors5xx: number, live: Baseline | null, p99 = 20) => {
    const comparison = live
      ? compareWithLive({ colour: 'green', requests, errors5xx, p99LatencyMs: p99, p50LatencyMs: 5 }, live, relative)
      : null;
    return judge(
      evidence({ requests, errors5xx, successRate: requests ? 1 - errors5xx / requests : null, p99LatencyMs: p99, ...(comparison ? { comparison } : {}) }),
      { minSuccessRate: comparison ? 0.95 : 0.99, maxP99LatencyMs: 1000, minRequests: 50, relative },
    );
  };

  it.each([
    { behaviour: 'passes 1.5% against a live 1.5% although below 99%', requests: 600, errors: 9, live: baseline(5400, 81), status: 'healthy' },
    { behaviour: 'fails 0.83% against a live 0% although above 99%', requests: 2400, errors: 20, live: baseline(1200, 0), status: 'unhealthy' },
    { behaviour: 'passes zero errors on both sides', requests: 600, errors: 0, live: baseline(5400, 0), status: 'healthy' },
    { behaviour: 'does not fail 4 errors in 60 requests (noise at a live 3%) below the 95% floor', requests: 60, errors: 4, live: baseline(540, 16), status: 'healthy' },
    { behaviour: 'fails a disaster on few requests: shown below the floor', requests: 40, errors: 20, live: baseline(360, 5), status: 'unhealthy' },
    { behaviour: 'stays inconclusive on a tiny sample the data cannot judge', requests: 10, errors: 0, live: baseline(90, 1), status: 'inconclusive' },
    { behaviour: 'fails a p99 above 1.5 × live + 100 ms', requests: 1200, errors: 0, live: baseline(5400, 0, 100), p99: 260, status: 'unhealthy' },
    { behaviour: 'does not fail that p99 over 600 requests, too few for a p99 (under the 1 s maximum)', requests: 600, errors: 0, live: baseline(5400, 0, 100), p99: 260, status: 'healthy' },
    { behaviour: 'falls back to the fixed 99% with no live figures, and says so', requests: 500, errors: 10, live: null, status: 'unhealthy' },
  ])('$behaviour', ({ requests, errors, live, p99, status }) => {
    const { status: actual, reasons } = judged(requests, errors, live, p99);
    expect({ actual, reasons }).toMatchObject({ actual: status });
    if (live === null) expect(reasons.join(' ')).toContain('judged on the fixed thresholds only');
  });
});
