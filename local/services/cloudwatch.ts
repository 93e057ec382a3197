/**
 * The local CloudWatch: the gateway's Envoy statistics as metrics (1-second resolution, raw
 * samples kept so percentiles are exact), GetMetricData over them, and the release alarms,
 * evaluated every second and announced on the event bus exactly as EventBridge delivers a
 * "CloudWatch Alarm State Change" from AWS, which is what the alarm-watcher receives.
 *
 * Wire facts (verified against @aws-sdk/client-cloudwatch 3.1162 / @aws-sdk/core 3.981): the SDK
 * speaks awsJson1_0 with `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, sends and
 * reads timestamps as epoch seconds (JSON numbers; `timestampFormat.default: 7`), and, CloudWatch
 * being `awsQueryCompatible`, maps query error codes (`InvalidParameterValue`) to its exception
 * classes (`InvalidParameterValueException`) through the `awsQueryError` trait.
 */

import { randomUUID } from 'node:crypto';
import { colourDimensionsMap, ENVOY_METRICS, RESPONSE_CLASSES } from '../../lambdas/shared/envoy-metrics';
import {
  AwsServiceError,
  type AlarmDefinition,
  type EventBus,
  type JsonProtocolService,
  type MetricSample,
  type MetricSink,
  type Operation,
} from '../contracts';
import {
  cloudWatchTimestamp,
  decideAlarmState,
  type AlarmDatapoint,
  type AlarmRule,
  type AlarmStateValue,
} from './cloudwatch/alarm-evaluation';
import {
  decodeToken,
  encodeToken,
  invalidValue,
  missing,
  optionalInteger,
  optionalString,
  optionalStringList,
  optionalTimestamp,
  requiredString,
  requiredTimestamp,
} from './cloudwatch/input';
import {
  loadBalancerAlarmJson,
  loadBalancerAlarmThreshold,
  loadBalancerAlarmValues,
  loadBalancerEventMetrics,
  type LoadBalancerAlarmSource,
} from './cloudwatch/load-balancer-alarms';
import { MetricStore, percentileOf, statisticFor, type MetricIdentity } from './cloudwatch/store';

export type { LoadBalancerAlarmSource } from './cloudwatch/load-balancer-alarms';

/**
 * Which metrics the release alarms watch, as the CDK app builds them for the traffic backend
 * (`infra/constructs/colour-alarm-metrics.ts`): the Envoy statistics (App Mesh) or the load
 * balancer's `AWS/ApplicationELB` metrics of each colour's target group (ALB).
 */
export type AlarmMetricSource = { readonly kind: 'envoy' } | LoadBalancerAlarmSource;

/** Options for {@link LocalCloudWatch}. */
export interface LocalCloudWatchOptions {
  /** CloudWatch namespace of the Envoy statistics the alarms watch (`health.metricNamespace`). */
  readonly namespace: string;
  /**
   * Where alarm state changes are published (to the alarm-watcher's subscription).
   * @default - state changes are recorded (DescribeAlarms, DescribeAlarmHistory) but not published
   */
  readonly bus?: EventBus;
  /** Region in alarm ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Account in alarm ARNs. @default '000000000000' */
  readonly accountId?: string;
  /**
   * How often the alarms are evaluated, aligned to the wall clock (just after each whole second
   * for 1000), so a period is judged as soon as it has ended. 0 turns the timer off (call
   * {@link LocalCloudWatch.evaluateAlarms} yourself).
   * @default 1000
   */
  readonly evaluationIntervalMs?: number;
  /** Samples older than this are dropped. @default 10800 (3 hours) */
  readonly retentionSeconds?: number;
  /** What the release alarms watch. @default { kind: 'envoy' } */
  readonly alarmSource?: AlarmMetricSource;
}

/** An alarm's current state, as DescribeAlarms reports it. */
export interface LocalAlarmState {
  readonly value: AlarmStateValue;
  readonly reason: string;
  readonly reasonData: string | undefined;
  readonly timestamp: Date;
}

interface AlarmRecord {
  definition: AlarmDefinition;
  readonly arn: string;
  configurationUpdatedAt: Date;
  state: LocalAlarmState;
  transitionedAt: Date;
}

interface HistoryItem {
  readonly alarmName: string;
  readonly timestamp: Date;
  readonly summary: string;
  readonly data: string;
}

/** After a whole second, wait this long before evaluating, for responses finishing right on it. */
const EVALUATION_GRACE_MS = 50;
const MAX_HISTORY = 1000;
const DEFAULT_MAX_DATAPOINTS = 100_800;
const STATE_VALUES: readonly AlarmStateValue[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];

