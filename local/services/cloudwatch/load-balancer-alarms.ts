/**
 * The release alarms of the ALB backend, as the CDK app defines them in
 * `infra/constructs/colour-alarm-metrics.ts` (`loadBalancerColourMetrics`): over the colour's
 * target group's `AWS/ApplicationELB` metrics,
 * - success rate: `IF(FILL(requests, 0) > 0, 100 * (FILL(target2xx, 0) + FILL(target3xx, 0) +
 *   FILL(target4xx, 0)) / FILL(requests, 0))`, alarming below `threshold * 100`;
 * - latency: p99 of `TargetResponseTime`, published in seconds, alarming above the threshold in
 *   milliseconds divided by 1000.
 * The local CloudWatch evaluates them on the samples the local load balancer publishes.
 */
import { ALB_METRICS } from '../../../lambdas/shared/alb-metrics';
import type { Colour } from '../../../lambdas/shared/colours';
import type { AlarmDefinition } from '../../contracts';
import { percentileOf, type MetricIdentity, type MetricStore } from './store';

/** Where the ALB alarms read: each colour's `LoadBalancer` and `TargetGroup` dimension values. */
export interface LoadBalancerAlarmSource {
  readonly kind: 'load-balancer';
  /**
   * e.g. `{ LoadBalancer: 'app/colorapp/…', TargetGroup: 'targetgroup/colorapp-green/…' }` (`albColourDimensionsMap`)
   * for the colour of `service` (the alarm definition's): with several services behind one load
   * balancer, each service's alarms watch its own target groups.
   */
  readonly dimensionsOf: (colour: Colour, service: string) => Readonly<Record<string, string>>;
}

const ANSWERED = { target2xx: '2', target3xx: '3', target4xx: '4' } as const;

/** The CDK alarm's metric math expression. */
export const LOAD_BALANCER_SUCCESS_RATE_EXPRESSION =
  'IF(FILL(requests, 0) > 0, 100 * (FILL(target2xx, 0) + FILL(target3xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0))';

function metric(source: LoadBalancerAlarmSource, definition: AlarmDefinition, metricName: string): MetricIdentity {
  return { namespace: ALB_METRICS.namespace, metricName, dimensions: { ...source.dimensionsOf(definition.colour, definition.service) } };
}

/** The alarm's metrics by id, as its definition uses them. */
function successRateMetrics(source: LoadBalancerAlarmSource, definition: AlarmDefinition): Record<string, MetricIdentity> {
  return {
    requests: metric(source, definition, ALB_METRICS.requestCount),
    ...Object.fromEntries(
      Object.entries(ANSWERED).map(([id, cls]) => [id, metric(source, definition, ALB_METRICS.targetResponsesByClass[cls])]),
    ),
  };
}

/**
 * The alarm's value per period start over [`start`, `end`): no value for a period without
 * requests (the expression's IF without an else).
 */
export function loadBalancerAlarmValues(
  source: LoadBalancerAlarmSource,
  definition: AlarmDefinition,
  store: MetricStore,
  start: number,
  end: number,
): Map<number, number> {
  const out = new Map<number, number>();
  if (definition.kind === 'p99-latency') {
    for (const period of store.periods(metric(source, definition, ALB_METRICS.targetResponseTime), start, end, definition.periodSeconds)) {
      if (period.values.length > 0) out.set(period.start, percentileOf(period.values, 99));
    }
    return out;
  }
  const sums = new Map<string, Map<number, number>>();
  for (const [id, identity] of Object.entries(successRateMetrics(source, definition))) {
    const byStart = new Map<number, number>();
    for (const period of store.periods(identity, start, end, definition.periodSeconds)) {
      byStart.set(period.start, period.values.reduce((a, b) => a + b, 0));
    }
    sums.set(id, byStart);
  }
  for (const [periodStart, requests] of sums.get('requests')!) {
    if (!(requests > 0)) continue;
    const answered = Object.keys(ANSWERED).reduce((total, id) => total + (sums.get(id)!.get(periodStart) ?? 0), 0);
    out.set(periodStart, (100 * answered) / requests);
  }
  return out;
}

/** The threshold in the alarm metric's own unit: percent, or seconds for `TargetResponseTime`. */
export function loadBalancerAlarmThreshold(definition: AlarmDefinition): number {
  return definition.kind === 'p99-latency' ? definition.threshold / 1000 : definition.threshold * 100;
}

/** The metric part of the alarm as DescribeAlarms shows it. */
export function loadBalancerAlarmJson(source: LoadBalancerAlarmSource, definition: AlarmDefinition): Record<string, unknown> {
  const dimensionList = (identity: MetricIdentity) => Object.entries(identity.dimensions).map(([Name, Value]) => ({ Name, Value }));
  if (definition.kind === 'p99-latency') {
    const latency = metric(source, definition, ALB_METRICS.targetResponseTime);
    return {
      MetricName: latency.metricName,
      Namespace: latency.namespace,
      ExtendedStatistic: 'p99',
      Dimensions: dimensionList(latency),
      Period: definition.periodSeconds,
      Threshold: loadBalancerAlarmThreshold(definition),
      ComparisonOperator: 'GreaterThanThreshold',
    };
  }
  return {
    Metrics: [
      { Id: 'expr_1', Expression: LOAD_BALANCER_SUCCESS_RATE_EXPRESSION, Label: label(definition), ReturnData: true },
      ...Object.entries(successRateMetrics(source, definition)).map(([Id, identity]) => ({
        Id,
        MetricStat: {
          Metric: { Namespace: identity.namespace, MetricName: identity.metricName, Dimensions: dimensionList(identity) },
          Period: definition.periodSeconds,
          Stat: 'Sum',
        },
        ReturnData: false,
      })),
    ],
    Threshold: loadBalancerAlarmThreshold(definition),
    ComparisonOperator: 'LessThanThreshold',
  };
}

/** `detail.configuration.metrics` of the alarm's state-change event. */
export function loadBalancerEventMetrics(source: LoadBalancerAlarmSource, definition: AlarmDefinition, id: () => string): Record<string, unknown>[] {
  const metricStat = (identity: MetricIdentity, stat: string) => ({
    metric: { dimensions: { ...identity.dimensions }, name: identity.metricName, namespace: identity.namespace },
    period: definition.periodSeconds,
    stat,
  });
  if (definition.kind === 'p99-latency') {
    return [{ id: id(), metricStat: metricStat(metric(source, definition, ALB_METRICS.targetResponseTime), 'p99'), returnData: true }];
  }
  return [
    { expression: LOAD_BALANCER_SUCCESS_RATE_EXPRESSION, id: 'expr_1', label: label(definition), returnData: true },
    ...Object.entries(successRateMetrics(source, definition)).map(([metricId, identity]) => ({
      id: metricId,
      metricStat: metricStat(identity, 'Sum'),
      returnData: false,
    })),
  ];
}

function label(definition: AlarmDefinition): string {
  return `${definition.service} ${definition.colour} success rate at the load balancer (%)`;
}
