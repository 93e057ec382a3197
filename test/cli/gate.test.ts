import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  approvalDoc,
  CONFIG_WITH_ARN,
  EXECUTION_ARN,
  givenParameters,
  IDENTITY,
  NAMES,
  NOW,
  RELEASE_ID,
  runCli,
  sdkErrors,
  TASK_TOKEN,
} from './support';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.approval]: approvalDoc() });
  ssmMock.on(DeleteParameterCommand).resolves({});
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
});

describe('ecs-release approve', () => {
  it('sends SendTaskSuccess with the stored token and who approved, then deletes the approval document', async () => {
    const result = await runCli(['approve', '--service', 'colorapp']);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: TASK_TOKEN,
      output: JSON.stringify({ approvedBy: IDENTITY, at: NOW.toISOString() }),
    });
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
    expect(result.io.stdout).toEqual([`Approved release ${RELEASE_ID} of colorapp at before-promote; it continues.`]);
  });

  it('records --by as the approver and prints JSON with --output json', async () => {
    const result = await runCli(['approve', '--service', 'colorapp', '--by', 'bob', '--output', 'json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
      gate: 'before-promote',
      approvedBy: 'bob',
      at: NOW.toISOString(),
    });
  });

  it('exits 3 with a clear error when no approval is waiting', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });

    const result = await runCli(['approve', '--service', 'colorapp']);

    expect(result.code).toBe(3);
    expect(result.io.stderr).toEqual([
      "ecs-release: Service 'colorapp': no approval is waiting — Check it with 'ecs-release status --service colorapp'",
    ]);
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('exits 3 and approves nothing when another release than --release-id is waiting', async () => {
    const result = await runCli(['approve', '--service', 'colorapp', '--release-id', 'colorapp-20250101110000-000000']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`release colorapp-20250101110000-000000 is not waiting for approval; release ${RELEASE_ID} is`);
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it.each([['TaskTimedOut', sdkErrors.taskTimedOut], ['TaskDoesNotExist', sdkErrors.taskDoesNotExist], ['InvalidToken', sdkErrors.invalidToken]])(
    'exits 3 saying the gate closed when Step Functions answers %s, and clears the stale document',
    async (_name, error) => {
      sfnMock.on(SendTaskSuccessCommand).rejects(error());

      const result = await runCli(['approve', '--service', 'colorapp']);

      expect(result.code).toBe(3);
      expect(result.io.stderr).toEqual([
        `ecs-release: the approval gate is no longer waiting: release ${RELEASE_ID} (gate before-promote) timed out or its ` +
          `execution ended — check it with 'ecs-release status --service colorapp --release-id ${RELEASE_ID}'`,
      ]);
      expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
    },
  );

  it('says the service is not configured (exit 2) rather than "nothing waiting" for an unknown service', async () => {
    givenParameters(ssmMock, {});

    const result = await runCli(['approve', '--service', 'colourapp']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ecs-release: service not configured: Service 'colourapp' has no release configuration/);
    expect(ssmMock).not.toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ecs-release/colourapp/approval' });
  });
});

describe('ecs-release reject', () => {
  it('sends SendTaskFailure(ApprovalRejectedError) naming who and why, then deletes the approval document', async () => {
    const result = await runCli(['reject', '--service', 'colorapp', '--reason', 'p99 too high', '--release-id', RELEASE_ID]);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TASK_TOKEN,
      error: 'ApprovalRejectedError',
      cause: `Rejected by ${IDENTITY}: p99 too high`,
    });
    expect(ssmMock).toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.approval });
    expect(result.io.stdout).toEqual([`Rejected release ${RELEASE_ID} of colorapp at before-promote; it is being rolled back.`]);
  });

  it('requires --reason (exit 2), before any AWS call', async () => {
    const result = await runCli(['reject', '--service', 'colorapp']);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toEqual(["ecs-release: missing --reason — see 'ecs-release reject --help'"]);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('exits 3 when no approval is waiting', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });

    const result = await runCli(['reject', '--service', 'colorapp', '--reason', 'no']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('no approval is waiting');
    expect(sfnMock).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('exits 3 when the gate has closed', async () => {
    sfnMock.on(SendTaskFailureCommand).rejects(sdkErrors.taskTimedOut());

    const result = await runCli(['reject', '--service', 'colorapp', '--reason', 'no']);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('the approval gate is no longer waiting');
  });
});
