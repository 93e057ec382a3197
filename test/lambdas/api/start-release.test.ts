import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../lambdas/api/start-release';
import {
  apiEvent,
  bodyOf,
  CALLER,
  CONFIG,
  EXECUTION_ARN,
  lockDoc,
  givenParameters,
  NAMES,
  RELEASE_ID,
  sdkErrors,
  STATE_MACHINE_ARN,
} from './fixtures';

const ssmMock = mockClient(SSMClient);
const ecsMock = mockClient(ECSClient);
const sfnMock = mockClient(SFNClient);

const IMAGE = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2';
const RELEASE_ID_PATTERN = /^colorapp-\d{14}-[0-9a-f]{6}$/;

function startRequest(body: unknown, userArn?: string | null) {
  return apiEvent({ method: 'POST', resource: '/releases', body, userArn });
}

function givenEcsServices(...present: string[]) {
  ecsMock.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => {
    const [name] = input.services;
    return present.includes(name)
      ? { services: [{ serviceName: name, status: 'ACTIVE' }], failures: [] }
      : { services: [], failures: [{ arn: `arn:aws:ecs:eu-west-1:111122223333:service/colorapp-cluster/${name}`, reason: 'MISSING' }] };
  });
}

beforeEach(() => {
  ssmMock.reset();
  ecsMock.reset();
  sfnMock.reset();
  process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
  givenParameters(ssmMock, { [NAMES.config]: CONFIG });
  givenEcsServices('colorapp-blue', 'colorapp-green');
  sfnMock.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `arn:aws:states:eu-west-1:111122223333:execution:ecs-release:${input.name}`,
    startDate: new Date(),
  }));
});

afterAll(() => {
  delete process.env.STATE_MACHINE_ARN;
});

