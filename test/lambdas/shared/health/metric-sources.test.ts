import {
  CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { TrafficConfig } from '../../../../lambdas/shared/config';
import { ValidationError } from '../../../../lambdas/shared/errors';
import { ApplicationMetricSource } from '../../../../lambdas/shared/health/application-metric-source';
import { CloudWatchHealthCheck } from '../../../../lambdas/shared/health/cloudwatch-health-check';
import { EnvoyMetricSource } from '../../../../lambdas/shared/health/envoy-metric-source';
import type { HealthQuery } from '../../../../lambdas/shared/health/health-check';
import { LoadBalancerMetricSource } from '../../../../lambdas/shared/health/load-balancer-metric-source';
import type { HealthMetricSource } from '../../../../lambdas/shared/health/metric-source';
import { healthMetricSourceOf, periodWarning } from '../../../../lambdas/shared/health/metric-sources';

const cw = mockClient(CloudWatchClient);
const client = new CloudWatchClient({});
beforeEach(() => cw.reset());

const thresholds = { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 };
const query: HealthQuery = {
  service: 'colorapp',
  colour: 'green',
  stepIndex: 0,
  weight: 10,
  attempt: 0,
  windowStart: new Date('2025-01-01T12:00:00.000Z'),
  windowEnd: new Date('2025-01-01T12:03:00.000Z'),
};

const LISTENER = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2';
const alb: Extract<TrafficConfig, { kind: 'alb' }> = {
  kind: 'alb',
  listenerArn: LISTENER,
  rule: 'listener-default',
  targetGroups: {
    blue: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/colorapp-blue/73e2d6bc24d8a067',
    green: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/colorapp-green/4c1a8c2b9d0e7f36',
  },
};
const appmesh: TrafficConfig = {
  kind: 'appmesh',
  meshName: 'm',
  virtualRouterName: 'r',
  routeName: 'w',
  virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
};

/** Datapoints by query Id; a query left out returns no datapoints, as CloudWatch does for a metric nobody published. */
type Datapoints = Record<string, number[] | undefined>;

function results(values: Datapoints): { MetricDataResults: MetricDataResult[] } {
  return {
    MetricDataResults: Object.entries(values).map(([Id, Values]) => ({ Id, Values: Values ?? [], StatusCode: 'Complete' })),
  };
}

async function judgeWith(source: HealthMetricSource, periodSeconds: number, values: Datapoints) {
  cw.on(GetMetricDataCommand).resolves(results(values));
  const verdict = await new CloudWatchHealthCheck(client, { source, periodSeconds, alarmNames: [], thresholds }).judge(query);
  const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
  return { verdict, queries: input.MetricDataQueries as MetricDataQuery[] };
}

describe('load-balancer source (AWS/ApplicationELB per target group)', () => {
  // Names, statistics and dimensions: "CloudWatch metrics for your Application Load Balancer"
  // (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)
  // and aws-cdk-lib's ApplicationELBMetrics (aws-elasticloadbalancingv2/lib/elasticloadbalancingv2-canned-metrics.generated.d.ts):
  // requestCountSum, httpCodeTarget5XxCountSum, targetConnectionErrorCountSum and targetResponseTime take
  // { LoadBalancer, TargetGroup }; httpCodeElb5XxCountSum only { LoadBalancer }, so it cannot be per colour.
  const dims = [
    { Name: 'TargetGroup', Value: 'targetgroup/colorapp-green/4c1a8c2b9d0e7f36' },
    { Name: 'LoadBalancer', Value: 'app/colorapp/50dc6c495c0c9188' },
  ];
  const stat = (Id: string, MetricName: string, Stat: string) => ({
    Id,
    MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName, Dimensions: dims }, Period: 60, Stat },
    ReturnData: true,
  });

  it("queries the idle colour's target group: RequestCount, target answers by class, connection errors (Sum) and TargetResponseTime (p99)", async () => {
    const { queries } = await judgeWith(new LoadBalancerMetricSource(alb), 60, {});
    expect(queries).toEqual([
      stat('requests', 'RequestCount', 'Sum'),
      stat('target_2xx', 'HTTPCode_Target_2XX_Count', 'Sum'),
      stat('target_3xx', 'HTTPCode_Target_3XX_Count', 'Sum'),
      stat('target_4xx', 'HTTPCode_Target_4XX_Count', 'Sum'),
      stat('target_5xx', 'HTTPCode_Target_5XX_Count', 'Sum'),
      stat('target_connection_errors', 'TargetConnectionErrorCount', 'Sum'),
      stat('target_response_time_p99', 'TargetResponseTime', 'p99'),
    ]);
    expect(queries.map((q) => q.MetricStat?.Metric?.MetricName)).not.toContain('HTTPCode_ELB_5XX_Count');
  });

  it.each([
    {
      behaviour: 'healthy traffic is healthy, with TargetResponseTime seconds read as milliseconds',
      values: { requests: [400, 600], target_2xx: [398, 590], target_4xx: [10], target_5xx: [2], target_response_time_p99: [0.12, 0.25] },
      status: 'healthy',
      evidence: { requests: 1000, errors5xx: 2, successRate: 0.998, p99LatencyMs: 250 },
    },
    {
      behaviour: "the targets' 5xx make it unhealthy",
      values: { requests: [500], target_2xx: [475], target_5xx: [25], target_response_time_p99: [0.05] },
      status: 'unhealthy',
      evidence: { requests: 500, errors5xx: 25, successRate: 0.95, p99LatencyMs: 50 },
    },
    {
      behaviour: 'connection errors (502s from the load balancer) count as errors of the colour',
      values: { requests: [500], target_2xx: [485], target_connection_errors: [10, 5], target_response_time_p99: [0.05] },
      status: 'unhealthy',
      evidence: { requests: 500, errors5xx: 15, successRate: 0.97, p99LatencyMs: 50 },
    },
    {
      behaviour: 'a slow p99 (1.5 s = 1500 ms) is unhealthy',
      values: { requests: [500], target_2xx: [500], target_response_time_p99: [0.2, 1.5] },
      status: 'unhealthy',
      evidence: { requests: 500, errors5xx: 0, successRate: 1, p99LatencyMs: 1500 },
    },
    {
      behaviour: 'no datapoints (ELB publishes nothing without requests) is inconclusive, never healthy',
      values: {},
      status: 'inconclusive',
      evidence: { requests: 0, errors5xx: 0, successRate: null, p99LatencyMs: null },
    },
    {
      behaviour: 'too few requests is inconclusive',
      values: { requests: [20], target_2xx: [20], target_response_time_p99: [0.01] },
      status: 'inconclusive',
      evidence: { requests: 20, errors5xx: 0, successRate: 1, p99LatencyMs: 10 },
    },
    {
      // ELB answers 504 itself when a target does not answer in time: only HTTPCode_ELB_5XX_Count
      // (no TargetGroup dimension) counts it, and TargetResponseTime has no datapoint for it.
      behaviour: 'requests the targets never answered (504s of a hanging version) count as errors of the colour',
      values: { requests: [500], target_2xx: [300], target_response_time_p99: [0.05] },
      status: 'unhealthy',
      evidence: { requests: 500, errors5xx: 200, successRate: 0.6, p99LatencyMs: 50 },
    },
    {
      behaviour: 'more connection errors than requests floors the success rate at 0',
      values: { requests: [60], target_connection_errors: [80], target_response_time_p99: [0.01] },
      status: 'unhealthy',
      evidence: { requests: 60, errors5xx: 80, successRate: 0, p99LatencyMs: 10 },
    },
  ])('$behaviour', async ({ values, status, evidence }) => {
    const { verdict } = await judgeWith(new LoadBalancerMetricSource(alb), 60, values);
    expect(verdict.status).toBe(status);
    expect(verdict.evidence).toEqual({ ...evidence, successRate: evidence.successRate === null ? null : expect.closeTo(evidence.successRate, 9), alarmsInAlarm: [] });
  });

  it('refuses a target group ARN that is not one before any query', () => {
    expect(() => new LoadBalancerMetricSource({ ...alb, targetGroups: { ...alb.targetGroups, blue: 'colorapp-blue' } })).toThrow(ValidationError);
  });
});

