// The local CloudWatch as the release handlers reach it: the SDK v3 client over the local
// endpoint (awsJson1_0), read by the real CloudWatch health check and alarm-state reader.
import { CloudWatchClient, GetMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ENVOY_METRICS } from '../../../lambdas/shared/envoy-metrics';
import { CloudWatchHealthCheck, describeAlarmStates } from '../../../lambdas/shared/health/cloudwatch-health-check';
import { EnvoyMetricSource } from '../../../lambdas/shared/health/envoy-metric-source';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalCloudWatch } from '../../../local/services/cloudwatch';

const NAMESPACE = 'ECSRelease/Envoy';

let cloudwatch: LocalCloudWatch;
let endpoint: LocalEndpoint;
let client: CloudWatchClient;

beforeAll(async () => {
  cloudwatch = new LocalCloudWatch({ namespace: NAMESPACE, evaluationIntervalMs: 0 });
  endpoint = await startLocalEndpoint({ jsonServices: [cloudwatch] });
  client = new CloudWatchClient({ endpoint: endpoint.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  client?.destroy();
  cloudwatch?.close();
  await endpoint?.close();
});

/** Responses of green's ingress listener during the last few seconds: `ok` 2xx and `errors` 5xx, 20 ms each. */
function traffic(now: number, ok: number, errors: number): void {
  const dimensions = { Service: 'colorapp', Color: 'green', 'envoy.http_conn_manager_prefix': 'ingress' };
  for (let i = 0; i < ok + errors; i += 1) {
    const timestamp = new Date(now - 3000 + (i % 2000));
    const responseClass = i < ok ? '2' : '5';
    cloudwatch.record({
      namespace: NAMESPACE,
      metricName: ENVOY_METRICS.responsesByClass,
      dimensions: { ...dimensions, [ENVOY_METRICS.responseClassDimension]: responseClass },
      value: 1,
      timestamp,
    });
    cloudwatch.record({ namespace: NAMESPACE, metricName: ENVOY_METRICS.requestTime, dimensions, value: 20, timestamp });
  }
}

describe('local CloudWatch through the SDK', () => {
  it('answers GetMetricData with Date timestamps and numbers the SDK parses', async () => {
    const now = Date.now();
    traffic(now, 30, 0);

    const out = await client.send(
      new GetMetricDataCommand({
        MetricDataQueries: [
          {
            Id: 'ok',
            MetricStat: {
              Metric: {
                Namespace: NAMESPACE,
                MetricName: ENVOY_METRICS.responsesByClass,
                Dimensions: [
                  { Name: 'Service', Value: 'colorapp' },
                  { Name: 'Color', Value: 'green' },
                  { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' },
                  { Name: ENVOY_METRICS.responseClassDimension, Value: '2' },
                ],
              },
              Period: 1,
              Stat: 'Sum',
            },
          },
        ],
        StartTime: new Date(now - 10_000),
        EndTime: new Date(now + 1000),
      }),
    );

    const [result] = out.MetricDataResults ?? [];
    expect(result.Timestamps?.every((t) => t instanceof Date)).toBe(true);
    expect((result.Values ?? []).reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('feeds the real health check a verdict it can judge', async () => {
    const now = Date.now();
    traffic(now, 95, 5);
    const check = new CloudWatchHealthCheck(client, {
      source: new EnvoyMetricSource(NAMESPACE),
      periodSeconds: 1,
      alarmNames: [],
      thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
    });

    const verdict = await check.judge({
      service: 'colorapp',
      colour: 'green',
      stepIndex: 0,
      weight: 10,
      attempt: 0,
      windowStart: new Date(now - 60_000),
      windowEnd: new Date(now + 1000),
    });

    // 30 healthy responses from the first test are in the window too.
    expect(verdict.evidence).toMatchObject({ requests: 130, errors5xx: 5, p99LatencyMs: 20 });
    expect(verdict.status).toBe('unhealthy');
  });

  it('reports alarm states to describeAlarmStates, and missing alarms as missing', async () => {
    cloudwatch.defineAlarms([
      {
        alarmName: 'colorapp-green-success-rate',
        service: 'colorapp',
        colour: 'green',
        kind: 'success-rate',
        threshold: 0.99,
        periodSeconds: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 1,
        treatMissingData: 'notBreaching',
      },
    ]);
    await client.send(new SetAlarmStateCommand({ AlarmName: 'colorapp-green-success-rate', StateValue: 'ALARM', StateReason: 'drill' }));

    await expect(describeAlarmStates(client, ['colorapp-green-success-rate'])).resolves.toEqual({ inAlarm: ['colorapp-green-success-rate'] });
    await expect(describeAlarmStates(client, ['colorapp-green-success-rate', 'nope'])).rejects.toThrow(/CloudWatch alarm nope does not exist/);
  });

  it('raises the SDK\'s own exception classes for its errors', async () => {
    const error = await client
      .send(
        new GetMetricDataCommand({
          MetricDataQueries: [{ Id: 'e1', Expression: 'SUM(METRICS())' }],
          StartTime: new Date(Date.now() - 1000),
          EndTime: new Date(),
        }),
      )
      .catch((e: unknown) => e as Error);
    const missing = await client
      .send(new SetAlarmStateCommand({ AlarmName: 'nope', StateValue: 'OK', StateReason: 'x' }))
      .catch((e: unknown) => e as Error);

    expect(error).toMatchObject({ name: 'InvalidParameterValueException' });
    expect((error as Error).message).toMatch(/metric math expressions are not supported/);
    expect(missing).toMatchObject({ name: 'ResourceNotFound' });
  });
});
