import { metricSourceOf, type MetricSource, type TrafficConfig } from '../config';
import { ValidationError } from '../errors';
import { ApplicationMetricSource } from './application-metric-source';
import { EnvoyMetricSource } from './envoy-metric-source';
import { LoadBalancerMetricSource } from './load-balancer-metric-source';
import type { HealthMetricSource } from './metric-source';

/** The parts of the service configuration that choose and shape the health metric source. */
export interface MetricSourceConfig {
  readonly traffic: TrafficConfig;
  readonly health: { readonly metricSource?: MetricSource; readonly metricNamespace: string };
}

/**
 * The health metric source of a service: `health.metricSource`, else the natural one of its
 * traffic backend ({@link metricSourceOf}).
 *
 * @throws ValidationError for `load-balancer` without ALB traffic (the schema refuses it too; a
 *   hand-built config must not reach AWS with it) or a source this function does not know.
 *
 * @example
 * const source = healthMetricSourceOf(release.config); // LoadBalancerMetricSource for ALB traffic
 */
export function healthMetricSourceOf(config: MetricSourceConfig): HealthMetricSource {
  const source = metricSourceOf(config);
  switch (source) {
    case 'envoy':
      return new EnvoyMetricSource(config.health.metricNamespace);
    case 'application':
      return new ApplicationMetricSource(config.health.metricNamespace);
    case 'load-balancer':
      if (config.traffic.kind !== 'alb') {
        throw new ValidationError(
          `health.metricSource 'load-balancer' needs traffic.kind 'alb', got '${config.traffic.kind}'. ` +
            "Use 'envoy' or 'application' for this backend.",
        );
      }
      return new LoadBalancerMetricSource(config.traffic);
    default: {
      // Adding a source to the schema without a case here is a compile error.
      const unknown: never = source;
      throw new ValidationError(
        `Unknown health.metricSource '${String(unknown)}'; supported: load-balancer, envoy, application.`,
      );
    }
  }
}

/**
 * Why `periodSeconds` cannot work on AWS for `source`, or `null` when it can: ELB publishes
 * `AWS/ApplicationELB` every 60 seconds, so a shorter period asks for datapoints that do not
 * exist. The schema still accepts it, because the local world publishes ELB metrics every second
 * (`localProfile`); CheckHealth logs this warning, and the CDK app can refuse the combination
 * where it knows it deploys to AWS.
 *
 * @example
 * periodWarning('load-balancer', 10); // 'health.metricPeriodSeconds 10 is below ...'
 */
export function periodWarning(source: MetricSource, periodSeconds: number): string | null {
  if (source === 'load-balancer' && periodSeconds < LoadBalancerMetricSource.resolutionSeconds) {
    return (
      `health.metricPeriodSeconds ${periodSeconds} is below the ${LoadBalancerMetricSource.resolutionSeconds}-second ` +
      "resolution of the load balancer's metrics: on AWS use 60 or a multiple of it, or the 'application' " +
      'source for faster judgements.'
    );
  }
  return null;
}
