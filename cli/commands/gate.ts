import { approveGate, loadWaitingApproval, rejectGate } from '../../lambdas/api/approvals';
import { requireServiceConfigured } from '../../lambdas/api/release-status';
import type { ApprovalDocument } from '../../lambdas/shared/documents';
import type { CommandContext } from '../context';
import { CliError, EXIT } from '../errors';
import { jsonText } from '../format';

/** What `ecs-release approve` was asked to do. */
export interface ApproveOptions {
  readonly service: string;
  /** Only approve if this release is the one waiting. */
  readonly releaseId?: string;
  /** Who approves, recorded as `approvedBy`. */
  readonly by: string;
}

/** What `ecs-release reject` was asked to do. */
export interface RejectOptions extends ApproveOptions {
  /** Why, recorded in the release history. */
  readonly reason: string;
}

/**
 * `ecs-release approve`: SendTaskSuccess with the waiting gate's stored task token, through the
 * same functions as `POST /releases/{service}/approve`.
 */
export async function approve(ctx: CommandContext, options: ApproveOptions): Promise<number> {
  const approval = await waitingApproval(ctx, options);
  const output = await approveGate(ctx.clients.sfn, ctx.documents, options.service, approval, options.by, ctx.logger, ctx.now());
  if (!output) throw gateClosed(approval, options.service);
  const result = { releaseId: approval.releaseId, executionArn: approval.executionArn, gate: approval.gate, ...output };
  if (ctx.output === 'json') ctx.io.out(jsonText(result));
  else ctx.io.out(`Approved release ${approval.releaseId} of ${options.service} at ${approval.gate}; it continues.`);
  return EXIT.ok;
}

/**
 * `ecs-release reject`: SendTaskFailure(`ApprovalRejectedError`) with the waiting gate's task
 * token; the release rolls back. Same functions as `POST /releases/{service}/reject`.
 */
export async function reject(ctx: CommandContext, options: RejectOptions): Promise<number> {
  const approval = await waitingApproval(ctx, options);
  const rejected = await rejectGate(
    ctx.clients.sfn,
    ctx.documents,
    options.service,
    approval,
    { rejectedBy: options.by, reason: options.reason },
    ctx.logger,
  );
  if (!rejected) throw gateClosed(approval, options.service);
  const result = {
    releaseId: approval.releaseId,
    executionArn: approval.executionArn,
    gate: approval.gate,
    rejectedBy: options.by,
    reason: options.reason,
  };
  if (ctx.output === 'json') ctx.io.out(jsonText(result));
  else {
    ctx.io.out(`Rejected release ${approval.releaseId} of ${options.service} at ${approval.gate}; it is being rolled back.`);
    ctx.io.err(`Follow it with: ecs-release status --service ${options.service} --release-id ${approval.releaseId}`);
  }
  return EXIT.ok;
}

/** The waiting gate's document; a misspelt service says "not configured", not "nothing waiting". */
async function waitingApproval(ctx: CommandContext, options: ApproveOptions): Promise<ApprovalDocument> {
  await requireServiceConfigured(ctx.documents, options.service);
  try {
    return await loadWaitingApproval(
      ctx.documents,
      options.service,
      options.releaseId,
      `Check it with 'ecs-release status --service ${options.service}'.`,
    );
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundError') throw error;
    const [what, ...todo] = (error as Error).message.split('. ');
    throw new CliError(
      what.replace(/\.$/, ''),
      todo.join('. ').replace(/\.$/, '') || `check it with 'ecs-release status --service ${options.service}'`,
      EXIT.refused,
      { cause: error },
    );
  }
}

function gateClosed(approval: ApprovalDocument, service: string): CliError {
  return new CliError(
    `the approval gate is no longer waiting: release ${approval.releaseId} (gate ${approval.gate}) timed out or its execution ended`,
    `check it with 'ecs-release status --service ${service} --release-id ${approval.releaseId}'`,
    EXIT.refused,
  );
}
