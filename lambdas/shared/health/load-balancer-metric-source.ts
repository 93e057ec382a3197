import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ALB_METRICS, albColourDimensionsMap } from '../alb-metrics';
import { COLOURS, type Colour } from '../colours';
import type { TrafficConfig } from '../config';
import { maxOf, sumOf, type HealthMetricSource, type QueryOptions, type SourceTarget, type TrafficMeasure } from './metric-source';

/** The ALB member of the traffic union. */
type AlbTraffic = Extract<TrafficConfig, { kind: 'alb' }>;

const REQUESTS_ID = 'requests';
/** Target answers that are not errors, by class: what the failed share is measured against. */
const ANSWERED_IDS = { '2': 'target_2xx', '3': 'target_3xx', '4': 'target_4xx' } as const;
const TARGET_5XX_ID = 'target_5xx';
const CONNECTION_ERRORS_ID = 'target_connection_errors';
const P99_ID = 'target_response_time_p99';
const P50_ID = 'target_response_time_p50';

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
 * - errors: every request routed to the group that the targets did not answer with a 2xx, 3xx
 *   or 4xx: `RequestCount - (HTTPCode_Target_2XX_Count + 3XX + 4XX)`, and never fewer than
 *   `HTTPCode_Target_5XX_Count + TargetConnectionErrorCount`. `RequestCount` counts a request
 *   once the load balancer has chosen a target for it, so the difference holds the targets' own
 *   5xx, the 502s of connections that failed (`TargetConnectionErrorCount`) and the 504s the
 *   load balancer answers when a target of the group does not answer in time. Those 504s exist
 *   only in `HTTPCode_ELB_5XX_Count`, which has no `TargetGroup` dimension, and
 *   `TargetResponseTime` has no datapoint for them: counted any other way, a new version that
 *   hangs would look perfectly healthy. (A 503 with no target at all was never routed to the
 *   group and is the load balancer's own alarm's business.) Should the explicit errors ever
 *   outnumber the requests, the success rate floors at 0: counting them stays on the safe side,
 *   a rollback.
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

  queries({ colour }: SourceTarget, periodSeconds: number, options: QueryOptions = {}): MetricDataQuery[] {
    const dimensions = this.dimensions[colour];
    const query = (Id: string, MetricName: string, Stat: string): MetricDataQuery => ({
      Id,
      MetricStat: { Metric: { Namespace: ALB_METRICS.namespace, MetricName, Dimensions: dimensions }, Period: periodSeconds, Stat },
      ReturnData: true,
    });
    return [
      query(REQUESTS_ID, ALB_METRICS.requestCount, 'Sum'),
      ...Object.entries(ANSWERED_IDS).map(([cls, id]) =>
        query(id, ALB_METRICS.targetResponsesByClass[cls as keyof typeof ANSWERED_IDS], 'Sum'),
      ),
      query(TARGET_5XX_ID, ALB_METRICS.targetResponsesByClass['5'], 'Sum'),
      query(CONNECTION_ERRORS_ID, ALB_METRICS.targetConnectionErrors, 'Sum'),
      query(P99_ID, ALB_METRICS.targetResponseTime, 'p99'),
      ...(options.p50 ? [query(P50_ID, ALB_METRICS.targetResponseTime, 'p50')] : []),
    ];
  }

  measure(values: ReadonlyMap<string, readonly number[]>): TrafficMeasure {
    const p99Seconds = maxOf(values, P99_ID);
    const p50Seconds = maxOf(values, P50_ID);
    const requests = sumOf(values, REQUESTS_ID);
    const answered = Object.values(ANSWERED_IDS).reduce((total, id) => total + sumOf(values, id), 0);
    const explicitErrors = sumOf(values, TARGET_5XX_ID) + sumOf(values, CONNECTION_ERRORS_ID);
    return {
      requests,
      errors5xx: Math.max(requests - answered, explicitErrors),
      p99LatencyMs: p99Seconds === null ? null : p99Seconds * 1000,
      p50LatencyMs: p50Seconds === null ? null : p50Seconds * 1000,
    };
  }
}
