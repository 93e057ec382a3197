import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { Colour } from '../../lambdas/shared/colours';
import type { ColourAlarmMetrics } from './colour-alarm-metrics';

/** Properties of {@link ColourAlarms}. */
export interface ColourAlarmsProps {
  /** The released service: the first part of the alarm names. */
  readonly serviceName: string;
  /** The colour the alarms watch. */
  readonly colour: Colour;
  /**
   * What the alarms watch: `envoyColourMetrics` (App Mesh) or `loadBalancerColourMetrics` (ALB),
   * from `./colour-alarm-metrics`.
   */
  readonly metrics: ColourAlarmMetrics;
  /** Lowest acceptable share of successful requests, 0..1. */
  readonly minSuccessRate: number;
  /** Highest acceptable p99 latency. */
  readonly maxP99Latency: Duration;
  /** Periods looked at for each evaluation. */
  readonly evaluationPeriods: number;
  /** Breaching periods among them that set the alarm. */
  readonly datapointsToAlarm: number;
}

/**
 * The two alarms a release watches for one colour, `<service>-<colour>-success-rate` and
 * `<service>-<colour>-p99-latency` (the names the local environment evaluates too), on the
 * metrics of the service's health source: the same metrics the health check reads.
 *
 * Missing data is `NOT_BREACHING`, on purpose: the idle colour has no traffic most of the time,
 * and an alarm that fired on silence would fail every bake at 0%. Judging a colour that served
 * too little traffic is the health check's job, and it calls that `inconclusive`, never healthy.
 */
export class ColourAlarms extends Construct {
  /** Success rate below the threshold. */
  readonly successRate: cloudwatch.Alarm;
  /** p99 latency above the threshold. */
  readonly p99Latency: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ColourAlarmsProps) {
    super(scope, id);
    const { serviceName, colour, metrics } = props;
    this.successRate = new cloudwatch.Alarm(this, 'SuccessRate', {
      alarmName: `${serviceName}-${colour}-success-rate`,
      alarmDescription:
        `Share of successful (non-5xx) responses of ${serviceName} (${colour}) below ${props.minSuccessRate * 100}%. ` +
        'During a release bake this rolls the release back at once.',
      metric: metrics.successRatePercent,
      threshold: props.minSuccessRate * 100,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: props.evaluationPeriods,
      datapointsToAlarm: props.datapointsToAlarm,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.p99Latency = new cloudwatch.Alarm(this, 'P99Latency', {
      alarmName: `${serviceName}-${colour}-p99-latency`,
      alarmDescription:
        `p99 latency of ${serviceName} (${colour}) above ${props.maxP99Latency.toMilliseconds()} ms. ` +
        'During a release bake this rolls the release back at once.',
      metric: metrics.p99Latency,
      threshold: metrics.latencyThreshold(props.maxP99Latency),
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
