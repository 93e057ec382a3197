import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArnFormat, AssetHashType, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DRIFT_METRIC } from '../../lambdas/shared/drift';
import { REGISTRY_PATH_ENV, registryPathOf } from '../../lambdas/shared/registry';
import { TRAFFIC_WEIGHT_METRIC } from '../../lambdas/shared/weight-metric';
import { bundleHandler } from '../bundling';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_SUBSTITUTIONS, RELEASE_REQUESTED_DETAIL_TYPE } from '../release-event-schema';
import { CLEANUP_EXECUTION_STATUSES } from '../release-rules';
import { DriftEventPublisher } from './drift-event-publisher';
import {
  API_HANDLERS,
  CONSOLE_APPROVAL_HANDLERS,
  EVENT_HANDLERS,
  type HandlerPermission,
  kebabCase,
  type ReleaseHandlerSpec,
  STEP_HANDLERS,
} from './release-handlers';
import { createReleaseApi } from './release-api';
import { ReleaseEventPublisher } from './release-events';
import { ReleaseReconciler } from './release-reconciler';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const LAMBDAS_DIR = path.join(PROJECT_ROOT, 'lambdas');
/** Every handler file an engine deploys, bundled together in one build (see bundleHandler). */
const ALL_HANDLER_ENTRIES = [...new Set([STEP_HANDLERS, EVENT_HANDLERS, API_HANDLERS, CONSOLE_APPROVAL_HANDLERS].flatMap((specs) => Object.values(specs).map((spec) => path.join(LAMBDAS_DIR, spec.entry))))];
/** The release state machine, shared by every engine; each fills its placeholders with its own handlers. */
export const RELEASE_DEFINITION_FILE = path.join(PROJECT_ROOT, 'statemachines', 'release.asl.json');

/**
 * Context key: when `true`, handler code is not bundled (each function gets a tiny inline
 * placeholder). Only for infrastructure tests that run many synths on a small machine; the
 * app, `cdk synth` and the nag test always bundle the real code.
 */
export const SKIP_BUNDLING_CONTEXT = 'ecs-release:skipBundling';

/** Extra substitutions the definition may use (for PutEvents states), always provided. */
const EVENT_SUBSTITUTIONS: Readonly<Record<string, string>> = RELEASE_EVENT_SUBSTITUTIONS;

/**
 * Permissions whose resources belong to one service: a registered service grants them, on its own
 * resources only, to the engine's handlers that hold them (see {@link ServiceGrants}).
 */
export const PER_SERVICE_PERMISSIONS: ReadonlySet<HandlerPermission> = new Set<HandlerPermission>([
  'readDocuments',
  'writeDocuments',
  'deleteDocuments',
  'readRoute',
  'writeRoute',
  'readTargetHealth',
  'readServices',
  'writeServices',
  'registerTaskDefinitions',
  'readAlarms',
]);

/**
 * What a registered service grants the engine's handlers: the statements of one per-service
 * permission, naming that service's resources only. `ReleasedService` implements it.
 */
export interface ServiceGrants {
  /** The service's name. */
  readonly serviceName: string;
  /** The statements of `permission` on this service's resources (no `*` resource among them). */
  statementsFor(permission: HandlerPermission): iam.PolicyStatement[];
  /**
   * Statements of `permission` on `*` (actions with no resource-level permissions, such as the
   * load balancer's Describe calls): the same for every service, granted once per role.
   */
  sharedStatementsFor(permission: HandlerPermission): Array<{ statement: iam.PolicyStatement; reason: string }>;
  /** Acknowledgements (cdk-nag finding id → reason) a policy holding this service's statements needs. */
  readonly policyAcknowledgements: ReadonlyMap<string, string>;
}

