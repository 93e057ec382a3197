import {
  ReleaseStateSchema,
  type ColourSlot,
  type ReleaseRecord,
  type ReleaseState,
  type ReleaseSummary,
  type Verdict,
  type VerdictSummary,
} from '../../../lambdas/shared/documents';
import {
  bootstrapState,
  confirmSeed,
  fitToParameter,
  hasRecorded,
  MAX_STATE_BYTES,
  promote,
  recordedOutcome,
  recordRelease,
  SEED_UPDATED_AT,
  seedState,
  stateSize,
} from '../../../lambdas/shared/release-state';
import { previousRecord, releaseState, summaryOf, verdict, verdictSummary } from '../../support/release-documents';

const NOW = new Date('2025-01-01T12:30:00.000Z');

function record(id: string, overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return previousRecord({ id, executionArn: `arn:aws:states:eu-west-1:111122223333:execution:ecs-release:${id}`, ...overrides });
}

/** Deep-freezes a document, so a transition that mutates its input throws. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach((v) => frozen(v));
    Object.freeze(value);
  }
  return value;
}

const NEW_SLOT: ColourSlot = {
  taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:8',
  image: 'colorapp:1.4.0',
  version: '1.4.0',
};

/** What SSM's Advanced tier accepts, in bytes. */
const SSM_ADVANCED_LIMIT = 8192;

describe('bootstrapState', () => {
  it('builds a first state from what runs, with no history', () => {
    const colours = releaseState().colours;

    expect(bootstrapState('colorapp', 'green', colours, NOW)).toStrictEqual({
      schemaVersion: 1,
      service: 'colorapp',
      live: 'green',
      colours,
      lastRelease: null,
      history: [],
      updatedAt: '2025-01-01T12:30:00.000Z',
    });
  });
});

describe('seedState', () => {
  it('is a valid state with no history, a fixed time (a stable template) and the seed mark', () => {
    const empty: ColourSlot = { taskDefinitionArn: null, image: null, version: null };
    const seed = seedState('colorapp', 'blue', { blue: NEW_SLOT, green: empty });

    expect(ReleaseStateSchema.parse(seed)).toStrictEqual(seed);
    expect(seed).toStrictEqual({
      schemaVersion: 1,
      service: 'colorapp',
      live: 'blue',
      colours: { blue: NEW_SLOT, green: empty },
      lastRelease: null,
      history: [],
      updatedAt: SEED_UPDATED_AT,
      seededBy: 'cdk',
    });
    expect(seedState('colorapp', 'blue', { blue: NEW_SLOT, green: empty })).toStrictEqual(seed);
  });
});

describe('confirmSeed', () => {
  it('takes live and the slots from what was observed, keeps recorded releases and drops the seed mark', () => {
    const failed = record('rel-failed', { outcome: 'failed' });
    const seed = frozen({ ...seedState('colorapp', 'green', { blue: NEW_SLOT, green: NEW_SLOT }), lastRelease: failed, history: [summaryOf(failed)] });
    const observed = releaseState().colours;

    const confirmed = confirmSeed(seed, { live: 'blue', colours: observed }, NOW);

    expect(confirmed).toStrictEqual({
      schemaVersion: 1,
      service: 'colorapp',
      live: 'blue',
      colours: observed,
      lastRelease: failed,
      history: [summaryOf(failed)],
      updatedAt: NOW.toISOString(),
    });
    expect('seededBy' in confirmed).toBe(false);
  });
});

describe('hasRecorded', () => {
  it.each<[string, Partial<ReleaseState>, string, boolean]>([
    ['the last release', { lastRelease: record('r1'), history: [] }, 'r1', true],
    ['an older release in the history', { lastRelease: record('r2'), history: [summaryOf(record('r2')), summaryOf(record('r1'))] }, 'r1', true],
    ['a release it never saw', { lastRelease: record('r2'), history: [summaryOf(record('r2'))] }, 'r3', false],
    ['anything, when it has no releases', { lastRelease: null, history: [] }, 'r1', false],
  ])('knows %s', (_case, state, id, expected) => {
    expect(hasRecorded(releaseState(state), id)).toBe(expected);
  });
});

