import { DescribeServicesCommand, ECSClient, type Service, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/deploy-idle';
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

const ecsMock = mockClient(ECSClient);

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
  jest.spyOn(Date, 'now').mockReturnValue(NOW.getTime());
});

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