describe('envoy source (App Mesh, as the CloudWatch agent publishes it)', () => {
  it.each([
    {
      behaviour: 'healthy',
      values: { responses_2xx: [590], responses_4xx: [9], responses_5xx: [1], request_time_p99: [40, 90] },
      status: 'healthy',
      evidence: { requests: 600, errors5xx: 1, p99LatencyMs: 90 },
    },
    { behaviour: '5xx', values: { responses_2xx: [90], responses_5xx: [10], request_time_p99: [5] }, status: 'unhealthy', evidence: { requests: 100, errors5xx: 10, p99LatencyMs: 5 } },
    { behaviour: 'slow p99', values: { responses_2xx: [100], request_time_p99: [1200] }, status: 'unhealthy', evidence: { requests: 100, errors5xx: 0, p99LatencyMs: 1200 } },
    { behaviour: 'no data', values: {}, status: 'inconclusive', evidence: { requests: 0, errors5xx: 0, p99LatencyMs: null } },
    { behaviour: 'too few requests', values: { responses_2xx: [10], request_time_p99: [5] }, status: 'inconclusive', evidence: { requests: 10, errors5xx: 0, p99LatencyMs: 5 } },
  ])('judges $behaviour', async ({ values, status, evidence }) => {
    const { verdict, queries } = await judgeWith(new EnvoyMetricSource('ECSRelease/Envoy'), 10, values);
    expect(verdict.status).toBe(status);
    expect(verdict.evidence).toMatchObject(evidence);
    expect(queries.map((q) => [q.Id, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat, q.MetricStat?.Period])).toEqual([
      ['responses_2xx', 'envoy_http_downstream_rq_xx', 'Sum', 10],
      ['responses_3xx', 'envoy_http_downstream_rq_xx', 'Sum', 10],
      ['responses_4xx', 'envoy_http_downstream_rq_xx', 'Sum', 10],
      ['responses_5xx', 'envoy_http_downstream_rq_xx', 'Sum', 10],
      ['request_time_p99', 'envoy_http_downstream_rq_time', 'p99', 10],
    ]);
  });
});

