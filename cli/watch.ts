import { GetExecutionHistoryCommand, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import { describeExecutionOrNull } from '../lambdas/api/executions';
import { findRecord } from '../lambdas/api/release-status';
import {
  ApprovalDocumentSchema,
  LockDocumentSchema,
  parameterNames,
  ReleaseStateSchema,
  type ApprovalDocument,
  type LockDocument,
  type ReleaseOutcome,
  type ReleaseRecord,
  type ReleaseState,
  type ReleaseSummary,
} from '../lambdas/shared/documents';
import { withThrottlingRetry } from '../lambdas/shared/retry';
import type { CommandContext } from './context';
import { CliError, EXIT } from './errors';
import { formatDuration, formatVerdict, type AnyVerdict } from './format';
import { snapshotFromHistory, type ProgressView, type ReleaseSnapshot } from './progress';

/**
 * `start --wait`: follows one release until it ends, reporting progress on every poll, then
 * reads how it ended from the release history. Polls DescribeExecution, the newest history
 * events, and the lock and approval documents; the poll interval comes from the context so tests
 * run in milliseconds.
 */

/** The release being followed. */
export interface WatchTarget {
  readonly service: string;
  readonly releaseId: string;
  readonly executionArn: string;
}

/** How a followed release ended. `unknown`: the cleanup after a stop had not recorded it in time. */
export type WatchOutcome = ReleaseOutcome | 'unknown';

/** What `start --wait` reports at the end (and prints as JSON with `--output json`). */
export interface WatchResult {
  readonly service: string;
  readonly releaseId: string;
  readonly executionArn: string;
  readonly outcome: WatchOutcome;
  /** The execution's final status: SUCCEEDED, FAILED, ABORTED, TIMED_OUT. */
  readonly executionStatus: string;
  /** The execution's error and cause (set for every ending but SUCCEEDED). */
  readonly error: string | null;
  readonly cause: string | null;
  readonly durationMs: number;
  /** The release's entry in the history; `null` when it was refused before the state existed. */
  readonly record: ReleaseRecord | ReleaseSummary | null;
  /**
   * Every verdict: from the execution (full, with thresholds) unless the record kept more of
   * them (the last poll may have missed the final health check).
   */
  readonly verdicts: readonly AnyVerdict[];
  /** Which colour is live now, and what it runs, per the state document. */
  readonly live: { readonly colour: 'blue' | 'green'; readonly version: string | null; readonly image: string | null } | null;
}

/** Newest history events read per poll: enough to hold the last few states with their data. */
export const HISTORY_EVENTS_PER_POLL = 25;
/** Consecutive failed polls tolerated (network blips) before giving up on following the release. */
export const MAX_FAILED_POLLS = 5;

const RUNNING = new Set(['RUNNING', 'PENDING_REDRIVE']);

/** Follows `target` until its execution ends; `onProgress` is called after every poll. */
export async function watchRelease(
  ctx: CommandContext,
  target: WatchTarget,
  onProgress: (view: ProgressView) => void = () => undefined,
): Promise<WatchResult> {
  const names = parameterNames(target.service);
  let failedPolls = 0;
  let lastSnapshot: ReleaseSnapshot | null = null;
  let execution: DescribeExecutionCommandOutput;

  for (;;) {
    if (ctx.signal?.aborted) throw interrupted(target);
    try {
      const [found, events, lock, approval] = await Promise.all([
        describeExecutionOrNull(ctx.clients.sfn, target.executionArn),
        newestEvents(ctx, target.executionArn),
        ctx.documents.get(names.lock, LockDocumentSchema),
        ctx.documents.get(names.approval, ApprovalDocumentSchema),
      ]);
      if (!found) throw new Error(`Step Functions does not know execution ${target.executionArn} (yet)`);
      execution = found;
      failedPolls = 0;
      lastSnapshot = snapshotFromHistory(events);
      onProgress({
        snapshot: lastSnapshot,
        lock: ownLock(lock, target),
        approval: ownApproval(approval, target),
        elapsedMs: elapsedSince(ctx, execution.startDate),
        service: target.service,
      });
      if (!RUNNING.has(execution.status ?? '')) break;
    } catch (error) {
      failedPolls += 1;
      if (failedPolls >= MAX_FAILED_POLLS) {
        throw new CliError(
          `lost track of release ${target.releaseId} after ${failedPolls} failed polls: ${(error as Error).message}`,
          `the release goes on; follow it with 'ecs-release status --service ${target.service} --release-id ${target.releaseId}'`,
          EXIT.aws,
          { cause: error },
        );
      }
      ctx.logger.warn(`Could not poll release ${target.releaseId}; trying again`, { error: (error as Error).message });
    }
    await ctx.sleep(ctx.pollIntervalMs, ctx.signal);
  }

  const status = execution.status ?? 'UNKNOWN';
  let { state, lock } = await readEnding(ctx, target);
  let record = findRecord(state, target.releaseId);
  if ((status === 'ABORTED' || status === 'TIMED_OUT') && (!record || lock)) {
    // A stopped execution runs no Catch: the cleanup handler, started by the status event, rolls
    // it back outside the execution. Wait (bounded) for it to record the release and unlock.
    ctx.logger.warn(`Execution ${status}; waiting for the cleanup to roll the release back`);
    const deadline = ctx.now().getTime() + ctx.cleanupTimeoutMs;
    while ((!record || lock) && ctx.now().getTime() < deadline && !ctx.signal?.aborted) {
      await ctx.sleep(ctx.pollIntervalMs, ctx.signal);
      ({ state, lock } = await readEnding(ctx, target));
      record = findRecord(state, target.releaseId);
    }
    if (ctx.signal?.aborted) throw interrupted(target);
  }

  let outcome: WatchOutcome;
  if (record) outcome = record.outcome;
  else if (status === 'SUCCEEDED') outcome = 'promoted';
  else if (lock) outcome = 'unknown';
  else outcome = 'failed';

  const liveSlot = state ? state.colours[state.live] : null;
  return {
    service: target.service,
    releaseId: target.releaseId,
    executionArn: target.executionArn,
    outcome,
    executionStatus: status,
    error: execution.error ?? record?.failure?.error ?? null,
    cause: execution.cause ?? record?.failure?.cause ?? null,
    durationMs: durationOf(ctx, execution),
    record,
    verdicts: moreVerdicts(lastSnapshot?.verdicts ?? [], record && 'verdicts' in record ? record.verdicts : []),
    live: state && liveSlot ? { colour: state.live, version: liveSlot.version, image: liveSlot.image } : null,
  };
}

/** The exit code for each way a followed release can end: 0 only when it was promoted. */
const EXIT_BY_OUTCOME: Readonly<Record<WatchOutcome, number>> = {
  promoted: EXIT.ok,
  'rolled-back': EXIT.releaseFailed,
  failed: EXIT.releaseFailed,
  'rollback-failed': EXIT.needsOperator,
  // The execution ended but no rollback is recorded and the lock is held: not known to be clean.
  unknown: EXIT.needsOperator,
};

/** The exit code for a followed release: 0 only when it was promoted. */
export function exitCodeOf(result: WatchResult): number {
  return EXIT_BY_OUTCOME[result.outcome];
}

/** The end-of-wait summary, as text lines. */
export function summaryLines(result: WatchResult): string[] {
  const { outcome, durationMs, record } = result;
  const lines: string[] = [];
  const head = `Release ${result.releaseId} of ${result.service}:`;
  switch (outcome) {
    case 'promoted':
      lines.push(`${head} PROMOTED in ${formatDuration(durationMs)}`);
      break;
    case 'rolled-back':
      lines.push(`${head} ROLLED BACK after ${formatDuration(durationMs)}`);
      break;
    case 'rollback-failed':
      lines.push(`${head} ROLLBACK FAILED after ${formatDuration(durationMs)} — operator action needed`);
      break;
    case 'failed':
      lines.push(`${head} FAILED after ${formatDuration(durationMs)}${record ? '' : ' (nothing was changed)'}`);
      break;
    case 'unknown':
      lines.push(`${head} execution ${result.executionStatus}; the cleanup had not recorded the rollback yet`);
      break;
  }
  if (outcome !== 'promoted' && (result.error || result.cause)) {
    lines.push(`  why: ${[result.error, result.cause].filter(Boolean).join(': ')}`);
  }
  if (outcome === 'promoted' && result.executionStatus !== 'SUCCEEDED') {
    lines.push(`  note: promoted, but the execution ended ${result.executionStatus}: ${result.error ?? ''}: ${result.cause ?? ''}`);
  }
  if (result.live) {
    const what = result.live.version ? `${result.live.version}${result.live.image ? ` (${result.live.image})` : ''}` : 'an unknown version';
    lines.push(`  ${result.live.colour} is live with ${what}`);
  }
  for (const verdict of result.verdicts) lines.push(`  ${formatVerdict(verdict)}`);
  if (outcome === 'rollback-failed') {
    lines.push(
      `  the lock stays: check the route and the idle service by hand, then clear the lock (ecs-release status --service ${result.service})`,
    );
  }
  if (outcome === 'unknown') {
    lines.push(`  follow it with: ecs-release status --service ${result.service} --release-id ${result.releaseId}`);
  }
  return lines;
}

async function newestEvents(ctx: CommandContext, executionArn: string): Promise<HistoryEvent[]> {
  const out = await withThrottlingRetry(`GetExecutionHistory ${executionArn}`, () =>
    ctx.clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: HISTORY_EVENTS_PER_POLL,
        includeExecutionData: true,
      }),
    ),
  );
  return out.events ?? [];
}

