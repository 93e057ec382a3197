import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import { dashboardNameOf } from '../../lambdas/shared/console-links';
import { TRAFFIC_WEIGHT_METRIC } from '../../lambdas/shared/weight-metric';
import type { ColourAlarmMetrics, ColourMetric } from './colour-alarm-metrics';

/**
 * The log messages the release handlers write at each step and verdict, which the dashboard's
 * Logs Insights widget lists. A test holds each against the handlers' code, so renaming a
 * message without this list fails the build instead of emptying the widget.
 */
export const RELEASE_STEP_LOG_MESSAGES = [
  'Traffic shifted',
  'Route already had these weights; nothing sent',
  'Health verdict',
  'Next step decided',
  'Waiting for approval',
  'Release approved',
  'Release rejected',
  'Bake failed by alarm',
  'Promoted',
  'Rolling back',
  'Rollback complete',
] as const;

/** Line colours of the two colours on every graph (CloudWatch's own blue and green). */
const LINE_COLOURS: Record<Colour, string> = { blue: '#1f77b4', green: '#2ca02c' };

/** Properties of {@link ReleaseDashboard}. */
export interface ReleaseDashboardProps {
  /** The released service: the dashboard is `dashboardNameOf(serviceName)`. */
  readonly serviceName: string;
  /**
   * Each colour's requests, success rate and p99 latency: the same builders as the colour alarms
   * (`./colour-alarm-metrics`), built with an id prefix per colour so both fit in one graph.
   */
  readonly metrics: Readonly<Record<Colour, ColourAlarmMetrics>>;
  /** Drawn as a line on the success-rate graph: below it a colour's alarm goes off. */
  readonly minSuccessRate: number;
  /** Drawn as a line on the p99 graph, in the latency metric's own unit. */
  readonly maxP99Latency: Duration;
  /** Period of the graphs; the metric source's. */
  readonly period: Duration;
  /** The release state machine, for the link to its executions. */
  readonly stateMachine: sfn.IStateMachine;
  /** Log groups of the handlers whose step and verdict messages the dashboard lists. */
  readonly handlerLogGroups: readonly logs.ILogGroup[];
  /** What moves the weights, in words, for the dashboard's heading. */
  readonly trafficDescription: string;
}

/**
 * One CloudWatch dashboard per released service, `ecs-release-<service>`: each colour's request
 * rate, success rate and p99 latency side by side, the traffic weight of each colour on the same
 * time axis (the `ECSRelease/TrafficWeight` metric each shift and rollback publishes), the state
 * of the release alarms, and the latest steps and verdicts from the handlers' logs.
 *
 * The metrics come from the same builders as the colour alarms, so the dashboard shows exactly
 * what the release judges; the name is derived from the service alone, so the CLI and the
 * release events link to it without a lookup.
 */
export class ReleaseDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;
  /** `ecs-release-<service>`. */
  readonly dashboardName: string;
  /** Read when the dashboard is rendered, so alarms added after construction are shown too. */
  private readonly alarms: cloudwatch.IAlarm[] = [];

  constructor(scope: Construct, id: string, props: ReleaseDashboardProps) {
    super(scope, id);
    const { serviceName: service, metrics, period } = props;
    if (!(props.minSuccessRate > 0 && props.minSuccessRate <= 1)) {
      throw new Error(`ReleaseDashboard minSuccessRate is a fraction in (0, 1], got ${props.minSuccessRate}`);
    }
    this.dashboardName = dashboardNameOf(service);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(3),
    });

    const perColour = (pick: (m: ColourAlarmMetrics) => ColourMetric, label: string) =>
      COLOURS.map((colour) => pick(metrics[colour]).with({ label: `${colour} ${label}`, color: LINE_COLOURS[colour] }));
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, period, liveData: true, ...extra });
    const latencyThreshold = metrics.blue.latencyThreshold(props.maxP99Latency);

    const weight = (colour: Colour) =>
      new cloudwatch.MathExpression({
        // A weight is published only when it changes: REPEAT carries the last one forward, so the
        // graph is a staircase with a step where each shift happened.
        expression: `FILL(${colour}_weight, REPEAT)`,
        usingMetrics: {
          [`${colour}_weight`]: new cloudwatch.Metric({
            namespace: TRAFFIC_WEIGHT_METRIC.namespace,
            metricName: TRAFFIC_WEIGHT_METRIC.metricName,
            dimensionsMap: { [TRAFFIC_WEIGHT_METRIC.serviceDimension]: service, [TRAFFIC_WEIGHT_METRIC.colourDimension]: colour },
            statistic: cloudwatch.Stats.MAXIMUM,
            period,
          }),
        },
        label: `${colour} weight (%)`,
        color: LINE_COLOURS[colour],
        period,
      });

    const region = Aws.REGION;
    const executions = `https://${region}.console.aws.amazon.com/states/home?region=${region}#/statemachines/view/${props.stateMachine.stateMachineArn}`;
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        width: 24,
        height: 3,
        markdown: [
          `# Releases of ${service}`,
          `${props.trafficDescription}. Blue and green side by side; the weights are \`${TRAFFIC_WEIGHT_METRIC.namespace}/${TRAFFIC_WEIGHT_METRIC.metricName}\`, ` +
            `published by every traffic shift and rollback. [Release executions (Step Functions)](${executions}) · ` +
            `\`ecs-release status --service ${service}\` · \`ecs-release approve|reject --service ${service}\``,
        ].join('\n\n'),
      }),
    );
    this.dashboard.addWidgets(
      graph('Requests per second', perColour((m) => m.requestsPerSecond, 'requests/s'), { leftYAxis: { min: 0, showUnits: false } }),
      graph('Success rate (%)', perColour((m) => m.successRatePercent, 'success rate (%)'), {
        leftYAxis: { max: 100, showUnits: false },
        leftAnnotations: [{ value: props.minSuccessRate * 100, label: 'alarm below', color: '#d62728' }],
      }),
      graph('p99 latency', perColour((m) => m.p99Latency, 'p99'), {
        leftYAxis: { min: 0 },
        leftAnnotations: [{ value: latencyThreshold, label: 'alarm above', color: '#d62728' }],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Traffic weight per colour (%)',
        left: COLOURS.map(weight),
        leftYAxis: { min: 0, max: 100, showUnits: false },
        width: 12,
        height: 6,
        period,
        liveData: true,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Release alarms', alarms: this.alarms, width: 12, height: 6 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Latest steps and verdicts',
        logGroupNames: props.handlerLogGroups.map((group) => group.logGroupName),
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 24,
        height: 8,
        queryLines: [
          // Powertools' keys: `service` is the handler, `releaseId` the release.
          'fields @timestamp, releaseId, service as handler, message, status, decision, weight, weights.idle as idleWeight, reasons.0 as reason, error',
          `filter ${RELEASE_STEP_LOG_MESSAGES.map((m) => `message = ${JSON.stringify(m)}`).join(' or ')}`,
          'sort @timestamp desc',
          'limit 50',
        ],
      }),
    );
  }

  /** Shows `alarm` in the alarm status widget. */
  addAlarm(alarm: cloudwatch.IAlarm): void {
    this.alarms.push(alarm);
  }
}
