/**
 * What the release page shows, read from the local AWS endpoint the way every other client reads
 * it: SDK clients pointed at the endpoint, and the same functions the API and the `ecs-release`
 * CLI use (the documents' schemas, the lock holder lookup, the progress snapshot from the
 * execution history, the `TrafficRouter`, the health metric source, the approval gate). Nothing
 * here reaches into the local world's objects, so the page shows what an AWS account would.
 */
import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { snapshotFromHistory } from '../../cli/progress';
import { approveGate, loadWaitingApproval, rejectGate, type ApprovalOutput, type GateLogger } from '../../lambdas/api/approvals';
import { inspectLock } from '../../lambdas/api/executions';
import { approvalSummary, lockSummary, type ApprovalSummary, type LockSummary } from '../../lambdas/api/release-status';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import type { ServiceConfig } from '../../lambdas/shared/config';
import {
  ApprovalDocumentSchema,
  LockDocumentSchema,
  parameterNames,
  ReleaseStateSchema,
  type ApprovalDocument,
  type ColourSlot,
  type ReleaseRecord,
  type ReleaseSummary,
  type VerdictSummary,
} from '../../lambdas/shared/documents';
import { healthMetricSourceOf } from '../../lambdas/shared/health/metric-sources';
import { withThrottlingRetry } from '../../lambdas/shared/retry';
import { loadServiceConfig } from '../../lambdas/shared/service-config';
import { SsmDocuments } from '../../lambdas/shared/ssm-documents';
import { createTrafficRouter } from '../../lambdas/shared/traffic/create-traffic-router';

/** SDK clients for one endpoint: everything the page reads and the approval gate answers through. */
export interface PageClients {
  readonly ssm: SSMClient;
  readonly sfn: SFNClient;
  readonly cloudwatch: CloudWatchClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly appmesh: AppMeshClient;
  readonly documents: SsmDocuments;
}

/**
 * Clients pointed at `endpointUrl`. The endpoint checks no signature, but the SDK refuses to send
 * unsigned requests, so any credentials do; the local ones are explicit so the page never picks
 * up a real account's from the environment.
 */
export function createPageClients(options: { readonly endpointUrl: string; readonly region: string }): PageClients {
  const config = {
    endpoint: options.endpointUrl,
    region: options.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // A poll that fails is shown and retried by the next poll; SDK retries would only delay it.
    maxAttempts: 1,
  };
  const ssm = new SSMClient(config);
  return {
    ssm,
    sfn: new SFNClient(config),
    cloudwatch: new CloudWatchClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    appmesh: new AppMeshClient(config),
    documents: new SsmDocuments(ssm),
  };
}

/** Releases the clients' sockets. */
export function destroyPageClients(clients: PageClients): void {
  for (const client of [clients.ssm, clients.sfn, clients.cloudwatch, clients.elbv2, clients.appmesh]) client.destroy();
}

/** Weights by colour, in percent. */
export interface ColourWeights {
  readonly blue: number;
  readonly green: number;
}

/** The release that holds the lock, as far as its execution history says. */
export interface RunningRelease {
  readonly lock: LockSummary;
  /** What the state it is in means to a person (`baking`, `waiting for approval`...), as the CLI says it. */
  readonly phase: string;
  readonly stateName: string | null;
  /** Idle-colour weight per step; `null` until Plan has run. */
  readonly schedule: readonly number[] | null;
  /** 1-based step in force, 0 before any traffic moved. */
  readonly step: number;
  readonly idle: Colour | null;
  /** Every verdict so far, oldest first: each step's appears as soon as CheckHealth returns it. */
  readonly verdicts: readonly VerdictSummary[];
  /** The error it is rolling back for, once one was caught. */
  readonly error: { readonly error: string; readonly cause: string | null } | null;
}

/** Everything the page shows but the charts. */
export interface ReleaseView {
  readonly service: string;
  /** When this was read (ISO 8601). */
  readonly at: string;
  /** The live colour of record; `null` before the state document exists. */
  readonly live: Colour | null;
  readonly colours: Readonly<Record<Colour, ColourSlot>> | null;
  /** The weights in force, read through the `TrafficRouter`; `null` when they could not be read. */
  readonly weights: ColourWeights | null;
  /** Why the weights could not be read (e.g. `RouteDriftError`). */
  readonly weightsError: string | null;
  readonly running: RunningRelease | null;
  /** The waiting gate, without its task token. */
  readonly approval: ApprovalSummary | null;
  readonly lastRelease: ReleaseRecord | null;
  /** Newest first, as the state document keeps it. */
  readonly history: readonly ReleaseSummary[];
  /** What a step is judged against (the config's `health`), drawn on the charts. */
  readonly thresholds: { readonly minSuccessRate: number; readonly maxP99LatencyMs: number; readonly minRequestsPerStep: number };
  /** The traffic backend, `alb` or `appmesh`. */
  readonly traffic: ServiceConfig['traffic']['kind'];
}

