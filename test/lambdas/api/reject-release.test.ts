import { SendTaskFailureCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../lambdas/api/reject-release';
import { apiEvent, approvalDoc, bodyOf, CALLER, EXECUTION_ARN, givenParameters, NAMES, RELEASE_ID, sdkErrors, TASK_TOKEN } from './fixtures';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

function reject(body?: unknown) {
  return apiEvent({ method: 'POST', resource: '/releases/{service}/reject', pathParameters: { service: 'colorapp' }, body });
}

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  givenParameters(ssmMock, { [NAMES.approval]: approvalDoc() });
  ssmMock.on(DeleteParameterCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
});

describe('POST /releases/{service}/reject', () => {
  it('fails the gate with ApprovalRejectedError naming who and why, then deletes the approval document', async () => {
    const result = await handler(reject({ reason: 'colours look wrong' }));

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual({
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
      gate: 'before-promote',
      rejectedBy: CALLER,
      reason: 'colours look wrong',
    });
    expect(sfnMock).toHaveReceivedCommandTimes(SendTaskFailureCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TASK_TOKEN,
      error: 'ApprovalRejectedError',
      cause: `Rejected by ${CALLER}: colours look wrong`,
    });
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
  });

  it.each([
    ['no body', undefined],
    ['an empty reason', { reason: '   ' }],
    ['a reason that is not a string', { reason: 42 }],
  ])('answers 400 and rejects nothing with %s', async (_case, body) => {
    const result = await handler(reject(body));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).error).toBe('ValidationError');
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('answers 404 "no approval is waiting" when there is no approval document', async () => {
    givenParameters(ssmMock, {});

    const result = await handler(reject({ reason: 'no' }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toContain('no approval is waiting');
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('answers 404 and rejects nothing when another release than the one named is waiting', async () => {
    const result = await handler(reject({ reason: 'no', releaseId: 'colorapp-20250101000000-000000' }));

    expect(result.statusCode).toBe(404);
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it.each([
    ['timed out', sdkErrors.taskTimedOut],
    ['no longer exists', sdkErrors.taskDoesNotExist],
    ['is not a valid token', sdkErrors.invalidToken],
  ])('answers 410 and deletes the stale document when the task %s', async (_why, error) => {
    sfnMock.on(SendTaskFailureCommand).rejects(error());

    const result = await handler(reject({ reason: 'no' }));

    expect(result.statusCode).toBe(410);
    expect(bodyOf(result)).toMatchObject({ error: 'ApprovalGateClosedError', releaseId: RELEASE_ID });
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
  });
});
