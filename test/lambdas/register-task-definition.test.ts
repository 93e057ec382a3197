import {
  ClientException,
  DescribeTaskDefinitionCommand,
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

/** Latest revision in the family (first call), then the live revision (second call). */
function givenTaskDefinitions(latest: { releaseId: string } | 'none' | 'live') {
  const describe = ecsMock.on(DescribeTaskDefinitionCommand);
  if (latest === 'none') {
    describe.rejectsOnce(notFound());
  } else if (latest === 'live') {
    describe.resolvesOnce({ taskDefinition: liveTaskDefinition(), tags: liveTags() });
  } else {
    describe.resolvesOnce({
      taskDefinition: { ...liveTaskDefinition(), taskDefinitionArn: NEW_ARN, revision: 8 },
      tags: [{ key: 'ecs-release:release-id', value: latest.releaseId }],
    });
  }
  describe.resolvesOnce({ taskDefinition: liveTaskDefinition(), tags: liveTags() });
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

    expect(ecsMock).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 2);
    expect(ecsMock).toHaveReceivedNthCommandWith(1, DescribeTaskDefinitionCommand, { taskDefinition: FAMILY, include: ['TAGS'] });
    expect(ecsMock).toHaveReceivedNthCommandWith(2, DescribeTaskDefinitionCommand, {
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
      ecsMock
        .on(DescribeTaskDefinitionCommand)
        .resolvesOnce({ taskDefinition: source, tags: liveTags() })
        .resolvesOnce({ taskDefinition: source, tags: liveTags() });

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
    expect(ecsMock).toHaveReceivedNthCommandWith(2, DescribeTaskDefinitionCommand, {
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
