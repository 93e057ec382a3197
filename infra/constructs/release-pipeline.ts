import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { Colour } from '../../lambdas/shared/colours';
import type { ColourAlarms } from './colour-alarms';
import { ReleaseEngine } from './release-engine';
import { ReleasedService, type ReleasedServiceOptions } from './released-service';

export { definitionPlaceholders, RELEASE_DEFINITION_FILE, SKIP_BUNDLING_CONTEXT } from './release-engine';
export { versionAtSynth } from './released-service';

/** Properties of {@link ReleasePipeline}: one service's, and its engine's. */
export interface ReleasePipelineProps extends ReleasedServiceOptions {
  /**
   * Retention of every log group the pipeline creates.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How often the reconciler runs: it recovers a release whose end event was lost (traffic split,
   * lock held) and, between releases, reports drift (metric `ECSRelease/Drift`, alarm
   * {@link ReleasePipeline.driftAlarm}, event `Release Drift Detected`). Whole minutes, at least one.
   * @default Duration.minutes(5)
   */
  readonly reconcileInterval?: Duration;
  /**
   * What happens to log groups, the notification key and the pipeline's artifact bucket when
   * the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A release engine with one registered service: the convenience for a single service, and what
 * every service had before engines were shared. Its engine is named `ecs-release-<serviceName>`
 * (so its state machine, API, alarms and log groups keep the names they had), and its service is
 * registered as its child `Default`, which CDK leaves out of logical ids: every resource keeps the
 * logical id it had when `ReleasePipeline` built everything itself, so upgrading replaces nothing
 * that holds state. For several services, use one {@link ReleaseEngine} and a
 * {@link ReleasedService} per service.
 *
 * @example
 * const pipeline = new ReleasePipeline(this, 'Colorapp', {
 *   serviceName: 'colorapp',
 *   cluster, blueService, greenService,
 *   taskDefinitionFamily: 'colorapp', containerName: 'app', colourEnvironmentVariable: 'COLOR',
 *   taskRoles: [taskRole, executionRole],
 *   // The weighted forward of a listener rule; alarms on the load balancer's metrics per target group.
 *   traffic: ReleaseTraffic.alb({ listener, rule, blueTargetGroup, greenTargetGroup }),
 *   strategy: ReleaseStrategy.canary([10, 50, 100]),
 *   repository,
 * });
 * pipeline.grantStartRelease(ciRole);
 */
export class ReleasePipeline extends ReleaseEngine {
  /** The one registered service. */
  readonly service: ReleasedService;
  /** The CodePipeline, when a repository was given. */
  readonly pipeline?: codepipeline.Pipeline;
  /** The SSM parameter holding the service configuration. */
  readonly configParameter: ssm.StringParameter;
  /** See {@link ReleasedService.driftAlarm}. */
  readonly driftAlarm: cloudwatch.Alarm;
  /** The default per-colour alarms (empty when `createColourAlarms` is false). */
  readonly colourAlarms: Readonly<Partial<Record<Colour, ColourAlarms>>>;
  /** The service's release dashboard, `ecs-release-<service>`. */
  readonly dashboard: cloudwatch.Dashboard;
  /** The dashboard's console URL. */
  readonly dashboardUrl: string;
  /** The traffic backend the release moves weights in (its API is the only one granted). */
  readonly trafficKind: 'alb' | 'appmesh';

  constructor(scope: Construct, id: string, props: ReleasePipelineProps) {
    const { serviceName } = props;
    if (typeof serviceName !== 'string' || !/^[a-zA-Z0-9_.-]{1,60}$/.test(serviceName)) {
      throw new Error(
        `ReleasePipeline serviceName must be a literal of 1 to 60 letters, digits, '_', '.' or '-' ` +
          `(it names SSM parameters, alarms and the state machine), got '${serviceName}'`,
      );
    }
    super(scope, id, {
      engineName: `ecs-release-${serviceName}`,
      logRetention: props.logRetention,
      reconcileInterval: props.reconcileInterval,
      removalPolicy: props.removalPolicy,
    });
    this.service = new ReleasedService(this, 'Default', { ...props, engine: this });
    this.pipeline = this.service.pipeline;
    this.configParameter = this.service.configParameter;
    this.driftAlarm = this.service.driftAlarm;
    this.colourAlarms = this.service.colourAlarms;
    this.dashboard = this.service.dashboard;
    this.dashboardUrl = this.service.dashboardUrl;
    this.trafficKind = this.service.trafficKind;
  }

  /**
   * Adds an alarm the release watches: an alarm in ALARM during a bake rolls the release back at
   * once, and the health check judges a colour unhealthy while one of its alarms is in ALARM.
   *
   * @param colour the colour the alarm is about; omit for an alarm that applies to both
   */
  addAlarm(alarm: cloudwatch.IAlarm, colour?: Colour): void {
    this.service.addAlarm(alarm, colour);
  }
}