/**
 * The local CloudWatch service. Register it with the local endpoint (`jsonServices`) and give it
 * to the gateway as its {@link MetricSink}.
 *
 * @example
 * const cloudwatch = new LocalCloudWatch({ namespace: 'ECSRelease/Envoy', bus });
 * cloudwatch.defineAlarms([{ alarmName: 'colorapp-green-success-rate', service: 'colorapp', colour: 'green',
 *   kind: 'success-rate', threshold: 0.99, periodSeconds: 1, evaluationPeriods: 3, datapointsToAlarm: 1,
 *   treatMissingData: 'notBreaching' }]);
 * // ...the gateway records samples; a bad second puts the alarm in ALARM and publishes the event.
 * cloudwatch.close();
 */
export class LocalCloudWatch implements JsonProtocolService, MetricSink {
  readonly targetPrefix = 'GraniteServiceVersion20100801';
  readonly jsonVersion = '1.0' as const;
  readonly operations: Readonly<Record<string, Operation>>;

  private readonly store = new MetricStore();
  private readonly alarms = new Map<string, AlarmRecord>();
  private readonly history: HistoryItem[] = [];
  private readonly namespace: string;
  private readonly bus: EventBus | undefined;
  private readonly alarmArnPrefix: string;
  private readonly evaluationIntervalMs: number;
  private readonly retentionMs: number;
  private readonly alarmSource: AlarmMetricSource;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** @throws Error naming the option when one is invalid. */
  constructor(options: LocalCloudWatchOptions) {
    if (!options.namespace) throw new Error('LocalCloudWatch: namespace must not be empty.');
    const interval = options.evaluationIntervalMs ?? 1000;
    if (!(Number.isFinite(interval) && interval >= 0)) {
      throw new Error(`LocalCloudWatch: evaluationIntervalMs must be 0 or more, got ${interval}.`);
    }
    const retention = options.retentionSeconds ?? 3 * 3600;
    if (!(retention > 0)) throw new Error(`LocalCloudWatch: retentionSeconds must be positive, got ${retention}.`);
    this.namespace = options.namespace;
    this.bus = options.bus;
    this.alarmArnPrefix = `arn:aws:cloudwatch:${options.region ?? 'us-east-1'}:${options.accountId ?? '000000000000'}:alarm:`;
    this.evaluationIntervalMs = interval;
    this.retentionMs = retention * 1000;
    this.alarmSource = options.alarmSource ?? { kind: 'envoy' };
    this.operations = {
      GetMetricData: async (input) => this.getMetricData(input),
      DescribeAlarms: async (input) => this.describeAlarms(input),
      DescribeAlarmHistory: async (input) => this.describeAlarmHistory(input),
      SetAlarmState: async (input) => this.setAlarmStateOperation(input),
      PutMetricData: async (input) => this.putMetricData(input),
      ListMetrics: async (input) => this.listMetrics(input),
    };
    if (interval > 0) this.scheduleEvaluation();
  }

  // --- The world's API --------------------------------------------------------------------------

  /** Stores one sample (the gateway's statistics). */
  record(sample: MetricSample): void {
    this.store.record(sample);
  }

