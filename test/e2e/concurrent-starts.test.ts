// End to end: twenty people start a release of the same service at the same moment with
// `ecs-release start --wait`. Exactly one release may run; every other start must be refused with
// a clear "release in progress" error naming the one that runs, whether the CLI's pre-check
// refused it or the state machine's lock step did (two starts can both pass the pre-check).
import { ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, ListExecutionsCommand, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { ReleaseState } from '../../lambdas/shared/documents';
import { cli, startE2eWorld, V2, type CliResult, type E2eWorld } from './support/local-release';

const STARTS = 20;

let env: E2eWorld | undefined;
let results: (CliResult & { requestedBy: string })[];
let executions: DescribeExecutionCommandOutput[];
let after: {
  state: ReleaseState | null;
  lockExists: boolean;
  route: { blue: number; green: number };
  taskDefinitions: string[];
  failed: { count: number; why: Readonly<Record<string, number>> };
};

beforeAll(async () => {
  env = await startE2eWorld({ strategy: { type: 'canary', steps: [50, 100] }, bakeSeconds: 3, requestsPerSecond: 50 });
  const endpointUrl = env.endpointUrl;
  const interrupts = Array.from({ length: STARTS }, () => new AbortController());
  // Bounded: a winner that never finished would otherwise keep its --wait polling.
  const giveUp = setTimeout(() => interrupts.forEach((i) => i.abort()), 90_000);
  try {
    results = await Promise.all(
      interrupts.map(async (interrupt, i) => {
        const requestedBy = `user-${i + 1}`;
        const argv = ['start', '--service', 'colorapp', '--image', V2, '--requested-by', requestedBy, '--wait'];
        return { ...(await cli(endpointUrl, argv, interrupt.signal)), requestedBy };
      }),
    );
  } finally {
    clearTimeout(giveUp);
  }

  const listed = await env.sfn.send(new ListExecutionsCommand({ stateMachineArn: env.world.stateMachineArn, maxResults: 100 }));
  executions = await Promise.all(
    (listed.executions ?? []).map((e) => env!.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }))),
  );
  const lockExists = await env.ssm
    .send(new GetParameterCommand({ Name: '/ecs-release/colorapp/lock' }))
    .then(() => true)
    .catch((error: Error) => (error.name === 'ParameterNotFound' ? false : Promise.reject(error)));
  const family = env.world.config.taskDefinitionFamily;
  const listedTaskDefinitions = await env.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family }));
  after = {
    state: await env.state(),
    lockExists,
    route: await env.routeWeights(),
    taskDefinitions: listedTaskDefinitions.taskDefinitionArns ?? [],
    // With why they failed, so a failure shows its cause.
    failed: { count: env.traffic.summary().failed, why: env.traffic.summary().failures },
  };
}, 150_000);

afterAll(async () => {
  await env?.close();
}, 30_000);

describe('twenty concurrent starts of one service', () => {
  it('runs exactly one release, which is promoted', () => {
    const winners = results.filter((r) => r.code === 0);
    expect(winners).toHaveLength(1);
    const [winner] = winners;
    const releaseId = winner.stdout.split('\n')[0];
    expect(winner.stdout).toContain(`Release ${releaseId} of colorapp: PROMOTED in `);
    expect(executions.filter((e) => e.status === 'SUCCEEDED').map((e) => e.name)).toEqual([releaseId]);
    expect(executions.filter((e) => e.status === 'RUNNING')).toEqual([]);
  });

  it('refuses the other nineteen with exit 3 and a "release in progress" error naming the running release', () => {
    const winner = results.find((r) => r.code === 0)!;
    const releaseId = winner.stdout.split('\n')[0];
    const winnerArn = executions.find((e) => e.name === releaseId)?.executionArn;
    const losers = results.filter((r) => r !== winner);
    expect(losers).toHaveLength(STARTS - 1);
    for (const loser of losers) {
      expect(loser.code).toBe(3);
      // The one line a user reads last: what is running and what to do about it.
      expect(loser.stderr.split('\n').pop()).toBe(
        `ecs-release: release in progress: ${releaseId} (execution ${winnerArn}) — ` +
          'wait for it to finish (ecs-release status --service colorapp) ' +
          'or stop it (ecs-release abort --service colorapp), then start again',
      );
    }
  });

  it('stops every start that got past the pre-check at the lock step, before it touches anything', () => {
    const refused = executions.filter((e) => e.status !== 'SUCCEEDED');
    const winner = executions.find((e) => e.status === 'SUCCEEDED')!;
    for (const execution of refused) {
      expect(execution).toMatchObject({ status: 'FAILED', error: 'ReleaseInProgressError' });
      expect(execution.cause).toContain(`already being released by ${winner.name} (execution ${winner.executionArn})`);
    }
    // Every start either never created an execution (pre-check) or failed at the lock.
    expect(executions.length).toBeGreaterThanOrEqual(1);
    expect(executions.length).toBeLessThanOrEqual(STARTS);
    // Only the winner registered a revision: the two the world was seeded with, plus v2's.
    expect(after.taskDefinitions).toHaveLength(3);
  });

  it('leaves exactly one new release in the state history, green live, the lock released', () => {
    const winner = results.find((r) => r.code === 0)!;
    const releaseId = winner.stdout.split('\n')[0];
    expect(after.state?.history.map((r) => [r.id, r.outcome, r.requestedBy])).toEqual([[releaseId, 'promoted', winner.requestedBy]]);
    expect(after.state?.live).toBe('green');
    expect(after.route).toEqual({ blue: 0, green: 100 });
    expect(after.lockExists).toBe(false);
    expect(after.failed).toEqual({ count: 0, why: {} });
  });

  it('lists every start refused at the lock as rejected in ecs-release history, beside the promoted release', async () => {
    const result = await cli(env!.endpointUrl, ['history', '--service', 'colorapp', '--limit', '50', '--output', 'json']);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as { releases: Array<{ outcome: string }>; rejected: Array<{ id: string; error: string; requestedBy: string }> };
    const refused = executions.filter((e) => e.status === 'FAILED');
    expect(body.rejected.map((r) => r.id).sort()).toEqual(refused.map((e) => e.name).sort());
    expect(new Set(body.rejected.map((r) => r.error))).toEqual(new Set(refused.length > 0 ? ['ReleaseInProgressError'] : []));
    expect(body.releases.map((r) => r.outcome)).toEqual(['promoted']);
  });
});
