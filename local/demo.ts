/**
 * One real release in the local world, watched from the outside: boot the world with blue v1
 * live, send steady traffic through the gateway, start a release of v2 through the Step
 * Functions API (as the CLI does), show its progress, and report what users saw. `npm start`,
 * the benchmark and the end-to-end tests all run releases through this.
 *
 * With `services: N` the world runs the fleet sample's N copies of colorapp (see `fleet.ts`),
 * each with its own client traffic, and releases all of them at once through the one engine.
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ReleaseStateSchema, parameterNames, type ReleaseState } from '../lambdas/shared/documents';
import type { ServiceConfig, Strategy } from '../lambdas/shared/config';
import type { AlarmDefinition } from './contracts';
import { computeSchedule } from '../lambdas/shared/schedule';
import { COLORAPP, alarmDefinitionsOf, localProfile, type ReleaseSettings } from '../infra/colorapp-settings';
import type { LocalBackend } from './backends';
import { localFleetOf } from './fleet';
import { buildColorApp, type LocalImage } from './services/ecs';
import { startTraffic, type TrafficGenerator, type TrafficSummary } from './traffic';
import { startLocalWorld, type LocalService, type LocalWorld } from './world';

/** What a demo run does. */
export interface DemoOptions {
  /** Share of v2's requests answered 500 (baked into the v2 image). @default 0 */
  readonly faultRate?: number;
  /** Share of v1's (the live version's) requests answered 500 (baked into the v1 image). @default 0 */
  readonly baselineFaultRate?: number;
  /** Latency v2 adds to every request, ms (baked into the v2 image). @default 0 */
  readonly latencyMs?: number;
  /** v2 crashes on start. @default false */
  readonly crash?: boolean;
  /** Client requests per second through the gateway. @default 100 */
  readonly requestsPerSecond?: number;
  /** Bake per step, seconds. @default 6 */
  readonly bakeSeconds?: number;
  /** @default the service settings' strategy (canary 10/50/100) */
  readonly strategy?: Strategy;
  /** Tasks of each service's live colour (and so of its new colour during the release). @default 2 */
  readonly liveTasks?: number;
  /** Called every `progressIntervalMs` with a snapshot, for a live display. */
  readonly onProgress?: (progress: DemoProgress) => void;
  /** @default 250 */
  readonly progressIntervalMs?: number;
  /** The traffic backend. @default 'alb' */
  readonly traffic?: LocalBackend;
  /** Service settings to run with. @default COLORAPP in the local profile */
  readonly settings?: ReleaseSettings;
  /** Handler log level. @default 'ERROR' (the display tells the story) */
  readonly logLevel?: string;
  /**
   * How many services of the fleet sample (colorapp, colorapp-2, ...) the world runs and releases
   * at once, each with `requestsPerSecond` of its own client traffic.
   * @default 1
   */
  readonly services?: number;
  /**
   * The services whose v2 carries the faults (`faultRate`, `latencyMs`, `crash`): they release
   * `colorapp:v2-faulty`, the others a healthy `colorapp:v2`.
   * @default - every service releases `colorapp:v2` with the faults
   */
  readonly faultyServices?: readonly string[];
  /**
   * Called with the world and the first service's execution after the releases end, before the
   * world closes (benchmarks, tests); `executions` has every service's.
   */
  readonly inspect?: (world: LocalWorld, executionArn: string, executions: readonly ServiceExecution[]) => void | Promise<void>;
}

/** The release execution of one service. */
export interface ServiceExecution {
  readonly service: string;
  readonly executionArn: string;
}

/** A live snapshot of a running demo. */
export interface DemoProgress {
  /** The service whose release this is. */
  readonly service: string;
  readonly elapsedMs: number;
  readonly status: string;
  readonly weights: { blue: number; green: number };
  /** 1-based step the weights correspond to, 0 before the first shift. */
  readonly step: number;
  readonly steps: number;
  readonly gateway: ReturnType<LocalWorld['gateway']['stats']>['byColour'];
}

/** One step of the release, as the report shows it. */
export interface ReportStep {
  readonly weight: number;
  readonly verdict: string;
  readonly successRate: number | null;
  readonly requests: number | null;
  readonly p99LatencyMs: number | null;
  readonly reasons: string[];
  /** The comparison with the live colour (relative judgement): both colours' numbers, the test, its result. */
  readonly comparison?: {
    readonly summary: string;
    readonly baseline: { readonly colour: string; readonly requests: number; readonly errors5xx: number; readonly from: string };
    readonly errorsWorse: boolean;
    readonly latencyWorse: boolean;
    readonly lowerBound: number;
    readonly detectableDifference: number | null;
  };
}

/** One service's release, as the report shows it. */
export interface ServiceReleaseReport {
  /** The service released. */
  readonly service: string;
  readonly outcome: 'promoted' | 'rolled-back' | 'failed';
  readonly releaseId: string;
  readonly image: string;
  readonly steps: ReportStep[];
  readonly traffic: TrafficSummary & { readonly failedOnNewColour: number };
  readonly rollback: { readonly reason: string; readonly latencyMs: number | null } | null;
  readonly finalWeights: { blue: number; green: number };
  readonly stateTransitions: number;
  readonly durationMs: number;
  /** The release's own error when it did not promote. */
  readonly error: { readonly name: string; readonly cause: string } | null;
}

