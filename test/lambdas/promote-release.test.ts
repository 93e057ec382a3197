import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/promote-release';
import type { ReleaseRecord, ReleaseState } from '../../lambdas/shared/documents';
import { AlarmTriggeredError, ExecutionAbortedError, ResourceNotFoundError, StateConflictError, ValidationError } from '../../lambdas/shared/errors';
import type { Progress } from '../../lambdas/shared/release';
import { COLOURS, IMAGE, RELEASE_ID } from '../support/ecs-fixtures';
import {
  config,
  EXECUTION_ARN,
  fakeDateOnly,
  fakeParameters,
  lockDocument,
  NAMES,
  NEW_TASK_DEFINITION_ARN,
  OTHER_EXECUTION_ARN,
  previousRecord,
  release,
  releaseState,
  sentPuts,
  summaryOf,
  verdict,
  verdictSummary,
} from '../support/release-documents';

const ssm = mockClient(SSMClient);
const cloudwatch = mockClient(CloudWatchClient);
mockClient(SFNClient);

const NOW = new Date('2025-01-01T12:40:00.000Z');
fakeDateOnly(NOW);

const VERDICTS = [verdict(), verdict({ stepIndex: 1, weight: 50 }), verdict({ stepIndex: 2, weight: 100 })];

function progress(): Progress {
  return { stepIndex: 2, attempt: 0, verdicts: VERDICTS, decision: 'promote', failure: null };
}

/** The release alarms: one for both colours, one per colour. */
const ALARMS = { common: ['colorapp-5xx'], blue: ['colorapp-blue-p99'], green: ['colorapp-green-p99'] };

function event(overrides: Parameters<typeof config>[0] = {}) {
  return {
    release: release({ config: config({ health: { alarms: ALARMS }, ...overrides }) }),
    colours: COLOURS,
    taskDefinition: { taskDefinitionArn: NEW_TASK_DEFINITION_ARN },
    progress: progress(),
  };
}

/** The record Promote writes for the release fixture, its verdicts as the state keeps them. */
const PROMOTED: ReleaseRecord = {
  id: RELEASE_ID,
  executionArn: EXECUTION_ARN,
  image: IMAGE,
  version: '1.4.0',
  fromColour: 'blue',
  toColour: 'green',
  strategy: { type: 'canary', steps: [10, 50, 100] },
  outcome: 'promoted',
  startedAt: '2025-01-01T12:00:00.000Z',
  finishedAt: NOW.toISOString(),
  requestedBy: 'alice',
  reason: null,
  failure: null,
  verdicts: [verdictSummary(), verdictSummary({ stepIndex: 1, weight: 50 }), verdictSummary({ stepIndex: 2, weight: 100 })],
};

let params: ReturnType<typeof fakeParameters>;

function given(state: ReleaseState | null, held = lockDocument()) {
  params = fakeParameters(ssm, { ...(state ? { [NAMES.state]: state } : {}), [NAMES.lock]: held });
}

/** CloudWatch's answer: these alarms exist, in these states; any other does not exist. */
function givenAlarms(states: Record<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>) {
  cloudwatch.on(DescribeAlarmsCommand).callsFake(async (input: { AlarmNames?: string[] }) => ({
    MetricAlarms: (input.AlarmNames ?? []).filter((name) => name in states).map((name) => ({ AlarmName: name, StateValue: states[name] })),
  }));
}

beforeEach(() => {
  ssm.reset();
  cloudwatch.reset();
  givenAlarms({ 'colorapp-5xx': 'OK', 'colorapp-blue-p99': 'OK', 'colorapp-green-p99': 'INSUFFICIENT_DATA' });
});