/** Properties of {@link ReleaseEngine}. */
export interface ReleaseEngineProps {
  /**
   * The engine's name: its state machine's, its API's, its registry path's
   * (`/ecs-release-registry/<engineName>`) and its alarms' prefix. One engine per name per
   * account and region.
   * @default 'ecs-release'
   */
  readonly engineName?: string;
  /**
   * Retention of every log group the engine creates.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How often the reconciler runs over every registered service: it recovers a release whose end
   * event was lost (traffic split, lock held) and, between releases, reports drift. Whole
   * minutes, at least one.
   * @default Duration.minutes(5)
   */
  readonly reconcileInterval?: Duration;
  /**
   * Managed policies IAM lets you attach to one role: the per-service grants are packed into
   * managed policies per handler role (6,144 characters each), so this bounds how many services
   * one engine serves. IAM's default quota is 10; raise the "Managed policies per role" quota
   * (up to 20) first, then this.
   * @default 10
   */
  readonly maxManagedPoliciesPerRole?: number;
  /**
   * What happens to log groups, the notification key and the pipeline's artifact bucket when
   * the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** One engine handler: its function, its role and what it may do. */
interface EngineHandler {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly spec: ReleaseHandlerSpec;
}

/** Characters of a managed policy (IAM's limit is 6,144, whitespace not counted) the per-service statements may fill. */
const MANAGED_POLICY_BUDGET = 5_500;

/**
 * The release engine: one state machine, one set of handlers, one API, one set of EventBridge
 * rules, one reconciler, one notification topic and dead-letter queue, serving every service
 * registered with it ({@link ReleasedService}). Each handler reads the service's configuration
 * from `/ecs-release/<service>/config`; the alarm-watcher and the reconciler find the services in
 * the engine's registry (`/ecs-release-registry/<engineName>`).
 *
 * Registering a service adds no function, state machine or API: only its configuration, alarms,
 * initial state, rules, and its grants, which name that service's resources only and are packed
 * into managed policies per handler role.
 *
 * @example
 * const engine = new ReleaseEngine(this, 'Releases', {});
 * new ReleasedService(this, 'Orders', { engine, serviceName: 'orders', ... });
 * new ReleasedService(this, 'Payments', { engine, serviceName: 'payments', ... });
 * engine.grantStartRelease(ordersCiRole, 'orders');
 */
export class ReleaseEngine extends Construct {
  /** The engine's name (its state machine's name). */
  readonly engineName: string;
  /** The SSM path of the engine's registry of services. */
  readonly registryPath: string;
  /** The release state machine. */
  readonly stateMachine: sfn.StateMachine;
  /** The REST API (IAM authorization on every method). */
  readonly api: apigw.RestApi;
  /** Approvals and failures are announced here (KMS-encrypted). Subscribe people to it. */
  readonly notificationTopic: sns.Topic;
  /** The notification topic's key. */
  readonly notificationKey: kms.Key;
  /** The admin function that clears a stale lock; invoke it by hand after checking. */
  readonly clearLockFunction: lambda.IFunction;
  /**
   * Events that were not handled: those the rules could not deliver to their targets, and those
   * the cleanup, alarm-watcher and reconcile functions failed on after their retries.
   */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * In ALARM while {@link deadLetterQueue} holds a message; notifies {@link notificationTopic}. A
   * message there can mean an aborted, timed-out or failed release was not cleaned up (traffic may
   * still be split, the lock still held), or that an alarm did not end a bake early.
   */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** How often the reconciler runs (each registered service's drift alarm uses it as its period). */
  readonly reconcileInterval: Duration;
  /** Retention of the engine's (and its services') log groups. */
  readonly logRetention: logs.RetentionDays;
  /** Removal policy of the engine's (and its services') retained resources. */
  readonly removalPolicy: RemovalPolicy;
  /** The alarm-watcher: each registered service routes its alarms' state changes to it. */
  readonly alarmWatcher: lambda.IFunction;

  private readonly handlers = new Map<string, EngineHandler>();
  private readonly services = new Map<string, ServiceGrants & Construct>();
  /**
   * Per handler role and per stack of services: the managed policies of per-service grants, and
   * how full the newest is. A policy lives in the stack of the services it names, so the engine's
   * stack does not grow with the fleet, and services can be spread over stacks (500 resources each).
   */
  private readonly pools = new Map<string, { policies: iam.ManagedPolicy[]; size: number }>();
  private readonly maxManagedPoliciesPerRole: number;
  private readonly eventPublisher: ReleaseEventPublisher;
  private driftEvents?: DriftEventPublisher;

  constructor(scope: Construct, id: string, props: ReleaseEngineProps = {}) {
    super(scope, id);
    const engineName = props.engineName ?? 'ecs-release';
    if (Token.isUnresolved(engineName) || !/^[a-zA-Z0-9_.-]{1,75}$/.test(engineName)) {
      throw new Error(`ReleaseEngine engineName must be a literal of 1 to 75 letters, digits, '_', '.' or '-' (it names the state machine and the registry path), got '${engineName}'`);
    }
    const reconcileSeconds = props.reconcileInterval?.toSeconds();
    if (reconcileSeconds !== undefined && (reconcileSeconds < 60 || reconcileSeconds % 60 !== 0)) {
      // EventBridge schedules run at most once a minute, in whole minutes (rate(n minutes)).
      throw new Error(`ReleasePipeline reconcileInterval must be a whole number of minutes, at least 1; got ${reconcileSeconds} s`);
    }
    const maxPolicies = props.maxManagedPoliciesPerRole ?? 10;
    if (!Number.isInteger(maxPolicies) || maxPolicies < 1 || maxPolicies > 20) {
      throw new Error(`ReleaseEngine maxManagedPoliciesPerRole must be a whole number from 1 to 20 (IAM's highest quota), got ${maxPolicies}`);
    }
    this.engineName = engineName;
    this.registryPath = registryPathOf(engineName);
    this.maxManagedPoliciesPerRole = maxPolicies;
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.reconcileInterval = props.reconcileInterval ?? Duration.minutes(5);

    // --- Notifications and dead letters -----------------------------------------------------
    this.notificationKey = new kms.Key(this, 'NotificationKey', {
      description: `Encrypts release notifications of ${engineName}`,
      enableKeyRotation: true,
      removalPolicy: this.removalPolicy,
    });
    this.notificationTopic = new sns.Topic(this, 'Notifications', {
      displayName: `Releases of ${engineName}`,
      masterKey: this.notificationKey,
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
          `${path.relative(PROJECT_ROOT, RELEASE_DEFINITION_FILE)} uses \${${placeholder}}, which ReleaseEngine cannot fill. ` +
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
      logGroupName: `/aws/vendedlogs/states/${engineName}`,
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: engineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `Blue/green and canary releases of the services registered with ${engineName}`,
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
    const eventHandlerInvoke = this.eventHandlerInvoke();
    // Engine-wide handlers: they find the services they serve in the engine's registry.
    const registry = { [REGISTRY_PATH_ENV]: this.registryPath };
    this.alarmWatcher = this.createHandler('AlarmWatcher', EVENT_HANDLERS.alarmWatcher, registry, eventHandlerInvoke);
    const cleanup = this.createHandler('Cleanup', EVENT_HANDLERS.cleanup, {}, eventHandlerInvoke);
    this.clearLockFunction = this.createHandler('ClearLock', EVENT_HANDLERS.clearLock, {});
    // Cleanup depends on events AWS delivers best effort; the reconciler's schedule does not.
    this.driftEvents = new DriftEventPublisher(this, 'DriftEvents', {
      serviceName: engineName,
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const reconcile = this.createHandler(
      'Reconcile',
      EVENT_HANDLERS.reconcile,
      { ...registry, DRIFT_EVENTS_STATE_MACHINE_ARN: this.driftEvents.stateMachine.stateMachineArn },
      eventHandlerInvoke,
    );
    new ReleaseReconciler(this, 'Reconciler', {
      serviceName: engineName,
      handler: reconcile,
      interval: this.reconcileInterval,
      deadLetterQueue: this.deadLetterQueue,
    });
    new events.Rule(this, 'ExecutionStoppedRule', {
      description:
        `A release of ${engineName} was aborted, timed out or failed: if it still holds the lock, ` +
        'roll it back and release the lock',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...CLEANUP_EXECUTION_STATUSES], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [this.functionTarget(cleanup)],
    });
    this.deadLetterAlarm = this.createDeadLetterAlarm(this.notificationKey);
    // Each registered service routes its alarms here with a rule of its own, named with the
    // engine's prefix: one permission and one dead-letter grant for all of them, so a service in
    // another stack adds nothing to this one (a reference back would be a dependency cycle).
    const alarmRules = Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: `${this.alarmRulePrefix()}*` });
    this.alarmWatcher.addPermission('InvokeFromServiceAlarmRules', {
      principal: new iam.ServicePrincipal('events.amazonaws.com'),
      sourceArn: alarmRules,
      sourceAccount: Stack.of(this).account,
    });
    this.deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
        conditions: { ArnLike: { 'aws:SourceArn': alarmRules } },
      }),
    );

