import { requireServiceConfigured } from '../../lambdas/api/release-status';
import { parameterNames, ReleaseStateSchema, type ReleaseSummary } from '../../lambdas/shared/documents';
import type { CommandContext } from '../context';
import { EXIT } from '../errors';
import { formatFailure, jsonText, table } from '../format';

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
 * the config's `historyLength`): id, version, outcome, colours, finished, failure.
 */
export async function history(ctx: CommandContext, options: HistoryOptions): Promise<number> {
  const { service } = options;
  await requireServiceConfigured(ctx.documents, service);
  const state = await ctx.documents.get(parameterNames(service).state, ReleaseStateSchema);
  const releases = (state?.history ?? []).slice(0, options.limit);
  if (ctx.output === 'json') {
    ctx.io.out(jsonText({ service, live: state?.live ?? null, releases }));
    return EXIT.ok;
  }
  if (releases.length === 0) {
    ctx.io.out(`Service ${service} has no releases yet.`);
    return EXIT.ok;
  }
  for (const line of historyTable(releases)) ctx.io.out(line);
  return EXIT.ok;
}

/** The history as a table. */
export function historyTable(releases: readonly ReleaseSummary[]): string[] {
  return table(
    ['RELEASE', 'VERSION', 'OUTCOME', 'COLOURS', 'FINISHED', 'FAILURE'],
    releases.map((r) => [r.id, r.version, r.outcome, `${r.fromColour} → ${r.toColour}`, r.finishedAt, formatFailure(r)]),
  );
}
