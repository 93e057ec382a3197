import { DescribeServicesCommand, ECSClient, type Deployment, type Service } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/check-stability';
import type { IdleDeployment } from '../../lambdas/deploy-idle';
import { CLUSTER, COLOURS, deployment, ecsService, plannedRelease, taskDefinitionArn } from '../support/ecs-fixtures';

const ecsMock = mockClient(ECSClient);

const NEW_ARN = taskDefinitionArn(8);
const STARTED_AT = '2025-01-01T12:10:00.000Z';
/** The fixture configuration allows 600 s. */
const TIMEOUT_SECONDS = 600;

const DEPLOYED: IdleDeployment = {
  serviceName: 'colorapp-green',
  taskDefinitionArn: NEW_ARN,
  desiredCount: 3,
  deploymentId: 'ecs-svc/2222222222222222222',
  startedAt: STARTED_AT,
};

function ours(overrides: Partial<Deployment> = {}): Deployment {
  return deployment({ id: DEPLOYED.deploymentId, taskDefinition: NEW_ARN, ...overrides });
}

function givenIdle(overrides: Partial<Service>) {
  ecsMock.on(DescribeServicesCommand).resolves({ services: [ecsService('colorapp-green', overrides)] });
}

function at(elapsedSeconds: number) {
  jest.spyOn(Date, 'now').mockReturnValue(Date.parse(STARTED_AT) + elapsedSeconds * 1000);
}

function check() {
  return handler({ release: plannedRelease(), colours: COLOURS, deployment: DEPLOYED });
}

beforeEach(() => {
  ecsMock.reset();
  at(30);
});

afterEach(() => jest.restoreAllMocks());

