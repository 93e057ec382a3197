import { CodePipelineClient, GetPipelineStateCommand, type GetPipelineStateCommandOutput, PutApprovalResultCommand } from '@aws-sdk/client-codepipeline';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { type ConsoleGate, decideConsoleSync, type ReleaseFacts, type ReleaseStageState } from '../../lambdas/shared/console-approvals';
import { ActionStateChangeSchema, handler } from '../../lambdas/sync-console-approvals';

const codepipeline = mockClient(CodePipelineClient);
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);

const ACTION_EXECUTION_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const RELEASE_ID = `pipeline-${ACTION_EXECUTION_ID}`;
const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ecs-release-colorapp';
const EXECUTION_ARN = `arn:aws:states:eu-west-1:111122223333:execution:ecs-release-colorapp:${RELEASE_ID}`;
const TOKEN = '1a2b3c4d-573f-4ea7-a67e-000000000000';

/**
 * The shape of AWS's sample "CodePipeline Action Execution State Change" event ("Monitoring
 * CodePipeline events", CodePipeline user guide), for the manual approval of a gate.
 */
const ACTION_EVENT = {
  version: '0',
  id: 'e1f2',
  'detail-type': 'CodePipeline Action Execution State Change',
  source: 'aws.codepipeline',
  account: '111122223333',
  time: '2026-12-03T10:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:codepipeline:eu-west-1:111122223333:colorapp-release'],
  detail: {
    pipeline: 'colorapp-release',
    'execution-id': '0c1d2e3f-0000-4000-8000-00000000abcd',
    stage: 'Release',
    action: 'ApprovePromotion',
    state: 'SUCCEEDED',
    region: 'eu-west-1',
    type: { owner: 'AWS', provider: 'Manual', category: 'Approval', version: '1' },
    version: 3,
  },
};

function gate(overrides: Partial<ConsoleGate> = {}): ConsoleGate {
  return { gate: 'before-promote', actionName: 'ApprovePromotion', status: 'InProgress', token: TOKEN, summary: null, lastUpdatedBy: null, ...overrides };
}
function stage(g: ConsoleGate = gate()): ReleaseStageState {
  return { pipelineExecutionId: 'p-1', releaseId: RELEASE_ID, gates: [g] };
}
function facts(overrides: Partial<ReleaseFacts> = {}): ReleaseFacts {
  return { releaseId: RELEASE_ID, status: 'RUNNING', error: null, cause: null, waitingGate: null, answered: {}, ...overrides };
}

