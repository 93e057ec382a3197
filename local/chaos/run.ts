/**
 * `npm run chaos -- --releases N --seed S [--report FILE] [--traffic alb|appmesh] [--bake-seconds N] [--strategy canary|blue-green]`
 *
 * Runs N releases in one local world with faults injected from a seeded plan (see ./plan), checks
 * the invariants (see ./invariants) after each, and reports. Exit code 0 when no invariant was
 * broken, 1 when one was, 2 for bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { COLORAPP, alarmDefinitionsOf, localProfile, serviceConfigOf, type ReleaseSettings } from '../../infra/colorapp-settings';
import { RELEASE_EVENT_TYPES } from '../../infra/release-event-schema';
import type { Strategy } from '../../lambdas/shared/config';
import { LockDocumentSchema, parameterNames, ReleaseStateSchema, type LockDocument } from '../../lambdas/shared/documents';
import { versionOf } from '../../lambdas/shared/release';
import { backendOf, localTrafficOf, type LocalBackend } from '../backends';
import { buildColorApp, type LocalImage } from '../services/ecs';
import { startTraffic, type TrafficGenerator } from '../traffic';
import { startLocalWorld, type LocalWorld } from '../world';
import { ChaosFaults, type InjectedCounts } from './faults';
import { checkInvariants, WorldReader, type InvariantName } from './invariants';
import { describeRelease, planChaos, type ChaosFractions, type ReleaseFaultPlan, type VersionBehaviour } from './plan';

/** What a chaos run does. */
export interface ChaosOptions {
  readonly releases: number;
  readonly seed: number;
  /** @default 'alb' */
  readonly traffic?: LocalBackend;
  /** Bake per step, seconds. @default 2 */
  readonly bakeSeconds?: number;
  /** @default canary 50/100 */
  readonly strategy?: Strategy;
  /** Client requests per second through the gateway, all run long. @default 80 */
  readonly requestsPerSecond?: number;
  /** How often the reconciler runs (its EventBridge schedule, locally). @default 2000 */
  readonly reconcileIntervalMs?: number;
  /** @default the plan's defaults */
  readonly fractions?: ChaosFractions;
  /** Where progress lines go. @default console.log */
  readonly log?: (line: string) => void;
  /** Handler log level. @default 'CRITICAL' (the chaos log tells the story; a violation names what to look at) */
  readonly logLevel?: string;
}

/** One broken invariant, with what reproduces it. */
export interface ChaosViolation {
  readonly release: number;
  readonly seed: number;
  readonly plan: string;
  readonly invariant: InvariantName;
  readonly message: string;
}

/** One release as it went. */
export interface ChaosReleaseResult {
  readonly release: number;
  readonly plan: string;
  readonly executionStatus: string;
  readonly error: string | null;
  /** The execution's cause, shortened. */
  readonly cause: string | null;
  readonly outcome: string;
  readonly violations: number;
}

/** The report (`--report FILE`). */
export interface ChaosReport {
  readonly seed: number;
  readonly backend: LocalBackend;
  readonly releases: number;
  readonly faultsInjected: number;
  readonly faults: InjectedCounts;
  /** Releases by outcome: the state's record of the release (`promoted`, `rolled-back`, ...), or `rejected` when it recorded none. */
  readonly outcomes: Record<string, number>;
  readonly violations: ChaosViolation[];
  /**
   * `Release Drift Detected` events the reconciler sent between releases: not an invariant (it
   * only reports), but one here means the service differed from its state with no release running.
   */
  readonly driftEvents: number;
  readonly durationMs: number;
  readonly perRelease: ChaosReleaseResult[];
}

const V1 = 'colorapp:v1';
/** A release of the local profile takes seconds; one still running after this is a finding in itself. */
const RELEASE_TIMEOUT_MS = 180_000;
/** How long recovery (cleanup, or the reconciler for a lost event) may take with faults still on, then without. */
const RECOVERY_WITH_FAULTS_MS = 10_000;
const RECOVERY_WITHOUT_FAULTS_MS = 12_000;
/** A bad version's alarms clear a few 1-second periods after its traffic stops. */
const ALARM_SETTLE_MS = 15_000;

