import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../lambdas/api/get-release';
import {
  apiEvent,
  approvalDoc,
  bodyOf,
  CONFIG,
  EXECUTION_ARN,
  givenParameters,
  lockDoc,
  NAMES,
  RELEASE_ID,
  releaseRecord,
  sdkErrors,
  STATE_MACHINE_ARN,
  stateDoc,
  TASK_TOKEN,
} from './fixtures';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

function serviceStatus(service = 'colorapp') {
  return apiEvent({ method: 'GET', resource: '/releases/{service}', pathParameters: { service } });
}

function releaseStatus(releaseId = RELEASE_ID, service = 'colorapp') {
  return apiEvent({ method: 'GET', resource: '/releases/{service}/{releaseId}', pathParameters: { service, releaseId } });
}

const RUNNING_EXECUTION = {
  executionArn: EXECUTION_ARN,
  stateMachineArn: STATE_MACHINE_ARN,
  name: RELEASE_ID,
  status: 'RUNNING' as const,
  startDate: new Date('2025-01-01T12:00:00.000Z'),
  input: JSON.stringify({ service: 'colorapp', image: 'registry/colorapp:v2' }),
};

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
});

afterAll(() => {
  delete process.env.STATE_MACHINE_ARN;
});

describe('GET /releases/{service}', () => {
  it('shows the live colour, what each colour runs and the last release when nothing is running', async () => {
    const state = stateDoc();
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.state]: state });

    const result = await handler(serviceStatus());

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      service: 'colorapp',
      state: { live: 'blue', colours: state.colours, updatedAt: state.updatedAt },
      lastRelease: state.lastRelease,
      lock: null,
      approval: null,
    });
    for (const name of [NAMES.config, NAMES.state, NAMES.lock, NAMES.approval]) {
      expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: name });
    }
    expect(sfnMock).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('shows the lock with its execution status, and a waiting approval without its task token', async () => {
    givenParameters(ssmMock, {
      [NAMES.config]: CONFIG,
      [NAMES.state]: stateDoc(),
      [NAMES.lock]: lockDoc(),
      [NAMES.approval]: approvalDoc(),
    });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves(RUNNING_EXECUTION);

    const result = await handler(serviceStatus());

    expect(result.statusCode).toBe(200);
    const body = bodyOf(result);
    expect(body.lock).toEqual({
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
      status: 'held',
      reason: null,
      acquiredAt: '2025-01-01T12:00:01.000Z',
      image: 'registry/colorapp:v2',
      version: 'v2',
      requestedBy: expect.any(String),
      executionStatus: 'RUNNING',
      stale: false,
    });
    expect(body.approval).toEqual({
      releaseId: RELEASE_ID,
      gate: 'before-promote',
      requestedAt: '2025-01-01T12:05:00.000Z',
      expiresAt: '2025-01-01T13:05:00.000Z',
    });
    expect(result.body).not.toContain(TASK_TOKEN);
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
  });

  it('marks the lock stale when its execution has ended', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand).resolves({ ...RUNNING_EXECUTION, status: 'ABORTED' });

    const result = await handler(serviceStatus());

    expect(bodyOf(result).lock).toMatchObject({ executionStatus: 'ABORTED', stale: true });
  });

  it('answers state null before the first release', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG });

    const result = await handler(serviceStatus());

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ state: null, lastRelease: null, lock: null });
  });

  it('answers 404 when the service has no configuration', async () => {
    givenParameters(ssmMock, {});

    const result = await handler(serviceStatus());

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).error).toBe('ConfigNotFoundError');
  });

  it('answers 400 for a service name with characters a service cannot have', async () => {
    const result = await handler(serviceStatus('colour app'));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: 'ValidationError', message: expect.stringContaining('service') });
    expect(ssmMock).not.toHaveReceivedCommand(GetParameterCommand);
  });

  it('answers 500 naming the parameter when a document does not match its schema', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.state]: { schemaVersion: 99 } });

    const result = await handler(serviceStatus());

    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toMatchObject({ error: 'StateConflictError', message: expect.stringContaining(NAMES.state) });
  });
});

