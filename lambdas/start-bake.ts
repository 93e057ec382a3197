import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { type BakeDocument, BakeDocumentSchema, parameterNames } from './shared/documents';
import { AlarmTriggeredError, ValidationError } from './shared/errors';
import { describeAlarmStates } from './shared/health/cloudwatch-health-check';
import { ShiftResultSchema } from './shared/health/progress';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema, ProgressSchema } from './shared/release';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const logger = createLogger('start-bake');
const cloudwatch = new CloudWatchClient({});
const documents = new SsmDocuments(new SSMClient({}));

/** Input of the StartBake step: the task token from `$$.Task.Token` plus the release state. */
export const StartBakeInputSchema = z.object({
  taskToken: z.string().min(1),
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  progress: ProgressSchema,
  shift: ShiftResultSchema,
});
/** Input of the StartBake step. */
export type StartBakeInput = z.infer<typeof StartBakeInputSchema>;

/** What StartBake returns (ignored by a `.waitForTaskToken` task, useful in logs and tests). */
export interface StartBakeResult {
  readonly bakeStartedAt: string;
}

/**
 * StartBake: runs as a `.waitForTaskToken` task whose `TimeoutSeconds` is the bake time. It
 * publishes the task token in the bake document so the alarm-watcher can fail the bake the moment
 * a watched alarm goes to ALARM; if nothing does, the task times out and CheckHealth judges the
 * window.
 *
 * The document is written before the alarms are read: an alarm that changes state after the read
 * then finds the token, and one already in ALARM (which sends no new event) is caught by the read.
 *
 * @throws AlarmTriggeredError when a watched alarm is already in ALARM.
 * @throws ResourceNotFoundError when a watched alarm does not exist (nothing could fail the bake).
 * @throws ValidationError for malformed input.
 */
export async function handler(event: unknown): Promise<StartBakeResult> {
  const input = parseOrThrow(StartBakeInputSchema, event, 'StartBake input');
  const { taskToken, release, colours, progress, shift } = input;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    if (shift.stepIndex !== progress.stepIndex) {
      throw new ValidationError(
        `StartBake got a shift for step index ${shift.stepIndex}, but the release is at step index ${progress.stepIndex}.`,
      );
    }
    const alarms = release.config.health.alarms;
    const alarmNames = [...new Set([...alarms.common, ...alarms[colours.idle]])];
    const bakeStartedAt = new Date().toISOString();
    const bake: BakeDocument = {
      releaseId: release.id,
      executionArn: release.executionArn,
      taskToken,
      stepIndex: shift.stepIndex,
      weight: shift.weight,
      alarmNames,
      startedAt: bakeStartedAt,
    };
    // Parsed before writing so the watcher can never read a document that does not match its schema.
    const name = parameterNames(release.service).bake;
    await documents.put(name, parseOrThrow(BakeDocumentSchema, bake, 'bake document'), {
      overwrite: true,
      description: `Running bake of release ${release.id}`,
    });
    logger.info('Bake started', {
      parameter: name,
      colour: colours.idle,
      stepIndex: shift.stepIndex,
      weight: shift.weight,
      attempt: progress.attempt,
      bakeSeconds: release.bakeSeconds,
      alarmNames,
    });

    if (alarmNames.length === 0) {
      logger.info('No alarms watched during this bake', { stepIndex: shift.stepIndex });
      return { bakeStartedAt };
    }
    const { inAlarm } = await describeAlarmStates(cloudwatch, alarmNames);
    logger.info('Alarm states at bake start', { alarmNames, inAlarm });
    if (inAlarm.length > 0) {
      throw new AlarmTriggeredError(
        `Alarm${inAlarm.length === 1 ? '' : 's'} ${inAlarm.join(', ')} ${inAlarm.length === 1 ? 'was' : 'were'} ` +
          `already in ALARM when the bake of step ${shift.stepIndex + 1} (${shift.weight}% on ${colours.idle}) ` +
          `started; rolling back release ${release.id}.`,
      );
    }
    return { bakeStartedAt };
  });
}