describe('recordedOutcome', () => {
  it.each<[string, Partial<ReleaseState>, string, string | null]>([
    ['of the last release', { lastRelease: record('r2', { outcome: 'promoted' }), history: [] }, 'r2', 'promoted'],
    [
      'of an older release, from its history entry',
      { lastRelease: record('r2'), history: [summaryOf(record('r2')), summaryOf(record('r1', { outcome: 'rolled-back' }))] },
      'r1',
      'rolled-back',
    ],
    ['of the last release, over a stale history entry', { lastRelease: record('r2', { outcome: 'rolled-back' }), history: [summaryOf(record('r2'))] }, 'r2', 'rolled-back'],
    ['as null for a release it never saw', { lastRelease: record('r2'), history: [summaryOf(record('r2'))] }, 'r3', null],
  ])('gives the outcome %s', (_case, state, id, expected) => {
    expect(recordedOutcome(releaseState(state), id)).toBe(expected);
  });
});

describe('recordRelease', () => {
  it('makes the release the last release, with verdict summaries, and puts its summary first in the history', () => {
    const state = frozen(releaseState());
    const unhealthy: Verdict = verdict({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] });
    const r2 = record('r2', { outcome: 'rolled-back', verdicts: [unhealthy] });

    const next = recordRelease(state, r2, 20, NOW);

    expect(next).toStrictEqual({
      ...state,
      lastRelease: { ...summaryOf(r2), verdicts: [verdictSummary({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] })] },
      history: [summaryOf(r2), summaryOf(previousRecord())],
      updatedAt: '2025-01-01T12:30:00.000Z',
    });
    expect(ReleaseStateSchema.parse(next)).toStrictEqual(next);
  });

  it.each([
    [1, ['r4']],
    [2, ['r4', 'r3']],
    [3, ['r4', 'r3', 'r2']],
    [10, ['r4', 'r3', 'r2', 'r1']],
  ])('keeps at most historyLength=%i releases, newest first', (historyLength, ids) => {
    const state = frozen(releaseState({ lastRelease: record('r3'), history: ['r3', 'r2', 'r1'].map((id) => summaryOf(record(id))) }));

    const next = recordRelease(state, record('r4'), historyLength, NOW);

    expect(next.history.map((r) => r.id)).toEqual(ids);
    expect(next.lastRelease?.id).toBe('r4');
  });

  it('replaces its own entry when a re-run records it again, instead of recording it twice', () => {
    const failed = record('r2', { outcome: 'rollback-failed', verdicts: [verdict()] });
    const state = frozen(releaseState({ lastRelease: failed, history: [summaryOf(failed), summaryOf(record('r1'))] }));
    const fixed = record('r2', { outcome: 'rolled-back', finishedAt: '2025-01-01T12:29:00.000Z', verdicts: [verdict()] });

    const next = recordRelease(state, fixed, 20, NOW);

    expect(next.history).toStrictEqual([summaryOf(fixed), summaryOf(record('r1'))]);
    expect(next.lastRelease).toStrictEqual({ ...summaryOf(fixed), verdicts: [verdictSummary()] });
    expect(next.updatedAt).toBe('2025-01-01T12:30:00.000Z');
  });

  it('does not push the oldest release out of a full history when a re-run records itself again', () => {
    const state = frozen(releaseState({ lastRelease: record('r3'), history: ['r3', 'r2', 'r1'].map((id) => summaryOf(record(id))) }));

    const next = recordRelease(state, record('r3', { outcome: 'rolled-back' }), 3, NOW);

    expect(next.history.map((r) => [r.id, r.outcome])).toEqual([
      ['r3', 'rolled-back'],
      ['r2', 'promoted'],
      ['r1', 'promoted'],
    ]);
  });

  it('trims the document to fit one parameter (see fitToParameter)', () => {
    const history = Array.from({ length: 50 }, (_, i) => summaryOf(record(`r${50 - i}`, { reason: 'x'.repeat(400) })));
    const state = frozen(releaseState({ lastRelease: record('r50'), history }));

    const next = recordRelease(state, record('r51'), 50, NOW);

    expect(stateSize(next)).toBeLessThanOrEqual(MAX_STATE_BYTES);
    expect(next.history.length).toBeLessThan(50);
    expect(next.history.map((r) => r.id)).toEqual(['r51', ...history.slice(0, next.history.length - 1).map((r) => r.id)]);
  });
});

