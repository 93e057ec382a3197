import { readFileSync } from 'node:fs';
import { bundleHandler } from '../bundling';
import * as path from 'node:path';
import { ArnFormat, AssetHashType, type CfnElement, Duration, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { COLOURS, ColourSchema, type Colour } from '../../lambdas/shared/colours';
import { type MetricSource, type ServiceConfig, ServiceConfigSchema, type ServiceConfigInput, type TrafficConfig } from '../../lambdas/shared/config';
import { worstCaseOf } from '../../lambdas/shared/release-budget';
import { computeSchedule } from '../../lambdas/shared/schedule';
import { type ColourSlot, parameterNames, type ReleaseState } from '../../lambdas/shared/documents';
import { versionOf } from '../../lambdas/shared/release';
import { seedState } from '../../lambdas/shared/release-state';
import { CONSOLE_APPROVAL_NAMES, type Gate } from '../../lambdas/shared/console-approvals';
import { dashboardUrlOf } from '../../lambdas/shared/console-links';
import { DRIFT_METRIC } from '../../lambdas/shared/drift';
import { TRAFFIC_WEIGHT_METRIC } from '../../lambdas/shared/weight-metric';
import { REGISTRY_PATH_ENV, registryEntryOf, registryPathOf } from '../../lambdas/shared/registry';
import { applicationColourMetrics, type ColourAlarmMetrics, envoyColourMetrics, loadBalancerColourMetrics } from './colour-alarm-metrics';
import { ReleaseDashboard } from './release-dashboard';
import { ColourAlarms } from './colour-alarms';
import {
  API_HANDLERS,
  CONSOLE_APPROVAL_HANDLERS,
  EVENT_HANDLERS,
  type HandlerPermission,
  kebabCase,
  type ReleaseHandlerSpec,
  STEP_HANDLERS,
} from './release-handlers';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_SUBSTITUTIONS, RELEASE_REQUESTED_DETAIL_TYPE } from '../release-event-schema';
import { CLEANUP_EXECUTION_STATUSES } from '../release-rules';
import { DriftEventPublisher } from './drift-event-publisher';
import { ReleaseEventPublisher } from './release-events';
import { ReleaseReconciler } from './release-reconciler';
import { ReleaseStrategy, type ReleaseTraffic, type ReleaseTrafficBinding } from './release-options';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const LAMBDAS_DIR = path.join(PROJECT_ROOT, 'lambdas');
/** Every handler file a pipeline deploys, bundled together in one build (see bundleHandler). */
const ALL_HANDLER_ENTRIES = [...new Set([STEP_HANDLERS, EVENT_HANDLERS, API_HANDLERS, CONSOLE_APPROVAL_HANDLERS].flatMap((specs) => Object.values(specs).map((spec) => path.join(LAMBDAS_DIR, spec.entry))))];
/** The release state machine, shared by every pipeline; each fills its placeholders with its own handlers. */
export const RELEASE_DEFINITION_FILE = path.join(PROJECT_ROOT, 'statemachines', 'release.asl.json');

/**
 * Context key: when `true`, handler code is not bundled (each function gets a tiny inline
 * placeholder). Only for infrastructure tests that run many synths on a small machine; the
 * app, `cdk synth` and the nag test always bundle the real code.
 */
export const SKIP_BUNDLING_CONTEXT = 'ecs-release:skipBundling';

/** Extra substitutions the definition may use (for PutEvents states), always provided. */
const EVENT_SUBSTITUTIONS: Readonly<Record<string, string>> = RELEASE_EVENT_SUBSTITUTIONS;

/** Properties of {@link ReleasePipeline}. */
export interface ReleasePipelineProps {
  /**
   * The released service's name: its SSM prefix (`/ecs-release/<serviceName>/`), the `Service`
   * dimension of its Envoy or application metrics, its alarm and state machine names.
   */
  readonly serviceName: string;
  /** The ECS cluster both colours run in. */
  readonly cluster: ecs.ICluster;
  /** The blue colour's ECS service. */
  readonly blueService: ecs.IBaseService;
  /** The green colour's ECS service. */
  readonly greenService: ecs.IBaseService;
  /**
   * The task definitions each colour's service was created with, when the services are not
   * `ecs.BaseService` constructs of this app (for example created once by a custom resource, so
   * that `cdk deploy` never changes what they run). The initial release state names them, and
   * each is checked for `containerName`.
   * @default - each service's own task definition when it is an `ecs.BaseService`, else none
   *   (the first release reads what the services run)
   */
  readonly initialTaskDefinitions?: { readonly blue: ecs.TaskDefinition; readonly green: ecs.TaskDefinition };
  /**
   * Task definition family new revisions are registered in. When a family named
   * `<taskDefinitionFamily>-<colour>-template` exists (see `templateFamilyOf`), a release of that
   * colour clones its newest revision instead of the live one.
   */
  readonly taskDefinitionFamily: string;
  /** The container whose image a release replaces. */
  readonly containerName: string;
  /**
   * An environment variable of `containerName` the engine sets to the colour in each new revision.
   * @default - the container's environment is copied unchanged
   */
  readonly colourEnvironmentVariable?: string;
  /**
   * Roles the task definitions name (task role, execution role): the engine passes them when it
   * registers a revision, and may pass nothing else.
   */
  readonly taskRoles: readonly iam.IRole[];
  /** The traffic layer the release shifts weights in. */
  readonly traffic: ReleaseTraffic;
  /**
   * The colour the initial release state says is live: the one the route sends all traffic to
   * when the stack is first deployed. The first release checks it against the route (and what
   * each service runs) before relying on it, so a wrong value cannot misdirect a release; it only
   * makes the state shown before the first release wrong.
   * @default 'blue'
   */
  readonly initialLiveColour?: Colour;
  /**
   * How traffic moves when a release request does not say.
   * @default - ReleaseStrategy.canary([10, 50, 100])
   */
  readonly strategy?: ReleaseStrategy;
  /**
   * How long each traffic step bakes before its health is judged.
   * @default Duration.seconds(60)
   */
  readonly bakeTime?: Duration;
  /**
   * Lowest acceptable share of non-5xx responses of the new colour, 0..1.
   * @default 0.99
   */
  readonly minSuccessRate?: number;
  /**
   * Highest acceptable p99 latency of the new colour.
   * @default Duration.seconds(1)
   */
  readonly maxP99Latency?: Duration;
  /**
   * A bake with fewer requests than this is inconclusive, never healthy.
   * @default 50
   */
  readonly minRequestsPerStep?: number;
  /**
   * Inconclusive bakes allowed per step before the release rolls back.
   * @default 2
   */
  readonly maxInconclusiveBakes?: number;
  /**
   * Where the health check and the default colour alarms read the new colour's requests, errors
   * and latency:
   * - `load-balancer`: the ALB's `AWS/ApplicationELB` metrics of the colour's target group
   *   (`ReleaseTraffic.alb` only; 60-second resolution, so periods are multiples of 60 seconds);
   * - `envoy`: the Envoy sidecars' statistics shipped by the CloudWatch agent (`ReleaseTraffic.appMesh` only);
   * - `application`: high-resolution metrics the application publishes itself (CloudWatch
   *   embedded metric format) with `Service` and `Color` dimensions, in `metricNamespace`, for any
   *   backend. No default colour alarms are built for it yet: set `createColourAlarms: false` and
   *   add yours with {@link ReleasePipeline.addAlarm}.
   * @default - the traffic backend's own: `load-balancer` for ALB, `envoy` for App Mesh
   */
  readonly metricSource?: MetricSource;
  /**
   * CloudWatch namespace of the `envoy` or `application` metrics (the load balancer's are in
   * `AWS/ApplicationELB`). Required with `metricSource: 'application'`.
   * @default 'ECSRelease/Envoy'
   */
  readonly metricNamespace?: string;
  /**
   * Resolution of the health metrics and of the colour alarms: 10 or 30 seconds (high
   * resolution) or a multiple of 60 seconds; a multiple of 60 seconds for the `load-balancer`
   * source, which Elastic Load Balancing publishes every 60 seconds.
   * @default - Duration.seconds(60) for the `load-balancer` source, Duration.seconds(10) otherwise
   */
  readonly metricPeriod?: Duration;
  /**
   * Period of the default colour alarms: 10 or 30 seconds (high resolution) or a multiple of 60
   * seconds (a multiple of 60 seconds for the `load-balancer` source).
   * @default - metricPeriod
   */
  readonly alarmPeriod?: Duration;
  /**
   * Periods each default colour alarm looks at when it evaluates.
   * @default 6
   */
  readonly alarmEvaluationPeriods?: number;
  /**
   * Breaching periods, among `alarmEvaluationPeriods`, that set a default colour alarm to ALARM.
   * The default, three of six, lets a blip pass and rolls back on a trend.
   * @default 3
   */
  readonly alarmDatapointsToAlarm?: number;
  /**
   * Create a success-rate and a p99-latency alarm per colour, `<service>-<colour>-success-rate`
   * and `<service>-<colour>-p99-latency`, on the metrics of `metricSource`.
   * Turn off only if you add your own with {@link ReleasePipeline.addAlarm}.
   * @default - true, except that the `application` source has no default alarms yet and must set false
   */
  readonly createColourAlarms?: boolean;
  /**
   * Wait for a person's approval (API, or the pipeline's approval action) before the first
   * traffic shift. A release request may override it.
   * @default false
   */
  readonly approveBeforeTraffic?: boolean;
  /**
   * Wait for a person's approval before promoting. A release request may override it.
   * @default false
   */
  readonly approveBeforePromote?: boolean;
  /**
   * How long an approval gate waits before the release rolls back.
   * @default Duration.hours(1)
   */
  readonly approvalTimeout?: Duration;
  /**
   * How often the idle service's deployment is checked.
   * @default Duration.seconds(15)
   */
  readonly stabilizationPollInterval?: Duration;
  /**
   * How long the idle service may take to become stable before the release rolls back.
   * @default Duration.minutes(15)
   */
  readonly stabilizationTimeout?: Duration;
  /**
   * Wait before scaling the old colour to zero after promotion (a quick manual roll-back stays cheap).
   * @default Duration.minutes(5)
   */
  readonly scaleDownDelay?: Duration;
  /**
   * Keep the old colour at full size after promotion: faster next rollback, more cost.
   * @default false
   */
  readonly keepOldColourWarm?: boolean;
  /**
   * Past releases kept in the release state.
   * @default 20
   */
  readonly historyLength?: number;
  /**
   * The ECR repository the service's images are pushed to. With it, a CodePipeline releases
   * `pipelineImageTag` after a manual approval.
   * @default - no ECR trigger and no CodePipeline
   */
  readonly repository?: ecr.IRepository;
  /**
   * The tag the CodePipeline watches: a push of it goes through the pipeline and its approval.
   * @default 'latest'
   */
  readonly pipelineImageTag?: string;
  /**
   * Tags whose push starts a release at once, without the pipeline's approval: an EventBridge
   * wildcard pattern (`*` matches any characters), e.g. `hotfix-*`. Opt-in, because such a push
   * bypasses the approval; it may not match `pipelineImageTag` (one push would start two
   * releases of one digest).
   * @default - no direct release on push
   */
  readonly releaseOnPushTags?: string;
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
 * A blue/green and canary release pipeline for one ECS service: the release state machine and
 * its handlers, the service configuration and the initial release state in SSM, the colour
 * alarms, and every way in (REST API with IAM auth, EventBridge rules, CodePipeline) and out
 * (release events, SNS).
 *
 * One construct per service. Everything it may touch is named by its props, and every handler
 * gets exactly the actions its code calls on exactly those resources.
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
export class ReleasePipeline extends Construct {
  /** The release state machine. */
  readonly stateMachine: sfn.StateMachine;
  /** The REST API (IAM authorization on every method). */
  readonly api: apigw.RestApi;
  /** Approvals and failures are announced here (KMS-encrypted). Subscribe people to it. */
  readonly notificationTopic: sns.Topic;
  /** The CodePipeline, when a repository was given. */
  readonly pipeline?: codepipeline.Pipeline;
  /** The admin function that clears a stale lock; invoke it by hand after checking. */
  readonly clearLockFunction: lambda.IFunction;
  /** The SSM parameter holding the service configuration. */
  readonly configParameter: ssm.StringParameter;
  /**
   * Events that were not handled: those the rules could not deliver to their targets, and those
   * the cleanup and alarm-watcher functions failed on after their retries.
   */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * In ALARM while {@link deadLetterQueue} holds a message; notifies {@link notificationTopic}. A
   * message there can mean an aborted, timed-out or failed release was not cleaned up (traffic may
   * still be split, the lock still held), or that an alarm did not end a bake early.
   */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /**
   * In ALARM while the reconciler finds the service different from its release state with no
   * release running (route not 100/0 on the live colour, idle colour with tasks, live colour on
   * another revision); notifies {@link notificationTopic}. Nothing fixes drift automatically.
   */
  readonly driftAlarm: cloudwatch.Alarm;
  /** The default per-colour alarms (empty when `createColourAlarms` is false). */
  readonly colourAlarms: Readonly<Partial<Record<Colour, ColourAlarms>>>;
  /**
   * The service's release dashboard, `ecs-release-<service>` (see `dashboardNameOf`): each
   * colour's requests, success rate and p99, the traffic weights, the alarms and the latest verdicts.
   */
  readonly dashboard: cloudwatch.Dashboard;
  /** The dashboard's console URL (in the stack's region), as the CLI and the release events print it. */
  readonly dashboardUrl: string;

