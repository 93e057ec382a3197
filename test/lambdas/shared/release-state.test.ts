import type { ColourSlot, ReleaseRecord, ReleaseState } from '../../../lambdas/shared/documents';
import { bootstrapState, hasRecorded, promote, recordRelease } from '../../../lambdas/shared/release-state';
import { previousRecord, releaseState, verdict } from '../../support/release-documents';

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

describe('hasRecorded', () => {
  it.each<[string, Partial<ReleaseState>, string, boolean]>([
    ['the last release', { lastRelease: record('r1'), history: [] }, 'r1', true],
    ['an older release in the history', { lastRelease: record('r2'), history: [record('r2'), record('r1')] }, 'r1', true],
    ['a release it never saw', { lastRelease: record('r2'), history: [record('r2')] }, 'r3', false],
    ['anything, when it has no releases', { lastRelease: null, history: [] }, 'r1', false],
  ])('knows %s', (_case, state, id, expected) => {
    expect(hasRecorded(releaseState(state), id)).toBe(expected);
  });
});

describe('recordRelease', () => {
  it('puts the release first in the history and makes it the last release', () => {
    const state = frozen(releaseState());
    const next = recordRelease(state, record('r2', { outcome: 'rolled-back' }), 20, NOW);

    expect(next).toStrictEqual({
      ...state,
      lastRelease: record('r2', { outcome: 'rolled-back' }),
      history: [record('r2', { outcome: 'rolled-back' }), previousRecord()],
      updatedAt: '2025-01-01T12:30:00.000Z',
    });
  });

  it.each([
    [1, ['r4']],
    [2, ['r4', 'r3']],
    [3, ['r4', 'r3', 'r2']],
    [10, ['r4', 'r3', 'r2', 'r1']],
  ])('keeps at most historyLength=%i releases, newest first', (historyLength, ids) => {
    const state = frozen(releaseState({ lastRelease: record('r3'), history: [record('r3'), record('r2'), record('r1')] }));

    const next = recordRelease(state, record('r4'), historyLength, NOW);

    expect(next.history.map((r) => r.id)).toEqual(ids);
    expect(next.lastRelease?.id).toBe('r4');
  });

  it('replaces a release recorded before, in place, instead of recording it twice', () => {
    const state = frozen(releaseState({ lastRelease: record('r2', { outcome: 'rollback-failed' }), history: [record('r2', { outcome: 'rollback-failed' }), record('r1')] }));
    const fixed = record('r2', { outcome: 'rolled-back' });

    const next = recordRelease(state, fixed, 20, NOW);

    expect(next.history).toStrictEqual([fixed, record('r1')]);
    expect(next.lastRelease).toStrictEqual(fixed);
    expect(next.updatedAt).toBe('2025-01-01T12:30:00.000Z');
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
      lastRelease: record,
      history: [record, previousRecord()],
      updatedAt: '2025-01-01T12:30:00.000Z',
    });
    // The colour that was live keeps its slot, so a later rollback knows what it ran.
    expect(next.colours[live]).toStrictEqual(state.colours[live]);
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
