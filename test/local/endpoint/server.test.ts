import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeServicesCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  ServiceNotFoundException,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AwsServiceError, type JsonProtocolService } from '../../../local/contracts';
import { matchPath, type AppMeshRestHandler } from '../../../local/endpoint/rest';
import { isLoopbackAddress, startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { parseTimestamp, toWireJson } from '../../../local/endpoint/wire';
import { isThrottlingError } from '../../../lambdas/shared/retry';
import { clientConfig, rawRequest } from './harness';

// The endpoint's wire protocols, checked with the real SDK v3 clients (awsJson1_1: ECS;
// awsJson1_0: Step Functions; awsJson1_0 + query compatibility: CloudWatch) against small
// stand-in services, and with raw HTTP for what no SDK would send.

const CREATED = new Date('2026-03-01T12:00:00.125Z');
const calls: [string, Record<string, unknown>][] = [];

const ecs: JsonProtocolService = {
  targetPrefix: 'AmazonEC2ContainerServiceV20141113',
  jsonVersion: '1.1',
  operations: {
    DescribeServices: async (input) => {
      calls.push(['DescribeServices', input]);
      return { services: [{ serviceName: 'colorapp-blue', createdAt: CREATED, desiredCount: 2 }], failures: [] };
    },
    UpdateService: async () => {
      throw new AwsServiceError('ServiceNotFoundException', 'Service not found.');
    },
    ListClusters: async () => {
      throw new AwsServiceError('ThrottlingException', 'Rate exceeded');
    },
    ListServices: async () => {
      throw new Error('the local ECS tripped over a bug');
    },
  },
};

const sfn: JsonProtocolService = {
  targetPrefix: 'AWSStepFunctions',
  jsonVersion: '1.0',
  operations: {
    StartExecution: async (input) => ({ executionArn: `arn:aws:states:eu-west-1:000000000000:execution:m:${String(input.name)}`, startDate: CREATED }),
    DescribeExecution: async (input) => {
      throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
    },
  },
};

const cloudwatch: JsonProtocolService = {
  targetPrefix: 'GraniteServiceVersion20100801',
  jsonVersion: '1.0',
  operations: {
    DescribeAlarms: async () => {
      throw new AwsServiceError('InvalidNextToken', 'The service returned an invalid next token.');
    },
    GetMetricData: async () => ({
      MetricDataResults: [{ Id: 'requests', Label: 'requests', Timestamps: [CREATED], Values: [42], StatusCode: 'Complete' }],
      Messages: [],
    }),
  },
};

const restAppMesh: AppMeshRestHandler = async (request) => {
  if (request.path.endsWith('/boom')) throw new Error('the local App Mesh tripped over a bug');
  if (request.path.endsWith('/missing')) throw new AwsServiceError('NotFoundException', 'Route with name missing is not present', 404);
  return { body: { method: request.method, path: request.path, owner: request.query.get('meshOwner'), body: request.body, at: CREATED } };
};

const logged: unknown[][] = [];
const logger = { error: (...args: unknown[]) => void logged.push(args) };
let endpoint: LocalEndpoint;
const clients: { destroy(): void }[] = [];

function client<C extends { destroy(): void }>(make: (config: ReturnType<typeof clientConfig>) => C, maxAttempts = 1): C {
  const made = make(clientConfig(endpoint.url, maxAttempts));
  clients.push(made);
  return made;
}

const JSON_11 = { 'content-type': 'application/x-amz-json-1.1' };

beforeAll(async () => {
  endpoint = await startLocalEndpoint({ jsonServices: [ecs, sfn, cloudwatch], restAppMesh, logger, maxBodyBytes: 64 * 1024 });
});

afterAll(async () => {
  for (const made of clients) made.destroy();
  await endpoint.close();
});

beforeEach(() => {
  calls.length = 0;
  logged.length = 0;
});

describe('the local endpoint, JSON protocols', () => {
  it('binds to loopback on a free port', () => {
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('dispatches an awsJson1_1 call by X-Amz-Target and returns dates as dates', async () => {
    const ecsClient = client((c) => new ECSClient(c));

    const out = await ecsClient.send(new DescribeServicesCommand({ cluster: 'apps', services: ['colorapp-blue'] }));

    expect(calls).toEqual([['DescribeServices', { cluster: 'apps', services: ['colorapp-blue'] }]]);
    expect(out.services?.[0]).toEqual({ serviceName: 'colorapp-blue', createdAt: CREATED, desiredCount: 2 });
    expect(out.services?.[0].createdAt).toBeInstanceOf(Date);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('surfaces a service error as the SDK exception of that name', async () => {
    const sent = client((c) => new ECSClient(c)).send(new UpdateServiceCommand({ cluster: 'apps', service: 'nope' }));

    await expect(sent).rejects.toBeInstanceOf(ServiceNotFoundException);
    await expect(sent).rejects.toMatchObject({ name: 'ServiceNotFoundException', message: 'Service not found.', $fault: 'client' });
  });

  it('surfaces ThrottlingException as a throttle, which the SDK itself retries', async () => {
    const once = client((c) => new ECSClient(c)).send(new ListClustersCommand({}));
    await expect(once).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    expect(isThrottlingError(await once.catch((error: unknown) => error))).toBe(true);

    // With the SDK's own retries on, the throttle is retried: the second attempt is seen as attempt 2.
    const retried = await client((c) => new ECSClient(c), 2)
      .send(new ListClustersCommand({}))
      .catch((error: { $metadata: { attempts?: number } }) => error);
    expect(retried.$metadata.attempts).toBe(2);
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const sent = client((c) => new ECSClient(c)).send(new ListTaskDefinitionsCommand({}));

    await expect(sent).rejects.toMatchObject({ name: 'UnknownOperationException', $metadata: { httpStatusCode: 400 } });
    await expect(sent).rejects.toThrow(/does not implement ListTaskDefinitions/);
  });

  it('answers an unknown target prefix with UnknownOperationException', async () => {
    const reply = await rawRequest(endpoint.url, { headers: { ...JSON_11, 'x-amz-target': 'AmazonSQS.SendMessage' }, body: '{}' });

    expect(reply.status).toBe(400);
    expect(reply.headers['x-amzn-errortype']).toBe('UnknownOperationException');
    expect(JSON.parse(reply.body)).toEqual({ __type: 'UnknownOperationException', message: expect.stringContaining("'AmazonSQS.SendMessage'") });
  });

  it('turns any other failure into a logged 500 InternalFailure', async () => {
    const sent = client((c) => new ECSClient(c)).send(new ListServicesCommand({ cluster: 'apps' }));

    await expect(sent).rejects.toMatchObject({
      name: 'InternalFailure',
      message: 'The local service failed: the local ECS tripped over a bug',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
    });
    expect(logged).toHaveLength(1);
    expect(logged[0][0]).toBe('Local endpoint: AmazonEC2ContainerServiceV20141113.ListServices failed unexpectedly');
  });

  it('speaks awsJson1_0 to Step Functions, errors and dates included', async () => {
    const sfnClient = client((c) => new SFNClient(c));

    const started = await sfnClient.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:m', name: 'r1' }));
    const missing = sfnClient.send(new DescribeExecutionCommand({ executionArn: 'arn:x' }));

    expect(started.startDate).toEqual(CREATED);
    await expect(missing).rejects.toBeInstanceOf(ExecutionDoesNotExist);
  });

  it('speaks query-compatible awsJson1_0 to CloudWatch', async () => {
    const cw = client((c) => new CloudWatchClient(c));

    const data = await cw.send(
      new GetMetricDataCommand({ StartTime: new Date(0), EndTime: CREATED, MetricDataQueries: [{ Id: 'requests', Expression: '1' }] }),
    );

    expect(data.MetricDataResults?.[0].Timestamps).toEqual([CREATED]);
    await expect(cw.send(new DescribeAlarmsCommand({}))).rejects.toMatchObject({ name: 'InvalidNextToken' });
    const raw = await rawRequest(endpoint.url, {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.DescribeAlarms', 'x-amzn-query-mode': 'true' },
      body: '{}',
    });
    expect(raw.headers['x-amzn-query-error']).toBe('InvalidNextToken;Sender');
  });

  it('refuses a content type that does not match the service JSON version', async () => {
    const reply = await rawRequest(endpoint.url, {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices' },
      body: '{}',
    });

    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ __type: 'SerializationException' });
    expect(calls).toEqual([]);
  });

  it.each([
    ['malformed JSON', '{"cluster":'],
    ['a JSON array', '[]'],
  ])('refuses %s with SerializationException', async (_, body) => {
    const reply = await rawRequest(endpoint.url, { headers: { ...JSON_11, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices' }, body });

    expect(reply.status).toBe(400);
    expect(reply.headers['x-amzn-errortype']).toBe('SerializationException');
  });

  it('treats an empty body as an empty input', async () => {
    const reply = await rawRequest(endpoint.url, { headers: { ...JSON_11, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices' } });

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(reply.body).services[0].createdAt).toBe(CREATED.getTime() / 1000);
    expect(calls).toEqual([['DescribeServices', {}]]);
  });

  it('refuses a request whose Host is not loopback (DNS rebinding)', async () => {
    const reply = await rawRequest(endpoint.url, {
      headers: { ...JSON_11, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices', host: 'evil.example.com' },
      body: '{}',
    });

    expect(reply.status).toBe(403);
    expect(reply.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(calls).toEqual([]);
  });

  it('refuses a body over the limit with 413', async () => {
    const reply = await rawRequest(endpoint.url, {
      headers: { ...JSON_11, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices' },
      body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
    });

    expect(reply.status).toBe(413);
    expect(calls).toEqual([]);
  });

  it('answers a request that is neither protocol with UnknownOperationException', async () => {
    const reply = await rawRequest(endpoint.url, { method: 'GET', path: '/' });

    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).__type).toBe('UnknownOperationException');
  });
});

describe('the local endpoint, App Mesh REST JSON', () => {
  it('hands requests under /v20190125/ to the App Mesh handler with query and body, dates as epoch seconds', async () => {
    const reply = await rawRequest(endpoint.url, {
      method: 'PUT',
      path: '/v20190125/meshes/apps/virtualRouter/r/routes/x?meshOwner=111122223333',
      headers: { 'content-type': 'application/json' },
      body: '{"spec":{"priority":1}}',
    });

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({
      method: 'PUT',
      path: '/v20190125/meshes/apps/virtualRouter/r/routes/x',
      owner: '111122223333',
      body: { spec: { priority: 1 } },
      at: CREATED.getTime() / 1000,
    });
  });

  it('renders AWS errors with x-amzn-ErrorType and a message body', async () => {
    const reply = await rawRequest(endpoint.url, { method: 'GET', path: '/v20190125/meshes/apps/virtualRouter/r/routes/missing' });

    expect(reply.status).toBe(404);
    expect(reply.headers['x-amzn-errortype']).toBe('NotFoundException');
    expect(JSON.parse(reply.body)).toEqual({ message: 'Route with name missing is not present' });
  });

  it('turns any other failure into a logged 500 InternalServerErrorException', async () => {
    const reply = await rawRequest(endpoint.url, { method: 'GET', path: '/v20190125/meshes/apps/virtualRouter/r/routes/boom' });

    expect(reply.status).toBe(500);
    expect(reply.headers['x-amzn-errortype']).toBe('InternalServerErrorException');
    expect(logged).toHaveLength(1);
  });

  it('refuses a malformed body with BadRequestException', async () => {
    const reply = await rawRequest(endpoint.url, { method: 'PUT', path: '/v20190125/meshes/apps/virtualRouter/r/routes/x', body: '{' });

    expect(reply.status).toBe(400);
    expect(reply.headers['x-amzn-errortype']).toBe('BadRequestException');
  });

  it('answers App Mesh paths with 404 UnknownOperationException when no App Mesh is running', async () => {
    const bare = await startLocalEndpoint({ jsonServices: [], logger });
    try {
      const reply = await rawRequest(bare.url, { method: 'GET', path: '/v20190125/meshes/apps/virtualRouters/r' });
      expect(reply.status).toBe(404);
      expect(reply.headers['x-amzn-errortype']).toBe('UnknownOperationException');
    } finally {
      await bare.close();
    }
  });
});

describe('starting and stopping', () => {
  it('refuses to bind anything but loopback', async () => {
    await expect(startLocalEndpoint({ jsonServices: [], host: '0.0.0.0' })).rejects.toThrow(/only binds to loopback/);
  });

  it('refuses two services with one target prefix', async () => {
    await expect(startLocalEndpoint({ jsonServices: [ecs, { ...ecs }] })).rejects.toThrow(/AmazonEC2ContainerServiceV20141113/);
  });

  it('closes promptly although an SDK client keeps its connection alive, and close is idempotent', async () => {
    const own = await startLocalEndpoint({ jsonServices: [ecs], logger });
    const ecsClient = new ECSClient(clientConfig(own.url));
    try {
      await ecsClient.send(new DescribeServicesCommand({ services: ['a'] }));
      const started = Date.now();
      await Promise.all([own.close(), own.close()]);
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(ecsClient.send(new DescribeServicesCommand({ services: ['a'] }))).rejects.toThrow();
    } finally {
      ecsClient.destroy();
      await own.close();
    }
  });
});

describe('wire helpers', () => {
  it('serialises dates as epoch seconds with millisecond precision, at any depth', () => {
    expect(toWireJson({ a: new Date('2025-01-01T00:00:00.250Z'), b: [{ c: new Date(0) }], d: undefined })).toBe('{"a":1735689600.25,"b":[{"c":0}]}');
    expect(toWireJson(undefined)).toBe('{}');
  });

  it('parses timestamps sent as epoch seconds or ISO strings', () => {
    expect(parseTimestamp(1735689600.25, 'StartTime')).toEqual(new Date('2025-01-01T00:00:00.250Z'));
    expect(parseTimestamp('2025-01-01T00:00:00Z', 'StartTime')).toEqual(new Date('2025-01-01T00:00:00Z'));
    expect(parseTimestamp(undefined, 'StartTime')).toBeUndefined();
    expect(() => parseTimestamp('soon', 'StartTime')).toThrow(/StartTime must be a timestamp/);
  });

  it('matches path templates and decodes labels', () => {
    expect(matchPath('/m/{meshName}/r/{routeName}', '/m/my%20mesh/r/a%2Fb')).toEqual({ meshName: 'my mesh', routeName: 'a/b' });
    expect(matchPath('/m/{meshName}/r/{routeName}', '/m/x/r')).toBeNull();
    expect(matchPath('/m/{meshName}', '/m/')).toBeNull();
    expect(() => matchPath('/m/{meshName}', '/m/%E0%A4%A')).toThrow(/not valid percent-encoding/);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['0.0.0.0', false],
    ['', false],
  ])('treats %j as loopback: %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});
