import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { ReleaseStateSchema, parameterNames, type ReleaseRecord } from './shared/documents';
import { AlarmTriggeredError, ExecutionAbortedError, StateConflictError } from './shared/errors';
import { describeAlarmStates } from './shared/health/cloudwatch-health-check';
import { isActiveLockOf, ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema, ProgressSchema } from './shared/release';
import { hasRecorded, promote } from './shared/release-state';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const ssm = new SSMClient({});
const docs = new SsmDocuments(ssm);
const lock = new ReleaseLock(ssm, new SFNClient({}));
const cloudwatch = new CloudWatchClient({});
const logger = createLogger('promote-release');

const InputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  taskDefinition: z.object({ taskDefinitionArn: z.string().min(1) }),
  progress: ProgressSchema,
});

/** What promotion changed. */
export interface PromoteOutput {
  readonly live: string;
  readonly previousLive: string;
  readonly promotedAt: string;
  readonly alreadyPromoted: boolean;
}

/**
 * Promote step: flips the release state in one write (the idle colour becomes live, its slot
 * records the new revision, the release goes into the history with every verdict). Re-running
 * after a timeout finds the release recorded and changes nothing.
 *
 * Right before the write it reads the idle colour's alarms (`health.alarms.common` plus the
 * colour's own) once more: after an approval wait the last bake's token is stale, so an alarm
 * that fired during the wait could not interrupt anything, and the last verdict is old.
 *
 * @throws AlarmTriggeredError naming every alarm in ALARM; nothing is written (the state machine rolls back).
 * @throws ResourceNotFoundError when a configured alarm does not exist; nothing is written.
 * @throws ExecutionAbortedError when this execution no longer holds the lock as `held`.
 * @throws StateConflictError when the state is gone or says another colour is live than at the start.
 */
export async function handler(event: unknown): Promise<PromoteOutput> {
  const { release, colours, taskDefinition, progress } = parseOrThrow(InputSchema, event, 'Promote input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const name = parameterNames(release.service).state;
    const state = await docs.get(name, ReleaseStateSchema);
    if (!state) throw new StateConflictError(`State ${name} disappeared during the release`);
    const now = new Date();
    if (hasRecorded(state, release.id) && state.lastRelease?.outcome === 'promoted') {
      logger.info('Release already promoted; nothing to do');
      return { live: state.live, previousLive: colours.live, promotedAt: state.lastRelease.finishedAt, alreadyPromoted: true };
    }
    if (state.live !== colours.live) {
      throw new StateConflictError(
        `State ${name} says ${state.live} is live, but this release started with ${colours.live} live; it was changed during the release`,
      );
    }
    // A stopped execution may still have this Lambda in flight: never flip the state without the lock.
    if (!isActiveLockOf(await lock.read(release.service), release.executionArn)) {
      throw new ExecutionAbortedError(`Release ${release.id} no longer holds the lock of '${release.service}'; not promoting`);
    }
    const alarms = release.config.health.alarms;
    const alarmNames = [...new Set([...alarms.common, ...alarms[colours.idle]])];
    const { inAlarm } = alarmNames.length > 0 ? await describeAlarmStates(cloudwatch, alarmNames) : { inAlarm: [] };
    logger.info('Alarm states before promotion', {
      colour: colours.idle,
      alarmNames,
      inAlarm,
      decision: inAlarm.length > 0 ? 'roll back' : 'promote',
    });
    if (inAlarm.length > 0) {
      throw new AlarmTriggeredError(
        `Alarm${inAlarm.length === 1 ? '' : 's'} ${inAlarm.join(', ')} ${inAlarm.length === 1 ? 'is' : 'are'} in ALARM for ${colours.idle} ` +
          `just before promoting release ${release.id}; not promoting, rolling back.`,
      );
    }
    const record: ReleaseRecord = {
      id: release.id,
      executionArn: release.executionArn,
      image: release.image,
      version: release.version,
      fromColour: colours.live,
      toColour: colours.idle,
      strategy: release.strategy,
      outcome: 'promoted',
      startedAt: release.startedAt,
      finishedAt: now.toISOString(),
      requestedBy: release.requestedBy,
      reason: release.reason,
      failure: null,
      verdicts: progress.verdicts,
    };
    const next = promote(
      state,
      record,
      { taskDefinitionArn: taskDefinition.taskDefinitionArn, image: release.image, version: release.version },
      release.config.historyLength,
      now,
    );
    await docs.put(name, next, { overwrite: true });
    logger.info('Promoted', { live: next.live, taskDefinitionArn: taskDefinition.taskDefinitionArn });
    return { live: next.live, previousLive: colours.live, promotedAt: record.finishedAt, alreadyPromoted: false };
  });
}
