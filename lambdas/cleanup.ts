import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { ReleaseStateSchema, parameterNames } from './shared/documents';
import { RollbackFailedError } from './shared/errors';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { markRollbackFailed, performRollback, type RollbackRequest } from './shared/rollback';
import { loadServiceConfig } from './shared/service-config';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const docs = new SsmDocuments(clients.ssm);
const lock = new ReleaseLock(clients.ssm, clients.sfn);
const logger = createLogger('cleanup');

/** The parts of a "Step Functions Execution Status Change" event cleanup needs. */
const EventSchema = z.object({
  detail: z.object({
    executionArn: z.string().min(1),
    name: z.string().optional(),
    status: z.string(),
    input: z.string().nullable().optional(),
  }),
});

/** What cleanup did. */
export interface CleanupResult {
  readonly action: 'ignored' | 'unlocked-promoted' | 'rolled-back' | 'nothing-to-undo';
  readonly reason: string;
}

/**
 * Cleanup for executions stopped from outside. An aborted (StopExecution) or timed-out
 * execution runs no Catch, so this handler, triggered by the execution status-change event,
 * performs the same rollback the state machine would have, using the lock's undo plan and the
 * state document. A release already promoted only has its lock released. If the rollback
 * fails, the state records `rollback-failed`, the lock stays, and this throws so the event is
 * retried and lands in the dead-letter queue: loud, never silent.
 */
export async function handler(event: unknown): Promise<CleanupResult> {
  const { detail } = parseOrThrow(EventSchema, event, 'execution status-change event');
  if (detail.status !== 'ABORTED' && detail.status !== 'TIMED_OUT') {
    return { action: 'ignored', reason: `status ${detail.status} is handled by the state machine itself` };
  }
  const service = serviceOf(detail.input);
  if (!service) return { action: 'ignored', reason: 'execution input names no service' };

  return withReleaseKeys(logger, { releaseId: detail.name, service }, async () => {
    const held = await lock.read(service);
    if (!held || held.executionArn !== detail.executionArn) {
      logger.info('Stopped execution holds no lock; nothing to clean up', { holder: held?.executionArn ?? null });
      return { action: 'nothing-to-undo', reason: 'the execution does not hold the lock' };
    }
    const state = await docs.get(parameterNames(service).state, ReleaseStateSchema);
    if (state?.lastRelease?.id === held.releaseId && state.lastRelease.outcome === 'promoted') {
      // Stopped after the promotion write: traffic and state agree on the new colour. Undoing
      // a promoted release is a new release, not a cleanup. The old colour stays warm.
      await lock.release(service, detail.executionArn);
      logger.warn('Execution stopped after promotion; lock released, old colour left running', { status: detail.status });
      return { action: 'unlocked-promoted', reason: 'the release was already promoted' };
    }
    const failure =
      detail.status === 'ABORTED'
        ? { error: 'ExecutionAbortedError', cause: `Execution ${detail.executionArn} was stopped from outside` }
        : { error: 'ExecutionTimedOutError', cause: `Execution ${detail.executionArn} hit the state machine timeout` };
    const request: RollbackRequest = {
      service,
      releaseId: held.releaseId,
      executionArn: held.executionArn,
      config: await loadServiceConfig(clients.ssm, service),
      failure,
      verdicts: [],
    };
    try {
      const report = await performRollback(clients, request, logger);
      return { action: 'rolled-back', reason: `${failure.error}: ${report.actions.join('; ')}` };
    } catch (error) {
      const message = (error as Error).message;
      await markRollbackFailed(clients, request, message, logger);
      throw error instanceof RollbackFailedError ? error : new RollbackFailedError(message, { cause: error });
    }
  });
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