/** A verdict summary whose reasons are long enough to weigh. */
function wordyVerdict(stepIndex: number): VerdictSummary {
  return verdictSummary({
    stepIndex,
    weight: (stepIndex + 1) * 10,
    reasons: [`first reason of step ${stepIndex} `.padEnd(150, 'a'), `second reason of step ${stepIndex} `.padEnd(150, 'b')],
  });
}

/** A rolled-back last release with long text and three wordy verdicts, over ten older releases. */
function heavyState(): ReleaseState {
  const last = record('r11', {
    outcome: 'rolled-back',
    reason: 'r'.repeat(800),
    failure: { error: 'UnhealthyReleaseError', cause: 'c'.repeat(1500) },
    verdicts: [0, 1, 2].map(wordyVerdict),
  });
  const older = Array.from({ length: 10 }, (_, i) =>
    summaryOf(record(`r${10 - i}`, { outcome: 'rolled-back', failure: { error: 'UnhealthyReleaseError', cause: 'o'.repeat(300) } })),
  );
  return frozen(releaseState({ live: 'green', lastRelease: last, history: [summaryOf(last), ...older] }));
}

describe('fitToParameter', () => {
  it('returns the state as it is when it fits', () => {
    const state = frozen(releaseState());

    expect(fitToParameter(state)).toBe(state);
  });

  it('measures UTF-8 bytes, as SSM does, not characters', () => {
    const state = frozen(releaseState({ lastRelease: record('r1', { reason: '発'.repeat(100) }), history: [] }));

    expect(stateSize(state)).toBe(JSON.stringify(state).length + 200);
  });

  it('drops the oldest history entries first, and only as many as it must', () => {
    const state = heavyState();
    const limit = stateSize({ ...state, history: state.history.slice(0, 6) }) + 10;

    const fitted = fitToParameter(state, limit);

    expect(fitted).toStrictEqual({ ...state, history: state.history.slice(0, 6) });
    expect(stateSize(fitted)).toBeLessThanOrEqual(limit);
  });

  // Each stage of trimming, in order: the limit is exactly the size of the expected result, so
  // a stage that came too early, too late or not at all gives a different document.
  const clipped = (text: string, max: number) => `${text.slice(0, max - 1)}…`;
  const heavy = heavyState();
  const last = heavy.lastRelease!;
  const headOnly: ReleaseState = { ...heavy, history: [heavy.history[0]] };
  const shortText = <R extends ReleaseSummary>(r: R): R => ({
    ...r,
    reason: clipped('r'.repeat(800), 200),
    failure: { error: 'UnhealthyReleaseError', cause: clipped('c'.repeat(1500), 200) },
  });
  const shortHead: ReleaseState = { ...headOnly, history: [shortText(heavy.history[0])] };
  const firstReasonOnly: ReleaseState = {
    ...shortHead,
    lastRelease: { ...last, verdicts: last.verdicts.map((v) => ({ ...v, reasons: [clipped(v.reasons[0], 80)] })) },
  };
  const noReasons: ReleaseState = { ...shortHead, lastRelease: { ...last, verdicts: last.verdicts.map((v) => ({ ...v, reasons: [] })) } };
  const shortLastRelease: ReleaseState = { ...noReasons, lastRelease: shortText(noReasons.lastRelease!) };
  const lastVerdictOnly: ReleaseState = {
    ...shortLastRelease,
    lastRelease: { ...shortLastRelease.lastRelease!, verdicts: [{ ...wordyVerdict(2), reasons: [] }] },
  };
  const noHistory: ReleaseState = { ...lastVerdictOnly, history: [] };
  const stages = [heavy, headOnly, shortHead, firstReasonOnly, noReasons, shortLastRelease, lastVerdictOnly, noHistory];

  it.each<[string, ReleaseState]>([
    ['1. every older history entry, keeping the summary of the last release', headOnly],
    ["2. the long free text of that summary (failure cause, request reason: 200 characters), which the last release keeps whole", shortHead],
    ["3. all but the first reason of each of the last release's verdicts, cut to 80 characters", firstReasonOnly],
    ['4. every reason, keeping the numbers', noReasons],
    ["5. the last release's own long free text, cut to 200 characters", shortLastRelease],
    ["6. the last release's oldest verdicts, keeping the newest, deciding one", lastVerdictOnly],
    ['7. the head of the history, which repeats the last release', noHistory],
  ])('gives up, in this order, %s', (_stage, expected) => {
    const fitted = fitToParameter(heavy, stateSize(expected));

    expect(fitted).toStrictEqual(expected);
    expect(ReleaseStateSchema.parse(fitted)).toStrictEqual(fitted);
  });

  it('gives up each stage only when the one before did not fit', () => {
    const sizes = stages.map(stateSize);

    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    expect(new Set(sizes).size).toBe(sizes.length);
  });

  it('never drops the live colour, the slots or the last outcome, even when asked for less than they take', () => {
    const fitted = fitToParameter(heavy, 100);

    expect(fitted).toMatchObject({
      schemaVersion: 1,
      service: 'colorapp',
      live: heavy.live,
      colours: heavy.colours,
      lastRelease: { id: 'r11', outcome: 'rolled-back', failure: { error: 'UnhealthyReleaseError' } },
      updatedAt: heavy.updatedAt,
    });
    expect(fitted.lastRelease?.verdicts).toHaveLength(1);
  });
});

