import {
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type CloudWatchClient,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import type { Colour } from '../colours';
import type { Baseline, Comparison, Verdict } from '../documents';
import { ResourceNotFoundError, ValidationError } from '../errors';
import { withThrottlingRetry } from '../retry';
import type { HealthCheck, HealthQuery } from './health-check';
import type { HealthMetricSource, TrafficMeasure } from './metric-source';
import type { RelativeSettings } from './compare';
import { compareWithLive, judge, type HealthEvidence, type HealthThresholds } from './verdict';

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
  /** What "healthy" means on fixed thresholds. */
  readonly thresholds: Omit<HealthThresholds, 'relative'>;
  /**
   * Judge the new colour against the live one too (`health.relative`), for queries that name
   * the live colour: its error rate by a one-sided test, its p99 and p50 by a ratio, and
   * `floorSuccessRate` instead of `thresholds.minSuccessRate` while there are live figures.
   * @default - fixed thresholds only
   */
  readonly relative?: RelativeSettings & { readonly floorSuccessRate: number };
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
  private readonly thresholds: Omit<HealthThresholds, 'relative'>;
  private readonly relative: (RelativeSettings & { readonly floorSuccessRate: number }) | undefined;

  /** @throws ValidationError when an option is out of range, naming it. */
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    options: CloudWatchHealthCheckOptions,
  ) {
    const { source, periodSeconds, alarmNames, thresholds, relative } = options;
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
    if (relative) {
      const problem = relativeProblem(relative);
      if (problem) throw new ValidationError(`CloudWatchHealthCheck: ${problem}`);
    }
    this.source = source;
    this.relative = relative && { ...relative };
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

    // Relative judgement needs the live colour: read in the same request over the same window
    // while it has traffic; at a step that sends it none, its figures from the previous step.
    const relative = this.relative && query.live ? this.relative : undefined;
    const live = relative ? query.live : undefined;
    const colours: Colour[] = live && live.weight > 0 ? [query.colour, live.colour] : [query.colour];
    const metrics =
      start.getTime() < end.getTime()
        ? await this.fetchMetrics(query.service, colours, start, end, periodSeconds, { p50: relative !== undefined })
        : // An empty window (clock skew between the shift and now) has no data; GetMetricData
          // would reject it. Empty evidence makes the verdict inconclusive.
          { values: new Map<Colour, Map<string, number[]>>(), problems: [] as string[] };

    // The worst period's p99 (conservative); missing datapoints count as nothing happened.
    const measured: TrafficMeasure = this.source.measure(metrics.values.get(query.colour) ?? new Map());
    const { requests, errors5xx, p99LatencyMs } = measured;
    const window = { start: start.toISOString(), end: end.toISOString() };
    let baseline: Baseline | undefined;
    if (live && live.weight > 0) {
      baseline = { ...baselineOf(live.colour, this.source.measure(metrics.values.get(live.colour) ?? new Map())), from: 'same-window', window };
    } else if (live?.previous) {
      baseline = { ...live.previous, from: 'previous-step' };
    }
    const comparison: Comparison | null =
      relative && baseline
        ? compareWithLive(
            { colour: query.colour, requests, errors5xx, p99LatencyMs, p50LatencyMs: measured.p50LatencyMs ?? null, window },
            baseline,
            relative,
            periodSeconds,
          )
        : null;
    const evidence: HealthEvidence = {
      requests,
      errors5xx,
      // Floored at 0: a source whose error count can exceed its request count (the load
      // balancer's connection errors) must not produce a negative rate.
      successRate: successRateOf(requests, errors5xx),
      p99LatencyMs,
      alarmsInAlarm: inAlarm,
      ...(relative ? { p50LatencyMs: measured.p50LatencyMs ?? null } : {}),
      ...(baseline ? { baseline } : {}),
      ...(comparison ? { comparison } : {}),
    };
    const thresholds: HealthThresholds = relative
      ? {
          ...this.thresholds,
          // The floor only while there is a live colour to compare with; else the fixed minimum.
          minSuccessRate: comparison ? relative.floorSuccessRate : this.thresholds.minSuccessRate,
          relative: {
            errorRateTolerance: relative.errorRateTolerance,
            confidence: relative.confidence,
            latencyRatio: relative.latencyRatio,
            latencyAllowanceMs: relative.latencyAllowanceMs,
          },
        }
      : { ...this.thresholds };
    const judgement = judge(evidence, thresholds);

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
      window,
      evidence,
      thresholds,
    };
  }

  /**
   * Every datapoint of the source's queries for `colours` over the window, by colour and query
   * Id, in one GetMetricData request (pages followed), and what CloudWatch could not return.
   * With two colours each Id is prefixed with its colour to keep them unique.
   */
  private async fetchMetrics(
    service: string,
    colours: readonly Colour[],
    start: Date,
    end: Date,
    periodSeconds: number,
    options: { p50: boolean },
  ): Promise<{ values: Map<Colour, Map<string, number[]>>; problems: string[] }> {
    const prefixed = colours.length > 1;
    const queries = colours.flatMap((colour) =>
      this.source
        .queries({ service, colour }, periodSeconds, options)
        .map((q) => (prefixed ? { ...q, Id: `${colour}_${q.Id}` } : q)),
    );
    const idOf = (resultId: string): [Colour, string] | null => {
      if (!prefixed) return [colours[0], resultId];
      const colour = colours.find((c) => resultId.startsWith(`${c}_`));
      return colour ? [colour, resultId.slice(colour.length + 1)] : null;
    };
    const values = new Map<Colour, Map<string, number[]>>(colours.map((c) => [c, new Map()]));
    const problems: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await withThrottlingRetry(`GetMetricData ${service}/${colours.join('+')} (${this.source.kind})`, () =>
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
        const key = result.Id ? idOf(result.Id) : null;
        if (key) {
          const byId = values.get(key[0])!;
          const list = byId.get(key[1]) ?? [];
          for (const value of result.Values ?? []) if (Number.isFinite(value)) list.push(value);
          byId.set(key[1], list);
        }
        const problem = describeProblem(result);
        if (problem) problems.push(problem);
      }
      nextToken = out.NextToken;
    } while (nextToken);
    return { values, problems };
  }
}

