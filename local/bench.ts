/**
 * `npm run bench`: the figures the project promises, measured on this machine in the local
 * world (real processes, real HTTP, the real state machine and handlers), printed for the
 * record, on both traffic backends side by side (ALB weighted target groups, the default, and
 * App Mesh). Nothing here asserts: goals are shown next to the numbers.
 *
 * 1. A bad release (v2 fails 50% of its requests) at 100 requests/s with a 10% first step:
 *    rollback latency (first failed request on the new colour → route back to 100/0) and
 *    failed requests.
 * 2. A healthy 4-step canary: state transitions, and orchestration overhead per step (wall time
 *    minus the time spent in bakes and Wait states).
 * 4. With `--false-alarms [RUNS]` (RUNS 20 by default; about 20 s each): RUNS releases as good
 *    as live on ALB as `npm start` runs them (canary 10/50/100, 100 requests/s), live and new
 *    at the same error rate, 0% and 1.5%: how many promote (goal: 19 of 20 or more).
 * 3. Every handler bundle, bundled exactly as the CDK app bundles it (infra/bundling.ts, the
 *    pinned AWS SDK inside): its minified size, and its cold initialisation, the time a fresh
 *    Node.js process takes to load it and run its module scope (clients, schemas), the median of
 *    three fresh processes.
 * 4. A fleet: one release engine with 1, 10 and 50 registered services, synthesized (no
 *    bundling): CloudFormation resources added per service, functions, state machines and APIs
 *    (constant), and the most managed policies of per-service grants on one handler role.
 * 5. A fleet released at once in the local world (ALB; `npm run bench -- --fleet` runs only
 *    this): one release alone, then {@link FLEET_SERVICES} services of the fleet sample released
 *    at the same moment through the one engine, same strategy and traffic per service. Each
 *    release's orchestration overhead per step (the split of `overhead.ts`) next to the lone
 *    release's, and the lock waits read from every execution's history (`lock-waits.ts`): each
 *    service has its own lock, so there should be none.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { handlerBuildOptions } from '../infra/bundling';
import { LOCAL_BACKENDS, type LocalBackend } from './backends';
import { orchestrationOverhead, type OrchestrationOverhead } from './overhead';
import { lockWaits, type LockWaits } from './lock-waits';
import { runDemo, type DemoReport } from './demo';
import { synthesizeFleet } from '../infra/fleet-resources';

const ROOT = path.join(__dirname, '..');

/** One measure on every backend. */
interface Row {
  readonly measure: string;
  readonly values: Readonly<Record<LocalBackend, { readonly value: string; readonly met: boolean }>>;
  readonly goal: string;
}

/** One bundle size: the same on every backend (the handlers do not change with it). */
interface BundleRow {
  readonly measure: string;
  readonly value: string;
  readonly met: boolean;
  readonly goal: string;
}

type Measured = { readonly measure: string; readonly value: string; readonly goal: string; readonly met: boolean };

/** The release measures on one backend. */
async function measure(backend: LocalBackend): Promise<Measured[]> {
  const rows: Measured[] = [];
  console.log(`[${backend}] bad release: v2 fails 50% of requests, 100 req/s, canary 10/50/100 ...`);
  const bad = await runDemo({ traffic: backend, faultRate: 0.5, requestsPerSecond: 100, strategy: { type: 'canary', steps: [10, 50, 100] } });
  const latency = bad.rollback?.latencyMs ?? null;
  rows.push({ measure: 'bad release outcome', value: bad.outcome, goal: 'rolled-back', met: bad.outcome === 'rolled-back' });
  rows.push({ measure: 'rollback latency (first failed request → 100/0)', value: latency === null ? 'n/a' : `${latency} ms`, goal: '≤ 2000 ms', met: latency !== null && latency <= 2000 });
  rows.push({ measure: 'failed requests during the bad release', value: String(bad.traffic.failed), goal: '≤ 20', met: bad.traffic.failed <= 20 });

  console.log(`[${backend}] healthy 4-step canary 10/25/50/100 ...`);
  let overhead: OrchestrationOverhead | null = null;
  const good = await runDemo({
    traffic: backend,
    strategy: { type: 'canary', steps: [10, 25, 50, 100] },
    inspect: (world, executionArn) => {
      overhead = orchestrationOverhead(world.stepFunctions.executionEvents(executionArn));
    },
  });
  rows.push({
    measure: 'healthy canary outcome',
    value: good.error ? `${good.outcome} (${good.error.name})` : good.outcome,
    goal: 'promoted',
    met: good.outcome === 'promoted',
  });
  rows.push({ measure: 'failed requests during the healthy canary', value: String(good.traffic.failed), goal: '0', met: good.traffic.failed === 0 });
  rows.push({ measure: 'state transitions, 4-step canary', value: String(good.stateTransitions), goal: '≤ 40', met: good.stateTransitions <= 40 });
  const o = overhead as OrchestrationOverhead | null;
  rows.push({
    measure: 'orchestration overhead per step',
    value: o ? `${o.perStepMs.toFixed(0)} ms (mean of ${o.steps} steps)` : 'n/a',
    goal: '≤ 100 ms',
    met: o !== null && o.perStepMs <= 100,
  });
  // Paid once per release whatever its steps; reported, with no goal of its own.
  rows.push({
    measure: 'orchestration once per release (setup + finish)',
    value: o ? `${o.setupMs + o.finishMs} ms (${o.setupMs} + ${o.finishMs})` : 'n/a',
    goal: 'reported',
    met: o !== null,
  });
  return rows;
}

