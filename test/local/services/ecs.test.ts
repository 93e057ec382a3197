// The local ECS API: task definitions, services, deployments and their errors, called directly and
// through the SDK over the local endpoint. No task processes here (services are sized 0 or run an
// image that does not exist); ecs-tasks.test.ts runs real ones.
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { describeService, isSteady, primaryDeployment } from '../../../lambdas/shared/ecs';
import { cloneTaskDefinition } from '../../../lambdas/shared/task-definition';
import { AwsServiceError } from '../../../local/contracts';
import { startLocalEndpoint } from '../../../local/endpoint/server';
import { LocalEcs } from '../../../local/services/ecs';

const CLUSTER = 'apps';
const PREFIX = 'arn:aws:ecs:eu-west-1:111122223333:';

let ecs: LocalEcs;

beforeEach(() => {
  ecs = new LocalEcs({ cluster: CLUSTER, region: 'eu-west-1', accountId: '111122223333', images: {}, healthCheckIntervalMs: 20 });
});
afterEach(() => ecs.close());

function register(image = 'colorapp:v1', tags: { key: string; value: string }[] = []) {
  return ecs.registerTaskDefinition({
    family: 'colorapp',
    containerDefinitions: [{ name: 'app', image, environment: [{ name: 'COLOR', value: 'green' }] }],
    requiresCompatibilities: ['FARGATE'],
    tags,
  });
}

async function expectAwsError(promise: Promise<unknown>, code: string, message?: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AwsServiceError);
  expect((error as AwsServiceError).code).toBe(code);
  if (message) expect((error as AwsServiceError).message).toBe(message);
}

type ServiceJson = {
  desiredCount: number;
  runningCount: number;
  taskDefinition: string;
  deployments: { id: string; status: string; taskDefinition: string; desiredCount: number; failedTasks: number; rolloutState: string; rolloutStateReason: string }[];
  events: { message: string }[];
};

async function describe1(name: string): Promise<ServiceJson> {
  const out = (await ecs.operations.DescribeServices({ cluster: CLUSTER, services: [name] })) as { services: ServiceJson[] };
  return out.services[0];
}

async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('task definitions', () => {
  it('numbers revisions per family and describes them by ARN, family:revision or family (the latest)', async () => {
    const first = register('colorapp:v1', [{ key: 'ecs-release:release-id', value: 'r1' }]);
    const second = register('colorapp:v2');

    expect([first.taskDefinitionArn, second.taskDefinitionArn]).toEqual([
      `${PREFIX}task-definition/colorapp:1`,
      `${PREFIX}task-definition/colorapp:2`,
    ]);
    const byArn = (await ecs.operations.DescribeTaskDefinition({ taskDefinition: first.taskDefinitionArn, include: ['TAGS'] })) as {
      taskDefinition: Record<string, unknown>;
      tags: unknown[];
    };
    expect(byArn.taskDefinition).toMatchObject({ family: 'colorapp', revision: 1, status: 'ACTIVE', compatibilities: ['EC2', 'FARGATE'] });
    expect(typeof byArn.taskDefinition.registeredAt).toBe('number');
    expect(byArn.tags).toEqual([{ key: 'ecs-release:release-id', value: 'r1' }]);
    const latest = (await ecs.operations.DescribeTaskDefinition({ taskDefinition: 'colorapp' })) as { taskDefinition: { revision: number }; tags?: unknown };
    expect(latest.taskDefinition.revision).toBe(2);
    expect(latest.tags).toBeUndefined(); // tags only with include: ['TAGS'], as ECS
    const pinned = (await ecs.operations.DescribeTaskDefinition({ taskDefinition: 'colorapp:1' })) as { taskDefinition: { revision: number } };
    expect(pinned.taskDefinition.revision).toBe(1);
  });

  it.each(['nope', 'colorapp:9', `${PREFIX}task-definition/colorapp:3`])(
    'answers %s, which does not exist, with ECS\'s ClientException',
    async (reference) => {
      register();
      await expectAwsError(ecs.operations.DescribeTaskDefinition({ taskDefinition: reference }), 'ClientException', 'Unable to describe task definition.');
    },
  );

  it('refuses a task definition without containers or with a bad family', async () => {
    await expectAwsError(ecs.operations.RegisterTaskDefinition({ family: 'colorapp', containerDefinitions: [] }), 'ClientException');
    await expectAwsError(ecs.operations.RegisterTaskDefinition({ family: 'bad family', containerDefinitions: [{ name: 'a', image: 'b' }] }), 'ClientException');
  });

  it('lists task definition ARNs by family prefix, in either order', async () => {
    register();
    register();
    ecs.registerTaskDefinition({ family: 'other', containerDefinitions: [{ name: 'a', image: 'b' }] });

    const out = (await ecs.operations.ListTaskDefinitions({ familyPrefix: 'color', sort: 'DESC' })) as { taskDefinitionArns: string[] };

    expect(out.taskDefinitionArns).toEqual([`${PREFIX}task-definition/colorapp:2`, `${PREFIX}task-definition/colorapp:1`]);
  });
});