  /** The traffic backend the release moves weights in (its API is the only one granted). */
  readonly trafficKind: 'alb' | 'appmesh';

  private readonly serviceName: string;
  /** Set before the reconcile handler is created: its grant names this publisher. */
  private driftEvents?: DriftEventPublisher;
  private readonly names: ReturnType<typeof parameterNames>;
  private readonly alarms: Record<Colour | 'common', cloudwatch.IAlarm[]> = { common: [], blue: [], green: [] };
  private readonly traffic: ReleaseTrafficBinding;
  private readonly metricSource: MetricSource;
  private readonly props: ReleasePipelineProps;
  private readonly logRetention: logs.RetentionDays;
  private readonly removalPolicy: RemovalPolicy;
  private readonly stateMachineName: string;
  /** Created last; alarms added before are handed over then. */
  private releaseDashboard?: ReleaseDashboard;
  /** Every handler created so far, by construct id: the dashboard reads some of their logs. */
  private readonly handlerFunctions = new Map<string, lambda.Function>();

  constructor(scope: Construct, id: string, props: ReleasePipelineProps) {
    super(scope, id);
    // Bound first: the rest of the props are checked against what the backend is.
    this.traffic = props.traffic.bind(this);
    this.trafficKind = this.traffic.config.kind;
    this.metricSource = props.metricSource ?? this.traffic.naturalMetricSource;
    validateProps(props, this.traffic, this.metricSource);
    this.props = props;
    this.serviceName = props.serviceName;
    this.names = parameterNames(props.serviceName);
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.stateMachineName = `ecs-release-${props.serviceName}`;

    // --- Notifications and dead letters -----------------------------------------------------
    const notificationKey = new kms.Key(this, 'NotificationKey', {
      description: `Encrypts release notifications of ${props.serviceName}`,
      enableKeyRotation: true,
      removalPolicy: this.removalPolicy,
    });
    this.notificationTopic = new sns.Topic(this, 'Notifications', {
      displayName: `Releases of ${props.serviceName}`,
      masterKey: notificationKey,
      enforceSSL: true,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'TriggerDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the EventBridge rule targets and the on-failure destination of the ' +
        'event handlers; a DLQ of a DLQ adds nothing, and an alarm on its depth notifies the release topic.',
    });

    // --- Alarms and configuration -------------------------------------------------------------
    const colourAlarms: Partial<Record<Colour, ColourAlarms>> = {};
    if (props.createColourAlarms ?? true) {
      for (const colour of COLOURS) {
        const alarms = new ColourAlarms(this, `${capitalise(colour)}Alarms`, {
          serviceName: props.serviceName,
          colour,
          metrics: this.colourMetrics(colour, props.alarmPeriod ?? this.metricPeriod()),
          minSuccessRate: props.minSuccessRate ?? 0.99,
          maxP99Latency: props.maxP99Latency ?? Duration.seconds(1),
          evaluationPeriods: props.alarmEvaluationPeriods ?? 6,
          datapointsToAlarm: props.alarmDatapointsToAlarm ?? 3,
        });
        colourAlarms[colour] = alarms;
        alarms.alarms.forEach((alarm) => this.addAlarm(alarm, colour));
      }
    }
    this.colourAlarms = colourAlarms;
    this.node.addValidation({
      validate: () =>
        this.allAlarms().length > 0
          ? []
          : [
              `ReleasePipeline ${this.node.path} watches no alarm: keep createColourAlarms, or call addAlarm(). ` +
                'The alarm-watcher rule needs at least one alarm to listen to.',
            ],
    });

    this.configParameter = new ssm.StringParameter(this, 'Config', {
      parameterName: this.names.config,
      description: `Release configuration of ${props.serviceName} (ServiceConfigSchema), written by the CDK app`,
      stringValue: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.serviceConfig()) }),
    });
    this.createInitialState(props.initialLiveColour ?? 'blue');

    // --- Handlers and the state machine -------------------------------------------------------
    const definition = readFileSync(RELEASE_DEFINITION_FILE, 'utf8');
    const substitutions: Record<string, string> = { ...EVENT_SUBSTITUTIONS };
    const stepFunctions: lambda.IFunction[] = [];
    for (const placeholder of definitionPlaceholders(definition)) {
      if (placeholder in EVENT_SUBSTITUTIONS) continue;
      const match = /^(\w+)FunctionArn$/.exec(placeholder);
      const spec = match ? STEP_HANDLERS[match[1]] : undefined;
      if (!match || !spec) {
        throw new Error(
          `${path.relative(PROJECT_ROOT, RELEASE_DEFINITION_FILE)} uses \${${placeholder}}, which ReleasePipeline cannot fill. ` +
            (match
              ? `Add '${match[1]}' to STEP_HANDLERS in infra/constructs/release-handlers.ts (handler lambdas/${kebabCase(match[1])}.ts).`
              : `Placeholders are <Name>FunctionArn or one of ${Object.keys(EVENT_SUBSTITUTIONS).join(', ')}.`),
        );
      }
      const fn = this.createHandler(match[1], spec, {});
      substitutions[placeholder] = fn.functionArn;
      stepFunctions.push(fn);
    }

    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: `/aws/vendedlogs/states/${this.stateMachineName}`,
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `Blue/green and canary releases of ${props.serviceName}`,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      // Every state's entry and exit, without its input and output: those hold the task tokens of
      // bakes and approval gates, which would let anyone who reads the log answer a gate.
      // The CLI and the history read GetExecutionHistory, which IAM guards separately.
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    // The definition calls unqualified function ARNs, so no version wildcard is granted.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: stepFunctions.map((fn) => fn.functionArn),
      }),
    );
    if (definition.includes('${ReleaseEventBusName}')) this.defaultBus().grantPutEventsTo(this.stateMachine);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray (xray:PutTraceSegments and related) ' +
        'support no resource-level permissions; CDK adds exactly those actions on *.',
    });

    // --- Event-driven and admin handlers ------------------------------------------------------
    // EventBridge invokes these asynchronously: its dead-letter queue only catches events it could
    // not deliver. An event the function received but failed on, after Lambda's own retries, goes
    // to the same queue through an on-failure destination, and the queue's alarm says so.
    const eventHandlerInvoke = {
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      // Both handlers are idempotent (they act only on what the documents still say), so a retry is safe.
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    };
    // Engine-wide handlers: they find the services they serve in the engine's registry.
    const registry = { [REGISTRY_PATH_ENV]: registryPathOf(this.stateMachineName) };
    new ssm.StringParameter(this, 'Registration', {
      parameterName: registryEntryOf(this.stateMachineName, props.serviceName),
      description: `Registers ${props.serviceName} with the release engine ${this.stateMachineName}`,
      stringValue: props.serviceName,
    });
    const alarmWatcher = this.createHandler('AlarmWatcher', EVENT_HANDLERS.alarmWatcher, registry, eventHandlerInvoke);
    const cleanup = this.createHandler('Cleanup', EVENT_HANDLERS.cleanup, {}, eventHandlerInvoke);
    this.clearLockFunction = this.createHandler('ClearLock', EVENT_HANDLERS.clearLock, {});
    // Cleanup depends on events AWS delivers best effort; the reconciler's schedule does not.
    this.driftEvents = new DriftEventPublisher(this, 'DriftEvents', {
      serviceName: props.serviceName,
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const reconcile = this.createHandler(
      'Reconcile',
      EVENT_HANDLERS.reconcile,
      { ...registry, DRIFT_EVENTS_STATE_MACHINE_ARN: this.driftEvents.stateMachine.stateMachineArn },
      eventHandlerInvoke,
    );
    this.driftAlarm = new ReleaseReconciler(this, 'Reconciler', {
      serviceName: props.serviceName,
      handler: reconcile,
      interval: props.reconcileInterval ?? Duration.minutes(5),
      deadLetterQueue: this.deadLetterQueue,
    }).driftAlarm;
    const functionTarget = (fn: lambda.IFunction) =>
      new targets.LambdaFunction(fn, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.minutes(30),
      });
    new events.Rule(this, 'AlarmStateRule', {
      description: `A release alarm of ${props.serviceName} went to ALARM: fail the running bake now`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: Lazy.list({ produce: () => this.allAlarms().map((alarm) => alarm.alarmName) }),
          state: { value: ['ALARM'] },
        },
      },
      targets: [functionTarget(alarmWatcher)],
    });
    new events.Rule(this, 'ExecutionStoppedRule', {
      description:
        `A release of ${props.serviceName} was aborted, timed out or failed: if it still holds the lock, ` +
        'roll it back and release the lock',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...CLEANUP_EXECUTION_STATUSES], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [functionTarget(cleanup)],
    });
    this.deadLetterAlarm = this.createDeadLetterAlarm(notificationKey);
    this.notifyOnAlarm(this.driftAlarm);

    // --- Ways in ------------------------------------------------------------------------------
    const stateMachineTarget = (input: events.RuleTargetInput) =>
      new targets.SfnStateMachine(this.stateMachine, {
        input,
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.hours(1),
      });
    new events.Rule(this, 'ReleaseRequestedRule', {
      description: `Start a release of ${props.serviceName} from a "${RELEASE_REQUESTED_DETAIL_TYPE}" event of source ${RELEASE_EVENT_SOURCE} (detail = release request)`,
      eventPattern: {
        // One source and detail-type, so `events:source` / `events:detail-type` conditions on
        // events:PutEvents decide who may start a release this way (see grantRequestRelease).
        source: [RELEASE_EVENT_SOURCE],
        detailType: [RELEASE_REQUESTED_DETAIL_TYPE],
        detail: { service: [props.serviceName] },
      },
      targets: [stateMachineTarget(events.RuleTargetInput.fromEventPath('$.detail'))],
    });

    this.api = this.createApi();

    if (props.repository) {
      const pipelineTag = props.pipelineImageTag ?? 'latest';
      if (props.releaseOnPushTags !== undefined) {
        new events.Rule(this, 'ImagePushedRule', {
          description:
            `Start a release of ${props.serviceName} when an image is pushed to ${props.repository.node.path} ` +
            `with a tag matching '${props.releaseOnPushTags}' (no approval; '${pipelineTag}' goes through the CodePipeline)`,
          eventPattern: {
            source: ['aws.ecr'],
            detailType: ['ECR Image Action'],
            detail: {
              'action-type': ['PUSH'],
              result: ['SUCCESS'],
              'repository-name': [props.repository.repositoryName],
              'image-tag': events.Match.wildcard(props.releaseOnPushTags),
            },
          },
          targets: [
            stateMachineTarget(
              events.RuleTargetInput.fromObject({
                service: props.serviceName,
                // By digest: the release deploys exactly what was pushed, even if the tag moves.
                image: `${props.repository.repositoryUri}@${events.EventField.fromPath('$.detail.image-digest')}`,
                requestedBy: 'ecr-push',
                reason: `Image ${events.EventField.fromPath('$.detail.image-tag')} pushed`,
              }),
            ),
          ],
        });
      }
      this.pipeline = this.createCodePipeline(props.repository, pipelineTag);
      if (this.consoleGates().length > 0) this.createConsoleApprovalSync(this.pipeline, eventHandlerInvoke);
    }

    // --- Ways out -----------------------------------------------------------------------------
    // Built from the service name and the region alone, as the CLI builds it: no lookup needed.
    this.dashboardUrl = dashboardUrlOf(Stack.of(this).region, props.serviceName);
    new ReleaseEventPublisher(this, 'ReleaseEvents', {
      dashboardUrl: this.dashboardUrl,
      serviceName: props.serviceName,
      stateMachine: this.stateMachine,
      stateMachineName: this.stateMachineName,
      approvalParameterName: this.names.approval,
      approvalParameterArn: this.parameterArn(this.names.approval),
      topic: this.notificationTopic,
      topicKey: notificationKey,
      deadLetterQueue: this.deadLetterQueue,
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    this.releaseDashboard = this.createDashboard(this.handlerFunctions);
    this.dashboard = this.releaseDashboard.dashboard;
  }

  /**
   * An alarm on the dead-letter queue's depth that notifies the (KMS-encrypted) release topic:
   * CloudWatch may publish to that topic only for this alarm, and use its key to do so.
   */
  private createDeadLetterAlarm(topicKey: kms.IKey): cloudwatch.Alarm {
    const service = this.serviceName;
    const alarm = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmName: `ecs-release-${service}-dead-letters`,
      alarmDescription:
        `A release event of ${service} was not handled. If it is an execution status change, an aborted, timed-out or ` +
        `failed release could not be cleaned up: traffic may be split and /ecs-release/${service}/lock still held. ` +
        'Read the messages in the dead-letter queue, check the route and the idle service, then roll back or clear the lock by hand.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // SQS publishes no data for an idle queue: nothing to report.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.notifyOnAlarm(alarm);
    // Only on behalf of this account's alarms: without aws:SourceAccount any account's CloudWatch
    // could use the key (the confused-deputy guard AWS recommends for service principals).
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    return alarm;
  }

  /** Sends `alarm`'s state changes to the release topic, which CloudWatch may publish to for that alarm only. */
  private notifyOnAlarm(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.notificationTopic));
    this.notificationTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.notificationTopic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': alarm.alarmArn } },
      }),
    );
  }

  /**
   * Adds an alarm the release watches: an alarm in ALARM during a bake rolls the release back at
   * once, and the health check judges a colour unhealthy while one of its alarms is in ALARM.
   *
   * @param colour the colour the alarm is about; omit for an alarm that applies to both
   */
  addAlarm(alarm: cloudwatch.IAlarm, colour?: Colour): void {
    this.alarms[colour ?? 'common'].push(alarm);
    // Before the dashboard exists (the constructor's own alarms), it picks them up when created.
    this.releaseDashboard?.addAlarm(alarm);
  }

  /** Lets `grantee` start releases through the API (`POST /releases`). */
  grantStartRelease(grantee: iam.IGrantable): iam.Grant {
    return this.grantApi(grantee, [['POST', '/releases']]);
  }

  /** Lets `grantee` read release status through the API. */
  grantReadReleases(grantee: iam.IGrantable): iam.Grant {
    return this.grantApi(grantee, [
      ['GET', '/releases/*'],
    ]);
  }

  /** Lets `grantee` approve or reject a waiting approval gate through the API. */
  grantApproveRelease(grantee: iam.IGrantable): iam.Grant {
    return this.grantApi(grantee, [
      ['POST', '/releases/*/approve'],
      ['POST', '/releases/*/reject'],
    ]);
  }

  /** Lets `grantee` abort a running release through the API (the cleanup handler rolls it back). */
  grantAbortRelease(grantee: iam.IGrantable): iam.Grant {
    return this.grantApi(grantee, [['POST', '/releases/*/abort']]);
  }

  /**
   * Lets `grantee` request a release with a `Release Requested` event on the default bus, and
   * nothing else: PutEvents only with that source and detail-type (IAM condition keys
   * `events:source` and `events:detail-type`), so the grant cannot forge other events.
   */
  grantRequestRelease(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:PutEvents'],
      resourceArns: [this.defaultBus().eventBusArn],
      conditions: {
        StringEquals: { 'events:source': RELEASE_EVENT_SOURCE, 'events:detail-type': RELEASE_REQUESTED_DETAIL_TYPE },
      },
    });
  }

  private defaultBus(): events.IEventBus {
    const existing = this.node.tryFindChild('DefaultBus') as events.IEventBus | undefined;
    return existing ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
  }

  /** The service configuration document, as written to SSM (alarms as added so far). */
  private serviceConfig(): ServiceConfigInput {
    const p = this.props;
    const names = (alarms: cloudwatch.IAlarm[]) => alarms.map((alarm) => alarm.alarmName);
    return {
      service: p.serviceName,
      cluster: p.cluster.clusterName,
      ecsServices: { blue: p.blueService.serviceName, green: p.greenService.serviceName },
      taskDefinitionFamily: p.taskDefinitionFamily,
      containerName: p.containerName,
      ...(p.colourEnvironmentVariable ? { colourEnvironmentVariable: p.colourEnvironmentVariable } : {}),
      traffic: this.traffic.config,
      health: {
        alarms: { common: names(this.alarms.common), blue: names(this.alarms.blue), green: names(this.alarms.green) },
        minSuccessRate: p.minSuccessRate ?? 0.99,
        maxP99LatencyMs: (p.maxP99Latency ?? Duration.seconds(1)).toMilliseconds(),
        minRequestsPerStep: p.minRequestsPerStep ?? 50,
        maxInconclusiveBakes: p.maxInconclusiveBakes ?? 2,
        // Written only when the props choose it; the handlers default to the backend's own (metricSourceOf).
        ...(p.metricSource ? { metricSource: p.metricSource } : {}),
        metricNamespace: p.metricNamespace ?? 'ECSRelease/Envoy',
        metricPeriodSeconds: this.metricPeriod().toSeconds(),
      },
      defaultStrategy: (p.strategy ?? ReleaseStrategy.canary([10, 50, 100])).config,
      bakeSeconds: (p.bakeTime ?? Duration.seconds(60)).toSeconds(),
      approvals: { beforeTraffic: p.approveBeforeTraffic ?? false, beforePromote: p.approveBeforePromote ?? false },
      approvalTimeoutSeconds: (p.approvalTimeout ?? Duration.hours(1)).toSeconds(),
      stabilization: {
        pollSeconds: (p.stabilizationPollInterval ?? Duration.seconds(15)).toSeconds(),
        timeoutSeconds: (p.stabilizationTimeout ?? Duration.minutes(15)).toSeconds(),
      },
      promotion: {
        scaleDownDelaySeconds: (p.scaleDownDelay ?? Duration.minutes(5)).toSeconds(),
        keepOldColourWarm: p.keepOldColourWarm ?? false,
      },
      historyLength: p.historyLength ?? 20,
      // The CLI starts and follows releases with it (`ecs-release start` needs it).
      releaseStateMachineArn: this.stateMachineArnFromName(),
    };
  }

  /**
   * Creates `/ecs-release/<service>/state` once, with a custom resource whose only call is a
   * create-if-absent PutParameter (`Overwrite: false`, `ParameterAlreadyExists` ignored). The
   * releases own that document: CloudFormation never does, so a redeploy or a stack update cannot
   * overwrite what releases wrote (no onUpdate), and deleting the stack keeps the release history
   * (no onDelete). The same resource, once created, never calls SSM again.
   */
  private createInitialState(live: Colour): void {
    const stack = Stack.of(this);
    const name = this.names.state;
    new cr.AwsCustomResource(this, 'InitialState', {
      resourceType: 'Custom::EcsReleaseInitialState',
      onCreate: {
        service: 'SSM',
        action: 'PutParameter',
        parameters: {
          Name: name,
          // Lazy: the slots read the task definitions, whose containers may be added after this construct.
          Value: Lazy.string({ produce: () => stack.toJsonString(this.initialState(live)) }),
          Type: 'String',
          Overwrite: false,
          // As the handlers write it: Standard (free) while it fits in 4 KB, Advanced once the history outgrows that.
          Tier: 'Intelligent-Tiering',
          Description: `Release state of ${this.serviceName}`,
        },
        physicalResourceId: cr.PhysicalResourceId.of(name),
        // Already there: a state the releases wrote (a redeployed or re-created stack). It stays as it is.
        ignoreErrorCodesMatching: 'ParameterAlreadyExists',
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['ssm:PutParameter'], resources: [this.parameterArn(name)] }),
      ]),
      // The Lambda runtime's SDK has PutParameter: nothing is downloaded at deploy time.
      installLatestAwsSdk: false,
      ...this.initialStateProvider(),
    });
    this.node.addValidation({
      validate: () =>
        COLOURS.flatMap((colour) => {
          const taskDefinition = this.knownTaskDefinition(colour);
          return taskDefinition && !taskDefinition.findContainer(this.props.containerName)
            ? [
                `ReleasePipeline ${this.node.path}: the ${colour} service's task definition ${taskDefinition.node.path} has no ` +
                  `container '${this.props.containerName}' (containerName), so a release would have no image to replace.`,
              ]
            : [];
        }),
    });
  }

  /**
   * A role and a log group for the stack's custom resource provider function, like the handlers
   * have: logs to its own group only, instead of the managed basic-execution policy on `*`. The
   * provider is one function per stack, shared by every `AwsCustomResource` in it, so only the
   * construct that creates it gives it these; every later one adds its own statements to that role.
   */
  private initialStateProvider(): Pick<cr.AwsCustomResourceProps, 'role' | 'logGroup'> {
    const providerId = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`;
    if (Stack.of(this).node.tryFindChild(providerId)) return {};
    const logGroup = new logs.LogGroup(this, 'InitialStateProviderLogs', {
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const role = new iam.Role(this, 'InitialStateProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Custom resource provider of this stack (creates the initial release state of ${this.serviceName} once)`,
    });
    logGroup.grantWrite(role);
    return { role, logGroup };
  }

  /** The initial release state: what the app knows at synth time, deploy-time values included. */
  private initialState(live: Colour): ReleaseState {
    return seedState(this.serviceName, live, { blue: this.slotAtSynth('blue'), green: this.slotAtSynth('green') });
  }

  /** The task definition a colour's service was created with, when it is a service of this app. */
  private knownTaskDefinition(colour: Colour): ecs.TaskDefinition | undefined {
    const given = this.props.initialTaskDefinitions?.[colour];
    if (given) return given;
    const service = colour === 'blue' ? this.props.blueService : this.props.greenService;
    // An imported service (fromServiceArnWithCluster and friends) does not say what it runs.
    return service instanceof ecs.BaseService ? service.taskDefinition : undefined;
  }

  /**
   * What a colour runs as far as the app knows: its task definition's ARN (a deploy-time value;
   * across stacks a weak reference, so a new revision never blocks the service stack's deploy) and
   * the image of `containerName`, with its version when the tag or digest is written in the app.
   * An imported service gives an empty slot, which the schema allows; LoadState fills it from
   * what runs before the first release.
   */
  private slotAtSynth(colour: Colour): ColourSlot {
    const taskDefinition = this.knownTaskDefinition(colour);
    if (!taskDefinition) return { taskDefinitionArn: null, image: null, version: null };
    const image = taskDefinition.findContainer(this.props.containerName)?.imageName ?? null;
    return {
      taskDefinitionArn: taskDefinition.taskDefinitionArn,
      image,
      version: image === null ? null : versionAtSynth(image, Stack.of(this)),
    };
  }

  /** The health metrics' period: as given, else the finest the metric source publishes at that alarms can use. */
  private metricPeriod(): Duration {
    return this.props.metricPeriod ?? defaultMetricPeriod(this.metricSource);
  }

  /**
   * One colour's requests, success rate and p99 latency from the pipeline's metric source: what
   * its default alarms watch and what the dashboard draws (one builder, so the two cannot differ).
   *
   * @param idPrefix prefix of the metric math ids; the dashboard's graphs hold both colours
   */
  private colourMetrics(colour: Colour, period: Duration, idPrefix?: string): ColourAlarmMetrics {
    const source = this.metricSource;
    const serviceName = this.serviceName;
    const namespace = this.props.metricNamespace ?? 'ECSRelease/Envoy';
    switch (source) {
      case 'envoy':
        return envoyColourMetrics({ serviceName, colour, namespace, period, idPrefix });
      case 'load-balancer': {
        // validateProps checked that the backend has a load balancer.
        const dimensions = this.traffic.loadBalancerMetrics!;
        return loadBalancerColourMetrics({
          serviceName,
          colour,
          loadBalancer: dimensions.loadBalancer,
          targetGroup: dimensions.targetGroups[colour],
          period,
          idPrefix,
        });
      }
      case 'application':
        // validateProps refuses default colour alarms on this source; only the dashboard gets here.
        return applicationColourMetrics({ serviceName, colour, namespace, period, idPrefix });
      default: {
        const unknown: never = source;
        throw new Error(`ReleasePipeline: unknown metricSource '${String(unknown)}'; use load-balancer, envoy or application`);
      }
    }
  }

  /** The service's release dashboard, from the same metrics as the colour alarms. */
  private createDashboard(handlers: ReadonlyMap<string, lambda.Function>): ReleaseDashboard {
    const p = this.props;
    const period = this.metricPeriod();
    // The handlers that log the steps, verdicts and answers the dashboard lists.
    const logging = ['ShiftTraffic', 'CheckHealth', 'RequestApproval', 'PromoteRelease', 'RollbackRelease', 'AlarmWatcher', 'ApproveRelease', 'RejectRelease'];
    const dashboard = new ReleaseDashboard(this, 'Dashboard', {
      serviceName: this.serviceName,
      metrics: { blue: this.colourMetrics('blue', period, 'blue_'), green: this.colourMetrics('green', period, 'green_') },
      minSuccessRate: p.minSuccessRate ?? 0.99,
      maxP99Latency: p.maxP99Latency ?? Duration.seconds(1),
      period,
      stateMachine: this.stateMachine,
      handlerLogGroups: logging.flatMap((id) => {
        const fn = handlers.get(id);
        return fn ? [fn.logGroup] : [];
      }),
      trafficDescription:
        `${this.trafficKind === 'alb' ? 'ALB weighted target groups' : 'App Mesh weighted route'}, health from the ${this.metricSource} metrics`,
    });
    for (const alarm of [...this.allAlarms(), this.driftAlarm, this.deadLetterAlarm]) dashboard.addAlarm(alarm);
    return dashboard;
  }

  private allAlarms(): cloudwatch.IAlarm[] {
    return [...this.alarms.common, ...this.alarms.blue, ...this.alarms.green];
  }

  /**
   * The release state machine's ARN, built from its fixed name rather than taken from the
   * resource: the state machine depends on the handlers, so their grants cannot reference it
   * (a dependency cycle), and the configuration document need not wait for it either.
   */
  private stateMachineArnFromName(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private parameterArn(name: string): string {
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      // Parameter ARNs drop the name's leading slash.
      resourceName: name.replace(/^\//, ''),
    });
  }

  private createHandler(
    id: string,
    spec: ReleaseHandlerSpec,
    environment: Record<string, string>,
    asyncInvoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'> = {},
  ): lambda.Function {
    const name = kebabCase(id);
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    // Its own role, without the managed basic-execution policy: it may write to its own log group only.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${this.serviceName} release handler ${name}`,
    });
    logGroup.grantWrite(role);
    const skipBundling = this.node.tryGetContext(SKIP_BUNDLING_CONTEXT) === true || this.node.tryGetContext(SKIP_BUNDLING_CONTEXT) === 'true';
    const entry = path.join(LAMBDAS_DIR, spec.entry);
    const common = {
      description: `${this.serviceName}: ${spec.description}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: spec.timeout,
      role,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: name,
        NODE_OPTIONS: '--enable-source-maps',
        ...environment,
      },
      ...asyncInvoke,
    };
    let fn: lambda.Function;
    if (skipBundling) {
      // Still fail on a missing handler file, exactly as bundling would.
      readFileSync(entry);
      fn = new lambda.Function(this, id, {
        ...common,
        handler: 'index.handler',
        code: lambda.Code.fromInline(`// placeholder for ${spec.entry}: ${SKIP_BUNDLING_CONTEXT} is set\nexports.handler = async () => { throw new Error('not bundled'); };`),
      });
    } else {
      fn = new lambda.Function(this, id, {
        ...common,
        handler: 'index.handler',
        code: lambda.Code.fromAsset(LAMBDAS_DIR, {
          // The bundle, not the sources, decides whether the function changed: a dependency
          // upgrade in node_modules changes what is deployed without touching lambdas/.
          assetHashType: AssetHashType.OUTPUT,
          bundling: {
            // Never pulled: local bundling always answers (it throws on a build error).
            image: lambda.Runtime.NODEJS_24_X.bundlingImage,
            // CDK caches a bundle by these options (not by the local function): each handler
            // needs its own key, or every function would get the first one's bundle.
            environment: { HANDLER_ENTRY: spec.entry },
            local: {
              tryBundle: (outputDir: string) => {
                bundleHandler(entry, outputDir, ALL_HANDLER_ENTRIES, LAMBDAS_DIR);
                return true;
              },
            },
          },
        }),
      });
    }
    for (const permission of spec.permissions) this.grantHandlerPermission(role, permission, name);
    this.handlerFunctions.set(id, fn);
    return fn;
  }

  private grantHandlerPermission(role: iam.Role, permission: HandlerPermission, handler: string): void {
    const stack = Stack.of(this);
    const p = this.props;
    const allow = (actions: string[], resources: string[]) =>
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // Written out, not taken from the state machine: the state machine depends on these functions.
    const stateMachineArn = this.stateMachineArnFromName();
    const acknowledge = (id: string, reason: string) => Validations.of(role).acknowledge({ id, reason });
    switch (permission) {
      case 'readDocuments':
      case 'writeDocuments':
      case 'deleteDocuments': {
        const action = { readDocuments: 'ssm:GetParameter', writeDocuments: 'ssm:PutParameter', deleteDocuments: 'ssm:DeleteParameter' }[permission];
        // Named documents, no wildcard: the config is CloudFormation's, so no handler may write
        // or delete it; the run-time documents are the only ones a release changes.
        const { config, state, lock, bake, approval } = this.names;
        const documents = permission === 'readDocuments' ? [config, state, lock, bake, approval] : [state, lock, bake, approval];
        allow([action], documents.map((name) => this.parameterArn(name)));
        return;
      }
      case 'listServices':
        // Authorised against the path asked for, not the parameters returned: a path of names only.
        allow(['ssm:GetParametersByPath'], [this.parameterArn(registryPathOf(this.stateMachineName))]);
        return;
      case 'readRoute':
        this.traffic.grantRead(role);
        return;
      case 'writeRoute':
        this.traffic.grantWrite(role);
        return;
      case 'readTargetHealth':
        this.traffic.grantReadTargetHealth(role);
        return;
      case 'readServices':
        allow(['ecs:DescribeServices'], [p.blueService.serviceArn, p.greenService.serviceArn]);
        return;
      case 'writeServices':
        allow(['ecs:UpdateService'], [p.blueService.serviceArn, p.greenService.serviceArn]);
        return;
      case 'readTaskDefinitions':
        allow(['ecs:DescribeTaskDefinition'], ['*']);
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          'ecs:DescribeTaskDefinition supports no resource-level permissions (Service Authorization Reference); it is read-only.',
        );
        return;
      case 'registerTaskDefinitions': {
        allow(['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'], ['*']);
        // The new revision is tagged with its release; tagging on create is authorised separately.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['ecs:TagResource'],
            resources: [
              stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${p.taskDefinitionFamily}:*` }),
            ],
            conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
          }),
        );
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['iam:PassRole'],
            resources: p.taskRoles.map((r) => r.roleArn),
            conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          }),
        );
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition support no resource-level permissions; what the ' +
            'new revision may do is bounded by iam:PassRole, which names only the task and execution roles.',
        );
        acknowledge(
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${p.taskDefinitionFamily}:*]`,
          `Revisions of the ${p.taskDefinitionFamily} family are numbered at registration; tagging is further limited to RegisterTaskDefinition.`,
        );
        return;
      }
      case 'readAlarms':
        // Lazy: alarms can still be added after construction.
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['cloudwatch:DescribeAlarms'],
            resources: Lazy.list({ produce: () => this.allAlarms().map((alarm) => alarm.alarmArn) }),
          }),
        );
        return;
      case 'readMetrics':
        allow(['cloudwatch:GetMetricData'], ['*']);
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          'cloudwatch:GetMetricData supports no resource-level permissions; it is read-only.',
        );
        return;
      case 'describeExecutions':
        allow(['states:DescribeExecution'], [executions]);
        acknowledge(
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.stateMachineName}:*]`,
          'Execution names are release ids chosen at run time; the wildcard covers executions of this one state machine.',
        );
        return;
      case 'stopExecution':
        allow(['states:StopExecution'], [executions]);
        acknowledge(
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.stateMachineName}:*]`,
          'Execution names are release ids chosen at run time; the wildcard covers executions of this one state machine.',
        );
        return;
      case 'startExecution':
        allow(['states:StartExecution'], [stateMachineArn]);
        return;
      case 'sendTaskSuccess':
        allow(['states:SendTaskSuccess'], [stateMachineArn]);
        return;
      case 'sendTaskFailure':
        allow(['states:SendTaskFailure'], [stateMachineArn]);
        return;
      case 'putReleaseMetrics': {
        // One namespace today; should the two metrics ever part, the condition lists both.
        const namespaces = [...new Set([DRIFT_METRIC.namespace, TRAFFIC_WEIGHT_METRIC.namespace])];
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['cloudwatch:PutMetricData'],
            resources: ['*'],
            conditions: { StringEquals: { 'cloudwatch:namespace': namespaces.length === 1 ? namespaces[0] : namespaces } },
          }),
        );
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          `cloudwatch:PutMetricData supports no resource-level permissions; the cloudwatch:namespace condition limits it to ${namespaces.join(', ')}.`,
        );
        return;
      }
      case 'readExecutionHistory':
        allow(['states:GetExecutionHistory'], [executions]);
        acknowledge(
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.stateMachineName}:*]`,
          'Execution names are release ids chosen at run time; the wildcard covers executions of this one state machine.',
        );
        return;
      case 'answerConsoleApprovals': {
        const pipeline = this.pipeline;
        if (!pipeline) throw new Error(`Handler ${handler}: answerConsoleApprovals needs the CodePipeline, created first`);
        allow(['codepipeline:GetPipelineState'], [pipeline.pipelineArn]);
        // An approval action's ARN is <pipeline ARN>/<stage>/<action> (as CDK's grantManualApproval
        // grants it): only the gates' approvals, not the pipeline's own Approve stage.
        allow(
          ['codepipeline:PutApprovalResult'],
          this.consoleGates().map((gate) => `${pipeline.pipelineArn}/${CONSOLE_APPROVAL_NAMES.stage}/${CONSOLE_APPROVAL_NAMES.gateActions[gate]}`),
        );
        return;
      }
      case 'publishDriftEvents':
        if (!this.driftEvents) throw new Error(`Handler ${handler}: publishDriftEvents needs the drift-event publisher, created first`);
        this.driftEvents.grantPublish(role);
        return;
      default: {
        const unknown: never = permission;
        throw new Error(`Handler ${handler}: unknown permission ${String(unknown)}`);
      }
    }
  }

  private createApi(): apigw.RestApi {
    const service = this.serviceName;
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const api = new apigw.RestApi(this, 'Api', {
      restApiName: `ecs-release-${service}`,
      description: `Release API of ${service}: start, follow, approve, reject and abort releases. Every method needs SigV4 (AWS_IAM).`,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      // Execution logging needs the account-level CloudWatch role; without it the stage fails to deploy.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: 'v1',
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.INFO,
        dataTraceEnabled: false, // request bodies can carry approval reasons; keep them out of logs
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: 10,
        throttlingBurstLimit: 20,
      },
    });
    const validator = api.addRequestValidator('ValidateBodyAndParameters', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const handler = (id: string, spec: ReleaseHandlerSpec) =>
      // SERVICE_NAME: this API serves one service; a handler can refuse any other with a 404.
      this.createHandler(id, spec, { STATE_MACHINE_ARN: this.stateMachine.stateMachineArn, SERVICE_NAME: service });
    const startRelease = handler('StartRelease', API_HANDLERS.startRelease);
    const getRelease = handler('GetRelease', API_HANDLERS.getRelease);
    const approve = handler('ApproveRelease', API_HANDLERS.approveRelease);
    const reject = handler('RejectRelease', API_HANDLERS.rejectRelease);
    const abort = handler('AbortRelease', API_HANDLERS.abortRelease);

    const releaseRequestModel = api.addModel('ReleaseRequest', {
      contentType: 'application/json',
      modelName: 'ReleaseRequest',
      description: 'A release request: the service and the image; everything else is optional',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        type: apigw.JsonSchemaType.OBJECT,
        required: ['service', 'image'],
        additionalProperties: false,
        properties: {
          service: { type: apigw.JsonSchemaType.STRING, pattern: '^[a-zA-Z0-9_.-]+$', maxLength: 255 },
          image: { type: apigw.JsonSchemaType.STRING, minLength: 3, maxLength: 1024 },
          strategy: { type: apigw.JsonSchemaType.OBJECT },
          bakeSeconds: { type: apigw.JsonSchemaType.INTEGER, minimum: 1, maximum: 86400 },
          approvals: { type: apigw.JsonSchemaType.OBJECT },
          requestedBy: { type: apigw.JsonSchemaType.STRING, maxLength: 256 },
          reason: { type: apigw.JsonSchemaType.STRING, maxLength: 1024 },
        },
      },
    });
    const integration = (fn: lambda.IFunction) => new apigw.LambdaIntegration(fn, { proxy: true });
    const releases = api.root.addResource('releases');
    releases.addMethod('POST', integration(startRelease), {
      requestValidator: validator,
      requestModels: { 'application/json': releaseRequestModel },
    });
    const byService = releases.addResource('{service}');
    byService.addMethod('GET', integration(getRelease), {
      requestValidator: validator,
      requestParameters: { 'method.request.path.service': true },
    });
    byService.addResource('{releaseId}').addMethod('GET', integration(getRelease), {
      requestValidator: validator,
      requestParameters: { 'method.request.path.service': true, 'method.request.path.releaseId': true },
    });
    for (const [action, fn] of [['approve', approve], ['reject', reject], ['abort', abort]] as const) {
      byService.addResource(action).addMethod('POST', integration(fn), {
        requestValidator: validator,
        requestParameters: { 'method.request.path.service': true },
      });
    }
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'The callers are AWS principals (operators, CI roles, pipelines), not end users: every method uses AWS_IAM ' +
        '(SigV4) authorization, and grantStartRelease and friends scope each caller to the routes it needs.',
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Every method requires SigV4 (AWS_IAM), so unsigned requests are refused before any integration runs, and the ' +
        'stage is throttled (10 rps). The callers are operators and CI roles; attach a WAF web ACL if the API is exposed further.',
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level API Gateway logging role needs exactly this AWS-managed policy (it is the documented setup) ' +
        'for the INFO execution logs of the stage.',
    });
    return api;
  }

  private createCodePipeline(repository: ecr.IRepository, imageTag: string): codepipeline.Pipeline {
    const artifactBucket = new s3.Bucket(this, 'PipelineArtifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: false,
      removalPolicy: this.removalPolicy,
      // A bucket that is to be deleted must be emptied first, or `cdk destroy` fails on it.
      autoDeleteObjects: this.removalPolicy === RemovalPolicy.DESTROY,
      lifecycleRules: [{ expiration: Duration.days(30) }],
    });
    Validations.of(artifactBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket only holds the ECR source action\'s imageDetail.json for 30 days; the release itself is audited by its ' +
        'Step Functions execution history and release events. A second bucket for access logs would add nothing to that.',
    });
    const sourceOutput = new codepipeline.Artifact('Image');
    const source = new actions.EcrSourceAction({
      actionName: 'Image',
      repository,
      imageTag,
      output: sourceOutput,
      variablesNamespace: 'Source',
    });
    const pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      artifactBucket,
      crossAccountKeys: false,
      restartExecutionOnUpdate: false,
      stages: [
        { stageName: 'Source', actions: [source] },
        {
          stageName: 'Approve',
          actions: [
            new actions.ManualApprovalAction({
              actionName: 'Approve',
              notificationTopic: this.notificationTopic,
              additionalInformation: `Release ${source.variables.imageDigest} (tag ${imageTag}) of ${this.serviceName}?`,
            }),
          ],
        },
        {
          stageName: CONSOLE_APPROVAL_NAMES.stage,
          actions: [
            new actions.StepFunctionInvokeAction({
              actionName: CONSOLE_APPROVAL_NAMES.releaseAction,
              runOrder: 1,
              stateMachine: this.stateMachine,
              executionNamePrefix: CONSOLE_APPROVAL_NAMES.executionNamePrefix,
              stateMachineInput: actions.StateMachineInput.literal({
                service: this.serviceName,
                image: `${repository.repositoryUri}@${source.variables.imageDigest}`,
                requestedBy: 'codepipeline',
                reason: 'Approved in CodePipeline execution #{codepipeline.PipelineExecutionId}',
              }),
            }),
            // Beside the release, not after it (same runOrder): each gate the release has can be
            // answered here while the release waits, and the sync handler keeps both in step.
            ...this.consoleGates().map((gate) => this.consoleApprovalAction(gate)),
          ],
        },
      ],
    });
    const stack = Stack.of(this);
    const bucketId = stack.getLogicalId(artifactBucket.node.defaultChild as CfnElement);
    const stateMachineId = stack.getLogicalId(this.stateMachine.node.defaultChild as CfnElement);
    const pipelineGrants =
      'CodePipeline\'s own grants on its artifact bucket (objects are keyed by execution, so the wildcards are the bucket\'s ' +
      'objects and CDK\'s standard read/write action groups on that one bucket)';
    for (const id of [
      'Action::s3:Abort*',
      'Action::s3:DeleteObject*',
      'Action::s3:GetBucket*',
      'Action::s3:GetObject*',
      'Action::s3:List*',
      `Resource::<${bucketId}.Arn>/*`,
    ]) {
      Validations.of(pipeline).acknowledge({ id: `AwsSolutions-IAM5[${id}]`, reason: pipelineGrants });
    }
    Validations.of(pipeline).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'The approval action publishes to the KMS-encrypted notification topic; CDK grants the data-key actions on that one key.',
    });
    const executionArn = (index: number) => `{"Fn::Select":[${index},{"Fn::Split":[":",{"Ref":"${stateMachineId}"}]}]}`;
    Validations.of(pipeline).acknowledge({
      id:
        `AwsSolutions-IAM5[Resource::arn:${executionArn(1)}:states:${executionArn(3)}:${executionArn(4)}:execution:` +
        `${executionArn(6)}:pipeline*]`,
      reason:
        'The Step Functions action follows the executions it starts; their names are the pipeline execution ids, ' +
        'so CDK scopes DescribeExecution to this state machine\'s executions named pipeline*.',
    });
    return pipeline;
  }

  /** The gates every release from the pipeline has by default: each gets a console approval. */
  private consoleGates(): Gate[] {
    return [
      ...(this.props.approveBeforeTraffic ? (['before-traffic'] as const) : []),
      ...(this.props.approveBeforePromote ? (['before-promote'] as const) : []),
    ];
  }

  /** The manual approval of one gate, in the `Release` stage beside the release itself. */
  private consoleApprovalAction(gate: Gate): actions.ManualApprovalAction {
    const region = Stack.of(this).region;
    const executions = `https://${region}.console.aws.amazon.com/states/home?region=${region}#/statemachines/view/${this.stateMachineArnFromName()}`;
    const what = gate === 'before-traffic' ? 'before any traffic moves to the new colour' : 'before the new colour is promoted';
    return new actions.ManualApprovalAction({
      actionName: CONSOLE_APPROVAL_NAMES.gateActions[gate],
      runOrder: 1,
      notificationTopic: this.notificationTopic,
      externalEntityLink: this.dashboardUrlFor(),
      additionalInformation:
        `Gate ${gate} of the ${this.serviceName} release this pipeline run started (${what}). Approve sends it on; reject rolls it back, ` +
        `as ecs-release approve|reject --service ${this.serviceName} do: whichever answers first wins and this approval is closed with who answered. ` +
        'An answer given before the release reaches the gate applies when it gets there; a gate it never reaches is closed with why. ' +
        `Dashboard: ${this.dashboardUrlFor()} Executions: ${executions}`,
    });
  }

  /** The dashboard's console URL; also before `dashboardUrl` is set in the constructor. */
  private dashboardUrlFor(): string {
    return dashboardUrlOf(Stack.of(this).region, this.serviceName);
  }

  /**
   * The handler that keeps the console approvals and the release's gates in step, and the rules
   * that run it: a gate's console approval answered, the approval document created, changed or
   * deleted (a gate opened or was answered), a pipeline release ended.
   */
  private createConsoleApprovalSync(
    pipeline: codepipeline.Pipeline,
    invoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'>,
  ): void {
    const sync = this.createHandler(
      'SyncConsoleApprovals',
      CONSOLE_APPROVAL_HANDLERS.syncConsoleApprovals,
      {
        SERVICE_NAME: this.serviceName,
        PIPELINE_NAME: pipeline.pipelineName,
        STATE_MACHINE_ARN: this.stateMachineArnFromName(),
        CONSOLE_GATES: this.consoleGates().join(','),
      },
      invoke,
    );
    const target = new targets.LambdaFunction(sync, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 4, maxEventAge: Duration.minutes(30) });
    new events.Rule(this, 'ConsoleApprovalAnsweredRule', {
      description: `A console approval of a ${this.serviceName} release gate was answered: answer the gate the same way`,
      eventPattern: {
        source: ['aws.codepipeline'],
        detailType: ['CodePipeline Action Execution State Change'],
        detail: {
          pipeline: [pipeline.pipelineName],
          stage: [CONSOLE_APPROVAL_NAMES.stage],
          action: this.consoleGates().map((gate) => CONSOLE_APPROVAL_NAMES.gateActions[gate]),
          state: ['SUCCEEDED', 'FAILED'],
        },
      },
      targets: [target],
    });
    new events.Rule(this, 'GateChangedRule', {
      description: `A ${this.serviceName} release gate opened or was answered: sync the console approvals`,
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['Parameter Store Change'],
        detail: { name: [this.names.approval], operation: ['Create', 'Update', 'Delete'] },
      },
      targets: [target],
    });
    new events.Rule(this, 'PipelineReleaseEndedRule', {
      description: `A ${this.serviceName} release from the pipeline ended: close the console approvals it never reached`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [this.stateMachine.stateMachineArn],
          status: ['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'],
          name: events.Match.prefix(`${CONSOLE_APPROVAL_NAMES.executionNamePrefix}-`),
        },
      },
      targets: [target],
    });
  }

  private grantApi(grantee: iam.IGrantable, routes: Array<[method: string, path: string]>): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map(([method, route]) => this.api.arnForExecuteApi(method, route, this.api.deploymentStage.stageName)),
    });
  }

}

