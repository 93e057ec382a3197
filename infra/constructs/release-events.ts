import { ArnFormat, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES, type ReleaseEventOutcome } from '../release-event-schema';

/**
 * Release events: what a release pipeline tells the world, on the account's default event bus.
 * One schema for every event, so one rule can follow every release of every service. The schema
 * lives in `infra/release-event-schema.ts` (no CDK there, so the local environment shares it).
 *
 * - `source`: {@link RELEASE_EVENT_SOURCE}
 * - `detail-type`: one of {@link RELEASE_EVENT_TYPES}
 * - `detail`: {@link ReleaseEventDetail}
 *
 * The release state machine publishes `Release Step Passed` itself, from its PutEvents states;
 * {@link ReleaseEventPublisher} publishes every other one.
 *
 * @example
 * // Every rolled-back release of colorapp:
 * new events.Rule(this, 'RolledBack', {
 *   eventPattern: {
 *     source: [RELEASE_EVENT_SOURCE],
 *     detailType: [RELEASE_EVENT_TYPES.rolledBack],
 *     detail: { service: ['colorapp'] },
 *   },
 * });
 */
export { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../release-event-schema';
export type { ReleaseEventDetail, ReleaseEventOutcome } from '../release-event-schema';

/** The release state machine's Fail state for a release refused before anything was touched. */
const REJECTED_STATE = 'Rejected';
/** Errors that end the `Rejected` state and never a rollback: the fallback when the history is unreadable. */
const REJECTION_ERRORS = ['ValidationError', 'ConfigNotFoundError', 'AlreadyReleasedError', 'ReleaseInProgressError', 'StaleLockError'];
/** Errors after which an operator must act although the engine did all it could. */
const OPERATOR_ERRORS = ['RollbackFailedError', 'ScaleDownFailedError', 'LockReleaseFailedError'];

/** Properties of {@link ReleaseEventPublisher}. */
export interface ReleaseEventPublisherProps {
  readonly serviceName: string;
  /** The service's release dashboard in the console: every event and announcement links to it. */
  readonly dashboardUrl: string;
  /** The release state machine whose executions are reported. */
  readonly stateMachine: sfn.IStateMachine;
  /** Its name: the publisher reads the end of its executions' histories. */
  readonly stateMachineName: string;
  /** The approval document's parameter name; its creation means a gate is waiting. */
  readonly approvalParameterName: string;
  readonly approvalParameterArn: string;
  /** Where approvals and failures are announced. */
  readonly topic: sns.ITopic;
  /** The topic's key. */
  readonly topicKey: kms.IKey;
  /** Where events the publisher could not be started for go. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Turns what AWS already reports about a release (Step Functions execution status changes,
 * Parameter Store changes of the approval document) into {@link RELEASE_EVENT_TYPES} events
 * with one schema, and announces approvals and failures on the SNS topic. An Express state
 * machine with service integrations: no function code, so nothing to bundle or patch, and every
 * run is in its log.
 */
export class ReleaseEventPublisher extends Construct {
  /** The Express state machine that publishes. */
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ReleaseEventPublisherProps) {
    super(scope, id);
    const { serviceName: service, topic, dashboardUrl } = props;

    const publish = tasks.EventBridgePutEvents.jsonPath(this, 'PutReleaseEvent', {
      comment: 'One event, one schema: source ecs-release, detail-type per outcome.',
      entries: [
        {
          source: RELEASE_EVENT_SOURCE,
          detailType: sfn.JsonPath.stringAt('$.event.detailType'),
          detail: sfn.TaskInput.fromJsonPathAt('$.event.detail'),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    const notify = tasks.SnsPublish.jsonPath(this, 'Notify', {
      topic,
      subject: sfn.JsonPath.stringAt('$.event.subject'),
      message: sfn.TaskInput.fromJsonPathAt('$.event.message'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    const done = new sfn.Succeed(this, 'Done');
    publish.next(
      new sfn.Choice(this, 'Announce?')
        .when(sfn.Condition.booleanEquals('$.event.notify', true), notify.next(done))
        .otherwise(done),
    );

    /** An execution event: one detail-type, its outcome, whether people are told, and the words. */
    const fromExecution = (
      stateId: string,
      detailType: string,
      outcome: ReleaseEventOutcome,
      announce: { subject: string; what: string; withError: boolean } | null,
    ) =>
      new sfn.Pass(this, stateId, {
        parameters: {
          detailType,
          notify: announce !== null,
          subject: announce?.subject ?? '',
          message: !announce
            ? ''
            : announce.withError
              ? sfn.JsonPath.format(
                  `Release {} of ${service} ${announce.what}: {}. {} Execution: {} Dashboard: ${dashboardUrl}`,
                  sfn.JsonPath.stringAt('$.detail.name'),
                  sfn.JsonPath.stringAt('$.detail.error'),
                  sfn.JsonPath.stringAt('$.detail.cause'),
                  sfn.JsonPath.stringAt('$.detail.executionArn'),
                )
              : sfn.JsonPath.format(
                  `Release {} of ${service} ${announce.what}. Execution: {} Dashboard: ${dashboardUrl}`,
                  sfn.JsonPath.stringAt('$.detail.name'),
                  sfn.JsonPath.stringAt('$.detail.executionArn'),
                ),
          detail: {
            schemaVersion: 1,
            service,
            releaseId: sfn.JsonPath.stringAt('$.detail.name'),
            executionArn: sfn.JsonPath.stringAt('$.detail.executionArn'),
            outcome,
            status: sfn.JsonPath.stringAt('$.detail.status'),
            error: sfn.JsonPath.stringAt('$.detail.error'),
            cause: sfn.JsonPath.stringAt('$.detail.cause'),
            dashboardUrl,
            at: sfn.JsonPath.stringAt('$.time'),
          },
        },
        resultPath: '$.event',
      }).next(publish);

    const errorIs = (names: string[]) =>
      sfn.Condition.or(...names.map((name) => sfn.Condition.stringEquals('$.detail.error', name)));
    const rejected = fromExecution('Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected', {
      subject: `${service}: release rejected`,
      what: 'was rejected before anything changed',
      withError: true,
    });
    const needsOperator = fromExecution('NeedsOperator', RELEASE_EVENT_TYPES.failed, 'failed', {
      subject: `${service}: release needs an operator`,
      what: 'needs an operator',
      withError: true,
    });
    const rolledBack = fromExecution('RolledBack', RELEASE_EVENT_TYPES.rolledBack, 'rolled-back', {
      subject: `${service}: release rolled back`,
      what: 'was rolled back',
      withError: true,
    });

    // Which Fail state ended the execution decides, not the error's name: a refusal at the lock
    // (ThrottledError, StateConflictError) or a Plan that crashed ends in `Rejected` with names that
    // also end real rollbacks. A Fail state's history ends FailStateEntered, ExecutionFailed; newest
    // first, the state is the second event. Without the history (denied, throttled past the retries)
    // the names decide, as they did before.
    const endedIn = (stateName: string) =>
      sfn.Condition.and(
        sfn.Condition.isPresent('$.ending.events[1].StateEnteredEventDetails.Name'),
        sfn.Condition.stringEquals('$.ending.events[1].StateEnteredEventDetails.Name', stateName),
      );
    const howItFailed = new sfn.Choice(this, 'HowItFailed')
      .when(endedIn(REJECTED_STATE), rejected)
      .when(sfn.Condition.and(
          // Not(IsPresent) rather than IsPresent false: aws-local-stepfunctions, which runs this
          // definition in the tests, evaluates `IsPresent: false` as false whatever the input.
          sfn.Condition.not(sfn.Condition.isPresent('$.ending.events')),
          errorIs(REJECTION_ERRORS),
        ), rejected)
      .when(errorIs(OPERATOR_ERRORS), needsOperator)
      .otherwise(rolledBack);
    const readEnding = tasks.CallAwsService.jsonPath(this, 'ReadEnding', {
      comment: 'The last two history events, without data: which Fail state ended the execution.',
      service: 'sfn',
      action: 'getExecutionHistory',
      parameters: {
        ExecutionArn: sfn.JsonPath.stringAt('$.detail.executionArn'),
        ReverseOrder: true,
        MaxResults: 2,
        IncludeExecutionData: false,
      },
      iamAction: 'states:GetExecutionHistory',
      iamResources: [Stack.of(this).formatArn({ service: 'states', resource: 'execution', resourceName: `${props.stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      resultSelector: { 'events.$': '$.Events' },
      resultPath: '$.ending',
    });
    readEnding.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
    readEnding.addCatch(howItFailed, { errors: ['States.ALL'], resultPath: '$.endingUnknown' });
    readEnding.next(howItFailed);

    const byStatus = new sfn.Choice(this, 'ByStatus')
      .when(
        sfn.Condition.stringEquals('$.detail.status', 'RUNNING'),
        fromExecution('Started', RELEASE_EVENT_TYPES.started, 'started', null),
      )
      .when(
        sfn.Condition.stringEquals('$.detail.status', 'SUCCEEDED'),
        fromExecution('Promoted', RELEASE_EVENT_TYPES.promoted, 'promoted', null),
      )
      .when(sfn.Condition.stringEquals('$.detail.status', 'FAILED'), readEnding)
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.detail.status', 'ABORTED'),
          sfn.Condition.stringEquals('$.detail.status', 'TIMED_OUT'),
        ),
        fromExecution('Stopped', RELEASE_EVENT_TYPES.stopped, 'stopped', {
          subject: `${service}: release stopped`,
          what: 'was stopped from outside; the cleanup handler rolls it back',
          withError: false,
        }),
      )
      .otherwise(new sfn.Succeed(this, 'OtherStatus'));

    // Status events carry `error` and `cause` only when there is one: default both to null, so
    // every branch can use them and a missing field never loses an event.
    const withDefaults = new sfn.Pass(this, 'DefaultErrorAndCause', {
      result: sfn.Result.fromObject({ error: null, cause: null }),
      resultPath: '$.defaults',
    }).next(
      new sfn.Pass(this, 'Normalize', {
        parameters: {
          time: sfn.JsonPath.stringAt('$.time'),
          detail: sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.defaults'), sfn.JsonPath.objectAt('$.detail')),
        },
      }).next(byStatus),
    );

    // Approval: the event only says the parameter changed; the document says which release and gate.
    const readApproval = tasks.CallAwsService.jsonPath(this, 'ReadApproval', {
      service: 'ssm',
      action: 'getParameter',
      parameters: { Name: props.approvalParameterName },
      iamResources: [props.approvalParameterArn],
      iamAction: 'ssm:GetParameter',
      resultSelector: { 'document.$': 'States.StringToJson($.Parameter.Value)' },
      resultPath: '$.approval',
    });
    const approvalEvent = new sfn.Pass(this, 'ApprovalRequested', {
      parameters: {
        detailType: RELEASE_EVENT_TYPES.approvalRequested,
        notify: true,
        subject: `${service}: release waits for approval`,
        message: sfn.JsonPath.format(
          `Release {} of ${service} waits at the {} gate until {}. ` +
            `Approve with POST /releases/${service}/approve or reject with POST /releases/${service}/reject (IAM-signed), ` +
            `or ecs-release approve|reject --service ${service}. Dashboard: ${dashboardUrl}`,
          sfn.JsonPath.stringAt('$.approval.document.releaseId'),
          sfn.JsonPath.stringAt('$.approval.document.gate'),
          sfn.JsonPath.stringAt('$.approval.document.expiresAt'),
        ),
        detail: {
          schemaVersion: 1,
          service,
          releaseId: sfn.JsonPath.stringAt('$.approval.document.releaseId'),
          executionArn: sfn.JsonPath.stringAt('$.approval.document.executionArn'),
          outcome: 'approval-requested',
          status: null,
          error: null,
          cause: null,
          gate: sfn.JsonPath.stringAt('$.approval.document.gate'),
          expiresAt: sfn.JsonPath.stringAt('$.approval.document.expiresAt'),
          dashboardUrl,
          at: sfn.JsonPath.stringAt('$.time'),
        },
      },
      resultPath: '$.event',
    });
    // The gate may already have been answered (and its document deleted) when this runs.
    readApproval.addCatch(new sfn.Succeed(this, 'ApprovalAlreadyAnswered'), { errors: ['States.ALL'] });
    readApproval.next(approvalEvent.next(publish));

    const definition = new sfn.Choice(this, 'Classify')
      .when(sfn.Condition.stringEquals('$.source', 'aws.ssm'), readApproval)
      .when(sfn.Condition.stringEquals('$.source', 'aws.states'), withDefaults)
      .otherwise(new sfn.Succeed(this, 'NotAReleaseEvent'));

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.EXPRESS,
      comment: `Publishes the release events of ${service}`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.minutes(1),
      tracingEnabled: true,
      // Every transition is logged, but not the data: the approval document it reads holds the
      // gate's task token, which has no business in a log.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${props.stateMachineName}:*]`,
      reason: 'Execution names are release ids chosen at run time; the wildcard covers executions of this one state machine (GetExecutionHistory, read-only).',
    });
    // Publishing to an encrypted topic needs the key as well as sns:Publish.
    props.topicKey.grant(this.stateMachine, 'kms:GenerateDataKey', 'kms:Decrypt');
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray (xray:PutTraceSegments and related) ' +
        'support no resource-level permissions; CDK adds exactly those actions on *.',
    });

    const target = new targets.SfnStateMachine(this.stateMachine, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    });
    new events.Rule(this, 'ExecutionStatusRule', {
      description: `Release events of ${service}: status changes of its release executions`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [target],
    });
    new events.Rule(this, 'ApprovalRequestedRule', {
      description: `Release events of ${service}: an approval gate started waiting`,
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['Parameter Store Change'],
        detail: { name: [props.approvalParameterName], operation: ['Create', 'Update'] },
      },
      targets: [target],
    });
  }
}
