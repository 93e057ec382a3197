import { staleLockMessage } from '../../lambdas/api/executions';
import { abortCause, findAbortTarget, stopRelease } from '../../lambdas/api/release-abort';
import { requireServiceConfigured } from '../../lambdas/api/release-status';
import type { CommandContext } from '../context';
import { CliError, EXIT } from '../errors';
import { jsonText } from '../format';

/** What `ecs-release abort` was asked to do. */
export interface AbortOptions {
  readonly service: string;
  /** Only abort if this release is the one running. */
  readonly releaseId?: string;
  readonly reason?: string;
  /** Who aborts, recorded in the abort cause. */
  readonly by: string;
}

/**
 * `ecs-release abort`: StopExecution of the execution holding the lock, with
 * `ExecutionAbortedError`; the cleanup handler rolls the release back. Refuses when nothing runs,
 * when the release is already rolling back, and when the lock is stale. Same functions as
 * `POST /releases/{service}/abort`.
 */
export async function abort(ctx: CommandContext, options: AbortOptions): Promise<number> {
  const { service } = options;
  await requireServiceConfigured(ctx.documents, service);
  let target;
  try {
    target = await findAbortTarget(ctx.documents, ctx.clients.sfn, service, options.releaseId);
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundError') throw error;
    throw new CliError(
      (error as Error).message.replace(/\.$/, ''),
      `check the service with 'ecs-release status --service ${service}'`,
      EXIT.refused,
      { cause: error },
    );
  }
  const { lock } = target.holder;
  if (target.kind === 'stale') throw new CliError('stale release lock', staleLockMessage(target.holder), EXIT.refused);
  if (target.kind === 'rolling-back') {
    throw new CliError(
      `release ${lock.releaseId} of '${service}' is already rolling back (lock status '${lock.status}'); stopping it would interrupt the rollback`,
      `follow it with 'ecs-release status --service ${service} --release-id ${lock.releaseId}'`,
      EXIT.refused,
    );
  }
  const cause = abortCause(options.by, options.reason);
  await stopRelease(ctx.clients.sfn, lock, cause);
  const result = { releaseId: lock.releaseId, executionArn: lock.executionArn, cause };
  if (ctx.output === 'json') ctx.io.out(jsonText(result));
  else {
    ctx.io.out(`Stopping release ${lock.releaseId} of ${service}; the cleanup handler rolls it back and releases the lock.`);
    ctx.io.err(`Follow it with: ecs-release status --service ${service} --release-id ${lock.releaseId}`);
  }
  return EXIT.ok;
}