describe('decideConsoleSync', () => {
  it.each<[string, ConsoleGate, Partial<ReleaseFacts>, object]>([
    ['approved in the console while the gate waits: approve the gate, naming the approver',
      gate({ status: 'Succeeded', token: null, lastUpdatedBy: 'arn:aws:iam::111122223333:user/bob', summary: 'looks good' }), { waitingGate: 'before-promote' },
      { kind: 'answer-gate', answer: 'approve', by: 'arn:aws:iam::111122223333:user/bob in the CodePipeline console', reason: 'looks good' }],
    ['rejected in the console while the gate waits: reject the gate (rollback)',
      gate({ status: 'Failed', token: null, lastUpdatedBy: 'bob', summary: 'not today' }), { waitingGate: 'before-promote' },
      { kind: 'answer-gate', answer: 'reject', reason: 'not today' }],
    ['approved in the console before the release reached the gate: nothing yet (applied when the gate opens)',
      gate({ status: 'Succeeded', token: null }), { waitingGate: null }, { kind: 'none' }],
    ['waiting in the console, answered by ecs-release approve: close it approved, naming who',
      gate(), { answered: { 'before-promote': { answer: 'approved', by: 'arn:aws:iam::111122223333:user/alice', reason: null } } },
      { kind: 'close-console', status: 'Approved', summary: expect.stringContaining('approved by arn:aws:iam::111122223333:user/alice') }],
    ['waiting in the console, release rolled back before the gate: close it rejected, saying why',
      gate(), { status: 'FAILED', error: 'AlarmTriggeredError' },
      { kind: 'close-console', status: 'Rejected', summary: expect.stringMatching(/ended FAILED \(AlarmTriggeredError\) before this gate was answered/) }],
    ['waiting in the console, release rejected by the CLI: close it rejected with the rejection',
      gate(), { status: 'FAILED', error: 'ApprovalRejectedError', cause: 'Rejected by alice: not during the sale' },
      { kind: 'close-console', status: 'Rejected', summary: expect.stringContaining('Rejected by alice: not during the sale') }],
    ['waiting in the console, release aborted: close it rejected', gate(), { status: 'ABORTED' },
      { kind: 'close-console', status: 'Rejected', summary: expect.stringContaining('ended ABORTED') }],
    ['waiting in the console, release promoted without the gate: close it approved', gate(), { status: 'SUCCEEDED' },
      { kind: 'close-console', status: 'Approved', summary: expect.stringContaining('promoted without stopping at this gate') }],
    ['waiting in the console, release running, gate not reached: nothing', gate(), {}, { kind: 'none' }],
  ])('%s', (_name, console, release, expected) => {
    expect(decideConsoleSync(stage(console), facts(release))).toEqual([expect.objectContaining({ gate: 'before-promote', ...expected })]);
  });

  it('does nothing for another release than the one the stage runs', () => {
    expect(decideConsoleSync(stage(), facts({ releaseId: 'pipeline-other', status: 'FAILED' }))).toEqual([expect.objectContaining({ kind: 'none' })]);
  });
});

function pipelineState(approval: { status: string; token?: string; summary?: string; lastUpdatedBy?: string }): GetPipelineStateCommandOutput {
  return {
    $metadata: {},
    pipelineName: 'colorapp-release',
    stageStates: [
      { stageName: 'Source', latestExecution: { pipelineExecutionId: 'p-1', status: 'Succeeded' } },
      {
        stageName: 'Release',
        latestExecution: { pipelineExecutionId: 'p-1', status: 'InProgress' },
        actionStates: [
          { actionName: 'Release', latestExecution: { actionExecutionId: ACTION_EXECUTION_ID, status: 'InProgress' } },
          { actionName: 'ApprovePromotion', latestExecution: approval },
        ],
      },
    ],
  } as unknown as GetPipelineStateCommandOutput;
}

function approvalParameter() {
  const document = { releaseId: RELEASE_ID, executionArn: EXECUTION_ARN, taskToken: 'sfn-token', gate: 'before-promote', requestedAt: '2026-12-03T09:59:00.000Z', expiresAt: '2026-12-03T10:14:00.000Z' };
  return { Parameter: { Name: '/ecs-release/colorapp/approval', Value: JSON.stringify(document) } };
}

beforeEach(() => {
  codepipeline.reset();
  sfn.reset();
  ssm.reset();
  process.env.SERVICE_NAME = 'colorapp';
  process.env.PIPELINE_NAME = 'colorapp-release';
  process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
  process.env.CONSOLE_GATES = 'before-promote';
});

