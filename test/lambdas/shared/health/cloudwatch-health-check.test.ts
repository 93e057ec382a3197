import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ResourceNotFoundError, ThrottledError, ValidationError } from '../../../../lambdas/shared/errors';
import {
  CloudWatchHealthCheck,
  type CloudWatchHealthCheckOptions,
  describeAlarmStates,
  queryPeriodSeconds,
} from '../../../../lambdas/shared/health/cloudwatch-health-check';
import { EnvoyMetricSource } from '../../../../lambdas/shared/health/envoy-metric-source';
import type { HealthQuery } from '../../../../lambdas/shared/health/health-check';

const cw = mockClient(CloudWatchClient);
const client = new CloudWatchClient({});

const thresholds = { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 };
// The Envoy source here; every source's queries and measures are in metric-sources.test.ts.
const options: CloudWatchHealthCheckOptions = {
  source: new EnvoyMetricSource('ECSRelease/Envoy'),
  periodSeconds: 10,
  alarmNames: ['colorapp-common', 'colorapp-green-5xx'],
  thresholds,
};
const query: HealthQuery = {
  service: 'colorapp',
  colour: 'green',
  stepIndex: 1,
  weight: 50,
  attempt: 0,
  // 12:00:07 aligns down to 12:00:00 with a 10 s period.
  windowStart: new Date('2025-01-01T12:00:07.500Z'),
  windowEnd: new Date('2025-01-01T12:01:07.500Z'),
};

