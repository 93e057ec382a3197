import { requireServiceConfigured } from '../../lambdas/api/release-status';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import { parameterNames, ReleaseStateSchema, type ReleaseSummary } from '../../lambdas/shared/documents';
import type { CommandContext } from '../context';
import { EXIT } from '../errors';
import { formatFailure, jsonText, table } from '../format';
import { recentRejections, type RejectedRelease } from '../rejections';

/** What `ecs-release history` was asked for. */
export interface HistoryOptions {
  readonly service: string;
  /** At most this many releases, newest first. */
  readonly limit: number;
}

/** Releases shown when `--limit` is not given. */
export const DEFAULT_HISTORY_LIMIT = 10;

/**
 * `ecs-release history`: the release history the state document keeps (newest first, at most
 * the config's `historyLength`): id, version, outcome, colours, finished, failure. Releases that
 * were refused before they touched anything (a push that arrived while a release ran, a digest
 * already live) are never in the state document; they come from the state machine's failed
 * executions and are listed as `rejected`, so no refused push vanishes without a trace.
 */
export async function history(ctx: CommandContext, options: HistoryOptions): Promise<number> {
  const { service } = options;
  await requireServiceConfigured(ctx.documents, service);
  const config = await ctx.documents.get(parameterNames(service).config, ServiceConfigSchema);
  const state = await ctx.documents.get(parameterNames(service).state, ReleaseStateSchema);
  const releases = (state?.history ?? []).slice(0, options.limit);
  const stateMachineArn = config?.releaseStateMachineArn;
  const rejected = stateMachineArn ? await recentRejections(ctx.clients.sfn, stateMachineArn, options.limit) : [];
  if (ctx.output === 'json') {
    ctx.io.out(jsonText({ service, live: state?.live ?? null, releases, rejected }));
    return EXIT.ok;
  }
  if (releases.length === 0 && rejected.length === 0) {
    ctx.io.out(`Service ${service} has no releases yet.`);
    return EXIT.ok;
  }
  for (const line of historyTable(releases, rejected).slice(0, options.limit + 1)) ctx.io.out(line);
  return EXIT.ok;
}

/** The history as a table, newest first: recorded releases and refused ones interleaved by when they ended. */
export function historyTable(releases: readonly ReleaseSummary[], rejected: readonly RejectedRelease[] = []): string[] {
  const rows = [
    ...releases.map((r) => ({ finishedAt: r.finishedAt, cells: [r.id, r.version, r.outcome, `${r.fromColour} → ${r.toColour}`, r.finishedAt, formatFailure(r)] })),
    ...rejected.map((r) => ({ finishedAt: r.finishedAt, cells: [r.id, r.version ?? '-', 'rejected', '-', r.finishedAt, `${r.error}: ${r.cause}`] })),
  ];
  // Stable: with no refusals, the state document's order stands as it is.
  if (rejected.length > 0) rows.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  return table(['RELEASE', 'VERSION', 'OUTCOME', 'COLOURS', 'FINISHED', 'FAILURE'], rows.map((row) => row.cells));
}
