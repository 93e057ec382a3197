import { ArnFormat, Aws, Duration, Lazy, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
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
  /** The release state machine whose executions are reported (of every service of its engine). */
  readonly stateMachine: sfn.IStateMachine;
  /** Its name: the publisher reads the end of its executions' histories. */
  readonly stateMachineName: string;
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
  /** Approval documents it may read, one per registered service. */
  private readonly approvalParameterArns: string[] = [];

  constructor(scope: Construct, id: string, props: ReleaseEventPublisherProps) {
    super(scope, id);
    const { topic } = props;
    const region = Stack.of(this).region;
    // Which service an event is about is read from the event itself (the execution's input, the
    // approval document), so one publisher serves every service of the engine. The dashboard
    // link is built as dashboardUrlOf builds it.
    const dashboardUrlAt = (servicePath: string) =>
      sfn.JsonPath.format(
        `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/ecs-release-{}`,
        sfn.JsonPath.stringAt(servicePath),
      );

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
          subject: announce ? sfn.JsonPath.format(`{}: ${announce.subject}`, sfn.JsonPath.stringAt('$.service')) : '',
          message: !announce
            ? ''
            : announce.withError
              ? sfn.JsonPath.format(
                  `Release {} of {} ${announce.what}: {}. {} Execution: {} Dashboard: {}`,
                  sfn.JsonPath.stringAt('$.detail.name'),
                  sfn.JsonPath.stringAt('$.service'),
                  sfn.JsonPath.stringAt('$.detail.error'),
                  sfn.JsonPath.stringAt('$.detail.cause'),
                  sfn.JsonPath.stringAt('$.detail.executionArn'),
                  sfn.JsonPath.stringAt('$.dashboardUrl'),
                )
              : sfn.JsonPath.format(
                  `Release {} of {} ${announce.what}. Execution: {} Dashboard: {}`,
                  sfn.JsonPath.stringAt('$.detail.name'),
                  sfn.JsonPath.stringAt('$.service'),
                  sfn.JsonPath.stringAt('$.detail.executionArn'),
                  sfn.JsonPath.stringAt('$.dashboardUrl'),
                ),
          detail: {
            schemaVersion: 1,
            service: sfn.JsonPath.stringAt('$.service'),
            releaseId: sfn.JsonPath.stringAt('$.detail.name'),
            executionArn: sfn.JsonPath.stringAt('$.detail.executionArn'),
            outcome,
            status: sfn.JsonPath.stringAt('$.detail.status'),
            error: sfn.JsonPath.stringAt('$.detail.error'),
            cause: sfn.JsonPath.stringAt('$.detail.cause'),
            dashboardUrl: sfn.JsonPath.stringAt('$.dashboardUrl'),
            at: sfn.JsonPath.stringAt('$.time'),
          },
        },
        resultPath: '$.event',
      }).next(publish);

    const errorIs = (names: string[]) =>
      sfn.Condition.or(...names.map((name) => sfn.Condition.stringEquals('$.detail.error', name)));
    const rejected = fromExecution('Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected', {
      subject: 'release rejected',
      what: 'was rejected before anything changed',
      withError: true,
    });
    const needsOperator = fromExecution('NeedsOperator', RELEASE_EVENT_TYPES.failed, 'failed', {
      subject: 'release needs an operator',
      what: 'needs an operator',
      withError: true,
    });
    const rolledBack = fromExecution('RolledBack', RELEASE_EVENT_TYPES.rolledBack, 'rolled-back', {
      subject: 'release rolled back',
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
          subject: 'release stopped',
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
          request: sfn.JsonPath.stringToJson(sfn.JsonPath.stringAt('$.detail.input')),
        },
      }).next(
        // The release request names the service; one that does not (Plan rejects it) is still reported.
        new sfn.Choice(this, 'NamesAService?')
          .when(
            sfn.Condition.and(sfn.Condition.isPresent('$.request.service'), sfn.Condition.isString('$.request.service')),
            new sfn.Pass(this, 'ServiceFromRequest', {
              parameters: {
                time: sfn.JsonPath.stringAt('$.time'),
                detail: sfn.JsonPath.objectAt('$.detail'),
                service: sfn.JsonPath.stringAt('$.request.service'),
                dashboardUrl: dashboardUrlAt('$.request.service'),
              },
            }).next(byStatus),
          )
          .otherwise(
            new sfn.Pass(this, 'NoServiceInRequest', {
              parameters: {
                time: sfn.JsonPath.stringAt('$.time'),
                detail: sfn.JsonPath.objectAt('$.detail'),
                service: '(none)',
                dashboardUrl: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards`,
              },
            }).next(byStatus),
          ),
      ),
    );

    // Approval: the event only says the parameter changed; the document says which release and gate.
    // The SDK integration written out, so that its IAM is exactly the approval documents of the
    // registered services (grantReadApproval), never a wildcard over every service's documents.
    const readApproval = new sfn.CustomState(this, 'ReadApproval', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::aws-sdk:ssm:getParameter`,
        Parameters: { 'Name.$': '$.detail.name' },
        ResultSelector: { 'document.$': 'States.StringToJson($.Parameter.Value)' },
        ResultPath: '$.approval',
      },
    });
    const approvalEvent = new sfn.Pass(this, 'ApprovalRequested', {
      parameters: {
        detailType: RELEASE_EVENT_TYPES.approvalRequested,
        notify: true,
        subject: sfn.JsonPath.format('{}: release waits for approval', sfn.JsonPath.stringAt('$.approval.document.service')),
        message: sfn.JsonPath.format(
          'Release {} of {} waits at the {} gate until {}. ' +
            'Approve with POST /releases/{}/approve or reject with POST /releases/{}/reject (IAM-signed), ' +
            'or ecs-release approve|reject --service {}. Dashboard: {}',
          sfn.JsonPath.stringAt('$.approval.document.releaseId'),
          sfn.JsonPath.stringAt('$.approval.document.service'),
          sfn.JsonPath.stringAt('$.approval.document.gate'),
          sfn.JsonPath.stringAt('$.approval.document.expiresAt'),
          sfn.JsonPath.stringAt('$.approval.document.service'),
          sfn.JsonPath.stringAt('$.approval.document.service'),
          sfn.JsonPath.stringAt('$.approval.document.service'),
          dashboardUrlAt('$.approval.document.service'),
        ),
        detail: {
          schemaVersion: 1,
          service: sfn.JsonPath.stringAt('$.approval.document.service'),
          releaseId: sfn.JsonPath.stringAt('$.approval.document.releaseId'),
          executionArn: sfn.JsonPath.stringAt('$.approval.document.executionArn'),
          outcome: 'approval-requested',
          status: null,
          error: null,
          cause: null,
          gate: sfn.JsonPath.stringAt('$.approval.document.gate'),
          expiresAt: sfn.JsonPath.stringAt('$.approval.document.expiresAt'),
          dashboardUrl: dashboardUrlAt('$.approval.document.service'),
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
      comment: `Publishes the release events of ${props.stateMachineName}`,
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
      description: `Release events of ${props.stateMachineName}: status changes of its release executions`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [target],
    });
    new events.Rule(this, 'ApprovalRequestedRule', {
      description: `Release events of ${props.stateMachineName}: an approval gate of one of its services started waiting`,
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['Parameter Store Change'],
        // Any service's gate: the approval documents are the only parameters named so.
        detail: { name: events.Match.wildcard('/ecs-release/*/approval'), operation: ['Create', 'Update'] },
      },
      targets: [target],
    });
  }

  /** Lets the publisher read one registered service's approval document (a gate opened). */
  grantReadApproval(approvalParameterArn: string): void {
    if (this.approvalParameterArns.length === 0) {
      // One statement, listing every registered service's document (added before synthesis).
      this.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: Lazy.list({ produce: () => this.approvalParameterArns }) }),
      );
    }
    this.approvalParameterArns.push(approvalParameterArn);
  }
}
