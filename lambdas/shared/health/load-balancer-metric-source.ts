import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ALB_METRICS, albColourDimensionsMap } from '../alb-metrics';
import { COLOURS, type Colour } from '../colours';
import type { TrafficConfig } from '../config';
import { maxOf, sumOf, type HealthMetricSource, type SourceTarget, type TrafficMeasure } from './metric-source';

/** The ALB member of the traffic union. */
type AlbTraffic = Extract<TrafficConfig, { kind: 'alb' }>;

const REQUESTS_ID = 'requests';
const TARGET_5XX_ID = 'target_5xx';
const CONNECTION_ERRORS_ID = 'target_connection_errors';
const P99_ID = 'target_response_time_p99';

/**
 * The `load-balancer` source (ALB): what Elastic Load Balancing publishes in `AWS/ApplicationELB`
 * for the colour's target group, with the dimensions `TargetGroup` and `LoadBalancer`
 * (`lambdas/shared/alb-metrics.ts`; names, dimensions and units from "CloudWatch metrics for your
 * Application Load Balancer",
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html,
 * and the same specification as aws-cdk-lib's generated `ApplicationELBMetrics`, whose
 * `requestCountSum`, `httpCodeTarget5XxCountSum`, `targetConnectionErrorCountSum` and
 * `targetResponseTime*` accept `{ LoadBalancer, TargetGroup }` while `httpCodeElb5XxCountSum`
 * accepts only `{ LoadBalancer }` (and `AvailabilityZone`)):
 *
 * - requests: `RequestCount` (Sum): requests the load balancer routed to a target of the group.
 * - errors: `HTTPCode_Target_5XX_Count` (Sum), the targets' own 5xx, plus
 *   `TargetConnectionErrorCount` (Sum): connections to a target of the group that could not be
 *   established, each answered 502 by the load balancer. That is the per-target-group view of
 *   load-balancer 5xx; `HTTPCode_ELB_5XX_Count` has no `TargetGroup` dimension, so the load
 *   balancer's other 5xx (a 503 with no target, a 504 after the idle timeout) cannot be told
 *   apart by colour and are left to the load balancer's own alarms.
 *   Denominator: `RequestCount` counts a request once the load balancer has chosen a target for
 *   it, which a failed connection has (it failed connecting to that target), so the failed
 *   connections are in the denominator as well as the numerator. Should connection errors ever
 *   outnumber the requests (a retried connection counted twice), the success rate floors at 0:
 *   counting them stays on the safe side, a rollback.
 * - p99 latency: `TargetResponseTime` (p99), which ELB publishes in SECONDS: times 1000.
 *
 * ELB publishes every 60 seconds, and nothing at all while no request flows ("If there are no
 * requests flowing through the load balancer or no data for a metric, the metric is not
 * reported"): missing datapoints are zero requests, so a quiet bake is inconclusive, never
 * healthy. A period below {@link LoadBalancerMetricSource.resolutionSeconds} is accepted (the
 * local world publishes ELB metrics every second under `localProfile`); on AWS it is a
 * misconfiguration, which `periodWarning` names and CheckHealth logs.
 *
 * @example
 * new LoadBalancerMetricSource(config.traffic).queries({ service: 'colorapp', colour: 'green' }, 60);
 */
export class LoadBalancerMetricSource implements HealthMetricSource {
  readonly kind = 'load-balancer' as const;
  /** The finest period ELB publishes at. */
  static readonly resolutionSeconds = ALB_METRICS.resolutionSeconds;
  private readonly dimensions: Readonly<Record<Colour, { Name: string; Value: string }[]>>;

  /** @throws ValidationError when a target group or listener ARN is not one (nothing is queried). */
  constructor(traffic: AlbTraffic) {
    // Both colours up front, so a malformed ARN fails when the check is built, not mid-release.
    this.dimensions = Object.fromEntries(
      COLOURS.map((colour) => [
        colour,
        Object.entries(albColourDimensionsMap(traffic, colour)).map(([Name, Value]) => ({ Name, Value })),
      ]),
    ) as Record<Colour, { Name: string; Value: string }[]>;
  }

  queries({ colour }: SourceTarget, periodSeconds: number): MetricDataQuery[] {
    const dimensions = this.dimensions[colour];
    const query = (Id: string, MetricName: string, Stat: string): MetricDataQuery => ({
      Id,
      MetricStat: { Metric: { Namespace: ALB_METRICS.namespace, MetricName, Dimensions: dimensions }, Period: periodSeconds, Stat },
      ReturnData: true,
    });
    return [
      query(REQUESTS_ID, ALB_METRICS.requestCount, 'Sum'),
      query(TARGET_5XX_ID, ALB_METRICS.targetResponsesByClass['5'], 'Sum'),
      query(CONNECTION_ERRORS_ID, ALB_METRICS.targetConnectionErrors, 'Sum'),
      query(P99_ID, ALB_METRICS.targetResponseTime, 'p99'),
    ];
  }

  measure(values: ReadonlyMap<string, readonly number[]>): TrafficMeasure {
    const p99Seconds = maxOf(values, P99_ID);
    return {
      requests: sumOf(values, REQUESTS_ID),
      errors5xx: sumOf(values, TARGET_5XX_ID) + sumOf(values, CONNECTION_ERRORS_ID),
      p99LatencyMs: p99Seconds === null ? null : p99Seconds * 1000,
    };
  }
}