/** Every `${Name}` in a definition, once each, in order of appearance. */
export function definitionPlaceholders(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))];
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Fails early with a message naming the prop. The configuration document is checked against
 * the same schema the handlers use, so what the construct writes is what they accept.
 */
function validateProps(props: ReleasePipelineProps, traffic: ReleaseTrafficBinding, metricSource: MetricSource): void {
  const { serviceName } = props;
  if (Token.isUnresolved(serviceName) || !/^[a-zA-Z0-9_.-]{1,60}$/.test(serviceName)) {
    throw new Error(
      `ReleasePipeline serviceName must be a literal of 1 to 60 letters, digits, '_', '.' or '-' ` +
        `(it names SSM parameters, alarms and the state machine), got '${serviceName}'`,
    );
  }
  if (props.taskRoles.length === 0) {
    throw new Error('ReleasePipeline taskRoles must name the task and execution roles of the task definitions (iam:PassRole)');
  }
  if (props.blueService === props.greenService) {
    throw new Error('ReleasePipeline blueService and greenService must be two different ECS services');
  }
  const fraction = props.minSuccessRate;
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) {
    throw new Error(`ReleasePipeline minSuccessRate is a fraction in (0, 1], e.g. 0.99; got ${fraction}`);
  }
  const period = props.metricPeriod?.toSeconds();
  for (const [name, seconds] of [['metricPeriod', period], ['alarmPeriod', props.alarmPeriod?.toSeconds()]] as const) {
    if (seconds !== undefined && ![10, 30].includes(seconds) && seconds % 60 !== 0) {
      throw new Error(`ReleasePipeline ${name} must be 10 or 30 seconds or a multiple of 60 seconds, got ${seconds} s`);
    }
    if (seconds !== undefined && metricSource === 'load-balancer' && (seconds < 60 || seconds % 60 !== 0)) {
      throw new Error(
        `ReleasePipeline ${name} must be a multiple of 60 seconds with metricSource 'load-balancer': Elastic Load Balancing ` +
          `publishes AWS/ApplicationELB metrics every 60 seconds, so a shorter period only ever sees missing data; got ${seconds} s. ` +
          "For faster signals, publish high-resolution metrics from the application (metricSource 'application').",
      );
    }
  }
  if (metricSource === 'load-balancer' && !traffic.loadBalancerMetrics) {
    throw new Error(`ReleasePipeline metricSource 'load-balancer' needs ReleaseTraffic.alb; this traffic is '${traffic.config.kind}'`);
  }
  if (metricSource === 'application') {
    if (props.metricNamespace === undefined) {
      throw new Error("ReleasePipeline metricSource 'application' needs metricNamespace: the namespace your application publishes its metrics to");
    }
    if (props.createColourAlarms ?? true) {
      throw new Error(
        "ReleasePipeline has no default colour alarms for metricSource 'application' yet: set createColourAlarms: false " +
          'and add alarms on your metrics with addAlarm()',
      );
    }
  }
  const evaluationPeriods = props.alarmEvaluationPeriods ?? 6;
  const datapointsToAlarm = props.alarmDatapointsToAlarm ?? 3;
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) {
    throw new Error(`ReleasePipeline alarmEvaluationPeriods must be a whole number of periods, at least 1; got ${evaluationPeriods}`);
  }
  if (!Number.isInteger(datapointsToAlarm) || datapointsToAlarm < 1 || datapointsToAlarm > evaluationPeriods) {
    throw new Error(
      `ReleasePipeline alarmDatapointsToAlarm must be a whole number from 1 to alarmEvaluationPeriods (${evaluationPeriods}); got ${datapointsToAlarm}`,
    );
  }
  const alarmPeriod = props.alarmPeriod?.toSeconds() ?? period ?? defaultMetricPeriod(metricSource).toSeconds();
  if (evaluationPeriods * alarmPeriod > 86_400) {
    throw new Error(
      `ReleasePipeline alarmEvaluationPeriods × alarm period must be at most one day (CloudWatch's limit); ` +
        `got ${evaluationPeriods} × ${alarmPeriod} s`,
    );
  }
  if (props.initialLiveColour !== undefined && !ColourSchema.safeParse(props.initialLiveColour).success) {
    throw new Error(`ReleasePipeline initialLiveColour must be 'blue' or 'green', got '${String(props.initialLiveColour)}'`);
  }
  if (props.releaseOnPushTags !== undefined) {
    if (!props.repository) throw new Error('ReleasePipeline releaseOnPushTags needs repository: the tags are pushed to that repository');
    const pipelineTag = props.pipelineImageTag ?? 'latest';
    if (!/^[A-Za-z0-9_.*-]{1,128}$/.test(props.releaseOnPushTags)) {
      throw new Error(`ReleasePipeline releaseOnPushTags must be an image tag pattern (letters, digits, _ . - and *), got '${props.releaseOnPushTags}'`);
    }
    if (wildcardMatches(props.releaseOnPushTags, pipelineTag)) {
      throw new Error(
        `ReleasePipeline releaseOnPushTags '${props.releaseOnPushTags}' matches the pipeline's tag '${pipelineTag}': ` +
          'one push would start two releases of one digest, one of them without the approval. Use a pattern that leaves it out.',
      );
    }
  }
  const reconcileSeconds = props.reconcileInterval?.toSeconds();
  if (reconcileSeconds !== undefined && (reconcileSeconds < 60 || reconcileSeconds % 60 !== 0)) {
    // EventBridge schedules run at most once a minute, in whole minutes (rate(n minutes)).
    throw new Error(`ReleasePipeline reconcileInterval must be a whole number of minutes, at least 1; got ${reconcileSeconds} s`);
  }
  if (props.pipelineImageTag !== undefined && !props.repository) {
    throw new Error('ReleasePipeline pipelineImageTag needs repository: the pipeline watches a tag of that repository');
  }
  // The rest of the document: parse it with placeholders for what only exists at deploy time.
  const placeholder = 'placeholder';
  const document = {
    service: serviceName,
    cluster: placeholder,
    ecsServices: { blue: placeholder, green: placeholder },
    taskDefinitionFamily: Token.isUnresolved(props.taskDefinitionFamily) ? placeholder : props.taskDefinitionFamily,
    containerName: Token.isUnresolved(props.containerName) ? placeholder : props.containerName,
    colourEnvironmentVariable: props.colourEnvironmentVariable,
    // The backend checked its own section when it was bound (its ARNs may be deploy-time values);
    // here it only has to be of the right kind for the metric source.
    traffic: placeholderTraffic(traffic.config.kind),
    health: {
      metricSource: props.metricSource,
      minSuccessRate: props.minSuccessRate,
      maxP99LatencyMs: props.maxP99Latency?.toMilliseconds(),
      minRequestsPerStep: props.minRequestsPerStep,
      maxInconclusiveBakes: props.maxInconclusiveBakes,
      metricNamespace: props.metricNamespace,
      metricPeriodSeconds: period ?? defaultMetricPeriod(metricSource).toSeconds(),
    },
    defaultStrategy: props.strategy?.config,
    bakeSeconds: props.bakeTime?.toSeconds(),
    approvals: { beforeTraffic: props.approveBeforeTraffic ?? false, beforePromote: props.approveBeforePromote ?? false },
    approvalTimeoutSeconds: props.approvalTimeout?.toSeconds(),
    stabilization: {
      pollSeconds: props.stabilizationPollInterval?.toSeconds(),
      timeoutSeconds: props.stabilizationTimeout?.toSeconds(),
    },
    promotion: { scaleDownDelaySeconds: props.scaleDownDelay?.toSeconds(), keepOldColourWarm: props.keepOldColourWarm },
    historyLength: props.historyLength,
  };
  const parsed = ServiceConfigSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`);
    throw new Error(`ReleasePipeline props make an invalid service configuration: ${problems.join('; ')}`);
  }
  if (props.repository) assertPipelineReleaseFits(parsed.data);
}

/**
 * CodePipeline's Step Functions invoke action fails after one hour, and that timeout cannot be
 * configured (CodePipeline quotas: "all other actions: 1 hour"). A pipeline release that can
 * wait longer would fail the pipeline while the release goes on, so the pipeline would report a
 * release that may still promote as failed. Refuse the combination at synth time.
 */
function assertPipelineReleaseFits(config: ServiceConfig): void {
  const budget = worstCaseOf({
    schedule: computeSchedule(config.defaultStrategy),
    bakeSeconds: config.bakeSeconds,
    approvals: config.approvals,
    config,
  });
  const limit = PIPELINE_ACTION_TIMEOUT_SECONDS - PIPELINE_TASK_ALLOWANCE_SECONDS;
  if (budget.waitSeconds > limit) {
    throw new Error(
      `ReleasePipeline: a release from the CodePipeline can wait ${budget.waitSeconds}s (${budget.parts.join('; ')}), ` +
        `but CodePipeline fails its Step Functions action after ${PIPELINE_ACTION_TIMEOUT_SECONDS}s, leaving the release running. ` +
        `Keep the pipeline's releases within ${limit}s (shorter bakes, fewer steps, no approval gates: the pipeline has its own ` +
        'approval), or leave out repository to create no pipeline.',
    );
  }
}

