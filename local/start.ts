/**
 * `npm start`: a real canary release of colorapp on this machine, no AWS account needed.
 *
 *   npm start                           # v2 is healthy: watch it promoted
 *   npm start -- --fault-rate 0.5       # v2 fails half its requests: watch the rollback
 *   npm start -- --baseline-fault-rate 0.015 --fault-rate 0.015   # v1 and v2 alike imperfect: promoted
 *   npm start -- --fault-rate 0.008 --rps 400                     # worse than live: rolled back
 *   npm start -- --latency-ms 1500      # v2 is slow: p99 alarm, rollback
 *   npm start -- --report report.json   # also write the JSON report
 *   npm start -- --traffic appmesh      # on App Mesh instead of ALB weighted target groups
 *   npm start -- --services 3           # colorapp, colorapp-2 and colorapp-3 on one engine, released at once
 *
 * Exit code 0 when v2 was promoted (on every service), 1 when a release was rolled back or
 * failed, 2 for bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backendOf } from './backends';
import { runDemo, type DemoProgress, type ServiceReleaseReport } from './demo';
import { MAX_LOCAL_SERVICES, servicesOf, withServicesValueJoined } from './fleet';

const USAGE = `Usage: npm start -- [--traffic alb|appmesh] [--services 1..${MAX_LOCAL_SERVICES}] [--fault-rate 0..1] [--baseline-fault-rate 0..1] [--latency-ms N] [--crash] [--rps N] [--bake-seconds N] [--report FILE]`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: withServicesValueJoined(process.argv.slice(2)),
      options: {
        'fault-rate': { type: 'string' },
        'baseline-fault-rate': { type: 'string' },
        'latency-ms': { type: 'string' },
        crash: { type: 'boolean' },
        rps: { type: 'string' },
        'bake-seconds': { type: 'string' },
        report: { type: 'string' },
        traffic: { type: 'string' },
        services: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`npm start: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const number = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got '${raw}'`);
    return value;
  };
  let options;
  try {
    const traffic = backendOf(values.traffic);
    options = {
      services: servicesOf(values.services, traffic),
      faultRate: number('fault-rate', values['fault-rate'], 0, 1),
      baselineFaultRate: number('baseline-fault-rate', values['baseline-fault-rate'], 0, 1),
      latencyMs: number('latency-ms', values['latency-ms'], 0, 60_000),
      requestsPerSecond: number('rps', values.rps, 1, 1000),
      bakeSeconds: number('bake-seconds', values['bake-seconds'], 1, 600),
      crash: values.crash ?? false,
      traffic,
    };
  } catch (error) {
    // A named error (InvalidServicesError) says so; the others are plain usage messages.
    const { name, message } = error as Error;
    console.error(`npm start: ${name === 'Error' ? '' : `${name}: `}${message}\n${USAGE}`);
    return 2;
  }

  const fleet = options.services > 1;
  // One service on a terminal: one line rewritten in place. Several, or not a terminal (CI, a
  // pipe): a line per service when its step or status changes, and every 2 s.
  const tty = process.stdout.isTTY && !fleet;
  const layer = options.traffic === 'alb' ? 'Application Load Balancer (weighted target groups)' : 'App Mesh (Envoy gateway)';
  const what = fleet ? `${options.services} services (colorapp, colorapp-2, ...) each with blue v1 (2 tasks) behind a listener of its own` : 'colorapp blue v1 (2 tasks)';
  console.log(`Starting the local world on ${options.traffic}: endpoint, ${what}, ${layer}, alarms...`);
  const printed = new Map<string, { key: string; at: number }>();
  const report = await runDemo({
    ...options,
    onProgress: (p) => {
      const line = fleet ? `${p.service.padEnd(11)} ${progressLine(p)}` : progressLine(p);
      if (tty) {
        process.stdout.write(`\r${line}\x1b[K`);
        return;
      }
      const key = `${p.step}/${p.weights.green}/${p.status}`;
      const last = printed.get(p.service);
      if (!last || key !== last.key || p.elapsedMs - last.at >= 2000) {
        console.log(line);
        printed.set(p.service, { key, at: p.elapsedMs });
      }
    },
  });
  if (tty) process.stdout.write('\n');
  // One service: the summary as it always was; several: one per service, then the backend.
  console.log(fleet ? report.releases.map((r) => summary(r, `${r.service}: `)).join('\n') : summary(report, '', report.backend));
  if (fleet) console.log(`\nbackend ${report.backend}`);
  if (values.report) {
    writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`Report written to ${values.report}`);
  }
  return report.releases.every((r) => r.outcome === 'promoted') ? 0 : 1;
}

function progressLine(p: DemoProgress): string {
  const colour = (name: 'blue' | 'green') => {
    const s = p.gateway[name];
    const rate = s.successRate === null ? '   -  ' : `${(s.successRate * 100).toFixed(1).padStart(5)}%`;
    return `${name} ${String(s.requests).padStart(5)} req ${rate}`;
  };
  const bar = '#'.repeat(Math.round(p.weights.green / 5)).padEnd(20, '.');
  return `[${(p.elapsedMs / 1000).toFixed(1).padStart(5)}s] step ${p.step}/${p.steps} [${bar}] blue ${p.weights.blue}/green ${p.weights.green} | ${colour('blue')} | ${colour('green')} | ${p.status}`;
}

/** One release's summary; with several services, each line is prefixed with the service's name. */
function summary(r: ServiceReleaseReport, prefix = '', backend?: string): string {
  const lines = [
    r.outcome === 'promoted' ? `PROMOTED: ${r.service} v2 is live on green (${r.releaseId})` : `ROLLED BACK: ${r.service} v2 did not go live (${r.releaseId})`,
    ...(backend ? [`  backend ${backend}`] : []),
    `  duration ${(r.durationMs / 1000).toFixed(1)} s, ${r.stateTransitions} state transitions, final weights blue ${r.finalWeights.blue} / green ${r.finalWeights.green}`,
    `  traffic: ${r.traffic.requests} requests, ${r.traffic.failed} failed (${r.traffic.failedOnNewColour} on the new colour)`,
  ];
  for (const s of r.steps) {
    const rate = s.successRate === null ? '-' : `${(s.successRate * 100).toFixed(1)}%`;
    const why = s.comparison ? ` (${s.comparison.summary})` : s.reasons.length ? ` (${s.reasons.join('; ')})` : '';
    lines.push(`  step ${String(s.weight).padStart(3)}%: ${s.verdict.padEnd(12)} success ${rate.padStart(6)} over ${s.requests ?? '-'} requests${why}`);
  }
  if (r.rollback) {
    lines.push(`  reason: ${r.rollback.reason}`);
    lines.push(`  traffic restored to 100/0 ${r.rollback.latencyMs === null ? '(no failed request on the new colour)' : `${r.rollback.latencyMs} ms after the first failed request`}`);
  }
  return ['', ...lines.map((line) => `${prefix}${line}`)].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`npm start: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
