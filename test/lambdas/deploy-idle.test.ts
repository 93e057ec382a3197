import { DescribeServicesCommand, ECSClient, type Service, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/deploy-idle';
import type { LockDocument } from '../../lambdas/shared/documents';
import { ExecutionAbortedError } from '../../lambdas/shared/errors';
import {
  CLUSTER,
  COLOURS,
  deployment,
  ecsService,
  LIVE_TASK_DEFINITION_ARN,
  plannedRelease,
  serviceConfig,
  taskDefinitionArn,
} from '../support/ecs-fixtures';
import { awsError, fakeParameters, lockDocument, NAMES, OTHER_EXECUTION_ARN, undoPlan } from '../support/release-documents';

const ecsMock = mockClient(ECSClient);
const ssm = mockClient(SSMClient);
let params: ReturnType<typeof fakeParameters>;

const NEW_ARN = taskDefinitionArn(8);
const NOW = new Date('2025-01-01T12:10:00.000Z');
const NEW_DEPLOYMENT = deployment({
  id: 'ecs-svc/2222222222222222222',
  taskDefinition: NEW_ARN,
  desiredCount: 3,
  runningCount: 0,
  rolloutState: 'IN_PROGRESS',
  createdAt: new Date('2025-01-01T12:10:01.000Z'),
});

function event(colours = COLOURS) {
  return { release: plannedRelease(), colours, taskDefinition: { taskDefinitionArn: NEW_ARN, revision: 8, reused: false } };
}

function givenServices(live: Service, idle: Service) {
  ecsMock.on(DescribeServicesCommand, { services: [live.serviceName!] }).resolves({ services: [live] });
  ecsMock.on(DescribeServicesCommand, { services: [idle.serviceName!] }).resolves({ services: [idle] });
}

/** The idle (green) service as the release finds it: scaled to zero on an older revision. */
function idleAtZero(): Service {
  return ecsService('colorapp-green', {
    desiredCount: 0,
    runningCount: 0,
    deployments: [deployment({ id: 'ecs-svc/old', taskDefinition: taskDefinitionArn(6), desiredCount: 0, runningCount: 0 })],
  });
}

beforeEach(() => {
  ecsMock.reset();
  ssm.reset();
  params = fakeParameters(ssm, { [NAMES.lock]: lockDocument() });
  jest.spyOn(Date, 'now').mockReturnValue(NOW.getTime());
});

/**
 * A stateful idle service: DescribeServices shows what the last UpdateService set. `duringUpdate`
 * runs while the first UpdateService is "in flight", as a rollback taking the lock would.
 */
function statefulIdle(initial: Service, duringUpdate: () => void = () => undefined) {
  let current = initial;
  let updates = 0;
  ecsMock.on(DescribeServicesCommand, { services: ['colorapp-blue'] }).resolves({ services: [ecsService('colorapp-blue', { desiredCount: 3 })] });
  ecsMock.on(DescribeServicesCommand, { services: ['colorapp-green'] }).callsFake(async () => ({ services: [current] }));
  ecsMock.on(UpdateServiceCommand).callsFake(async (input: { taskDefinition: string; desiredCount: number }) => {
    if (updates++ === 0) duringUpdate();
    current = ecsService('colorapp-green', {
      taskDefinition: input.taskDefinition,
      desiredCount: input.desiredCount,
      deployments: [deployment({ id: `ecs-svc/${updates}`, taskDefinition: input.taskDefinition, desiredCount: input.desiredCount, rolloutState: 'IN_PROGRESS' })],
    });
    return { service: current };
  });
  return { service: () => current };
}

/** The UpdateService calls sent, as (revision, count) pairs. */
function updates(): Array<[string | undefined, number | undefined]> {
  return ecsMock.commandCalls(UpdateServiceCommand).map((call) => [call.args[0].input.taskDefinition, call.args[0].input.desiredCount]);
}

afterEach(() => jest.restoreAllMocks());

describe('deploy-idle', () => {
  it('updates the idle service to the release revision at the live desired count', async () => {
    givenServices(ecsService('colorapp-blue', { desiredCount: 3 }), idleAtZero());
    ecsMock.on(UpdateServiceCommand).resolves({
      service: ecsService('colorapp-green', { desiredCount: 3, runningCount: 0, deployments: [NEW_DEPLOYMENT, deployment({ status: 'ACTIVE' })] }),
    });

    await expect(handler(event())).resolves.toEqual({
      serviceName: 'colorapp-green',
      taskDefinitionArn: NEW_ARN,
      desiredCount: 3,
      deploymentId: 'ecs-svc/2222222222222222222',
      startedAt: '2025-01-01T12:10:01.000Z',
    });

    expect(ecsMock).toHaveReceivedCommandTimes(UpdateServiceCommand, 1);
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      service: 'colorapp-green',
      taskDefinition: NEW_ARN,
      desiredCount: 3,
    });
  });

  it('deploys to blue when green is live', async () => {
    givenServices(ecsService('colorapp-green', { desiredCount: 2 }), ecsService('colorapp-blue', { desiredCount: 0 }));
    ecsMock.on(UpdateServiceCommand).resolves({ service: ecsService('colorapp-blue', { deployments: [NEW_DEPLOYMENT] }) });

    await expect(handler(event({ live: 'green', idle: 'blue', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN }))).resolves.toMatchObject({
      serviceName: 'colorapp-blue',
      desiredCount: 2,
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      service: 'colorapp-blue',
      taskDefinition: NEW_ARN,
      desiredCount: 2,
    });
  });

  it('runs at least one task when the live service is scaled to zero', async () => {
    givenServices(ecsService('colorapp-blue', { desiredCount: 0, runningCount: 0 }), idleAtZero());
    ecsMock.on(UpdateServiceCommand).resolves({ service: ecsService('colorapp-green', { deployments: [NEW_DEPLOYMENT] }) });

    await expect(handler(event())).resolves.toMatchObject({ desiredCount: 1 });
    expect(ecsMock).toHaveReceivedCommandWith(UpdateServiceCommand, { desiredCount: 1 });
  });

  it('does not update again when the idle PRIMARY deployment already runs the revision at that count (re-run)', async () => {
    const existing = deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: NEW_ARN, desiredCount: 3, runningCount: 1, rolloutState: 'IN_PROGRESS', createdAt: new Date('2025-01-01T12:05:00.000Z') });
    givenServices(ecsService('colorapp-blue', { desiredCount: 3 }), ecsService('colorapp-green', { desiredCount: 3, deployments: [existing] }));

    await expect(handler(event())).resolves.toEqual({
      serviceName: 'colorapp-green',
      taskDefinitionArn: NEW_ARN,
      desiredCount: 3,
      deploymentId: 'ecs-svc/2222222222222222222',
      startedAt: '2025-01-01T12:05:00.000Z',
    });
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('updates the count, timing from now, when the PRIMARY deployment runs the revision at another size', async () => {
    // ECS keeps the PRIMARY deployment (and its old createdAt) when only the count changes.
    const existing = deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: NEW_ARN, desiredCount: 1, createdAt: new Date('2025-01-01T11:00:00.000Z') });
    givenServices(ecsService('colorapp-blue', { desiredCount: 3 }), ecsService('colorapp-green', { desiredCount: 1, deployments: [existing] }));
    ecsMock.on(UpdateServiceCommand).resolves({
      service: ecsService('colorapp-green', { desiredCount: 3, deployments: [{ ...existing, desiredCount: 3 }] }),
    });

    await expect(handler(event())).resolves.toMatchObject({
      deploymentId: 'ecs-svc/2222222222222222222',
      desiredCount: 3,
      startedAt: NOW.toISOString(),
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      service: 'colorapp-green',
      taskDefinition: NEW_ARN,
      desiredCount: 3,
    });
  });

  it('fails with StateConflictError when the update leaves no PRIMARY deployment of the revision', async () => {
    givenServices(ecsService('colorapp-blue'), idleAtZero());
    ecsMock.on(UpdateServiceCommand).resolves({ service: ecsService('colorapp-green') });

    await expect(handler(event())).rejects.toMatchObject({
      name: 'StateConflictError',
      message: expect.stringContaining(`PRIMARY runs ${LIVE_TASK_DEFINITION_ARN}`),
    });
  });

  it('fails with ResourceNotFoundError, updating nothing, when the idle service does not exist', async () => {
    ecsMock.on(DescribeServicesCommand, { services: ['colorapp-blue'] }).resolves({ services: [ecsService('colorapp-blue')] });
    ecsMock
      .on(DescribeServicesCommand, { services: ['colorapp-green'] })
      .resolves({ services: [], failures: [{ arn: 'arn:aws:ecs:eu-west-1:111122223333:service/apps/colorapp-green', reason: 'MISSING' }] });

    await expect(handler(event())).rejects.toMatchObject({ name: 'ResourceNotFoundError', message: expect.stringContaining('colorapp-green') });
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it.each<[string, LockDocument | undefined, string]>([
    ['is gone', undefined, `lock ${NAMES.lock} does not exist`],
    ['is being rolled back', lockDocument({ status: 'rolling-back', reason: 'ExecutionAbortedError' }), "the lock's status is 'rolling-back'"],
    ['is left by a failed rollback', lockDocument({ status: 'rollback-failed' }), "the lock's status is 'rollback-failed'"],
    [
      "is another execution's",
      lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN }),
      `the lock belongs to execution ${OTHER_EXECUTION_ARN} (release rel-other)`,
    ],
  ])('refuses with ExecutionAbortedError, touching no service, when the lock %s', async (_case, held, reason) => {
    params = fakeParameters(ssm, held ? { [NAMES.lock]: held } : {});
    givenServices(ecsService('colorapp-blue', { desiredCount: 3 }), idleAtZero());

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toBe(
      `Not deploying ${NEW_ARN} to ${CLUSTER}/colorapp-green for release rel-20250101-abc123: ${reason}. ` +
        'The release was aborted or is being rolled back; the service was not touched.',
    );
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('reverts to the undo plan and aborts when a rollback took the lock while UpdateService was in flight', async () => {
    const idle = statefulIdle(idleAtZero(), () => params.set(NAMES.lock, lockDocument({ status: 'rolling-back', reason: 'States.Timeout' })));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toBe(
      `Release rel-20250101-abc123 lost its lock during its deployment to ${CLUSTER}/colorapp-green (the lock's status is 'rolling-back'); ` +
        `the service was set back to ${taskDefinitionArn(6)} x0.`,
    );
    expect(updates()).toEqual([
      [NEW_ARN, 3],
      [taskDefinitionArn(6), 0],
    ]);
    expect(idle.service()).toMatchObject({ taskDefinition: taskDefinitionArn(6), desiredCount: 0 });
  });

  it('prefers the undo plan over what the service ran just before the call', async () => {
    // A re-run after a partial first attempt finds the idle service already changed: the plan is the truth.
    const changed = ecsService('colorapp-green', { taskDefinition: taskDefinitionArn(5), desiredCount: 1, deployments: [deployment({ taskDefinition: taskDefinitionArn(5), desiredCount: 1 })] });
    statefulIdle(changed, () => params.set(NAMES.lock, lockDocument({ status: 'rolling-back', undo: undoPlan() })));

    await expect(handler(event())).rejects.toThrow(ExecutionAbortedError);
    expect(updates()).toEqual([
      [NEW_ARN, 3],
      [taskDefinitionArn(6), 0],
    ]);
  });

  it('reverts to what the service ran before the call when the lock is gone (a cleanup finished meanwhile)', async () => {
    const before = ecsService('colorapp-green', { taskDefinition: taskDefinitionArn(5), desiredCount: 1, deployments: [deployment({ taskDefinition: taskDefinitionArn(5), desiredCount: 1 })] });
    // The cleanup reverted to its plan and deleted the lock before our update landed.
    statefulIdle(before, () => (params = fakeParameters(ssm, {})));

    const error = await handler(event()).catch((e: unknown) => e);

    expect((error as Error).message).toBe(
      `Release rel-20250101-abc123 lost its lock during its deployment to ${CLUSTER}/colorapp-green (lock ${NAMES.lock} does not exist); ` +
        `the service was set back to ${taskDefinitionArn(5)} x1.`,
    );
    expect(updates()).toEqual([
      [NEW_ARN, 3],
      [taskDefinitionArn(5), 1],
    ]);
  });

  it('leaves the service alone, and says so, when another release took the lock meanwhile', async () => {
    statefulIdle(idleAtZero(), () => params.set(NAMES.lock, lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN })));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toBe(
      `Release rel-20250101-abc123 lost its lock during its deployment to ${CLUSTER}/colorapp-green ` +
        `(the lock belongs to execution ${OTHER_EXECUTION_ARN} (release rel-other)); that release now owns the service, so it was not reverted. ` +
        `If that release is not deploying there, set ${CLUSTER}/colorapp-green back to ${taskDefinitionArn(6)} x0 by hand.`,
    );
    expect(updates()).toEqual([[NEW_ARN, 3]]);
  });

  it('aborts, asking for the revert by hand, when the revert itself fails', async () => {
    statefulIdle(idleAtZero(), () => {
      params.set(NAMES.lock, lockDocument({ status: 'rolling-back' }));
      ecsMock.on(UpdateServiceCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecs:UpdateService'));
    });

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toBe(
      `Release rel-20250101-abc123 lost its lock during its deployment to ${CLUSTER}/colorapp-green (the lock's status is 'rolling-back') ` +
        `and reverting it to ${taskDefinitionArn(6)} x0 failed. Set the service back by hand.`,
    );
    expect((error as Error).cause).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('refuses a configuration that names one ECS service for both colours, touching nothing', async () => {
    const release = plannedRelease(serviceConfig({ ecsServices: { blue: 'colorapp', green: 'colorapp' } }));

    await expect(handler({ ...event(), release })).rejects.toMatchObject({ name: 'ValidationError' });
    expect(ecsMock.calls()).toHaveLength(0);
  });

  it('rejects input without a task definition ARN as a ValidationError', async () => {
    await expect(handler({ ...event(), taskDefinition: {} })).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('taskDefinition.taskDefinitionArn'),
    });
    expect(ecsMock.calls()).toHaveLength(0);
  });
});
