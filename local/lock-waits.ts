import type { HistoryEvent } from '@aws-sdk/client-sfn';

/** The state that takes a service's release lock (statemachines/release.asl.json). */
export const ACQUIRE_LOCK_STATE = 'AcquireLock';
/** Where a refused lock goes (ReleaseInProgressError, StaleLockError, ...). */
const REJECTED_STATE = 'Rejected';

/** How one release got its lock, read from its execution history. */
export interface LockWaits {
  /** Invocations of the lock function (the first attempt and its retries). */
  readonly attempts: number;
  /** Attempts that failed and were tried again or given up on: each is a wait for the lock. */
  readonly waits: number;
  /** From the first attempt to the last one (0 with a single attempt): the time spent waiting. */
  readonly waitedMs: number;
  /** The lock was taken. */
  readonly acquired: boolean;
  /** The release was turned away at the lock (held by another release, stale, unreadable). */
  readonly refused: boolean;
}

const SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled']);
const FAILED = new Set(['LambdaFunctionFailed', 'LambdaFunctionTimedOut', 'TaskFailed', 'TaskTimedOut']);
const SUCCEEDED = new Set(['LambdaFunctionSucceeded', 'TaskSucceeded']);

/**
 * The lock waits of one execution: the attempts made inside `AcquireLock` (its Retry re-invokes
 * the function without entering the state again, as in AWS), how many failed, and the time from
 * the first attempt to the last. A release that took its lock at once has 1 attempt, 0 waits and
 * 0 ms; one of several releases of different services at once should too, as each service has
 * its own lock.
 *
 * @example
 * lockWaits(world.stepFunctions.executionEvents(executionArn)); // { attempts: 1, waits: 0, waitedMs: 0, acquired: true, refused: false }
 */
export function lockWaits(events: readonly HistoryEvent[]): LockWaits {
  const time = (e: HistoryEvent) => new Date(e.timestamp!).getTime();
  let inLock = false;
  // Just left AcquireLock: the next state entered says whether the lock was refused (a Catch
  // may leave the state with or without an exit event).
  let afterLock = false;
  const attemptsAt: number[] = [];
  let waits = 0;
  let acquired = false;
  let refused = false;
  for (const e of events) {
    const entered = e.stateEnteredEventDetails?.name;
    if (entered !== undefined) {
      if ((inLock || afterLock) && entered === REJECTED_STATE) refused = true;
      afterLock = false;
      inLock = entered === ACQUIRE_LOCK_STATE;
      continue;
    }
    if (e.stateExitedEventDetails?.name === ACQUIRE_LOCK_STATE) {
      inLock = false;
      afterLock = true;
      continue;
    }
    if (!inLock || e.type === undefined) continue;
    if (SCHEDULED.has(e.type)) attemptsAt.push(time(e));
    else if (FAILED.has(e.type)) waits++;
    else if (SUCCEEDED.has(e.type)) acquired = true;
  }
  return {
    attempts: attemptsAt.length,
    waits,
    waitedMs: attemptsAt.length > 1 ? attemptsAt[attemptsAt.length - 1] - attemptsAt[0] : 0,
    acquired,
    refused,
  };
}
