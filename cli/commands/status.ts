import {
  releaseStatus,
  serviceStatus,
  type ApprovalSummary,
  type LockSummary,
  type ReleaseStatusResponse,
  type ServiceStatusResponse,
} from '../../lambdas/api/release-status';
import type { ColourSlot, ReleaseSummary, VerdictSummary } from '../../lambdas/shared/documents';
import { dashboardUrlOf, executionUrlOf } from '../../lambdas/shared/console-links';
import { loadServiceConfig } from '../../lambdas/shared/service-config';
import type { CommandContext } from '../context';
import { CliError, EXIT } from '../errors';
import { formatFailure, formatStrategy, formatVerdict, jsonText } from '../format';

/** What `ecs-release status` was asked for. */
export interface StatusOptions {
  readonly service: string;
  /** Show this release instead of the service. */
  readonly releaseId?: string;
  /** Overrides the config's `releaseStateMachineArn` (only needed with `releaseId`). */
  readonly stateMachineArn?: string;
}

/**
 * `ecs-release status`: the service's live colour, what each colour runs, the lock, a waiting
 * approval and the last release with its verdicts; or, with a release id, that release. Reads
 * what `GET /releases/...` reads, through the same functions.
 */
export async function status(ctx: CommandContext, options: StatusOptions): Promise<number> {
  const { service, releaseId } = options;
  // The region the CLI works in: the dashboard's name follows from the service alone.
  // Without a region the other calls fail with their own message; the links are only left out.
  const region = await ctx.clients.sfn.config.region().catch(() => undefined);
  if (releaseId === undefined) {
    const found = await serviceStatus(ctx.documents, ctx.clients.sfn, service);
    if (ctx.output === 'json') ctx.io.out(jsonText(found));
    else for (const line of serviceLines(found, region)) ctx.io.out(line);
    return EXIT.ok;
  }
  const config = await loadServiceConfig(ctx.clients.ssm, service);
  const stateMachineArn = options.stateMachineArn ?? config.releaseStateMachineArn;
  if (!stateMachineArn) {
    throw new CliError(
      `no release state machine is known for '${service}' (its config has no releaseStateMachineArn)`,
      'pass --state-machine-arn ARN, or run status without --release-id',
      EXIT.usage,
    );
  }
  const found = await releaseStatus(
    ctx.documents,
    ctx.clients.sfn,
    service,
    releaseId,
    stateMachineArn,
    `List its releases with 'ecs-release history --service ${service}'.`,
  );
  if (ctx.output === 'json') ctx.io.out(jsonText(found));
  else for (const line of releaseLines(found, region)) ctx.io.out(line);
  return EXIT.ok;
}

/** The service status as text; with `region`, a link to the service's release dashboard at the end. */
export function serviceLines(status: ServiceStatusResponse, region?: string): string[] {
  const lines = [`Service ${status.service}`];
  if (status.state) {
    const { live, colours } = status.state;
    const idle = live === 'blue' ? 'green' : 'blue';
    lines.push(`  live:      ${live} — ${slotText(colours[live])}`);
    lines.push(`  idle:      ${idle} — ${slotText(colours[idle])}`);
  } else {
    lines.push('  live:      unknown — no release yet (the first release records what runs)');
  }
  lines.push(...lockLines(status.lock, status.service));
  lines.push(...approvalLines(status.approval, status.service));
  if (status.lastRelease) {
    lines.push(`  last release:`);
    lines.push(...recordLines(status.lastRelease, '    '));
  } else {
    lines.push('  last release: none');
  }
  if (region) lines.push(`  dashboard: ${dashboardUrlOf(region, status.service)}`);
  return lines;
}

/** One release's status as text; with `region`, links to its execution and the dashboard at the end. */
export function releaseLines(release: ReleaseStatusResponse, region?: string): string[] {
  const lines = [`Release ${release.releaseId} of ${release.service}`];
  const execution = release.status ?? 'unknown to Step Functions (past its retention)';
  lines.push(`  execution: ${execution} — ${release.executionArn}`);
  lines.push(`  started:   ${release.startDate ?? '-'}${release.stopDate ? `, stopped ${release.stopDate}` : ''}`);
  lines.push(`  outcome:   ${release.outcome ?? (release.status === 'RUNNING' ? 'in progress' : 'not recorded')}`);
  if (release.error || release.cause) lines.push(`  error:     ${[release.error, release.cause].filter(Boolean).join(': ')}`);
  if (release.lock) lines.push(...lockLines(release.lock, release.service));
  if (release.approval) lines.push(...approvalLines(release.approval, release.service));
  if (release.record) {
    lines.push('  record:');
    lines.push(...recordLines(release.record, '    '));
  }
  if (region) {
    lines.push(`  console:   ${executionUrlOf(region, release.executionArn)}`);
    lines.push(`  dashboard: ${dashboardUrlOf(region, release.service)}`);
  }
  return lines;
}

function slotText(slot: ColourSlot): string {
  if (!slot.taskDefinitionArn) return 'nothing deployed';
  const revision = slot.taskDefinitionArn.split('/').pop();
  return `${slot.version ?? '?'} (${slot.image ?? 'image unknown'}, task definition ${revision})`;
}

function lockLines(lock: LockSummary | null, service: string): string[] {
  if (!lock) return ['  lock:      free'];
  const head = lock.stale ? 'STALE — held by' : 'held by';
  const lines = [
    `  lock:      ${head} ${lock.releaseId} (${lock.version}), status ${lock.status}, execution ${lock.executionStatus}, since ${lock.acquiredAt}`,
  ];
  if (lock.reason) lines.push(`             reason: ${lock.reason}`);
  if (lock.requestedBy) lines.push(`             requested by ${lock.requestedBy}`);
  if (lock.stale) {
    lines.push(
      '             nothing runs to release it: check the route and the idle service, then clear it with the clear-lock function',
    );
  } else if (lock.status === 'held') {
    lines.push(`             stop it with: ecs-release abort --service ${service}`);
  }
  return lines;
}

function approvalLines(approval: ApprovalSummary | null, service: string): string[] {
  if (!approval) return ['  approval:  none waiting'];
  return [
    `  approval:  ${approval.releaseId} waits at ${approval.gate} since ${approval.requestedAt} (expires ${approval.expiresAt})`,
    `             ecs-release approve --service ${service} --release-id ${approval.releaseId}`,
    `             ecs-release reject --service ${service} --release-id ${approval.releaseId} --reason TEXT`,
  ];
}

function recordLines(record: ReleaseSummary & { readonly verdicts?: readonly VerdictSummary[] }, indent: string): string[] {
  const lines = [
    `${indent}${record.id}: ${record.outcome}, ${record.version} (${record.image}) ${record.fromColour} → ${record.toColour}, ${formatStrategy(record.strategy)}`,
    `${indent}started ${record.startedAt}, finished ${record.finishedAt}${record.requestedBy ? `, requested by ${record.requestedBy}` : ''}`,
  ];
  if (record.reason) lines.push(`${indent}reason: ${record.reason}`);
  if (record.failure) lines.push(`${indent}failure: ${formatFailure(record)}`);
  for (const verdict of record.verdicts ?? []) lines.push(`${indent}${formatVerdict(verdict)}`);
  return lines;
}