  /**
   * Creates or updates alarms, as PutMetricAlarm would: a new alarm starts in INSUFFICIENT_DATA;
   * an existing one keeps its state and takes the new configuration.
   *
   * @throws Error naming the alarm and the field when a definition is invalid.
   */
  defineAlarms(definitions: readonly AlarmDefinition[]): void {
    const now = new Date();
    for (const definition of definitions) {
      validateDefinition(definition);
      const existing = this.alarms.get(definition.alarmName);
      if (existing) {
        existing.definition = { ...definition };
        existing.configurationUpdatedAt = now;
        continue;
      }
      this.alarms.set(definition.alarmName, {
        definition: { ...definition },
        arn: `${this.alarmArnPrefix}${definition.alarmName}`,
        configurationUpdatedAt: now,
        state: { value: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation', reasonData: undefined, timestamp: now },
        transitionedAt: now,
      });
    }
  }

  /** The current state of an alarm, or `undefined` when it does not exist. */
  alarmState(alarmName: string): LocalAlarmState | undefined {
    const alarm = this.alarms.get(alarmName);
    return alarm ? { ...alarm.state } : undefined;
  }

  /**
   * Sets an alarm's state as SetAlarmState does: the change is published like any other, and
   * lasts until the next evaluation decides otherwise.
   *
   * @throws AwsServiceError `ResourceNotFound` when the alarm does not exist.
   */
  setAlarmState(alarmName: string, value: AlarmStateValue, reason: string, reasonData?: string): void {
    const alarm = this.alarms.get(alarmName);
    if (!alarm) throw new AwsServiceError('ResourceNotFound', `Alarm ${alarmName} not found`, 404);
    this.transition(alarm, value, reason, reasonData, new Date());
  }

  /**
   * Evaluates every alarm as of `now`: the periods that ended by then, over each alarm's
   * evaluation range. Publishes one event per alarm whose state changed. The timer calls this
   * every `evaluationIntervalMs`; tests call it with a chosen time.
   */
  evaluateAlarms(now: Date = new Date()): void {
    for (const alarm of this.alarms.values()) {
      const { points, rule, statistic } = this.alarmDatapoints(alarm.definition, now.getTime());
      const decision = decideAlarmState(points, rule);
      if (decision.state === null || decision.state === alarm.state.value) continue;
      const judged = decision.judged;
      const reasonData = JSON.stringify({
        version: '1.0',
        queryDate: cloudWatchTimestamp(now),
        startDate: cloudWatchTimestamp(new Date(judged[0]?.start ?? points[0]?.start ?? now.getTime())),
        ...(statistic ? { statistic } : {}),
        period: alarm.definition.periodSeconds,
        recentDatapoints: judged.map((d) => d.value),
        threshold: rule.threshold,
        evaluatedDatapoints: judged.map((d) => ({ timestamp: cloudWatchTimestamp(new Date(d.start)), value: d.value })),
      });
      this.transition(alarm, decision.state, decision.reason, reasonData, now);
    }
    this.store.prune(now.getTime() - this.retentionMs);
  }

  /** Stops the evaluation timer. Idempotent. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  // --- Operations -------------------------------------------------------------------------------

  private getMetricData(input: Record<string, unknown>): Record<string, unknown> {
    const queries = input.MetricDataQueries;
    if (!Array.isArray(queries) || queries.length === 0) throw missing('MetricDataQueries');
    if (queries.length > 500) throw invalidValue('The collection MetricDataQueries must not have a size greater than 500.');
    const start = requiredTimestamp(input, 'StartTime');
    const end = requiredTimestamp(input, 'EndTime');
    if (start.getTime() >= end.getTime()) throw invalidValue('The parameter StartTime must be less than the parameter EndTime.');
    const scanBy = optionalString(input, 'ScanBy') ?? 'TimestampDescending';
    if (scanBy !== 'TimestampDescending' && scanBy !== 'TimestampAscending') {
      throw invalidValue(`The parameter ScanBy must be TimestampDescending or TimestampAscending, got ${scanBy}.`);
    }
    const maxDatapoints = optionalInteger(input, 'MaxDatapoints', 1, DEFAULT_MAX_DATAPOINTS) ?? DEFAULT_MAX_DATAPOINTS;

    const ids = new Set<string>();
    const series: { id: string; label: string; points: { t: number; v: number }[] }[] = [];
    for (const raw of queries as unknown[]) {
      const query = (raw ?? {}) as Record<string, unknown>;
      const id = requiredString(query, 'Id');
      if (!/^[a-z][a-zA-Z0-9_]*$/.test(id)) {
        throw invalidValue(`The value ${id} for parameter MetricDataQueries.member.Id is invalid: it must start with a lower-case letter and hold only letters, digits and underscores.`);
      }
      if (ids.has(id)) throw invalidValue(`The value ${id} for parameter MetricDataQueries.member.Id is not unique.`);
      ids.add(id);
      if (query.Expression !== undefined) {
        throw invalidValue(`Query ${id}: metric math expressions are not supported by the local CloudWatch; use MetricStat queries.`);
      }
      const stat = (query.MetricStat ?? undefined) as Record<string, unknown> | undefined;
      if (!stat || typeof stat !== 'object') throw missing(`MetricDataQueries.member.MetricStat (query ${id})`);
      const metric = parseMetric(stat.Metric, id);
      const period = optionalInteger(stat, 'Period', 1, 86_400 * 455);
      if (period === undefined) throw missing(`MetricDataQueries.member.MetricStat.Period (query ${id})`);
      if (!([1, 5, 10, 30].includes(period) || period % 60 === 0)) {
        throw invalidValue(`Query ${id}: Period must be 1, 5, 10, 30 or a multiple of 60, got ${period}.`);
      }
      const statName = requiredString(stat, 'Stat');
      const statistic = statisticFor(statName);
      if (!statistic) {
        throw invalidValue(`Query ${id}: the statistic ${statName} is not supported locally (Sum, SampleCount, Average, Minimum, Maximum, pNN).`);
      }
      if (query.ReturnData === false) continue;
      const points = this.store
        .periods(metric, start.getTime(), end.getTime(), period)
        .map((p) => ({ t: p.start, v: statistic(p.values) }));
      if (scanBy === 'TimestampDescending') points.reverse();
      series.push({ id, label: optionalString(query, 'Label') ?? metric.metricName, points });
    }

    const token = optionalString(input, 'NextToken');
    const offsets = token === undefined ? series.map(() => 0) : decodeToken(token, (s): s is number[] => isOffsets(s, series.length));
    let budget = maxDatapoints;
    let more = false;
    const results = series.map((s, i) => {
      const remaining = s.points.slice(offsets[i]);
      const taken = remaining.slice(0, Math.max(0, budget));
      budget -= taken.length;
      offsets[i] += taken.length;
      const partial = taken.length < remaining.length;
      more ||= partial;
      return {
        Id: s.id,
        Label: s.label,
        Timestamps: taken.map((p) => p.t / 1000),
        Values: taken.map((p) => p.v),
        StatusCode: partial ? 'PartialData' : 'Complete',
        Messages: [],
      };
    });
    const out: Record<string, unknown> = { MetricDataResults: results, Messages: [] };
    if (more) out.NextToken = encodeToken(offsets);
    return out;
  }

  /**
   * ListMetrics: the metrics with data, filtered by `Namespace`, `MetricName` and `Dimensions`
   * (each filter a name, and a value when given; a metric matches when it has them all), 500 a
   * page (CloudWatch API reference, ListMetrics).
   */
  private listMetrics(input: Record<string, unknown>): Record<string, unknown> {
    const namespace = optionalString(input, 'Namespace');
    const metricName = optionalString(input, 'MetricName');
    const filters = Array.isArray(input.Dimensions) ? (input.Dimensions as { Name?: unknown; Value?: unknown }[]) : [];
    if (filters.length > 10) throw invalidValue('The collection Dimensions must not have a size greater than 10.');
    const matching = this.store.metrics().filter(
      (m) =>
        (namespace === undefined || m.namespace === namespace) &&
        (metricName === undefined || m.metricName === metricName) &&
        filters.every((f) => typeof f.Name === 'string' && f.Name in m.dimensions && (f.Value === undefined || m.dimensions[f.Name] === f.Value)),
    );
    const token = optionalString(input, 'NextToken');
    const offset = token === undefined ? 0 : decodeToken(token, (state): state is number => Number.isInteger(state) && (state as number) >= 0);
    const pageSize = 500;
    return {
      Metrics: matching.slice(offset, offset + pageSize).map((m) => ({
        Namespace: m.namespace,
        MetricName: m.metricName,
        Dimensions: Object.entries(m.dimensions).map(([Name, Value]) => ({ Name, Value })),
      })),
      ...(offset + pageSize < matching.length ? { NextToken: encodeToken(offset + pageSize) } : {}),
    };
  }

  private describeAlarms(input: Record<string, unknown>): Record<string, unknown> {
    const names = optionalStringList(input, 'AlarmNames');
    const prefix = optionalString(input, 'AlarmNamePrefix');
    if (names !== undefined && prefix !== undefined) {
      throw new AwsServiceError('InvalidParameterCombination', 'AlarmNames and AlarmNamePrefix cannot be used together.');
    }
    if (names && names.length > 100) throw invalidValue('The collection AlarmNames must not have a size greater than 100.');
    const types = optionalStringList(input, 'AlarmTypes') ?? ['MetricAlarm'];
    const stateValue = optionalString(input, 'StateValue');
    if (stateValue !== undefined && !STATE_VALUES.includes(stateValue as AlarmStateValue)) {
      throw invalidValue(`The parameter StateValue must be one of ${STATE_VALUES.join(', ')}.`);
    }
    const maxRecords = optionalInteger(input, 'MaxRecords', 1, 100) ?? 50;
    const token = optionalString(input, 'NextToken');
    const offset = token === undefined ? 0 : decodeToken(token, (s): s is number => Number.isInteger(s) && (s as number) >= 0);

    const matching = types.includes('MetricAlarm')
      ? [...this.alarms.values()]
          .filter(
            (a) =>
              (names === undefined || names.includes(a.definition.alarmName)) &&
              (prefix === undefined || a.definition.alarmName.startsWith(prefix)) &&
              (stateValue === undefined || a.state.value === stateValue),
          )
          .sort((a, b) => (a.definition.alarmName < b.definition.alarmName ? -1 : 1))
      : [];
    const out: Record<string, unknown> = {
      MetricAlarms: matching.slice(offset, offset + maxRecords).map((a) => this.metricAlarmJson(a)),
      CompositeAlarms: [],
    };
    if (offset + maxRecords < matching.length) out.NextToken = encodeToken(offset + maxRecords);
    return out;
  }

  private describeAlarmHistory(input: Record<string, unknown>): Record<string, unknown> {
    const alarmName = optionalString(input, 'AlarmName');
    const itemType = optionalString(input, 'HistoryItemType');
    const startDate = optionalTimestamp(input, 'StartDate');
    const endDate = optionalTimestamp(input, 'EndDate');
    const maxRecords = optionalInteger(input, 'MaxRecords', 1, 100) ?? 50;
    const ascending = optionalString(input, 'ScanBy') === 'TimestampAscending';
    const token = optionalString(input, 'NextToken');
    const offset = token === undefined ? 0 : decodeToken(token, (s): s is number => Number.isInteger(s) && (s as number) >= 0);
    const items = this.history.filter(
      (item) =>
        (alarmName === undefined || item.alarmName === alarmName) &&
        (itemType === undefined || itemType === 'StateUpdate') &&
        (startDate === undefined || item.timestamp >= startDate) &&
        (endDate === undefined || item.timestamp <= endDate),
    );
    if (!ascending) items.reverse();
    const out: Record<string, unknown> = {
      AlarmHistoryItems: items.slice(offset, offset + maxRecords).map((item) => ({
        AlarmName: item.alarmName,
        AlarmType: 'MetricAlarm',
        Timestamp: item.timestamp.getTime() / 1000,
        HistoryItemType: 'StateUpdate',
        HistorySummary: item.summary,
        HistoryData: item.data,
      })),
    };
    if (offset + maxRecords < items.length) out.NextToken = encodeToken(offset + maxRecords);
    return out;
  }

  private setAlarmStateOperation(input: Record<string, unknown>): Record<string, unknown> {
    const alarmName = requiredString(input, 'AlarmName');
    const value = requiredString(input, 'StateValue');
    if (!STATE_VALUES.includes(value as AlarmStateValue)) throw invalidValue(`The parameter StateValue must be one of ${STATE_VALUES.join(', ')}.`);
    const reason = requiredString(input, 'StateReason');
    const reasonData = optionalString(input, 'StateReasonData');
    if (reasonData !== undefined) {
      try {
        JSON.parse(reasonData);
      } catch {
        throw new AwsServiceError('InvalidFormat', 'StateReasonData must be valid JSON.');
      }
    }
    this.setAlarmState(alarmName, value as AlarmStateValue, reason, reasonData);
    return {};
  }

  private putMetricData(input: Record<string, unknown>): Record<string, unknown> {
    const namespace = requiredString(input, 'Namespace');
    if (namespace.startsWith('AWS/')) throw invalidValue('The value AWS/ for parameter Namespace is invalid.');
    const data = input.MetricData;
    if (!Array.isArray(data) || data.length === 0) throw missing('MetricData');
    if (data.length > 1000) throw invalidValue('The collection MetricData must not have a size greater than 1000.');
    const samples: MetricSample[] = [];
    for (const raw of data as unknown[]) {
      const datum = (raw ?? {}) as Record<string, unknown>;
      const metricName = requiredString(datum, 'MetricName');
      const { dimensions } = parseMetric({ Namespace: namespace, MetricName: metricName, Dimensions: datum.Dimensions }, metricName);
      const timestamp = optionalTimestamp(datum, 'Timestamp') ?? new Date();
      if (datum.StatisticValues !== undefined) {
        throw invalidValue('StatisticValues are not supported by the local CloudWatch; send Value or Values.');
      }
      const values = datum.Values ?? (datum.Value === undefined ? undefined : [datum.Value]);
      const counts = (datum.Counts as unknown[] | undefined) ?? [];
      if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        throw invalidValue(`MetricData ${metricName}: Value or Values (finite numbers) are required.`);
      }
      values.forEach((value: number, i) => {
        const count = typeof counts[i] === 'number' ? Math.max(0, Math.round(counts[i] as number)) : 1;
        for (let c = 0; c < count; c += 1) samples.push({ namespace, metricName, dimensions, value, timestamp });
      });
    }
    for (const sample of samples) this.store.record(sample);
    return {};
  }

