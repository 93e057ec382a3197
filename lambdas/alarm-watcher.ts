import { SFNClient, SendTaskFailureCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { type BakeDocument, BakeDocumentSchema, LockDocumentSchema, parameterNames } from './shared/documents';
import { AwsCallFailedError } from './shared/errors';
import { isActiveLockOf } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { withThrottlingRetry } from './shared/retry';
import { SsmDocuments } from './shared/ssm-documents';
import { listRegisteredServices, registryPathFromEnv, settleEach } from './shared/registry';
import { parseOrThrow } from './shared/validation';

const logger = createLogger('alarm-watcher');
const sfn = new SFNClient({});
const ssmClient = new SSMClient({});
const documents = new SsmDocuments(ssmClient);

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
  /** Each release whose bake watches the alarm, and what was done to it (absent when none was found). */
  readonly releases?: readonly BakeOutcome[];
}

/** What the watcher did to one service's running bake. */
export interface BakeOutcome {
  readonly service: string;
  readonly releaseId: string;
  readonly action: 'failed-bake' | 'ignored';
  readonly reason: string;
}

/** GetParameter calls in flight at once while looking for the bakes that watch an alarm. */
const READ_CONCURRENCY = 8;

/**
 * The alarm-watcher: fails the running bake the moment one of its alarms goes to ALARM, so a bad
 * release rolls back now rather than at the end of the bake. One watcher serves every service
 * registered with the engine (the registry path is `RELEASE_REGISTRY_PATH`).
 *
 * It finds the release an alarm belongs to from the bake documents themselves: each lists the
 * alarms it watches, so nothing depends on how alarms are named (an alarm shared by several
 * services fails each of their bakes). It then acts only when the lock is `held` by the bake's
 * execution; anything else is ignored, so a stale bake document of a finished release is
 * harmless. A token whose task already ended is ignored too: events may be duplicated or late.
 * One service's unreadable documents or failed call never keep another's bake from being failed;
 * the error is thrown after every service was handled, so Lambda retries (each step is idempotent).
 *
 * @throws ValidationError when the event is not an alarm state change or `RELEASE_REGISTRY_PATH` is unset.
 */
export async function handler(event: unknown): Promise<AlarmWatcherResult> {
  const registryPath = registryPathFromEnv();
  const { time, detail } = parseOrThrow(AlarmStateChangeEventSchema, event, 'CloudWatch Alarm State Change event');
  const { alarmName, state } = detail;
  const facts = { alarmName, state: state.value, previousState: detail.previousState?.value ?? null };
  if (state.value !== 'ALARM') {
    return ignore(`Alarm ${alarmName} went to ${state.value}, not ALARM.`, facts);
  }

  const registry = await listRegisteredServices(ssmClient, registryPath);
  for (const entry of registry.invalid) logger.error('Registry entry ignored', { ...entry });
  const reads = await settleEach(registry.services, READ_CONCURRENCY, (service) => documents.get(parameterNames(service).bake, BakeDocumentSchema));
  const failures: { service: string; error: unknown }[] = [];
  const watching: { service: string; bake: BakeDocument }[] = [];
  reads.forEach((read, index) => {
    const service = registry.services[index];
    if (read.status === 'rejected') failures.push({ service, error: read.reason });
    else if (read.value !== null && read.value.alarmNames.includes(alarmName)) watching.push({ service, bake: read.value });
  });
  if (watching.length === 0 && failures.length === 0) {
    return ignore(`No running bake of the ${registry.services.length} registered services watches alarm ${alarmName}.`, facts);
  }

  const outcomes = await settleEach(watching, READ_CONCURRENCY, ({ service, bake }) =>
    withReleaseKeys(logger, { service, releaseId: bake.releaseId }, () => failBake(service, bake, facts, time, state)),
  );
  const releases: BakeOutcome[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') releases.push(outcome.value);
    else failures.push({ service: watching[index].service, error: outcome.reason });
  });
  if (failures.length > 0) {
    for (const { service, error } of failures) logger.error('Could not handle the alarm for a service', { ...facts, service, error: describe(error) });
    throw new AwsCallFailedError(
      `Alarm ${alarmName}: ${failures.map(({ service, error }) => `${service}: ${describe(error)}`).join('; ')}. ` +
        `Handled: ${releases.map((r) => `${r.service} ${r.action}`).join(', ') || 'none'}. Lambda retries the event; each step is idempotent.`,
      { cause: failures[0].error },
    );
  }
  const failed = releases.filter((r) => r.action === 'failed-bake');
  return {
    action: failed.length > 0 ? 'failed-bake' : 'ignored',
    reason: releases.map((r) => r.reason).join(' | '),
    releases,
  };
}

/** Fails one service's bake on `alarmName`, when its lock is still held by the bake's execution. */
async function failBake(
  service: string,
  bake: BakeDocument,
  facts: Record<string, unknown> & { alarmName: string },
  time: string,
  state: { reason?: string; timestamp?: string },
): Promise<BakeOutcome> {
  const { alarmName } = facts;
  const bakeFacts = { ...facts, service, bakeExecutionArn: bake.executionArn, stepIndex: bake.stepIndex, watched: bake.alarmNames };
  const outcome = (action: BakeOutcome['action'], reason: string): BakeOutcome => ({ service, releaseId: bake.releaseId, action, reason });
  const lock = await documents.get(parameterNames(service).lock, LockDocumentSchema);
  if (!isActiveLockOf(lock, bake.executionArn)) {
    // The bake document outlived its release, or a rollback has already begun: failing its token
    // would at best do nothing and at worst interrupt that rollback's own work.
    const reason =
      lock === null
        ? `No lock is held for ${service}, so the bake of release ${bake.releaseId} is not running.`
        : `The lock of ${service} (${lock.status}, execution ${lock.executionArn}) is not held by the bake's execution ${bake.executionArn}.`;
    logger.info('Alarm event ignored', { ...bakeFacts, lockExecutionArn: lock?.executionArn ?? null, lockStatus: lock?.status ?? null, reason });
    return outcome('ignored', reason);
  }

  const at = state.timestamp ?? time;
  const cause = `Alarm ${alarmName} went to ALARM at ${at}: ${state.reason ?? 'no reason given'}`.slice(0, MAX_CAUSE_LENGTH);
  try {
    await withThrottlingRetry(`SendTaskFailure ${bake.executionArn}`, () =>
      sfn.send(new SendTaskFailureCommand({ taskToken: bake.taskToken, error: 'AlarmTriggeredError', cause })),
    );
  } catch (error) {
    if (error instanceof Error && ENDED_TASK_ERRORS.has(error.name)) {
      const reason = `The bake of release ${bake.releaseId} of ${service} already ended (${error.name}).`;
      logger.info('Alarm event ignored', { ...bakeFacts, reason });
      return outcome('ignored', reason);
    }
    throw error;
  }
  const reason = `Failed the bake of release ${bake.releaseId} of ${service} at step ${bake.stepIndex + 1}: alarm ${alarmName} went to ALARM at ${at}.`;
  logger.warn('Bake failed by alarm', { ...bakeFacts, reason, alarmReason: state.reason ?? null, at });
  return outcome('failed-bake', reason);
}

function ignore(reason: string, facts: Record<string, unknown>): AlarmWatcherResult {
  logger.info('Alarm event ignored', { ...facts, reason });
  return { action: 'ignored', reason };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
