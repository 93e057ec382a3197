// The release page's charts: per-colour series from one GetMetricData call over the health
// metric source's queries, measured period by period with the health check's own arithmetic.
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { COLORAPP, localProfile, serviceConfigOf } from '../../../infra/colorapp-settings';
import { localTrafficOf } from '../../../local/backends';
import { createPageClients, destroyPageClients, readMetrics, type PageClients } from '../../../local/page/data';

const ssm = mockClient(SSMClient);
const cloudwatch = mockClient(CloudWatchClient);
const settings = localProfile(COLORAPP);
const config = serviceConfigOf(settings, { traffic: localTrafficOf(settings, 'alb') });
const NOW = new Date('2026-12-03T10:00:07.500Z');
const T1 = new Date('2026-12-03T09:59:55Z');
const T2 = new Date('2026-12-03T10:00:00Z');

let clients: PageClients;

beforeEach(() => {
  ssm.reset();
  cloudwatch.reset();
  ssm.on(GetParameterCommand, { Name: '/ecs-release/colorapp/config' }).resolves({ Parameter: { Value: JSON.stringify(config) } });
  clients = createPageClients({ endpointUrl: 'http://127.0.0.1:1', region: 'eu-west-1' });
});

afterEach(() => destroyPageClients(clients));

/** A result for `<colour>_<id>` with one value per timestamp. */
const result = (id: string, points: [Date, number][]) => ({ Id: id, Timestamps: points.map(([t]) => t), Values: points.map(([, v]) => v), StatusCode: 'Complete' as const });

it('asks for both colours in one request, ids prefixed with the colour, over the window up to the last whole period', async () => {
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  await readMetrics(clients, 'colorapp', { windowSeconds: 60, periodSeconds: 5, now: NOW });

  const input = cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input;
  expect(input.EndTime).toEqual(new Date('2026-12-03T10:00:05Z')); // 10:00:07.5 is mid-period
  expect(input.StartTime).toEqual(new Date('2026-12-03T09:59:05Z'));
  const ids = (input.MetricDataQueries as MetricDataQuery[]).map((q) => q.Id);
  expect(ids).toContain('blue_requests');
  expect(ids).toContain('green_target_response_time_p99');
  expect(new Set(ids).size).toBe(ids.length);
  expect((input.MetricDataQueries as MetricDataQuery[]).every((q) => q.MetricStat?.Period === 5)).toBe(true);
});

it('measures each period as the health check does: success rate from answered requests, p99 in ms, no requests is no rate', async () => {
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      result('green_requests', [[T1, 100], [T2, 0]]),
      result('green_target_2xx', [[T1, 95]]),
      result('green_target_5xx', [[T1, 5]]),
      result('green_target_response_time_p99', [[T1, 0.25]]),
      result('blue_requests', [[T2, 40]]),
      result('blue_target_2xx', [[T2, 40]]),
    ],
  });
  const view = await readMetrics(clients, 'colorapp', { windowSeconds: 60, periodSeconds: 5, now: NOW });

  expect(view.source).toBe('load-balancer');
  expect(view.series.green).toEqual([
    { t: T1.getTime(), requests: 100, successRate: 0.95, p99LatencyMs: 250 },
    { t: T2.getTime(), requests: 0, successRate: null, p99LatencyMs: null },
  ]);
  expect(view.series.blue).toEqual([{ t: T2.getTime(), requests: 40, successRate: 1, p99LatencyMs: null }]);
});

it('follows NextToken, adding the datapoints of every page to their period', async () => {
  cloudwatch
    .on(GetMetricDataCommand)
    .resolvesOnce({ MetricDataResults: [result('blue_requests', [[T1, 10]])], NextToken: 'more' })
    .resolvesOnce({ MetricDataResults: [result('blue_target_2xx', [[T1, 9]])] });
  const view = await readMetrics(clients, 'colorapp', { windowSeconds: 60, periodSeconds: 5, now: NOW });

  expect(cloudwatch.commandCalls(GetMetricDataCommand)[1].args[0].input.NextToken).toBe('more');
  expect(view.series.blue).toEqual([{ t: T1.getTime(), requests: 10, successRate: 0.9, p99LatencyMs: null }]);
});