  // --- Alarms -----------------------------------------------------------------------------------

  /** The alarm's datapoints over its evaluation range, and the rule that judges them. */
  private alarmDatapoints(
    definition: AlarmDefinition,
    nowMs: number,
  ): { points: AlarmDatapoint[]; rule: AlarmRule; statistic: string | undefined } {
    const periodMs = definition.periodSeconds * 1000;
    // Only whole periods: the one in progress would be judged on part of its data.
    const end = Math.floor(nowMs / periodMs) * periodMs;
    // CloudWatch looks further back than the evaluation periods (its docs' example: 5 for 3).
    const rangePeriods = definition.evaluationPeriods + 2;
    const start = end - rangePeriods * periodMs;
    const base = colourDimensionsMap(definition.service, definition.colour);
    const byStart = new Map<number, number | null>();
    for (let k = 0; k < rangePeriods; k += 1) byStart.set(start + k * periodMs, null);
    let rule: AlarmRule;
    let statistic: string | undefined;

    if (this.alarmSource.kind === 'load-balancer') {
      for (const [periodStart, value] of loadBalancerAlarmValues(this.alarmSource, definition, this.store, start, end)) {
        if (byStart.has(periodStart)) byStart.set(periodStart, value);
      }
      const latency = definition.kind === 'p99-latency';
      rule = { ...ruleOf(definition), threshold: loadBalancerAlarmThreshold(definition), comparison: latency ? 'GreaterThanThreshold' : 'LessThanThreshold' };
      const points = [...byStart.entries()].map(([periodStart, value]) => ({ start: periodStart, value }));
      return { points, rule, statistic: latency ? 'p99' : undefined };
    }

    switch (definition.kind) {
      case 'success-rate': {
        // As the CDK alarm's metric math: 100 * non-5xx / all, no datapoint without responses.
        const totals = new Map<number, { all: number; errors: number }>();
        for (const responseClass of RESPONSE_CLASSES) {
          const metric = this.identity(ENVOY_METRICS.responsesByClass, { ...base, [ENVOY_METRICS.responseClassDimension]: responseClass });
          for (const period of this.store.periods(metric, start, end, definition.periodSeconds)) {
            const sum = period.values.reduce((a, b) => a + b, 0);
            const total = totals.get(period.start) ?? { all: 0, errors: 0 };
            total.all += sum;
            if (responseClass === '5') total.errors += sum;
            totals.set(period.start, total);
          }
        }
        for (const [periodStart, total] of totals) {
          if (byStart.has(periodStart) && total.all > 0) byStart.set(periodStart, (100 * (total.all - total.errors)) / total.all);
        }
        rule = { ...ruleOf(definition), threshold: definition.threshold * 100, comparison: 'LessThanThreshold' };
        break;
      }
      case 'p99-latency': {
        const metric = this.identity(ENVOY_METRICS.requestTime, base);
        for (const period of this.store.periods(metric, start, end, definition.periodSeconds)) {
          if (byStart.has(period.start)) byStart.set(period.start, percentileOf(period.values, 99));
        }
        rule = { ...ruleOf(definition), threshold: definition.threshold, comparison: 'GreaterThanThreshold' };
        statistic = 'p99';
        break;
      }
    }
    const points = [...byStart.entries()].map(([periodStart, value]) => ({ start: periodStart, value }));
    return { points, rule, statistic };
  }