/** Releases as good as live, `runs` per error rate: how many the relative verdict promotes. */
async function falseAlarms(runs: number): Promise<BundleRow[]> {
  const rows: BundleRow[] = [];
  for (const rate of [0, 0.015]) {
    let promoted = 0;
    const why: string[] = [];
    for (let i = 0; i < runs; i++) {
      const report = await runDemo({ faultRate: rate, baselineFaultRate: rate });
      if (report.outcome === 'promoted') promoted++;
      else why.push(report.rollback?.reason.slice(0, 160) ?? report.outcome);
      console.log(`[false alarms ${rate * 100}%] run ${i + 1}/${runs}: ${report.outcome}`);
    }
    const goal = Math.ceil((runs * 19) / 20);
    rows.push({
      measure: `as good as live at ${rate * 100}% errors: promoted`,
      value: `${promoted}/${runs}${why.length ? ` (${why.join(' | ')})` : ''}`,
      goal: `≥ ${goal}/${runs}`,
      met: promoted >= goal,
    });
  }
  return rows;
}

/** Services of the fleet released at once by the fleet rows. */
const FLEET_SERVICES = 5;

/**
 * One release alone, then {@link FLEET_SERVICES} at once, in fresh worlds with the same strategy
 * (4 steps), bakes and client traffic per service: per-step orchestration overhead of each and
 * the lock waits of the fleet's executions, all read from the executions' histories.
 */
