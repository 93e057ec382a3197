import { ValidationError } from './errors';
import type { PlannedRelease } from './release';

/**
 * Whether a planned release can finish inside one Standard Step Functions execution. Two AWS
 * limits bound it: the state machine's own `TimeoutSeconds` (an execution that reaches it is
 * TIMED_OUT mid-release and left to the cleanup) and the 25,000 events of an execution's history
 * (Step Functions quotas: the execution fails when it would add one more). The config allows far
 * more than either (20 steps of a day-long bake, re-baked 10 times; a one-second stability poll
 * for a day), so a release that cannot finish is refused before it touches anything.
 */

/** `TimeoutSeconds` of statemachines/release.asl.json (a test pins the two together): 8 days. */
export const EXECUTION_TIMEOUT_SECONDS = 691_200;

/** Step Functions quota: maximum history events of one Standard execution. */
export const MAX_HISTORY_EVENTS = 25_000;

/**
 * History events per state entered (Step Functions' history event types): a Lambda task is
 * entered, scheduled, started, succeeded and exited; a callback task is also "submitted"; a Choice,
 * Pass or Wait state is entered and exited.
 */
const EVENTS = { task: 5, callbackTask: 6, flow: 2 } as const;

/**
 * Everything outside the two loops, as an upper bound: the execution's own start and end, the
 * nine tasks of a release (Plan to DeployIdle, Promote, ScaleDownOldColour, ReleaseLock), both
 * approval gates with their Choice states, the scale-down wait, and a rollback (Rollback,
 * MarkRollbackFailed and their Choice and Fail states).
 */
const EVENTS_OUTSIDE_LOOPS = 2 + 9 * EVENTS.task + 2 * (EVENTS.callbackTask + EVENTS.flow) + 2 * EVENTS.flow + 2 * EVENTS.task + 3 * EVENTS.flow;

/** Retries add events (scheduled, started, failed per attempt): a quarter more, to be safe. */
const RETRY_MARGIN = 1.25;

/**
 * Time the tasks themselves may take on top of the configured waits: every Lambda task is
 * bounded by its own timeout, retried a few times. One hour is well above what they add.
 */
const TASK_ALLOWANCE_SECONDS = 3_600;

/** The worst case of a planned release: how long it can run and how many history events it can write. */
export interface ReleaseBudget {
  /** Everything the release may wait for (polls, bakes, gates, the scale-down delay). */
  readonly waitSeconds: number;
  /** The waits plus an allowance for the tasks themselves. */
  readonly seconds: number;
  readonly historyEvents: number;
  /** What the worst case is made of, for the error message. */
  readonly parts: readonly string[];
}

/** The worst case of `release`: every bake re-baked as often as allowed, every gate waited out. */
export function worstCaseOf(release: Pick<PlannedRelease, 'schedule' | 'bakeSeconds' | 'approvals' | 'config'>): ReleaseBudget {
  const { config } = release;
  const { pollSeconds, timeoutSeconds } = config.stabilization;
  // CheckStability fails the first poll past the timeout: one poll more than fit in it.
  const polls = Math.ceil(timeoutSeconds / pollSeconds) + 1;
  const bakesPerStep = 1 + config.health.maxInconclusiveBakes;
  const steps = release.schedule.length;
  const gates = Number(release.approvals.beforeTraffic) + Number(release.approvals.beforePromote);
  const scaleDown = config.promotion.keepOldColourWarm ? 0 : config.promotion.scaleDownDelaySeconds;

  const waitSeconds = polls * pollSeconds + gates * config.approvalTimeoutSeconds + steps * bakesPerStep * release.bakeSeconds + scaleDown;
  const seconds = waitSeconds + TASK_ALLOWANCE_SECONDS;

  // WaitForStability, CheckStability, IsStable per poll; ShiftTraffic and its step event per
  // step; Bake, CheckHealth and HealthDecision per bake.
  const pollEvents = polls * (EVENTS.flow + EVENTS.task + EVENTS.flow);
  const stepEvents = steps * (2 * EVENTS.task + bakesPerStep * (EVENTS.callbackTask + EVENTS.task + EVENTS.flow));
  const historyEvents = Math.ceil((EVENTS_OUTSIDE_LOOPS + pollEvents + stepEvents) * RETRY_MARGIN);

  const parts = [
    `stability: up to ${polls} polls every ${pollSeconds}s`,
    `${steps} step${steps === 1 ? '' : 's'} × up to ${bakesPerStep} bake${bakesPerStep === 1 ? '' : 's'} of ${release.bakeSeconds}s`,
    ...(gates > 0 ? [`${gates} approval gate${gates === 1 ? '' : 's'} of up to ${config.approvalTimeoutSeconds}s`] : []),
    ...(scaleDown > 0 ? [`scale-down delay ${scaleDown}s`] : []),
  ];
  return { waitSeconds, seconds, historyEvents, parts };
}

/**
 * Refuses a release that could outlive its execution or its execution's history.
 *
 * @throws ValidationError naming the limit, the worst case and what it is made of.
 */
export function assertCanFinish(release: Pick<PlannedRelease, 'schedule' | 'bakeSeconds' | 'approvals' | 'config'>): void {
  const budget = worstCaseOf(release);
  const made = budget.parts.join('; ');
  if (budget.seconds > EXECUTION_TIMEOUT_SECONDS) {
    throw new ValidationError(
      `This release could run ${budget.seconds}s, longer than the release state machine's ${EXECUTION_TIMEOUT_SECONDS}s timeout ` +
        `(${made}; plus ${TASK_ALLOWANCE_SECONDS}s for the tasks). It would be stopped half-way: ` +
        'shorten bakeSeconds, the steps, health.maxInconclusiveBakes, approvalTimeoutSeconds or the stabilization timeout.',
    );
  }
  if (budget.historyEvents > MAX_HISTORY_EVENTS) {
    throw new ValidationError(
      `This release could write ${budget.historyEvents} execution history events, more than the ${MAX_HISTORY_EVENTS} ` +
        `Step Functions allows (${made}). It would fail half-way: raise stabilization.pollSeconds, or shorten the ` +
        'stabilization timeout, the steps or health.maxInconclusiveBakes.',
    );
  }
}
