import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { ALB_METRICS } from '../../lambdas/shared/alb-metrics';
import { APP_METRICS, appColourDimensionsMap } from '../../lambdas/shared/app-metrics';
import type { Colour } from '../../lambdas/shared/colours';
import { colourDimensionsMap, ENVOY_METRICS, RESPONSE_CLASSES } from '../../lambdas/shared/envoy-metrics';

/** A metric or metric math: both can be relabelled and recoloured for a graph (`with`). */
export type ColourMetric = cloudwatch.Metric | cloudwatch.MathExpression;

/**
 * What one colour's two alarms watch, from one metric source: a success rate in percent and a
 * p99 latency with the unit its metric is published in. Both return no data point for a period
 * in which the colour answered nothing, which the alarms treat as not breaching (see
 * {@link ColourAlarms}).
 */
export interface ColourAlarmMetrics {
  /**
   * Requests the colour answered, per second (the period's sum over its length): what the
   * release dashboard graphs beside the two alarm metrics.
   */
  readonly requestsPerSecond: ColourMetric;
  /** Share of the colour's requests that did not fail, in percent. */
  readonly successRatePercent: ColourMetric;
  /** p99 latency of the requests the colour answered. */
  readonly p99Latency: ColourMetric;
  /** The p99 threshold in the latency metric's own unit. */
  latencyThreshold(maxP99Latency: Duration): number;
}

/** Where {@link envoyColourMetrics} reads. */
export interface EnvoyColourMetricsProps {
  /** The released service: the `Service` dimension. */
  readonly serviceName: string;
  /** The colour: the `Color` dimension. */
  readonly colour: Colour;
  /** CloudWatch namespace the CloudWatch agent publishes the Envoy statistics to. */
  readonly namespace: string;
  /** Metric period: 10 or 30 seconds (high resolution) or a multiple of 60. */
  readonly period: Duration;
  /**
   * Prefix of the ids inside the metric math. One graph may not use one id for two metrics, so
   * a dashboard that draws both colours in one graph gives each its own (`blue_`, `green_`).
   * @default '' (the alarms' ids, which the local world's alarm evaluator spells too)
   */
  readonly idPrefix?: string;
}

/**
 * The Envoy sidecars' statistics (App Mesh), from the contract in
 * `lambdas/shared/envoy-metrics.ts` (the same metrics the health check reads): non-5xx responses
 * over all responses of the colour's ingress listener (not Envoy's admin listener), and the p99 of
 * its request time in milliseconds.
 */
export function envoyColourMetrics(props: EnvoyColourMetricsProps): ColourAlarmMetrics {
  const { serviceName, colour, namespace, period } = props;
  const prefix = props.idPrefix ?? '';
  const dimensionsMap = colourDimensionsMap(serviceName, colour);
  // One metric per response class; FILL(…, 0) so a class with no responses counts as zero
  // instead of making the whole expression empty.
  const byClass: Record<string, cloudwatch.IMetric> = {};
  for (const responseClass of RESPONSE_CLASSES) {
    byClass[`${prefix}r${responseClass}xx`] = new cloudwatch.Metric({
      namespace,
      metricName: ENVOY_METRICS.responsesByClass,
      dimensionsMap: { ...dimensionsMap, [ENVOY_METRICS.responseClassDimension]: responseClass },
      statistic: cloudwatch.Stats.SUM,
      period,
    });
  }
  const filled = RESPONSE_CLASSES.map((c) => `FILL(${prefix}r${c}xx, 0)`);
  return {
    requestsPerSecond: new cloudwatch.MathExpression({
      expression: `(${filled.join(' + ')}) / PERIOD(${prefix}r2xx)`,
      usingMetrics: byClass,
      label: `${colour} requests/s`,
      period,
    }),
    successRatePercent: new cloudwatch.MathExpression({
      // No responses at all gives no data point (IF without an else): not breaching.
      expression: `IF((${filled.join(' + ')}) > 0, 100 * (${filled.filter((f) => !f.includes(`${prefix}r5xx`)).join(' + ')}) / (${filled.join(' + ')}))`,
      usingMetrics: byClass,
      label: `${serviceName} ${colour} success rate (%)`,
      period,
    }),
    p99Latency: new cloudwatch.Metric({
      namespace,
      metricName: ENVOY_METRICS.requestTime,
      dimensionsMap,
      statistic: cloudwatch.Stats.p(99),
      period,
    }),
    latencyThreshold: (max) => max.toMilliseconds(),
  };
}

