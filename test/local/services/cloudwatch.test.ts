// The local CloudWatch: metrics at 1-second resolution, GetMetricData statistics, and alarms that
// change state and publish the EventBridge event the alarm-watcher parses. Operations are called
// directly; cloudwatch-sdk.test.ts checks the same through the SDK and the local endpoint.
import { AlarmStateChangeEventSchema } from '../../../lambdas/alarm-watcher';
import { ENVOY_METRICS } from '../../../lambdas/shared/envoy-metrics';
import { AwsServiceError, type AlarmDefinition, type BusEvent, type EventBus } from '../../../local/contracts';
import { LocalCloudWatch } from '../../../local/services/cloudwatch';

const NAMESPACE = 'ECSRelease/Envoy';
/** A whole minute, so every period length used here starts on it. */
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

/** An event bus that keeps what is published, completed as EventBridge would deliver it. */
function recordingBus(): EventBus & { events: BusEvent[] } {
  const events: BusEvent[] = [];
  return {
    events,
    publish(event) {
      events.push({ version: '0', id: `e-${events.length}`, account: '000000000000', region: 'us-east-1', time: new Date().toISOString(), ...event } as BusEvent);
    },
    subscribe: () => () => undefined,
  };
}

let cloudwatch: LocalCloudWatch;
let bus: ReturnType<typeof recordingBus>;

beforeEach(() => {
  bus = recordingBus();
  cloudwatch = new LocalCloudWatch({ namespace: NAMESPACE, bus, evaluationIntervalMs: 0 });
});
afterEach(() => cloudwatch.close());

/** The listener dimension of the contract: the colour's ingress listener. */
const INGRESS = { 'envoy.http_conn_manager_prefix': 'ingress' };

/** `ok` 2xx and `errors` 5xx responses of `colour` during second `second` after T0, on `listener`. */
function responses(colour: string, second: number, ok: number, errors = 0, listener = 'ingress'): void {
  for (const [cls, count] of [['2', ok], ['5', errors]] as const) {
    for (let i = 0; i < count; i += 1) {
      cloudwatch.record({
        namespace: NAMESPACE,
        metricName: ENVOY_METRICS.responsesByClass,
        dimensions: {
          Service: 'colorapp',
          Color: colour,
          'envoy.http_conn_manager_prefix': listener,
          [ENVOY_METRICS.responseClassDimension]: cls,
        },
        value: 1,
        timestamp: new Date(T0 + second * 1000 + 100 + i),
      });
    }
  }
}

function latencies(colour: string, second: number, values: number[]): void {
  for (const value of values) {
    cloudwatch.record({
      namespace: NAMESPACE,
      metricName: ENVOY_METRICS.requestTime,
      dimensions: { Service: 'colorapp', Color: colour, ...INGRESS },
      value,
      timestamp: new Date(T0 + second * 1000 + 500),
    });
  }
}

function stat(id: string, metricName: string, dimensions: Record<string, string>, statName: string, period = 1) {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: NAMESPACE, MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) },
      Period: period,
      Stat: statName,
    },
  };
}

const GREEN_2XX = { Service: 'colorapp', Color: 'green', ...INGRESS, [ENVOY_METRICS.responseClassDimension]: '2' };
const GREEN = { Service: 'colorapp', Color: 'green', ...INGRESS };

async function getMetricData(input: Record<string, unknown>) {
  return (await cloudwatch.operations.GetMetricData(input)) as {
    MetricDataResults: { Id: string; Timestamps: number[]; Values: number[]; StatusCode: string }[];
    NextToken?: string;
  };
}

async function expectAwsError(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AwsServiceError);
  expect((error as AwsServiceError).code).toBe(code);
}