describe('services', () => {
  it('reports a service that does not exist as a MISSING failure, and another cluster as not found', async () => {
    const out = (await ecs.operations.DescribeServices({ cluster: CLUSTER, services: ['colorapp-blue'] })) as {
      services: unknown[];
      failures: unknown[];
    };

    expect(out).toEqual({ services: [], failures: [{ arn: `${PREFIX}service/${CLUSTER}/colorapp-blue`, reason: 'MISSING' }] });
    await expectAwsError(ecs.operations.DescribeServices({ cluster: 'other', services: ['x'] }), 'ClusterNotFoundException');
    await expectAwsError(ecs.operations.DescribeServices({ services: ['x'] }), 'ClusterNotFoundException'); // "default"
  });

  it('answers UpdateService for a missing service, cluster or revision with ECS\'s errors', async () => {
    ecs.seedService({ serviceName: 'colorapp-green', taskDefinition: register().taskDefinitionArn, desiredCount: 0 });

    await expectAwsError(ecs.operations.UpdateService({ cluster: CLUSTER, service: 'nope', desiredCount: 1 }), 'ServiceNotFoundException');
    await expectAwsError(ecs.operations.UpdateService({ cluster: 'other', service: 'colorapp-green' }), 'ClusterNotFoundException');
    await expectAwsError(ecs.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-green', taskDefinition: 'colorapp:7' }), 'ClientException');
    await expectAwsError(ecs.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-green', desiredCount: -1 }), 'InvalidParameterException');
  });

  it('starts a service at zero tasks steady, and a new revision at zero completes at once', async () => {
    const first = register();
    ecs.seedService({ serviceName: 'colorapp-green', taskDefinition: first.taskDefinitionArn, desiredCount: 0 });
    const before = await describe1('colorapp-green');

    const out = (await ecs.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-green', taskDefinition: register('colorapp:v2').taskDefinitionArn })) as {
      service: ServiceJson;
    };

    expect(before.deployments).toMatchObject([{ status: 'PRIMARY', rolloutState: 'COMPLETED', desiredCount: 0 }]);
    expect(out.service.deployments).toMatchObject([{ status: 'PRIMARY', rolloutState: 'COMPLETED', taskDefinition: `${PREFIX}task-definition/colorapp:2` }]);
    expect(out.service.deployments[0].id).not.toBe(before.deployments[0].id);
    expect(out.service.taskDefinition).toBe(`${PREFIX}task-definition/colorapp:2`);
  });

  it('fails a deployment whose image does not exist, keeping the previous deployment ACTIVE', async () => {
    ecs.seedService({ serviceName: 'colorapp-green', taskDefinition: register().taskDefinitionArn, desiredCount: 0 });

    await ecs.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-green', taskDefinition: register('colorapp:nope').taskDefinitionArn, desiredCount: 1 });
    await until('the circuit breaker', async () => (await describe1('colorapp-green')).deployments[0].rolloutState === 'FAILED');

    const service = await describe1('colorapp-green');
    expect(service.deployments).toMatchObject([
      { status: 'PRIMARY', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', failedTasks: 3 },
      { status: 'ACTIVE', taskDefinition: `${PREFIX}task-definition/colorapp:1` },
    ]);
    expect(service.events.map((e) => e.message).join('\n')).toContain('CannotPullContainerError');
    const stopped = (await ecs.operations.ListTasks({ cluster: CLUSTER, serviceName: 'colorapp-green', desiredStatus: 'STOPPED' })) as { taskArns: string[] };
    const tasks = (await ecs.operations.DescribeTasks({ cluster: CLUSTER, tasks: stopped.taskArns })) as { tasks: Record<string, unknown>[] };
    expect(tasks.tasks[0]).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', group: 'service:colorapp-green' });
  });

  it('lists the services of the cluster', async () => {
    ecs.seedService({ serviceName: 'colorapp-blue', taskDefinition: register().taskDefinitionArn, desiredCount: 0 });

    await expect(ecs.operations.ListServices({ cluster: CLUSTER })).resolves.toEqual({ serviceArns: [`${PREFIX}service/${CLUSTER}/colorapp-blue`] });
  });

  it('resizes the PRIMARY deployment when only the desired count changes', async () => {
    ecs.seedService({ serviceName: 'colorapp-green', taskDefinition: register('colorapp:nope').taskDefinitionArn, desiredCount: 0 });
    const before = await describe1('colorapp-green');

    const out = (await ecs.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-green', desiredCount: 2, taskDefinition: 'colorapp:1' })) as {
      service: ServiceJson;
    };

    expect(out.service.deployments).toHaveLength(1);
    expect(out.service.deployments[0]).toMatchObject({ id: before.deployments[0].id, desiredCount: 2 });
    expect(out.service.desiredCount).toBe(2);
  });
});

describe('through the SDK and the local endpoint', () => {
  it('serves the calls and fields the release handlers use', async () => {
    const endpoint = await startLocalEndpoint({ jsonServices: [ecs] });
    const client = new ECSClient({ endpoint: endpoint.url, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      const live = register('colorapp:v1', [{ key: 'team', value: 'colours' }]);
      ecs.seedService({ serviceName: 'colorapp-green', taskDefinition: live.taskDefinitionArn, desiredCount: 0 });

      const service = await describeService(client, CLUSTER, 'colorapp-green');
      expect(isSteady(service)).toBe(true);
      expect(primaryDeployment(service)?.createdAt).toBeInstanceOf(Date);
      expect(service.events?.[0]?.createdAt).toBeInstanceOf(Date);
      await expect(describeService(client, CLUSTER, 'nope')).rejects.toThrow(/ECS service nope in cluster apps: MISSING/);
      await expect(describeService(client, 'other', 'colorapp-green')).rejects.toThrow(/ECS cluster other does not exist/);

      // The Register step: describe the live revision with tags, clone it, register the clone.
      const described = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: live.taskDefinitionArn, include: ['TAGS'] }));
      expect(described.taskDefinition?.registeredAt).toBeInstanceOf(Date);
      const input = cloneTaskDefinition(described.taskDefinition!, described.tags, {
        family: 'colorapp',
        containerName: 'app',
        image: 'colorapp:v2',
        colourEnvironmentVariable: 'COLOR',
        colour: 'green',
        releaseId: 'rel-1',
        version: 'v2',
      });
      const registered = await client.send(new RegisterTaskDefinitionCommand(input));
      expect(registered.taskDefinition).toMatchObject({ revision: 2, containerDefinitions: [{ name: 'app', image: 'colorapp:v2' }] });
      expect(registered.tags).toEqual(expect.arrayContaining([{ key: 'team', value: 'colours' }, { key: 'ecs-release:release-id', value: 'rel-1' }]));

      const updated = await client.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'colorapp-green', taskDefinition: registered.taskDefinition?.taskDefinitionArn, desiredCount: 0 }));
      expect(primaryDeployment(updated.service!)?.taskDefinition).toBe(registered.taskDefinition?.taskDefinitionArn);

      const missing = await client.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'nope', desiredCount: 1 })).catch((e: unknown) => e as Error);
      expect(missing).toMatchObject({ name: 'ServiceNotFoundException' });
      const unknown = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })).catch((e: unknown) => e as Error);
      expect(unknown).toMatchObject({ name: 'ClientException', message: 'Unable to describe task definition.' });
      const all = await client.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['colorapp-green', 'nope'] }));
      expect(all.failures).toEqual([{ arn: `${PREFIX}service/${CLUSTER}/nope`, reason: 'MISSING' }]);
    } finally {
      client.destroy();
      await endpoint.close();
    }
  });
});
