import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ServiceConfig } from './config';
import type { LockDocument } from './documents';
import { RollbackFailedError, describeError } from './errors';
import { ReleaseLock } from './lock';
import { withThrottlingRetry } from './retry';
import { causeMessage, markRollbackFailed, performRollback, type FailedRollbackRequest, type RollbackClients } from './rollback';
import { loadServiceConfig } from './service-config';

/** An execution that ended without its own rollback, and how it ended. */
export interface DeadExecution {
  readonly service: string;
  readonly releaseId: string;
  readonly executionArn: string;
  /** The failure to record: how the execution ended, in the catalogue's words or its own. */
  readonly failure: { readonly error: string; readonly cause: string };
}

/** What a recovery did. */
export interface RecoveryResult {
  readonly action: 'ignored' | 'unlocked-promoted' | 'rolled-back' | 'nothing-to-undo';
  readonly reason: string;
}

/**
 * Decides, from the lock as read just before acting, whether to leave the execution alone: a
 * result to return, or `null` to recover. Each trigger adds its own reasons to leave; none may
 * recover a lock that is not the dead execution's.
 */
export type LeaveRule = (held: LockDocument | null, dead: DeadExecution) => RecoveryResult | null;

/** The rule every trigger starts from: act only while the lock names the dead execution. */
export const leaveUnlessHeld: LeaveRule = (held, dead) =>
  !held || held.executionArn !== dead.executionArn ? { action: 'nothing-to-undo', reason: 'the execution does not hold the lock' } : null;

/**
 * Performs, for an execution that ended without running the state machine's own Rollback, the
 * rollback the state machine would have: the one recovery path shared by the cleanup handler
 * (execution status-change events) and the reconciler (a schedule, for the events AWS delivers
 * only best effort). Both read the lock again here, immediately before acting, and the rollback
 * changes only a lock that still names this execution (see `performRollback`), so when both
 * race, the later one finds the lock gone (or another release's) and touches nothing.
 *
 * A release the state already records as promoted only has its lock released. Any failure marks
 * the release `rollback-failed` (when the lock is this execution's), keeps the lock, and throws
 * {@link RollbackFailedError}: loud, never silent.
 */
export async function recoverDeadExecution(
  clients: RollbackClients,
  dead: DeadExecution,
  leave: LeaveRule,
  logger: Logger,
): Promise<RecoveryResult> {
  const lock = new ReleaseLock(clients.ssm, clients.sfn);
  let held: LockDocument | null = null;
  let config: ServiceConfig | null = null;
  try {
    held = await lock.read(dead.service);
    const skip = leave(held, dead);
    if (skip) {
      logger.info('Nothing of this execution to recover', {
        holder: held?.executionArn ?? null,
        lockStatus: held?.status ?? null,
        decision: skip.action,
      });
      return skip;
    }
    config = await loadServiceConfig(clients.ssm, dead.service);
    const report = await performRollback(clients, { ...requestOf(held!, dead.failure), config }, logger);
    logger.info('Recovery done', { error: dead.failure.error, outcome: report.outcome, actions: report.actions });
    switch (report.outcome) {
      case 'already-promoted':
        // Undoing a promoted release is a new release, not a cleanup. The old colour stays warm.
        return { action: 'unlocked-promoted', reason: 'the release was already promoted' };
      case 'not-ours':
      case 'already-recorded':
        return { action: 'nothing-to-undo', reason: 'the execution does not hold the lock' };
      case 'rolled-back':
      case 'failed':
        return { action: 'rolled-back', reason: `${dead.failure.error}: ${report.actions.join('; ')}` };
    }
  } catch (error) {
    throw await failLoudly(clients, error, { dead, held, config }, logger);
  }
}

/** How a finished execution ended, as DescribeExecution reports it; `DOES_NOT_EXIST` when Step Functions knows no such execution. */
export interface ExecutionEnd {
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
}

/** Asks Step Functions how `executionArn` stands (DescribeExecution), with its error and cause. */
export async function describeExecutionEnd(sfn: SFNClient, executionArn: string): Promise<ExecutionEnd> {
  try {
    const out = await withThrottlingRetry(`DescribeExecution ${executionArn}`, () => sfn.send(new DescribeExecutionCommand({ executionArn })));
    return { status: out.status ?? 'UNKNOWN', error: out.error, cause: out.cause };
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return { status: 'DOES_NOT_EXIST' };
    throw error;
  }
}

/**
 * The failure to record for an execution that ended `end.status`, in the words cleanup has always
 * used, so a release recovered by either trigger reads the same in the history.
 */
export function failureOf(executionArn: string, end: ExecutionEnd): { error: string; cause: string } {
  switch (end.status) {
    case 'ABORTED':
      return { error: 'ExecutionAbortedError', cause: `Execution ${executionArn} was stopped from outside` };
    case 'TIMED_OUT':
      return { error: 'ExecutionTimedOutError', cause: `Execution ${executionArn} hit the state machine timeout` };
    case 'DOES_NOT_EXIST':
      return {
        error: 'ExecutionNotFoundError',
        cause: `Execution ${executionArn} holds the lock but Step Functions does not know it (its history expired, or it was never started)`,
      };
    default:
      return {
        error: end.error || 'UnknownError',
        cause: causeMessage(end.cause) || `Execution ${executionArn} failed without a rollback and reported no cause`,
      };
  }
}

function requestOf(held: LockDocument, failure: { error: string; cause: string }): Omit<FailedRollbackRequest, 'config'> {
  return { service: held.service, releaseId: held.releaseId, executionArn: held.executionArn, failure, verdicts: [] };
}

/**
 * Turns any failure of a recovery into a {@link RollbackFailedError}, after recording it: the
 * lock (if it is still this execution's) becomes `rollback-failed` with the reason, and the state
 * says so. If even that fails, the error says both.
 */
async function failLoudly(
  clients: RollbackClients,
  error: unknown,
  context: { dead: DeadExecution; held: LockDocument | null; config: ServiceConfig | null },
  logger: Logger,
): Promise<RollbackFailedError> {
  const { dead, held, config } = context;
  const { service, releaseId, executionArn, failure } = dead;
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