  private transition(alarm: AlarmRecord, value: AlarmStateValue, reason: string, reasonData: string | undefined, now: Date): void {
    const previous = alarm.state;
    alarm.state = { value, reason, reasonData, timestamp: now };
    if (previous.value === value) return; // A reason update, not a state change: no event.
    alarm.transitionedAt = now;
    const name = alarm.definition.alarmName;
    this.history.push({
      alarmName: name,
      timestamp: now,
      summary: `Alarm updated from ${previous.value} to ${value}`,
      data: JSON.stringify({
        version: '1.0',
        oldState: { stateValue: previous.value, stateReason: previous.reason },
        newState: { stateValue: value, stateReason: reason, ...(reasonData ? { stateReasonData: JSON.parse(reasonData) as unknown } : {}) },
      }),
    });
    if (this.history.length > MAX_HISTORY) this.history.shift();
    if (!this.bus) return;
    const stateJson = (state: LocalAlarmState) => ({
      value: state.value,
      reason: state.reason,
      ...(state.reasonData ? { reasonData: state.reasonData } : {}),
      timestamp: cloudWatchTimestamp(state.timestamp),
    });
    try {
      this.bus.publish({
        source: 'aws.cloudwatch',
        'detail-type': 'CloudWatch Alarm State Change',
        resources: [alarm.arn],
        // EventBridge's `time` has whole seconds; the state timestamps keep milliseconds.
        time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        detail: {
          alarmName: name,
          state: stateJson(alarm.state),
          previousState: stateJson(previous),
          configuration: this.eventConfiguration(alarm.definition),
        },
      });
    } catch (error) {
      // The bus must not stop the evaluation of the other alarms.
      console.error(`LocalCloudWatch: publishing the state change of ${name} failed`, error);
    }
  }

