import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { Weights } from './shared/colours';
import { LockDocumentSchema, parameterNames } from './shared/documents';
import { ExecutionAbortedError, ValidationError, describeError } from './shared/errors';
import { lockProblem } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema, ProgressSchema, type PlannedRelease } from './shared/release';
import { SsmDocuments } from './shared/ssm-documents';
import { createTrafficRouter } from './shared/traffic/create-traffic-router';
import type { TrafficRouter } from './shared/traffic/traffic-router';
import { parseOrThrow } from './shared/validation';
import { WeightMetricRouter } from './shared/weight-metric';

/** What the state machine passes to ShiftTraffic. */
export const ShiftTrafficInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  progress: ProgressSchema,
});
/** ShiftTraffic input. */
export type ShiftTrafficInput = z.infer<typeof ShiftTrafficInputSchema>;

/** What ShiftTraffic returns: the split now in force for this step. */
export interface ShiftTrafficResult {
  readonly stepIndex: number;
  /** Idle-colour weight of this step, from the release's schedule. */
  readonly weight: number;
  readonly weights: Weights;
  /** False when the route already had these weights (a retried step). */
  readonly changed: boolean;
  /** ISO time the split was in force, the start of the bake window. */
  readonly shiftedAt: string;
}

const logger = createLogger('shift-traffic');
const documents = new SsmDocuments(new SSMClient({}));
// The App Mesh and ELB clients are the traffic factory's per-process defaults, created only if
// the service's traffic kind needs them.

/**
 * ShiftTraffic: moves the idle colour to the weight of the current schedule step. It refuses to
 * touch traffic unless this execution still holds the lock, and undoes itself (back to 100/0)
 * if a rollback or cleanup took the lock while the shift was in flight, so an aborted release
 * can never leave traffic on the new colour. Before giving the idle colour any weight it checks
 * that colour can serve it (an ALB target group with a healthy target).
 *
 * @throws ValidationError on invalid input or a step index outside the schedule.
 * @throws NoHealthyTargetsError when the idle colour has no healthy target (nothing is shifted).
 * @throws ExecutionAbortedError when the lock is missing, another execution's, or not `held`.
 */
export async function handler(event: unknown): Promise<ShiftTrafficResult> {
  const { release, colours, progress } = parseOrThrow(ShiftTrafficInputSchema, event, 'ShiftTraffic input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const { stepIndex } = progress;
    const weight = release.schedule[stepIndex];
    if (weight === undefined || !Number.isInteger(weight) || weight < 0 || weight > 100) {
      throw new ValidationError(
        `Step ${stepIndex} is outside release ${release.id}'s schedule [${release.schedule.join(', ')}] ` +
          'or its weight is not 0..100; the plan and the progress disagree',
      );
    }
    const weights: Weights = { live: 100 - weight, idle: weight };
    const assignment = { live: colours.live, idle: colours.idle };
    // Every split it sets (the step, or the undo of a late one) goes on the release dashboard too.
    const router = new WeightMetricRouter(createTrafficRouter(release.config.traffic, assignment), release.service, assignment, logger);
    const lockName = parameterNames(release.service).lock;

    // The lock and the idle colour's targets are independent reads: ask both at once (one round
    // trip less on every step), and judge the lock first, so a refusal is never masked by the
    // targets' answer.
    // Never move weight onto a colour that cannot serve it. Only checked on the way forward:
    // a rollback (and undoLateShift below) restores 100/0 whatever either colour's health.
    const [lockRead, targetsRead] = await Promise.allSettled([
      documents.get(lockName, LockDocumentSchema),
      weights.idle > 0 ? router.checkTargets('idle') : Promise.resolve(null),
    ]);
    if (lockRead.status === 'rejected') throw lockRead.reason;
    const before = lockRead.value;
    const refusal = lockProblem(before, release.service, release.executionArn);
    logger.info('Checked lock before shifting traffic', {
      lock: lockName,
      lockExecutionArn: before?.executionArn ?? null,
      lockStatus: before?.status ?? null,
      decision: refusal === null ? 'shift' : 'abort',
    });
    if (refusal !== null) {
      throw new ExecutionAbortedError(
        `Not shifting traffic on ${router.describe()} for release ${release.id}: ${refusal}. ` +
          'The release was aborted or is being rolled back; traffic was not touched.',
      );
    }
    if (targetsRead.status === 'rejected') throw targetsRead.reason;
    if (targetsRead.value !== null) logger.info('Idle colour can take traffic', { route: router.describe(), idleTargets: targetsRead.value });

    logger.info('Shifting traffic', {
      route: router.describe(),
      stepIndex,
      schedule: release.schedule,
      live: colours.live,
      idle: colours.idle,
      weights,
    });
    const { changed } = await router.setWeights(weights);
    const shiftedAt = new Date().toISOString();
    logger.info(changed ? 'Traffic shifted' : 'Route already had these weights; nothing sent', {
      route: router.describe(),
      weights,
      changed,
    });

    // A rollback or cleanup may have started while UpdateRoute was in flight and already reset
    // the route; our late write would then leave traffic on the idle colour. Look again.
    const after = await documents.get(lockName, LockDocumentSchema);
    const lost = lockProblem(after, release.service, release.executionArn);
    if (lost !== null) {
      await undoLateShift(router, release, lost);
    }

    return { stepIndex, weight, weights, changed, shiftedAt };
  });
}


/** Puts all traffic back on the live colour after the lock was lost mid-shift, then aborts. */
async function undoLateShift(router: TrafficRouter, release: PlannedRelease, reason: string): Promise<never> {
  const restore: Weights = { live: 100, idle: 0 };
  logger.warn('Lock lost while shifting traffic; restoring all traffic to the live colour', {
    route: router.describe(),
    reason,
    weights: restore,
  });
  try {
    await router.setWeights(restore);
  } catch (error) {
    // Keep the abort as the outcome the state machine routes on; the message tells the operator
    // what is left to do, because the cleanup that took the lock may already have finished.
    logger.error('Could not restore traffic after losing the lock', { route: router.describe(), error: describeError(error) });
    throw new ExecutionAbortedError(
      `Release ${release.id} lost its lock during a traffic shift (${reason}) and restoring ${router.describe()} ` +
        'to 100/0 failed. Check the route and set all traffic to the live colour by hand.',
      { cause: error },
    );
  }
  throw new ExecutionAbortedError(
    `Release ${release.id} lost its lock during a traffic shift (${reason}); ${router.describe()} was set back to 100/0 ` +
      'for the live colour.',
  );
}