describe('the state document always fits one parameter', () => {
  /** The longest values the request and config schemas accept. */
  const LONGEST_IMAGE = `${'a'.repeat(1000)}:${'t'.repeat(128)}`;
  const LONGEST_SERVICE = 's'.repeat(255);
  const twentySteps = { type: 'canary' as const, steps: Array.from({ length: 20 }, (_, i) => (i + 1) * 5) };

  function heavyRecord(id: string, overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
    return record(id, {
      image: LONGEST_IMAGE,
      version: 't'.repeat(128),
      strategy: twentySteps,
      requestedBy: 'u'.repeat(256),
      reason: '理由'.repeat(512),
      outcome: 'rollback-failed',
      failure: { error: 'UnhealthyReleaseError', cause: 'ü'.repeat(4000) },
      ...overrides,
    });
  }

  /** 20 steps x 11 bakes (maxInconclusiveBakes 10), each verdict with long reasons and alarms. */
  const manyVerdicts: Verdict[] = Array.from({ length: 220 }, (_, i) =>
    verdict({
      stepIndex: Math.floor(i / 11),
      attempt: i % 11,
      status: 'inconclusive',
      reasons: ['ø'.repeat(400), 'too few requests to judge'],
      evidence: { requests: 3, errors5xx: 0, successRate: null, p99LatencyMs: null, alarmsInAlarm: ['a'.repeat(255), 'b'.repeat(255)] },
    }),
  );

  const worstState = (): ReleaseState =>
    frozen(
      releaseState({
        service: LONGEST_SERVICE,
        colours: {
          blue: { taskDefinitionArn: `arn:aws:ecs:eu-west-1:111122223333:task-definition/${'f'.repeat(255)}:9999`, image: LONGEST_IMAGE, version: 't'.repeat(128) },
          green: { taskDefinitionArn: `arn:aws:ecs:eu-west-1:111122223333:task-definition/${'f'.repeat(255)}:9998`, image: LONGEST_IMAGE, version: 't'.repeat(128) },
        },
        lastRelease: heavyRecord('r50'),
        history: Array.from({ length: 50 }, (_, i) => summaryOf(heavyRecord(`r${50 - i}`))),
      }),
    );

  it.each<[string, () => ReleaseState]>([
    ['a rollback-failed release with 220 verdicts, maximal text and a full history', () => recordRelease(worstState(), heavyRecord('r51', { verdicts: manyVerdicts }), 50, NOW)],
    [
      'a promotion whose new slot is as long as a slot can be',
      () =>
        promote(
          worstState(),
          heavyRecord('r51', { outcome: 'promoted', failure: null, fromColour: 'blue', toColour: 'green', verdicts: manyVerdicts }),
          { taskDefinitionArn: `arn:aws:ecs:eu-west-1:111122223333:task-definition/${'f'.repeat(255)}:10000`, image: `${LONGEST_IMAGE}x`, version: 't'.repeat(128) },
          50,
          NOW,
        ),
    ],
  ])('after %s', (_case, next) => {
    const state = next();

    expect(stateSize(state)).toBeLessThanOrEqual(MAX_STATE_BYTES);
    expect(Buffer.byteLength(JSON.stringify(state), 'utf8')).toBeLessThanOrEqual(SSM_ADVANCED_LIMIT);
    expect(state.lastRelease).toMatchObject({ id: 'r51' });
    expect(ReleaseStateSchema.parse(state)).toStrictEqual(state);
  });

  it('for a 20-step canary over a history of 20 releases: every verdict kept with its reasons, the newest history kept', () => {
    const older = Array.from({ length: 20 }, (_, i) =>
      summaryOf(record(`r${20 - i}`, { strategy: twentySteps, requestedBy: 'alice@example.com', reason: 'weekly release of the colour app' })),
    );
    const state = frozen(releaseState({ lastRelease: record('r20', { strategy: twentySteps }), history: older }));
    const steps: Verdict[] = twentySteps.steps.map((weight, stepIndex) => verdict({ stepIndex, weight }));
    const r21 = record('r21', { strategy: twentySteps, outcome: 'promoted', fromColour: 'blue', toColour: 'green', verdicts: steps });

    const next = promote(state, r21, NEW_SLOT, 20, NOW);

    expect(stateSize(next)).toBeLessThanOrEqual(MAX_STATE_BYTES);
    expect(next.lastRelease?.verdicts).toStrictEqual(twentySteps.steps.map((weight, stepIndex) => verdictSummary({ stepIndex, weight })));
    expect(next.history.map((r) => r.id)).toEqual(['r21', ...older.slice(0, next.history.length - 1).map((r) => r.id)]);
    expect(next.history.length).toBeGreaterThan(1);
    expect(next).toMatchObject({ live: 'green', colours: { green: NEW_SLOT } });
  });
});