  /** `detail.configuration` of the event, shaped as AWS sends it for a metric / metric math alarm. */
  private eventConfiguration(definition: AlarmDefinition): Record<string, unknown> {
    const metricStat = (metric: MetricIdentity, stat: string) => ({
      metric: { dimensions: { ...metric.dimensions }, name: metric.metricName, namespace: metric.namespace },
      period: definition.periodSeconds,
      stat,
    });
    if (this.alarmSource.kind === 'load-balancer') {
      return { description: describeAlarm(definition), metrics: loadBalancerEventMetrics(this.alarmSource, definition, randomUUID) };
    }
    if (definition.kind === 'p99-latency') {
      return {
        description: describeAlarm(definition),
        metrics: [{ id: randomUUID(), metricStat: metricStat(this.latencyMetric(definition), 'p99'), returnData: true }],
      };
    }
    return {
      description: describeAlarm(definition),
      metrics: [
        { expression: successRateExpression(), id: 'expr_1', label: successRateLabel(definition), returnData: true },
        ...RESPONSE_CLASSES.map((c) => ({ id: `r${c}xx`, metricStat: metricStat(this.responsesMetric(definition, c), 'Sum'), returnData: false })),
      ],
    };
  }

  /** A MetricAlarm as DescribeAlarms returns it (the shape the CDK app's alarm has in AWS). */
  private metricAlarmJson(alarm: AlarmRecord): Record<string, unknown> {
    const { definition, state } = alarm;
    const common = {
      AlarmName: definition.alarmName,
      AlarmArn: alarm.arn,
      AlarmDescription: describeAlarm(definition),
      AlarmConfigurationUpdatedTimestamp: alarm.configurationUpdatedAt.getTime() / 1000,
      ActionsEnabled: true,
      OKActions: [],
      AlarmActions: [],
      InsufficientDataActions: [],
      StateValue: state.value,
      StateReason: state.reason,
      ...(state.reasonData ? { StateReasonData: state.reasonData } : {}),
      StateUpdatedTimestamp: state.timestamp.getTime() / 1000,
      StateTransitionedTimestamp: alarm.transitionedAt.getTime() / 1000,
      EvaluationPeriods: definition.evaluationPeriods,
      DatapointsToAlarm: definition.datapointsToAlarm,
      TreatMissingData: definition.treatMissingData,
    };
    if (this.alarmSource.kind === 'load-balancer') return { ...common, ...loadBalancerAlarmJson(this.alarmSource, definition) };
    const dimensionList = (metric: MetricIdentity) => Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value }));
    if (definition.kind === 'p99-latency') {
      const metric = this.latencyMetric(definition);
      return {
        ...common,
        MetricName: metric.metricName,
        Namespace: metric.namespace,
        ExtendedStatistic: 'p99',
        Dimensions: dimensionList(metric),
        Period: definition.periodSeconds,
        Unit: 'Milliseconds',
        Threshold: definition.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
      };
    }
    return {
      ...common,
      Metrics: [
        { Id: 'expr_1', Expression: successRateExpression(), Label: successRateLabel(definition), ReturnData: true },
        ...RESPONSE_CLASSES.map((c) => {
          const metric = this.responsesMetric(definition, c);
          return {
            Id: `r${c}xx`,
            MetricStat: {
              Metric: { Namespace: metric.namespace, MetricName: metric.metricName, Dimensions: dimensionList(metric) },
              Period: definition.periodSeconds,
              Stat: 'Sum',
            },
            ReturnData: false,
          };
        }),
      ],
      Threshold: definition.threshold * 100,
      ComparisonOperator: 'LessThanThreshold',
    };
  }

  private responsesMetric(definition: AlarmDefinition, responseClass: string): MetricIdentity {
    return this.identity(ENVOY_METRICS.responsesByClass, {
      ...colourDimensionsMap(definition.service, definition.colour),
      [ENVOY_METRICS.responseClassDimension]: responseClass,
    });
  }

  private latencyMetric(definition: AlarmDefinition): MetricIdentity {
    return this.identity(ENVOY_METRICS.requestTime, colourDimensionsMap(definition.service, definition.colour));
  }

  private identity(metricName: string, dimensions: Record<string, string>): MetricIdentity {
    return { namespace: this.namespace, metricName, dimensions };
  }

  /** Evaluates just after each interval boundary of the wall clock, so a period is judged as soon as it ends. */
  private scheduleEvaluation(): void {
    if (this.closed) return;
    const interval = this.evaluationIntervalMs;
    const now = Date.now();
    const next = Math.floor(now / interval) * interval + interval + EVALUATION_GRACE_MS;
    this.timer = setTimeout(() => {
      try {
        this.evaluateAlarms();
      } catch (error) {
        console.error('LocalCloudWatch: alarm evaluation failed', error);
      }
      this.scheduleEvaluation();
    }, next - now);
    this.timer.unref();
  }
}