describe('GET /releases/{service}/{releaseId}', () => {
  it('describes the execution derived from the state machine ARN and shows a running release with its lock and gate', async () => {
    givenParameters(ssmMock, { [NAMES.state]: stateDoc(), [NAMES.lock]: lockDoc(), [NAMES.approval]: approvalDoc() });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves(RUNNING_EXECUTION);

    const result = await handler(releaseStatus());

    expect(result.statusCode).toBe(200);
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(bodyOf(result)).toEqual({
      service: 'colorapp',
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
      status: 'RUNNING',
      startDate: '2025-01-01T12:00:00.000Z',
      stopDate: null,
      input: { service: 'colorapp', image: 'registry/colorapp:v2' },
      output: null,
      error: null,
      cause: null,
      outcome: null,
      record: null,
      lock: expect.objectContaining({ status: 'held', executionStatus: 'RUNNING', stale: false }),
      approval: expect.objectContaining({ releaseId: RELEASE_ID, gate: 'before-promote' }),
    });
    expect(result.body).not.toContain(TASK_TOKEN);
  });

  it('shows a finished release with its execution output and its history record', async () => {
    const record = releaseRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, outcome: 'promoted' });
    givenParameters(ssmMock, { [NAMES.state]: stateDoc({ lastRelease: record, history: [record] }) });
    sfnMock.on(DescribeExecutionCommand).resolves({
      ...RUNNING_EXECUTION,
      status: 'SUCCEEDED',
      stopDate: new Date('2025-01-01T12:09:00.000Z'),
      output: JSON.stringify({ outcome: 'promoted' }),
    });

    const result = await handler(releaseStatus());

    expect(bodyOf(result)).toMatchObject({
      status: 'SUCCEEDED',
      stopDate: '2025-01-01T12:09:00.000Z',
      output: { outcome: 'promoted' },
      outcome: 'promoted',
      record,
      lock: null,
      approval: null,
    });
  });

  it('shows the error and cause of a release that was rolled back', async () => {
    const failure = { error: 'UnhealthyReleaseError', cause: 'success rate 0.5 below 0.99' };
    const record = releaseRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, outcome: 'rolled-back', failure });
    givenParameters(ssmMock, { [NAMES.state]: stateDoc({ lastRelease: record, history: [record] }) });
    sfnMock.on(DescribeExecutionCommand).resolves({
      ...RUNNING_EXECUTION,
      status: 'FAILED',
      stopDate: new Date('2025-01-01T12:03:00.000Z'),
      error: failure.error,
      cause: failure.cause,
    });

    const result = await handler(releaseStatus());

    expect(bodyOf(result)).toMatchObject({ status: 'FAILED', error: failure.error, cause: failure.cause, outcome: 'rolled-back' });
  });

  it('answers from the history once Step Functions has forgotten the execution', async () => {
    const record = releaseRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN });
    givenParameters(ssmMock, { [NAMES.state]: stateDoc({ history: [record] }) });
    sfnMock.on(DescribeExecutionCommand).rejects(sdkErrors.executionDoesNotExist());

    const result = await handler(releaseStatus());

    expect(result.statusCode).toBe(200);
    // The history keeps summaries: everything but the verdicts, which only the last release carries.
    const summary = Object.fromEntries(Object.entries(record).filter(([key]) => key !== 'verdicts'));
    expect(bodyOf(result)).toMatchObject({
      status: null,
      startDate: record.startedAt,
      stopDate: record.finishedAt,
      outcome: 'promoted',
    });
    expect(bodyOf(result).record).toEqual(summary);
  });

  it('answers 404 when neither Step Functions nor the history knows the release', async () => {
    givenParameters(ssmMock, { [NAMES.state]: stateDoc() });
    sfnMock.on(DescribeExecutionCommand).rejects(sdkErrors.executionDoesNotExist());

    const result = await handler(releaseStatus());

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ResourceNotFoundError', message: expect.stringContaining(RELEASE_ID) });
  });

  it('answers 404 for a release of another service', async () => {
    givenParameters(ssmMock, {});
    sfnMock.on(DescribeExecutionCommand).resolves({ ...RUNNING_EXECUTION, input: JSON.stringify({ service: 'billing', image: 'r/b:1' }) });

    const result = await handler(releaseStatus());

    expect(result.statusCode).toBe(404);
  });

  it('answers 400 for a release id that cannot be an execution name', async () => {
    const result = await handler(releaseStatus('x'.repeat(81)));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toContain('releaseId');
    expect(sfnMock).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('answers 500 when STATE_MACHINE_ARN is not a state machine ARN', async () => {
    process.env.STATE_MACHINE_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:oops';
    givenParameters(ssmMock, {});

    const result = await handler(releaseStatus());

    expect(result.statusCode).toBe(500);
    expect(bodyOf(result).error).toBe('InternalError');
  });
});