// The colour's ingress listener only: Envoy's admin listener (health-check polls) must not count.
const serviceDims = [
  { Name: 'Service', Value: 'colorapp' },
  { Name: 'Color', Value: 'green' },
  { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' },
];
function responsesQuery(cls: string) {
  return {
    Id: `responses_${cls}xx`,
    MetricStat: {
      Metric: {
        Namespace: 'ECSRelease/Envoy',
        MetricName: 'envoy_http_downstream_rq_xx',
        Dimensions: [...serviceDims, { Name: 'envoy.response_code_class', Value: cls }],
      },
      Period: 10,
      Stat: 'Sum',
    },
    ReturnData: true,
  };
}
const expectedQueries = [
  responsesQuery('2'),
  responsesQuery('3'),
  responsesQuery('4'),
  responsesQuery('5'),
  {
    Id: 'request_time_p99',
    MetricStat: {
      Metric: { Namespace: 'ECSRelease/Envoy', MetricName: 'envoy_http_downstream_rq_time', Dimensions: serviceDims },
      Period: 10,
      Stat: 'p99',
    },
    ReturnData: true,
  },
];

function result(Id: string, Values: number[], StatusCode: MetricDataResult['StatusCode'] = 'Complete'): MetricDataResult {
  return { Id, Values, Timestamps: Values.map((_, i) => new Date(Date.UTC(2025, 0, 1, 12, 0, i * 10))), StatusCode };
}

function alarmsOk(...names: string[]) {
  return { MetricAlarms: names.map((AlarmName) => ({ AlarmName, StateValue: 'OK' as const })) };
}

beforeEach(() => {
  cw.reset();
});

describe('CloudWatchHealthCheck', () => {
  it("queries each response class and p99 latency of the colour's ingress listener over the window aligned to the period", async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common', 'colorapp-green-5xx'));
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        result('responses_2xx', [300, 290]),
        result('responses_3xx', [5]),
        result('responses_4xx', [3, 2]),
        result('responses_5xx', [0, 1]),
        result('request_time_p99', [120, 180.5]),
      ],
    });

    const verdict = await new CloudWatchHealthCheck(client, options).judge(query);

    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
    expect(cw.commandCalls(GetMetricDataCommand)[0].args[0].input).toEqual({
      MetricDataQueries: expectedQueries,
      StartTime: new Date('2025-01-01T12:00:00.000Z'),
      EndTime: new Date('2025-01-01T12:01:07.500Z'),
      ScanBy: 'TimestampAscending',
    });
    expect(verdict).toEqual({
      status: 'healthy',
      reasons: [expect.stringContaining('Success rate 99.834% (1 5xx in 601 requests)')],
      colour: 'green',
      stepIndex: 1,
      weight: 50,
      attempt: 0,
      window: { start: '2025-01-01T12:00:00.000Z', end: '2025-01-01T12:01:07.500Z' },
      evidence: {
        requests: 601,
        errors5xx: 1,
        successRate: 1 - 1 / 601,
        p99LatencyMs: 180.5,
        alarmsInAlarm: [],
      },
      thresholds,
    });
  });

  it('reads the configured alarms, metric and composite alike, in one request', async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'colorapp-green-5xx', StateValue: 'OK' }],
      CompositeAlarms: [{ AlarmName: 'colorapp-common', StateValue: 'OK' }],
    });
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    await new CloudWatchHealthCheck(client, options).judge(query);

    expect(cw).toHaveReceivedCommandTimes(DescribeAlarmsCommand, 1);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toEqual({
      AlarmNames: ['colorapp-common', 'colorapp-green-5xx'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'],
      MaxRecords: 100,
    });
  });

  it('follows NextToken across GetMetricData pages and adds up each query across them', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common', 'colorapp-green-5xx'));
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          result('responses_2xx', [100], 'PartialData'),
          result('responses_5xx', [2], 'PartialData'),
          result('request_time_p99', [300], 'PartialData'),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          result('responses_2xx', [98]),
          result('responses_5xx', [0]),
          result('request_time_p99', [1200]),
        ],
      });

    const verdict = await new CloudWatchHealthCheck(client, options).judge(query);

    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 2);
    expect(cw.commandCalls(GetMetricDataCommand)[1].args[0].input).toEqual({
      MetricDataQueries: expectedQueries,
      StartTime: new Date('2025-01-01T12:00:00.000Z'),
      EndTime: new Date('2025-01-01T12:01:07.500Z'),
      ScanBy: 'TimestampAscending',
      NextToken: 'page-2',
    });
    expect(verdict.evidence).toEqual({
      requests: 200,
      errors5xx: 2,
      successRate: 0.99,
      p99LatencyMs: 1200,
      alarmsInAlarm: [],
    });
    expect(verdict.status).toBe('unhealthy');
    expect(verdict.reasons).toEqual(['p99 latency 1200 ms is above the maximum 1000 ms.']);
  });

  it('is unhealthy and names the alarm when a configured alarm is in ALARM', async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: 'colorapp-common', StateValue: 'OK' },
        { AlarmName: 'colorapp-green-5xx', StateValue: 'ALARM' },
      ],
    });
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [result('responses_2xx', [1000]), result('request_time_p99', [50])],
    });

    const verdict = await new CloudWatchHealthCheck(client, options).judge(query);

    expect(verdict.status).toBe('unhealthy');
    expect(verdict.evidence.alarmsInAlarm).toEqual(['colorapp-green-5xx']);
    expect(verdict.reasons).toEqual(['Alarm colorapp-green-5xx is in ALARM.']);
  });

  it('fails with ResourceNotFoundError naming a configured alarm that does not exist, before reading metrics', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common'));

    const judging = new CloudWatchHealthCheck(client, options).judge(query);

    await expect(judging).rejects.toThrow(ResourceNotFoundError);
    await expect(judging).rejects.toThrow(/colorapp-green-5xx does not exist/);
    expect(cw).not.toHaveReceivedCommand(GetMetricDataCommand);
  });

  it('is inconclusive, not healthy, when the colour has no data', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common', 'colorapp-green-5xx'));
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: expectedQueries.map((q) => result(q.Id, [])),
    });

    const verdict = await new CloudWatchHealthCheck(client, options).judge(query);

    expect(verdict.status).toBe('inconclusive');
    expect(verdict.evidence).toEqual({
      requests: 0,
      errors5xx: 0,
      successRate: null,
      p99LatencyMs: null,
      alarmsInAlarm: [],
    });
    expect(verdict.reasons).toEqual([expect.stringContaining('Only 0 requests in the window')]);
  });

  it('does not pass a window whose metric data CloudWatch could not return', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common', 'colorapp-green-5xx'));
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        result('responses_2xx', [1000]),
        { Id: 'responses_5xx', Values: [], StatusCode: 'InternalError', Messages: [{ Code: 'x', Value: 'try later' }] },
        result('request_time_p99', [50]),
      ],
    });

    const verdict = await new CloudWatchHealthCheck(client, options).judge(query);

    expect(verdict.status).toBe('inconclusive');
    expect(verdict.reasons).toEqual([
      'CloudWatch returned incomplete metric data: responses_5xx InternalError (try later).',
    ]);
  });

  it('reads no alarms when none are configured', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    await new CloudWatchHealthCheck(client, { ...options, alarmNames: [] }).judge(query);

    expect(cw).not.toHaveReceivedCommand(DescribeAlarmsCommand);
    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
  });

  it('does not query an empty window and calls it inconclusive', async () => {
    const at = new Date('2025-01-01T12:00:00.000Z');

    const verdict = await new CloudWatchHealthCheck(client, { ...options, alarmNames: [] }).judge({
      ...query,
      windowStart: at,
      windowEnd: at,
    });

    expect(cw).not.toHaveReceivedCommand(GetMetricDataCommand);
    expect(verdict.status).toBe('inconclusive');
  });

  it('retries a throttled GetMetricData and gives up with ThrottledError', async () => {
    cw.on(GetMetricDataCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    await expect(new CloudWatchHealthCheck(client, { ...options, alarmNames: [] }).judge(query)).rejects.toThrow(
      ThrottledError,
    );
    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 6);
  });

  it.each([
    { behaviour: 'a period CloudWatch does not offer', change: { periodSeconds: 7 }, message: /periodSeconds/ },
    {
      behaviour: 'a success rate above 1',
      change: { thresholds: { ...thresholds, minSuccessRate: 1.5 } },
      message: /minSuccessRate/,
    },
    {
      behaviour: 'a minimum of zero requests (no data would pass)',
      change: { thresholds: { ...thresholds, minRequests: 0 } },
      message: /minRequests/,
    },
  ])('rejects $behaviour with a ValidationError naming the option', ({ change, message }) => {
    expect(() => new CloudWatchHealthCheck(client, { ...options, ...change })).toThrow(ValidationError);
    expect(() => new CloudWatchHealthCheck(client, { ...options, ...change })).toThrow(message);
  });
});