describe('POST /releases/{service}', () => {
  const serviceRequest = (body: unknown) =>
    apiEvent({ method: 'POST', resource: '/releases/{service}', pathParameters: { service: 'colorapp' }, body });

  it('takes the service from the path, so IAM can allow one service and not another', async () => {
    const result = await handler(serviceRequest({ image: IMAGE }));

    expect(result.statusCode).toBe(202);
    expect(JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.input!)).toMatchObject({ service: 'colorapp', image: IMAGE });
  });

  it('refuses a body that names another service than the path, starting nothing', async () => {
    const result = await handler(serviceRequest({ service: 'payments', image: IMAGE }));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toContain("names service 'payments' but the path is /releases/colorapp");
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

describe('POST /releases', () => {
  it('starts an execution named with a new release id, with the request as input and the caller as requestedBy', async () => {
    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE, reason: 'new colours' }));

    expect(result.statusCode).toBe(202);
    const body = bodyOf(result);
    expect(body.releaseId).toMatch(RELEASE_ID_PATTERN);
    expect(body.executionArn).toBe(`arn:aws:states:eu-west-1:111122223333:execution:ecs-release:${body.releaseId}`);
    expect(result.headers?.Location).toBe(`/releases/colorapp/${body.releaseId}`);
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: body.releaseId as string,
      input: JSON.stringify({ service: 'colorapp', image: IMAGE, reason: 'new colours', requestedBy: CALLER }),
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.config });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.lock });
    expect(ecsMock).toHaveReceivedCommandWith(DescribeServicesCommand, { cluster: 'colorapp-cluster', services: ['colorapp-blue'] });
    expect(ecsMock).toHaveReceivedCommandWith(DescribeServicesCommand, { cluster: 'colorapp-cluster', services: ['colorapp-green'] });
    expect(sfnMock).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('keeps a requestedBy the caller gave, and passes strategy, bake and approval overrides through', async () => {
    const request = {
      service: 'colorapp',
      image: IMAGE,
      strategy: { type: 'linear', stepPercent: 25 },
      bakeSeconds: 30,
      approvals: { beforePromote: true },
      requestedBy: 'codepipeline',
    };
    const result = await handler(startRequest(request));

    expect(result.statusCode).toBe(202);
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { input: JSON.stringify(request) });
  });

  it('cuts a long service name so the release id stays a valid execution name of at most 80 characters', async () => {
    const longService = 'a'.repeat(100);
    givenParameters(ssmMock, { [`/ecs-release/${longService}/config`]: { ...CONFIG, service: longService } });

    const result = await handler(startRequest({ service: longService, image: IMAGE }));

    const { releaseId } = bodyOf(result) as { releaseId: string };
    expect(releaseId.length).toBeLessThanOrEqual(80);
    expect(releaseId).toMatch(/^a{58}-\d{14}-[0-9a-f]{6}$/);
  });

  it('leaves requestedBy out when the request carries no caller identity', async () => {
    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }, null));

    expect(result.statusCode).toBe(202);
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { input: JSON.stringify({ service: 'colorapp', image: IMAGE }) });
  });

  it('answers 400 naming the field when the image is not a repository:tag or digest, and starts nothing', async () => {
    const result = await handler(startRequest({ service: 'colorapp', image: 'Not An Image' }));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: 'ValidationError', message: expect.stringContaining('image:') });
    expect(ssmMock).not.toHaveReceivedCommand(GetParameterCommand);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 400 for a misspelt field instead of silently dropping it', async () => {
    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE, aprovals: { beforePromote: true } }));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toContain('aprovals');
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 400 when the body is not JSON', async () => {
    const result = await handler(startRequest('{not json'));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: 'ValidationError', message: expect.stringContaining('not valid JSON') });
  });

  it('answers 400 when the body is missing', async () => {
    const result = await handler(startRequest(undefined));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).error).toBe('ValidationError');
  });

  it('answers 404 when the service has no configuration', async () => {
    givenParameters(ssmMock, {});

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ConfigNotFoundError', message: expect.stringContaining(NAMES.config) });
    expect(ecsMock).not.toHaveReceivedCommand(DescribeServicesCommand);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 400 naming the bad field when the service configuration is invalid, and starts nothing', async () => {
    givenParameters(ssmMock, { [NAMES.config]: { ...CONFIG, cluster: '' } });

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: 'ValidationError', message: expect.stringContaining('cluster') });
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 404 naming the ECS service when one colour is missing', async () => {
    givenEcsServices('colorapp-blue');

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ResourceNotFoundError', message: expect.stringContaining('colorapp-green') });
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 404 naming the cluster when the cluster does not exist', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(sdkErrors.clusterNotFound());

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ error: 'ResourceNotFoundError', message: expect.stringContaining('colorapp-cluster') });
  });

  it('answers 409 with the running release id when the lock holder is RUNNING, and starts nothing', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({ executionArn: EXECUTION_ARN, status: 'RUNNING' });

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'ReleaseInProgressError', releaseId: RELEASE_ID, executionArn: EXECUTION_ARN });
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 409 ReleaseInProgressError while the running release is rolling back', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.lock]: lockDoc({ status: 'rolling-back' }) });
    sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: 'RUNNING' });

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).error).toBe('ReleaseInProgressError');
  });

  it.each(['FAILED', 'ABORTED', 'SUCCEEDED', 'TIMED_OUT'])(
    'answers 409 StaleLockError saying how to clear it when the lock holder is %s, and never takes the lock over',
    async (status) => {
      givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.lock]: lockDoc() });
      sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: status as 'FAILED' });

      const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

      expect(result.statusCode).toBe(409);
      expect(bodyOf(result)).toMatchObject({
        error: 'StaleLockError',
        releaseId: RELEASE_ID,
        executionArn: EXECUTION_ARN,
        executionStatus: status,
        lockStatus: 'held',
        message: expect.stringContaining('clear-lock'),
      });
      expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
    },
  );

  it('answers 409 StaleLockError when the lock holder execution no longer exists', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand).rejects(sdkErrors.executionDoesNotExist());

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'StaleLockError', executionStatus: 'DOES_NOT_EXIST' });
    expect(bodyOf(result).message).toContain('no longer exists');
  });

  it('answers 409 StaleLockError with the recorded reason when a rollback failed', async () => {
    givenParameters(ssmMock, {
      [NAMES.config]: CONFIG,
      [NAMES.lock]: lockDoc({ status: 'rollback-failed', reason: 'UpdateRoute was denied' }),
    });
    sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status: 'FAILED' });

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'StaleLockError', lockStatus: 'rollback-failed' });
    expect(bodyOf(result).message).toContain('UpdateRoute was denied');
  });

  it('answers 409 without retrying when Step Functions already has an execution with that name', async () => {
    sfnMock.on(StartExecutionCommand).rejects(sdkErrors.executionAlreadyExists());

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ error: 'ExecutionAlreadyExistsError', releaseId: expect.stringMatching(RELEASE_ID_PATTERN) });
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('answers 500 with no internals when Step Functions fails unexpectedly', async () => {
    sfnMock.on(StartExecutionCommand).rejects(Object.assign(new Error('User arn:aws:iam::1:role/x is not authorized'), { name: 'AccessDeniedException' }));

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({ error: 'InternalError', message: expect.stringContaining('api-request-1') });
    expect(result.body).not.toContain('arn:aws:iam');
    expect(result.body).not.toContain('    at ');
  });

  it('retries a throttled StartExecution and then starts the release', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(202);
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  it('answers 500 when STATE_MACHINE_ARN is not set, before touching anything', async () => {
    delete process.env.STATE_MACHINE_ARN;

    const result = await handler(startRequest({ service: 'colorapp', image: IMAGE }));

    expect(result.statusCode).toBe(500);
    expect(ssmMock).not.toHaveReceivedCommand(GetParameterCommand);
  });
});