describe('check-stability', () => {
  it('asks ECS about the idle service only', async () => {
    givenIdle({ deployments: [ours()] });

    await check();

    expect(ecsMock).toHaveReceivedCommandTimes(DescribeServicesCommand, 1);
    expect(ecsMock.commandCalls(DescribeServicesCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      services: ['colorapp-green'],
    });
  });

  it.each([
    { when: 'the deployment is COMPLETED and alone, all tasks running', deployments: [ours()], rolloutState: 'COMPLETED' },
    {
      when: 'the controller reports no rollout state, alone, all tasks running',
      deployments: [ours({ rolloutState: undefined })],
      rolloutState: null,
    },
  ])('is stable when $when', async ({ deployments, rolloutState }) => {
    givenIdle({ desiredCount: 3, runningCount: 3, deployments });

    await expect(check()).resolves.toEqual({ stable: true, runningCount: 3, desiredCount: 3, rolloutState, elapsedSeconds: 30 });
  });

  it('is stable even past the timeout when it stabilized (stability wins over the clock)', async () => {
    at(TIMEOUT_SECONDS + 60);
    givenIdle({ deployments: [ours()] });

    await expect(check()).resolves.toMatchObject({ stable: true, elapsedSeconds: TIMEOUT_SECONDS + 60 });
  });

  it.each([
    {
      when: 'the rollout is IN_PROGRESS',
      service: { runningCount: 1, deployments: [ours({ rolloutState: 'IN_PROGRESS', runningCount: 1 })] },
      expected: { runningCount: 1, desiredCount: 3, rolloutState: 'IN_PROGRESS' },
    },
    {
      when: 'all tasks run but the old deployment is still draining',
      service: { runningCount: 4, deployments: [ours(), deployment({ status: 'ACTIVE', runningCount: 1 })] },
      expected: { runningCount: 3, desiredCount: 3, rolloutState: 'COMPLETED' },
    },
    {
      when: 'the rollout is COMPLETED but a task is missing',
      service: { runningCount: 2, deployments: [ours({ runningCount: 2 })] },
      expected: { runningCount: 2, desiredCount: 3, rolloutState: 'COMPLETED' },
    },
  ])('is not stable yet when $when', async ({ service, expected }) => {
    givenIdle({ desiredCount: 3, ...service });

    await expect(check()).resolves.toEqual({ stable: false, elapsedSeconds: 30, ...expected });
  });

  it('is not stable yet, without failing, at exactly the timeout', async () => {
    at(TIMEOUT_SECONDS);
    givenIdle({ runningCount: 1, deployments: [ours({ rolloutState: 'IN_PROGRESS', runningCount: 1 })] });

    await expect(check()).resolves.toMatchObject({ stable: false, elapsedSeconds: TIMEOUT_SECONDS });
  });

  it('fails with DeploymentFailedError carrying the rollout reason when ECS marked it FAILED', async () => {
    const reason = 'ECS deployment circuit breaker: tasks failed to start.';
    givenIdle({ runningCount: 0, deployments: [ours({ rolloutState: 'FAILED', rolloutStateReason: reason, runningCount: 0 })] });

    await expect(check()).rejects.toMatchObject({
      name: 'DeploymentFailedError',
      message: expect.stringContaining(reason),
    });
  });

  it('fails with DeploymentFailedError, not a conflict, when the circuit breaker failed ours and ECS rolls back to the old revision', async () => {
    // With `rollback: true`, ECS starts a new PRIMARY deployment of the last completed revision
    // and keeps the failed one ACTIVE (FAILED) while its tasks stop.
    const previous = taskDefinitionArn(7);
    const reason = 'ECS deployment circuit breaker: tasks failed to start.';
    givenIdle({
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      deployments: [
        deployment({ id: 'ecs-svc/rollback', taskDefinition: previous, rolloutState: 'IN_PROGRESS' }),
        ours({ status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: reason, runningCount: 0 }),
      ],
    });

    const result = check();

    await expect(result).rejects.toMatchObject({ name: 'DeploymentFailedError' });
    await expect(result).rejects.toThrow(reason);
    await expect(result).rejects.toThrow(`rolling the service back to ${previous}`);
  });

  it('fails with StabilizationTimeoutError naming the counts when it is still unstable after the timeout', async () => {
    at(TIMEOUT_SECONDS + 1);
    givenIdle({
      runningCount: 1,
      deployments: [ours({ rolloutState: 'IN_PROGRESS', runningCount: 1 })],
      events: [{ id: 'e1', message: '(service colorapp-green) is unable to consistently start tasks successfully.' }],
    });

    const result = check();

    await expect(result).rejects.toMatchObject({ name: 'StabilizationTimeoutError' });
    await expect(result).rejects.toThrow('1/3 tasks running');
    await expect(result).rejects.toThrow(`after ${TIMEOUT_SECONDS + 1}s (limit ${TIMEOUT_SECONDS}s)`);
    await expect(result).rejects.toThrow('unable to consistently start tasks');
  });

  it('fails with StateConflictError when someone else deployed another revision to the idle service', async () => {
    const foreign = taskDefinitionArn(9);
    givenIdle({
      deployments: [
        deployment({ id: 'ecs-svc/foreign', taskDefinition: foreign, rolloutState: 'IN_PROGRESS' }),
        ours({ status: 'ACTIVE' }),
      ],
    });

    await expect(check()).rejects.toMatchObject({
      name: 'StateConflictError',
      message: expect.stringContaining(`now deploys ${foreign}`),
    });
  });

  it('fails with StateConflictError, rather than calling zero of zero stable, when the idle service was scaled to 0', async () => {
    givenIdle({ desiredCount: 0, runningCount: 0, deployments: [ours({ desiredCount: 0, runningCount: 0 })] });

    await expect(check()).rejects.toMatchObject({ name: 'StateConflictError', message: expect.stringContaining('scaled to 0') });
  });

  it('follows a forced redeploy of the same revision rather than calling it a conflict', async () => {
    givenIdle({ deployments: [ours({ id: 'ecs-svc/forced' })] });

    await expect(check()).resolves.toMatchObject({ stable: true });
  });

  it('fails with ResourceNotFoundError when the idle service is gone', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [ecsService('colorapp-green', { status: 'INACTIVE' })] });

    await expect(check()).rejects.toMatchObject({ name: 'ResourceNotFoundError' });
  });

  it('rejects a deployment without a valid startedAt as a ValidationError, calling nothing', async () => {
    const result = handler({ release: plannedRelease(), colours: COLOURS, deployment: { ...DEPLOYED, startedAt: 'yesterday' } });

    await expect(result).rejects.toMatchObject({ name: 'ValidationError', message: expect.stringContaining('deployment.startedAt') });
    expect(ecsMock.calls()).toHaveLength(0);
  });
});
