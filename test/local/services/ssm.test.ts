import {
  DeleteParameterCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParametersCommand,
  paginateGetParametersByPath,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { AwsServiceError } from '../../../local/contracts';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalSsm } from '../../../local/services/ssm';
import { SsmDocuments } from '../../../lambdas/shared/ssm-documents';
import { clientConfig } from '../endpoint/harness';

// The local Parameter Store through the real SDK v3 client and the real endpoint, on loopback.

const NOW = new Date('2026-03-01T12:00:00.250Z');
let ssm: LocalSsm;
let endpoint: LocalEndpoint;
let client: SSMClient;

beforeAll(async () => {
  endpoint = await startLocalEndpoint({ jsonServices: [{ targetPrefix: 'AmazonSSM', jsonVersion: '1.1', operations: proxyOperations() }] });
  client = new SSMClient(clientConfig(endpoint.url));
});

afterAll(async () => {
  client.destroy();
  await endpoint.close();
});

beforeEach(() => {
  ssm = new LocalSsm({ accountId: '111122223333', now: () => NOW });
});

/** Dispatches to the current test's LocalSsm, so each test starts empty without restarting the server. */
function proxyOperations() {
  const names = ['GetParameter', 'GetParameters', 'GetParametersByPath', 'PutParameter', 'DeleteParameter', 'DescribeParameters'] as const;
  return Object.fromEntries(names.map((name) => [name, (input: Record<string, unknown>) => ssm.operations[name](input)]));
}

function put(Name: string, Value: string, extra: Partial<ConstructorParameters<typeof PutParameterCommand>[0]> = {}) {
  return client.send(new PutParameterCommand({ Name, Value, Type: 'String', ...extra }));
}

