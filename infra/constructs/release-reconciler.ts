import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DRIFT_METRIC } from '../../lambdas/shared/drift';

/** Properties of {@link ReleaseReconciler}. */
export interface ReleaseReconcilerProps {
  /** The engine whose registered services it reconciles. */
  readonly serviceName: string;
  /** The reconcile handler (`lambdas/reconcile.ts`), with its role and on-failure destination. */
  readonly handler: lambda.IFunction;
  /** How often it runs: whole minutes, at least one (ReleasePipeline checks `reconcileInterval`). */
  readonly interval: Duration;
  /** Where scheduled invocations EventBridge could not deliver go. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Runs the engine's reconciler on a schedule, over every registered service. The schedule is what
 * makes recovery independent of the execution status-change events, which AWS delivers best
 * effort. Each registered service alarms on its own drift ({@link createDriftAlarm}).
 */
export class ReleaseReconciler extends Construct {
  constructor(scope: Construct, id: string, props: ReleaseReconcilerProps) {
    super(scope, id);
    const minutes = props.interval.toMinutes();
    new events.Rule(this, 'Schedule', {
      description: `Every ${minutes} min: recover a release of a service of ${props.serviceName} whose end event was lost, and report drift`,
      schedule: events.Schedule.rate(props.interval),
      targets: [
        new targets.LambdaFunction(props.handler, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 2,
          // A run older than the next one is worthless: the next run sees the same world.
          maxEventAge: props.interval,
        }),
      ],
    });
  }
}

/**
 * In ALARM while the reconciler's last run found `serviceName` different from its release state
 * (`ECSRelease/Drift` for the service), in `scope` with id `DriftAlarm`.
 */
export function createDriftAlarm(scope: Construct, serviceName: string, interval: Duration): cloudwatch.Alarm {
  const props = { serviceName, interval };
  const metric = new cloudwatch.Metric({
    namespace: DRIFT_METRIC.namespace,
    metricName: DRIFT_METRIC.metricName,
    dimensionsMap: { [DRIFT_METRIC.dimension]: props.serviceName },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: props.interval,
  });
  return new cloudwatch.Alarm(scope, 'DriftAlarm', {
    alarmName: driftAlarmNameOf(props.serviceName),
    alarmDescription:
      `No release of ${props.serviceName} runs, but its route or services differ from the release state. The reconciler ` +
      'reports and never fixes drift: read its "Release Drift Detected" event or log for what differs, then restore it or release again.',
    metric,
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    // Nothing is published while a release holds the lock: drift is judged between releases only.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The drift alarm's name: `ecs-release-<service>-drift`. */
export function driftAlarmNameOf(serviceName: string): string {
  return `ecs-release-${serviceName}-drift`;
}
