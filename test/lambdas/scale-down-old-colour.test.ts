import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { ReleaseRecord, ReleaseState } from '../../lambdas/shared/documents';
import { handler } from '../../lambdas/scale-down-old-colour';
import { CLUSTER, COLOURS, ecsService, IMAGE, plannedRelease, RELEASE_ID, serviceConfig, taskDefinitionArn } from '../support/ecs-fixtures';
import { summaryOf } from '../support/release-documents';

const ecsMock = mockClient(ECSClient);
const ssmMock = mockClient(SSMClient);

const STATE_PARAMETER = '/ecs-release/colorapp/state';

function record(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: RELEASE_ID,
    executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:x',
    image: IMAGE,
    version: '1.4.0',
    fromColour: 'blue',
    toColour: 'green',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    outcome: 'promoted',
    startedAt: '2025-01-01T12:00:00.000Z',
    finishedAt: '2025-01-01T12:30:00.000Z',
    requestedBy: 'alice',
    reason: null,
    failure: null,
    verdicts: [],
    ...overrides,
  };
}

/** The state after this release promoted green. */
function promotedState(overrides: Partial<ReleaseState> = {}): ReleaseState {
  return {
    schemaVersion: 1,
    service: 'colorapp',
    live: 'green',
    colours: {
      blue: { taskDefinitionArn: taskDefinitionArn(7), image: 'colorapp:1.3.0', version: '1.3.0' },
      green: { taskDefinitionArn: taskDefinitionArn(8), image: IMAGE, version: '1.4.0' },
    },
    lastRelease: record(),
    history: [summaryOf(record())],
    updatedAt: '2025-01-01T12:30:00.000Z',
    ...overrides,
  };
}

function givenState(state: ReleaseState) {
  ssmMock.on(GetParameterCommand, { Name: STATE_PARAMETER }).resolves({ Parameter: { Name: STATE_PARAMETER, Value: JSON.stringify(state) } });
}

function scaleDown(release = plannedRelease()) {
  return handler({ release, colours: COLOURS });
}

beforeEach(() => {
  ecsMock.reset();
  ssmMock.reset();
  ecsMock.on(DescribeServicesCommand).resolves({ services: [ecsService('colorapp-blue', { desiredCount: 3 })] });
  ecsMock.on(UpdateServiceCommand).resolves({ service: ecsService('colorapp-blue', { desiredCount: 0 }) });
});

describe('scale-down-old-colour', () => {
  it('scales the previously live service to zero once the state shows this release promoted', async () => {
    givenState(promotedState());

    await expect(scaleDown()).resolves.toEqual({ serviceName: 'colorapp-blue', desiredCount: 0, changed: true });

    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: STATE_PARAMETER });
    expect(ecsMock.commandCalls(DescribeServicesCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      services: ['colorapp-blue'],
    });
    expect(ecsMock).toHaveReceivedCommandTimes(UpdateServiceCommand, 1);
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      service: 'colorapp-blue',
      desiredCount: 0,
    });
  });

  it('changes nothing when the old service is already at zero (re-run)', async () => {
    givenState(promotedState());
    ecsMock.on(DescribeServicesCommand).resolves({ services: [ecsService('colorapp-blue', { desiredCount: 0, runningCount: 0 })] });

    await expect(scaleDown()).resolves.toEqual({ serviceName: 'colorapp-blue', desiredCount: 0, changed: false });
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it.each([
    { when: 'the state still says the old colour is live', state: promotedState({ live: 'blue' }) },
    { when: 'the last release is another one', state: promotedState({ lastRelease: record({ id: 'rel-other' }) }) },
    { when: 'there is no last release', state: promotedState({ lastRelease: null }) },
    { when: 'this release was rolled back', state: promotedState({ lastRelease: record({ outcome: 'rolled-back' }) }) },
  ])('refuses with StateConflictError and touches no service when $when', async ({ state }) => {
    givenState(state);

    await expect(scaleDown()).rejects.toMatchObject({
      name: 'StateConflictError',
      message: expect.stringContaining('Refusing to scale down apps/colorapp-blue (blue)'),
    });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('refuses with StateConflictError and touches no service when there is no state document', async () => {
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));

    await expect(scaleDown()).rejects.toMatchObject({ name: 'StateConflictError', message: expect.stringContaining('does not exist') });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('refuses with StateConflictError and touches no service when the state document is unreadable', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: STATE_PARAMETER, Value: '{"live":"green"}' } });

    await expect(scaleDown()).rejects.toMatchObject({ name: 'StateConflictError' });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('fails with ScaleDownFailedError, touching no service, when SSM cannot be read', async () => {
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('no route'), { name: 'InternalServerError' }));

    await expect(scaleDown()).rejects.toMatchObject({ name: 'ScaleDownFailedError', message: expect.stringContaining('left running') });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('fails with ScaleDownFailedError, with the manual command, when UpdateService fails', async () => {
    givenState(promotedState());
    ecsMock.on(UpdateServiceCommand).rejects(Object.assign(new Error('Access denied'), { name: 'AccessDeniedException' }));

    const result = scaleDown();

    await expect(result).rejects.toMatchObject({ name: 'ScaleDownFailedError' });
    await expect(result).rejects.toThrow('AccessDeniedException: Access denied');
    await expect(result).rejects.toThrow('aws ecs update-service --cluster apps --service colorapp-blue --desired-count 0');
  });

  it('lets ThrottledError through unwrapped after its own retries, so the state machine can retry the step', async () => {
    givenState(promotedState());
    ecsMock.on(UpdateServiceCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    await expect(scaleDown()).rejects.toMatchObject({ name: 'ThrottledError' });
    expect(ecsMock).toHaveReceivedCommandTimes(UpdateServiceCommand, 6);
  });

  it('fails with ScaleDownFailedError when the old service no longer exists', async () => {
    givenState(promotedState());
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });

    await expect(scaleDown()).rejects.toMatchObject({ name: 'ScaleDownFailedError', message: expect.stringContaining('ResourceNotFoundError') });
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('refuses a configuration that names one ECS service for both colours, touching nothing', async () => {
    const release = plannedRelease(serviceConfig({ ecsServices: { blue: 'colorapp', green: 'colorapp' } }));

    await expect(scaleDown(release)).rejects.toMatchObject({ name: 'ValidationError' });
    expect(ssmMock.calls()).toHaveLength(0);
    expect(ecsMock.calls()).toHaveLength(0);
  });
});
