/**
 * The ALB part of the path tests' FakeAws world, held to what AWS documents, so that a path test
 * that passes against it says something about AWS:
 * - "CloudWatch metrics for your Application Load Balancer"
 *   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
 *   metric names, the `TargetGroup` + `LoadBalancer` dimension set, `HTTPCode_ELB_5XX_Count` per
 *   load balancer only, `TargetResponseTime` in seconds, no datapoint without data;
 * - the ELB API reference (2015-12-01): ModifyRule replaces only the properties it is sent,
 *   the not-found error codes, the ForwardConfig/TargetGroupArn rule of the Action type.
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ALB_METRICS, albColourDimensionsMap, loadBalancerDimension } from '../../lambdas/shared/alb-metrics';
import { OTHER_TARGET_GROUP_ARN, RULE_ARN, rule, TARGET_GROUP_ARNS, weightedForward } from '../support/alb-fixtures';
import { FakeAws } from '../support/fake-aws';
import { colorappAlbConfig, seedColorappAlb } from '../support/release-harness';

let world: FakeAws;
const cloudwatch = new CloudWatchClient({});
const elbv2 = new ElasticLoadBalancingV2Client({});
const traffic = colorappAlbConfig().traffic as Parameters<typeof albColourDimensionsMap>[0];

beforeEach(() => {
  world = new FakeAws();
  seedColorappAlb(world);
});
afterEach(() => world.restore());

/** The values one GetMetricData query gets back. */
async function values(metricName: string, dimensions: Record<string, string>, stat = 'Sum'): Promise<number[]> {
  const query: MetricDataQuery = {
    Id: 'q',
    MetricStat: {
      Metric: { Namespace: ALB_METRICS.namespace, MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) },
      Period: 60,
      Stat: stat,
    },
  };
  const out = await cloudwatch.send(new GetMetricDataCommand({ MetricDataQueries: [query], StartTime: new Date(0), EndTime: new Date() }));
  return out.MetricDataResults?.[0]?.Values ?? [];
}

describe('FakeAws: AWS/ApplicationELB metrics per colour target group', () => {
  it('answers the per-target-group counts for the TargetGroup + LoadBalancer dimension set of each colour', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 30, p99LatencyMs: 250, connectionErrors: 20 });
    const green = albColourDimensionsMap(traffic, 'green');

    expect(await values(ALB_METRICS.requestCount, green)).toEqual([1000]);
    expect(await values(ALB_METRICS.targetResponsesByClass['5'], green)).toEqual([30]);
    expect(await values(ALB_METRICS.targetResponsesByClass['2'], green)).toEqual([950]);
    expect(await values(ALB_METRICS.targetConnectionErrors, green)).toEqual([20]);
    expect(await values(ALB_METRICS.requestCount, albColourDimensionsMap(traffic, 'blue'))).toEqual([1000]);
  });

  it('answers TargetResponseTime in seconds, not milliseconds', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 250 });

    expect(await values(ALB_METRICS.targetResponseTime, albColourDimensionsMap(traffic, 'green'), 'p99')).toEqual([0.25]);
  });

  it('reports no datapoint for a count with nothing to count, nor for a colour without requests', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
    world.traffic.set('blue', { requests: 0, errors5xx: 0, p99LatencyMs: null });

    expect(await values(ALB_METRICS.targetResponsesByClass['5'], albColourDimensionsMap(traffic, 'green'))).toEqual([]);
    expect(await values(ALB_METRICS.requestCount, albColourDimensionsMap(traffic, 'blue'))).toEqual([]);
    expect(await values(ALB_METRICS.targetResponseTime, albColourDimensionsMap(traffic, 'blue'), 'p99')).toEqual([]);
  });

  it('finds nothing for a query that names only the TargetGroup dimension, or another load balancer', async () => {
    const green = albColourDimensionsMap(traffic, 'green');

    expect(await values(ALB_METRICS.requestCount, { TargetGroup: green.TargetGroup })).toEqual([]);
    expect(await values(ALB_METRICS.requestCount, { ...green, LoadBalancer: 'app/other/0123456789abcdef' })).toEqual([]);
  });

  it('answers HTTPCode_ELB_5XX_Count per load balancer only, counting failed target connections', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40, connectionErrors: 7 });
    const loadBalancer = { LoadBalancer: loadBalancerDimension(traffic.listenerArn) };

    expect(await values(ALB_METRICS.elb5xx, loadBalancer)).toEqual([7]);
    expect(await values(ALB_METRICS.elb5xx, albColourDimensionsMap(traffic, 'green'))).toEqual([]);
  });
});

describe('FakeAws: ELBv2 rules and target health', () => {
  it('replaces only what ModifyRule is sent: conditions and priority stay when only Actions are sent', async () => {
    await elbv2.send(new ModifyRuleCommand({ RuleArn: RULE_ARN, Actions: [weightedForward([[TARGET_GROUP_ARNS.blue, 50], [TARGET_GROUP_ARNS.green, 50]])] }));

    const out = await elbv2.send(new DescribeRulesCommand({ RuleArns: [RULE_ARN] }));
    expect(out.Rules).toStrictEqual([rule([weightedForward([[TARGET_GROUP_ARNS.blue, 50], [TARGET_GROUP_ARNS.green, 50]])])]);
    expect(world.albWeightHistory).toEqual([{ 'colorapp-blue': 50, 'colorapp-green': 50 }]);
  });

  it('refuses a TargetGroupArn beside a ForwardConfig of other groups, and weights outside 0..999, with InvalidLoadBalancerAction', async () => {
    const both = { ...weightedForward([[TARGET_GROUP_ARNS.blue, 50], [TARGET_GROUP_ARNS.green, 50]]), TargetGroupArn: TARGET_GROUP_ARNS.blue };
    await expect(elbv2.send(new ModifyRuleCommand({ RuleArn: RULE_ARN, Actions: [both] }))).rejects.toMatchObject({ name: 'InvalidLoadBalancerActionException' });
    await expect(
      elbv2.send(new ModifyRuleCommand({ RuleArn: RULE_ARN, Actions: [weightedForward([[TARGET_GROUP_ARNS.blue, 1000], [TARGET_GROUP_ARNS.green, 0]])] })),
    ).rejects.toMatchObject({ name: 'InvalidLoadBalancerActionException' });
    expect(world.albWeightHistory).toEqual([]);
  });

  it('answers the documented not-found errors', async () => {
    const missingRule = RULE_ARN.replace('9683b2d02a6cabee', '0000000000000000');
    await expect(elbv2.send(new DescribeRulesCommand({ RuleArns: [missingRule] }))).rejects.toMatchObject({ name: 'RuleNotFoundException' });
    await expect(elbv2.send(new ModifyRuleCommand({ RuleArn: missingRule, Actions: [] }))).rejects.toMatchObject({ name: 'RuleNotFoundException' });
    await expect(elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: OTHER_TARGET_GROUP_ARN }))).rejects.toMatchObject({
      name: 'TargetGroupNotFoundException',
    });
  });

  it("lists one healthy target per running task of the colour's service, none for a service at zero", async () => {
    const blue = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: TARGET_GROUP_ARNS.blue }));
    const green = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: TARGET_GROUP_ARNS.green }));

    expect(blue.TargetHealthDescriptions?.map((t) => t.TargetHealth?.State)).toEqual(['healthy', 'healthy']);
    expect(green.TargetHealthDescriptions).toEqual([]);
  });
});
