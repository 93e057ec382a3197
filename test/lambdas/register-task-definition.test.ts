import {
  ClientException,
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandOutput,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/register-task-definition';
import {
  appMeshTaskDefinition,
  COLOURS,
  FAMILY,
  IMAGE,
  LIVE_TASK_DEFINITION_ARN,
  liveTags,
  liveTaskDefinition,
  plannedRelease,
  RELEASE_ID,
  serviceConfig,
  taskDefinitionArn,
  virtualNodeArn,
} from '../support/ecs-fixtures';

const ecsMock = mockClient(ECSClient);

const NEW_ARN = taskDefinitionArn(8);

function notFound() {
  return new ClientException({ message: 'Unable to describe task definition.', $metadata: {} });
}

const TEMPLATE_FAMILY = `${FAMILY}-green-template`;

/**
 * DescribeTaskDefinition answered by what it is asked: the family (its latest revision), the idle
 * colour's template family (none unless given), and the live revision by ARN.
 */
function givenTaskDefinitions(
  latest: { releaseId: string } | 'none' | 'live',
  options: { template?: DescribeTaskDefinitionCommandOutput; live?: DescribeTaskDefinitionCommandOutput } = {},
) {
  const live = options.live ?? { taskDefinition: liveTaskDefinition(), tags: liveTags(), $metadata: {} };
  ecsMock.on(DescribeTaskDefinitionCommand).callsFake(async (input: { taskDefinition: string }) => {
    switch (input.taskDefinition) {
      case FAMILY:
      case 'colorapp-v2':
        if (latest === 'none') throw notFound();
        if (latest === 'live') return live;
        return {
          taskDefinition: { ...liveTaskDefinition(), taskDefinitionArn: NEW_ARN, revision: 8 },
          tags: [{ key: 'ecs-release:release-id', value: latest.releaseId }],
        };
      case LIVE_TASK_DEFINITION_ARN:
        return live;
      default:
        if (options.template && input.taskDefinition === options.template.taskDefinition?.family) return options.template;
        throw notFound();
    }
  });
}

beforeEach(() => {
  ecsMock.reset();
  ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW_ARN, revision: 8 } });
});