/** CodePipeline quotas: the Step Functions invoke action times out after one hour, not configurable. */
const PIPELINE_ACTION_TIMEOUT_SECONDS = 3_600;
/** Left for the release's tasks themselves within the pipeline action's hour. */
const PIPELINE_TASK_ALLOWANCE_SECONDS = 600;

/**
 * The finest period alarms can use on a metric source: ELB publishes `AWS/ApplicationELB` every
 * 60 seconds; Envoy's and the application's metrics are high resolution (10 seconds is the
 * finest alarm period on those).
 */
function defaultMetricPeriod(source: MetricSource): Duration {
  return source === 'load-balancer' ? Duration.seconds(60) : Duration.seconds(10);
}

/** A valid `traffic` section of each kind, for checking the rest of the document at synth time. */
function placeholderTraffic(kind: TrafficConfig['kind']): TrafficConfig {
  const placeholder = 'placeholder';
  switch (kind) {
    case 'alb': {
      const prefix = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:';
      return {
        kind,
        listenerArn: `${prefix}listener/app/placeholder/0/0`,
        rule: 'listener-default',
        targetGroups: { blue: `${prefix}targetgroup/blue/0`, green: `${prefix}targetgroup/green/0` },
      };
    }
    case 'appmesh':
      return { kind, meshName: placeholder, virtualRouterName: placeholder, routeName: placeholder, virtualNodes: { blue: placeholder, green: placeholder } };
    default: {
      const unknown: never = kind;
      throw new Error(`ReleasePipeline: unknown traffic kind '${String(unknown)}'`);
    }
  }
}

