// How the local ECS stops a task, in two phases as ECS does: SIGTERM, then SIGKILL once the
// container's `stopTimeout` has passed ("Time duration (in seconds) to wait before the container
// is forcefully killed if it doesn't exit normally on its own"; StopTask: "a SIGTERM value and a
// default 30-second timeout, after which the SIGKILL value is sent"), with the exit code Docker
// reports for a killed process (128 + 9 = 137).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEcs, buildColorApp } from '../../../local/services/ecs';

let scratch: string;
let stubborn: string;
let colorapp: string;
let ecs: LocalEcs | undefined;

beforeAll(async () => {
  colorapp = await buildColorApp();
  scratch = mkdtempSync(join(tmpdir(), 'ecs-stop-test-'));
  // An image that serves its health check but ignores SIGTERM: only SIGKILL ends it.
  stubborn = join(scratch, 'stubborn.js');
  writeFileSync(
    stubborn,
    "process.on('SIGTERM', () => {});\nrequire('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST);\n",
  );
}, 20_000);
afterEach(async () => {
  await ecs?.close();
  ecs = undefined;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Starts one task of `image` (with `stopTimeout` when given), scales to 0, and measures the stop. */
async function stopOne(image: string, stopTimeout?: number): Promise<{ ms: number; exitCode: unknown; lastStatuses: string[] }> {
  ecs = new LocalEcs({ cluster: 'apps', images: { [image]: { entry: image === 'stubborn' ? stubborn : colorapp } }, healthCheckIntervalMs: 50, stopTimeoutMs: 5000 });
  const td = ecs.registerTaskDefinition({
    family: 'app',
    containerDefinitions: [
      { name: 'app', image, environment: [{ name: 'COLOR', value: 'blue' }], ...(stopTimeout !== undefined ? { stopTimeout } : {}) },
    ],
  }).taskDefinitionArn;
  ecs.seedService({ serviceName: 'app', taskDefinition: td, desiredCount: 1 });
  await ecs.waitUntilSteady('app', 10_000);
  const [task] = ecs.tasks('app');
  const startedAt = Date.now();
  await ecs.operations.UpdateService({ cluster: 'apps', service: 'app', desiredCount: 0 });
  const lastStatuses: string[] = [];
  for (;;) {
    const now = ecs.tasks('app').find((t) => t.taskId === task.taskId)!;
    if (lastStatuses.at(-1) !== now.lastStatus) lastStatuses.push(now.lastStatus);
    if (now.lastStatus === 'STOPPED') break;
    if (Date.now() - startedAt > 10_000) throw new Error(`still ${now.lastStatus} after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const ms = Date.now() - startedAt;
  const described = (await ecs.operations.DescribeTasks({ cluster: 'apps', tasks: [task.taskId] })) as { tasks: { containers: { exitCode?: number }[] }[] };
  return { ms, exitCode: described.tasks[0].containers[0].exitCode, lastStatuses };
}

describe('stopping a task', () => {
  it("kills a process that ignores SIGTERM once the container's stopTimeout has passed, exit code 137", async () => {
    const stop = await stopOne('stubborn', 1);
    expect(stop.ms).toBeGreaterThanOrEqual(1000);
    expect(stop.ms).toBeLessThan(3000); // not the world's 5 s default: the container's own 1 s
    expect(stop.exitCode).toBe(137);
    expect(stop.lastStatuses).toEqual(['DEPROVISIONING', 'STOPPED']);
  }, 20_000);

  it('lets a process that handles SIGTERM exit on its own, well before the timeout, exit code 0', async () => {
    const stop = await stopOne('colorapp:v1', 30);
    expect(stop.ms).toBeLessThan(2000);
    expect(stop.exitCode).toBe(0);
  }, 20_000);

  it('refuses a stopTimeout that is not a whole number of seconds', () => {
    ecs = new LocalEcs({ cluster: 'apps', images: {} });
    expect(() => ecs!.registerTaskDefinition({ family: 'app', containerDefinitions: [{ name: 'app', image: 'x', stopTimeout: 1.5 }] })).toThrow(
      /stopTimeout must be a whole number of seconds/,
    );
  });
});