/** A share of non-failed requests, floored at 0; `null` for no requests. */
function successRateOf(requests: number, errors: number): number | null {
  return requests > 0 ? Math.max(0, 1 - errors / requests) : null;
}

/** The live colour's figures from its measure. */
function baselineOf(colour: Colour, measure: TrafficMeasure): Omit<Baseline, 'from' | 'window'> {
  return {
    colour,
    requests: measure.requests,
    errors5xx: measure.errors5xx,
    successRate: successRateOf(measure.requests, measure.errors5xx),
    p99LatencyMs: measure.p99LatencyMs,
    p50LatencyMs: measure.p50LatencyMs ?? null,
  };
}

/** What is wrong with relative settings built by hand (the config schema refuses the same), or `null`. */
function relativeProblem(r: RelativeSettings & { readonly floorSuccessRate: number }): string | null {
  if (!(r.errorRateTolerance >= 0 && r.errorRateTolerance <= 1)) return `relative.errorRateTolerance must be between 0 and 1, got ${r.errorRateTolerance}.`;
  if (!(r.confidence >= 0.5 && r.confidence < 1)) return `relative.confidence must be at least 0.5 and below 1, got ${r.confidence}.`;
  if (!(r.latencyRatio >= 1)) return `relative.latencyRatio must be at least 1, got ${r.latencyRatio}.`;
  if (!(r.latencyAllowanceMs >= 0)) return `relative.latencyAllowanceMs must not be negative, got ${r.latencyAllowanceMs}.`;
  if (!(r.floorSuccessRate >= 0 && r.floorSuccessRate <= 1)) return `relative.floorSuccessRate must be between 0 and 1, got ${r.floorSuccessRate}.`;
  return null;
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

