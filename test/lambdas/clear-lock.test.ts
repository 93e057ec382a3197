import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/clear-lock';
import { ReleaseInProgressError, ValidationError } from '../../lambdas/shared/errors';
import { EXECUTION_ARN, fakeParameters, lockDocument, NAMES, OTHER_EXECUTION_ARN, timeline } from '../support/release-documents';

const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);

/** What an operator sends after checking traffic and the idle service. */
function request(overrides: Record<string, unknown> = {}) {
  return { service: 'colorapp', executionArn: EXECUTION_ARN, operator: 'carol', reason: 'route checked at 100/0, green reverted by hand', ...overrides };
}

const stale = lockDocument({ status: 'rollback-failed', reason: 'UnhealthyReleaseError: 5xx | rollback failed: AccessDenied' });

let params: ReturnType<typeof fakeParameters>;

beforeEach(() => {
  ssm.reset();
  sfn.reset();
  params = fakeParameters(ssm, { [NAMES.lock]: stale });
});

describe('clear-lock handler', () => {
  it.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'])(
    'clears the lock of an execution that is %s and returns what it cleared',
    async (status) => {
      sfn.on(DescribeExecutionCommand).resolves({ status: status as never, $metadata: {} });

      await expect(handler(request())).resolves.toStrictEqual({ cleared: stale });

      expect(sfn.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input)).toStrictEqual([{ executionArn: EXECUTION_ARN }]);
      expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.lock }]);
      expect(params.has(NAMES.lock)).toBe(false);
      expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    },
  );

  it('clears the lock of an execution that no longer exists', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution does not exist', $metadata: {} }));

    await expect(handler(request())).resolves.toStrictEqual({ cleared: stale });
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it('refuses with ReleaseInProgressError, deleting nothing, while the execution is running', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', $metadata: {} });

    const error = await handler(request()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ReleaseInProgressError);
    expect(error).toMatchObject({ service: 'colorapp', holderExecutionArn: EXECUTION_ARN });
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(stale);
  });

  it('refuses with a ValidationError, asking nothing and deleting nothing, when another execution holds the lock', async () => {
    const error = await handler(request({ executionArn: OTHER_EXECUTION_ARN })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(`The lock of 'colorapp' is held by ${EXECUTION_ARN}, not ${OTHER_EXECUTION_ARN}; nothing cleared`);
    expect(timeline(ssm, sfn)).toEqual([`GetParameter ${NAMES.lock}`]);
    expect(params.json(NAMES.lock)).toStrictEqual(stale);
  });

  it('is a ValidationError when there is no lock to clear', async () => {
    params = fakeParameters(ssm);

    await expect(handler(request())).rejects.toMatchObject({ name: 'ValidationError', message: "Service 'colorapp' has no lock to clear" });
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it.each(['operator', 'reason', 'executionArn'])('is a ValidationError, reading nothing, without %s', async (field) => {
    const error = await handler(request({ [field]: undefined })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid clear-lock input: ${field}: `));
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(sfn).not.toHaveReceivedAnyCommand();
  });
});
