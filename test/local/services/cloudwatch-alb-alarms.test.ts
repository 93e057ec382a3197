// The release alarms of the ALB backend in the local CloudWatch, evaluated on the samples the
// local load balancer publishes: the same definitions the CDK app creates
// (infra/constructs/colour-alarm-metrics.ts, loadBalancerColourMetrics): success rate =
// 100 * (HTTPCode_Target_2XX + 3XX + 4XX) / RequestCount of the colour's target group, and p99 of
// TargetResponseTime, which ELB publishes in seconds.
import { AlarmStateChangeEventSchema } from '../../../lambdas/alarm-watcher';
import { albColourDimensionsMap } from '../../../lambdas/shared/alb-metrics';
import { COLORAPP, alarmDefinitionsOf, localProfile } from '../../../infra/colorapp-settings';
import { localAlbTrafficOf } from '../../../local/alb-sample';
import type { BusEvent } from '../../../local/contracts';
import { albRequestSeries, type AlbRequestOutcome } from '../../../local/gateway/alb-metrics';
import { LocalCloudWatch } from '../../../local/services/cloudwatch';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const traffic = localAlbTrafficOf(COLORAPP.alb, { region: 'eu-west-1', account: '000000000000' });
const dims = (colour: 'blue' | 'green') => albColourDimensionsMap(traffic, colour);
let cloudwatch: LocalCloudWatch;
let events: BusEvent[];

beforeEach(() => {
  events = [];
  cloudwatch = new LocalCloudWatch({
    namespace: 'ECSRelease/Envoy',
    evaluationIntervalMs: 0,
    bus: { publish: (e) => events.push({ version: '0', id: 'x', account: '0', region: 'eu-west-1', time: '', ...e } as BusEvent), subscribe: () => () => undefined },
    alarmSource: { kind: 'load-balancer', dimensionsOf: dims },
  });
  // The definitions the local world and the CDK app use (local profile: 1-second periods).
  cloudwatch.defineAlarms(alarmDefinitionsOf(localProfile(COLORAPP)));
});
afterEach(() => cloudwatch.close());

/** Publishes what the local load balancer would for `outcome`, `count` times in second `second`. */
function requests(colour: 'blue' | 'green', second: number, count: number, outcome: AlbRequestOutcome): void {
  const where = { loadBalancer: dims(colour).LoadBalancer, targetGroup: dims(colour).TargetGroup };
  for (let i = 0; i < count; i += 1) {
    for (const s of albRequestSeries(outcome, where)) {
      cloudwatch.record({ namespace: 'AWS/ApplicationELB', metricName: s.metricName, dimensions: s.dimensions, value: s.value, timestamp: new Date(T0 + second * 1000 + 100 + i) });
    }
  }
}

describe('ALB release alarms in the local CloudWatch', () => {
  it("goes to ALARM when the colour's targets answer half its requests with 5xx, and the event names the ELB metrics", () => {
    requests('green', 0, 10, { kind: 'target-response', status: 200, responseTimeMs: 5 });
    requests('green', 0, 10, { kind: 'target-response', status: 500, responseTimeMs: 5 });
    cloudwatch.evaluateAlarms(new Date(T0 + 1100));
    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('ALARM');
    expect(cloudwatch.alarmState('colorapp-blue-success-rate')?.value).toBe('OK'); // no data: not breaching
    const event = events.find((e) => e.detail.alarmName === 'colorapp-green-success-rate');
    // What the alarm-watcher reads parses; the configuration names what the alarm watched.
    expect(() => AlarmStateChangeEventSchema.parse(event)).not.toThrow();
    expect(JSON.stringify(event!.detail.configuration)).toContain('HTTPCode_Target_2XX_Count');
    expect(JSON.stringify(event!.detail.configuration)).toContain(dims('green').TargetGroup);
  });

  it('counts a 504 the load balancer answered for a hanging target as a failure of its colour', () => {
    requests('green', 0, 10, { kind: 'target-response', status: 200, responseTimeMs: 5 });
    requests('green', 0, 10, { kind: 'target-timeout' });
    cloudwatch.evaluateAlarms(new Date(T0 + 1100));
    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('ALARM');
  });

  it('stays OK at 100% success, and judges p99 latency in seconds against the millisecond threshold', () => {
    requests('green', 0, 20, { kind: 'target-response', status: 200, responseTimeMs: 900 });
    cloudwatch.evaluateAlarms(new Date(T0 + 1100));
    expect(cloudwatch.alarmState('colorapp-green-success-rate')?.value).toBe('OK');
    expect(cloudwatch.alarmState('colorapp-green-p99-latency')?.value).toBe('OK'); // 0.9 s <= 1 s
    requests('green', 1, 20, { kind: 'target-response', status: 200, responseTimeMs: 1500 });
    cloudwatch.evaluateAlarms(new Date(T0 + 2100));
    expect(cloudwatch.alarmState('colorapp-green-p99-latency')?.value).toBe('ALARM');
  });

  it('shows the alarms in DescribeAlarms as the CDK app defines them', async () => {
    const out = (await cloudwatch.operations.DescribeAlarms({ AlarmNames: ['colorapp-green-p99-latency', 'colorapp-green-success-rate'] })) as {
      MetricAlarms: Record<string, unknown>[];
    };
    const [latency, success] = out.MetricAlarms;
    expect(latency).toMatchObject({ Namespace: 'AWS/ApplicationELB', MetricName: 'TargetResponseTime', ExtendedStatistic: 'p99', Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' });
    expect(success).toMatchObject({ Threshold: 95, ComparisonOperator: 'LessThanThreshold' });
    expect(JSON.stringify(success.Metrics)).toContain('IF(FILL(requests, 0) > 0, 100 * (FILL(target2xx, 0) + FILL(target3xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0))');
  });
});
