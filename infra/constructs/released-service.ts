import { type CfnElement, Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, DependencyGroup } from 'constructs';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import type { MetricSource, ServiceConfigInput } from '../../lambdas/shared/config';
import { CONSOLE_APPROVAL_NAMES, type Gate } from '../../lambdas/shared/console-approvals';
import { dashboardUrlOf } from '../../lambdas/shared/console-links';
import { type ColourSlot, parameterNames, type ReleaseState } from '../../lambdas/shared/documents';

/** `/ecs-release/<service>/`: every document of one service. */
function documentPrefixOf(service: string): string {
  return `/ecs-release/${service}/`;
}
import { registryEntryOf } from '../../lambdas/shared/registry';
import { seedState } from '../../lambdas/shared/release-state';
import { applicationColourMetrics, type ColourAlarmMetrics, envoyColourMetrics, loadBalancerColourMetrics } from './colour-alarm-metrics';
import { ColourAlarms } from './colour-alarms';
import { ReleaseDashboard } from './release-dashboard';
import type { ReleaseEngine, ServiceGrants } from './release-engine';
import { CONSOLE_APPROVAL_HANDLERS, type HandlerPermission, type ReleaseHandlerSpec } from './release-handlers';
import { ReleaseStrategy, type ReleaseTraffic, type ReleaseTrafficBinding } from './release-options';
import { createDriftAlarm, driftAlarmNameOf } from './release-reconciler';
import { capitalise, defaultMetricPeriod, validateProps, versionAtSynth } from './released-service-validation';

export { versionAtSynth } from './released-service-validation';

/** What a service registered with a release engine is: its resources and its release settings. */
export interface ReleasedServiceOptions {
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
   * Judge the new colour against the live one (error rate and latency compared over the same
   * window, README "Relative judgement"). Written into the config explicitly, so a service keeps
   * what it was deployed with whatever the handlers' default.
   * @default true
   */
  readonly relativeJudgement?: boolean;
  /**
   * With relative judgement, the success rate below which the new colour is unhealthy whatever
   * the live colour does: the disaster floor. The colour success-rate alarms fire below it
   * (below `minSuccessRate` they would roll back a service whose normal error rate is 1.5 %,
   * which the comparison exists to release).
   * @default 0.95
   */
  readonly floorSuccessRate?: number;
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
   *   add yours with {@link ReleasedService.addAlarm}.
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
   * Turn off only if you add your own with {@link ReleasedService.addAlarm}.
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
}

/** Properties of {@link ReleasedService}. */
export interface ReleasedServiceProps extends ReleasedServiceOptions {
  /** The engine that releases the service: its state machine, handlers, API and rules. */
  readonly engine: ReleaseEngine;
}

/**
 * One ECS service registered with a {@link ReleaseEngine}: its configuration document
 * (`/ecs-release/<service>/config`), its registry entry, its per-colour alarms, its initial release
 * state, its drift alarm, its dashboard, the rule that routes its alarms to the engine's
 * alarm-watcher, and the grants that let the engine's handlers act on this service's resources
 * only (ECS services, the weighted rule or route, alarms, documents, task roles). Optionally its
 * CodePipeline and ECR trigger. It adds no function, state machine or API (except the console
 * approval sync of a CodePipeline with approval gates).
 *
 * @example
 * const engine = new ReleaseEngine(this, 'Releases', {});
 * new ReleasedService(this, 'Orders', {
 *   engine,
 *   serviceName: 'orders',
 *   cluster, blueService, greenService,
 *   taskDefinitionFamily: 'orders', containerName: 'app',
 *   taskRoles: [taskRole, executionRole],
 *   traffic: ReleaseTraffic.alb({ listener, rule, blueTargetGroup, greenTargetGroup }),
 * });
 */
export class ReleasedService extends Construct implements ServiceGrants {
  /** The service's name. */
  readonly serviceName: string;
  /** The engine that releases it. */
  readonly engine: ReleaseEngine;
  /** The CodePipeline, when a repository was given. */
  readonly pipeline?: codepipeline.Pipeline;
  /** The SSM parameter holding the service configuration. */
  readonly configParameter: ssm.StringParameter;
  /**
   * In ALARM while the reconciler finds the service different from its release state with no
   * release running (route not 100/0 on the live colour, idle colour with tasks, live colour on
   * another revision); notifies the engine's topic. Nothing fixes drift automatically.
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
  /** Acknowledgements a policy holding this service's grants needs (cdk-nag finding id → reason). */
  readonly policyAcknowledgements: ReadonlyMap<string, string>;

