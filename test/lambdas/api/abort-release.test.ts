import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../lambdas/api/abort-release';
import { apiEvent, bodyOf, CALLER, EXECUTION_ARN, givenParameters, lockDoc, NAMES, RELEASE_ID, sdkErrors } from './fixtures';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

function abort(body?: unknown) {
  return apiEvent({ method: 'POST', resource: '/releases/{service}/abort', pathParameters: { service: 'colorapp' }, body });
}

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  givenParameters(ssmMock, { [NAMES.lock]: lockDoc() });
  sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({ executionArn: EXECUTION_ARN, status: 'RUNNING' });
  sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
});

describe('POST /releases/{service}/abort', () => {
  it('stops the lock holder execution with ExecutionAbortedError naming the caller and answers 202', async () => {
    const result = await handler(abort());

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toMatchObject({ releaseId: RELEASE_ID, executionArn: EXECUTION_ARN });
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(sfnMock).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: EXECUTION_ARN,
      error: 'ExecutionAbortedError',
      cause: `Aborted by ${CALLER}`,
    });
  });

  it('appends the reason to the cause when one is given', async () => {
    await handler(abort({ reason: 'wrong image', releaseId: RELEASE_ID }));

    expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, { cause: `Aborted by ${CALLER}: wrong image` });
  });

  it('answers 404 when no release holds the lock', async () => {
    givenParameters(ssmMock, {});

    const result = await handler(abort());

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ResourceNotFoundError', message: expect.stringContaining('nothing to abort') });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('answers 404 and stops nothing when another release than the one named holds the lock', async () => {
    const result = await handler(abort({ releaseId: 'colorapp-20250101000000-000000' }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toContain(RELEASE_ID);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('answers 409 and stops nothing while the release is already rolling back', async () => {
    givenParameters(ssmMock, { [NAMES.lock]: lockDoc({ status: 'rolling-back' }) });

    const result = await handler(abort());

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'RollbackInProgressError', releaseId: RELEASE_ID, lockStatus: 'rolling-back' });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('answers 409 StaleLockError and stops nothing when the lock holder has already ended', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: 'FAILED' });

    const result = await handler(abort());

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'StaleLockError', executionStatus: 'FAILED', message: expect.stringContaining('clear-lock') });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('answers 409 StaleLockError when the lock holder execution no longer exists', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(sdkErrors.executionDoesNotExist());

    const result = await handler(abort());

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'StaleLockError', executionStatus: 'DOES_NOT_EXIST' });
  });

  it('answers 409 StaleLockError for a failed rollback, even while its execution is still failing', async () => {
    givenParameters(ssmMock, { [NAMES.lock]: lockDoc({ status: 'rollback-failed', reason: 'UpdateRoute denied' }) });

    const result = await handler(abort());

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'StaleLockError', lockStatus: 'rollback-failed' });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('answers 400 for an unknown body field', async () => {
    const result = await handler(abort({ why: 'oops' }));

    expect(result.statusCode).toBe(400);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });
});