/** The local settings of a chaos run: the local profile, short bakes. */
export function chaosSettings(bakeSeconds: number): ReleaseSettings {
  const local = localProfile(COLORAPP, { bakeSeconds });
  // Short bakes see fewer requests; the thresholds that judge them are unchanged.
  return { ...local, health: { ...local.health, minRequestsPerStep: 20 } };
}

/** The image of a version behaviour, as the local registry holds it. */
function imageOf(entry: string, behaviour: VersionBehaviour): LocalImage {
  switch (behaviour) {
    case 'healthy':
      return { entry };
    case 'faulty':
      return { entry, env: { FAULT_RATE: '0.5' } };
    case 'slow':
      return { entry, env: { LATENCY_MS: '1500' } };
    case 'crash':
      return { entry, crash: true };
  }
}

/** Runs the chaos releases and reports; never throws for a violation (it is in the report). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const startedAt = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const plan = planChaos(options.seed, options.releases, options.fractions);
  const backend = options.traffic ?? 'alb';
  const settings = { ...chaosSettings(options.bakeSeconds ?? 2), strategy: options.strategy ?? { type: 'canary' as const, steps: [50, 100] } };
  const config = serviceConfigOf(settings, { traffic: localTrafficOf(settings, backend) });
  const entry = await buildColorApp();
  const images: Record<string, LocalImage> = { [V1]: { entry } };
  for (const release of plan.releases) images[release.image] = imageOf(entry, release.version);
  const faults = new ChaosFaults(plan);
  const alarmNames = alarmDefinitionsOf(settings).map((a) => a.alarmName);

  log(`chaos: seed ${plan.seed}, ${plan.releases.length} release(s) on ${backend}`);
  const boot = async () => {
    const world = await startLocalWorld({
      config,
      alarms: alarmDefinitionsOf(settings),
      images,
      liveImage: V1,
      logLevel: options.logLevel ?? 'CRITICAL',
      reconcileIntervalMs: options.reconcileIntervalMs ?? 2000,
      faults: faults.hooks(),
    });
    const traffic = startTraffic(world.gateway.url, { requestsPerSecond: options.requestsPerSecond ?? 80, maxDurationMs: 24 * 3600_000 });
    const reader = new WorldReader(world.endpoint.url, world.gateway.url, config, world.region);
    const sfn = new SFNClient({ endpoint: world.endpoint.url, region: world.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 10 });
    return { world, traffic, reader, sfn };
  };
  let env = await boot();
  let driftEvents = 0;
  const shutdown = async (e: { world: LocalWorld; traffic: TrafficGenerator; reader: WorldReader; sfn: SFNClient }) => {
    driftEvents += e.world.bus.published().filter((event) => event['detail-type'] === RELEASE_EVENT_TYPES.driftDetected).length;
    await e.traffic.stop();
    e.reader.destroy();
    e.sfn.destroy();
    await e.world.close();
  };

  const violations: ChaosViolation[] = [];
  const outcomes: Record<string, number> = {};
  const perRelease: ChaosReleaseResult[] = [];
  try {
    for (const release of plan.releases) {
      const planLine = describeRelease(release);
      log(`chaos: ${planLine}`);
      await waitForAlarmsToClear(env.world, alarmNames, ALARM_SETTLE_MS);
      const result = await runRelease(env.world, env.sfn, env.reader, faults, release, plan.seed);
      outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
      for (const v of result.violations) violations.push({ release: release.index, seed: plan.seed, plan: planLine, ...v });
      perRelease.push({ release: release.index, plan: planLine, executionStatus: result.status, error: result.error, cause: result.cause, outcome: result.outcome, violations: result.violations.length });
      log(
        `chaos:   -> ${release.stopAfterMs === null ? '' : result.stopSent ? 'stopped, ' : 'ended before the planned stop, '}${result.status}${result.error ? ` (${result.error}${process.env.CHAOS_VERBOSE ? `: ${result.cause}` : ''})` : ''}, recorded ${result.outcome}` +
          (result.violations.length ? `; VIOLATIONS: ${result.violations.map((v) => `${v.invariant}: ${v.message}`).join(' | ')}` : '; invariants hold'),
      );
      if (result.violations.length > 0 || result.lockLeft) {
        // What an operator would do after checking: start again from a known world.
        log('chaos:   the world is not clean (a violation, or a lock left for an operator): starting a fresh world');
        await shutdown(env);
        env = await boot();
      }
    }
  } finally {
    await shutdown(env);
  }
  const report: ChaosReport = {
    seed: plan.seed,
    backend,
    releases: plan.releases.length,
    faultsInjected: faults.total(),
    faults: faults.counts,
    outcomes,
    violations,
    driftEvents,
    durationMs: Date.now() - startedAt,
    perRelease,
  };
  log(`chaos: ${report.releases} releases, ${report.faultsInjected} faults injected, ${violations.length} violation(s), ${driftEvents} drift event(s), outcomes ${JSON.stringify(outcomes)}, ${(report.durationMs / 1000).toFixed(1)} s`);
  return report;
}

async function runRelease(
  world: LocalWorld,
  sfn: SFNClient,
  reader: WorldReader,
  faults: ChaosFaults,
  release: ReleaseFaultPlan,
  seed: number,
): Promise<{ status: string; error: string | null; cause: string | null; stopSent: boolean; outcome: string; violations: { invariant: InvariantName; message: string }[]; lockLeft: boolean }> {
  const name = `chaos-${seed}-${release.index}-${Date.now().toString(36)}`;
  const executionArn = `${world.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const deadLettersBefore = world.bus.deadLetters().length;
  faults.begin(release, executionArn);
  let stopTimer: NodeJS.Timeout | undefined;
  let stopSent = false;
  let status = 'NOT_STARTED';
  let error: string | null = null;
  let cause: string | null = null;
  try {
    try {
      await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: world.stateMachineArn,
          name,
          input: JSON.stringify({ service: world.config.service, image: release.image, requestedBy: 'npm run chaos', reason: `chaos seed ${seed} release ${release.index}` }),
        }),
      );
    } catch (thrown) {
      // Every SDK retry failed: the release never started, which the invariants must survive too.
      error = `StartExecution failed: ${(thrown as Error).name}`;
    }
    if (error === null) {
      if (release.stopAfterMs !== null) {
        stopTimer = setTimeout(() => {
          if (world.stepFunctions.describe(executionArn).status !== 'RUNNING') return;
          stopSent = true;
          faults.countStop();
          sfn.send(new StopExecutionCommand({ executionArn, cause: 'npm run chaos: stopped from outside' })).catch(() => undefined);
        }, release.stopAfterMs);
      }
      const ended = await Promise.race([
        world.stepFunctions.settled(executionArn),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), RELEASE_TIMEOUT_MS).unref()),
      ]);
      status = ended?.status ?? 'STILL_RUNNING';
      error = ended?.error ?? null;
      cause = ended?.cause ? causeText(ended.cause).slice(0, 400) : null;
      await world.bus.drain();
      await waitForLock(world, RECOVERY_WITH_FAULTS_MS);
    }
  } finally {
    clearTimeout(stopTimer);
    faults.end();
  }
  // Recovery that failed under faults may succeed on the reconciler's next runs, as in AWS.
  await waitForLock(world, RECOVERY_WITHOUT_FAULTS_MS);
  await world.bus.drain();
  const lock = world.ssm.getJson(parameterNames(world.config.service).lock) as LockDocument | undefined;
  const reports = [
    ...(error === 'RollbackFailedError' ? ['the execution failed with RollbackFailedError'] : []),
    ...world.bus
      .deadLetters()
      .slice(deadLettersBefore)
      .filter((d) => d.error.name === 'RollbackFailedError')
      .map((d) => `${d.target} gave up with RollbackFailedError (dead-letter queue)`),
  ];
  const observed = await reader.observe();
  const violations = checkInvariants(observed, {
    releaseId: name,
    version: versionOf(release.image),
    executionStatus: status,
    executionError: error ?? undefined,
    rollbackFailureReports: reports,
  });
  const rawState = world.ssm.getJson(parameterNames(world.config.service).state);
  const state = rawState ? ReleaseStateSchema.parse(rawState) : null;
  const outcome = state?.lastRelease?.id === name ? state.lastRelease.outcome : 'rejected';
  return { status, error, cause, stopSent, outcome, violations, lockLeft: lock !== undefined && LockDocumentSchema.safeParse(lock).success };
}

/** The message of a Lambda error document (`{"errorType","errorMessage",...}`), or the cause as it is. */
function causeText(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    return typeof parsed.errorMessage === 'string' ? parsed.errorMessage : cause;
  } catch {
    return cause;
  }
}

