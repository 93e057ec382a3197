import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { LockDocument } from './shared/documents';
import { createLogger, withReleaseKeys } from './shared/logger';
import { failureOf, recoverDeadExecution, type DeadExecution, type RecoveryResult } from './shared/recovery';
import { parseOrThrow } from './shared/validation';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
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
export type CleanupResult = RecoveryResult;

/** Statuses after which no Catch of the state machine ran, so the lock may still be held. */
const ACTED_ON = new Set(['ABORTED', 'TIMED_OUT', 'FAILED']);

/**
 * Cleanup for executions that ended without their own rollback. An aborted (StopExecution) or
 * timed-out execution runs no Catch, and neither does one that failed with an error no Catch can
 * catch (`States.Runtime`, e.g. a path that selected nothing, in the middle of a traffic split).
 * Triggered by the execution status-change event, this performs (through `recoverDeadExecution`,
 * the path the reconciler shares) the same rollback the state
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
  const dead: DeadExecution = {
    service,
    releaseId,
    executionArn: detail.executionArn,
    failure: failureOf(detail.executionArn, { status: detail.status, error: detail.error ?? undefined, cause: detail.cause ?? undefined }),
  };
  return withReleaseKeys(logger, { releaseId, service }, () =>
    recoverDeadExecution(clients, dead, (held) => reasonToLeave(held, detail), logger),
  );
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

function serviceOf(input: string | null | undefined): string | null {
  if (!input) return null;
  try {
    const parsed = JSON.parse(input) as { service?: unknown };
    return typeof parsed.service === 'string' && parsed.service ? parsed.service : null;
  } catch {
    return null;
  }
}
