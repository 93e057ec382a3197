import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CONFIG_WITH_ARN, givenParameters, NAMES, releaseRecord, runCli, STATE_MACHINE_ARN, stateDoc } from './support';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);

const promoted = releaseRecord({ id: 'colorapp-20250102090000-aaaaaa', version: 'v3', fromColour: 'green', toColour: 'blue' });
const rolledBack = releaseRecord({
  id: 'colorapp-20250101090000-bbbbbb',
  version: 'v2',
  outcome: 'rolled-back',
  fromColour: 'blue',
  toColour: 'green',
  finishedAt: '2025-01-01T09:05:00.000Z',
  failure: { error: 'UnhealthyReleaseError', cause: 'Success rate 50.0% is below 99.0%.' },
});

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
  givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.state]: stateDoc({ lastRelease: promoted, history: [promoted, rolledBack] }) });
});

describe('ecs-release history', () => {
  it('lists the releases newest first: id, version, outcome, colours, finished, failure', async () => {
    const result = await runCli(['history', '--service', 'colorapp']);

    expect(result.code).toBe(0);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.state });
    expect(result.io.stdout).toEqual([
      'RELEASE                         VERSION  OUTCOME      COLOURS       FINISHED                  FAILURE',
      'colorapp-20250102090000-aaaaaa  v3       promoted     green → blue  2024-12-31T09:10:00.000Z  -',
      'colorapp-20250101090000-bbbbbb  v2       rolled-back  blue → green  2025-01-01T09:05:00.000Z  UnhealthyReleaseError: Success rate 50.0% is below 99.0%.',
    ]);
  });

  it('shows at most --limit releases', async () => {
    const result = await runCli(['history', '--service', 'colorapp', '--limit', '1']);

    expect(result.io.stdout).toHaveLength(2);
    expect(result.stdout).not.toContain('bbbbbb');
  });

  it('prints the records as JSON with --output json', async () => {
    const result = await runCli(['history', '--service', 'colorapp', '--output', 'json']);

    const body = JSON.parse(result.stdout);
    expect(body.service).toBe('colorapp');
    expect(body.live).toBe('blue');
    expect(body.releases.map((r: { id: string }) => r.id)).toEqual([promoted.id, rolledBack.id]);
  });

  it('says so when the service has no releases yet', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });

    const result = await runCli(['history', '--service', 'colorapp']);

    expect(result.code).toBe(0);
    expect(result.io.stdout).toEqual(['Service colorapp has no releases yet.']);
  });

  it('exits 2 for a missing service or a bad --limit', async () => {
    givenParameters(ssmMock, {});

    expect((await runCli(['history', '--service', 'nope'])).code).toBe(2);
    const badLimit = await runCli(['history', '--service', 'colorapp', '--limit', '500']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.io.stderr).toEqual(["ecs-release: invalid --limit '500': use a whole number from 1 to 50 — see 'ecs-release history --help'"]);
  });

  describe('refused releases', () => {
    const refusedArn = `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:colorapp-20250101100000-cccccc`;
    const failedRollbackArn = `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:colorapp-20250101080000-dddddd`;
    const image = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp@sha256:${'ab'.repeat(32)}`;

    beforeEach(() => {
      sfnMock.on(ListExecutionsCommand).resolves({
        executions: [
          { executionArn: refusedArn, stateMachineArn: STATE_MACHINE_ARN, name: 'colorapp-20250101100000-cccccc', status: 'FAILED', startDate: new Date('2025-01-01T10:00:00Z'), stopDate: new Date('2025-01-01T10:00:02Z') },
          { executionArn: failedRollbackArn, stateMachineArn: STATE_MACHINE_ARN, name: 'colorapp-20250101080000-dddddd', status: 'FAILED', startDate: new Date('2025-01-01T08:00:00Z'), stopDate: new Date('2025-01-01T08:09:00Z') },
        ],
      });
      sfnMock.on(GetExecutionHistoryCommand, { executionArn: refusedArn }).resolves({
        events: [
          { id: 9, type: 'ExecutionFailed', timestamp: new Date() },
          { id: 8, type: 'FailStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'Rejected' } },
        ],
      });
      // Same error name, but a rollback that failed: the state document's business, not a refusal.
      sfnMock.on(GetExecutionHistoryCommand, { executionArn: failedRollbackArn }).resolves({
        events: [
          { id: 99, type: 'ExecutionFailed', timestamp: new Date() },
          { id: 98, type: 'FailStateEntered', timestamp: new Date(), stateEnteredEventDetails: { name: 'RollbackFailed' } },
        ],
      });
      sfnMock.on(DescribeExecutionCommand, { executionArn: refusedArn }).resolves({
        executionArn: refusedArn,
        stateMachineArn: STATE_MACHINE_ARN,
        status: 'FAILED',
        startDate: new Date('2025-01-01T10:00:00Z'),
        stopDate: new Date('2025-01-01T10:00:02Z'),
        input: JSON.stringify({ service: 'colorapp', image, requestedBy: 'ecr-push' }),
        error: 'ReleaseInProgressError',
        cause: JSON.stringify({ errorType: 'ReleaseInProgressError', errorMessage: "Service 'colorapp' is already being released by colorapp-x" }),
      });
    });

    it('lists a push refused by the lock as rejected, in time order, with why', async () => {
      const result = await runCli(['history', '--service', 'colorapp']);

      expect(result.code).toBe(0);
      expect(result.io.stdout).toEqual([
        'RELEASE                         VERSION       OUTCOME      COLOURS       FINISHED                  FAILURE',
        'colorapp-20250101100000-cccccc  abababababab  rejected     -             2025-01-01T10:00:02.000Z  ReleaseInProgressError: Service \'colorapp\' is already being released by colorapp-x',
        'colorapp-20250101090000-bbbbbb  v2            rolled-back  blue → green  2025-01-01T09:05:00.000Z  UnhealthyReleaseError: Success rate 50.0% is below 99.0%.',
        'colorapp-20250102090000-aaaaaa  v3            promoted     green → blue  2024-12-31T09:10:00.000Z  -',
      ]);
      expect(sfnMock).toHaveReceivedCommandWith(ListExecutionsCommand, { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'FAILED', maxResults: 10 });
      expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: refusedArn, reverseOrder: true, maxResults: 2, includeExecutionData: false });
      // Only the refusal is described: the failed rollback is in the state document already.
      expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 1);
    });

    it('gives them as "rejected" beside the releases in JSON', async () => {
      const body = JSON.parse((await runCli(['history', '--service', 'colorapp', '--output', 'json'])).stdout);

      expect(body.releases).toHaveLength(2);
      expect(body.rejected).toEqual([
        {
          id: 'colorapp-20250101100000-cccccc',
          executionArn: refusedArn,
          image,
          version: 'abababababab',
          requestedBy: 'ecr-push',
          startedAt: '2025-01-01T10:00:00.000Z',
          finishedAt: '2025-01-01T10:00:02.000Z',
          error: 'ReleaseInProgressError',
          cause: "Service 'colorapp' is already being released by colorapp-x",
        },
      ]);
    });
  });
});