describe('sync-console-approvals handler', () => {
  it('accepts AWS\'s documented action state change event for a manual approval', () => {
    expect(ActionStateChangeSchema.safeParse(ACTION_EVENT).success).toBe(true);
  });

  it('approves the waiting gate when the console approved it, through the same code as ecs-release approve', async () => {
    codepipeline.on(GetPipelineStateCommand).resolves(pipelineState({ status: 'Succeeded', summary: 'ship it', lastUpdatedBy: 'arn:aws:iam::111122223333:user/bob' }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    ssm.on(GetParameterCommand).resolves(approvalParameter());
    sfn.on(SendTaskSuccessCommand).resolves({});

    const result = await handler(ACTION_EVENT);

    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'sfn-token' });
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.output!);
    expect(output.approvedBy).toBe('arn:aws:iam::111122223333:user/bob in the CodePipeline console');
    expect(ssm).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: '/ecs-release/colorapp/approval' });
    expect(result.decisions).toEqual([expect.objectContaining({ kind: 'answer-gate', outcome: 'gate-answered' })]);
    expect(codepipeline).not.toHaveReceivedCommand(PutApprovalResultCommand);
  });

  it('rejects the waiting gate (which rolls back) when the console rejected it', async () => {
    codepipeline.on(GetPipelineStateCommand).resolves(pipelineState({ status: 'Failed', summary: 'error budget spent', lastUpdatedBy: 'bob' }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    ssm.on(GetParameterCommand).resolves(approvalParameter());
    sfn.on(SendTaskFailureCommand).resolves({});

    await handler({ ...ACTION_EVENT, detail: { ...ACTION_EVENT.detail, state: 'FAILED' } });

    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'sfn-token',
      error: 'ApprovalRejectedError',
      cause: 'Rejected by bob in the CodePipeline console: error budget spent',
    });
  });

  it('closes the console approval with who answered when ecs-release approve answered the gate first', async () => {
    codepipeline.on(GetPipelineStateCommand).resolves(pipelineState({ status: 'InProgress', token: TOKEN }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'gone', $metadata: {} }));
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 40,
          type: 'TaskStateExited',
          timestamp: new Date(),
          stateExitedEventDetails: { name: 'ApprovePromotion', output: JSON.stringify({ approval: { approvedBy: 'arn:aws:iam::111122223333:user/alice', at: 't' } }) },
        },
      ],
    });
    codepipeline.on(PutApprovalResultCommand).resolves({});

    await handler({ source: 'aws.ssm', 'detail-type': 'Parameter Store Change', detail: { name: '/ecs-release/colorapp/approval', operation: 'Delete' } });

    expect(codepipeline).toHaveReceivedCommandWith(PutApprovalResultCommand, {
      pipelineName: 'colorapp-release',
      stageName: 'Release',
      actionName: 'ApprovePromotion',
      token: TOKEN,
      result: { status: 'Approved', summary: expect.stringContaining('approved by arn:aws:iam::111122223333:user/alice') },
    });
  });

  it('closes a gate the release never reached as rejected, saying the release rolled back', async () => {
    codepipeline.on(GetPipelineStateCommand).resolves(pipelineState({ status: 'InProgress', token: TOKEN }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'UnhealthyReleaseError', cause: 'green success rate 91%' });
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'gone', $metadata: {} }));
    codepipeline.on(PutApprovalResultCommand).resolves({});

    await handler({ source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { name: RELEASE_ID, status: 'FAILED' } });

    expect(sfn).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    expect(codepipeline).toHaveReceivedCommandWith(PutApprovalResultCommand, {
      result: { status: 'Rejected', summary: expect.stringContaining('ended FAILED (UnhealthyReleaseError) before this gate was answered') },
    });
  });

  it('treats an approval answered in the meantime as already answered, not as an error', async () => {
    codepipeline.on(GetPipelineStateCommand).resolves(pipelineState({ status: 'InProgress', token: TOKEN }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' });
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'gone', $metadata: {} }));
    codepipeline.on(PutApprovalResultCommand).rejects(Object.assign(new Error('already done'), { name: 'ApprovalAlreadyCompletedException' }));

    const result = await handler({ source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { name: RELEASE_ID, status: 'ABORTED' } });

    expect(result.decisions).toEqual([expect.objectContaining({ kind: 'close-console', outcome: 'already-answered' })]);
  });

  it('retries a throttled GetPipelineState', async () => {
    codepipeline
      .on(GetPipelineStateCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({ stageStates: [] });

    await expect(handler(ACTION_EVENT)).resolves.toEqual({ releaseId: null, decisions: [] });
    expect(codepipeline).toHaveReceivedCommandTimes(GetPipelineStateCommand, 2);
  });

  it('refuses an event it is not subscribed to', async () => {
    await expect(handler({ source: 'aws.ecr', 'detail-type': 'ECR Image Action', detail: {} })).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
