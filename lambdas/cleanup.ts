import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { ServiceConfig } from './shared/config';
import type { LockDocument } from './shared/documents';
import { RollbackFailedError, describeError } from './shared/errors';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { causeMessage, markRollbackFailed, performRollback, type FailedRollbackRequest } from './shared/rollback';
import { loadServiceConfig } from './shared/service-config';
import { parseOrThrow } from './shared/validation';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const lock = new ReleaseLock(clients.ssm, clients.sfn);
const logger = createLogger('cleanup');

/** The parts of a "Step Functions Execution Status Change" event cleanup needs. */
const EventSchema = z.object({
  detail: z.object({
    executionArn: z.string().min(1),
    name: z.string().optional(),
    status: z.string(),
    input: z.string().nullable().optional(),
    /** The error and cause a FAILED execution ended with. */
    error: z.string().nullable().optional(),
    cause: z.string().nullable().optional(),
  }),
});
type StatusChange = z.infer<typeof EventSchema>['detail'];

/** What cleanup did. */
export interface CleanupResult {
  readonly action: 'ignored' | 'unlocked-promoted' | 'rolled-back' | 'nothing-to-undo';
  readonly reason: string;
}

/** Statuses after which no Catch of the state machine ran, so the lock may still be held. */
const ACTED_ON = new Set(['ABORTED', 'TIMED_OUT', 'FAILED']);

/**
 * Cleanup for executions that ended without their own rollback. An aborted (StopExecution) or
 * timed-out execution runs no Catch, and neither does one that failed with an error no Catch can
 * catch (`States.Runtime`, e.g. a path that selected nothing, in the middle of a traffic split).
 * Triggered by the execution status-change event, this performs the same rollback the state
 * machine would have, from the lock's undo plan and the state document. A FAILED execution is
 * acted on only while it still holds the lock: one that rolled back (lock released), was refused
 * (never held it) or ended in its own `RollbackFailedError` (lock `rollback-failed`, kept for an
 * operator) is left alone. A release the state already records as promoted only has its
 * lock released. Any failure marks the release `rollback-failed` (when the lock is this
 * execution's), keeps the lock, and throws {@link RollbackFailedError} so the event is retried and
 * lands in the dead-letter queue: loud, never silent.
 */
export async function handler(event: unknown): Promise<CleanupResult> {
  const { detail } = parseOrThrow(EventSchema, event, 'execution status-change event');
  if (!ACTED_ON.has(detail.status)) {
    return { action: 'ignored', reason: `status ${detail.status} is handled by the state machine itself` };
  }
  const service = serviceOf(detail.input);
  if (!service) return { action: 'ignored', reason: 'execution input names no service' };
  const releaseId = detail.name ?? detail.executionArn.split(':').pop()!;
  const failure = failureOf(detail);

  return withReleaseKeys(logger, { releaseId, service }, async () => {
    let held: LockDocument | null = null;
    let config: ServiceConfig | null = null;
    try {
      held = await lock.read(service);
      const skip = reasonToLeave(held, detail);
      if (skip) {
        logger.info('Nothing of this execution to clean up', {
          status: detail.status,
          holder: held?.executionArn ?? null,
          lockStatus: held?.status ?? null,
          decision: skip.action,
        });
        return skip;
      }
      config = await loadServiceConfig(clients.ssm, service);
      const report = await performRollback(clients, { ...requestOf(held!, failure), config }, logger);
      logger.info('Cleanup done', { status: detail.status, outcome: report.outcome, actions: report.actions });
      switch (report.outcome) {
        case 'already-promoted':
          // Undoing a promoted release is a new release, not a cleanup. The old colour stays warm.
          return { action: 'unlocked-promoted', reason: 'the release was already promoted' };
        case 'not-ours':
        case 'already-recorded':
          return { action: 'nothing-to-undo', reason: 'the execution does not hold the lock' };
        case 'rolled-back':
        case 'failed':
          return { action: 'rolled-back', reason: `${failure.error}: ${report.actions.join('; ')}` };
      }
    } catch (error) {
      throw await failLoudly(error, { service, releaseId, executionArn: detail.executionArn, held, config, failure });
    }
  });
}

