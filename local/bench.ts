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
 * 3. The minified size of every handler bundle, bundled exactly as the CDK app bundles them
 *    (infra/bundling.ts: the runtime provides the AWS SDK).
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { BUNDLE_TARGET, MAIN_FIELDS, RUNTIME_PROVIDED_MODULES } from '../infra/bundling';
import { LOCAL_BACKENDS, type LocalBackend } from './backends';
import { runDemo } from './demo';

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
  let overhead: { totalMs: number; perStepMs: number; steps: number } | null = null;
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
  const o = overhead as { totalMs: number; perStepMs: number; steps: number } | null;
  rows.push({
    measure: 'orchestration overhead per step',
    value: o ? `${o.perStepMs.toFixed(0)} ms (${o.totalMs} ms / ${o.steps} steps)` : 'n/a',
    goal: '≤ 100 ms',
    met: o !== null && o.perStepMs <= 100,
  });
  return rows;
}

async function main(): Promise<void> {
  const byBackend = {} as Record<LocalBackend, Measured[]>;
  for (const backend of LOCAL_BACKENDS) byBackend[backend] = await measure(backend);
  const rows: Row[] = byBackend.alb.map((row, i) => ({
    measure: row.measure,
    goal: row.goal,
    values: Object.fromEntries(LOCAL_BACKENDS.map((b) => [b, { value: byBackend[b][i].value, met: byBackend[b][i].met }])) as Row['values'],
  }));

  console.log('handler bundles ...');
  const bundles: BundleRow[] = (await bundleSizes()).map(({ name, bytes }) => ({
    measure: `bundle ${name}`,
    value: `${(bytes / 1024).toFixed(1)} KB`,
    goal: '≤ 300 KB',
    met: bytes <= 300 * 1024,
  }));

  const width = Math.max(...[...rows, ...bundles].map((r) => r.measure.length));
  const cell = (v: { value: string; met: boolean }) => `${v.met ? 'ok  ' : 'MISS'} ${v.value}`.padEnd(34);
  console.log('\nBenchmark (this machine):');
  console.log(`  ${''.padEnd(width)}  ${LOCAL_BACKENDS.map((b) => b.padEnd(34)).join(' ')} goal`);
  for (const r of rows) console.log(`  ${r.measure.padEnd(width)}  ${LOCAL_BACKENDS.map((b) => cell(r.values[b])).join(' ')} ${r.goal}`);
  console.log('\nHandler bundles (the same on both backends):');
  for (const r of bundles) console.log(`  ${r.met ? 'ok  ' : 'MISS'} ${r.measure.padEnd(width)}  ${r.value.padEnd(12)} goal ${r.goal}`);
}

/**
 * Wall time of the execution minus the time spent in `Bake` tasks and Wait states, which is
 * what the release configures rather than what the engine costs. Deployment waits (ECS starting
 * real processes) sit inside the Wait loop and are excluded with it.
 */
function orchestrationOverhead(events: HistoryEvent[]): { totalMs: number; perStepMs: number; steps: number } {
  const time = (e: HistoryEvent) => new Date(e.timestamp!).getTime();
  const total = time(events[events.length - 1]) - time(events[0]);
  let configured = 0;
  let steps = 0;
  const entered = new Map<string, number>();
  for (const e of events) {
    const name = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name;
    if (!name) continue;
    const timed = name === 'Bake' || name.startsWith('Wait');
    if (e.stateEnteredEventDetails && timed) entered.set(name, time(e));
    if (e.stateExitedEventDetails && timed && entered.has(name)) {
      configured += time(e) - entered.get(name)!;
      entered.delete(name);
    }
    if (e.stateEnteredEventDetails && name === 'ShiftTraffic') steps++;
  }
  // A bake ended by its timeout fails the task instead of exiting it: close it at the next state.
  if (entered.size) {
    for (const e of events) {
      if (!e.stateEnteredEventDetails) continue;
      for (const [name, at] of entered) {
        if (time(e) > at) {
          configured += time(e) - at;
          entered.delete(name);
        }
      }
    }
  }
  const overhead = total - configured;
  return { totalMs: overhead, perStepMs: steps ? overhead / steps : overhead, steps };
}

/** Every handler bundled as the CDK app bundles it: minified, names kept, the runtime's SDK. */
async function bundleSizes(): Promise<{ name: string; bytes: number }[]> {
  const entries = [
    ...readdirSync(path.join(ROOT, 'lambdas')).filter((f) => f.endsWith('.ts')).map((f) => `lambdas/${f}`),
    ...readdirSync(path.join(ROOT, 'lambdas/api'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `lambdas/api/${f}`),
  ];
  const sizes: { name: string; bytes: number }[] = [];
  for (const entry of entries) {
    const source = await import('node:fs').then((fs) => fs.readFileSync(path.join(ROOT, entry), 'utf8'));
    if (!/export (async )?function handler|export const handler/.test(source)) continue;
    const result = await build({
      entryPoints: [path.join(ROOT, entry)],
      bundle: true,
      minify: true,
      keepNames: true,
      platform: 'node',
      target: BUNDLE_TARGET,
      mainFields: MAIN_FIELDS,
      external: RUNTIME_PROVIDED_MODULES,
      format: 'cjs',
      write: false,
      logLevel: 'silent',
    });
    sizes.push({ name: entry.replace(/^lambdas\//, '').replace(/\.ts$/, ''), bytes: result.outputFiles[0].contents.byteLength });
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`npm run bench: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