/** Where {@link loadBalancerColourMetrics} reads. */
export interface LoadBalancerColourMetricsProps {
  /** The released service, for the labels. */
  readonly serviceName: string;
  /** The colour whose target group is watched. */
  readonly colour: Colour;
  /** `LoadBalancer` dimension value: `app/<name>/<id>`. */
  readonly loadBalancer: string;
  /** `TargetGroup` dimension value of the colour's target group: `targetgroup/<name>/<id>`. */
  readonly targetGroup: string;
  /** Metric period: a multiple of 60 seconds (Elastic Load Balancing publishes every 60 seconds). */
  readonly period: Duration;
  /** As {@link EnvoyColourMetricsProps.idPrefix}. @default '' */
  readonly idPrefix?: string;
}

/**
 * The load balancer's own `AWS/ApplicationELB` metrics of the colour's target group, from the
 * contract in `lambdas/shared/alb-metrics.ts`:
 *
 * - success rate: `(HTTPCode_Target_2XX_Count + 3XX + 4XX) / RequestCount`, in percent: the
 *   share of the requests routed to the colour's target group that its targets answered without
 *   a 5xx. Everything else routed there failed for the client: the targets' 5xx, the 502 of a
 *   connection that failed (`TargetConnectionErrorCount`) and the 504 the load balancer answers
 *   when a target does not answer in time. Those 504s exist only in `HTTPCode_ELB_5XX_Count`,
 *   which has no `TargetGroup` dimension, so a rate built from explicit error counts would call a
 *   hanging version healthy. The health check counts the same way
 *   (`lambdas/shared/health/load-balancer-metric-source.ts`).
 * - p99 of `TargetResponseTime`, which ELB publishes in seconds.
 *
 * ELB publishes these every 60 seconds, and only when requests flow: a shorter period would only
 * ever see missing data, which the alarms treat as not breaching, so it is refused.
 *
 * @throws Error when the period is not a multiple of 60 seconds.
 */