/**
 * The version of `image` as the handlers would label it ({@link versionOf}), when the app spells
 * it out: a literal image, or one whose deploy-time parts (account, region, repository) come
 * before a literal tag or digest, as in a container image asset's URI. `null` when the tag itself
 * is only known at deploy time.
 */
export function versionAtSynth(image: string, stack: Stack): string | null {
  if (!Token.isUnresolved(image)) return versionOf(image);
  const tail = literalTail(stack.resolve(image));
  const version = /(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$/.exec(tail);
  return version ? versionOf(version[0]) : null;
}

/** The literal text a resolved CloudFormation string value ends with ('' when it ends in an intrinsic). */
function literalTail(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const [[fn, arg]] = Object.entries(value as Record<string, unknown>);
    if (fn === 'Fn::Join' && Array.isArray(arg) && Array.isArray(arg[1]) && arg[1].length > 0) {
      return literalTail(arg[1][arg[1].length - 1]);
    }
    const template = fn === 'Fn::Sub' ? (Array.isArray(arg) ? arg[0] : arg) : undefined;
    // Fn::Sub: what follows the last ${...} is literal.
    if (typeof template === 'string') return template.slice(template.lastIndexOf('}') + 1);
  }
  return '';
}

/** True when EventBridge's wildcard filter `pattern` (`*` = any characters) matches `value`. */
function wildcardMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}