/** Why cleanup leaves this execution's end alone (with what it returns), or `null` to roll back. */
function reasonToLeave(held: LockDocument | null, detail: StatusChange): CleanupResult | null {
  if (!held || held.executionArn !== detail.executionArn) {
    return detail.status === 'FAILED'
      ? { action: 'ignored', reason: 'the failed execution does not hold the lock: it released it (rolled back, or promoted) or never had it' }
      : { action: 'nothing-to-undo', reason: 'the execution does not hold the lock' };
  }
  if (detail.status === 'FAILED' && held.status === 'rollback-failed' && detail.error === 'RollbackFailedError') {
    // The state machine's own rollback failed and said so: that is for an operator, not a retry.
    // (A rollback-failed lock of an execution that failed otherwise was left by an earlier attempt
    // of this cleanup, and the event's retry tries again, as for a stopped execution.)
    return { action: 'ignored', reason: 'the failed execution left its lock as rollback-failed for an operator' };
  }
  return null;
}

/** The failure to record: how the execution ended, in the catalogue's words or its own. */
function failureOf(detail: StatusChange): { error: string; cause: string } {
  switch (detail.status) {
    case 'ABORTED':
      return { error: 'ExecutionAbortedError', cause: `Execution ${detail.executionArn} was stopped from outside` };
    case 'TIMED_OUT':
      return { error: 'ExecutionTimedOutError', cause: `Execution ${detail.executionArn} hit the state machine timeout` };
    default:
      return {
        error: detail.error || 'UnknownError',
        cause: causeMessage(detail.cause ?? undefined) || `Execution ${detail.executionArn} failed without a rollback and reported no cause`,
      };
  }
}

function requestOf(held: LockDocument, failure: { error: string; cause: string }): Omit<FailedRollbackRequest, 'config'> {
  return { service: held.service, releaseId: held.releaseId, executionArn: held.executionArn, failure, verdicts: [] };
}

/**
 * Turns any failure of cleanup into a {@link RollbackFailedError}, after recording it: the lock
 * (if it is still this execution's) becomes `rollback-failed` with the reason, and the state says
 * so. If even that fails, the error says both.
 */
async function failLoudly(
  error: unknown,
  context: {
    service: string;
    releaseId: string;
    executionArn: string;
    held: LockDocument | null;
    config: ServiceConfig | null;
    failure: { error: string; cause: string };
  },
): Promise<RollbackFailedError> {
  const { service, releaseId, executionArn, held, config, failure } = context;
  const message =
    error instanceof RollbackFailedError
      ? error.message
      : `Cleanup of release ${releaseId} of '${service}' failed before it could roll back; nothing was undone. ` +
        `Cause: ${describeError(error).Error}: ${describeError(error).Cause}`;
  const request: FailedRollbackRequest = held
    ? { ...requestOf(held, failure), config }
    : { service, releaseId, executionArn, failure, verdicts: [], config };
  try {
    await markRollbackFailed(clients, request, message, logger);
  } catch (markError) {
    logger.error('ROLLBACK FAILED and could not be recorded: operator action needed', {
      rollbackError: message,
      markError: describeError(markError),
    });
    return new RollbackFailedError(
      `${message}. Recording the failure also failed (${describeError(markError).Error}: ${describeError(markError).Cause}): ` +
        `check the route, the idle service and /ecs-release/${service}/lock by hand.`,
      { cause: error },
    );
  }
  return error instanceof RollbackFailedError ? error : new RollbackFailedError(message, { cause: error });
}

function serviceOf(input: string | null | undefined): string | null {
  if (!input) return null;
  try {
    const parsed = JSON.parse(input) as { service?: unknown };
    return typeof parsed.service === 'string' && parsed.service ? parsed.service : null;
  } catch {
    return null;
  }
}