export function loadBalancerColourMetrics(props: LoadBalancerColourMetricsProps): ColourAlarmMetrics {
  const { serviceName, colour, period } = props;
  const seconds = period.toSeconds();
  if (seconds < ALB_METRICS.resolutionSeconds || seconds % ALB_METRICS.resolutionSeconds !== 0) {
    throw new Error(
      `The load balancer's colour alarms need a period that is a multiple of ${ALB_METRICS.resolutionSeconds} seconds ` +
        `(Elastic Load Balancing publishes ${ALB_METRICS.namespace} metrics every ${ALB_METRICS.resolutionSeconds} seconds); got ${seconds} s`,
    );
  }
  const dimensionsMap = {
    [ALB_METRICS.targetGroupDimension]: props.targetGroup,
    [ALB_METRICS.loadBalancerDimension]: props.loadBalancer,
  };
  const sum = (metricName: string) =>
    new cloudwatch.Metric({ namespace: ALB_METRICS.namespace, metricName, dimensionsMap, statistic: cloudwatch.Stats.SUM, period });
  const p = props.idPrefix ?? '';
  const requests = sum(ALB_METRICS.requestCount);
  return {
    requestsPerSecond: new cloudwatch.MathExpression({
      expression: `FILL(${p}requests, 0) / PERIOD(${p}requests)`,
      usingMetrics: { [`${p}requests`]: requests },
      label: `${colour} requests/s`,
      period,
    }),
    successRatePercent: new cloudwatch.MathExpression({
      // ELB publishes an error count only when there was an error: FILL(…, 0) makes a missing one
      // zero. No requests at all gives no data point (IF without an else): not breaching.
      expression:
        `IF(FILL(${p}requests, 0) > 0, 100 * (FILL(${p}target2xx, 0) + FILL(${p}target3xx, 0) + FILL(${p}target4xx, 0)) / FILL(${p}requests, 0))`,
      usingMetrics: {
        [`${p}requests`]: requests,
        [`${p}target2xx`]: sum(ALB_METRICS.targetResponsesByClass['2']),
        [`${p}target3xx`]: sum(ALB_METRICS.targetResponsesByClass['3']),
        [`${p}target4xx`]: sum(ALB_METRICS.targetResponsesByClass['4']),
      },
      label: `${serviceName} ${colour} success rate at the load balancer (%)`,
      period,
    }),
    p99Latency: new cloudwatch.Metric({
      namespace: ALB_METRICS.namespace,
      metricName: ALB_METRICS.targetResponseTime,
      dimensionsMap,
      statistic: cloudwatch.Stats.p(99),
      period,
    }),
    // TargetResponseTime is in seconds.
    latencyThreshold: (max) => max.toMilliseconds() / 1000,
  };
}

/** Where {@link applicationColourMetrics} reads. */
export interface ApplicationColourMetricsProps {
  /** The released service: the `Service` dimension. */
  readonly serviceName: string;
  /** The colour: the `Color` dimension. */
  readonly colour: Colour;
  /** The namespace the application publishes its embedded metric format lines in. */
  readonly namespace: string;
  /** Metric period: 10 or 30 seconds (the metrics are high resolution) or a multiple of 60. */
  readonly period: Duration;
  /** As {@link EnvoyColourMetricsProps.idPrefix}. @default '' */
  readonly idPrefix?: string;
}

/**
 * The application's own metrics (`application` source), from the contract in
 * `lambdas/shared/app-metrics.ts`, the ones the health check reads: `Requests` and `ServerErrors`
 * (sums) and the p99 of `Latency` in milliseconds. No default alarms are built on them yet (the
 * pipeline refuses `createColourAlarms` with this source); the release dashboard graphs them.
 */
export function applicationColourMetrics(props: ApplicationColourMetricsProps): ColourAlarmMetrics {
  const { serviceName, colour, namespace, period } = props;
  const p = props.idPrefix ?? '';
  const dimensionsMap = appColourDimensionsMap(serviceName, colour);
  const sum = (metricName: string) => new cloudwatch.Metric({ namespace, metricName, dimensionsMap, statistic: cloudwatch.Stats.SUM, period });
  const requests = sum(APP_METRICS.requests);
  return {
    requestsPerSecond: new cloudwatch.MathExpression({
      expression: `FILL(${p}requests, 0) / PERIOD(${p}requests)`,
      usingMetrics: { [`${p}requests`]: requests },
      label: `${colour} requests/s`,
      period,
    }),
    successRatePercent: new cloudwatch.MathExpression({
      // Errors are published only with requests; no requests gives no data point.
      expression: `IF(FILL(${p}requests, 0) > 0, 100 * (FILL(${p}requests, 0) - FILL(${p}errors, 0)) / FILL(${p}requests, 0))`,
      usingMetrics: { [`${p}requests`]: requests, [`${p}errors`]: sum(APP_METRICS.serverErrors) },
      label: `${serviceName} ${colour} success rate (%)`,
      period,
    }),
    p99Latency: new cloudwatch.Metric({
      namespace,
      metricName: APP_METRICS.latency,
      dimensionsMap,
      statistic: cloudwatch.Stats.p(99),
      period,
    }),
    latencyThreshold: (max) => max.toMilliseconds(),
  };
}
