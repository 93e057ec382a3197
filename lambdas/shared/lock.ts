import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { LockDocumentSchema, parameterNames, type LockDocument } from './documents';
import { ReleaseInProgressError, StaleLockError, StateConflictError } from './errors';
import type { PlannedRelease } from './release';
import { withThrottlingRetry } from './retry';
import { SsmDocuments } from './ssm-documents';

/**
 * The per-service release lock: `/ecs-release/<service>/lock`, created with `Overwrite: false`
 * so that exactly one execution wins. It also carries the undo plan, so a cleanup that runs
 * outside the execution knows what to restore.
 */
export class ReleaseLock {
  private readonly docs: SsmDocuments;

  constructor(
    ssm: SSMClient,
    private readonly sfn: SFNClient,
  ) {
    this.docs = new SsmDocuments(ssm);
  }

  /** Reads the lock of `service`; `null` when nobody holds it. */
  read(service: string): Promise<LockDocument | null> {
    return this.docs.get(parameterNames(service).lock, LockDocumentSchema);
  }

  /**
   * Takes the lock for `release`. Re-running for the same execution is a no-op. A lock held by
   * a running execution is a {@link ReleaseInProgressError}; one held by an execution that is
   * no longer running, or left by a failed rollback, is a {@link StaleLockError}: never taken
   * over silently.
   */
  async acquire(release: PlannedRelease, now: Date = new Date()): Promise<LockDocument> {
    const lock: LockDocument = {
      service: release.service,
      releaseId: release.id,
      executionArn: release.executionArn,
      acquiredAt: now.toISOString(),
      image: release.image,
      version: release.version,
      strategy: release.strategy,
      requestedBy: release.requestedBy,
      requestReason: release.reason,
      status: 'held',
      reason: null,
      undo: null,
    };
    const name = parameterNames(release.service).lock;
    if (await this.docs.put(name, lock, { overwrite: false, description: `Release lock for ${release.service}` })) {
      return lock;
    }
    const holder = await this.read(release.service);
    if (!holder) {
      // Deleted between our put and our read: the other release just finished. Try once more.
      if (await this.docs.put(name, lock, { overwrite: false })) return lock;
      const again = await this.read(release.service);
      if (!again) throw new StateConflictError(`Lock ${name} keeps changing; try again`);
      return this.refuse(again, release);
    }
    return this.refuse(holder, release);
  }

  private async refuse(holder: LockDocument, release: PlannedRelease): Promise<LockDocument> {
    if (holder.executionArn === release.executionArn) return holder;
    if (holder.status === 'rollback-failed') {
      throw new StaleLockError(
        `Service '${release.service}' is locked by release ${holder.releaseId}, whose rollback failed: ${holder.reason ?? 'no reason recorded'}. ` +
          'Check traffic and the idle service by hand, then clear the lock with the clear-lock function.',
      );
    }
    const status = await this.executionStatus(holder.executionArn);
    if (status === 'RUNNING') {
      throw new ReleaseInProgressError(release.service, holder.executionArn, holder.releaseId);
    }
    throw new StaleLockError(
      `Service '${release.service}' is locked by release ${holder.releaseId}, but its execution is ${status}. ` +
        'Its cleanup did not run or did not finish. Check the route and the idle service, then clear the lock with the clear-lock function.',
    );
  }

  /** The status of an execution, or `DOES_NOT_EXIST`. */
  async executionStatus(executionArn: string): Promise<string> {
    try {
      const out = await withThrottlingRetry(`DescribeExecution ${executionArn}`, () =>
        this.sfn.send(new DescribeExecutionCommand({ executionArn })),
      );
      return out.status ?? 'UNKNOWN';
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return 'DOES_NOT_EXIST';
      throw error;
    }
  }

  /**
   * Changes the lock held by `executionArn`. Throws {@link StateConflictError} when the lock is
   * gone or belongs to someone else: a release must never write another release's lock.
   */
  async update(service: string, executionArn: string, change: (lock: LockDocument) => LockDocument): Promise<LockDocument> {
    const current = await this.read(service);
    if (!current || current.executionArn !== executionArn) {
      throw new StateConflictError(
        `The lock of '${service}' is ${current ? `held by ${current.executionArn}` : 'gone'}; execution ${executionArn} no longer owns it`,
      );
    }
    const next = change(current);
    await this.docs.put(parameterNames(service).lock, next, { overwrite: true });
    return next;
  }

  /**
   * Deletes the lock if `executionArn` holds it. Returns what happened, never deletes someone
   * else's lock, and treats an already-deleted lock as released (idempotent).
   */
  async release(service: string, executionArn: string): Promise<'released' | 'not-held' | 'held-by-other'> {
    const current = await this.read(service);
    if (!current) return 'not-held';
    if (current.executionArn !== executionArn) return 'held-by-other';
    await this.docs.delete(parameterNames(service).lock);
    return 'released';
  }
}

/**
 * Why the execution `executionArn` may not act on `service` (move traffic, deploy, promote), or
 * `null` when it holds the lock with status `held`. A step that finds a problem must not touch
 * anything: the release was aborted or is being rolled back.
 */
export function lockProblem(lock: LockDocument | null, service: string, executionArn: string): string | null {
  if (lock === null) return `lock ${parameterNames(service).lock} does not exist`;
  if (lock.executionArn !== executionArn) {
    return `the lock belongs to execution ${lock.executionArn} (release ${lock.releaseId})`;
  }
  if (lock.status !== 'held') return `the lock's status is '${lock.status}'`;
  return null;
}

/** True when `lock` is held, by `executionArn`, and not being rolled back. */
export function isActiveLockOf(lock: LockDocument | null, executionArn: string): boolean {
  return lock !== null && lockProblem(lock, lock.service, executionArn) === null;
}