describe('GetMetricData', () => {
  it('sums responses per 1-second period and computes statistics over the raw samples', async () => {
    responses('green', 0, 10);
    responses('green', 1, 5);
    latencies('green', 0, Array.from({ length: 100 }, (_, i) => i + 1));

    const out = await getMetricData({
      MetricDataQueries: [
        stat('sum', ENVOY_METRICS.responsesByClass, GREEN_2XX, 'Sum'),
        stat('p99', ENVOY_METRICS.requestTime, GREEN, 'p99'),
        stat('p50', ENVOY_METRICS.requestTime, GREEN, 'p50'),
        stat('avg', ENVOY_METRICS.requestTime, GREEN, 'Average'),
        stat('min', ENVOY_METRICS.requestTime, GREEN, 'Minimum'),
        stat('max', ENVOY_METRICS.requestTime, GREEN, 'Maximum'),
        stat('n', ENVOY_METRICS.requestTime, GREEN, 'SampleCount'),
      ],
      StartTime: T0 / 1000,
      EndTime: T0 / 1000 + 3,
      ScanBy: 'TimestampAscending',
    });

    const byId = Object.fromEntries(out.MetricDataResults.map((r) => [r.Id, r]));
    expect(byId.sum).toMatchObject({ Timestamps: [T0 / 1000, T0 / 1000 + 1], Values: [10, 5], StatusCode: 'Complete' });
    expect(byId.p99.Values).toEqual([99]);
    expect(byId.p50.Values).toEqual([50]);
    expect(byId.avg.Values).toEqual([50.5]);
    expect([byId.min.Values, byId.max.Values, byId.n.Values]).toEqual([[1], [100], [100]]);
  });

  it('returns newest first by default, in periods aligned to the period length', async () => {
    for (let second = 0; second < 20; second += 1) responses('green', second, 1);

    const out = await getMetricData({
      MetricDataQueries: [stat('sum', ENVOY_METRICS.responsesByClass, GREEN_2XX, 'Sum', 10)],
      StartTime: at(3).toISOString(),
      EndTime: at(20).toISOString(),
    });

    expect(out.MetricDataResults[0]).toMatchObject({ Timestamps: [T0 / 1000 + 10, T0 / 1000], Values: [10, 10] });
  });

  it('matches the full set of dimensions, as CloudWatch does', async () => {
    responses('green', 0, 3);

    const out = await getMetricData({
      MetricDataQueries: [stat('sum', ENVOY_METRICS.responsesByClass, GREEN, 'Sum')],
      StartTime: T0 / 1000,
      EndTime: T0 / 1000 + 2,
    });

    expect(out.MetricDataResults[0].Values).toEqual([]);
  });

  it('pages datapoints with MaxDatapoints and NextToken', async () => {
    for (let second = 0; second < 5; second += 1) responses('green', second, second + 1);
    const input = {
      MetricDataQueries: [stat('sum', ENVOY_METRICS.responsesByClass, GREEN_2XX, 'Sum')],
      StartTime: T0 / 1000,
      EndTime: T0 / 1000 + 10,
      ScanBy: 'TimestampAscending',
      MaxDatapoints: 2,
    };

    const values: number[] = [];
    const statuses: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const out = await getMetricData({ ...input, NextToken: token });
      values.push(...out.MetricDataResults[0].Values);
      statuses.push(out.MetricDataResults[0].StatusCode);
      token = out.NextToken;
      if (!token) break;
    }

    expect(values).toEqual([1, 2, 3, 4, 5]);
    expect(statuses).toEqual(['PartialData', 'PartialData', 'Complete']);
  });

  it.each([
    ['a metric math expression', { Id: 'e1', Expression: 'SUM(METRICS())' }, 'InvalidParameterValue'],
    ['a statistic it does not compute', stat('x', ENVOY_METRICS.requestTime, GREEN, 'TM99'), 'InvalidParameterValue'],
    ['a period CloudWatch does not allow', stat('x', ENVOY_METRICS.requestTime, GREEN, 'Sum', 7), 'InvalidParameterValue'],
    ['an id that does not start with a lower-case letter', stat('X1', ENVOY_METRICS.requestTime, GREEN, 'Sum'), 'InvalidParameterValue'],
  ])('rejects %s with %s', async (_what, query, code) => {
    await expectAwsError(getMetricData({ MetricDataQueries: [query], StartTime: T0 / 1000, EndTime: T0 / 1000 + 1 }), code);
  });

  it('rejects a window that ends before it starts, and a token it did not make', async () => {
    const query = stat('x', ENVOY_METRICS.requestTime, GREEN, 'Sum');
    await expectAwsError(getMetricData({ MetricDataQueries: [query], StartTime: T0 / 1000, EndTime: T0 / 1000 }), 'InvalidParameterValue');
    await expectAwsError(
      getMetricData({ MetricDataQueries: [query], StartTime: T0 / 1000, EndTime: T0 / 1000 + 1, NextToken: 'bm90LW91cnM=' }),
      'InvalidNextToken',
    );
  });
});

