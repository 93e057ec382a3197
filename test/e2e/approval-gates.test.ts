// End to end: releases that wait at an approval gate for a person, who answers through the
// ecs-release CLI. One gate is approved with the installed command (bin/ecs-release.js, its own
// process) and the release is promoted; the other is rejected with the CLI's run function and
// the release is rolled back. Each release runs in its own fresh local world (canary 50/100,
// 3 s bakes, 50 client requests/s).
import type { Service } from '@aws-sdk/client-ecs';
import type { ApprovalDocument, ReleaseState } from '../../lambdas/shared/documents';
import {
  bin,
  cli,
  cliInBackground,
  startE2eWorld,
  V1,
  V2,
  waitFor,
  within,
  type BackgroundCli,
  type CliResult,
  type E2eWorld,
  type E2eWorldOptions,
} from './support/local-release';

const WORLD: E2eWorldOptions = { strategy: { type: 'canary', steps: [50, 100] }, bakeSeconds: 3, requestsPerSecond: 50 };

/** Waits (bounded) until a gate of that kind waits for an answer, and returns its document. */
/**
 * The gate's approval document once it waits; fails at once, with what `start --wait` printed,
 * if the release ends before it gets there (a verdict, a deployment), instead of timing out.
 */
function gateOpens(env: E2eWorld, start: BackgroundCli, gate: ApprovalDocument['gate'], timeoutMs: number): Promise<ApprovalDocument> {
  const waiting = async () => {
    const approval = await env.approval();
    return approval?.gate === gate ? approval : undefined;
  };
  const ended = start.result.then((result): never => {
    throw new Error(`The release ended before the ${gate} gate (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  });
  return Promise.race([waitFor(`the ${gate} approval gate`, waiting, { timeoutMs, intervalMs: 200 }), ended]);
}

describe('an approval gate before promotion, approved with `ecs-release approve`', () => {
  let env: E2eWorld | undefined;
  let start: BackgroundCli | undefined;
  let gate: ApprovalDocument;
  let atGate: { route: { blue: number; green: number }; state: ReleaseState | null };
  let approved: CliResult & { timedOut: boolean };
  let started: CliResult;
  let after: { route: { blue: number; green: number }; state: ReleaseState | null; approval: ApprovalDocument | null; failed: { count: number; why: Readonly<Record<string, number>> } };

  beforeAll(async () => {
    env = await startE2eWorld(WORLD);
    start = cliInBackground(env.endpointUrl, ['start', '--service', 'colorapp', '--image', V2, '--approve-before-promote', '--wait']);
    // Deploy, two 3 s bakes, then the gate.
    gate = await gateOpens(env, start, 'before-promote', 45_000);
    atGate = { route: await env.routeWeights(), state: await env.state() };

    approved = await bin(env.endpointUrl, ['approve', '--service', 'colorapp', '--release-id', gate.releaseId, '--by', 'release-manager']);
    started = await within(start.result, 30_000, '`start --wait` to return after the approval');
    after = {
      route: await env.routeWeights(),
      state: await env.state(),
      approval: await env.approval(),
      // With why they failed, so a failure shows its cause.
      failed: { count: env.traffic.summary().failed, why: env.traffic.summary().failures },
    };
  }, 120_000);

  afterAll(async () => {
    await start?.stop();
    await env?.close();
  }, 30_000);

  it('holds the release at the gate with green taking all traffic but not yet promoted', () => {
    expect(gate.executionArn).toContain(`:execution:colorapp-release:${gate.releaseId}`);
    expect(atGate.route).toEqual({ blue: 0, green: 100 });
    // Not promoted yet: blue is still the live colour of record.
    expect(atGate.state?.live).toBe('blue');
  });

  it('accepts the approval from the installed command (exit 0) and lets the release continue', () => {
    expect(approved.timedOut).toBe(false);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toBe(`Approved release ${gate.releaseId} of colorapp at before-promote; it continues.`);
  });

  it('promotes the release: `start --wait` exits 0, green is live on v2 in the state document', () => {
    // On failure, show what the CLI said, not just its exit code.
    expect({ code: started.code, stdout: started.stdout }).toEqual({ code: 0, stdout: started.stdout });
    expect(started.stdout).toContain(`Release ${gate.releaseId} of colorapp: PROMOTED in `);
    expect(after.route).toEqual({ blue: 0, green: 100 });
    expect(after.state?.live).toBe('green');
    expect(after.state?.colours.green).toMatchObject({ image: V2, version: 'v2' });
    expect(after.state?.history.map((r) => [r.id, r.outcome])).toEqual([[gate.releaseId, 'promoted']]);
    expect(after.approval).toBeNull(); // the answered gate's document is gone
    expect(after.failed).toEqual({ count: 0, why: {} });
  });
});

describe('an approval gate before traffic, rejected with `ecs-release reject`', () => {
  let env: E2eWorld | undefined;
  let start: BackgroundCli | undefined;
  let before: { blue: Service; green: Service };
  let gate: ApprovalDocument;
  let atGate: {
    route: { blue: number; green: number };
    services: { blue: Service; green: Service };
    /** What `curl -H 'x-release-color: green'` and a plain curl got through the load balancer. */
    byHeader: { color: string; version: string };
    plain: { color: string; version: string };
  };
  let rejected: CliResult;
  let started: CliResult;
  let after: {
    route: { blue: number; green: number };
    state: ReleaseState | null;
    services: { blue: Service; green: Service };
    approval: ApprovalDocument | null;
    failed: { count: number; why: Readonly<Record<string, number>> };
  };

  beforeAll(async () => {
    env = await startE2eWorld(WORLD);
    before = await env.services();
    start = cliInBackground(env.endpointUrl, ['start', '--service', 'colorapp', '--image', V2, '--approve-before-traffic', '--wait']);
    gate = await gateOpens(env, start, 'before-traffic', 30_000);
    const answer = async (headers: Record<string, string>) =>
      (await (await fetch(env!.world.gateway.url, { headers, signal: AbortSignal.timeout(5000) })).json()) as { color: string; version: string };
    atGate = {
      route: await env.routeWeights(),
      services: await env.services(),
      byHeader: await answer({ 'x-release-color': 'green' }),
      plain: await answer({}),
    };

    const reason = 'smoke test failed on green';
    rejected = await cli(env.endpointUrl, ['reject', '--service', 'colorapp', '--reason', reason, '--by', 'qa-lead']);
    started = await within(start.result, 30_000, '`start --wait` to return after the rejection');
    after = {
      route: await env.routeWeights(),
      state: await env.state(),
      services: await env.services(),
      approval: await env.approval(),
      // With why they failed, so a failure shows its cause.
      failed: { count: env.traffic.summary().failed, why: env.traffic.summary().failures },
    };
  }, 120_000);

  afterAll(async () => {
    await start?.stop();
    await env?.close();
  }, 30_000);

  it('holds the release before any traffic moves, with v2 deployed on green', () => {
    expect(atGate.route).toEqual({ blue: 100, green: 0 });
    expect(atGate.services.green).toMatchObject({ desiredCount: 2, runningCount: 2 });
    expect(atGate.services.green.taskDefinition).not.toBe(before.green.taskDefinition);
  });

  it("lets a tester reach the idle colour's v2 with x-release-color: green (the header rule) while clients stay on blue", () => {
    expect(atGate.byHeader).toMatchObject({ color: 'green', version: 'v2' });
    expect(atGate.plain).toMatchObject({ color: 'blue', version: 'v1' });
  });

  it('accepts the rejection (exit 0) and says the release is being rolled back', () => {
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toBe(`Rejected release ${gate.releaseId} of colorapp at before-traffic; it is being rolled back.`);
  });

  it('rolls the release back: `start --wait` exits 1 with the rejection as the reason', () => {
    expect(started.code).toBe(1);
    expect(started.stdout).toContain(`Release ${gate.releaseId} of colorapp: ROLLED BACK after `);
    expect(started.stdout).toContain('why: ApprovalRejectedError: Rejected by qa-lead: smoke test failed on green');
  });

  it('records the rejection in the state history and leaves blue live at 100/0', () => {
    expect(after.route).toEqual({ blue: 100, green: 0 });
    expect(after.state?.live).toBe('blue');
    expect(after.state?.colours.blue).toMatchObject({ image: V1, version: 'v1' });
    expect(after.state?.history).toHaveLength(1);
    expect(after.state?.history[0]).toMatchObject({
      id: gate.releaseId,
      outcome: 'rolled-back',
      failure: { error: 'ApprovalRejectedError', cause: 'Rejected by qa-lead: smoke test failed on green' },
    });
    expect(after.approval).toBeNull();
    expect(after.failed).toEqual({ count: 0, why: {} });
  });

  it('puts green back on its previous revision at zero tasks and leaves blue as it was', () => {
    expect(after.services.green.taskDefinition).toBe(before.green.taskDefinition);
    expect(after.services.green.desiredCount).toBe(0);
    expect(after.services.blue.taskDefinition).toBe(before.blue.taskDefinition);
    expect(after.services.blue).toMatchObject({ desiredCount: 2, runningCount: 2 });
  });
});
