import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  approvalDoc,
  CONFIG,
  CONFIG_WITH_ARN,
  EXECUTION_ARN,
  givenParameters,
  lockDoc,
  NAMES,
  RELEASE_ID,
  releaseRecord,
  runCli,
  stateDoc,
  TASK_TOKEN,
  verdict,
} from './support';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
});

describe('ecs-release status', () => {
  it('shows the live colour, what runs where, the lock, a waiting approval and the last release with its verdicts', async () => {
    const last = releaseRecord({ verdicts: [verdict({ colour: 'blue' })] });
    givenParameters(ssmMock, {
      [NAMES.config]: CONFIG_WITH_ARN,
      [NAMES.state]: stateDoc({ lastRelease: last, history: [last] }),
      [NAMES.lock]: lockDoc({ reason: null }),
      [NAMES.approval]: approvalDoc(),
    });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({ status: 'RUNNING' });

    const result = await runCli(['status', '--service', 'colorapp']);

    expect(result.code).toBe(0);
    expect(result.io.stdout).toEqual([
      'Service colorapp',
      '  live:      blue — v1 (registry/colorapp:v1, task definition colorapp:7)',
      '  idle:      green — nothing deployed',
      `  lock:      held by ${RELEASE_ID} (v2), status held, execution RUNNING, since 2025-01-01T12:00:01.000Z`,
      '             requested by arn:aws:iam::111122223333:user/alice',
      '             stop it with: ecs-release abort --service colorapp',
      `  approval:  ${RELEASE_ID} waits at before-promote since 2025-01-01T12:05:00.000Z (expires 2025-01-01T13:05:00.000Z)`,
      `             ecs-release approve --service colorapp --release-id ${RELEASE_ID}`,
      `             ecs-release reject --service colorapp --release-id ${RELEASE_ID} --reason TEXT`,
      '  last release:',
      '    colorapp-20241231090000-ffffff: promoted, v1 (registry/colorapp:v1) green → blue, canary 10,50,100',
      '    started 2024-12-31T09:00:00.000Z, finished 2024-12-31T09:10:00.000Z, requested by arn:aws:iam::111122223333:user/alice',
      '    step 1 at 10%: healthy — success 99.92%, 1234 req, p99 120 ms',
      // The region of the CLI's clients (AWS_REGION in the tests); the name follows from the service.
      '  dashboard: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/ecs-release-colorapp',
    ]);
    expect(result.stdout).not.toContain(TASK_TOKEN);
  });

  it('shows a stale lock with its reason and how to clear it', async () => {
    givenParameters(ssmMock, {
      [NAMES.config]: CONFIG_WITH_ARN,
      [NAMES.lock]: lockDoc({ status: 'rollback-failed', reason: 'UpdateRoute failed' }),
    });
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' });

    const result = await runCli(['status', '--service', 'colorapp']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`lock:      STALE — held by ${RELEASE_ID} (v2), status rollback-failed, execution FAILED`);
    expect(result.stdout).toContain('reason: UpdateRoute failed');
    expect(result.stdout).toContain('clear it with the clear-lock function');
    expect(result.stdout).toContain('live:      unknown — no release yet');
  });

  it('prints the same document as GET /releases/{service} with --output json, without the task token', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.approval]: approvalDoc() });

    const result = await runCli(['status', '--service', 'colorapp', '--output', 'json']);

    expect(JSON.parse(result.stdout)).toEqual({
      service: 'colorapp',
      state: null,
      lastRelease: null,
      lock: null,
      approval: {
        releaseId: RELEASE_ID,
        gate: 'before-promote',
        requestedAt: '2025-01-01T12:05:00.000Z',
        expiresAt: '2025-01-01T13:05:00.000Z',
      },
    });
  });

  it('says the service is not configured, exit 2', async () => {
    givenParameters(ssmMock, {});

    const result = await runCli(['status', '--service', 'colourapp']);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toEqual([
      "ecs-release: service not configured: Service 'colourapp' has no release configuration (/ecs-release/colourapp/config). " +
        'Check the service name — check --service, --region and --endpoint-url, or deploy the service with its ReleasePipeline construct',
    ]);
  });

  it('with --release-id, describes the execution derived from the configured state machine', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({
      executionArn: EXECUTION_ARN,
      status: 'RUNNING',
      startDate: new Date('2025-01-01T12:00:00.000Z'),
      input: JSON.stringify({ service: 'colorapp', image: 'registry/colorapp:v2' }),
    });

    const result = await runCli(['status', '--service', 'colorapp', '--release-id', RELEASE_ID]);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
    expect(result.io.stdout.slice(0, 4)).toEqual([
      `Release ${RELEASE_ID} of colorapp`,
      `  execution: RUNNING — ${EXECUTION_ARN}`,
      '  started:   2025-01-01T12:00:00.000Z',
      '  outcome:   in progress',
    ]);
    expect(result.stdout).toContain(`lock:      held by ${RELEASE_ID}`);
    expect(result.io.stdout.slice(-2)).toEqual([
      `  console:   https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
      '  dashboard: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/ecs-release-colorapp',
    ]);
  });

  it('with --release-id, exits 3 pointing at history when nobody knows the release', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });
    const notFound = new Error('Execution Does Not Exist');
    notFound.name = 'ExecutionDoesNotExist';
    sfnMock.on(DescribeExecutionCommand).rejects(notFound);

    const result = await runCli(['status', '--service', 'colorapp', '--release-id', 'colorapp-20200101000000-000000']);

    expect(result.code).toBe(3);
    expect(result.io.stderr[0]).toContain(
      "Service 'colorapp' has no release colorapp-20200101000000-000000. List its releases with 'ecs-release history --service colorapp'",
    );
  });

  it('with --release-id, exits 2 when no state machine is known', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG });

    const result = await runCli(['status', '--service', 'colorapp', '--release-id', RELEASE_ID]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --state-machine-arn ARN');
    expect(sfnMock).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('exits 2 for an invalid release id before any AWS call', async () => {
    const result = await runCli(['status', '--service', 'colorapp', '--release-id', 'no spaces']);

    expect(result.code).toBe(2);
    expect(ssmMock).not.toHaveReceivedCommand(GetParameterCommand);
  });
});