describe('application source (EMF the service publishes, lambdas/shared/app-metrics.ts)', () => {
  const dims = [
    { Name: 'Service', Value: 'colorapp' },
    { Name: 'Color', Value: 'green' },
  ];
  const stat = (Id: string, MetricName: string, Stat: string) => ({
    Id,
    MetricStat: { Metric: { Namespace: 'ECSRelease/App', MetricName, Dimensions: dims }, Period: 10, Stat },
    ReturnData: true,
  });

  it.each([
    { behaviour: 'healthy', values: { requests: [300, 300], server_errors: [1], latency_p99: [30, 45] }, status: 'healthy', evidence: { requests: 600, errors5xx: 1, p99LatencyMs: 45 } },
    { behaviour: '5xx', values: { requests: [100], server_errors: [30], latency_p99: [30] }, status: 'unhealthy', evidence: { requests: 100, errors5xx: 30, p99LatencyMs: 30 } },
    { behaviour: 'slow p99', values: { requests: [100], latency_p99: [2500] }, status: 'unhealthy', evidence: { requests: 100, errors5xx: 0, p99LatencyMs: 2500 } },
    { behaviour: 'no data', values: {}, status: 'inconclusive', evidence: { requests: 0, errors5xx: 0, p99LatencyMs: null } },
    { behaviour: 'too few requests', values: { requests: [49], latency_p99: [1] }, status: 'inconclusive', evidence: { requests: 49, errors5xx: 0, p99LatencyMs: 1 } },
  ])('judges $behaviour from Requests, ServerErrors (Sum) and Latency (p99) by Service and Color', async ({ values, status, evidence }) => {
    const { verdict, queries } = await judgeWith(new ApplicationMetricSource('ECSRelease/App'), 10, values);
    expect(verdict.status).toBe(status);
    expect(verdict.evidence).toMatchObject(evidence);
    expect(queries).toEqual([
      stat('requests', 'Requests', 'Sum'),
      stat('server_errors', 'ServerErrors', 'Sum'),
      stat('latency_p99', 'Latency', 'p99'),
    ]);
  });

  it('refuses an empty namespace', () => {
    expect(() => new ApplicationMetricSource('')).toThrow(ValidationError);
    expect(() => new EnvoyMetricSource('')).toThrow(ValidationError);
  });
});

describe('healthMetricSourceOf', () => {
  const health = { metricNamespace: 'ECSRelease/App' };

  it.each([
    { behaviour: 'the load balancer for ALB traffic', traffic: alb, metricSource: undefined, kind: 'load-balancer' },
    { behaviour: 'Envoy for App Mesh traffic', traffic: appmesh, metricSource: undefined, kind: 'envoy' },
    { behaviour: 'the application source when configured, on ALB', traffic: alb, metricSource: 'application' as const, kind: 'application' },
    { behaviour: 'the application source when configured, on App Mesh', traffic: appmesh, metricSource: 'application' as const, kind: 'application' },
  ])('picks $behaviour', ({ traffic, metricSource, kind }) => {
    expect(healthMetricSourceOf({ traffic, health: { ...health, metricSource } }).kind).toBe(kind);
  });

  it('refuses the load-balancer source without ALB traffic', () => {
    expect(() => healthMetricSourceOf({ traffic: appmesh, health: { ...health, metricSource: 'load-balancer' } })).toThrow(
      /needs traffic.kind 'alb'/,
    );
  });

  it('fails fast on a source it does not know instead of falling back', () => {
    expect(() =>
      healthMetricSourceOf({ traffic: alb, health: { ...health, metricSource: 'prometheus' as unknown as 'envoy' } }),
    ).toThrow(ValidationError);
  });
});

describe('periodWarning', () => {
  it('warns when a period is finer than the 60 s at which ELB publishes, and only then', () => {
    expect(periodWarning('load-balancer', 10)).toMatch(/below the 60-second resolution/);
    expect(periodWarning('load-balancer', 60)).toBeNull();
    expect(periodWarning('load-balancer', 120)).toBeNull();
    expect(periodWarning('application', 1)).toBeNull();
  });
});
