// End to end: the new version's processes die while green's deployment is in progress, so the
// deployment never gets a healthy task and ECS's circuit breaker fails it. Two ways a process
// dies: the image is built to exit with status 1 on start-up, or a healthy image's tasks are
// killed (SIGKILL, as an OOM kill would) as each one starts. Either way the release must roll back
// before any traffic moves: blue keeps serving at 100/0 and no client sees an error.
import { DescribeTasksCommand, ListTasksCommand, type Service } from '@aws-sdk/client-ecs';
import type { ReleaseState } from '../../lambdas/shared/documents';
import {
  cliInBackground,
  startE2eWorld,
  V1,
  V2,
  within,
  type CliResult,
  type E2eWorld,
  type E2eWorldOptions,
} from './support/local-release';

/** What the test does to v2's tasks while the release runs; returns how many tasks it killed. */
type Drill = (env: E2eWorld, released: Promise<unknown>) => Promise<number>;

const noDrill: Drill = async () => 0;

/**
 * Kills every v2 task of green as soon as it has a process, until the release has ended (bounded
 * by 60 s). Polling every 10 ms kills a task long before colorapp answers its first health check
 * (node boot plus a 250 ms probe interval), so no v2 task ever becomes healthy.
 */
const killEachNewTask: Drill = async (env, released) => {
  const killed = new Set<string>();
  let over = false;
  void released.finally(() => (over = true));
  const deadline = Date.now() + 60_000;
  while (!over && Date.now() < deadline) {
    for (const task of env.world.ecs.tasks(env.world.config.ecsServices.green)) {
      if (task.image === V2 && task.lastStatus !== 'STOPPED' && !killed.has(task.taskId) && env.world.ecs.killTask(task.taskId)) {
        killed.add(task.taskId);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return killed.size;
};

describe.each<[string, E2eWorldOptions['v2'], Drill, number]>([
  ['crashes on start-up (its image exits with status 1)', { crash: true }, noDrill, 0],
  ['is killed with SIGKILL as each task starts, while the deployment is in progress', {}, killEachNewTask, 3],
])('a release whose new version %s', (_, v2, drill, minKills) => {
  let env: E2eWorld | undefined;
  let before: { blue: Service; green: Service };
  let result: CliResult;
  let killed: number;
  let after: {
    state: ReleaseState | null;
    route: { blue: number; green: number };
    services: { blue: Service; green: Service };
    greenTasksRunning: number;
    greenWeights: number[];
    stoppedV2Tasks: number;
    requests: number;
    failed: number;
    blueRequests: number;
  };

  beforeAll(async () => {
    env = await startE2eWorld({ v2, strategy: { type: 'canary', steps: [50, 100] }, bakeSeconds: 3, requestsPerSecond: 50 });
    before = await env.services();

    const start = cliInBackground(env.endpointUrl, ['start', '--service', 'colorapp', '--image', V2, '--wait']);
    try {
      [result, killed] = await within(Promise.all([start.result, drill(env, start.result)]), 60_000, 'the release to end');
    } finally {
      await start.stop();
    }

    const { cluster, ecsServices } = env.world.config;
    const listed = await env.ecs.send(new ListTasksCommand({ cluster, serviceName: ecsServices.green, desiredStatus: 'RUNNING' }));
    const running = listed.taskArns?.length
      ? ((await env.ecs.send(new DescribeTasksCommand({ cluster, tasks: listed.taskArns }))).tasks ?? [])
      : [];
    const summary = env.traffic.summary();
    after = {
      state: await env.state(),
      route: await env.routeWeights(),
      services: await env.services(),
      greenTasksRunning: running.filter((t) => t.lastStatus !== 'STOPPED').length,
      greenWeights: env.world.weightHistory().map((c) => c.weights.green),
      stoppedV2Tasks: env.world.ecs.tasks(ecsServices.green).filter((t) => t.image === V2 && t.lastStatus === 'STOPPED').length,
      requests: summary.requests,
      failed: summary.failed,
      blueRequests: summary.byColour.blue?.requests ?? 0,
    };
  }, 120_000);

  afterAll(async () => {
    await env?.close();
  }, 30_000);

  it('fails the deployment and rolls back: `start --wait` exits 1 with DeploymentFailedError', () => {
    const releaseId = result.stdout.split('\n')[0];
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`Release ${releaseId} of colorapp: ROLLED BACK after `);
    expect(result.stdout).toMatch(/why: DeploymentFailedError: .*colorapp-green/);
    // ECS's circuit breaker counted the dead tasks (3 fail a deployment).
    expect(after.stoppedV2Tasks).toBeGreaterThanOrEqual(3);
    expect(killed).toBeGreaterThanOrEqual(minKills);
  });

  it('never moves traffic: blue serves 100/0 throughout and no client request fails', () => {
    expect(after.greenWeights.every((w) => w === 0)).toBe(true);
    expect(after.route).toEqual({ blue: 100, green: 0 });
    expect(after.failed).toBe(0);
    expect(after.requests).toBeGreaterThan(0);
    expect(after.blueRequests).toBe(after.requests); // every answer came from blue
  });

  it('leaves blue untouched and puts green back on its previous revision with no tasks', () => {
    const { blue, green } = after.services;
    expect(blue.taskDefinition).toBe(before.blue.taskDefinition);
    expect(blue).toMatchObject({ desiredCount: 2, runningCount: 2 });
    expect(green.taskDefinition).toBe(before.green.taskDefinition);
    expect(green.desiredCount).toBe(0);
    expect(after.greenTasksRunning).toBe(0);
  });

  it('records the failed deployment in the state history, blue still live on v1', () => {
    const state = after.state!;
    expect(state.live).toBe('blue');
    expect(state.colours.blue).toMatchObject({ image: V1, version: 'v1' });
    expect(state.history).toHaveLength(1);
    expect(state.history[0]).toMatchObject({ image: V2, outcome: 'rolled-back', failure: { error: 'DeploymentFailedError' } });
    expect(state.history[0].id).toBe(result.stdout.split('\n')[0]);
  });
});
