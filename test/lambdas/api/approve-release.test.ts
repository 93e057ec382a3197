import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../lambdas/api/approve-release';
import { apiEvent, approvalDoc, bodyOf, CALLER, EXECUTION_ARN, givenParameters, NAMES, RELEASE_ID, sdkErrors, TASK_TOKEN } from './fixtures';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

function approve(body?: unknown) {
  return apiEvent({ method: 'POST', resource: '/releases/{service}/approve', pathParameters: { service: 'colorapp' }, body });
}

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  givenParameters(ssmMock, { [NAMES.approval]: approvalDoc() });
  ssmMock.on(DeleteParameterCommand).resolves({});
  sfnMock.on(SendTaskSuccessCommand).resolves({});
});

describe('POST /releases/{service}/approve', () => {
  it('sends the gate task success with who approved and when, then deletes the approval document', async () => {
    const result = await handler(approve());

    expect(result.statusCode).toBe(200);
    const body = bodyOf(result);
    expect(body).toEqual({
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
      gate: 'before-promote',
      approvedBy: CALLER,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(sfnMock).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: TASK_TOKEN,
      output: JSON.stringify({ approvedBy: CALLER, at: body.at }),
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.approval });
    expect(ssmMock).toHaveReceivedCommandTimes(DeleteParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
  });

  it('approves when the body names the waiting release', async () => {
    const result = await handler(approve({ releaseId: RELEASE_ID }));

    expect(result.statusCode).toBe(200);
    expect(sfnMock).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('answers 404 "no approval is waiting" when there is no approval document', async () => {
    givenParameters(ssmMock, {});

    const result = await handler(approve());

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ResourceNotFoundError', message: expect.stringContaining('no approval is waiting') });
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
  });

  it('answers 404 and approves nothing when another release than the one named is waiting', async () => {
    const result = await handler(approve({ releaseId: 'colorapp-20250101000000-000000' }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toContain(RELEASE_ID);
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it.each([
    ['timed out', sdkErrors.taskTimedOut],
    ['no longer exists', sdkErrors.taskDoesNotExist],
    ['is not a valid token', sdkErrors.invalidToken],
  ])('answers 410 and deletes the stale document when the task %s', async (_why, error) => {
    sfnMock.on(SendTaskSuccessCommand).rejects(error());

    const result = await handler(approve());

    expect(result.statusCode).toBe(410);
    expect(bodyOf(result)).toMatchObject({
      error: 'ApprovalGateClosedError',
      releaseId: RELEASE_ID,
      message: expect.stringContaining('The approval gate is no longer waiting'),
    });
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
  });

  it('leaves the approval document alone when the next gate replaced it meanwhile', async () => {
    ssmMock
      .on(GetParameterCommand, { Name: NAMES.approval })
      .resolvesOnce({ Parameter: { Value: JSON.stringify(approvalDoc({ gate: 'before-traffic' })) } })
      .resolves({ Parameter: { Value: JSON.stringify(approvalDoc({ taskToken: 'token-of-the-next-gate' })) } });

    const result = await handler(approve());

    expect(result.statusCode).toBe(200);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 2);
    expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
  });

  it('still answers 200 when deleting the approval document fails, because the gate was approved', async () => {
    ssmMock.on(DeleteParameterCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    const result = await handler(approve());

    expect(result.statusCode).toBe(200);
  });

  it('answers 400 for an unknown body field', async () => {
    const result = await handler(approve({ releaseID: RELEASE_ID }));

    expect(result.statusCode).toBe(400);
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('answers 500 and keeps the document when Step Functions fails otherwise', async () => {
    sfnMock.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));

    const result = await handler(approve());

    expect(result.statusCode).toBe(500);
    expect(ssmMock).not.toHaveReceivedCommand(DeleteParameterCommand);
  });
});
