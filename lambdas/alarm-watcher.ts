import { SFNClient, SendTaskFailureCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { BakeDocumentSchema, LockDocumentSchema, parameterNames } from './shared/documents';
import { ValidationError } from './shared/errors';
import { isActiveLockOf } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { withThrottlingRetry } from './shared/retry';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const logger = createLogger('alarm-watcher');
const sfn = new SFNClient({});
const documents = new SsmDocuments(new SSMClient({}));

/** Step Functions' limit on a task failure's `cause`. */
const MAX_CAUSE_LENGTH = 32768;

/** SendTaskFailure errors that mean the bake already ended: nothing left to fail. */
const ENDED_TASK_ERRORS = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** The parts of an EventBridge "CloudWatch Alarm State Change" event the watcher reads. */
export const AlarmStateChangeEventSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  time: z.string(),
  detail: z.object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.string(),
      reason: z.string().optional(),
      timestamp: z.string().optional(),
    }),
    previousState: z.object({ value: z.string() }).optional(),
  }),
});
/** An alarm state change event. */
export type AlarmStateChangeEvent = z.infer<typeof AlarmStateChangeEventSchema>;

/** What the watcher did, and why. */
export interface AlarmWatcherResult {
  readonly action: 'failed-bake' | 'ignored';
  readonly reason: string;
}

/**
 * The alarm-watcher: fails the running bake the moment one of its alarms goes to ALARM, so a bad
 * release rolls back now rather than at the end of the bake. One watcher per release pipeline;
 * the service is the `SERVICE_NAME` environment variable.
 *
 * It acts only when the alarm went to ALARM, a bake is running (bake document present), the alarm
 * is one that bake watches, and the lock is `held` by the bake's execution; anything else is
 * ignored, so a stale bake document of a finished release is harmless. A token whose task already
 * ended is ignored too: events may be duplicated or late.
 *
 * @throws ValidationError when the event is not an alarm state change or `SERVICE_NAME` is unset.
 */
export async function handler(event: unknown): Promise<AlarmWatcherResult> {
  const service = process.env.SERVICE_NAME;
  if (!service) {
    throw new ValidationError('Environment variable SERVICE_NAME is not set; set it to the service this watcher guards.');
  }
  const { time, detail } = parseOrThrow(AlarmStateChangeEventSchema, event, 'CloudWatch Alarm State Change event');
  return withReleaseKeys(logger, { service }, async () => {
    const { alarmName, state } = detail;
    const facts = { alarmName, state: state.value, previousState: detail.previousState?.value ?? null };
    if (state.value !== 'ALARM') {
      return ignore(`Alarm ${alarmName} went to ${state.value}, not ALARM.`, facts);
    }

    const names = parameterNames(service);
    const bake = await documents.get(names.bake, BakeDocumentSchema);
    if (bake === null) {
      return ignore(`No bake is running for ${service} (no ${names.bake}).`, facts);
    }
    logger.appendKeys({ releaseId: bake.releaseId });
    const bakeFacts = { ...facts, bakeExecutionArn: bake.executionArn, stepIndex: bake.stepIndex, watched: bake.alarmNames };
    if (!bake.alarmNames.includes(alarmName)) {
      return ignore(`Alarm ${alarmName} is not watched by the bake of release ${bake.releaseId}.`, bakeFacts);
    }

    const lock = await documents.get(names.lock, LockDocumentSchema);
    if (!isActiveLockOf(lock, bake.executionArn)) {
      // The bake document outlived its release, or a rollback has already begun: failing its token
      // would at best do nothing and at worst interrupt that rollback's own work.
      return ignore(
        lock === null
          ? `No lock is held for ${service}, so the bake of release ${bake.releaseId} is not running.`
          : `The lock (${lock.status}, execution ${lock.executionArn}) is not held by the bake's execution ${bake.executionArn}.`,
        { ...bakeFacts, lockExecutionArn: lock?.executionArn ?? null, lockStatus: lock?.status ?? null },
      );
    }

    const at = state.timestamp ?? time;
    const cause = `Alarm ${alarmName} went to ALARM at ${at}: ${state.reason ?? 'no reason given'}`.slice(
      0,
      MAX_CAUSE_LENGTH,
    );
    try {
      await withThrottlingRetry(`SendTaskFailure ${bake.executionArn}`, () =>
        sfn.send(new SendTaskFailureCommand({ taskToken: bake.taskToken, error: 'AlarmTriggeredError', cause })),
      );
    } catch (error) {
      if (error instanceof Error && ENDED_TASK_ERRORS.has(error.name)) {
        return ignore(`The bake of release ${bake.releaseId} already ended (${error.name}).`, bakeFacts);
      }
      throw error;
    }
    const reason = `Failed the bake of release ${bake.releaseId} at step ${bake.stepIndex + 1}: alarm ${alarmName} went to ALARM at ${at}.`;
    logger.warn('Bake failed by alarm', { ...bakeFacts, reason, alarmReason: state.reason ?? null, at });
    return { action: 'failed-bake', reason };
  });
}

function ignore(reason: string, facts: Record<string, unknown>): AlarmWatcherResult {
  logger.info('Alarm event ignored', { ...facts, reason });
  return { action: 'ignored', reason };
}
