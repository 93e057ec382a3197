import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { ValidationError } from '../../../lambdas/shared/errors';
import {
  cloneTaskDefinition,
  COPIED_TASK_DEFINITION_FIELDS,
  READ_ONLY_TASK_DEFINITION_FIELDS,
  RELEASE_TAG_KEYS,
  tagValue,
  templateFamilyOf,
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

    it.each([
      {
        when: 'a sidecar defines it (the stats init container): the sidecar gets the colour too',
        sidecar: [{ name: 'SERVICE', value: 'colorapp' }, { name: 'COLOR', value: 'blue' }],
        expected: [{ name: 'SERVICE', value: 'colorapp' }, { name: 'COLOR', value: 'green' }],
      },
      {
        when: 'a sidecar defines it twice: both copies get the colour',
        sidecar: [{ name: 'COLOR', value: 'blue' }, { name: 'COLOR', value: 'blue' }],
        expected: [{ name: 'COLOR', value: 'green' }, { name: 'COLOR', value: 'green' }],
      },
      {
        when: 'a sidecar does not define it: it is not added there',
        sidecar: [{ name: 'SERVICE', value: 'colorapp' }],
        expected: [{ name: 'SERVICE', value: 'colorapp' }],
      },
      {
        when: 'a sidecar has no environment: none is created',
        sidecar: undefined,
        expected: undefined,
      },
      {
        when: 'a sidecar has a variable whose name only contains it: that one is left alone',
        sidecar: [{ name: 'COLOR_SCHEME', value: 'blue' }],
        expected: [{ name: 'COLOR_SCHEME', value: 'blue' }],
      },
    ])('in other containers, when $when', ({ sidecar, expected }) => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1', environment: [{ name: 'COLOR', value: 'blue' }] },
          { name: 'envoy-stats-config', image: 'envoy:1', environment: sidecar },
        ],
      };
      const input = cloneTaskDefinition(source, [], OPTIONS);
      expect(containerOf(input, 'envoy-stats-config')!.environment).toStrictEqual(expected);
      expect(containerOf(input, 'app')!.environment).toStrictEqual([{ name: 'COLOR', value: 'green' }]);
    });

    it('is not touched in any container when no variable is configured', () => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1', environment: [{ name: 'COLOR', value: 'blue' }] },
          { name: 'envoy-stats-config', image: 'envoy:1', environment: [{ name: 'COLOR', value: 'blue' }] },
        ],
      };
      const input = cloneTaskDefinition(source, [], { ...OPTIONS, colourEnvironmentVariable: undefined });
      expect(input.containerDefinitions!.map((c) => c.environment)).toStrictEqual([
        [{ name: 'COLOR', value: 'blue' }],
        [{ name: 'COLOR', value: 'blue' }],
      ]);
    });

    it.each([
      { when: 'the named container', container: 'app' },
      { when: 'a sidecar, which would keep the live colour', container: 'envoy-stats-config' },
    ])('rejects a variable that $when takes from a secret', ({ container }) => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1' },
          { name: 'envoy-stats-config', image: 'envoy:1' },
        ].map((c) => (c.name === container ? { ...c, secrets: [{ name: 'COLOR', valueFrom: 'arn:secret' }] } : c)),
      };
      expect(() => cloneTaskDefinition(source, [], OPTIONS)).toThrow(
        expect.objectContaining({
          name: 'ValidationError',
          message: expect.stringContaining(`Container '${container}' in (unknown family):? defines 'COLOR' as a secret`),
        }),
      );
    });
  });

  describe('mesh identity (virtual node)', () => {
    const BLUE_ARN = 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/colorapp-blue';
    const GREEN_ARN = 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/colorapp-green';
    const RENAME = { from: 'colorapp-blue', to: 'colorapp-green' };

    it.each([
      { when: "the live node's ARN: renamed to the idle node", value: BLUE_ARN, expected: GREEN_ARN },
      {
        when: 'the ARN of a shared mesh in another partition and account: only the node changes',
        value: 'arn:aws-cn:appmesh:cn-north-1:444455556666:mesh/shared/virtualNode/colorapp-blue',
        expected: 'arn:aws-cn:appmesh:cn-north-1:444455556666:mesh/shared/virtualNode/colorapp-green',
      },
      {
        when: 'the mesh/<mesh>/virtualNode/<node> short form: renamed too',
        value: 'mesh/apps/virtualNode/colorapp-blue',
        expected: 'mesh/apps/virtualNode/colorapp-green',
      },
      { when: "the idle node's ARN already: kept", value: GREEN_ARN, expected: GREEN_ARN },
      {
        when: 'a node whose name only starts with the live one: kept',
        value: `${BLUE_ARN}-canary`,
        expected: `${BLUE_ARN}-canary`,
      },
      {
        when: 'a node whose name only ends with the live one: kept',
        value: 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/old-colorapp-blue',
        expected: 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/old-colorapp-blue',
      },
      {
        when: 'a virtual gateway of the same name: kept',
        value: 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualGateway/colorapp-blue',
        expected: 'arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualGateway/colorapp-blue',
      },
      {
        when: 'an ARN of another service that ends like a node: kept',
        value: 'arn:aws:ssm:eu-west-1:111122223333:parameter/mesh/apps/virtualNode/colorapp-blue',
        expected: 'arn:aws:ssm:eu-west-1:111122223333:parameter/mesh/apps/virtualNode/colorapp-blue',
      },
      { when: 'the bare node name: kept (not a node reference)', value: 'colorapp-blue', expected: 'colorapp-blue' },
      { when: 'an unrelated value: kept', value: '127.0.0.1', expected: '127.0.0.1' },
    ])('an environment value that is $when', ({ value, expected }) => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1' },
          { name: 'envoy', image: 'envoy:1', environment: [{ name: 'APPMESH_RESOURCE_ARN', value }, { name: 'STATSD_PORT', value: '8125' }] },
        ],
      };
      const input = cloneTaskDefinition(source, [], { ...OPTIONS, meshIdentity: RENAME });
      expect(containerOf(input, 'envoy')!.environment).toStrictEqual([
        { name: 'APPMESH_RESOURCE_ARN', value: expected },
        { name: 'STATSD_PORT', value: '8125' },
      ]);
    });

    it('renames the node in every container, whatever the variable is called', () => {
      const source: TaskDefinition = {
        containerDefinitions: [
          { name: 'app', image: 'old:1', environment: [{ name: 'MESH_NODE', value: BLUE_ARN }] },
          { name: 'envoy', image: 'envoy:1', environment: [{ name: 'APPMESH_RESOURCE_ARN', value: BLUE_ARN }] },
          { name: 'legacy-envoy', image: 'envoy:1', environment: [{ name: 'APPMESH_VIRTUAL_NODE_NAME', value: 'mesh/apps/virtualNode/colorapp-blue' }] },
        ],
      };
      const input = cloneTaskDefinition(source, [], { ...OPTIONS, colourEnvironmentVariable: undefined, meshIdentity: RENAME });
      expect(input.containerDefinitions!.map((c) => c.environment)).toStrictEqual([
        [{ name: 'MESH_NODE', value: GREEN_ARN }],
        [{ name: 'APPMESH_RESOURCE_ARN', value: GREEN_ARN }],
        [{ name: 'APPMESH_VIRTUAL_NODE_NAME', value: 'mesh/apps/virtualNode/colorapp-green' }],
      ]);
    });

    it('renames a node named in the proxy configuration properties and keeps the others', () => {
      const source: TaskDefinition = {
        containerDefinitions: [{ name: 'app', image: 'old:1' }],
        proxyConfiguration: {
          type: 'APPMESH',
          containerName: 'envoy',
          properties: [
            { name: 'AppPorts', value: '8080' },
            { name: 'VirtualNode', value: BLUE_ARN },
            { name: 'EgressIgnoredIPs', value: '169.254.170.2,169.254.169.254' },
          ],
        },
      };
      expect(cloneTaskDefinition(source, [], { ...OPTIONS, meshIdentity: RENAME }).proxyConfiguration).toStrictEqual({
        type: 'APPMESH',
        containerName: 'envoy',
        properties: [
          { name: 'AppPorts', value: '8080' },
          { name: 'VirtualNode', value: GREEN_ARN },
          { name: 'EgressIgnoredIPs', value: '169.254.170.2,169.254.169.254' },
        ],
      });
    });

    it("leaves every node alone without a rewrite (a backend that does not name the colour)", () => {
      const source = liveTaskDefinition();
      const input = cloneTaskDefinition(source, [], OPTIONS);
      expect(containerOf(input, 'envoy')).toStrictEqual(source.containerDefinitions![1]);
    });

    it('keeps environment entries without a value as they are', () => {
      const source: TaskDefinition = {
        containerDefinitions: [{ name: 'app', image: 'old:1', environment: [{ name: 'EMPTY' }] }],
        proxyConfiguration: { type: 'APPMESH', containerName: 'envoy', properties: [{ name: 'AppPorts' }] },
      };
      const input = cloneTaskDefinition(source, [], { ...OPTIONS, colourEnvironmentVariable: undefined, meshIdentity: RENAME });
      expect(input.containerDefinitions![0].environment).toStrictEqual([{ name: 'EMPTY' }]);
      expect(input.proxyConfiguration!.properties).toStrictEqual([{ name: 'AppPorts' }]);
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
    const input = cloneTaskDefinition(source, tags, { ...OPTIONS, meshIdentity: { from: 'colorapp-blue', to: 'colorapp-green' } });
    expect(input.containerDefinitions![1].environment).toStrictEqual([
      { name: 'APPMESH_RESOURCE_ARN', value: 'mesh/apps/virtualNode/colorapp-green' },
    ]);

    expect(source).toStrictEqual(liveTaskDefinition());
    expect(tags).toStrictEqual(liveTags());

    input.containerDefinitions![1].environment![0].value = 'changed';
    input.volumes![0].name = 'changed';
    input.tags![0].value = 'changed';
    expect(source).toStrictEqual(liveTaskDefinition());
    expect(tags).toStrictEqual(liveTags());
  });
});

describe('templateFamilyOf', () => {
  it('names the template family of each colour after the release family', () => {
    expect(templateFamilyOf('colorapp', 'blue')).toBe('colorapp-blue-template');
    expect(templateFamilyOf('colorapp', 'green')).toBe('colorapp-green-template');
  });
});
