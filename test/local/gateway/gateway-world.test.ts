// The gateway in the local world: real colorapp tasks run by the local ECS, statistics into the
// local CloudWatch, where GetMetricData and the alarms see exactly what the clients saw.
import { ENVOY_METRICS } from '../../../lambdas/shared/envoy-metrics';
import type { BusEvent } from '../../../local/contracts';
import { startGateway, type Gateway } from '../../../local/gateway/gateway';
import { LocalCloudWatch } from '../../../local/services/cloudwatch';
import { LocalEcs, buildColorApp } from '../../../local/services/ecs';

const NAMESPACE = 'ECSRelease/Envoy';
const NODES = { blue: 'colorapp-blue', green: 'colorapp-green' };

let ecs: LocalEcs | undefined;
let cloudwatch: LocalCloudWatch | undefined;
let gateway: Gateway | undefined;

afterEach(async () => {
  await gateway?.close();
  cloudwatch?.close();
  await ecs?.close();
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

describe('gateway in the local world', () => {
  it('sends real traffic to real tasks and leaves the same numbers in CloudWatch, which alarms on the faulty colour', async () => {
    const entry = await buildColorApp();
    ecs = new LocalEcs({
      cluster: 'apps',
      healthCheckIntervalMs: 50,
      images: { 'colorapp:v1': { entry }, 'colorapp:v2': { entry, env: { FAULT_RATE: '1' } } },
    });
    for (const [colour, image] of [['blue', 'colorapp:v1'], ['green', 'colorapp:v2']] as const) {
      const td = ecs.registerTaskDefinition({
        family: `colorapp-${colour}`,
        containerDefinitions: [{ name: 'app', image, environment: [{ name: 'COLOR', value: colour }] }],
      });
      ecs.seedService({ serviceName: `colorapp-${colour}`, taskDefinition: td.taskDefinitionArn, desiredCount: 1 });
    }
    await Promise.all([ecs.waitUntilSteady('colorapp-blue', 8000), ecs.waitUntilSteady('colorapp-green', 8000)]);
    const events: BusEvent[] = [];
    cloudwatch = new LocalCloudWatch({
      namespace: NAMESPACE,
      evaluationIntervalMs: 0,
      bus: { publish: (event) => events.push(event as BusEvent), subscribe: () => () => undefined },
    });
    cloudwatch.defineAlarms(
      (['blue', 'green'] as const).map((colour) => ({
        alarmName: `colorapp-${colour}-success-rate`,
        service: 'colorapp',
        colour,
        kind: 'success-rate' as const,
        threshold: 0.99,
        periodSeconds: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 1,
        treatMissingData: 'notBreaching' as const,
      })),
    );
    gateway = await startGateway({
      routes: { weights: () => ({ [NODES.blue]: 50, [NODES.green]: 50 }) },
      tasks: ecs,
      mesh: { meshName: 'apps', virtualRouterName: 'colorapp-router', routeName: 'colorapp-route' },
      nodes: NODES,
      services: { blue: 'colorapp-blue', green: 'colorapp-green' },
      serviceName: 'colorapp',
      metrics: cloudwatch,
      namespace: NAMESPACE,
    });
    const started = Date.now();

    const replies = await Promise.all(Array.from({ length: 40 }, () => get(`${gateway!.url}/`)));

    const stats = gateway.stats().byColour;
    expect(replies.filter((r) => r.status === 500)).toHaveLength(stats.green.requests);
    expect(replies.filter((r) => r.status === 200).map((r) => JSON.parse(r.body))).toEqual(
      Array(stats.blue.requests).fill({ color: 'blue', version: 'v1' }),
    );
    expect(stats.green.requests).toBeGreaterThan(0);

    const query = (id: string, colour: string, responseClass: string) => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: NAMESPACE,
          MetricName: ENVOY_METRICS.responsesByClass,
          Dimensions: [
            { Name: 'Service', Value: 'colorapp' },
            { Name: 'Color', Value: colour },
            { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' },
            { Name: ENVOY_METRICS.responseClassDimension, Value: responseClass },
          ],
        },
        Period: 1,
        Stat: 'Sum',
      },
    });
    const out = (await cloudwatch.operations.GetMetricData({
      MetricDataQueries: [query('blue_ok', 'blue', '2'), query('green_errors', 'green', '5')],
      StartTime: (started - 2000) / 1000,
      EndTime: (Date.now() + 2000) / 1000,
    })) as { MetricDataResults: { Id: string; Values: number[] }[] };
    const sums = Object.fromEntries(out.MetricDataResults.map((r) => [r.Id, r.Values.reduce((a, b) => a + b, 0)]));
    expect(sums).toEqual({ blue_ok: stats.blue.requests, green_errors: stats.green.requests });

    cloudwatch.evaluateAlarms(new Date(Date.now() + 1100)); // once the current second has ended
    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('ALARM');
    expect(cloudwatch.alarmState('colorapp-blue-success-rate')?.value).toBe('OK');
    expect(events.filter((e) => (e.detail.state as { value: string }).value === 'ALARM').map((e) => e.detail.alarmName)).toEqual([
      'colorapp-green-success-rate',
    ]);
  });
});
