// Lock waits of a release, read from its execution history as GetExecutionHistory lists it: the
// bench's fleet rows report them for releases of several services at once (each service has its
// own lock, so none should wait).
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import { lockWaits } from '../../local/lock-waits';

type Step = [HistoryEventType, number, string?];

/** A history from `[type, atMs, stateName?]`; state names go on Entered/Exited events. */
function history(steps: Step[]): HistoryEvent[] {
  return steps.map(([type, at, name], i) => ({
    id: i + 1,
    type,
    timestamp: new Date(at),
    ...(type.endsWith('StateEntered') ? { stateEnteredEventDetails: { name } } : {}),
    ...(type.endsWith('StateExited') ? { stateExitedEventDetails: { name } } : {}),
  }));
}

const planned: Step[] = [
  ['ExecutionStarted', 0],
  ['TaskStateEntered', 1, 'PlanRelease'],
  ['LambdaFunctionScheduled', 2],
  ['LambdaFunctionSucceeded', 5],
  ['TaskStateExited', 6, 'PlanRelease'],
];

describe('lockWaits', () => {
  it('a lock taken at once: one attempt, no wait, 0 ms (the other states\' invocations do not count)', () => {
    const events = history([
      ...planned,
      ['TaskStateEntered', 10, 'AcquireLock'],
      ['LambdaFunctionScheduled', 11],
      ['LambdaFunctionStarted', 11],
      ['LambdaFunctionSucceeded', 40],
      ['TaskStateExited', 41, 'AcquireLock'],
      ['TaskStateEntered', 42, 'Preflight'],
      ['LambdaFunctionScheduled', 43],
      ['LambdaFunctionFailed', 50],
    ]);
    expect(lockWaits(events)).toEqual({ attempts: 1, waits: 0, waitedMs: 0, acquired: true, refused: false });
  });

  it('counts failed attempts the Retry tried again, and the time from the first attempt to the last', () => {
    const events = history([
      ...planned,
      ['TaskStateEntered', 10, 'AcquireLock'],
      ['LambdaFunctionScheduled', 11],
      ['LambdaFunctionFailed', 20],
      ['LambdaFunctionScheduled', 1_020],
      ['LambdaFunctionFailed', 1_030],
      ['LambdaFunctionScheduled', 3_030],
      ['LambdaFunctionSucceeded', 3_060],
      ['TaskStateExited', 3_061, 'AcquireLock'],
    ]);
    expect(lockWaits(events)).toEqual({ attempts: 3, waits: 2, waitedMs: 3_019, acquired: true, refused: false });
  });

  it('a release turned away at the lock (held by another): a wait, not acquired, refused', () => {
    const events = history([
      ...planned,
      ['TaskStateEntered', 10, 'AcquireLock'],
      ['LambdaFunctionScheduled', 11],
      ['LambdaFunctionFailed', 25],
      ['TaskStateEntered', 26, 'Rejected'],
      ['ExecutionFailed', 27],
    ]);
    expect(lockWaits(events)).toEqual({ attempts: 1, waits: 1, waitedMs: 0, acquired: false, refused: true });
  });

  it('an execution that never reached the lock: no attempt', () => {
    expect(lockWaits(history(planned))).toEqual({ attempts: 0, waits: 0, waitedMs: 0, acquired: false, refused: false });
  });
});
