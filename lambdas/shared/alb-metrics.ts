/**
 * The metric contract of the ALB backend: what Elastic Load Balancing publishes for a colour's
 * target group, which the CDK app's colour alarms, the health check and the local environment
 * all use. One module, so the three cannot drift apart.
 *
 * Names, dimensions and units are AWS's, from "CloudWatch metrics for your Application Load
 * Balancer" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)
 * and aws-cdk-lib's generated `ApplicationELBMetrics` (which is generated from the same
 * specification):
 * - per target group (dimensions `TargetGroup` + `LoadBalancer`): `RequestCount`,
 *   `HTTPCode_Target_{2,3,4,5}XX_Count`, `TargetConnectionErrorCount`, `TargetResponseTime`
 *   (seconds, not milliseconds);
 * - per load balancer only (no `TargetGroup` dimension): `HTTPCode_ELB_5XX_Count`. A 5xx the load
 *   balancer generates itself (a 504 after the target's timeout, a 503 with no healthy target)
 *   cannot be told apart by colour in AWS. The per-colour view of load-balancer errors is
 *   `TargetConnectionErrorCount`: each failed connection to a target of the group is a 502 the
 *   client sees.
 * - ELB publishes at a 60-second resolution, and only when requests flow ("If there are no
 *   requests flowing through the load balancer or no data for a metric, the metric is not
 *   reported"): a missing datapoint is zero requests, never zero errors on unknown requests.
 */
import type { Colour } from './colours';
import { ValidationError } from './errors';

/** Names of the `AWS/ApplicationELB` metrics the release reads. */
export const ALB_METRICS = {
  namespace: 'AWS/ApplicationELB',
  /** Requests routed to the target group (Sum). */
  requestCount: 'RequestCount',
  /** Responses the targets generated, by class (Sum). */
  targetResponsesByClass: {
    '2': 'HTTPCode_Target_2XX_Count',
    '3': 'HTTPCode_Target_3XX_Count',
    '4': 'HTTPCode_Target_4XX_Count',
    '5': 'HTTPCode_Target_5XX_Count',
  },
  /** Connections to a target of the group that failed: each is a 502 from the load balancer (Sum). */
  targetConnectionErrors: 'TargetConnectionErrorCount',
  /** Seconds from the request leaving the load balancer to the target's answer (use p99). */
  targetResponseTime: 'TargetResponseTime',
  /** 5xx the load balancer generated, per load balancer only (Sum). */
  elb5xx: 'HTTPCode_ELB_5XX_Count',
  targetGroupDimension: 'TargetGroup',
  loadBalancerDimension: 'LoadBalancer',
  /** The finest period ELB publishes at. */
  resolutionSeconds: 60,
} as const;

/**
 * The `LoadBalancer` dimension value of a load balancer, listener or listener rule ARN:
 * `app/<name>/<id>` (the ARN's resource after `loadbalancer/`, `listener/` or `listener-rule/`,
 * cut to three parts).
 *
 * @throws ValidationError when the ARN is not an Application Load Balancer's.
 * @example
 * loadBalancerDimension('arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2');
 * // 'app/colorapp/50dc6c495c0c9188'
 */
export function loadBalancerDimension(arn: string): string {
  const match = /:(?:loadbalancer|listener|listener-rule)\/(app\/[^/]+\/[^/]+)(?:\/|$)/.exec(arn);
  if (!match) {
    throw new ValidationError(`'${arn}' is not an Application Load Balancer, listener or listener rule ARN`);
  }
  return match[1];
}

/**
 * The `TargetGroup` dimension value of a target group ARN: `targetgroup/<name>/<id>`.
 *
 * @throws ValidationError when the ARN is not a target group's.
 * @example
 * targetGroupDimension('arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/colorapp-blue/73e2d6bc24d8a067');
 * // 'targetgroup/colorapp-blue/73e2d6bc24d8a067'
 */
export function targetGroupDimension(arn: string): string {
  const match = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(arn);
  if (!match) throw new ValidationError(`'${arn}' is not a target group ARN`);
  return match[1];
}

/**
 * The dimensions that pick one colour's target group behind the listener's load balancer, as a
 * name-to-value map (CDK's `dimensionsMap`, the local environment's samples).
 *
 * @example
 * new cloudwatch.Metric({ namespace: ALB_METRICS.namespace, metricName: ALB_METRICS.requestCount,
 *   dimensionsMap: albColourDimensionsMap(config.traffic, 'green'), statistic: 'Sum' });
 */
export function albColourDimensionsMap(
  traffic: { readonly listenerArn: string; readonly targetGroups: Readonly<Record<Colour, string>> },
  colour: Colour,
): Record<string, string> {
  return {
    [ALB_METRICS.targetGroupDimension]: targetGroupDimension(traffic.targetGroups[colour]),
    [ALB_METRICS.loadBalancerDimension]: loadBalancerDimension(traffic.listenerArn),
  };
}
