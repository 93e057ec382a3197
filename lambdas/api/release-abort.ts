import { StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { LockDocumentSchema, parameterNames, type LockDocument } from '../shared/documents';
import { ResourceNotFoundError, type ExecutionAbortedError } from '../shared/errors';
import { withThrottlingRetry } from '../shared/retry';
import type { SsmDocuments } from '../shared/ssm-documents';
import { inspectLock, type LockHolder } from './executions';

/**
 * Aborting a release, as the API's `POST /releases/{service}/abort` and the `ecs-release abort`
 * CLI do it: find the release that holds the lock, decide whether stopping it makes sense, and
 * stop it. The execution runs no Catch when stopped; the cleanup handler, triggered by the
 * ABORTED status event, rolls it back and releases the lock.
 */

/** The error the stopped execution records; the cleanup handler reports the release with it. */
const ABORTED: ExecutionAbortedError['name'] = 'ExecutionAbortedError';

/**
 * What holds the lock, as far as aborting goes:
 * - `running`: stop it;
 * - `stale`: its execution has ended (or its rollback failed). StopExecution would stop nothing
 *   and send no ABORTED event, so the cleanup would never run: the lock needs an operator;
 * - `rolling-back`: already being undone; stopping it would only interrupt the rollback.
 */
export type AbortTarget =
  | { readonly kind: 'running'; readonly holder: LockHolder }
  | { readonly kind: 'stale'; readonly holder: LockHolder }
  | { readonly kind: 'rolling-back'; readonly holder: LockHolder };

/**
 * Reads the lock of `service` and classifies its holder (see {@link AbortTarget}).
 *
 * @throws ResourceNotFoundError when no release holds the lock, or when `expectedReleaseId` is
 *   given and another release holds it (nothing is stopped that the caller did not name).
 */
export async function findAbortTarget(
  documents: SsmDocuments,
  sfn: SFNClient,
  service: string,
  expectedReleaseId?: string,
): Promise<AbortTarget> {
  const lock = await documents.get(parameterNames(service).lock, LockDocumentSchema);
  if (!lock) {
    throw new ResourceNotFoundError(`Service '${service}': no release is running, so there is nothing to abort.`);
  }
  if (expectedReleaseId !== undefined && expectedReleaseId !== lock.releaseId) {
    throw new ResourceNotFoundError(
      `Service '${service}': release ${expectedReleaseId} is not running; release ${lock.releaseId} is. Nothing was stopped.`,
    );
  }
  const holder = await inspectLock(sfn, lock);
  if (!holder.active) return { kind: 'stale', holder };
  if (lock.status !== 'held') return { kind: 'rolling-back', holder };
  return { kind: 'running', holder };
}

/** The abort cause recorded with the release: `Aborted by <who>[: <reason>]`. */
export function abortCause(abortedBy: string, reason?: string): string {
  return `Aborted by ${abortedBy}${reason ? `: ${reason}` : ''}`;
}

/** StopExecution of the lock's execution with `ExecutionAbortedError` and `cause`. */
export async function stopRelease(sfn: SFNClient, lock: LockDocument, cause: string): Promise<void> {
  await withThrottlingRetry(`StopExecution ${lock.releaseId}`, () =>
    sfn.send(new StopExecutionCommand({ executionArn: lock.executionArn, error: ABORTED, cause })),
  );
}
