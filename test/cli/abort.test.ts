import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CONFIG_WITH_ARN, EXECUTION_ARN, givenParameters, IDENTITY, lockDoc, NAMES, RELEASE_ID, runCli } from './support';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.lock]: lockDoc() });
  sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
  sfnMock.on(StopExecutionCommand).resolves({});
});

describe('ecs-release abort', () => {
  it("stops the lock's execution with ExecutionAbortedError, naming who and why", async () => {
    const result = await runCli(['abort', '--service', 'colorapp', '--reason', 'wrong image']);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(sfnMock).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: EXECUTION_ARN,
      error: 'ExecutionAbortedError',
      cause: `Aborted by ${IDENTITY}: wrong image`,
    });
    expect(result.io.stdout).toEqual([
      `Stopping release ${RELEASE_ID} of colorapp; the cleanup handler rolls it back and releases the lock.`,
    ]);
  });

  it('prints JSON with --output json', async () => {
    const result = await runCli(['abort', '--service', 'colorapp', '--output', 'json', '--by', 'bob']);

    expect(JSON.parse(result.stdout)).toEqual({ releaseId: RELEASE_ID, executionArn: EXECUTION_ARN, cause: 'Aborted by bob' });
  });

  it('exits 3 when no release is running', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });

    const result = await runCli(['abort', '--service', 'colorapp']);

    expect(result.code).toBe(3);
    expect(result.io.stderr).toEqual([
      "ecs-release: Service 'colorapp': no release is running, so there is nothing to abort — check the service with 'ecs-release status --service colorapp'",
    ]);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('exits 3 and stops nothing when --release-id names another release than the running one', async () => {
    const result = await runCli(['abort', '--service', 'colorapp', '--release-id', 'colorapp-20250101110000-000000']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`release ${RELEASE_ID} is. Nothing was stopped`);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('exits 3 rather than interrupt a release that is already rolling back', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.lock]: lockDoc({ status: 'rolling-back' }) });

    const result = await runCli(['abort', '--service', 'colorapp']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('is already rolling back');
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('exits 3 with how to clear a stale lock, stopping nothing', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });

    const result = await runCli(['abort', '--service', 'colorapp']);

    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^ecs-release: stale release lock — .*execution is SUCCEEDED.*clear-lock/);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
  });

  it('exits 2 for a service that is not configured', async () => {
    givenParameters(ssmMock, {});

    const result = await runCli(['abort', '--service', 'colorapp']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('service not configured');
  });
});
