import {
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type CloudWatchClient,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import type { Verdict } from '../documents';
import { ResourceNotFoundError, ValidationError } from '../errors';
import { withThrottlingRetry } from '../retry';
import type { HealthCheck, HealthQuery } from './health-check';
import type { HealthMetricSource, SourceTarget, TrafficMeasure } from './metric-source';
import { judge, type HealthEvidence, type HealthThresholds } from './verdict';

/** DescribeAlarms accepts at most 100 names per request. */
const MAX_ALARM_NAMES_PER_REQUEST = 100;

/** Options for {@link CloudWatchHealthCheck}. */
export interface CloudWatchHealthCheckOptions {
  /**
   * Where the colour's requests, errors and latency come from (`healthMetricSourceOf(config)`):
   * the load balancer's, Envoy's or the application's own metrics.
   */
  readonly source: HealthMetricSource;
  /** Metric period in seconds: 1, 5, 10, 30 or a multiple of 60 (`health.metricPeriodSeconds`). */
  readonly periodSeconds: number;
  /**
   * Alarms that must not be in ALARM; may be empty. Every one must exist: a missing alarm is an
   * error, not a pass.
   */
  readonly alarmNames: readonly string[];
  /** What "healthy" means. */
  readonly thresholds: HealthThresholds;
}

/** State of the alarms asked about. */
export interface AlarmStates {
  /** Names of the alarms currently in ALARM, in the order they were asked for. */
  readonly inAlarm: string[];
}

/**
 * Reads the state of `alarmNames` (metric, composite and log alarms), 100 names per request,
 * following `NextToken`. Duplicate names are asked for once.
 *
 * @throws ResourceNotFoundError naming every configured alarm that does not exist: a release
 *   cannot be judged against an alarm that is not there, and silently skipping it would pass.
 */
export async function describeAlarmStates(
  cloudwatch: CloudWatchClient,
  alarmNames: readonly string[],
): Promise<AlarmStates> {
  const names = [...new Set(alarmNames)];
  const states = new Map<string, string | undefined>();
  for (let i = 0; i < names.length; i += MAX_ALARM_NAMES_PER_REQUEST) {
    const chunk = names.slice(i, i + MAX_ALARM_NAMES_PER_REQUEST);
    let nextToken: string | undefined;
    do {
      const out = await withThrottlingRetry(`DescribeAlarms ${chunk.join(', ')}`, () =>
        cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNames: chunk,
            // Without AlarmTypes only metric alarms come back, and a composite alarm would look missing.
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'],
            MaxRecords: MAX_ALARM_NAMES_PER_REQUEST,
            NextToken: nextToken,
          }),
        ),
      );
      for (const alarm of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? []), ...(out.LogAlarms ?? [])]) {
        if (alarm.AlarmName !== undefined) states.set(alarm.AlarmName, alarm.StateValue);
      }
      nextToken = out.NextToken;
    } while (nextToken);
  }
  const missing = names.filter((name) => !states.has(name));
  if (missing.length > 0) {
    throw new ResourceNotFoundError(
      `CloudWatch alarm${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ` +
        `do${missing.length === 1 ? 'es' : ''} not exist, so the release cannot be judged. ` +
        'Create the alarm or remove it from health.alarms in the service configuration.',
    );
  }
  return { inAlarm: names.filter((name) => states.get(name) === 'ALARM') };
}

/**
 * A {@link HealthCheck} over CloudWatch: the idle colour's requests, errors and p99 latency over
 * the bake window, from its {@link HealthMetricSource}, plus the release alarms, judged by the one
 * set of verdict rules (`verdict.ts`) whatever the source. Returns a verdict with its evidence;
 * no data is `inconclusive`, never `healthy`, and incomplete data never passes.
 *
 * @example
 * const check = new CloudWatchHealthCheck(new CloudWatchClient({}), {
 *   source: new EnvoyMetricSource('ECSRelease/Envoy'), periodSeconds: 10, alarmNames: ['colorapp-green-5xx'],
 *   thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
 * });
 * const verdict = await check.judge({ service: 'colorapp', colour: 'green', stepIndex: 0,
 *   weight: 10, attempt: 0, windowStart, windowEnd: new Date() });
 */
export class CloudWatchHealthCheck implements HealthCheck {
  private readonly source: HealthMetricSource;
  private readonly periodSeconds: number;
  private readonly alarmNames: readonly string[];
  private readonly thresholds: HealthThresholds;