/**
 * The JSON report (`npm start -- --report FILE`). The top-level release fields are the first
 * service's (colorapp's), as they were when the world ran one service; `releases` has every
 * service's, colorapp's first.
 */
export interface DemoReport extends ServiceReleaseReport {
  /** The traffic backend the releases ran on. */
  readonly backend: LocalBackend;
  /** One entry per service, in the order of the fleet (colorapp, colorapp-2, ...). */
  readonly releases: ServiceReleaseReport[];
}

const V1 = 'colorapp:v1';
const V2 = 'colorapp:v2';
const V2_FAULTY = 'colorapp:v2-faulty';

/** Runs a release of colorapp v2 (of every service of the fleet, at once) in a fresh local world and reports it. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const settings = options.settings ?? localProfile(COLORAPP, { bakeSeconds: options.bakeSeconds });
  const backend = options.traffic ?? 'alb';
  const fleet = localFleetOf(settings, options.services ?? 1, backend, alarmDefinitionsFor, (s) => ({ ...s, strategy: options.strategy ?? s.strategy }));
  const faulty = new Set(options.faultyServices ?? []);
  const imageOf = (service: string) => (options.faultyServices === undefined ? V2 : faulty.has(service) ? V2_FAULTY : V2);
  for (const name of faulty) {
    if (!fleet.some((m) => m.config.service === name)) throw new Error(`faultyServices names '${name}', which is not one of the ${fleet.length} services released`);
  }
  const entry = await buildColorApp();
  const v2: LocalImage = {
    entry,
    crash: options.crash ?? false,
    env: {
      ...(options.faultRate ? { FAULT_RATE: String(options.faultRate) } : {}),
      ...(options.latencyMs ? { LATENCY_MS: String(options.latencyMs) } : {}),
    },
  };
  const v1: LocalImage = { entry, env: options.baselineFaultRate ? { FAULT_RATE: String(options.baselineFaultRate) } : {} };
  const [first, ...more] = fleet;
  const world = await startLocalWorld({
    config: first.config,
    alarms: first.service.alarms,
    additionalServices: more.map((m) => m.service),
    images: { [V1]: v1, [V2]: options.faultyServices === undefined ? v2 : { entry }, [V2_FAULTY]: v2 },
    liveImage: V1,
    liveTasks: options.liveTasks,
    logLevel: options.logLevel ?? 'ERROR',
  });
  const sfn = new SFNClient({ endpoint: world.endpoint.url, region: world.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  // Each service has its own clients, on its own listener.
  const traffic = world.services.map((service) =>
    startTraffic(service.gateway.url, { requestsPerSecond: options.requestsPerSecond ?? 100, maxDurationMs: 10 * 60_000 }),
  );
  try {
    // A second of steady traffic first, so v1's numbers are there to compare with.
    await sleep(1000);
    const reports = await Promise.all(
      world.services.map((service, i) => release(world, sfn, service, traffic[i], imageOf(service.config.service), options)),
    );
    const executions = reports.map((r) => ({ service: r.report.service, executionArn: r.executionArn }));
    await options.inspect?.(world, executions[0].executionArn, executions);
    const releases = reports.map((r) => r.report);
    return { ...releases[0], backend: world.backend, releases };
  } finally {
    sfn.destroy();
    await Promise.all(traffic.map((t) => t.stop()));
    await world.close();
  }
}

/** Releases `image` to `service` through the Step Functions API, follows it to its end, and reports it. */
async function release(
  world: LocalWorld,
  sfn: SFNClient,
  service: LocalService,
  traffic: TrafficGenerator,
  image: string,
  options: DemoOptions,
): Promise<{ report: ServiceReleaseReport; executionArn: string }> {
  const { config } = service;
  const strategy: Strategy = config.defaultStrategy;
  const startedAt = Date.now();
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: world.stateMachineArn,
      name: `${config.service}-local-${new Date(startedAt).toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`,
      input: JSON.stringify({ service: config.service, image, strategy, requestedBy: 'npm start', reason: 'local demo release' }),
    }),
  );
  const executionArn = started.executionArn!;
  const schedule = computeSchedule(strategy);

  let status = 'RUNNING';
  let description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  const interval = options.progressIntervalMs ?? 250;
  // Bounded: no release of the local profile runs anywhere near ten minutes.
  const deadline = startedAt + 10 * 60_000;
  while (status === 'RUNNING') {
    if (Date.now() > deadline) throw new Error(`Release ${executionArn} still running after ten minutes`);
    await sleep(interval);
    description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    status = description.status ?? 'UNKNOWN';
    if (options.onProgress) {
      const weights = service.weights();
      const step = schedule.filter((w) => w <= weights.green).length;
      options.onProgress({
        service: config.service,
        elapsedMs: Date.now() - startedAt,
        status,
        weights,
        step,
        steps: schedule.length,
        gateway: service.gateway.stats().byColour,
      });
    }
  }
  const stoppedAt = description.stopDate?.getTime() ?? Date.now();
  await world.bus.drain();
  // A little more traffic after the end, so the report shows where it settled.
  await sleep(500);
  const seen = traffic.summary();
  const state = world.ssm.getJson(parameterNames(config.service).state) as ReleaseState | undefined;
  const parsedState = state ? ReleaseStateSchema.parse(state) : null;
  const releaseId = started.executionArn!.split(':').pop();
  const record = parsedState?.lastRelease?.id === releaseId ? parsedState!.lastRelease : null;
  const idle = 'green';
  const outcome: ServiceReleaseReport['outcome'] = status === 'SUCCEEDED' ? 'promoted' : record?.outcome === 'rolled-back' ? 'rolled-back' : 'failed';
  const changes = service.weightHistory();
  const firstFailure = seen.firstFailureAt[idle];
  const restored = changes.find((c) => c.at.getTime() >= (firstFailure ?? Infinity) && c.weights[idle] === 0);
  const steps: ReportStep[] = (record?.verdicts ?? []).map((v) => ({
    weight: v.weight,
    verdict: v.status,
    successRate: v.evidence.successRate,
    requests: v.evidence.requests,
    p99LatencyMs: v.evidence.p99LatencyMs,
    reasons: v.reasons,
    ...(v.evidence.comparison && v.evidence.baseline
      ? {
          comparison: {
            summary: v.evidence.comparison.summary,
            baseline: {
              colour: v.evidence.baseline.colour,
              requests: v.evidence.baseline.requests,
              errors5xx: v.evidence.baseline.errors5xx,
              from: v.evidence.baseline.from,
            },
            errorsWorse: v.evidence.comparison.errorsWorse,
            latencyWorse: v.evidence.comparison.latencyWorse,
            lowerBound: v.evidence.comparison.lowerBound,
            detectableDifference: v.evidence.comparison.detectableDifference,
          },
        }
      : {}),
  }));
  // A bake cut short by an alarm has no verdict of its own: show the step it stopped.
  const peak = Math.max(0, ...changes.map((c) => c.weights[idle]));
  if (outcome !== 'promoted' && peak > 0 && !steps.some((s) => s.weight === peak)) {
    steps.push({ weight: peak, verdict: 'interrupted', successRate: null, requests: null, p99LatencyMs: null, reasons: [record?.failure?.cause ?? description.cause ?? ''] });
  }
  const report: ServiceReleaseReport = {
    service: config.service,
    outcome,
    releaseId: started.executionArn!.split(':').pop()!,
    image,
    steps,
    traffic: { ...seen, failedOnNewColour: seen.byColour[idle]?.failed ?? 0 },
    rollback:
      outcome === 'promoted'
        ? null
        : {
            reason: record?.failure ? `${record.failure.error}: ${record.failure.cause}` : `${description.error}: ${description.cause}`,
            latencyMs: restored && firstFailure !== undefined ? restored.at.getTime() - firstFailure : null,
          },
    finalWeights: service.weights(),
    stateTransitions: world.stepFunctions.transitions(executionArn),
    durationMs: stoppedAt - startedAt,
    error: status === 'SUCCEEDED' ? null : { name: description.error ?? 'Unknown', cause: description.cause ?? '' },
  };
  return { report, executionArn };
}