function alarm(overrides: Partial<AlarmDefinition> = {}): AlarmDefinition {
  return {
    alarmName: 'colorapp-green-success-rate',
    service: 'colorapp',
    colour: 'green',
    kind: 'success-rate',
    threshold: 0.99,
    periodSeconds: 1,
    evaluationPeriods: 6,
    datapointsToAlarm: 3,
    treatMissingData: 'notBreaching',
    ...overrides,
  };
}

describe('DescribeAlarms', () => {
  beforeEach(() => {
    cloudwatch.defineAlarms([
      alarm(),
      alarm({ alarmName: 'colorapp-green-p99-latency', kind: 'p99-latency', threshold: 1000 }),
      alarm({ alarmName: 'colorapp-blue-success-rate', colour: 'blue' }),
    ]);
  });

  it('describes the named metric alarms with their state, in the shape the CDK alarms have in AWS', async () => {
    const out = (await cloudwatch.operations.DescribeAlarms({
      AlarmNames: ['colorapp-green-success-rate', 'colorapp-green-p99-latency', 'no-such-alarm'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'],
    })) as { MetricAlarms: Record<string, unknown>[]; CompositeAlarms: unknown[] };

    expect(out.CompositeAlarms).toEqual([]);
    expect(out.MetricAlarms.map((a) => a.AlarmName)).toEqual(['colorapp-green-p99-latency', 'colorapp-green-success-rate']);
    const [latency, successRate] = out.MetricAlarms;
    expect(successRate).toMatchObject({
      AlarmArn: 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:colorapp-green-success-rate',
      StateValue: 'INSUFFICIENT_DATA',
      StateReason: 'Unchecked: Initial alarm creation',
      Threshold: 99,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 6,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    expect(typeof successRate.StateUpdatedTimestamp).toBe('number');
    expect(latency).toMatchObject({ MetricName: ENVOY_METRICS.requestTime, ExtendedStatistic: 'p99', Threshold: 1000, Namespace: NAMESPACE });
  });

  it('returns only metric alarms when AlarmTypes is not given, and none when it excludes them', async () => {
    const all = (await cloudwatch.operations.DescribeAlarms({})) as { MetricAlarms: unknown[] };
    const composite = (await cloudwatch.operations.DescribeAlarms({ AlarmTypes: ['CompositeAlarm'] })) as { MetricAlarms: unknown[] };

    expect(all.MetricAlarms).toHaveLength(3);
    expect(composite.MetricAlarms).toEqual([]);
  });

  it('pages with MaxRecords and NextToken', async () => {
    const first = (await cloudwatch.operations.DescribeAlarms({ MaxRecords: 2 })) as { MetricAlarms: { AlarmName: string }[]; NextToken?: string };
    const second = (await cloudwatch.operations.DescribeAlarms({ MaxRecords: 2, NextToken: first.NextToken })) as {
      MetricAlarms: { AlarmName: string }[];
      NextToken?: string;
    };

    expect([...first.MetricAlarms, ...second.MetricAlarms].map((a) => a.AlarmName)).toEqual([
      'colorapp-blue-success-rate',
      'colorapp-green-p99-latency',
      'colorapp-green-success-rate',
    ]);
    expect(second.NextToken).toBeUndefined();
  });
});

describe('alarms', () => {
  /** Evaluates just after the end of second `second` (so that second's period is complete). */
  const evaluateAfter = (second: number) => cloudwatch.evaluateAlarms(new Date(T0 + (second + 1) * 1000 + 50));

  it('goes to ALARM after 3 bad periods of 6, back to OK when they age out, one event per change', () => {
    cloudwatch.defineAlarms([alarm()]);
    const states = () => bus.events.map((e) => (e.detail.state as { value: string }).value);

    cloudwatch.evaluateAlarms(at(0)); // no data yet, treated as not breaching
    expect(states()).toEqual(['OK']);

    for (const second of [0, 1]) {
      responses('green', second, 50, 50);
      evaluateAfter(second);
    }
    expect(states()).toEqual(['OK']);

    responses('green', 2, 50, 50);
    evaluateAfter(2);
    evaluateAfter(2);
    expect(states()).toEqual(['OK', 'ALARM']);
    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('ALARM');

    for (const second of [3, 4, 5]) {
      responses('green', second, 100);
      evaluateAfter(second);
    }
    expect(states()).toEqual(['OK', 'ALARM']);
    responses('green', 6, 100);
    evaluateAfter(6);
    expect(states()).toEqual(['OK', 'ALARM', 'OK']);
  });

  it('publishes the EventBridge "CloudWatch Alarm State Change" event the alarm-watcher parses', () => {
    cloudwatch.defineAlarms([alarm({ evaluationPeriods: 1, datapointsToAlarm: 1 })]);
    responses('green', 0, 1, 1);
    evaluateAfter(0);

    expect(bus.events).toHaveLength(1);
    const [event] = bus.events;
    const parsed = AlarmStateChangeEventSchema.parse(event);
    expect(parsed.detail).toMatchObject({
      alarmName: 'colorapp-green-success-rate',
      state: { value: 'ALARM' },
      previousState: { value: 'INSUFFICIENT_DATA' },
    });
    expect(event).toMatchObject({
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      resources: ['arn:aws:cloudwatch:us-east-1:000000000000:alarm:colorapp-green-success-rate'],
    });
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const state = event.detail.state as { reason: string; reasonData: string; timestamp: string };
    expect(state.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(state.reason).toMatch(/^Threshold Crossed: 1 out of the last 1 datapoint \[50\.0 \(01\/01\/25 12:00:00\)\] was less than the threshold \(99\.0\)/);
    expect(JSON.parse(state.reasonData)).toMatchObject({ version: '1.0', period: 1, recentDatapoints: [50], threshold: 99 });
    const configuration = event.detail.configuration as { metrics: { id: string; expression?: string; returnData: boolean }[] };
    expect(configuration.metrics.map((m) => [m.id, m.returnData])).toEqual([
      ['expr_1', true],
      ['r2xx', false],
      ['r3xx', false],
      ['r4xx', false],
      ['r5xx', false],
    ]);
    expect(configuration.metrics[0].expression).toContain('FILL(r5xx, 0)');
  });

  it("counts the colour's ingress listener only: 5xx on Envoy's admin listener never set the alarm", () => {
    cloudwatch.defineAlarms([alarm({ evaluationPeriods: 1, datapointsToAlarm: 1 })]);
    responses('green', 0, 100, 0);
    responses('green', 0, 0, 100, 'admin');
    evaluateAfter(0);

    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('OK');
  });

  it('treats missing data as each alarm says', () => {
    cloudwatch.defineAlarms([
      alarm({ alarmName: 'missing', treatMissingData: 'missing' }),
      alarm({ alarmName: 'ignore', treatMissingData: 'ignore' }),
      alarm({ alarmName: 'breaching', treatMissingData: 'breaching' }),
      alarm({ alarmName: 'not-breaching', treatMissingData: 'notBreaching' }),
    ]);

    cloudwatch.evaluateAlarms(at(30));

    const states = Object.fromEntries(['missing', 'ignore', 'breaching', 'not-breaching'].map((n) => [n, cloudwatch.alarmState(n)?.value]));
    expect(states).toEqual({ missing: 'INSUFFICIENT_DATA', ignore: 'INSUFFICIENT_DATA', breaching: 'ALARM', 'not-breaching': 'OK' });
    expect(bus.events.map((e) => e.detail.alarmName).sort()).toEqual(['breaching', 'not-breaching']);
  });

  it('alarms on the p99 latency of each period', () => {
    cloudwatch.defineAlarms([alarm({ alarmName: 'latency', kind: 'p99-latency', threshold: 1000, evaluationPeriods: 2, datapointsToAlarm: 2 })]);
    latencies('green', 0, [5, 5, 5, 1500]);
    latencies('green', 1, [5, 2000]);

    evaluateAfter(1);

    expect(cloudwatch.alarmState('latency')).toMatchObject({ value: 'ALARM' });
    expect(JSON.parse(cloudwatch.alarmState('latency')?.reasonData ?? '{}')).toMatchObject({ statistic: 'p99', recentDatapoints: [1500, 2000] });
  });

  it('publishes a SetAlarmState change, which lasts until the next evaluation', async () => {
    cloudwatch.defineAlarms([alarm()]);

    await cloudwatch.operations.SetAlarmState({ AlarmName: 'colorapp-green-success-rate', StateValue: 'ALARM', StateReason: 'drill' });
    cloudwatch.evaluateAlarms(at(10));

    expect(bus.events.map((e) => [(e.detail.state as { value: string }).value, (e.detail.state as { reason: string }).reason])).toEqual([
      ['ALARM', 'drill'],
      ['OK', expect.stringContaining('treated as [NonBreaching]')],
    ]);
    await expectAwsError(
      cloudwatch.operations.SetAlarmState({ AlarmName: 'nope', StateValue: 'ALARM', StateReason: 'drill' }),
      'ResourceNotFound',
    );
  });

  it('keeps a state history for DescribeAlarmHistory', async () => {
    cloudwatch.defineAlarms([alarm({ treatMissingData: 'breaching' })]);
    cloudwatch.evaluateAlarms(at(10));

    const out = (await cloudwatch.operations.DescribeAlarmHistory({ AlarmName: 'colorapp-green-success-rate' })) as {
      AlarmHistoryItems: { HistorySummary: string }[];
    };

    expect(out.AlarmHistoryItems.map((i) => i.HistorySummary)).toEqual(['Alarm updated from INSUFFICIENT_DATA to ALARM']);
  });

  it('evaluates on its own timer until closed', async () => {
    const timed = new LocalCloudWatch({ namespace: NAMESPACE, bus, evaluationIntervalMs: 20 });
    try {
      timed.defineAlarms([alarm({ treatMissingData: 'breaching' })]);
      const deadline = Date.now() + 2000;
      while (bus.events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(timed.alarmState('colorapp-green-success-rate')?.value).toBe('ALARM');
    } finally {
      timed.close();
    }
    timed.setAlarmState('colorapp-green-success-rate', 'OK', 'reset by the test');
    await new Promise((r) => setTimeout(r, 100));
    expect(timed.alarmState('colorapp-green-success-rate')?.value).toBe('OK');
  });

  it('refuses an alarm definition it cannot evaluate, naming the field', () => {
    expect(() => cloudwatch.defineAlarms([alarm({ datapointsToAlarm: 7 })])).toThrow(/datapointsToAlarm must be from 1 to evaluationPeriods \(6\)/);
    expect(() => cloudwatch.defineAlarms([alarm({ threshold: 99 })])).toThrow(/success-rate threshold is a share from 0 to 1/);
  });
});

describe('PutMetricData', () => {
  it('stores values and counts like samples from the gateway', async () => {
    await cloudwatch.operations.PutMetricData({
      Namespace: NAMESPACE,
      MetricData: [
        { MetricName: ENVOY_METRICS.requestTime, Dimensions: [{ Name: 'Service', Value: 'colorapp' }, { Name: 'Color', Value: 'green' }, { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' }], Timestamp: T0 / 1000, Values: [10, 20], Counts: [1, 3] },
      ],
    });

    const out = await getMetricData({
      MetricDataQueries: [stat('n', ENVOY_METRICS.requestTime, GREEN, 'SampleCount'), stat('s', ENVOY_METRICS.requestTime, GREEN, 'Sum')],
      StartTime: T0 / 1000,
      EndTime: T0 / 1000 + 1,
    });

    expect(out.MetricDataResults.map((r) => r.Values)).toEqual([[4], [70]]);
  });
});