async function fleetReleases(): Promise<BundleRow[]> {
  // 50 requests/s per service (250 in all with five) and a first step of 25%: 75 requests in a
  // 6-second bake, above the 50 a verdict needs, without saturating a small machine.
  const common = { strategy: { type: 'canary' as const, steps: [25, 50, 75, 100] }, requestsPerSecond: 50, bakeSeconds: 6 };
  type FleetRun = { report: DemoReport; overheads: Map<string, OrchestrationOverhead>; locks: Map<string, LockWaits> };
  const run = async (services: number): Promise<FleetRun> => {
    const overheads = new Map<string, OrchestrationOverhead>();
    const locks = new Map<string, LockWaits>();
    const report = await runDemo({
      ...common,
      services,
      inspect: (world, _first, executions) => {
        for (const { service, executionArn } of executions) {
          const events = world.stepFunctions.executionEvents(executionArn);
          overheads.set(service, orchestrationOverhead(events));
          locks.set(service, lockWaits(events));
        }
      },
    });
    return { report, overheads, locks };
  };
  console.log('[fleet] one release alone: canary 25/50/75/100, 50 req/s ...');
  const alone = await run(1);
  console.log(`[fleet] ${FLEET_SERVICES} services released at once: the same, each ...`);
  const fleet = await run(FLEET_SERVICES);

  const single = alone.overheads.get('colorapp');
  const each = fleet.report.releases.map((r) => ({ service: r.service, outcome: r.outcome, overhead: fleet.overheads.get(r.service), lock: fleet.locks.get(r.service) }));
  const perStep = each.map((e) => e.overhead?.perStepMs ?? NaN);
  const promoted = each.filter((e) => e.outcome === 'promoted').length;
  const mean = perStep.reduce((a, b) => a + b, 0) / perStep.length;
  const waits = each.reduce((sum, e) => sum + (e.lock?.waits ?? 0), 0);
  const waitedMs = each.reduce((sum, e) => sum + (e.lock?.waitedMs ?? 0), 0);
  const acquired = each.filter((e) => e.lock?.acquired).length;
  const attempts = each.reduce((sum, e) => sum + (e.lock?.attempts ?? 0), 0);
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  return [
    {
      measure: `${FLEET_SERVICES} releases at once: promoted`,
      value: `${promoted}/${each.length}${promoted < each.length ? ` (${each.filter((e) => e.outcome !== 'promoted').map((e) => `${e.service} ${e.outcome}`).join(', ')})` : ''}`,
      goal: `${FLEET_SERVICES}/${FLEET_SERVICES}`,
      met: promoted === FLEET_SERVICES,
    },
    {
      measure: 'orchestration overhead per step, one release alone',
      value: single ? `${ms(single.perStepMs)} (${single.steps} steps, ${alone.report.outcome})` : 'n/a',
      goal: '≤ 100 ms',
      met: single !== undefined && single.perStepMs <= 100,
    },
    {
      measure: `orchestration overhead per step, each of ${FLEET_SERVICES} at once`,
      value: `${each.map((e, i) => `${e.service} ${Number.isNaN(perStep[i]) ? 'n/a' : ms(perStep[i])}`).join(', ')}`,
      goal: '≤ 100 ms each',
      met: perStep.every((v) => v <= 100),
    },
    {
      measure: `overhead per step, ${FLEET_SERVICES} at once vs alone (mean)`,
      value: single && single.perStepMs > 0 ? `${ms(mean)} vs ${ms(single.perStepMs)} (×${(mean / single.perStepMs).toFixed(2)})` : `${ms(mean)} vs n/a`,
      goal: 'reported',
      met: single !== undefined && !Number.isNaN(mean),
    },
    {
      measure: `lock waits, ${FLEET_SERVICES} releases at once`,
      value: `${waits} waits, ${ms(waitedMs)} waited (${acquired}/${each.length} locks taken in ${attempts} attempts)`,
      goal: '0 (a lock per service)',
      met: waits === 0 && waitedMs === 0 && acquired === each.length,
    },
  ];
}

async function main(): Promise<void> {
  if (process.argv.includes('--fleet')) {
    const rows = await fleetReleases();
    printFleetReleases(rows);
    return;
  }
  const flag = process.argv.indexOf('--false-alarms');
  if (flag >= 0) {
    const runs = Number(process.argv[flag + 1] ?? 20) || 20;
    const rows = await falseAlarms(runs);
    console.log('\nFalse alarms (ALB, canary 10/50/100, 100 requests/s, 6 s bakes):');
    for (const r of rows) console.log(`  ${r.met ? 'ok  ' : 'MISS'} ${r.measure}  ${r.value}  goal ${r.goal}`);
    return;
  }
  const byBackend = {} as Record<LocalBackend, Measured[]>;
  for (const backend of LOCAL_BACKENDS) byBackend[backend] = await measure(backend);
  const rows: Row[] = byBackend.alb.map((row, i) => ({
    measure: row.measure,
    goal: row.goal,
    values: Object.fromEntries(LOCAL_BACKENDS.map((b) => [b, { value: byBackend[b][i].value, met: byBackend[b][i].met }])) as Row['values'],
  }));

  const releasedAtOnce = await fleetReleases();

  console.log('handler bundles: size and cold initialisation ...');
  const bundles: BundleRow[] = (await bundleSizes()).flatMap(({ name, bytes, coldInitMs }) => [
    { measure: `bundle ${name}`, value: `${(bytes / 1024).toFixed(1)} KB`, goal: '≤ 1024 KB', met: bytes <= 1024 * 1024 },
    { measure: `cold init ${name}`, value: `${coldInitMs.toFixed(0)} ms`, goal: '≤ 250 ms', met: coldInitMs <= 250 },
  ]);

  console.log('fleet: one engine with 1, 10 and 50 services, synthesized ...');
  const fleets = [1, 10, 50].map(synthesizeFleet);
  const [base] = fleets;
  const fleetRows: BundleRow[] = fleets.slice(1).flatMap((fleet) => {
    const perService = (fleet.resources - base.resources) / (fleet.services - base.services);
    return [
      { measure: `resources per added service, 1 → ${fleet.services}`, value: perService.toFixed(1), goal: '≤ 15', met: perService <= 15 },
      {
        measure: `functions / state machines / APIs, ${fleet.services} services`,
        value: `${fleet.functions} / ${fleet.stateMachines} / ${fleet.apis}`,
        // One more provider function per stack of services (the initial-state custom resource), none per service.
        goal: `${base.functions} (+1 per stack) / ${base.stateMachines} / ${base.apis}`,
        met: fleet.functions - base.functions <= fleet.stacks - 1 && fleet.stateMachines === base.stateMachines && fleet.apis === base.apis,
      },
      {
        measure: `managed policies on the busiest role, ${fleet.services} services`,
        value: `${fleet.maxManagedPoliciesPerRole} (${fleet.stacks} stacks)`,
        goal: '≤ 10 (IAM default quota)',
        met: fleet.maxManagedPoliciesPerRole <= 10,
      },
    ];
  });

  const width = Math.max(...[...rows, ...bundles, ...fleetRows].map((r) => r.measure.length));
  const cell = (v: { value: string; met: boolean }) => `${v.met ? 'ok  ' : 'MISS'} ${v.value}`.padEnd(34);
  console.log('\nBenchmark (this machine):');
  console.log(`  ${''.padEnd(width)}  ${LOCAL_BACKENDS.map((b) => b.padEnd(34)).join(' ')} goal`);
  for (const r of rows) console.log(`  ${r.measure.padEnd(width)}  ${LOCAL_BACKENDS.map((b) => cell(r.values[b])).join(' ')} ${r.goal}`);
  console.log('\nHandler bundles (the same on both backends):');
  for (const r of bundles) console.log(`  ${r.met ? 'ok  ' : 'MISS'} ${r.measure.padEnd(width)}  ${r.value.padEnd(12)} goal ${r.goal}`);
  console.log(`\nFleet (synthesized; ${base.resources} resources with one service):`);
  for (const r of fleetRows) console.log(`  ${r.met ? 'ok  ' : 'MISS'} ${r.measure.padEnd(width)}  ${r.value.padEnd(12)} goal ${r.goal}`);
  printFleetReleases(releasedAtOnce);
}