/**
 * The success-rate alarm's threshold in the local world with relative judgement on. A 1-second
 * period at a 10% step holds about 10 requests (an AWS period holds 10 to 60 times more), so one
 * error in it is 90%: at the 95% floor a version that fails 1.5% of its requests, exactly like
 * the live one, would trip its alarm within seconds. At 80% one error in ten is not a breach and
 * a 50%-faulty version still breaches in its first second (P = 0.95 over 10 requests).
 */
export const LOCAL_RELATIVE_ALARM_SUCCESS_RATE = 0.8;

/**
 * The release alarms of the CDK app for `settings`, except that with relative judgement on
 * (`health.relative.enabled`) the colour success-rate alarm only catches disasters
 * ({@link LOCAL_RELATIVE_ALARM_SUCCESS_RATE}, or the floor when that is lower) instead of firing
 * below `minSuccessRate`: a live version that normally fails 1.5% of its requests would
 * otherwise keep the new colour's alarm (and its own) in ALARM at a 99% threshold. The verdict
 * judges the rest against the live colour.
 */
export function alarmDefinitionsFor(settings: ReleaseSettings, config: ServiceConfig): AlarmDefinition[] {
  const relative = config.health.relative;
  const threshold = Math.min(relative.floorSuccessRate, LOCAL_RELATIVE_ALARM_SUCCESS_RATE);
  return alarmDefinitionsOf(settings).map((alarm) => (relative.enabled && alarm.kind === 'success-rate' ? { ...alarm, threshold } : alarm));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
