import type { Verdict } from '../../../../lambdas/shared/documents';
import { ValidationError } from '../../../../lambdas/shared/errors';
import { ShiftResultSchema, nextProgress } from '../../../../lambdas/shared/health/progress';
import type { Progress } from '../../../../lambdas/shared/release';

function verdict(status: Verdict['status'], overrides: Partial<Verdict> = {}): Verdict {
  return {
    status,
    reasons: status === 'healthy' ? ['All good.'] : ['Reason one.', 'Reason two.'],
    colour: 'green',
    stepIndex: 0,
    weight: 10,
    attempt: 0,
    window: { start: '2025-01-01T00:00:00.000Z', end: '2025-01-01T00:01:00.000Z' },
    evidence: { requests: 100, errors5xx: 0, successRate: 1, p99LatencyMs: 10, alarmsInAlarm: [] },
    thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
    ...overrides,
  };
}

function progress(overrides: Partial<Progress> = {}): Progress {
  return { stepIndex: 0, attempt: 0, verdicts: [], decision: 'shift', failure: null, ...overrides };
}

describe('nextProgress', () => {
  const earlier = verdict('inconclusive');
  const cases: {
    behaviour: string;
    progress: Progress;
    verdict: Verdict;
    scheduleLength: number;
    maxInconclusiveBakes: number;
    expected: Omit<Progress, 'verdicts'>;
  }[] = [
    {
      behaviour: 'shifts to the next step with a fresh attempt when healthy before the last step',
      progress: progress({ stepIndex: 0, attempt: 1 }),
      verdict: verdict('healthy', { attempt: 1 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: { stepIndex: 1, attempt: 0, decision: 'shift', failure: null },
    },
    {
      behaviour: 'promotes when healthy at the last step',
      progress: progress({ stepIndex: 2 }),
      verdict: verdict('healthy', { stepIndex: 2, weight: 100 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: { stepIndex: 2, attempt: 0, decision: 'promote', failure: null },
    },
    {
      behaviour: 'promotes a one-step blue/green release when healthy',
      progress: progress(),
      verdict: verdict('healthy', { weight: 100 }),
      scheduleLength: 1,
      maxInconclusiveBakes: 0,
      expected: { stepIndex: 0, attempt: 0, decision: 'promote', failure: null },
    },
    {
      behaviour: 'rolls back with UnhealthyReleaseError and every reason when unhealthy',
      progress: progress({ stepIndex: 1 }),
      verdict: verdict('unhealthy', { stepIndex: 1 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: {
        stepIndex: 1,
        attempt: 0,
        decision: 'rollback',
        failure: { Error: 'UnhealthyReleaseError', Cause: 'Reason one. Reason two.' },
      },
    },
    {
      behaviour: 'rolls back when unhealthy even with re-bakes left',
      progress: progress({ attempt: 0 }),
      verdict: verdict('unhealthy'),
      scheduleLength: 3,
      maxInconclusiveBakes: 10,
      expected: {
        stepIndex: 0,
        attempt: 0,
        decision: 'rollback',
        failure: { Error: 'UnhealthyReleaseError', Cause: 'Reason one. Reason two.' },
      },
    },
    {
      behaviour: 'bakes again at the same step when the first bake is inconclusive',
      progress: progress({ stepIndex: 1, attempt: 0 }),
      verdict: verdict('inconclusive', { stepIndex: 1 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: { stepIndex: 1, attempt: 1, decision: 'bake-again', failure: null },
    },
    {
      behaviour: 'bakes again while the repeated bakes stay within the limit',
      progress: progress({ stepIndex: 1, attempt: 1 }),
      verdict: verdict('inconclusive', { stepIndex: 1, attempt: 1 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: { stepIndex: 1, attempt: 2, decision: 'bake-again', failure: null },
    },
    {
      behaviour: 'rolls back with InconclusiveHealthError once the repeated bakes are used up',
      progress: progress({ stepIndex: 1, attempt: 2 }),
      verdict: verdict('inconclusive', { stepIndex: 1, attempt: 2, weight: 50 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 2,
      expected: {
        stepIndex: 1,
        attempt: 2,
        decision: 'rollback',
        failure: {
          Error: 'InconclusiveHealthError',
          Cause:
            'Health was inconclusive in 3 bakes in a row at step 2 of 3 (50% of traffic on green), and ' +
            'health.maxInconclusiveBakes allows 2 repeated bakes. Reason one. Reason two. Send traffic to the ' +
            'service during bakes, lower health.minRequestsPerStep, or raise bakeSeconds, then release again.',
        },
      },
    },
    {
      behaviour: 'rolls back on the first inconclusive bake when no re-bake is allowed',
      progress: progress(),
      verdict: verdict('inconclusive'),
      scheduleLength: 3,
      maxInconclusiveBakes: 0,
      expected: {
        stepIndex: 0,
        attempt: 0,
        decision: 'rollback',
        failure: {
          Error: 'InconclusiveHealthError',
          Cause:
            'Health was inconclusive in the only bake at step 1 of 3 (10% of traffic on green), and ' +
            'health.maxInconclusiveBakes allows 0 repeated bakes. Reason one. Reason two. Send traffic to the ' +
            'service during bakes, lower health.minRequestsPerStep, or raise bakeSeconds, then release again.',
        },
      },
    },
    {
      behaviour: 'bakes the last step again rather than promoting when it is inconclusive',
      progress: progress({ stepIndex: 2 }),
      verdict: verdict('inconclusive', { stepIndex: 2, weight: 100 }),
      scheduleLength: 3,
      maxInconclusiveBakes: 1,
      expected: { stepIndex: 2, attempt: 1, decision: 'bake-again', failure: null },
    },
  ];

  it.each(cases)('$behaviour', (c) => {
    const before = JSON.parse(JSON.stringify(c.progress));
    const next = nextProgress(c.progress, c.verdict, c.scheduleLength, c.maxInconclusiveBakes);
    expect(next).toEqual({ ...c.expected, verdicts: [...c.progress.verdicts, c.verdict] });
    expect(c.progress).toEqual(before);
  });

  it('appends the verdict after the verdicts already recorded', () => {
    const latest = verdict('healthy', { attempt: 1 });
    const next = nextProgress(progress({ attempt: 1, verdicts: [earlier] }), latest, 3, 2);
    expect(next.verdicts).toEqual([earlier, latest]);
  });

  it.each([
    { behaviour: 'an empty schedule', p: progress(), v: verdict('healthy'), length: 0 },
    { behaviour: 'a step outside the schedule', p: progress({ stepIndex: 3 }), v: verdict('healthy', { stepIndex: 3 }), length: 3 },
    { behaviour: 'a verdict for another step', p: progress({ stepIndex: 1 }), v: verdict('healthy', { stepIndex: 0 }), length: 3 },
  ])('refuses $behaviour with a ValidationError rather than guessing', ({ p, v, length }) => {
    expect(() => nextProgress(p, v, length, 2)).toThrow(ValidationError);
  });
});

describe('ShiftResultSchema', () => {
  const valid = {
    stepIndex: 0,
    weight: 10,
    weights: { live: 90, idle: 10 },
    changed: true,
    shiftedAt: '2025-01-01T00:00:00.000Z',
  };

  it('accepts what ShiftTraffic returns', () => {
    expect(ShiftResultSchema.parse(valid)).toEqual(valid);
  });

  it('rejects weights that do not sum to 100', () => {
    expect(ShiftResultSchema.safeParse({ ...valid, weights: { live: 80, idle: 10 } }).success).toBe(false);
  });

  it('rejects a shiftedAt that is not an ISO timestamp', () => {
    expect(ShiftResultSchema.safeParse({ ...valid, shiftedAt: 'yesterday' }).success).toBe(false);
  });
});