describe('promote', () => {
  const promoted = (from: 'blue' | 'green', to: 'blue' | 'green') =>
    record('r2', { fromColour: from, toColour: to, outcome: 'promoted', verdicts: [verdict({ colour: to })] });

  it.each([
    ['blue', 'green'],
    ['green', 'blue'],
  ] as const)('makes the idle colour live when %s is live, recording what %s now runs', (live, idle) => {
    const state = frozen(releaseState({ live }));
    const record = promoted(live, idle);

    const next = promote(state, record, NEW_SLOT, 20, NOW);

    expect(next).toStrictEqual({
      ...state,
      live: idle,
      colours: { ...state.colours, [idle]: NEW_SLOT },
      lastRelease: { ...summaryOf(record), verdicts: [verdictSummary()] },
      history: [summaryOf(record), summaryOf(previousRecord())],
      updatedAt: '2025-01-01T12:30:00.000Z',
    });
    // The colour that was live keeps its slot, so a later rollback knows what it ran.
    expect(next.colours[live]).toStrictEqual(state.colours[live]);
  });

  it('weighs the new slot when it trims the document to fit', () => {
    const history = Array.from({ length: 20 }, (_, i) => summaryOf(record(`r${20 - i}`, { reason: 'x'.repeat(300) })));
    const state = frozen(releaseState({ lastRelease: record('r20'), history }));
    const longSlot: ColourSlot = { ...NEW_SLOT, image: `${'a'.repeat(1000)}:v2` };

    const next = promote(state, promoted('blue', 'green'), longSlot, 20, NOW);

    expect(next.colours.green).toStrictEqual(longSlot);
    expect(stateSize(next)).toBeLessThanOrEqual(MAX_STATE_BYTES);
  });

  it.each(['rolled-back', 'failed', 'rollback-failed'] as const)('refuses a record whose outcome is %s', (outcome) => {
    expect(() => promote(releaseState(), { ...promoted('blue', 'green'), outcome }, NEW_SLOT, 20, NOW)).toThrow(
      `promote() needs a promoted record, got ${outcome}`,
    );
  });

  it('refuses to promote the colour that is already live', () => {
    expect(() => promote(releaseState({ live: 'green' }), promoted('blue', 'green'), NEW_SLOT, 20, NOW)).toThrow(
      'Cannot promote green: it is already live',
    );
  });
});

