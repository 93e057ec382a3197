import type { HistoryEvent } from '@aws-sdk/client-sfn';

/** Orchestration overhead: wall time outside bakes and waits, split where it is paid. */
export interface OrchestrationOverhead {
  /** Everything outside bakes and waits. */
  readonly totalMs: number;
  /** Once per release: from the start to the first traffic shift (plan, lock, state, preflight, task definition, deploy). */
  readonly setupMs: number;
  /** Once per release: from the end of the last step to the end (promote or roll back, scale down, unlock). */
  readonly finishMs: number;
  /** Per traffic step: shift, start the bake, judge, decide; the mean over the steps. */
  readonly perStepMs: number;
  readonly steps: number;
}

/**
 * Wall time of the execution minus the time spent in `Bake` tasks and Wait states, which is
 * what the release configures rather than what the engine costs. Deployment waits (ECS starting
 * real processes) sit inside the Wait loop and are excluded with it. A step runs from entering
 * `ShiftTraffic` to entering the next `ShiftTraffic` (or, for the last, the first state after
 * its health decision); what comes before the first step and after the last is paid once per
 * release, whatever the number of steps, and is reported apart.
 */
export function orchestrationOverhead(events: HistoryEvent[]): OrchestrationOverhead {
  const time = (e: HistoryEvent) => new Date(e.timestamp!).getTime();
  const start = time(events[0]);
  const end = time(events[events.length - 1]);
  // Configured time (bakes, waits) as [from, to) intervals.
  const waits: Array<[number, number]> = [];
  const entered = new Map<string, number>();
  const entries: Array<{ name: string; at: number }> = [];
  for (const e of events) {
    const name = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name;
    if (!name) continue;
    if (e.stateEnteredEventDetails) entries.push({ name, at: time(e) });
    const timed = name === 'Bake' || name.startsWith('Wait');
    if (e.stateEnteredEventDetails && timed) entered.set(name, time(e));
    if (e.stateExitedEventDetails && timed && entered.has(name)) {
      waits.push([entered.get(name)!, time(e)]);
      entered.delete(name);
    }
  }
  // A bake ended by its timeout fails the task instead of exiting it: close it at the next state.
  for (const [name, at] of entered) {
    const next = entries.find((e) => e.at > at);
    waits.push([at, next ? next.at : end]);
    entered.delete(name);
  }
  /** Wall time in [from, to) that is not configured waiting. */
  const busy = (from: number, to: number) =>
    to - from - waits.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0);

  const shifts = entries.filter((e) => e.name === 'ShiftTraffic').map((e) => e.at);
  const totalMs = busy(start, end);
  if (shifts.length === 0) return { totalMs, setupMs: totalMs, finishMs: 0, perStepMs: 0, steps: 0 };
  // The last step ends where the states after its health decision begin.
  const lastDecision = entries.filter((e) => e.name === 'HealthDecision').map((e) => e.at).pop() ?? shifts[shifts.length - 1];
  const lastStepEnd = entries.find((e) => e.at > lastDecision)?.at ?? end;
  const bounds = [...shifts, lastStepEnd];
  let stepsMs = 0;
  for (let i = 0; i < shifts.length; i++) stepsMs += busy(bounds[i], bounds[i + 1]);
  return {
    totalMs,
    setupMs: busy(start, shifts[0]),
    finishMs: busy(lastStepEnd, end),
    perStepMs: stepsMs / shifts.length,
    steps: shifts.length,
  };
}
