// End to end: v2's image answers half of its requests with 500 (FAULT_RATE 0.5, a property of the
// image, not of anything the release sets). Released with `ecs-release start --wait` as a canary
// (10/50/100, 6 s bakes) under 100 client requests/s, it must be caught at the first step and
// rolled back, with blue untouched and the reason written down.
import { DescribeTaskDefinitionCommand, type Service } from '@aws-sdk/client-ecs';
import type { ReleaseState } from '../../lambdas/shared/documents';
import type { TrafficSummary } from '../../local/traffic';
import { cli, revisionOf, startE2eWorld, V1, V2, type CliResult, type E2eWorld } from './support/local-release';

let env: E2eWorld | undefined;
let before: { blue: Service; green: Service };
let result: CliResult;
let after: {
  state: ReleaseState | null;
  route: { blue: number; green: number };
  services: { blue: Service; green: Service };
  greenContainer: { image?: string; environment?: { name?: string; value?: string }[] } | undefined;
  greenWeights: number[];
  traffic: TrafficSummary;
};

beforeAll(async () => {
  env = await startE2eWorld({
    v2: { faultRate: 0.5 },
    strategy: { type: 'canary', steps: [10, 50, 100] },
    bakeSeconds: 6,
    requestsPerSecond: 100,
  });
  before = await env.services();
  // A second of steady traffic first, so blue's numbers are there to compare with.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  result = await cli(env.endpointUrl, ['start', '--service', 'colorapp', '--image', V2, '--reason', 'e2e: faulty v2', '--wait']);
  // A little more traffic after the end: what the clients see once the rollback has settled.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const services = await env.services();
  const td = await env.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: services.green.taskDefinition }));
  after = {
    state: await env.state(),
    route: await env.routeWeights(),
    services,
    greenContainer: td.taskDefinition?.containerDefinitions?.[0],
    greenWeights: env.world.weightHistory().map((c) => c.weights.green),
    traffic: env.traffic.summary(),
  };
}, 120_000);

afterAll(async () => {
  await env?.close();
}, 30_000);

describe('a faulty release (v2 fails half its requests)', () => {
  it('is rolled back: `start --wait` exits 1 and says why', () => {
    const [releaseId, summary] = result.stdout.split('\n');
    expect(result.code).toBe(1);
    expect(releaseId).toBe(after.state?.history[0]?.id);
    expect(summary).toMatch(new RegExp(`^Release ${releaseId} of colorapp: ROLLED BACK after `));
    expect(result.stdout).toMatch(/why: (AlarmTriggeredError|UnhealthyReleaseError): /);
    expect(result.stdout).toContain('blue is live with v1 (colorapp:v1)');
  });

  it('never gets past the first canary step and ends with blue at 100/0', () => {
    expect(Math.max(...after.greenWeights)).toBe(10);
    expect(after.greenWeights[after.greenWeights.length - 1]).toBe(0);
    expect(after.route).toEqual({ blue: 100, green: 0 });
  });

  it('costs few failed requests, all on green, none on blue', () => {
    const { traffic } = after;
    expect(traffic.failed).toBeGreaterThan(0); // the fault was real and reached clients
    expect(traffic.failed).toBeLessThanOrEqual(40); // bench goal is 20; generous here against a slow machine
    expect(traffic.byColour.green.failed).toBe(traffic.failed);
    expect(traffic.byColour.blue).toMatchObject({ failed: 0 });
  });

  it('records the failure in the state history with the alarm or unhealthy reason, blue still live', () => {
    const state = after.state!;
    expect(state.live).toBe('blue');
    expect(state.colours.blue).toMatchObject({ image: V1, version: 'v1' });
    expect(state.history).toHaveLength(1);
    const [release] = state.history;
    expect(release).toMatchObject({ image: V2, outcome: 'rolled-back', fromColour: 'blue', toColour: 'green', reason: 'e2e: faulty v2' });
    expect(release.failure?.error).toMatch(/^(AlarmTriggeredError|UnhealthyReleaseError)$/);
    expect(release.failure?.cause).toMatch(/colorapp-green-success-rate|[Ss]uccess rate/);
    expect(state.lastRelease?.id).toBe(release.id);
  });

  it('leaves blue untouched and puts green back on its previous revision at zero tasks', () => {
    const { blue, green } = after.services;
    expect(blue.taskDefinition).toBe(before.blue.taskDefinition);
    expect(blue).toMatchObject({ desiredCount: 2, runningCount: 2 });
    expect(blue.deployments).toHaveLength(1);
    expect(green.taskDefinition).toBe(before.green.taskDefinition);
    expect(revisionOf(green.taskDefinition)).toBe(revisionOf(before.green.taskDefinition));
    expect(green.desiredCount).toBe(0);
    expect(after.greenContainer?.image).toBe(V1);
    expect(after.greenContainer?.environment).toContainEqual({ name: 'COLOR', value: 'green' });
  });
});