/** Newest history events read per poll: the same window `start --wait` reads. */
const HISTORY_EVENTS = 25;

/**
 * The service's release status for the page: the state, lock and approval documents read once
 * each, the lock holder's execution and newest history events, and the weights in force.
 *
 * @throws ConfigNotFoundError when the service has no configuration.
 */
export async function readReleaseView(clients: PageClients, service: string, now: Date = new Date()): Promise<ReleaseView> {
  const names = parameterNames(service);
  const [config, state, lock, approval] = await Promise.all([
    loadServiceConfig(clients.ssm, service),
    clients.documents.get(names.state, ReleaseStateSchema),
    clients.documents.get(names.lock, LockDocumentSchema),
    clients.documents.get(names.approval, ApprovalDocumentSchema),
  ]);
  const live = state?.live ?? null;
  const [holder, weights] = await Promise.all([lock ? inspectLock(clients.sfn, lock) : null, readWeights(clients, config, live)]);
  let running: RunningRelease | null = null;
  if (holder) {
    const out = await withThrottlingRetry(`GetExecutionHistory ${holder.lock.executionArn}`, () =>
      clients.sfn.send(
        new GetExecutionHistoryCommand({
          executionArn: holder.lock.executionArn,
          reverseOrder: true,
          maxResults: HISTORY_EVENTS,
          includeExecutionData: true,
        }),
      ),
    ).catch((error: unknown) => {
      // An execution past its retention has no history; the lock still says what matters.
      if ((error as Error).name === 'ExecutionDoesNotExist') return { events: [] };
      throw error;
    });
    const snapshot = snapshotFromHistory(out.events ?? []);
    running = {
      lock: lockSummary(holder),
      phase: snapshot.phase,
      stateName: snapshot.stateName,
      schedule: snapshot.schedule,
      step: snapshot.step,
      idle: snapshot.idle,
      verdicts: snapshot.verdicts,
      error: snapshot.error ? { error: snapshot.error.Error, cause: snapshot.error.Cause ?? null } : null,
    };
  }
  return {
    service,
    at: now.toISOString(),
    live,
    colours: state?.colours ?? null,
    weights: weights.weights,
    weightsError: weights.error,
    running,
    approval: approval ? approvalSummary(approval) : null,
    lastRelease: state?.lastRelease ?? null,
    history: state?.history ?? [],
    thresholds: {
      minSuccessRate: config.health.minSuccessRate,
      maxP99LatencyMs: config.health.maxP99LatencyMs,
      minRequestsPerStep: config.health.minRequestsPerStep,
    },
    traffic: config.traffic.kind,
  };
}

/**
 * The weights in force, through the same `TrafficRouter` the release uses (its `getWeights`
 * also refuses a route that sends traffic elsewhere). A route the router refuses is shown as
 * such, not as a failed page.
 */