describe('verdicts with relative evidence in the state document', () => {
  const compared = verdict({
    evidence: {
      requests: 2400,
      errors5xx: 20,
      successRate: 0.99167,
      p99LatencyMs: 40,
      p50LatencyMs: 5,
      alarmsInAlarm: [],
      baseline: {
        colour: 'blue',
        requests: 1200,
        errors5xx: 0,
        successRate: 1,
        p99LatencyMs: 40,
        p50LatencyMs: 5,
        from: 'previous-step',
        window: { start: '2025-01-01T12:05:00.000Z', end: '2025-01-01T12:06:00.000Z' },
      },
      comparison: {
        test: 'newcombe-hybrid-score',
        errorRateDifference: 0.00833,
        lowerBound: 0.0021,
        errorsWorse: true,
        detectableDifference: 0.0087,
        latencyWorse: false,
        summary: `green 0.833% errors vs blue 0% in the previous step's window over 2,400 / 1,200 requests: ${'worse '.repeat(30)}`,
      },
    },
  });

  it('keeps both colours’ numbers and the comparison in the last release’s verdicts', () => {
    const next = recordRelease(releaseState(), { ...summaryOf(record('r1')), verdicts: [compared] }, 20, NOW);
    expect(ReleaseStateSchema.parse(next).lastRelease?.verdicts[0].evidence).toMatchObject({
      baseline: { colour: 'blue', requests: 1200, from: 'previous-step' },
      comparison: { errorsWorse: true, detectableDifference: 0.0087 },
    });
  });

  it('still fits one parameter with 20 such steps and a full history (fitToParameter trims)', () => {
    const history = Array.from({ length: 50 }, (_, i) => summaryOf(record(`r${50 - i}`, { reason: 'x'.repeat(400) })));
    const verdicts = Array.from({ length: 20 }, (_, i) => ({ ...compared, stepIndex: i }));
    const next = recordRelease(releaseState({ history }), { ...summaryOf(record('r51')), verdicts }, 50, NOW);
    expect(stateSize(next)).toBeLessThanOrEqual(MAX_STATE_BYTES);
    expect(next.lastRelease?.verdicts.at(-1)?.evidence.comparison?.errorsWorse).toBe(true);
  });

  it('still reads verdicts written before relative judgement (the new fields are optional)', () => {
    expect(() => ReleaseStateSchema.parse(recordRelease(releaseState(), { ...summaryOf(record('r1')), verdicts: [verdict()] }, 20, NOW))).not.toThrow();
  });
});
