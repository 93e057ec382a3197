// The local ECS running real colorapp processes: health-gated running counts, rolling deployments
// that drain the old tasks, the circuit breaker, scaling, crash replacement and clean shutdown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEcs, buildColorApp, type LocalImage, type TaskOutputLine } from '../../../local/services/ecs';
import { call } from '../../colorapp/http-client';

const CLUSTER = 'apps';
let entry: string;
let scratch: string;
let hangs: string;
let ecs: LocalEcs | undefined;

beforeAll(async () => {
  entry = await buildColorApp();
  scratch = mkdtempSync(join(tmpdir(), 'ecs-tasks-test-'));
  // An image whose process runs but never listens: it can never pass a health check.
  hangs = join(scratch, 'hangs.js');
  writeFileSync(hangs, 'setInterval(() => {}, 1000);\n');
}, 20_000);

afterEach(async () => {
  await ecs?.close();
  ecs = undefined;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let lines: TaskOutputLine[];

function world(images: Record<string, LocalImage>, unhealthyAfterMs = 5000): LocalEcs {
  lines = [];
  ecs = new LocalEcs({
    cluster: CLUSTER,
    images,
    healthCheckIntervalMs: 50,
    unhealthyAfterMs,
    stopTimeoutMs: 2000,
    onTaskOutput: (line) => lines.push(line),
  });
  return ecs;
}

function register(local: LocalEcs, image: string): string {
  return local.registerTaskDefinition({
    family: 'colorapp',
    containerDefinitions: [
      { name: 'app', image, environment: [{ name: 'COLOR', value: 'blue' }, { name: 'PORT', value: '8080' }] },
    ],
  }).taskDefinitionArn;
}

type ServiceJson = {
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  deployments: { id: string; status: string; taskDefinition: string; runningCount: number; failedTasks: number; rolloutState: string; rolloutStateReason: string }[];
  events: { message: string }[];
};

async function describe1(local: LocalEcs, name: string): Promise<ServiceJson> {
  const out = (await local.operations.DescribeServices({ cluster: CLUSTER, services: [name] })) as { services: ServiceJson[] };
  return out.services[0];
}

async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(local: LocalEcs, service: string) {
  return Promise.all(local.healthyEndpoints(service).map(async (e) => JSON.parse((await call(e.port, '/')).body) as unknown));
}

describe('local ECS tasks', () => {
  it('runs tasks as colorapp processes with the container environment and the image tag as the version', async () => {
    const local = world({ 'colorapp:v1': { entry } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 2 });
    const starting = await describe1(local, 'colorapp-blue');

    await local.waitUntilSteady('colorapp-blue', 8000);

    expect(starting).toMatchObject({ runningCount: 0, pendingCount: 2 });
    expect(await describe1(local, 'colorapp-blue')).toMatchObject({ runningCount: 2, pendingCount: 0, deployments: [{ rolloutState: 'COMPLETED' }] });
    const endpoints = local.healthyEndpoints('colorapp-blue');
    expect(endpoints).toHaveLength(2);
    expect(new Set(endpoints.map((e) => e.port)).size).toBe(2); // its own port each, whatever PORT the task definition says
    expect(await answers(local, 'colorapp-blue')).toEqual([
      { color: 'blue', version: 'v1' },
      { color: 'blue', version: 'v1' },
    ]);
    const listening = lines.find((l) => l.taskId === endpoints[0].taskId && l.line.includes('"msg":"listening"'));
    expect(listening).toMatchObject({ serviceName: 'colorapp-blue', stream: 'stdout' });
    expect(local.taskLogs(endpoints[0].taskId).join('\n')).toContain(`"port":${endpoints[0].port}`);
  });

  it('rolls a new revision out, then drains the old tasks before it is COMPLETED', async () => {
    const local = world({ 'colorapp:v1': { entry }, 'colorapp:v2': { entry } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 1 });
    await local.waitUntilSteady('colorapp-blue', 8000);
    const [old] = local.tasks('colorapp-blue');

    const out = (await local.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v2') })) as {
      service: ServiceJson;
    };
    expect(out.service.deployments.map((d) => [d.status, d.rolloutState])).toEqual([
      ['PRIMARY', 'IN_PROGRESS'],
      ['ACTIVE', 'COMPLETED'],
    ]);

    await local.waitUntilSteady('colorapp-blue', 8000);
    const service = await describe1(local, 'colorapp-blue');
    expect(service.deployments).toMatchObject([{ status: 'PRIMARY', rolloutState: 'COMPLETED', runningCount: 1 }]);
    expect(service.events.map((e) => e.message)).toContain(`(service colorapp-blue) (deployment ${service.deployments[0].id}) deployment completed.`);
    expect(await answers(local, 'colorapp-blue')).toEqual([{ color: 'blue', version: 'v2' }]);
    await until('the old task to exit', () => !alive(old.pid));
  });

  it('fails a deployment whose tasks crash, and keeps the old tasks serving', async () => {
    const local = world({ 'colorapp:v1': { entry }, 'colorapp:bad': { entry, crash: true } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 1 });
    await local.waitUntilSteady('colorapp-blue', 8000);

    await local.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-blue', taskDefinition: register(local, 'colorapp:bad') });
    await until('the deployment to fail', async () => (await describe1(local, 'colorapp-blue')).deployments[0].rolloutState === 'FAILED', 8000);

    const service = await describe1(local, 'colorapp-blue');
    expect(service.deployments).toMatchObject([
      { status: 'PRIMARY', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', runningCount: 0 },
      { status: 'ACTIVE', runningCount: 1 },
    ]);
    expect(service.deployments[0].failedTasks).toBeGreaterThanOrEqual(3);
    expect(await answers(local, 'colorapp-blue')).toEqual([{ color: 'blue', version: 'v1' }]);
    await expect(local.waitUntilSteady('colorapp-blue', 100)).rejects.toThrow(/FAILED/);

    // Scaled to zero, the service wants no task at all, failed deployment or not.
    const pids = local.tasks('colorapp-blue').map((t) => t.pid);
    await local.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-blue', desiredCount: 0 });
    expect(local.healthyEndpoints('colorapp-blue')).toEqual([]);
    await until('every task to exit', () => !pids.some(alive));
  });

  it('counts a task that never gets healthy as failed', async () => {
    const local = world({ 'colorapp:v1': { entry }, 'colorapp:hangs': { entry: hangs } }, 300);
    local.seedService({ serviceName: 'colorapp-green', taskDefinition: register(local, 'colorapp:hangs'), desiredCount: 1 });

    await until('the deployment to fail', async () => (await describe1(local, 'colorapp-green')).deployments[0].rolloutState === 'FAILED', 8000);

    const service = await describe1(local, 'colorapp-green');
    expect(service.events.map((e) => e.message).join('\n')).toContain('failed container health checks: not healthy within 300 ms');
    await until('the unhealthy tasks to exit', () => local.tasks('colorapp-green').every((t) => !alive(t.pid)));
  });

  it('runs an image\'s baked-in behaviour: a faulty version answers 500s', async () => {
    const local = world({ 'colorapp:faulty': { entry, env: { FAULT_RATE: '1' } } });
    local.seedService({ serviceName: 'colorapp-green', taskDefinition: register(local, 'colorapp:faulty'), desiredCount: 1 });
    await local.waitUntilSteady('colorapp-green', 8000);

    const [endpoint] = local.healthyEndpoints('colorapp-green');
    const reply = await call(endpoint.port, '/');

    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body)).toMatchObject({ error: 'injected fault', version: 'faulty' });
  });

  it('scales to zero, stopping the processes, and back up in the same deployment', async () => {
    const local = world({ 'colorapp:v1': { entry } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 2 });
    await local.waitUntilSteady('colorapp-blue', 8000);
    const before = await describe1(local, 'colorapp-blue');
    const pids = local.tasks('colorapp-blue').map((t) => t.pid);

    await local.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-blue', desiredCount: 0 });
    expect(local.healthyEndpoints('colorapp-blue')).toEqual([]); // out of rotation at once
    await local.waitUntilSteady('colorapp-blue', 8000);
    expect(await describe1(local, 'colorapp-blue')).toMatchObject({ desiredCount: 0, runningCount: 0 });
    expect(pids.some(alive)).toBe(false);

    await local.operations.UpdateService({ cluster: CLUSTER, service: 'colorapp-blue', desiredCount: 1 });
    await local.waitUntilSteady('colorapp-blue', 8000);
    expect((await describe1(local, 'colorapp-blue')).deployments).toMatchObject([{ id: before.deployments[0].id, runningCount: 1 }]);
  });

  it('replaces a task whose process dies, counting it as failed', async () => {
    const local = world({ 'colorapp:v1': { entry } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 1 });
    await local.waitUntilSteady('colorapp-blue', 8000);
    const [first] = local.healthyEndpoints('colorapp-blue');

    expect(local.killTask(first.taskId)).toBe(true);
    await until('a replacement to serve', () => local.healthyEndpoints('colorapp-blue').some((e) => e.taskId !== first.taskId), 8000);

    const service = await describe1(local, 'colorapp-blue');
    expect(service.deployments[0]).toMatchObject({ failedTasks: 1, rolloutState: 'COMPLETED', runningCount: 1 });
    expect(local.tasks('colorapp-blue').find((t) => t.taskId === first.taskId)).toMatchObject({
      lastStatus: 'STOPPED',
      stoppedReason: 'Essential container in task exited',
    });
  });

  it('stops every task process on close', async () => {
    const local = world({ 'colorapp:v1': { entry } });
    local.seedService({ serviceName: 'colorapp-blue', taskDefinition: register(local, 'colorapp:v1'), desiredCount: 2 });
    await local.waitUntilSteady('colorapp-blue', 8000);
    const pids = local.tasks().map((t) => t.pid);

    await local.close();

    expect(pids).toHaveLength(2);
    expect(pids.some(alive)).toBe(false);
    expect(() => local.seedService({ serviceName: 'x', taskDefinition: 'colorapp', desiredCount: 0 })).toThrow(/closed/);
  });
});
