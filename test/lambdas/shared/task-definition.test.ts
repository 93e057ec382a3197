import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { ValidationError } from '../../../lambdas/shared/errors';
import {
  cloneTaskDefinition,
  COPIED_TASK_DEFINITION_FIELDS,
  READ_ONLY_TASK_DEFINITION_FIELDS,
  RELEASE_TAG_KEYS,
  tagValue,
  type CloneTaskDefinitionOptions,
} from '../../../lambdas/shared/task-definition';
import { IMAGE, liveTags, liveTaskDefinition, RELEASE_ID } from '../../support/ecs-fixtures';

const OPTIONS: CloneTaskDefinitionOptions = {
  family: 'colorapp-releases',
  containerName: 'app',
  image: IMAGE,
  colourEnvironmentVariable: 'COLOR',
  colour: 'green',
  releaseId: RELEASE_ID,
  version: '1.4.0',
};

const OUR_TAGS = [
  { key: 'ecs-release:release-id', value: RELEASE_ID },
  { key: 'ecs-release:version', value: '1.4.0' },
  { key: 'ecs-release:colour', value: 'green' },
];

function containerOf(input: ReturnType<typeof cloneTaskDefinition>, name: string) {
  return input.containerDefinitions?.find((c) => c.name === name);
}

describe('cloneTaskDefinition', () => {
  it('copies every writable field, drops every read-only one, and changes only family, image, colour and tags', () => {
    const source = liveTaskDefinition();
    const expectedContainers = liveTaskDefinition().containerDefinitions!;
    expectedContainers[0].image = IMAGE;
    expectedContainers[0].environment = [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'COLOR', value: 'green' },
    ];

    const input = cloneTaskDefinition(source, liveTags(), OPTIONS);

    expect(input).toStrictEqual({
      family: 'colorapp-releases',
      containerDefinitions: expectedContainers,
      taskRoleArn: source.taskRoleArn,
      executionRoleArn: source.executionRoleArn,
      networkMode: 'awsvpc',
      volumes: source.volumes,
      placementConstraints: source.placementConstraints,
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      pidMode: 'task',
      ipcMode: 'none',
      proxyConfiguration: source.proxyConfiguration,
      inferenceAccelerators: source.inferenceAccelerators,
      ephemeralStorage: { sizeInGiB: 30 },
      runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
      enableFaultInjection: false,
      tags: [{ key: 'team', value: 'payments' }, ...OUR_TAGS],
    });
  });

  it('classifies every field of the fixture as copied, read-only or family', () => {
    const known = new Set([
      'family',
      ...Object.keys(COPIED_TASK_DEFINITION_FIELDS),
      ...Object.keys(READ_ONLY_TASK_DEFINITION_FIELDS),
    ]);
    expect(Object.keys(liveTaskDefinition()).filter((k) => !known.has(k))).toEqual([]);
  });

  it.each(Object.keys(READ_ONLY_TASK_DEFINITION_FIELDS))('never sends the read-only field %s', (field) => {
    expect(cloneTaskDefinition(liveTaskDefinition(), [], OPTIONS)).not.toHaveProperty(field);
  });

  it('leaves out writable fields the source does not have, rather than sending undefined', () => {
    const source: TaskDefinition = { family: 'colorapp', containerDefinitions: [{ name: 'app', image: 'old:1' }] };
    expect(cloneTaskDefinition(source, undefined, { ...OPTIONS, colourEnvironmentVariable: undefined })).toStrictEqual({
      family: 'colorapp-releases',
      containerDefinitions: [{ name: 'app', image: IMAGE }],
      tags: OUR_TAGS,
    });
  });

  it('keeps sidecars, secrets, health checks and dependsOn exactly as they were', () => {
    const source = liveTaskDefinition();
    const input = cloneTaskDefinition(source, [], OPTIONS);
    expect(containerOf(input, 'envoy')).toStrictEqual(source.containerDefinitions![1]);
    expect(containerOf(input, 'xray')).toStrictEqual(source.containerDefinitions![2]);
    const app = containerOf(input, 'app')!;
    expect(app.secrets).toStrictEqual(source.containerDefinitions![0].secrets);
    expect(app.healthCheck).toStrictEqual(source.containerDefinitions![0].healthCheck);
    expect(app.dependsOn).toStrictEqual([{ containerName: 'envoy', condition: 'HEALTHY' }]);
    expect(input.containerDefinitions!.map((c) => c.name)).toEqual(['app', 'envoy', 'xray']);
  });

  it('replaces the image of the named container even when it is not the first one', () => {
    const input = cloneTaskDefinition(liveTaskDefinition(), [], { ...OPTIONS, containerName: 'xray', colourEnvironmentVariable: undefined });
    expect(containerOf(input, 'xray')!.image).toBe(IMAGE);
    expect(containerOf(input, 'app')!.image).toBe(liveTaskDefinition().containerDefinitions![0].image);
  });

  describe('colour environment variable', () => {
    it.each([
      {
        when: 'the variable exists: its value is replaced in place',
        environment: [{ name: 'A', value: '1' }, { name: 'COLOR', value: 'blue' }, { name: 'B', value: '2' }],
        expected: [{ name: 'A', value: '1' }, { name: 'COLOR', value: 'green' }, { name: 'B', value: '2' }],
      },
      {
        when: 'the variable is missing: it is added at the end',
        environment: [{ name: 'A', value: '1' }],
        expected: [{ name: 'A', value: '1' }, { name: 'COLOR', value: 'green' }],
      },
      {
        when: 'the container has no environment: one is created',
        environment: undefined,
        expected: [{ name: 'COLOR', value: 'green' }],
      },
      {
        when: 'the variable appears twice: both copies get the colour, so no stale one wins',
        environment: [{ name: 'COLOR', value: 'blue' }, { name: 'COLOR', value: 'blue' }],
        expected: [{ name: 'COLOR', value: 'green' }, { name: 'COLOR', value: 'green' }],
      },
    ])('when $when', ({ environment, expected }) => {
      const source: TaskDefinition = { containerDefinitions: [{ name: 'app', image: 'old:1', environment }] };
      expect(containerOf(cloneTaskDefinition(source, [], OPTIONS), 'app')!.environment).toStrictEqual(expected);
    });

    it('is not touched when no variable is configured', () => {
      const input = cloneTaskDefinition(liveTaskDefinition(), [], { ...OPTIONS, colourEnvironmentVariable: undefined });
      expect(containerOf(input, 'app')!.environment).toStrictEqual(liveTaskDefinition().containerDefinitions![0].environment);
    });

    it('is set only in the named container, not in sidecars', () => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1' },
          { name: 'envoy', image: 'envoy:1', environment: [{ name: 'COLOR', value: 'blue' }] },
        ],
      };
      expect(containerOf(cloneTaskDefinition(source, [], OPTIONS), 'envoy')!.environment).toStrictEqual([
        { name: 'COLOR', value: 'blue' },
      ]);
    });

    it('rejects a variable that the container also takes from a secret', () => {
      const source: TaskDefinition = {
        containerDefinitions: [{ name: 'app', image: 'old:1', secrets: [{ name: 'COLOR', valueFrom: 'arn:secret' }] }],
      };
      expect(() => cloneTaskDefinition(source, [], OPTIONS)).toThrow(
        expect.objectContaining({ name: 'ValidationError', message: expect.stringContaining("defines 'COLOR' as a secret") }),
      );
    });
  });

  describe('tags', () => {
    it.each([
      { when: 'the source has no tags', tags: undefined, expected: OUR_TAGS },
      { when: 'the source has an empty tag list', tags: [], expected: OUR_TAGS },
      {
        when: "the source carries a previous release's tags: they are replaced",
        tags: [
          { key: 'ecs-release:release-id', value: 'rel-old' },
          { key: 'ecs-release:colour', value: 'blue' },
          { key: 'ecs-release:something-else', value: 'x' },
        ],
        expected: OUR_TAGS,
      },
      {
        when: 'the source has user tags: they are kept, in order, before ours',
        tags: [{ key: 'team', value: 'payments' }, { key: 'cost-centre', value: '42' }],
        expected: [{ key: 'team', value: 'payments' }, { key: 'cost-centre', value: '42' }, ...OUR_TAGS],
      },
      {
        when: 'the source has AWS-reserved tags: they are dropped because ECS rejects them',
        tags: [{ key: 'aws:cloudformation:stack-name', value: 'colorapp' }],
        expected: OUR_TAGS,
      },
    ])('when $when', ({ tags, expected }) => {
      expect(cloneTaskDefinition(liveTaskDefinition(), tags, OPTIONS).tags).toStrictEqual(expected);
    });

    it('rejects a clone that would exceed the 50-tag limit', () => {
      const tags = Array.from({ length: 48 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
      expect(() => cloneTaskDefinition(liveTaskDefinition(), tags, OPTIONS)).toThrow(/would get 51 tags/);
    });

    it('exposes the release id through tagValue', () => {
      const input = cloneTaskDefinition(liveTaskDefinition(), liveTags(), OPTIONS);
      expect(tagValue(input.tags, RELEASE_TAG_KEYS.releaseId)).toBe(RELEASE_ID);
      expect(tagValue(undefined, RELEASE_TAG_KEYS.releaseId)).toBeUndefined();
    });
  });

  describe('missing container', () => {
    it.each([
      {
        when: 'the source has other containers',
        source: liveTaskDefinition(),
        message: "has no container named 'web' (it has: app, envoy, xray)",
      },
      {
        when: 'the source has no containers at all',
        source: { taskDefinitionArn: 'arn:td/empty:1', containerDefinitions: [] } as TaskDefinition,
        message: "Task definition arn:td/empty:1 has no container named 'web' (it has: no containers)",
      },
    ])('throws a ValidationError listing the containers when $when', ({ source, message }) => {
      const call = () => cloneTaskDefinition(source, [], { ...OPTIONS, containerName: 'web' });
      expect(call).toThrow(ValidationError);
      expect(call).toThrow(message);
    });
  });

  it('never mutates the source definition or tags, and shares no objects with them', () => {
    const source = liveTaskDefinition();
    const tags = liveTags();
    const input = cloneTaskDefinition(source, tags, OPTIONS);

    expect(source).toStrictEqual(liveTaskDefinition());
    expect(tags).toStrictEqual(liveTags());

    input.containerDefinitions![1].environment![0].value = 'changed';
    input.volumes![0].name = 'changed';
    input.tags![0].value = 'changed';
    expect(source).toStrictEqual(liveTaskDefinition());
    expect(tags).toStrictEqual(liveTags());
  });
});
