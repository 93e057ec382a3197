import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { Colour } from '../../lambdas/shared/colours';
import { colourDimensionsMap, ENVOY_METRICS, RESPONSE_CLASSES } from '../../lambdas/shared/envoy-metrics';

/** Properties of {@link ColourAlarms}. */
export interface ColourAlarmsProps {
  /** The released service: the `Service` dimension of the Envoy metrics. */
  readonly serviceName: string;
  /** The colour the alarms watch: the `Color` dimension. */
  readonly colour: Colour;
  /** CloudWatch namespace the CloudWatch agent publishes the Envoy statistics to. */
  readonly namespace: string;
  /** Lowest acceptable share of non-5xx responses, 0..1. */
  readonly minSuccessRate: number;
  /** Highest acceptable p99 latency. */
  readonly maxP99Latency: Duration;
  /** Metric period: 10 or 30 seconds (high resolution) or a multiple of 60. */
  readonly period: Duration;
  /** Periods looked at for each evaluation. */
  readonly evaluationPeriods: number;
  /** Breaching periods among them that set the alarm. */
  readonly datapointsToAlarm: number;
}

/**
 * The two alarms a release watches for one colour, built from the Envoy metric contract in
 * `lambdas/shared/envoy-metrics.ts` (the same metrics the health check reads):
 *
 * - success rate: metric math, non-5xx responses over all responses, in percent;
 * - p99 latency of the requests the colour's Envoy answered.
 *
 * Both count the colour's ingress listener only, not Envoy's admin listener.
 *
 * Missing data is `NOT_BREACHING`, on purpose: the idle colour has no traffic most of the time,
 * and an alarm that fired on silence would fail every bake at 0%. Judging a colour that served
 * too little traffic is the health check's job, and it calls that `inconclusive`, never healthy.
 */
export class ColourAlarms extends Construct {
  /** Non-5xx share below the threshold. */
  readonly successRate: cloudwatch.Alarm;
  /** p99 latency above the threshold. */
  readonly p99Latency: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ColourAlarmsProps) {
    super(scope, id);
    const { serviceName, colour, namespace, period } = props;
    // The colour's ingress listener only: see the contract for why the admin listener is left out.
    const dimensionsMap = colourDimensionsMap(serviceName, colour);

    // One metric per response class; FILL(…, 0) so a class with no responses counts as zero
    // instead of making the whole expression empty.
    const byClass: Record<string, cloudwatch.IMetric> = {};
    for (const responseClass of RESPONSE_CLASSES) {
      byClass[`r${responseClass}xx`] = new cloudwatch.Metric({
        namespace,
        metricName: ENVOY_METRICS.responsesByClass,
        dimensionsMap: { ...dimensionsMap, [ENVOY_METRICS.responseClassDimension]: responseClass },
        statistic: cloudwatch.Stats.SUM,
        period,
      });
    }
    const filled = RESPONSE_CLASSES.map((c) => `FILL(r${c}xx, 0)`);
    const successRate = new cloudwatch.MathExpression({
      // No responses at all gives no data point (IF without an else), which the alarm treats as
      // not breaching: see the class comment.
      expression: `IF((${filled.join(' + ')}) > 0, 100 * (${filled.filter((f) => !f.includes('r5xx')).join(' + ')}) / (${filled.join(' + ')}))`,
      usingMetrics: byClass,
      label: `${serviceName} ${colour} success rate (%)`,
      period,
    });
    this.successRate = new cloudwatch.Alarm(this, 'SuccessRate', {
      alarmName: `${serviceName}-${colour}-success-rate`,
      alarmDescription:
        `Share of non-5xx responses of ${serviceName} (${colour}) below ${props.minSuccessRate * 100}%. ` +
        'During a release bake this rolls the release back at once.',
      metric: successRate,
      threshold: props.minSuccessRate * 100,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: props.evaluationPeriods,
      datapointsToAlarm: props.datapointsToAlarm,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const latency = new cloudwatch.Metric({
      namespace,
      metricName: ENVOY_METRICS.requestTime,
      dimensionsMap,
      statistic: cloudwatch.Stats.p(99),
      period,
    });
    this.p99Latency = new cloudwatch.Alarm(this, 'P99Latency', {
      alarmName: `${serviceName}-${colour}-p99-latency`,
      alarmDescription:
        `p99 latency of ${serviceName} (${colour}) above ${props.maxP99Latency.toMilliseconds()} ms. ` +
        'During a release bake this rolls the release back at once.',
      metric: latency,
      threshold: props.maxP99Latency.toMilliseconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: props.evaluationPeriods,
      datapointsToAlarm: props.datapointsToAlarm,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Both alarms. */
  get alarms(): cloudwatch.Alarm[] {
    return [this.successRate, this.p99Latency];
  }
}
