import '../support/polyfills';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  RELEASE_EVENT_SOURCE,
  RELEASE_EVENT_TYPES,
  type ReleaseEventDetail,
  ReleaseEventPublisher,
} from '../../infra/constructs/release-events';
import { dashboardUrlOf } from '../../lambdas/shared/console-links';
import { flattenIntrinsics, newApp } from './support/synth';

const DASHBOARD_URL = dashboardUrlOf('eu-west-1', 'colorapp');

/**
 * The release-event publisher's definition, run by aws-local-stepfunctions with its three AWS
 * calls replaced: what an execution status change or an approval document turns into.
 */
const app = newApp({ bundle: false });
// In a known region, as the dashboard links in the events are built from it.
const stack = new Stack(app, 'Events', { env: { region: 'eu-west-1', account: '111122223333' } });
const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
const publisher = new ReleaseEventPublisher(stack, 'Publisher', {
  stateMachine: sfn.StateMachine.fromStateMachineName(stack, 'Release', 'ecs-release-colorapp'),
  stateMachineName: 'ecs-release-colorapp',
  topic: new sns.Topic(stack, 'Topic', { masterKey: key }),
  topicKey: key,
  deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
  logRetention: logs.RetentionDays.ONE_DAY,
  removalPolicy: RemovalPolicy.DESTROY,
});
// One engine's publisher serves every service: each registered service lets it read its approval document.
publisher.grantReadApproval('arn:aws:ssm:eu-west-1:111122223333:parameter/ecs-release/colorapp/approval');
const template = Template.fromStack(stack);
const [machineResource] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{
  Properties: { DefinitionString: unknown };
}>;
const definition = JSON.parse(String(flattenIntrinsics(machineResource.Properties.DefinitionString)).split('<Ref:AWS::Partition>').join('aws'));
const machine = new StateMachine(definition);

interface Published {
  events: Array<{ Source: string; DetailType: string; Detail: ReleaseEventDetail }>;
  notifications: Array<{ Subject: string; Message: string }>;
}

/** The newest two history events of an execution that ended in the Fail state `name`. */
function endedInFailState(name: string) {
  return [
    { Id: 31, Type: 'ExecutionFailed', ExecutionFailedEventDetails: { Error: 'ThrottledError' } },
    { Id: 30, Type: 'FailStateEntered', StateEnteredEventDetails: { Name: name } },
  ];
}
/** The newest two history events of an execution whose task failed and nothing caught it. */
const endedByAnUncaughtError = [
  { Id: 12, Type: 'ExecutionFailed', ExecutionFailedEventDetails: { Error: 'States.Runtime' } },
  { Id: 11, Type: 'TaskStateExited', StateExitedEventDetails: { Name: 'Rollback' } },
];

async function publish(event: object, approvalDocument?: object | Error, history: object[] | Error = endedByAnUncaughtError): Promise<Published> {
  const published: Published = { events: [], notifications: [] };
  const historyRequests: unknown[] = [];
  const execution = machine.run(event as never, {
    overrides: {
      retryIntervalOverrides: { ReadEnding: 0 },
      taskResourceLocalHandlers: {
        ReadEnding: async (input: unknown) => {
          historyRequests.push(input);
          if (history instanceof Error) throw history;
          return { Events: history };
        },
        PutReleaseEvent: async (input: { Entries: Published['events'] }) => {
          published.events.push(...input.Entries);
          return { Entries: [{ EventId: '1' }], FailedEntryCount: 0 };
        },
        Notify: async ({ Subject, Message }: Published['notifications'][number]) => {
          published.notifications.push({ Subject, Message });
          return { MessageId: '1' };
        },
        ReadApproval: async () => {
          if (approvalDocument instanceof Error) throw approvalDocument;
          return { Parameter: { Value: JSON.stringify(approvalDocument) } };
        },
      } as never,
    },
  });
  await execution.result;
  // Only as much history as the decision needs, and never the data (task tokens live there).
  for (const request of historyRequests) {
    expect(request).toEqual({ ExecutionArn: executionArn, ReverseOrder: true, MaxResults: 2, IncludeExecutionData: false });
  }
  return published;
}

const executionArn = 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release-colorapp:rel-42';
function statusChange(detail: Record<string, unknown>) {
  return {
    version: '0',
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    time: '2026-03-01T12:00:00Z',
    detail: {
      executionArn,
      stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:ecs-release-colorapp',
      name: 'rel-42',
      startDate: 1,
      input: '{"service":"colorapp","image":"repo/colorapp:v2"}',
      ...detail,
    },
  };
}