    // --- Ways in ------------------------------------------------------------------------------
    new events.Rule(this, 'ReleaseRequestedRule', {
      description: `Start a release of a service of ${engineName} from a "${RELEASE_REQUESTED_DETAIL_TYPE}" event of source ${RELEASE_EVENT_SOURCE} (detail = release request)`,
      eventPattern: {
        // One source and detail-type, so `events:source` / `events:detail-type` conditions on
        // events:PutEvents decide who may start a release this way (see grantRequestRelease).
        // Any service: Plan refuses one that is not registered (ConfigNotFoundError).
        source: [RELEASE_EVENT_SOURCE],
        detailType: [RELEASE_REQUESTED_DETAIL_TYPE],
      },
      targets: [this.stateMachineTarget(events.RuleTargetInput.fromEventPath('$.detail'))],
    });
    this.api = this.createApi();

    // --- Ways out -----------------------------------------------------------------------------
    this.eventPublisher = new ReleaseEventPublisher(this, 'ReleaseEvents', {
      stateMachine: this.stateMachine,
      stateMachineName: engineName,
      topic: this.notificationTopic,
      topicKey: this.notificationKey,
      deadLetterQueue: this.deadLetterQueue,
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
  }

  /**
   * Registers `service` with the engine: every handler that holds a per-service permission gets
   * that permission on this service's resources (and nothing of another service's), in the
   * managed policies of its role. Called by `ReleasedService`; a name is registered once.
   */
  registerService(service: ServiceGrants & Construct): void {
    if (this.services.has(service.serviceName)) {
      throw new Error(`ReleaseEngine ${this.node.path}: service '${service.serviceName}' is already registered; each service is registered once`);
    }
    this.services.set(service.serviceName, service);
    for (const [id, handler] of this.handlers) this.grantServiceTo(id, handler, service);
    this.eventPublisher.grantReadApproval(this.parameterArn(`/ecs-release/${service.serviceName}/approval`));
  }

  /** The services registered so far, by name. */
  get serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** The log groups of the named engine handlers (for dashboards). */
  handlerLogGroups(ids: readonly string[]): logs.ILogGroup[] {
    return ids.flatMap((id) => {
      const handler = this.handlers.get(id);
      return handler ? [handler.fn.logGroup] : [];
    });
  }

  /**
   * Lets `grantee` start releases through the API: of `service` only (`POST /releases/<service>`),
   * or of any service (`POST /releases`, body names the service) when no service is given.
   */
  grantStartRelease(grantee: iam.IGrantable, service?: string): iam.Grant {
    return this.grantApi(grantee, service === undefined ? [['POST', '/releases'], ['POST', '/releases/*']] : [['POST', `/releases/${service}`]]);
  }

  /** Lets `grantee` read release status through the API: of `service` only, or of every service. */
  grantReadReleases(grantee: iam.IGrantable, service?: string): iam.Grant {
    return this.grantApi(grantee, service === undefined ? [['GET', '/releases/*']] : [['GET', `/releases/${service}`], ['GET', `/releases/${service}/*`]]);
  }

  /** Lets `grantee` approve or reject a waiting approval gate through the API: of `service` only, or of every service. */
  grantApproveRelease(grantee: iam.IGrantable, service?: string): iam.Grant {
    const s = service ?? '*';
    return this.grantApi(grantee, [
      ['POST', `/releases/${s}/approve`],
      ['POST', `/releases/${s}/reject`],
    ]);
  }

  /** Lets `grantee` abort a running release through the API (the cleanup handler rolls it back): of `service` only, or of every service. */
  grantAbortRelease(grantee: iam.IGrantable, service?: string): iam.Grant {
    return this.grantApi(grantee, [['POST', `/releases/${service ?? '*'}/abort`]]);
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

  /**
   * The release state machine's ARN, built from its fixed name rather than taken from the
   * resource: the state machine depends on the handlers, so their grants cannot reference it
   * (a dependency cycle), and the configuration documents need not wait for it either.
   */
  stateMachineArnFromName(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.engineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** The ARN of the SSM parameter (or hierarchy path) `name`, in the engine's stack. */
  parameterArn(name: string): string {
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      // Parameter ARNs drop the name's leading slash.
      resourceName: name.replace(/^\//, ''),
    });
  }

  /** The account's default event bus (release requests and events). */
  defaultBus(): events.IEventBus {
    const existing = this.node.tryFindChild('DefaultBus') as events.IEventBus | undefined;
    return existing ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
  }

  /**
   * Sends `alarm`'s state changes to the release topic, which CloudWatch may publish to for that
   * alarm only. Give the alarm's literal `alarmName` for an alarm in another stack.
   */
  notifyOnAlarm(alarm: cloudwatch.Alarm, alarmName?: string): void {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.notificationTopic));
    this.notificationTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.notificationTopic.topicArn],
        // From the alarm's name when it is written out: an alarm of a service in another stack
        // then adds no reference from the engine's stack to that one (which would be a cycle).
        conditions: { ArnEquals: { 'aws:SourceArn': this.alarmArnOf(alarm, alarmName) } },
      }),
    );
  }

  private alarmArnOf(alarm: cloudwatch.Alarm, alarmName: string | undefined): string {
    if (alarmName === undefined || Stack.of(alarm) === Stack.of(this)) return alarm.alarmArn;
    return Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: alarmName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }

  /** The name of `service`'s alarm rule: the engine's prefix (which its permission names), then the service. */
  alarmRuleNameOf(service: string): string {
    const name = `${this.alarmRulePrefix()}${service}`;
    if (name.length <= 64) return name;
    // EventBridge rule names are at most 64 characters: a long service name is cut and told apart by a hash.
    const hash = createHash('sha256').update(service).digest('hex').slice(0, 8);
    return `${name.slice(0, 64 - 9)}-${hash}`;
  }

  private alarmRulePrefix(): string {
    return `${this.engineName.slice(0, 30)}-alarms-`;
  }

  /**
   * The target of a service's alarm rule: the engine's alarm-watcher, with the engine's
   * dead-letter queue and retries, relying on the engine's one permission for every such rule
   * (named by {@link alarmRuleNameOf}).
   */
  alarmWatcherTarget(): events.IRuleTarget {
    return {
      bind: () => ({
        arn: this.alarmWatcher.functionArn,
        deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
        retryPolicy: { maximumRetryAttempts: 4, maximumEventAgeInSeconds: Duration.minutes(30).toSeconds() },
        targetResource: this.alarmWatcher,
      }),
    };
  }

  /** An EventBridge target that invokes `fn`, with the engine's dead-letter queue. */
  functionTarget(fn: lambda.IFunction): targets.LambdaFunction {
    return new targets.LambdaFunction(fn, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 4, maxEventAge: Duration.minutes(30) });
  }

  /** An EventBridge target that starts a release with `input`, with the engine's dead-letter queue. */
  stateMachineTarget(input: events.RuleTargetInput): targets.SfnStateMachine {
    return new targets.SfnStateMachine(this.stateMachine, { input, deadLetterQueue: this.deadLetterQueue, retryAttempts: 4, maxEventAge: Duration.hours(1) });
  }

  /** How Lambda retries an event handler's asynchronous events, and where a failed one goes. */
  eventHandlerInvoke(): Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'> {
    return {
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      // The handlers are idempotent (they act only on what the documents still say), so a retry is safe.
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    };
  }

  /**
   * A handler that belongs to one service (its console approval sync): in `scope`, with its own
   * role, granted `service`'s resources for its per-service permissions.
   */
  createServiceHandler(
    scope: Construct,
    id: string,
    spec: ReleaseHandlerSpec,
    environment: Record<string, string>,
    service: ServiceGrants,
    grantOther: (role: iam.Role, permission: HandlerPermission) => boolean,
    asyncInvoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'> = {},
  ): lambda.Function {
    const { fn, role } = this.buildFunction(scope, id, spec, environment, asyncInvoke, service.serviceName);
    for (const permission of spec.permissions) {
      if (PER_SERVICE_PERMISSIONS.has(permission)) {
        for (const statement of service.statementsFor(permission)) role.addToPrincipalPolicy(statement);
        for (const { statement, reason } of service.sharedStatementsFor(permission)) {
          role.addToPrincipalPolicy(statement);
          Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
        }
        for (const [findingId, reason] of service.policyAcknowledgements) Validations.of(role).acknowledge({ id: findingId, reason });
      } else if (!grantOther(role, permission)) {
        this.grantEnginePermission(role, permission, kebabCase(id));
      }
    }
    return fn;
  }

  private createDeadLetterAlarm(topicKey: kms.IKey): cloudwatch.Alarm {
    const service = this.engineName;
    const alarm = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmName: `${service}-dead-letters`,
      alarmDescription:
        `A release event of ${service} was not handled. If it is an execution status change, an aborted, timed-out or ` +
        'failed release could not be cleaned up: traffic may be split and the service\'s /ecs-release/<service>/lock still held. ' +
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

  private createHandler(
    id: string,
    spec: ReleaseHandlerSpec,
    environment: Record<string, string>,
    asyncInvoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'> = {},
  ): lambda.Function {
    const { fn, role } = this.buildFunction(this, id, spec, environment, asyncInvoke, this.engineName);
    for (const permission of spec.permissions) {
      // registerTaskDefinitions is both: the calls on `*` here, tagging and PassRole per service.
      if (!PER_SERVICE_PERMISSIONS.has(permission) || permission === 'registerTaskDefinitions') this.grantEnginePermission(role, permission, kebabCase(id));
    }
    const handler = { fn, role, spec };
    this.handlers.set(id, handler);
    for (const service of this.services.values()) this.grantServiceTo(id, handler, service);
    return fn;
  }

  /** A handler function with its own log group and its own role, which may write to that log group only. */
  private buildFunction(
    scope: Construct,
    id: string,
    spec: ReleaseHandlerSpec,
    environment: Record<string, string>,
    asyncInvoke: Pick<lambda.FunctionOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'>,
    owner: string,
  ): { fn: lambda.Function; role: iam.Role } {
    const name = kebabCase(id);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    // Its own role, without the managed basic-execution policy: it may write to its own log group only.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${owner} release handler ${name}`,
    });
    logGroup.grantWrite(role);
    const skipBundling = this.node.tryGetContext(SKIP_BUNDLING_CONTEXT) === true || this.node.tryGetContext(SKIP_BUNDLING_CONTEXT) === 'true';
    const entry = path.join(LAMBDAS_DIR, spec.entry);
    const common = {
      description: `${owner}: ${spec.description}`,
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
      fn = new lambda.Function(scope, id, {
        ...common,
        handler: 'index.handler',
        code: lambda.Code.fromInline(`// placeholder for ${spec.entry}: ${SKIP_BUNDLING_CONTEXT} is set\nexports.handler = async () => { throw new Error('not bundled'); };`),
      });
    } else {
      fn = new lambda.Function(scope, id, {
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
    return { fn, role };
  }

  /**
   * Grants one engine handler its per-service permissions on `service`'s resources. The
   * statements go into managed policies of that handler's role, packed by size (IAM allows
   * 6,144 characters per managed policy and, by default, 10 managed policies per role), so a
   * role's inline policy never grows with the fleet. Statements on `*` (no resource-level
   * permissions) are the same for every service: they go into the role's own policy, once.
   */
  private grantServiceTo(id: string, handler: EngineHandler, service: ServiceGrants & Construct): void {
    const permissions = handler.spec.permissions.filter((p) => PER_SERVICE_PERMISSIONS.has(p));
    if (permissions.length === 0) return;
    for (const permission of permissions) {
      for (const { statement, reason } of service.sharedStatementsFor(permission)) {
        handler.role.addToPrincipalPolicy(statement);
        Validations.of(handler.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
      }
    }
    // One statement per resource set of this service: its actions merged, never another service's resources.
    const statements = mergeByResources(permissions.flatMap((p) => service.statementsFor(p)));
    if (statements.length === 0) return;
    const size = statements.reduce((sum, statement) => sum + estimatedSize(statement), 0);
    const poolKey = `${id}@${Stack.of(service).node.path}`;
    let pool = this.pools.get(poolKey);
    if (!pool || pool.size + size > MANAGED_POLICY_BUDGET) {
      const count = pool?.policies.length ?? 0;
      const onRole = this.serviceGrantPolicies(id).length;
      if (onRole >= this.maxManagedPoliciesPerRole) {
        throw new Error(
          `ReleaseEngine ${this.node.path}: registering '${service.serviceName}' needs managed policy ${onRole + 1} on the role of ` +
            `${kebabCase(id)} (${this.maxManagedPoliciesPerRole} allowed, ${this.services.size} services registered). Raise IAM's ` +
            '"Managed policies per role" quota (up to 20) and maxManagedPoliciesPerRole with it, or split the services across two engines.',
        );
      }
      // In the scope of the service that opens it: the stack of the services it will name.
      const policy = new iam.ManagedPolicy(service, `${id}Grants${count + 1}`, {
        description: `${this.engineName} ${kebabCase(id)}: its per-service grants (part ${count + 1})`,
        // Never merged across services: each statement names one service's resources.
        document: new iam.PolicyDocument({ minimize: false }),
        roles: [handler.role],
      });
      pool = { policies: [...(pool?.policies ?? []), policy], size: 0 };
      this.pools.set(poolKey, pool);
    }
    const policy = pool.policies[pool.policies.length - 1];
    policy.addStatements(...statements);
    pool.size += size;
    for (const [findingId, reason] of service.policyAcknowledgements) Validations.of(policy).acknowledge({ id: findingId, reason });
  }

  /** The managed policies holding per-service grants of the handler `id` (for tests and capacity checks). */
  serviceGrantPolicies(id: string): readonly iam.ManagedPolicy[] {
    return [...this.pools.entries()].filter(([key]) => key.startsWith(`${id}@`)).flatMap(([, pool]) => pool.policies);
  }

  /** Grants an engine-wide permission (one whose resources are the engine's, or `*`). */
  private grantEnginePermission(role: iam.Role, permission: HandlerPermission, handler: string): void {
    const stack = Stack.of(this);
    const allow = (actions: string[], resources: string[]) => role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.engineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executionsReason =
      'Execution names are release ids chosen at run time; the wildcard covers executions of this one state machine.';
    const executionsFinding = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.engineName}:*]`;
    // Written out, not taken from the state machine: the state machine depends on these functions.
    const stateMachineArn = this.stateMachineArnFromName();
    const acknowledge = (id: string, reason: string) => Validations.of(role).acknowledge({ id, reason });
    switch (permission) {
      case 'listServices':
        // Authorised against the path asked for, not the parameters returned: a path of names only.
        allow(['ssm:GetParametersByPath'], [this.parameterArn(this.registryPath)]);
        return;
      case 'readTaskDefinitions':
        allow(['ecs:DescribeTaskDefinition'], ['*']);
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          'ecs:DescribeTaskDefinition supports no resource-level permissions (Service Authorization Reference); it is read-only.',
        );
        return;
      case 'registerTaskDefinitions':
        // The per-service part (tagging the service's family, passing its roles) comes with each service.
        allow(['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'], ['*']);
        acknowledge(
          'AwsSolutions-IAM5[Resource::*]',
          'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition support no resource-level permissions; what the ' +
            'new revision may do is bounded by iam:PassRole, which names only the registered services\' task and execution roles.',
        );
        return;
      case 'readMetrics':
        allow(['cloudwatch:GetMetricData'], ['*']);
        acknowledge('AwsSolutions-IAM5[Resource::*]', 'cloudwatch:GetMetricData supports no resource-level permissions; it is read-only.');
        return;
      case 'describeExecutions':
        allow(['states:DescribeExecution'], [executions]);
        acknowledge(executionsFinding, executionsReason);
        return;
      case 'stopExecution':
        allow(['states:StopExecution'], [executions]);
        acknowledge(executionsFinding, executionsReason);
        return;
      case 'readExecutionHistory':
        allow(['states:GetExecutionHistory'], [executions]);
        acknowledge(executionsFinding, executionsReason);
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
      case 'publishDriftEvents':
        if (!this.driftEvents) throw new Error(`Handler ${handler}: publishDriftEvents needs the drift-event publisher, created first`);
        this.driftEvents.grantPublish(role);
        return;
      case 'answerConsoleApprovals':
        throw new Error(`Handler ${handler}: answerConsoleApprovals belongs to one service's CodePipeline; its handler is the service's own`);
      default:
        if (PER_SERVICE_PERMISSIONS.has(permission)) return;
        throw new Error(`Handler ${handler}: unknown permission ${String(permission)}`);
    }
  }

  private createApi(): apigw.RestApi {
    return createReleaseApi(this, {
      name: this.engineName,
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
      createHandler: (id, spec) => this.createHandler(id, spec, { STATE_MACHINE_ARN: this.stateMachine.stateMachineArn }),
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

/**
 * Merges statements with the same resources and conditions into one listing all their actions
 * (PutParameter and DeleteParameter on the same documents, DescribeServices and UpdateService on
 * the same services): fewer characters, and still one service's resources per statement.
 */
function mergeByResources(statements: iam.PolicyStatement[]): iam.PolicyStatement[] {
  const merged = new Map<string, iam.PolicyStatement>();
  for (const statement of statements) {
    const json = statement.toStatementJson() as { Resource?: unknown; Condition?: unknown };
    const key = JSON.stringify([json.Resource, json.Condition ?? null]);
    const existing = merged.get(key);
    if (existing) existing.addActions(...statement.actions.filter((a) => !existing.actions.includes(a)));
    else merged.set(key, statement.copy());
  }
  return [...merged.values()];
}

/**
 * Estimated size, in characters once deployed (IAM counts no whitespace), of a statement: its
 * frame, its actions, its ARNs resolved (about 80 characters each; a list known only later, such
 * as the alarms, counted as 8), its condition.
 */
function estimatedSize(statement: iam.PolicyStatement): number {
  const arns = statement.resources.reduce((sum, r) => sum + (Token.isUnresolved(r) && r.startsWith('#{Token[') ? 8 : 1), 0);
  return 50 + 30 * statement.actions.length + 80 * arns + conditionSize(statement);
}

function conditionSize(statement: iam.PolicyStatement): number {
  const json = statement.toStatementJson() as { Condition?: unknown };
  return json.Condition ? 100 : 0;
}

/** Every `${Name}` in a definition, once each, in order of appearance. */
export function definitionPlaceholders(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))];
}