describe('promote-release handler', () => {
  it('makes green live in one state write: its slot, the release record with a summary of every verdict, the history', async () => {
    const before = releaseState();
    given(before);

    await expect(handler(event())).resolves.toStrictEqual({
      live: 'green',
      previousLive: 'blue',
      promotedAt: NOW.toISOString(),
      alreadyPromoted: false,
    });

    const expected: ReleaseState = {
      ...before,
      live: 'green',
      colours: { blue: before.colours.blue, green: { taskDefinitionArn: NEW_TASK_DEFINITION_ARN, image: IMAGE, version: '1.4.0' } },
      lastRelease: PROMOTED,
      history: [summaryOf(PROMOTED), summaryOf(previousRecord())],
      updatedAt: NOW.toISOString(),
    };
    expect(sentPuts(ssm)).toStrictEqual([{ Name: NAMES.state, Value: expected, Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: undefined }]);
    expect(params.json(NAMES.state)).toStrictEqual(expected);
    // The lock is left for ReleaseLock.
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument());
  });

  it('keeps at most historyLength releases', async () => {
    given(releaseState({ history: [summaryOf(previousRecord()), summaryOf(previousRecord({ id: 'rel-older' }))] }));

    await handler(event({ historyLength: 2 }));

    expect(params.json<ReleaseState>(NAMES.state)?.history.map((r) => r.id)).toEqual([RELEASE_ID, 'rel-previous']);
  });

  it('changes nothing when a re-run finds the release already promoted', async () => {
    const promoted = releaseState({ live: 'green', lastRelease: { ...PROMOTED, finishedAt: '2025-01-01T12:39:00.000Z' }, history: [summaryOf(PROMOTED)] });
    // A re-run after the lock is released must still succeed.
    params = fakeParameters(ssm, { [NAMES.state]: promoted });

    await expect(handler(event())).resolves.toStrictEqual({
      live: 'green',
      previousLive: 'blue',
      promotedAt: '2025-01-01T12:39:00.000Z',
      alreadyPromoted: true,
    });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('is a StateConflictError, writing nothing, when the state says another colour is live than at the start', async () => {
    given(releaseState({ live: 'green' }));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toBe(
      `State ${NAMES.state} says green is live, but this release started with blue live; it was changed during the release`,
    );
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('is a StateConflictError, writing nothing, when the state has disappeared', async () => {
    given(null);

    await expect(handler(event())).rejects.toMatchObject({
      name: 'StateConflictError',
      message: `State ${NAMES.state} disappeared during the release`,
    });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it.each([
    ['is gone', null],
    ['is being rolled back', lockDocument({ status: 'rolling-back', reason: 'ExecutionAbortedError' })],
    ['is left by a failed rollback', lockDocument({ status: 'rollback-failed' })],
    ["is another execution's", lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN })],
  ])('refuses with ExecutionAbortedError, writing nothing, when the lock %s', async (_case, held) => {
    params = fakeParameters(ssm, { [NAMES.state]: releaseState(), ...(held ? { [NAMES.lock]: held } : {}) });

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toBe(`Release ${RELEASE_ID} no longer holds the lock of 'colorapp'; not promoting`);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(params.json(NAMES.state)).toStrictEqual(releaseState());
  });

  it("reads the new colour's alarms (common and its own, not the old colour's) right before the state write", async () => {
    given(releaseState());

    await handler(event());

    expect(cloudwatch).toHaveReceivedCommandTimes(DescribeAlarmsCommand, 1);
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toMatchObject({ AlarmNames: ['colorapp-5xx', 'colorapp-green-p99'] });
    const [describe] = cloudwatch.commandCalls(DescribeAlarmsCommand);
    const [write] = ssm.commandCalls(PutParameterCommand);
    expect(describe.calledBefore(write)).toBe(true);
  });

  it.each<[string, Record<string, 'OK' | 'ALARM'>, string]>([
    ["the new colour's own alarm", { 'colorapp-green-p99': 'ALARM' }, 'Alarm colorapp-green-p99 is in ALARM'],
    ['the common alarm', { 'colorapp-5xx': 'ALARM' }, 'Alarm colorapp-5xx is in ALARM'],
    ['both', { 'colorapp-5xx': 'ALARM', 'colorapp-green-p99': 'ALARM' }, 'Alarms colorapp-5xx, colorapp-green-p99 are in ALARM'],
  ])('refuses with AlarmTriggeredError, writing nothing, when %s went to ALARM (e.g. during the approval wait)', async (_case, states, named) => {
    given(releaseState());
    givenAlarms({ 'colorapp-5xx': 'OK', 'colorapp-blue-p99': 'OK', 'colorapp-green-p99': 'OK', ...states });

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AlarmTriggeredError);
    expect((error as Error).message).toBe(`${named} for green just before promoting release ${RELEASE_ID}; not promoting, rolling back.`);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(params.json(NAMES.state)).toStrictEqual(releaseState());
  });

  it("promotes when only the old colour's alarm is in ALARM: it is not judged", async () => {
    given(releaseState());
    givenAlarms({ 'colorapp-5xx': 'OK', 'colorapp-blue-p99': 'ALARM', 'colorapp-green-p99': 'OK' });

    await expect(handler(event())).resolves.toMatchObject({ live: 'green', alreadyPromoted: false });
  });

  it('refuses with ResourceNotFoundError, writing nothing, when a configured alarm does not exist', async () => {
    given(releaseState());
    givenAlarms({ 'colorapp-5xx': 'OK' });

    await expect(handler(event())).rejects.toThrow(ResourceNotFoundError);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('reads no alarms when none are configured', async () => {
    given(releaseState());

    await handler(event({ health: { alarms: { common: [], blue: [], green: [] } } }));

    expect(cloudwatch).not.toHaveReceivedAnyCommand();
    expect(params.json<ReleaseState>(NAMES.state)?.live).toBe('green');
  });

  it('is a ValidationError, sending nothing, without the registered task definition', async () => {
    const input: Partial<ReturnType<typeof event>> = event();
    delete input.taskDefinition;

    await expect(handler(input)).rejects.toThrow(ValidationError);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