describe('release events', () => {
  it('a running execution is "Release Started", with null error fields and the dashboard link, and tells nobody', async () => {
    const { events, notifications } = await publish(statusChange({ status: 'RUNNING' }));
    expect(events).toEqual([
      {
        Source: RELEASE_EVENT_SOURCE,
        DetailType: RELEASE_EVENT_TYPES.started,
        Detail: {
          schemaVersion: 1,
          service: 'colorapp',
          releaseId: 'rel-42',
          executionArn,
          outcome: 'started',
          status: 'RUNNING',
          error: null,
          cause: null,
          dashboardUrl: DASHBOARD_URL,
          at: '2026-03-01T12:00:00Z',
        },
      },
    ]);
    expect(notifications).toEqual([]);
  });

  it('a succeeded execution is "Release Promoted"', async () => {
    const { events, notifications } = await publish(statusChange({ status: 'SUCCEEDED', error: null, cause: null }));
    expect(events.map((e) => [e.DetailType, e.Detail.outcome])).toEqual([[RELEASE_EVENT_TYPES.promoted, 'promoted']]);
    expect(notifications).toEqual([]);
  });

  it('a failure after rollback is "Release Rolled Back", announced with the error and its cause', async () => {
    const cause = 'colorapp-green-success-rate went to ALARM during step 2 (50% on green)';
    const { events, notifications } = await publish(statusChange({ status: 'FAILED', error: 'AlarmTriggeredError', cause }));
    expect(events.map((e) => [e.DetailType, e.Detail.error, e.Detail.cause])).toEqual([
      [RELEASE_EVENT_TYPES.rolledBack, 'AlarmTriggeredError', cause],
    ]);
    expect(notifications).toEqual([
      {
        Subject: 'colorapp: release rolled back',
        Message: `Release rel-42 of colorapp was rolled back: AlarmTriggeredError. ${cause} Execution: ${executionArn} Dashboard: ${DASHBOARD_URL}`,
      },
    ]);
  });

  it.each([
    ['ReleaseInProgressError', 'Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected'],
    ['ValidationError', 'Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected'],
    // A refusal at the lock and a failed rollback step share these names: the Fail state decides.
    ['ThrottledError', 'Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected'],
    ['StateConflictError', 'Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected'],
    ['Lambda.Unknown', 'Rejected', RELEASE_EVENT_TYPES.rejected, 'rejected'],
    ['ThrottledError', 'RolledBack', RELEASE_EVENT_TYPES.rolledBack, 'rolled-back'],
    ['StateConflictError', 'RolledBack', RELEASE_EVENT_TYPES.rolledBack, 'rolled-back'],
    ['RollbackFailedError', 'RollbackFailed', RELEASE_EVENT_TYPES.failed, 'failed'],
    ['ScaleDownFailedError', 'ScaleDownFailed', RELEASE_EVENT_TYPES.failed, 'failed'],
  ])('a failure with %s ending in the Fail state %s is "%s"', async (error, failState, detailType, outcome) => {
    const { events, notifications } = await publish(statusChange({ status: 'FAILED', error, cause: 'why' }), undefined, endedInFailState(failState));
    expect(events.map((e) => [e.DetailType, e.Detail.outcome, e.Detail.error])).toEqual([[detailType, outcome, error]]);
    expect(notifications).toHaveLength(1);
  });

  it.each([
    ['ReleaseInProgressError', RELEASE_EVENT_TYPES.rejected],
    ['StaleLockError', RELEASE_EVENT_TYPES.rejected],
    ['RollbackFailedError', RELEASE_EVENT_TYPES.failed],
    ['AlarmTriggeredError', RELEASE_EVENT_TYPES.rolledBack],
  ])('with the history unreadable, %s is still published, as "%s" by its name', async (error, detailType) => {
    const denied = Object.assign(new Error('not authorized'), { name: 'Sfn.SfnException' });
    const { events } = await publish(statusChange({ status: 'FAILED', error, cause: 'why' }), undefined, denied);
    expect(events.map((e) => e.DetailType)).toEqual([detailType]);
  });

  it('may read the history of the release state machine\'s executions only', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => (policy as { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } } }).Properties.PolicyDocument.Statement,
    );
    const reads = statements.filter((statement) => [statement.Action].flat().includes('states:GetExecutionHistory'));
    expect(reads).toHaveLength(1);
    expect(reads[0].Action).toBe('states:GetExecutionHistory');
    expect(JSON.stringify(reads[0].Resource)).toMatch(/:execution:ecs-release-colorapp:\*"/);
  });

  it('the Fail state it looks for is the release state machine\'s refusal', () => {
    const asl = JSON.parse(readFileSync(join(__dirname, '../../statemachines/release.asl.json'), 'utf8')) as { States: Record<string, { Type: string; Comment?: string }> };
    expect(asl.States.Rejected).toMatchObject({ Type: 'Fail' });
    // Every Catch into it is a refusal before anything was touched: Plan and AcquireLock only.
    const into = Object.entries(asl.States).filter(([, state]) => JSON.stringify((state as { Catch?: unknown }).Catch ?? []).includes('"Next":"Rejected"'));
    expect(into.map(([name]) => name).sort()).toEqual(['AcquireLock', 'Plan']);
  });

  it.each(['ABORTED', 'TIMED_OUT'])('an execution %s from outside is "Release Stopped", announced', async (status) => {
    const { events, notifications } = await publish(statusChange({ status, error: null, cause: null }));
    expect(events.map((e) => [e.DetailType, e.Detail.status, e.Detail.error])).toEqual([[RELEASE_EVENT_TYPES.stopped, status, null]]);
    expect(notifications).toEqual([
      {
        Subject: 'colorapp: release stopped',
        Message: `Release rel-42 of colorapp was stopped from outside; the cleanup handler rolls it back. Execution: ${executionArn} Dashboard: ${DASHBOARD_URL}`,
      },
    ]);
  });

  it('a new approval document is "Release Approval Requested", announced with how to answer it', async () => {
    const approval = {
      service: 'colorapp',
      releaseId: 'rel-42',
      executionArn,
      taskToken: 'secret-token',
      gate: 'before-promote',
      requestedAt: '2026-03-01T12:00:00Z',
      expiresAt: '2026-03-01T13:00:00Z',
    };
    const { events, notifications } = await publish(
      {
        source: 'aws.ssm',
        'detail-type': 'Parameter Store Change',
        time: '2026-03-01T12:00:01Z',
        detail: { name: '/ecs-release/colorapp/approval', operation: 'Create', type: 'String' },
      },
      approval,
    );
    expect(events).toHaveLength(1);
    expect(events[0].DetailType).toBe(RELEASE_EVENT_TYPES.approvalRequested);
    expect(events[0].Detail).toMatchObject({
      releaseId: 'rel-42',
      gate: 'before-promote',
      expiresAt: approval.expiresAt,
      outcome: 'approval-requested',
      dashboardUrl: DASHBOARD_URL,
    });
    // The task token is what approves; it must not travel in events or e-mails.
    expect(JSON.stringify({ events, notifications })).not.toContain('secret-token');
    expect(notifications[0].Message).toContain('POST /releases/colorapp/approve');
    expect(notifications[0].Message).toContain(`Dashboard: ${DASHBOARD_URL}`);
    expect(notifications[0].Subject).toBe('colorapp: release waits for approval');
  });

  it("names each event's service from the execution's own input: one publisher serves every service of the engine", async () => {
    const { events, notifications } = await publish(
      statusChange({ status: 'ABORTED', input: '{"service":"orders","image":"repo/orders:v2"}' }),
    );
    expect(events[0].Detail).toMatchObject({ service: 'orders', dashboardUrl: dashboardUrlOf('eu-west-1', 'orders') });
    expect(notifications[0].Subject).toBe('orders: release stopped');
  });

  it('reads only the approval documents of the registered services, never a wildcard', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } } }).Properties.PolicyDocument.Statement,
    );
    expect(statements.filter((s) => s.Action === 'ssm:GetParameter').map((s) => s.Resource)).toEqual([
      'arn:aws:ssm:eu-west-1:111122223333:parameter/ecs-release/colorapp/approval',
    ]);
  });

  it('an approval answered before the publisher read it publishes nothing', async () => {
    const gone = Object.assign(new Error('Parameter not found'), { name: 'Ssm.ParameterNotFoundException' });
    const published = await publish(
      { source: 'aws.ssm', 'detail-type': 'Parameter Store Change', time: 't', detail: { name: '/ecs-release/colorapp/approval', operation: 'Update' } },
      gone,
    );
    expect(published).toEqual({ events: [], notifications: [] });
  });
});