describe('the period of a long window', () => {
  const longWindow = (hours: number): HealthQuery => ({
    ...query,
    windowStart: new Date(query.windowEnd.getTime() - hours * 3600_000),
  });
  const periodsSent = () =>
    cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries!.map((q) => q.MetricStat!.Period);

  beforeEach(() => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('colorapp-common', 'colorapp-green-5xx'));
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  });

  it('keeps the configured 10 s period for a window that starts within 3 hours', async () => {
    await new CloudWatchHealthCheck(client, options).judge(longWindow(3));
    expect(periodsSent()).toEqual([10, 10, 10, 10, 10]);
  });

  it('queries a window starting more than 3 hours ago with 60 s, the shortest period CloudWatch still returns, aligned to it', async () => {
    const verdict = await new CloudWatchHealthCheck(client, options).judge(longWindow(4));
    expect(periodsSent()).toEqual([60, 60, 60, 60, 60]);
    // 08:01:07.5 aligns down to the minute.
    expect(verdict.window.start).toBe('2025-01-01T08:01:00.000Z');
  });

  it('leaves a period that is already a multiple of 60 alone', () => {
    const start = new Date('2025-01-01T00:00:00Z');
    expect(queryPeriodSeconds(120, start, new Date('2025-01-01T05:00:00Z'))).toBe(120);
    expect(queryPeriodSeconds(30, start, new Date('2025-01-01T05:00:00Z'))).toBe(60);
    expect(queryPeriodSeconds(60, start, new Date('2025-01-20T00:00:00Z'))).toBe(300);
  });
});

describe('describeAlarmStates', () => {
  it('asks for at most 100 names per request and follows NextToken', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `alarm-${i}`);
    cw.on(DescribeAlarmsCommand, { AlarmNames: names.slice(0, 100) })
      .resolvesOnce({ ...alarmsOk(...names.slice(0, 60)), NextToken: 'more' })
      .resolvesOnce(alarmsOk(...names.slice(60, 100)));
    cw.on(DescribeAlarmsCommand, { AlarmNames: names.slice(100) }).resolves({
      MetricAlarms: names.slice(100).map((AlarmName) => ({
        AlarmName,
        StateValue: AlarmName === 'alarm-120' ? 'ALARM' : 'OK',
      })),
    });

    const states = await describeAlarmStates(client, names);

    expect(states).toEqual({ inAlarm: ['alarm-120'] });
    const inputs = cw.commandCalls(DescribeAlarmsCommand).map((call) => call.args[0].input);
    const types = ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'];
    expect(inputs).toEqual([
      { AlarmNames: names.slice(0, 100), AlarmTypes: types, MaxRecords: 100 },
      { AlarmNames: names.slice(0, 100), AlarmTypes: types, MaxRecords: 100, NextToken: 'more' },
      { AlarmNames: names.slice(100), AlarmTypes: types, MaxRecords: 100 },
    ]);
  });

  it('asks for a name listed twice only once', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('a'));

    await describeAlarmStates(client, ['a', 'a']);

    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['a'] });
  });

  it('names every missing alarm', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarmsOk('b'));

    await expect(describeAlarmStates(client, ['a', 'b', 'c'])).rejects.toThrow(
      'CloudWatch alarms a, c do not exist, so the release cannot be judged. ' +
        'Create the alarm or remove it from health.alarms in the service configuration.',
    );
  });
});
