/**
 * What Elastic Load Balancing publishes in `AWS/ApplicationELB` for one request through an
 * Application Load Balancer, as a pure function, so the local load balancer records exactly the
 * series AWS would and a test can hold them against the contract the release reads
 * (`lambdas/shared/alb-metrics.ts`).
 *
 * From "CloudWatch metrics for your Application Load Balancer"
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)
 * and aws-cdk-lib's `ApplicationELBMetrics`, generated from the same specification:
 * - `RequestCount`, `HTTPCode_Target_{2,3,4,5}XX_Count`, `TargetConnectionErrorCount` and
 *   `TargetResponseTime` have the dimension sets `LoadBalancer` and `LoadBalancer, TargetGroup`
 *   (and each with `AvailabilityZone`, which the local world, having no zones, does not publish).
 * - `RequestCount` counts the requests for which the load balancer chose a target (a 502 or 504
 *   of that target included), as the release's contract reads it (`lambdas/shared/alb-metrics.ts`);
 *   a request rejected before (no target at all) is not in it.
 * - `TargetResponseTime` is in seconds: from the request leaving the load balancer to the
 *   target's response headers. A request that never got an answer has none.
 * - `HTTPCode_ELB_5XX_Count` (and `HTTPCode_ELB_502/503/504_Count`) count the 5xx the load
 *   balancer generates; their dimensions are `LoadBalancer` (and `AvailabilityZone,
 *   LoadBalancer`) only, never `TargetGroup`.
 * - A failed connection to a target is a 502 from the load balancer; a target that does not
 *   answer within the idle timeout, a 504.
 */
import { ALB_METRICS } from '../../lambdas/shared/alb-metrics';

/** What happened to one request. */
export type AlbRequestOutcome =
  /** The load balancer chose a target and the target answered with `status` after `responseTimeMs`. */
  | { readonly kind: 'target-response'; readonly status: number; readonly responseTimeMs: number }
  /** A target was chosen, but the connection to it failed: the load balancer answers 502. */
  | { readonly kind: 'target-connection-error' }
  /** A target was chosen and did not answer in time: the load balancer answers 504. */
  | { readonly kind: 'target-timeout' }
  /** No target could be chosen (none registered, or every weight 0): the load balancer answers 503. */
  | { readonly kind: 'no-target' };

/** Where the request went: `LoadBalancer` and, once a target group was chosen, `TargetGroup` dimension values. */
export interface AlbRequestDimensions {
  /** `app/<name>/<id>`. */
  readonly loadBalancer: string;
  /** `targetgroup/<name>/<id>`, when the listener forwarded to a target group. */
  readonly targetGroup?: string;
}

/** One datapoint to publish. */
export interface AlbSeries {
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly unit: 'Count' | 'Seconds';
}

/** The status code the load balancer answers with for an outcome it generates itself. */
export const ELB_GENERATED_STATUS = { 'target-connection-error': 502, 'no-target': 503, 'target-timeout': 504 } as const;

/**
 * The `AWS/ApplicationELB` datapoints for one request.
 *
 * @example
 * albRequestSeries({ kind: 'target-response', status: 200, responseTimeMs: 12 },
 *   { loadBalancer: 'app/colorapp/50dc6c495c0c9188', targetGroup: 'targetgroup/colorapp-green/73e2d6bc24d8a067' });
 * // RequestCount, HTTPCode_Target_2XX_Count (1 each) and TargetResponseTime (0.012), per LoadBalancer and per LoadBalancer+TargetGroup
 */
export function albRequestSeries(outcome: AlbRequestOutcome, where: AlbRequestDimensions): AlbSeries[] {
  const lbOnly = { [ALB_METRICS.loadBalancerDimension]: where.loadBalancer };
  const perGroup =
    where.targetGroup === undefined ? [lbOnly] : [lbOnly, { ...lbOnly, [ALB_METRICS.targetGroupDimension]: where.targetGroup }];
  const out: AlbSeries[] = [];
  const count = (metricName: string, sets: readonly Record<string, string>[]) => {
    for (const dimensions of sets) out.push({ metricName, dimensions, value: 1, unit: 'Count' });
  };
  const elbGenerated = (status: 502 | 503 | 504) => {
    count(ALB_METRICS.elb5xx, [lbOnly]);
    count(`HTTPCode_ELB_${status}_Count`, [lbOnly]);
  };

  if (outcome.kind !== 'no-target' && where.targetGroup !== undefined) count(ALB_METRICS.requestCount, perGroup);
  switch (outcome.kind) {
    case 'target-response': {
      const responseClass = String(Math.floor(outcome.status / 100));
      const metricName = ALB_METRICS.targetResponsesByClass[responseClass as keyof typeof ALB_METRICS.targetResponsesByClass];
      if (metricName !== undefined) count(metricName, perGroup);
      for (const dimensions of perGroup) {
        out.push({ metricName: ALB_METRICS.targetResponseTime, dimensions, value: outcome.responseTimeMs / 1000, unit: 'Seconds' });
      }
      break;
    }
    case 'target-connection-error':
      count(ALB_METRICS.targetConnectionErrors, perGroup);
      elbGenerated(ELB_GENERATED_STATUS[outcome.kind]);
      break;
    case 'target-timeout':
      elbGenerated(ELB_GENERATED_STATUS[outcome.kind]);
      break;
    case 'no-target':
      elbGenerated(ELB_GENERATED_STATUS[outcome.kind]);
      break;
  }
  return out;
}

/**
 * `HealthyHostCount` and `UnHealthyHostCount` of one target group (dimensions `LoadBalancer,
 * TargetGroup`; Average, Minimum and Maximum are the useful statistics), as the load balancer
 * reports them every period.
 */
export function albHostCountSeries(counts: { readonly healthy: number; readonly unhealthy: number }, where: Required<AlbRequestDimensions>): AlbSeries[] {
  const dimensions = { [ALB_METRICS.loadBalancerDimension]: where.loadBalancer, [ALB_METRICS.targetGroupDimension]: where.targetGroup };
  return [
    { metricName: 'HealthyHostCount', dimensions, value: counts.healthy, unit: 'Count' },
    { metricName: 'UnHealthyHostCount', dimensions, value: counts.unhealthy, unit: 'Count' },
  ];
}
