import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CONFIG_WITH_ARN, givenParameters, NAMES, releaseRecord, runCli, stateDoc } from './support';

const ssmMock = mockClient(SSMClient);

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
});