describe('register-task-definition', () => {
  it('registers a clone of the live revision with the release image, idle colour and release tags', async () => {
    givenTaskDefinitions('live');

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toEqual({
      taskDefinitionArn: NEW_ARN,
      revision: 8,
      reused: false,
    });

    expect(ecsMock).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 3);
    expect(ecsMock).toHaveReceivedNthCommandWith(1, DescribeTaskDefinitionCommand, { taskDefinition: FAMILY, include: ['TAGS'] });
    // No template family for green: the live revision is the source.
    expect(ecsMock).toHaveReceivedNthCommandWith(2, DescribeTaskDefinitionCommand, { taskDefinition: TEMPLATE_FAMILY, include: ['TAGS'] });
    expect(ecsMock).toHaveReceivedNthCommandWith(3, DescribeTaskDefinitionCommand, {
      taskDefinition: LIVE_TASK_DEFINITION_ARN,
      include: ['TAGS'],
    });
    const live = liveTaskDefinition();
    const [app, envoy, xray] = live.containerDefinitions!;
    const sent = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
    expect(sent).toStrictEqual({
      family: FAMILY,
      containerDefinitions: [
        {
          ...app,
          image: IMAGE,
          environment: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'COLOR', value: 'green' },
          ],
        },
        // The live revision names blue's node in the short form; the clone names green's.
        { ...envoy, environment: [{ name: 'APPMESH_RESOURCE_ARN', value: 'mesh/apps/virtualNode/colorapp-green' }] },
        xray,
      ],
      taskRoleArn: live.taskRoleArn,
      executionRoleArn: live.executionRoleArn,
      networkMode: live.networkMode,
      volumes: live.volumes,
      placementConstraints: live.placementConstraints,
      requiresCompatibilities: live.requiresCompatibilities,
      cpu: live.cpu,
      memory: live.memory,
      pidMode: live.pidMode,
      ipcMode: live.ipcMode,
      proxyConfiguration: live.proxyConfiguration,
      inferenceAccelerators: live.inferenceAccelerators,
      ephemeralStorage: live.ephemeralStorage,
      runtimePlatform: live.runtimePlatform,
      enableFaultInjection: live.enableFaultInjection,
      tags: [
        { key: 'team', value: 'payments' },
        { key: 'ecs-release:release-id', value: RELEASE_ID },
        { key: 'ecs-release:version', value: '1.4.0' },
        { key: 'ecs-release:colour', value: 'green' },
      ],
    });
  });

  it.each([
    { live: 'blue', idle: 'green' },
    { live: 'green', idle: 'blue' },
  ] as const)(
    "registers the colorapp App Mesh revision of $live as $idle: the app, Envoy's virtual node and the stats tags all name $idle",
    async ({ live, idle }) => {
      const source = appMeshTaskDefinition(live);
      givenTaskDefinitions('live', { live: { taskDefinition: source, tags: liveTags(), $metadata: {} } });

      await handler({ release: plannedRelease(), colours: { live, idle, liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN } });

      const [statsConfig, agent, envoy, app] = source.containerDefinitions!;
      const sent = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
      expect(sent).toStrictEqual({
        family: FAMILY,
        containerDefinitions: [
          {
            ...statsConfig,
            environment: [
              { name: 'SERVICE', value: 'colorapp' },
              { name: 'COLOR', value: idle },
            ],
          },
          agent,
          {
            ...envoy,
            environment: [
              { name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn(`colorapp-${idle}`) },
              { name: 'ENABLE_ENVOY_DOG_STATSD', value: '1' },
              { name: 'STATSD_ADDRESS', value: '127.0.0.1' },
              { name: 'STATSD_PORT', value: '8125' },
              { name: 'ENVOY_STATS_CONFIG_FILE', value: '/etc/envoy-release/stats.yaml' },
              { name: 'ENVOY_STATS_FLUSH_INTERVAL', value: '10s' },
            ],
          },
          {
            ...app,
            image: IMAGE,
            environment: [
              { name: 'PORT', value: '8080' },
              { name: 'COLOR', value: idle },
            ],
          },
        ],
        taskRoleArn: source.taskRoleArn,
        executionRoleArn: source.executionRoleArn,
        networkMode: 'awsvpc',
        volumes: [{ name: 'envoy-release', host: {} }],
        placementConstraints: [],
        requiresCompatibilities: ['FARGATE'],
        cpu: '512',
        memory: '1024',
        proxyConfiguration: source.proxyConfiguration,
        tags: [
          { key: 'team', value: 'payments' },
          { key: 'ecs-release:release-id', value: RELEASE_ID },
          { key: 'ecs-release:version', value: '1.4.0' },
          { key: 'ecs-release:colour', value: idle },
        ],
      });
    },
  );

  it('registers into the configured family even when the live revision is in another one', async () => {
    givenTaskDefinitions('live');
    const release = plannedRelease(serviceConfig({ taskDefinitionFamily: 'colorapp-v2' }));

    await handler({ release, colours: COLOURS });

    expect(ecsMock).toHaveReceivedNthCommandWith(1, DescribeTaskDefinitionCommand, { taskDefinition: 'colorapp-v2', include: ['TAGS'] });
    expect(ecsMock).toHaveReceivedCommandWith(RegisterTaskDefinitionCommand, { family: 'colorapp-v2' });
  });

  it('registers when the family has no revision yet', async () => {
    givenTaskDefinitions('none');

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toMatchObject({ reused: false });
    expect(ecsMock).toHaveReceivedCommandTimes(RegisterTaskDefinitionCommand, 1);
  });

  it('leaves the colour variable alone when none is configured', async () => {
    givenTaskDefinitions('live');
    const release = plannedRelease(serviceConfig({ colourEnvironmentVariable: undefined }));

    await handler({ release, colours: COLOURS });

    const sent = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
    expect(sent.containerDefinitions![0].environment).toStrictEqual(liveTaskDefinition().containerDefinitions![0].environment);
  });

  it('reuses the latest revision without registering when this release already registered it (re-run)', async () => {
    givenTaskDefinitions({ releaseId: RELEASE_ID });

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toEqual({
      taskDefinitionArn: NEW_ARN,
      revision: 8,
      reused: true,
    });

    expect(ecsMock).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 1);
    expect(ecsMock).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
  });

  it("registers a new revision when the latest one belongs to another release", async () => {
    givenTaskDefinitions({ releaseId: 'rel-someone-else' });

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toMatchObject({ reused: false });
    expect(ecsMock).toHaveReceivedNthCommandWith(3, DescribeTaskDefinitionCommand, {
      taskDefinition: LIVE_TASK_DEFINITION_ARN,
      include: ['TAGS'],
    });
    expect(ecsMock).toHaveReceivedCommandTimes(RegisterTaskDefinitionCommand, 1);
  });

  it('fails with a ValidationError listing the containers when the configured container is missing', async () => {
    givenTaskDefinitions('live');
    const release = plannedRelease(serviceConfig({ containerName: 'web' }));

    const result = handler({ release, colours: COLOURS });

    await expect(result).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining("has no container named 'web' (it has: app, envoy, xray)"),
    });
    expect(ecsMock).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
  });

  it('clones the newest revision of the idle colour\'s template family, so a CDK change to it reaches the release', async () => {
    // What CDK changed in the template since the live revision was registered: memory, a variable, a sidecar.
    const template = appMeshTaskDefinition('green');
    const changed = {
      ...template,
      family: TEMPLATE_FAMILY,
      taskDefinitionArn: `arn:aws:ecs:eu-west-1:111122223333:task-definition/${TEMPLATE_FAMILY}:3`,
      memory: '2048',
      containerDefinitions: template.containerDefinitions!.map((c) =>
        c.name === 'app' ? { ...c, environment: [...(c.environment ?? []), { name: 'FEATURE', value: 'on' }] } : c,
      ),
    };
    givenTaskDefinitions('live', { template: { taskDefinition: changed, tags: [{ key: 'owner', value: 'cdk' }], $metadata: {} } });

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toMatchObject({ reused: false });

    // The live revision is not read at all: every setting comes from the template.
    expect(ecsMock).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 2);
    expect(ecsMock).not.toHaveReceivedCommandWith(DescribeTaskDefinitionCommand, { taskDefinition: LIVE_TASK_DEFINITION_ARN });
    const sent = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0].args[0].input;
    expect(sent.family).toBe(FAMILY);
    expect(sent.memory).toBe('2048');
    const app = sent.containerDefinitions!.find((c) => c.name === 'app')!;
    expect(app.image).toBe(IMAGE);
    expect(app.environment).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'COLOR', value: 'green' },
      { name: 'FEATURE', value: 'on' },
    ]);
    const envoy = sent.containerDefinitions!.find((c) => c.name === 'envoy')!;
    expect(envoy.environment).toContainEqual({ name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn('colorapp-green') });
    expect(sent.tags).toEqual([
      { key: 'owner', value: 'cdk' },
      { key: 'ecs-release:release-id', value: RELEASE_ID },
      { key: 'ecs-release:version', value: '1.4.0' },
      { key: 'ecs-release:colour', value: 'green' },
    ]);
  });

  it('fails with ResourceNotFoundError when the live revision does not exist', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).rejects(notFound());

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).rejects.toMatchObject({
      name: 'ResourceNotFoundError',
      message: expect.stringContaining(LIVE_TASK_DEFINITION_ARN),
    });
    expect(ecsMock).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
  });

  it('surfaces ClientExceptions that do not mean "not found"', async () => {
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .rejects(new ClientException({ message: 'Invalid revision number. Number: 0', $metadata: {} }));

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).rejects.toMatchObject({
      name: 'AwsCallFailedError',
      message: 'ClientException: Invalid revision number. Number: 0',
    });
    expect(ecsMock).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
  });

  it('retries a throttled RegisterTaskDefinition', async () => {
    givenTaskDefinitions('live');
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ecsMock
      .on(RegisterTaskDefinitionCommand)
      .rejectsOnce(throttled)
      .resolves({ taskDefinition: { taskDefinitionArn: NEW_ARN, revision: 8 } });

    await expect(handler({ release: plannedRelease(), colours: COLOURS })).resolves.toMatchObject({ taskDefinitionArn: NEW_ARN });
    expect(ecsMock).toHaveReceivedCommandTimes(RegisterTaskDefinitionCommand, 2);
  });

  it('rejects input without colours as a ValidationError, touching nothing', async () => {
    await expect(handler({ release: plannedRelease() })).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('colours'),
    });
    expect(ecsMock.calls()).toHaveLength(0);
  });
});