  private readonly names: ReturnType<typeof parameterNames>;
  private readonly alarms: Record<Colour | 'common', cloudwatch.IAlarm[]> = { common: [], blue: [], green: [] };
  private readonly traffic: ReleaseTrafficBinding;
  private readonly metricSource: MetricSource;
  private readonly props: ReleasedServiceProps;
  /** Created last; alarms added before are handed over then. */
  private releaseDashboard?: ReleaseDashboard;

  constructor(scope: Construct, id: string, props: ReleasedServiceProps) {
    super(scope, id);
    // The convenience ReleasePipeline registers its one service as its own child 'Default': its
    // errors keep the name the user wrote.
    const label = scope === props.engine && id === 'Default' ? props.engine.constructor.name : 'ReleasedService';
    // Bound first: the rest of the props are checked against what the backend is.
    this.traffic = props.traffic.bind(this);
    this.trafficKind = this.traffic.config.kind;
    this.metricSource = props.metricSource ?? this.traffic.naturalMetricSource;
    validateProps(props, this.traffic, this.metricSource, label);
    this.props = props;
    this.engine = props.engine;
    this.serviceName = props.serviceName;
    this.names = parameterNames(props.serviceName);
    this.policyAcknowledgements = new Map([
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${documentPrefixOf(props.serviceName)}*]`,
        `Reads only: the prefix holds exactly the five documents of ${props.serviceName} (config, state, lock, bake, approval); ` +
          'one ARN instead of five keeps a fleet within IAM\'s managed-policy quotas. Writes and deletes name the documents.',
      ],
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${props.taskDefinitionFamily}:*]`,
        `Revisions of the ${props.taskDefinitionFamily} family are numbered at registration; tagging is further limited to RegisterTaskDefinition.`,
      ],
    ]);

    // --- Alarms and configuration -------------------------------------------------------------
    const colourAlarms: Partial<Record<Colour, ColourAlarms>> = {};
    if (props.createColourAlarms ?? true) {
      for (const colour of COLOURS) {
        const alarms = new ColourAlarms(this, `${capitalise(colour)}Alarms`, {
          serviceName: props.serviceName,
          colour,
          metrics: this.colourMetrics(colour, props.alarmPeriod ?? this.metricPeriod()),
          minSuccessRate: alarmSuccessRateOf(props),
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
              `${label} ${this.node.path} watches no alarm: keep createColourAlarms, or call addAlarm(). ` +
                'The alarm-watcher rule needs at least one alarm to listen to.',
            ],
    });

    this.configParameter = new ssm.StringParameter(this, 'Config', {
      parameterName: this.names.config,
      description: `Release configuration of ${props.serviceName} (ServiceConfigSchema), written by the CDK app`,
      stringValue: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.serviceConfig()) }),
    });
    // The engine's alarm-watcher and reconciler find the service here.
    new ssm.StringParameter(this, 'Registration', {
      parameterName: registryEntryOf(this.engine.engineName, props.serviceName),
      description: `Registers ${props.serviceName} with the release engine ${this.engine.engineName}`,
      stringValue: props.serviceName,
    });
    this.createInitialState(props.initialLiveColour ?? 'blue');

    // --- Alarms out: to the engine's alarm-watcher, and drift to the topic -------------------------
    // Its own rule, naming its own alarms: exact routing, and no engine-wide pattern that grows with the fleet.
    new events.Rule(this, 'AlarmStateRule', {
      ruleName: this.engine.alarmRuleNameOf(props.serviceName),
      description: `A release alarm of ${props.serviceName} went to ALARM: fail the running bake now`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: Lazy.list({ produce: () => this.allAlarms().map((alarm) => alarm.alarmName) }),
          state: { value: ['ALARM'] },
        },
      },
      targets: [this.engine.alarmWatcherTarget()],
    });
    // Under 'Reconciler', as before the engine was shared: the same logical id in a ReleasePipeline.
    this.driftAlarm = createDriftAlarm(new Construct(this, 'Reconciler'), props.serviceName, this.engine.reconcileInterval);
    this.engine.notifyOnAlarm(this.driftAlarm, driftAlarmNameOf(props.serviceName));

    // --- Ways in ------------------------------------------------------------------------------
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
            this.engine.stateMachineTarget(
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
      if (this.consoleGates().length > 0) this.createConsoleApprovalSync(this.pipeline, this.engine.eventHandlerInvoke());
    }

    // --- Ways out -----------------------------------------------------------------------------
    // Built from the service name and the region alone, as the CLI builds it: no lookup needed.
    this.dashboardUrl = dashboardUrlOf(Stack.of(this).region, props.serviceName);
    this.releaseDashboard = this.createDashboard();
    this.dashboard = this.releaseDashboard.dashboard;

    // Last: the engine's handlers get this service's grants.
    this.engine.registerService(this);
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

  /** The statements of a per-service permission, on this service's resources only. */
  statementsFor(permission: HandlerPermission): iam.PolicyStatement[] {
    const p = this.props;
    const stack = Stack.of(this);
    const statement = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) });
    switch (permission) {
      case 'readDocuments':
      case 'writeDocuments':
      case 'deleteDocuments': {
        const action = { readDocuments: 'ssm:GetParameter', writeDocuments: 'ssm:PutParameter', deleteDocuments: 'ssm:DeleteParameter' }[permission];
        // Reads: the service's own prefix, which holds exactly its five documents (config, state,
        // lock, bake, approval); one ARN instead of five keeps 40 services within IAM's policy
        // quotas. Writes and deletes name the run-time documents: the config is CloudFormation's,
        // so no handler may write or delete it.
        const { state, lock, bake, approval } = this.names;
        if (permission === 'readDocuments') return [statement([action], [this.engine.parameterArn(`${documentPrefixOf(this.serviceName)}*`)])];
        return [statement([action], [state, lock, bake, approval].map((name) => this.engine.parameterArn(name)))];
      }
      case 'readRoute':
        return this.trafficStatements((grantee) => this.traffic.grantRead(grantee)).own;
      case 'writeRoute':
        return this.trafficStatements((grantee) => this.traffic.grantWrite(grantee)).own;
      case 'readTargetHealth':
        return this.trafficStatements((grantee) => this.traffic.grantReadTargetHealth(grantee)).own;
      case 'readServices':
        return [statement(['ecs:DescribeServices'], [p.blueService.serviceArn, p.greenService.serviceArn])];
      case 'writeServices':
        return [statement(['ecs:UpdateService'], [p.blueService.serviceArn, p.greenService.serviceArn])];
      case 'registerTaskDefinitions':
        return [
          // The new revision is tagged with its release; tagging on create is authorised separately.
          statement(
            ['ecs:TagResource'],
            [stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${p.taskDefinitionFamily}:*` })],
            { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
          ),
          statement(['iam:PassRole'], p.taskRoles.map((r) => r.roleArn), { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
        ];
      case 'readAlarms':
        // Lazy: alarms can still be added after construction.
        return [statement(['cloudwatch:DescribeAlarms'], Lazy.list({ produce: () => this.allAlarms().map((alarm) => alarm.alarmArn) }))];
      default:
        return [];
    }
  }

  /** Statements of a per-service permission on `*` (the load balancer's Describe calls): the same for every service. */
  sharedStatementsFor(permission: HandlerPermission): Array<{ statement: iam.PolicyStatement; reason: string }> {
    const grant = {
      readRoute: (grantee: iam.IGrantable) => this.traffic.grantRead(grantee),
      writeRoute: (grantee: iam.IGrantable) => this.traffic.grantWrite(grantee),
      readTargetHealth: (grantee: iam.IGrantable) => this.traffic.grantReadTargetHealth(grantee),
    }[permission as 'readRoute' | 'writeRoute' | 'readTargetHealth'];
    if (!grant) return [];
    return this.trafficStatements(grant).shared.map((statement) => ({
      statement,
      reason: `${statement.actions.join(', ')} support no resource-level permissions (Service Authorization Reference); read-only.`,
    }));
  }

  /** The statements a traffic grant makes, split into this service's own and those on `*`. */
  private trafficStatements(grant: (grantee: iam.IGrantable) => void): { own: iam.PolicyStatement[]; shared: iam.PolicyStatement[] } {
    const collector = new StatementCollector();
    grant(collector);
    const isShared = (s: iam.PolicyStatement) => s.resources.length > 0 && s.resources.every((r) => r === '*');
    return { own: collector.statements.filter((s) => !isShared(s)), shared: collector.statements.filter(isShared) };
  }

  private allAlarms(): cloudwatch.IAlarm[] {
    return [...this.alarms.common, ...this.alarms.blue, ...this.alarms.green];
  }

  /** The handler that answers console approvals, with this service's grants and its pipeline's. */
  private createHandler(
    id: string,
    spec: ReleaseHandlerSpec,
    environment: Record<string, string>,
    asyncInvoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'>,
  ): lambda.Function {
    return this.engine.createServiceHandler(this, id, spec, environment, this, (role, permission) => {
      if (permission !== 'answerConsoleApprovals') return false;
      const pipeline = this.pipeline;
      if (!pipeline) throw new Error(`Handler ${id}: answerConsoleApprovals needs the CodePipeline, created first`);
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['codepipeline:GetPipelineState'], resources: [pipeline.pipelineArn] }));
      // An approval action's ARN is <pipeline ARN>/<stage>/<action> (as CDK's grantManualApproval
      // grants it): only the gates' approvals, not the pipeline's own Approve stage.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['codepipeline:PutApprovalResult'],
          resources: this.consoleGates().map((gate) => `${pipeline.pipelineArn}/${CONSOLE_APPROVAL_NAMES.stage}/${CONSOLE_APPROVAL_NAMES.gateActions[gate]}`),
        }),
      );
      return true;
    }, asyncInvoke);
  }

  private get stateMachine() {
    return this.engine.stateMachine;
  }

  private get notificationTopic() {
    return this.engine.notificationTopic;
  }

  private get deadLetterQueue() {
    return this.engine.deadLetterQueue;
  }

  private get logRetention() {
    return this.engine.logRetention;
  }

  private get removalPolicy() {
    return this.engine.removalPolicy;
  }

  private stateMachineArnFromName(): string {
    return this.engine.stateMachineArnFromName();
  }

  private parameterArn(name: string): string {
    return this.engine.parameterArn(name);
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
        relative: { enabled: p.relativeJudgement ?? true, floorSuccessRate: p.floorSuccessRate ?? 0.95 },
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
                `ReleasedService ${this.node.path}: the ${colour} service's task definition ${taskDefinition.node.path} has no ` +
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
        throw new Error(`ReleasedService: unknown metricSource '${String(unknown)}'; use load-balancer, envoy or application`);
      }
    }
  }

  /** The service's release dashboard, from the same metrics as the colour alarms. */
  private createDashboard(): ReleaseDashboard {
    const p = this.props;
    const period = this.metricPeriod();
    // The handlers that log the steps, verdicts and answers the dashboard lists.
    const logging = ['ShiftTraffic', 'CheckHealth', 'RequestApproval', 'PromoteRelease', 'RollbackRelease', 'AlarmWatcher', 'ApproveRelease', 'RejectRelease'];
    const dashboard = new ReleaseDashboard(this, 'Dashboard', {
      serviceName: this.serviceName,
      metrics: { blue: this.colourMetrics('blue', period, 'blue_'), green: this.colourMetrics('green', period, 'green_') },
      minSuccessRate: alarmSuccessRateOf(p),
      maxP99Latency: p.maxP99Latency ?? Duration.seconds(1),
      period,
      stateMachine: this.stateMachine,
      handlerLogGroups: this.engine.handlerLogGroups(logging),
      trafficDescription:
        `${this.trafficKind === 'alb' ? 'ALB weighted target groups' : 'App Mesh weighted route'}, health from the ${this.metricSource} metrics`,
    });
    for (const alarm of [...this.allAlarms(), this.driftAlarm, this.engine.deadLetterAlarm]) dashboard.addAlarm(alarm);
    return dashboard;
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

}


/** Collects the statements a grant makes, instead of adding them to a role: the engine decides which policy holds them. */
class StatementCollector extends iam.PrincipalBase {
  readonly statements: iam.PolicyStatement[] = [];
  readonly policyFragment = new iam.PrincipalPolicyFragment({});

  override addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.statements.push(statement);
    return { statementAdded: true, policyDependable: new DependencyGroup() };
  }

  dedupeString(): string | undefined {
    return undefined;
  }
}

/**
 * The success rate the colour alarms fire below: the disaster floor with relative judgement
 * (the comparison with the live colour judges the rest), else the fixed minimum.
 */
export function alarmSuccessRateOf(props: Pick<ReleasedServiceProps, 'relativeJudgement' | 'floorSuccessRate' | 'minSuccessRate'>): number {
  return (props.relativeJudgement ?? true) ? (props.floorSuccessRate ?? 0.95) : (props.minSuccessRate ?? 0.99);
}