  /** @throws ValidationError when an option is out of range, naming it. */
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    options: CloudWatchHealthCheckOptions,
  ) {
    const { source, periodSeconds, alarmNames, thresholds } = options;
    if (!Number.isInteger(periodSeconds) || !([1, 5, 10, 30].includes(periodSeconds) || periodSeconds % 60 === 0)) {
      throw new ValidationError(
        `CloudWatchHealthCheck: periodSeconds must be 1, 5, 10, 30 or a multiple of 60, got ${periodSeconds}.`,
      );
    }
    if (!(thresholds.minSuccessRate >= 0 && thresholds.minSuccessRate <= 1)) {
      throw new ValidationError(
        `CloudWatchHealthCheck: thresholds.minSuccessRate must be between 0 and 1, got ${thresholds.minSuccessRate}.`,
      );
    }
    if (!(thresholds.maxP99LatencyMs > 0)) {
      throw new ValidationError(
        `CloudWatchHealthCheck: thresholds.maxP99LatencyMs must be positive, got ${thresholds.maxP99LatencyMs}.`,
      );
    }
    if (!Number.isInteger(thresholds.minRequests) || thresholds.minRequests < 1) {
      throw new ValidationError(
        `CloudWatchHealthCheck: thresholds.minRequests must be a positive integer, got ${thresholds.minRequests}.`,
      );
    }
    this.source = source;
    this.periodSeconds = periodSeconds;
    this.alarmNames = [...alarmNames];
    this.thresholds = { ...thresholds };
  }

  /**
   * Judges one colour over `[windowStart aligned down to the period, windowEnd]`. Alarms are read
   * first so a missing alarm fails before any metric is fetched.
   *
   * @throws ResourceNotFoundError when a configured alarm does not exist.
   */
  async judge(query: HealthQuery): Promise<Verdict> {
    const { inAlarm } =
      this.alarmNames.length > 0 ? await describeAlarmStates(this.cloudwatch, this.alarmNames) : { inAlarm: [] };

    // The window ends when the health check runs (CheckHealth passes its own "now").
    const periodSeconds = queryPeriodSeconds(this.periodSeconds, query.windowStart, query.windowEnd);
    // Aligned so every period CloudWatch returns is a whole one; it may include up to one period
    // from before the window, which is the price of not dropping the window's first seconds.
    const periodMs = periodSeconds * 1000;
    const start = new Date(Math.floor(query.windowStart.getTime() / periodMs) * periodMs);
    const end = query.windowEnd;

    const metrics =
      start.getTime() < end.getTime()
        ? await this.fetchMetrics({ service: query.service, colour: query.colour }, start, end, periodSeconds)
        : // An empty window (clock skew between the shift and now) has no data; GetMetricData
          // would reject it. Empty evidence makes the verdict inconclusive.
          { values: new Map<string, number[]>(), problems: [] as string[] };

    // The worst period's p99 (conservative); missing datapoints count as nothing happened.
    const { requests, errors5xx, p99LatencyMs }: TrafficMeasure = this.source.measure(metrics.values);
    const evidence: HealthEvidence = {
      requests,
      errors5xx,
      // Floored at 0: a source whose error count can exceed its request count (the load
      // balancer's connection errors) must not produce a negative rate.
      successRate: requests > 0 ? Math.max(0, 1 - errors5xx / requests) : null,
      p99LatencyMs,
      alarmsInAlarm: inAlarm,
    };
    const judgement = judge(evidence, this.thresholds);

    // Incomplete data can hide 5xx, so it must never pass; an unhealthy verdict stays unhealthy
    // because rolling back is the safe direction.
    let { status } = judgement;
    const reasons = [...judgement.reasons];
    if (metrics.problems.length > 0) {
      if (status === 'healthy') {
        status = 'inconclusive';
        reasons.length = 0;
      }
      reasons.push(`CloudWatch returned incomplete metric data: ${metrics.problems.join('; ')}.`);
    }

    return {
      status,
      reasons,
      colour: query.colour,
      stepIndex: query.stepIndex,
      weight: query.weight,
      attempt: query.attempt,
      window: { start: start.toISOString(), end: end.toISOString() },
      evidence,
      thresholds: { ...this.thresholds },
    };
  }

  /** Every datapoint of the source's queries over the window, by query Id, and what CloudWatch could not return. */
  private async fetchMetrics(
    target: SourceTarget,
    start: Date,
    end: Date,
    periodSeconds: number,
  ): Promise<{ values: Map<string, number[]>; problems: string[] }> {
    const queries = this.source.queries(target, periodSeconds);
    const values = new Map<string, number[]>();
    const problems: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await withThrottlingRetry(`GetMetricData ${target.service}/${target.colour} (${this.source.kind})`, () =>
        this.cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
        ),
      );
      // A query's datapoints can be split across pages: accumulate by Id.
      for (const result of out.MetricDataResults ?? []) {
        if (result.Id) {
          const list = values.get(result.Id) ?? [];
          for (const value of result.Values ?? []) if (Number.isFinite(value)) list.push(value);
          values.set(result.Id, list);
        }
        const problem = describeProblem(result);
        if (problem) problems.push(problem);
      }
      nextToken = out.NextToken;
    } while (nextToken);
    return { values, problems };
  }
}

/** `PartialData` only means "more pages follow"; `Forbidden` and `InternalError` mean data is missing. */
function describeProblem(result: MetricDataResult): string | null {
  if (result.StatusCode !== 'Forbidden' && result.StatusCode !== 'InternalError') return null;
  const messages = (result.Messages ?? []).map((m) => m.Value).filter(Boolean);
  return `${result.Id} ${result.StatusCode}${messages.length ? ` (${messages.join(', ')})` : ''}`;
}

/** How long CloudWatch keeps each period (GetMetricData / MetricStat `Period`, CloudWatch API reference). */
const HIGH_RESOLUTION_RETENTION_MS = 3 * 60 * 60 * 1000;
const ONE_MINUTE_RETENTION_MS = 15 * 24 * 60 * 60 * 1000;

/**
 * The period to query a window with. CloudWatch returns no data points for a start time more
 * than 3 hours ago unless the period is a multiple of 60 s (more than 15 days ago: of 300 s), so
 * a long bake judged with a 10-second period would see nothing and roll a healthy release back
 * as inconclusive. Such a window is judged with the shortest period CloudWatch still keeps.
 */
export function queryPeriodSeconds(configured: number, windowStart: Date, now: Date): number {
  const age = now.getTime() - windowStart.getTime();
  const floor = age > ONE_MINUTE_RETENTION_MS ? 300 : age > HIGH_RESOLUTION_RETENTION_MS ? 60 : 1;
  return Math.ceil(configured / floor) * floor;
}