describe('LocalSsm through the endpoint', () => {
  it('round-trips a parameter with its version, date and ARN', async () => {
    await expect(put('/ecs-release/colorapp/state', '{"live":"blue"}')).resolves.toMatchObject({ Version: 1, Tier: 'Standard' });

    const out = await client.send(new GetParameterCommand({ Name: '/ecs-release/colorapp/state' }));

    expect(out.Parameter).toEqual({
      Name: '/ecs-release/colorapp/state',
      Type: 'String',
      Value: '{"live":"blue"}',
      Version: 1,
      LastModifiedDate: NOW,
      ARN: 'arn:aws:ssm:eu-west-1:111122223333:parameter/ecs-release/colorapp/state',
      DataType: 'text',
    });
    expect(out.Parameter?.LastModifiedDate).toBeInstanceOf(Date);
  });

  it('is reached through AWS_ENDPOINT_URL, as the handlers reach it', async () => {
    await put('/via-env', 'v');
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = endpoint.url;
    const plain = new SSMClient({ maxAttempts: 1 });
    try {
      await expect(new SsmDocuments(plain).getRaw('/via-env')).resolves.toBe('v');
    } finally {
      plain.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it('refuses to overwrite without Overwrite: true, and counts versions when overwriting', async () => {
    await put('/p', 'one');

    const refused = put('/p', 'two', { Overwrite: false });
    await expect(refused).rejects.toBeInstanceOf(ParameterAlreadyExists);
    await expect(refused).rejects.toMatchObject({ name: 'ParameterAlreadyExists', $metadata: { httpStatusCode: 400 } });
    await expect(put('/p', 'three', { Overwrite: true })).resolves.toMatchObject({ Version: 2 });
    await expect(put('/p', 'four', { Overwrite: true })).resolves.toMatchObject({ Version: 3 });

    expect((await client.send(new GetParameterCommand({ Name: '/p' }))).Parameter).toMatchObject({ Value: 'four', Version: 3 });
    expect((await client.send(new GetParameterCommand({ Name: '/p:2' }))).Parameter).toMatchObject({ Value: 'three', Version: 2, Selector: ':2' });
    await expect(client.send(new GetParameterCommand({ Name: '/p:9' }))).rejects.toMatchObject({ name: 'ParameterVersionNotFound' });
  });

  it('lets exactly one of twenty concurrent create-if-absent writes win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => put('/ecs-release/colorapp/lock', `holder-${i}`, { Overwrite: false })),
    );

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(losers.map((r) => (r.reason as Error).name)).toEqual(Array(19).fill('ParameterAlreadyExists'));
  });

  it('names a missing parameter ParameterNotFound on get and delete', async () => {
    const get = client.send(new GetParameterCommand({ Name: '/missing' }));
    await expect(get).rejects.toBeInstanceOf(ParameterNotFound);
    await expect(get).rejects.toMatchObject({ name: 'ParameterNotFound', message: 'Parameter /missing not found.' });
    await expect(client.send(new DeleteParameterCommand({ Name: '/missing' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('deletes a parameter', async () => {
    await put('/gone', 'x');

    await client.send(new DeleteParameterCommand({ Name: '/gone' }));

    await expect(client.send(new GetParameterCommand({ Name: '/gone' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('works for the release handlers: SsmDocuments create-if-absent, read, and tolerant delete', async () => {
    const docs = new SsmDocuments(client);
    const Lock = z.object({ holder: z.string() });

    await expect(docs.put('/ecs-release/colorapp/lock', { holder: 'a' }, { overwrite: false })).resolves.toBe(true);
    await expect(docs.put('/ecs-release/colorapp/lock', { holder: 'b' }, { overwrite: false })).resolves.toBe(false);
    await expect(docs.get('/ecs-release/colorapp/lock', Lock)).resolves.toEqual({ holder: 'a' });
    await docs.delete('/ecs-release/colorapp/lock');
    await docs.delete('/ecs-release/colorapp/lock');
    await expect(docs.getRaw('/ecs-release/colorapp/lock')).resolves.toBeNull();
  });

  it('moves a document that outgrows 4 KB to the Advanced tier when SsmDocuments asks for intelligent tiering', async () => {
    const docs = new SsmDocuments(client);

    await docs.put('/ecs-release/colorapp/state', { history: [] }, { overwrite: true });
    await docs.put('/ecs-release/colorapp/state', { history: ['x'.repeat(5000)] }, { overwrite: true });

    const out = await client.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/ecs-release/colorapp/state'] }] }));
    expect(out.Parameters?.[0]).toMatchObject({ Tier: 'Advanced', Version: 2 });
    // 8 KB is the hard ceiling, whatever the tier.
    await expect(docs.put('/ecs-release/colorapp/state', { history: ['x'.repeat(9000)] }, { overwrite: true })).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('surfaces an injected ThrottlingException as a throttle the handlers retry', async () => {
    await put('/p', 'v');
    ssm.injectFailures('GetParameter', [new AwsServiceError('ThrottlingException', 'Rate exceeded')]);

    // SsmDocuments retries throttling itself (the client here makes one attempt).
    await expect(new SsmDocuments(client).getRaw('/p')).resolves.toBe('v');

    ssm.injectFailures('GetParameter', [new AwsServiceError('ThrottlingException', 'Rate exceeded')]);
    await expect(client.send(new GetParameterCommand({ Name: '/p' }))).rejects.toMatchObject({
      name: 'ThrottlingException',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('requires a type for a new parameter and supports String only', async () => {
    await expect(client.send(new PutParameterCommand({ Name: '/p', Value: 'v' }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'A parameter type is required when you create a parameter.',
    });
    await expect(put('/p', 'a,b', { Type: 'StringList' })).rejects.toMatchObject({ name: 'UnsupportedParameterType' });
  });

  it('rejects values too long for their tier, as AWS does', async () => {
    const fourKb = 'x'.repeat(4096);

    await expect(put('/fits', fourKb)).resolves.toMatchObject({ Tier: 'Standard' });
    await expect(put('/standard', `${fourKb}x`)).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(/^Standard tier parameters support a maximum parameter value of 4096 characters/),
    });
    // Multi-byte characters count as bytes: 2,100 of them are 4,200 bytes.
    await expect(put('/utf8', 'é'.repeat(2100))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/advanced', `${fourKb}x`, { Tier: 'Advanced' })).resolves.toMatchObject({ Tier: 'Advanced' });
    await expect(put('/auto', `${fourKb}x`, { Tier: 'Intelligent-Tiering' })).resolves.toMatchObject({ Tier: 'Advanced' });
    await expect(put('/huge', 'x'.repeat(8193), { Tier: 'Advanced' })).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('keeps an advanced parameter advanced and refuses to downgrade it', async () => {
    await put('/adv', 'x'.repeat(5000), { Tier: 'Advanced' });

    await expect(put('/adv', 'small', { Overwrite: true })).resolves.toMatchObject({ Tier: 'Advanced', Version: 2 });
    await expect(put('/adv', 'small', { Overwrite: true, Tier: 'Standard' })).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining("can't downgrade"),
    });
  });

  it('validates parameter names', async () => {
    await expect(put('no/leading/slash', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/aws/reserved', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/has space', 'v')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put(`/${Array(16).fill('l').join('/')}`, 'v')).rejects.toMatchObject({ name: 'HierarchyLevelLimitExceededException' });
    await expect(put('/', 'x'.repeat(0))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('gets several parameters at once and lists the missing ones', async () => {
    await put('/a', '1');
    await put('/b', '2');

    const out = await client.send(new GetParametersCommand({ Names: ['/a', '/b', '/nope'] }));

    expect(out.Parameters?.map((p) => [p.Name, p.Value])).toEqual([
      ['/a', '1'],
      ['/b', '2'],
    ]);
    expect(out.InvalidParameters).toEqual(['/nope']);
  });

  it('gets parameters by path, one level or recursively, page by page', async () => {
    for (const name of ['/app/a', '/app/b', '/app/deep/c', '/app/deep/er/d', '/apple', '/other/x']) await put(name, name);

    const collect = async (Recursive: boolean) => {
      const names: string[] = [];
      for await (const page of paginateGetParametersByPath({ client, pageSize: 1 }, { Path: '/app', Recursive })) {
        expect(page.Parameters!.length).toBeLessThanOrEqual(1);
        names.push(...page.Parameters!.map((p) => p.Name!));
      }
      return names;
    };

    await expect(collect(false)).resolves.toEqual(['/app/a', '/app/b']);
    await expect(collect(true)).resolves.toEqual(['/app/a', '/app/b', '/app/deep/c', '/app/deep/er/d']);
  });

  it('describes parameters, filtered by name prefix', async () => {
    await put('/ecs-release/a/config', 'x', { Description: 'config of a' });
    await put('/ecs-release/b/config', 'y');
    await put('/elsewhere', 'z');

    const out = await client.send(
      new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: ['/ecs-release/'] }] }),
    );

    expect(out.Parameters).toEqual([
      expect.objectContaining({ Name: '/ecs-release/a/config', Description: 'config of a', Version: 1, Tier: 'Standard', LastModifiedDate: NOW }),
      expect.objectContaining({ Name: '/ecs-release/b/config', Version: 1 }),
    ]);
    await expect(
      client.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Label', Values: ['x'] }] })),
    ).rejects.toMatchObject({ name: 'InvalidFilterKey' });
  });
});

describe('LocalSsm world accessors', () => {
  it('writes and reads JSON documents, with versions', () => {
    expect(ssm.getJson('/ecs-release/colorapp/state')).toBeUndefined();

    expect(ssm.putJson('/ecs-release/colorapp/state', { live: 'blue' })).toBe(1);
    expect(ssm.putJson('/ecs-release/colorapp/state', { live: 'green' })).toBe(2);

    expect(ssm.getJson<{ live: string }>('/ecs-release/colorapp/state')).toEqual({ live: 'green' });
  });

  it('refuses to seed a document AWS would refuse', () => {
    expect(() => ssm.putJson('/big', { blob: 'x'.repeat(5000) })).toThrow(/Standard tier parameters support a maximum/);
  });
});