/** The state document and the release's own lock, after the execution ended. */
async function readEnding(ctx: CommandContext, target: WatchTarget): Promise<{ state: ReleaseState | null; lock: LockDocument | null }> {
  const names = parameterNames(target.service);
  const [state, lock] = await Promise.all([
    ctx.documents.get(names.state, ReleaseStateSchema),
    ctx.documents.get(names.lock, LockDocumentSchema),
  ]);
  return { state, lock: ownLock(lock, target) };
}

function moreVerdicts(fromExecution: readonly AnyVerdict[], fromRecord: readonly AnyVerdict[]): readonly AnyVerdict[] {
  return fromRecord.length > fromExecution.length ? fromRecord : fromExecution;
}

function ownLock(lock: LockDocument | null, target: WatchTarget): LockDocument | null {
  return lock?.executionArn === target.executionArn ? lock : null;
}

function ownApproval(approval: ApprovalDocument | null, target: WatchTarget): ApprovalDocument | null {
  return approval?.executionArn === target.executionArn ? approval : null;
}

function elapsedSince(ctx: CommandContext, start: Date | undefined): number {
  return start ? ctx.now().getTime() - start.getTime() : 0;
}

function durationOf(ctx: CommandContext, execution: DescribeExecutionCommandOutput): number {
  if (!execution.startDate) return 0;
  return (execution.stopDate ?? ctx.now()).getTime() - execution.startDate.getTime();
}

function interrupted(target: WatchTarget): CliError {
  return new CliError(
    `stopped waiting for release ${target.releaseId}`,
    `the release goes on: follow it with 'ecs-release status --service ${target.service} --release-id ${target.releaseId}', ` +
      `or stop it with 'ecs-release abort --service ${target.service}'`,
    EXIT.interrupted,
  );
}
