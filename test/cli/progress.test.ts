import { captureIo } from '../../cli/io';
import { barLine, phaseOf, plainLine, ProgressRenderer, snapshotFromHistory, type ProgressView } from '../../cli/progress';
import { approvalDoc, entered, executionData, exited, lockDoc, plainEvent, verdict } from './support';

function view(overrides: Partial<ProgressView> = {}): ProgressView {
  return {
    snapshot: snapshotFromHistory([entered('Bake', executionData({ stepIndex: 1, shiftedTo: 50, verdicts: [verdict()] }))]),
    lock: null,
    approval: null,
    elapsedMs: 75_000,
    service: 'colorapp',
    ...overrides,
  };
}

describe('snapshotFromHistory', () => {
  it('is empty before the execution has entered a state', () => {
    expect(snapshotFromHistory([plainEvent('ExecutionStarted')])).toEqual({
      stateName: null,
      phase: 'starting',
      schedule: null,
      step: 0,
      live: null,
      idle: null,
      weights: null,
      verdicts: [],
      error: null,
    });
  });

  it('knows only the state while Plan has not produced the release yet', () => {
    const snapshot = snapshotFromHistory([entered('Plan', JSON.stringify({ service: 'colorapp', image: 'x:v2' }))]);

    expect(snapshot).toMatchObject({ stateName: 'Plan', phase: 'preparing', schedule: null, weights: null });
  });

  it('shows the live colour at 100 until the first shift', () => {
    const snapshot = snapshotFromHistory([entered('DeployIdle', executionData())]);

    expect(snapshot).toMatchObject({ phase: 'deploying green', schedule: [10, 50, 100], step: 0, weights: { blue: 100, green: 0 } });
  });

  it('takes the newest state and the newest data, whatever order the events come in', () => {
    const chronological = [
      entered('ShiftTraffic', executionData()),
      exited('ShiftTraffic', executionData({ shiftedTo: 10 })),
      entered('Bake', executionData({ shiftedTo: 10 })),
      plainEvent('TaskScheduled'),
    ];

    expect(snapshotFromHistory([...chronological].reverse())).toEqual(snapshotFromHistory(chronological));
    const snapshot = snapshotFromHistory(chronological);

    expect(snapshot).toMatchObject({ stateName: 'Bake', phase: 'baking', step: 1, weights: { blue: 90, green: 10 } });
  });

  it('counts the step being shifted to while ShiftTraffic runs, with the old weights still in force', () => {
    const snapshot = snapshotFromHistory([entered('ShiftTraffic', executionData({ stepIndex: 1, shiftedTo: 10, verdicts: [verdict()] }))]);

    expect(snapshot).toMatchObject({ phase: 'shifting traffic', step: 2, weights: { blue: 90, green: 10 }, verdicts: [verdict()] });
  });

  it('carries the error a rollback is handling', () => {
    const error = { Error: 'AlarmTriggeredError', Cause: 'colorapp-green-5xx in ALARM' };
    const snapshot = snapshotFromHistory([entered('Rollback', executionData({ shiftedTo: 10, error }))]);

    expect(snapshot).toMatchObject({ phase: 'rolling back', error });
  });

  it('skips events whose data is not the execution state (truncated or foreign) rather than failing', () => {
    const events = [entered('DeployIdle', executionData()), { ...entered('Bake', '{not json'), id: 999 }];

    const snapshot = snapshotFromHistory(events);

    expect(snapshot).toMatchObject({ stateName: 'Bake', schedule: [10, 50, 100], weights: { blue: 100, green: 0 } });
  });
});

describe('phaseOf', () => {
  it.each([
    ['AcquireLock', 'preparing'],
    ['CheckStability', 'deploying green'],
    ['ApprovePromotion', 'waiting for approval'],
    ['CheckHealth', 'checking health'],
    ['StepPassed', 'step passed'],
    ['LastStepPassed', 'step passed'],
    ['Promote', 'promoting'],
    ['WaitBeforeScaleDown', 'scaling down the old colour'],
    ['MarkRollbackFailed', 'ROLLBACK FAILED'],
    ['SomeNewState', 'SomeNewState'],
  ])('%s is "%s"', (state, phase) => {
    expect(phaseOf(state, 'green')).toBe(phase);
  });
});

describe('progress lines', () => {
  it('shows step, weights, activity, last verdict and elapsed time as a plain line', () => {
    expect(plainLine(view())).toBe('[01:15] step 2/3 · blue 50 / green 50 · baking · last verdict: healthy (99.92%, 1234 req)');
  });

  it('says which gate waits and how to approve it', () => {
    expect(plainLine(view({ approval: approvalDoc() }))).toContain(
      'waiting for approval (before-promote): ecs-release approve --service colorapp',
    );
  });

  it('shows a rollback the lock announces, with its reason', () => {
    expect(plainLine(view({ lock: lockDoc({ status: 'rolling-back', reason: 'AlarmTriggeredError' }) }))).toContain(
      'rolling back: AlarmTriggeredError',
    );
  });

  it('draws a bar filled with the new colour’s share, cut to the terminal width', () => {
    expect(barLine(view(), 200)).toBe(
      '[██████████░░░░░░░░░░] green 50% · step 2/3 · baking · last verdict: healthy (99.92%, 1234 req) · 01:15',
    );
    expect(barLine(view(), 40)).toHaveLength(39);
    expect(barLine(view(), 40).endsWith('…')).toBe(true);
  });
});

describe('ProgressRenderer', () => {
  it('prints a plain line only when the status changes, when stderr is not a terminal', () => {
    const io = captureIo();
    const renderer = new ProgressRenderer(io);

    renderer.update(view({ elapsedMs: 1000 }));
    renderer.update(view({ elapsedMs: 3000 }));
    renderer.update(view({ elapsedMs: 5000, approval: approvalDoc() }));
    renderer.finish();

    expect(io.stderr).toHaveLength(2);
    expect(io.stderr[0]).toMatch(/^\[00:01\] step 2\/3/);
    expect(io.rewrites).toEqual([]);
  });

  it('redraws in place on a terminal and ends the line when finished', () => {
    const io = captureIo({ interactive: true });
    const renderer = new ProgressRenderer(io);

    renderer.update(view({ elapsedMs: 1000 }));
    renderer.update(view({ elapsedMs: 2000 }));
    renderer.finish();

    expect(io.rewrites).toHaveLength(2);
    expect(io.rewrites[1]).toMatch(/00:02$/);
    expect(io.stderr).toEqual(['']);
  });
});