function ruleOf(definition: AlarmDefinition): Pick<AlarmRule, 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'> {
  return {
    evaluationPeriods: definition.evaluationPeriods,
    datapointsToAlarm: definition.datapointsToAlarm,
    treatMissingData: definition.treatMissingData,
  };
}

/** The CDK alarm's expression (infra/constructs/colour-alarms.ts), for display. */
function successRateExpression(): string {
  const filled = RESPONSE_CLASSES.map((c) => `FILL(r${c}xx, 0)`);
  const all = filled.join(' + ');
  return `IF((${all}) > 0, 100 * (${filled.filter((f) => !f.includes('r5xx')).join(' + ')}) / (${all}))`;
}

function successRateLabel(definition: AlarmDefinition): string {
  return `${definition.service} ${definition.colour} success rate (%)`;
}

function describeAlarm(definition: AlarmDefinition): string {
  return definition.kind === 'success-rate'
    ? `Share of non-5xx responses of ${definition.service} (${definition.colour}) below ${definition.threshold * 100}%.`
    : `p99 latency of ${definition.service} (${definition.colour}) above ${definition.threshold} ms.`;
}

function validateDefinition(definition: AlarmDefinition): void {
  const problem = (what: string) => new Error(`LocalCloudWatch: alarm '${definition.alarmName}': ${what}`);
  if (!definition.alarmName) throw new Error('LocalCloudWatch: an alarm needs a name.');
  if (definition.kind !== 'success-rate' && definition.kind !== 'p99-latency') throw problem(`unknown kind '${String(definition.kind)}'.`);
  if (!Number.isInteger(definition.periodSeconds) || definition.periodSeconds < 1) {
    throw problem(`periodSeconds must be a whole number of seconds >= 1, got ${definition.periodSeconds}.`);
  }
  if (!Number.isInteger(definition.evaluationPeriods) || definition.evaluationPeriods < 1) {
    throw problem(`evaluationPeriods must be a whole number >= 1, got ${definition.evaluationPeriods}.`);
  }
  if (!Number.isInteger(definition.datapointsToAlarm) || definition.datapointsToAlarm < 1 || definition.datapointsToAlarm > definition.evaluationPeriods) {
    throw problem(`datapointsToAlarm must be from 1 to evaluationPeriods (${definition.evaluationPeriods}), got ${definition.datapointsToAlarm}.`);
  }
  if (definition.kind === 'success-rate' && !(definition.threshold >= 0 && definition.threshold <= 1)) {
    throw problem(`a success-rate threshold is a share from 0 to 1, got ${definition.threshold}.`);
  }
  if (definition.kind === 'p99-latency' && !(definition.threshold > 0)) {
    throw problem(`a p99-latency threshold is a positive number of milliseconds, got ${definition.threshold}.`);
  }
  if (!['notBreaching', 'breaching', 'ignore', 'missing'].includes(definition.treatMissingData)) {
    throw problem(`unknown treatMissingData '${definition.treatMissingData}'.`);
  }
}

