import * as z from 'zod';
import type { Verdict } from '../documents';
import { ValidationError } from '../errors';
import type { Progress } from '../release';

/**
 * What ShiftTraffic returns at `$.shift`, which StartBake and CheckHealth receive. Kept here
 * (a pure module) so the two bake handlers parse one shape without importing each other's
 * module-scope clients.
 */
export const ShiftResultSchema = z.object({
  stepIndex: z.number().int().min(0),
  /** Idle-colour weight this step shifted to. */
  weight: z.number().int().min(0).max(100),
  weights: z
    .object({ live: z.number().int().min(0).max(100), idle: z.number().int().min(0).max(100) })
    .refine((w) => w.live + w.idle === 100, 'live + idle must be 100'),
  /** False when the route already had these weights (a retried or repeated shift). */
  changed: z.boolean(),
  /** When the route took these weights: the bake window never starts earlier. */
  shiftedAt: z.iso.datetime({ offset: true }),
});
/** The result of a traffic shift. */
export type ShiftResult = z.infer<typeof ShiftResultSchema>;

/**
 * The state transition after a bake: appends the verdict and decides what the state machine does
 * next. Pure, so every path has a table test.
 *
 * - healthy, more steps left: `shift` to the next step, attempt 0;
 * - healthy at the last step: `promote`;
 * - unhealthy: `rollback` with an `UnhealthyReleaseError` failure;
 * - inconclusive, and one more re-bake is within `maxInconclusiveBakes`: `bake-again` at the
 *   same step with `attempt + 1`;
 * - inconclusive otherwise: `rollback` with an `InconclusiveHealthError` failure.
 *
 * `progress.attempt` counts the bakes already repeated at this step (0 on a fresh step).
 *
 * @throws ValidationError when the schedule is empty, the step is outside it, or the verdict is
 *   for another step: the state machine passed inconsistent state, and guessing could promote.
 *
 * @example
 * nextProgress({ stepIndex: 0, attempt: 0, verdicts: [], decision: 'shift', failure: null },
 *   healthyVerdict, 3, 2); // { stepIndex: 1, attempt: 0, decision: 'shift', ... }
 */
export function nextProgress(
  progress: Progress,
  verdict: Verdict,
  scheduleLength: number,
  maxInconclusiveBakes: number,
): Progress {
  const { stepIndex, attempt } = progress;
  if (!Number.isInteger(scheduleLength) || scheduleLength < 1) {
    throw new ValidationError(`Schedule length must be a positive integer, got ${scheduleLength}.`);
  }
  if (stepIndex >= scheduleLength) {
    throw new ValidationError(`Step index ${stepIndex} is outside the schedule of ${scheduleLength} steps.`);
  }
  if (verdict.stepIndex !== stepIndex) {
    throw new ValidationError(
      `The verdict is for step index ${verdict.stepIndex}, but the release is at step index ${stepIndex}.`,
    );
  }
  const verdicts = [...progress.verdicts, verdict];
  const step = `step ${stepIndex + 1} of ${scheduleLength} (${verdict.weight}% of traffic on ${verdict.colour})`;

  switch (verdict.status) {
    case 'healthy':
      if (stepIndex + 1 < scheduleLength) {
        return { stepIndex: stepIndex + 1, attempt: 0, verdicts, decision: 'shift', failure: null };
      }
      return { stepIndex, attempt, verdicts, decision: 'promote', failure: null };
    case 'unhealthy':
      return {
        stepIndex,
        attempt,
        verdicts,
        decision: 'rollback',
        failure: { Error: 'UnhealthyReleaseError', Cause: verdict.reasons.join(' ') },
      };
    case 'inconclusive': {
      if (attempt + 1 <= maxInconclusiveBakes) {
        return { stepIndex, attempt: attempt + 1, verdicts, decision: 'bake-again', failure: null };
      }
      const bakes = attempt + 1;
      return {
        stepIndex,
        attempt,
        verdicts,
        decision: 'rollback',
        failure: {
          Error: 'InconclusiveHealthError',
          Cause:
            `Health was inconclusive in ${bakes === 1 ? 'the only bake' : `${bakes} bakes in a row`} at ${step}, and ` +
            `health.maxInconclusiveBakes allows ${maxInconclusiveBakes} repeated bake${maxInconclusiveBakes === 1 ? '' : 's'}. ` +
            `${verdict.reasons.join(' ')} Send traffic to the service during bakes, lower ` +
            'health.minRequestsPerStep, or raise bakeSeconds, then release again.',
        },
      };
    }
    default: {
      const unknown: never = verdict.status;
      throw new ValidationError(`Unknown verdict status ${String(unknown)}.`);
    }
  }
}