function printFleetReleases(rows: readonly BundleRow[]): void {
  const width = Math.max(...rows.map((r) => r.measure.length));
  console.log(`\nFleet released at once (local world, ALB, canary 25/50/75/100, 6 s bakes, 50 requests/s per service):`);
  for (const r of rows) console.log(`  ${r.met ? 'ok  ' : 'MISS'} ${r.measure.padEnd(width)}  ${r.value}  goal ${r.goal}`);
}

/** Every handler bundled as the CDK app bundles it: minified, names kept, the runtime's SDK. */
async function bundleSizes(): Promise<{ name: string; bytes: number; coldInitMs: number }[]> {
  const entries = [
    ...readdirSync(path.join(ROOT, 'lambdas')).filter((f) => f.endsWith('.ts')).map((f) => `lambdas/${f}`),
    ...readdirSync(path.join(ROOT, 'lambdas/api'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `lambdas/api/${f}`),
  ];
  const sizes: { name: string; bytes: number; coldInitMs: number }[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'ecs-release-bench-'));
  try {
    for (const entry of entries) {
      const source = await import('node:fs').then((fs) => fs.readFileSync(path.join(ROOT, entry), 'utf8'));
      if (!/export (async )?function handler|export const handler/.test(source)) continue;
      // Exactly the construct's options, without the source map (not loaded at cold start).
      const result = await build({ ...handlerBuildOptions(path.join(ROOT, entry)), sourcemap: false, write: false, logLevel: 'silent' });
      const name = entry.replace(/^lambdas\//, '').replace(/\.ts$/, '').replace(/\//g, '-');
      const file = path.join(dir, `${name}.js`);
      writeFileSync(file, result.outputFiles[0].contents);
      sizes.push({ name, bytes: result.outputFiles[0].contents.byteLength, coldInitMs: coldInitMs(file) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

/**
 * The median time three fresh Node.js processes take to require `file`: what Lambda's init
 * phase runs for the handler's module scope (the runtime's own start is not counted, as in
 * Lambda's init duration it is not ours). A region is set because the SDK clients read it.
 */
function coldInitMs(file: string): number {
  const script = 'const t=process.hrtime.bigint();require(process.argv[1]);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  const env = { ...process.env, AWS_REGION: 'eu-west-1', NODE_NO_WARNINGS: '1' };
  const runs = [0, 1, 2].map(() => Number(execFileSync(process.execPath, ['-e', script, file], { env, encoding: 'utf8' })));
  return runs.sort((a, b) => a - b)[1];
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`npm run bench: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