/** A `Metric` structure (`Namespace`, `MetricName`, `Dimensions`) as an identity. */
function parseMetric(raw: unknown, id: string): MetricIdentity {
  if (!raw || typeof raw !== 'object') throw missing(`Metric (query ${id})`);
  const metric = raw as Record<string, unknown>;
  const namespace = requiredString(metric, 'Namespace');
  const metricName = requiredString(metric, 'MetricName');
  const dimensions: Record<string, string> = {};
  if (metric.Dimensions !== undefined) {
    if (!Array.isArray(metric.Dimensions) || metric.Dimensions.length > 30) {
      throw invalidValue(`${id}: Dimensions must be a list of at most 30 dimensions.`);
    }
    for (const entry of metric.Dimensions as unknown[]) {
      const { Name, Value } = (entry ?? {}) as Record<string, unknown>;
      if (typeof Name !== 'string' || Name === '' || typeof Value !== 'string' || Value === '') {
        throw invalidValue(`${id}: every dimension needs a non-empty Name and Value.`);
      }
      dimensions[Name] = Value;
    }
  }
  return { namespace, metricName, dimensions };
}

function isOffsets(state: unknown, length: number): state is number[] {
  return Array.isArray(state) && state.length === length && state.every((n) => Number.isInteger(n) && n >= 0);
}