async function readWeights(
  clients: PageClients,
  config: ServiceConfig,
  live: Colour | null,
): Promise<{ weights: ColourWeights | null; error: string | null }> {
  // Before the first release the state is the seeded one; blue is live, as the sample deploys it.
  const liveColour = live ?? 'blue';
  const idle: Colour = liveColour === 'blue' ? 'green' : 'blue';
  try {
    const router = createTrafficRouter(config.traffic, { live: liveColour, idle }, { elbv2: clients.elbv2, appmesh: clients.appmesh });
    const split = await router.getWeights();
    const weights = liveColour === 'blue' ? { blue: split.live, green: split.idle } : { blue: split.idle, green: split.live };
    return { weights, error: null };
  } catch (error) {
    return { weights: null, error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** One period of one colour's traffic, as the health check measures it. */
export interface MetricPoint {
  /** Start of the period, epoch milliseconds. */
  readonly t: number;
  readonly requests: number;
  /** `null` without requests: no data is not a success rate of 100 %. */
  readonly successRate: number | null;
  readonly p99LatencyMs: number | null;
}

/** Per-colour series over a window, from the service's health metric source in CloudWatch. */
export interface MetricsView {
  readonly service: string;
  /** Which metrics these are: `load-balancer`, `envoy` or `application`. */
  readonly source: string;
  readonly periodSeconds: number;
  readonly start: string;
  readonly end: string;
  readonly series: Readonly<Record<Colour, readonly MetricPoint[]>>;
}

/** What {@link readMetrics} reads. */
export interface MetricsWindow {
  /** How far back. */
  readonly windowSeconds: number;
  /** One point per period: 1, 5, 10, 30 or a multiple of 60 (CloudWatch's periods). */
  readonly periodSeconds: number;
  readonly now?: Date;
}

/**
 * Each colour's success rate and p99 latency per period, from GetMetricData over the queries of
 * the service's health metric source: the numbers the release is judged on, period by period,
 * measured by the same `measure()` the health check uses. The window ends at the last whole
 * period, so the newest point is never a half-filled one that looks like a drop in traffic.
 */
export async function readMetrics(clients: PageClients, service: string, window: MetricsWindow): Promise<MetricsView> {
  const config = await loadServiceConfig(clients.ssm, service);
  const source = healthMetricSourceOf(config);
  const periodMs = window.periodSeconds * 1000;
  const end = Math.floor((window.now ?? new Date()).getTime() / periodMs) * periodMs;
  const start = end - window.windowSeconds * 1000;
  // One request for both colours: the source's ids, prefixed with the colour to keep them unique.
  const queries: MetricDataQuery[] = COLOURS.flatMap((colour) =>
    source.queries({ service, colour }, window.periodSeconds).map((q) => ({ ...q, Id: `${colour}_${q.Id}` })),
  );
  // colour → period start → source query id → value
  const byPeriod = new Map<Colour, Map<number, Map<string, number[]>>>(COLOURS.map((c) => [c, new Map()]));
  let nextToken: string | undefined;
  do {
    const out = await withThrottlingRetry(`GetMetricData ${service} (page)`, () =>
      clients.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(start),
          EndTime: new Date(end),
          ScanBy: 'TimestampAscending',
          NextToken: nextToken,
        }),
      ),
    );
    for (const result of out.MetricDataResults ?? []) {
      const [colour, id] = splitId(result.Id);
      if (!colour) continue;
      (result.Timestamps ?? []).forEach((timestamp, i) => {
        const value = result.Values?.[i];
        if (value === undefined || !Number.isFinite(value)) return;
        const periods = byPeriod.get(colour)!;
        const values = periods.get(timestamp.getTime()) ?? new Map<string, number[]>();
        values.set(id, [...(values.get(id) ?? []), value]);
        periods.set(timestamp.getTime(), values);
      });
    }
    nextToken = out.NextToken;
  } while (nextToken);

  const seriesOf = (colour: Colour): MetricPoint[] =>
    [...byPeriod.get(colour)!.entries()]
      .sort(([a], [b]) => a - b)
      .map(([t, values]) => {
        const { requests, errors5xx, p99LatencyMs } = source.measure(values);
        return { t, requests, successRate: requests > 0 ? Math.max(0, 1 - errors5xx / requests) : null, p99LatencyMs };
      });
  return {
    service,
    source: source.kind,
    periodSeconds: window.periodSeconds,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    series: { blue: seriesOf('blue'), green: seriesOf('green') },
  };
}

function splitId(id: string | undefined): [Colour, string] | [null, ''] {
  const match = /^(blue|green)_(.+)$/.exec(id ?? '');
  return match ? [match[1] as Colour, match[2]] : [null, ''];
}

/** How the page's approve or reject ended: answered, or the gate had stopped waiting. */
export type GateAnswer<T> = { readonly answered: true; readonly approval: ApprovalDocument; readonly output: T } | { readonly answered: false; readonly approval: ApprovalDocument };

/**
 * Approves the gate `releaseId` waits at, through the same functions as
 * `POST /releases/{service}/approve` and `ecs-release approve`.
 *
 * @throws ResourceNotFoundError when no gate waits, or another release's does.
 */
export async function approveWaiting(
  clients: PageClients,
  service: string,
  releaseId: string,
  by: string,
  logger: GateLogger,
): Promise<GateAnswer<ApprovalOutput>> {
  const approval = await loadWaitingApproval(clients.documents, service, releaseId, statusHint(service));
  const output = await approveGate(clients.sfn, clients.documents, service, approval, by, logger);
  return output ? { answered: true, approval, output } : { answered: false, approval };
}

/**
 * Rejects the gate `releaseId` waits at (`ApprovalRejectedError`, which rolls it back), through
 * the same functions as `POST /releases/{service}/reject` and `ecs-release reject`.
 *
 * @throws ResourceNotFoundError when no gate waits, or another release's does.
 */
export async function rejectWaiting(
  clients: PageClients,
  service: string,
  rejection: { readonly releaseId: string; readonly reason: string; readonly by: string },
  logger: GateLogger,
): Promise<GateAnswer<{ readonly rejectedBy: string; readonly reason: string }>> {
  const approval = await loadWaitingApproval(clients.documents, service, rejection.releaseId, statusHint(service));
  const answered = await rejectGate(clients.sfn, clients.documents, service, approval, { rejectedBy: rejection.by, reason: rejection.reason }, logger);
  return answered ? { answered: true, approval, output: { rejectedBy: rejection.by, reason: rejection.reason } } : { answered: false, approval };
}

function statusHint(service: string): string {
  return `Reload the page, or check it with 'ecs-release status --service ${service}'.`;
}
