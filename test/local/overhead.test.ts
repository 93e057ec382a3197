import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { orchestrationOverhead } from '../../local/overhead';

/** A history from `[state, enteredAtMs, exitedAtMs]`, in order, as GetExecutionHistory lists it. */
function history(states: Array<[string, number, number]>): HistoryEvent[] {
  const events: HistoryEvent[] = [{ id: 1, type: 'ExecutionStarted', timestamp: new Date(0) }];
  for (const [name, entered, exited] of states) {
    events.push({ id: events.length + 1, type: 'TaskStateEntered', timestamp: new Date(entered), stateEnteredEventDetails: { name } });
    events.push({ id: events.length + 1, type: 'TaskStateExited', timestamp: new Date(exited), stateExitedEventDetails: { name } });
  }
  const last = states[states.length - 1][2];
  events.push({ id: events.length + 1, type: 'ExecutionSucceeded', timestamp: new Date(last) });
  return events;
}

describe('orchestration overhead', () => {
  it('splits what a release pays once (before the first shift, after the last decision) from what each step pays, bakes excluded', () => {
    const events = history([
      ['Plan', 0, 100],
      ['WaitForStability', 100, 5_100],
      ['CheckStability', 5_100, 5_400],
      // step 1: 50 + 20 + 10 ms of work around a 1 s bake
      ['ShiftTraffic', 5_400, 5_450],
      ['Bake', 5_450, 6_450],
      ['CheckHealth', 6_450, 6_470],
      ['HealthDecision', 6_470, 6_480],
      // step 2: 70 + 40 + 10 ms
      ['ShiftTraffic', 6_480, 6_550],
      ['Bake', 6_550, 7_550],
      ['CheckHealth', 7_550, 7_590],
      ['HealthDecision', 7_590, 7_600],
      ['Promote', 7_600, 7_800],
      ['ReleaseLock', 7_800, 7_900],
    ]);

    expect(orchestrationOverhead(events)).toEqual({
      totalMs: 7_900 - 5_000 - 2_000,
      setupMs: 400,
      finishMs: 300,
      perStepMs: (80 + 120) / 2,
      steps: 2,
    });
  });

  it('closes a bake that ended by its timeout (no exit event) at the next state', () => {
    const events = history([
      ['Plan', 0, 100],
      ['ShiftTraffic', 100, 150],
      ['CheckHealth', 2_150, 2_170],
      ['HealthDecision', 2_170, 2_180],
      ['Rollback', 2_180, 2_380],
    ]);
    events.splice(4, 0, { id: 99, type: 'TaskStateEntered', timestamp: new Date(150), stateEnteredEventDetails: { name: 'Bake' } });

    expect(orchestrationOverhead(events)).toMatchObject({ setupMs: 100, perStepMs: 80, finishMs: 200, steps: 1 });
  });
});