/**
 * Waits until no release alarm is in ALARM (in-process: waiting is not a check). A bad version's
 * alarm stays in ALARM for a few periods after its rollback, and a release started meanwhile is
 * rolled back at its first bake ("already in ALARM"), whatever its own faults: safe, but it would
 * judge every release after a bad one by its predecessor.
 */
async function waitForAlarmsToClear(world: LocalWorld, alarmNames: readonly string[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && alarmNames.some((name) => world.cloudWatch.alarmState(name)?.value === 'ALARM')) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits until the lock is free, left `rollback-failed`, or `ms` passed (read in-process: waiting is not a check). */
async function waitForLock(world: LocalWorld, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const lock = world.ssm.getJson(parameterNames(world.config.service).lock) as LockDocument | undefined;
    if (!lock || lock.status === 'rollback-failed') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const USAGE = 'Usage: npm run chaos -- --releases N --seed S [--report FILE] [--traffic alb|appmesh] [--bake-seconds N] [--strategy canary|blue-green]';

/** Thrown for bad command-line arguments (exit code 2). */
export class ChaosArgumentError extends Error {
  override readonly name = 'ChaosArgumentError';
}

/** The options of a command line; throws {@link ChaosArgumentError} naming the bad argument. */
export function parseChaosArgs(argv: readonly string[]): { options: ChaosOptions; report?: string } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        releases: { type: 'string' },
        seed: { type: 'string' },
        report: { type: 'string' },
        traffic: { type: 'string' },
        'bake-seconds': { type: 'string' },
        strategy: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new ChaosArgumentError((error as Error).message);
  }
  if (values.help) return 'help';
  const integer = (name: string, raw: string | undefined, min: number, max: number): number => {
    if (raw === undefined) throw new ChaosArgumentError(`--${name} is required`);
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new ChaosArgumentError(`--${name} must be an integer from ${min} to ${max}, got '${raw}'`);
    return value;
  };
  let traffic: LocalBackend;
  try {
    traffic = backendOf(values.traffic);
  } catch (error) {
    throw new ChaosArgumentError((error as Error).message);
  }
  if (values.strategy !== undefined && values.strategy !== 'canary' && values.strategy !== 'blue-green') {
    throw new ChaosArgumentError(`--strategy must be canary or blue-green, got '${values.strategy}'`);
  }
  return {
    options: {
      releases: integer('releases', values.releases, 1, 10_000),
      seed: integer('seed', values.seed, 0, 0xffffffff),
      traffic,
      bakeSeconds: values['bake-seconds'] === undefined ? undefined : integer('bake-seconds', values['bake-seconds'], 1, 600),
      strategy: values.strategy === 'blue-green' ? { type: 'blue-green' } : undefined,
    },
    report: values.report,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseChaosArgs(argv);
  } catch (error) {
    if (error instanceof ChaosArgumentError) {
      console.error(`npm run chaos: ${error.name}: ${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const report = await runChaos(parsed.options);
  if (parsed.report) {
    writeFileSync(parsed.report, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`chaos: report written to ${parsed.report}`);
  }
  for (const v of report.violations) console.error(`VIOLATION (seed ${v.seed}, release ${v.release}: ${v.plan}): ${v.invariant}: ${v.message}`);
  return report.violations.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`npm run chaos: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}
