import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsServiceError, type JsonProtocolService } from '../../../local/contracts';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { appMeshRestHandler, LocalAppMesh } from '../../../local/services/appmesh';
import { LocalSsm } from '../../../local/services/ssm';
import { aws, type CliResult } from './harness';

// The standard AWS CLI (botocore) against the local endpoint: what an operator types by hand
// while `npm run local` is up must work, and errors must name the AWS error code.

const MESH = 'apps';
const ROUTER = 'colorapp-router';
const ROUTE = 'colorapp-route';

const ecs: JsonProtocolService = {
  targetPrefix: 'AmazonEC2ContainerServiceV20141113',
  jsonVersion: '1.1',
  operations: {
    DescribeServices: async () => ({
      services: [{ serviceName: 'colorapp-blue', status: 'ACTIVE', createdAt: new Date('2026-03-01T12:00:00Z') }],
      failures: [],
    }),
    UpdateService: async () => {
      throw new AwsServiceError('ServiceNotFoundException', 'Service not found.');
    },
    ListClusters: async () => {
      throw new AwsServiceError('ThrottlingException', 'Rate exceeded');
    },
  },
};

const cloudwatch: JsonProtocolService = {
  targetPrefix: 'GraniteServiceVersion20100801',
  jsonVersion: '1.0',
  operations: {
    DescribeAlarms: async () => ({ MetricAlarms: [{ AlarmName: 'colorapp-green-5xx', StateValue: 'OK' }], CompositeAlarms: [] }),
  },
};

let endpoint: LocalEndpoint;
let configDir: string;
let isoConfig: string;
const ssm = new LocalSsm();
const mesh = new LocalAppMesh();

beforeAll(async () => {
  ssm.putJson('/ecs-release/colorapp/state', { live: 'blue' });
  mesh.seedVirtualNode({ meshName: MESH, virtualNodeName: 'colorapp-blue' });
  mesh.seedVirtualNode({ meshName: MESH, virtualNodeName: 'colorapp-green' });
  mesh.seedRoute({
    meshName: MESH,
    virtualRouterName: ROUTER,
    routeName: ROUTE,
    spec: {
      httpRoute: {
        match: { prefix: '/' },
        action: {
          weightedTargets: [
            { virtualNode: 'colorapp-blue', weight: 100 },
            { virtualNode: 'colorapp-green', weight: 0 },
          ],
        },
      },
    },
  });
  endpoint = await startLocalEndpoint({ jsonServices: [ssm, ecs, cloudwatch], restAppMesh: appMeshRestHandler(mesh) });
  // CLI v1 prints timestamps as received unless told otherwise; ISO output proves botocore parsed them.
  configDir = mkdtempSync(join(tmpdir(), 'aws-cli-test-'));
  isoConfig = join(configDir, 'config');
  writeFileSync(isoConfig, '[default]\ncli_timestamp_format = iso8601\n');
});

afterAll(async () => {
  await endpoint.close();
  rmSync(configDir, { recursive: true, force: true });
});

/** The JSON the CLI printed; fails with what it said when it did not succeed. */
function output(result: CliResult): Record<string, unknown> {
  if (result.code !== 0) throw new Error(`aws exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe('the AWS CLI against the local endpoint', () => {
  it('reads parameters, routes, services and alarms, and updates a route', async () => {
    // In parallel: each CLI start costs about half a second.
    const [parameter, route, services, alarms] = await Promise.all([
      aws(endpoint.url, ['ssm', 'get-parameter', '--name', '/ecs-release/colorapp/state'], { configFile: isoConfig }),
      aws(endpoint.url, ['appmesh', 'describe-route', '--mesh-name', MESH, '--virtual-router-name', ROUTER, '--route-name', ROUTE], {
        configFile: isoConfig,
      }),
      aws(endpoint.url, ['ecs', 'describe-services', '--cluster', 'apps', '--services', 'colorapp-blue']),
      aws(endpoint.url, ['cloudwatch', 'describe-alarms']),
    ]);

    expect(output(parameter)).toEqual({
      Parameter: expect.objectContaining({ Name: '/ecs-release/colorapp/state', Value: '{"live":"blue"}', Version: 1, Type: 'String' }),
    });
    // botocore parsed the epoch-seconds timestamp (printed as ISO 8601 with the config above).
    expect((output(parameter).Parameter as { LastModifiedDate: string }).LastModifiedDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(output(route)).toEqual({
      route: expect.objectContaining({
        routeName: ROUTE,
        spec: {
          httpRoute: {
            match: { prefix: '/' },
            action: {
              weightedTargets: [
                { virtualNode: 'colorapp-blue', weight: 100 },
                { virtualNode: 'colorapp-green', weight: 0 },
              ],
            },
          },
        },
        metadata: expect.objectContaining({ version: 1, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }),
      }),
    });
    expect(output(services)).toMatchObject({ services: [{ serviceName: 'colorapp-blue', status: 'ACTIVE' }] });
    expect(output(alarms)).toMatchObject({ MetricAlarms: [{ AlarmName: 'colorapp-green-5xx', StateValue: 'OK' }] });

    const spec = JSON.stringify({
      httpRoute: {
        match: { prefix: '/' },
        action: {
          weightedTargets: [
            { virtualNode: 'colorapp-blue', weight: 90 },
            { virtualNode: 'colorapp-green', weight: 10 },
          ],
        },
      },
    });
    const updated = await aws(endpoint.url, [
      'appmesh', 'update-route', '--mesh-name', MESH, '--virtual-router-name', ROUTER, '--route-name', ROUTE, '--spec', spec,
    ]);
    expect(output(updated)).toMatchObject({ route: { metadata: { version: 2 } } });
    expect(mesh.weights(MESH, ROUTER, ROUTE)).toEqual({ 'colorapp-blue': 90, 'colorapp-green': 10 });
  });

  it('exits non-zero naming the AWS error code', async () => {
    const results = await Promise.all([
      aws(endpoint.url, ['ssm', 'get-parameter', '--name', '/ecs-release/nope/state']),
      aws(endpoint.url, ['ecs', 'update-service', '--cluster', 'apps', '--service', 'nope', '--desired-count', '1']),
      aws(endpoint.url, ['ecs', 'list-clusters']),
      aws(endpoint.url, ['appmesh', 'describe-route', '--mesh-name', MESH, '--virtual-router-name', ROUTER, '--route-name', 'nope']),
    ]);

    const errors = results.map((result) => {
      expect(result.code).not.toBe(0);
      return /An error occurred \((\w+)\)/.exec(result.stderr)?.[1] ?? result.stderr;
    });
    expect(errors).toEqual([
      'ParameterNotFound',
      'ServiceNotFoundException',
      'ThrottlingException',
      'NotFoundException',
    ]);
    expect(results[0].stderr).toContain('Parameter /ecs-release/nope/state not found.');
  });
});
