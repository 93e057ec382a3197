// End-to-end support: a fresh local world (real colorapp processes, real gateway, the real ASL and
// handlers behind the loopback endpoint) with steady client traffic, plus the ways a user looks
// at it from the outside: SDK clients pointed at the endpoint, the ecs-release CLI in-process and
// as its bin. Every wait is bounded; close() stops everything it started, even after a failure.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { AppMeshClient, DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeServicesCommand, ECSClient, type Service } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeRulesCommand, ElasticLoadBalancingV2Client, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { run } from '../../../cli/main';
import { captureIo } from '../../../cli/io';
import { COLORAPP, alarmDefinitionsOf, localProfile, serviceConfigOf } from '../../../infra/colorapp-settings';
import type { Strategy } from '../../../lambdas/shared/config';
import {
  ApprovalDocumentSchema,
  parameterNames,
  ReleaseStateSchema,
  type ApprovalDocument,
  type ReleaseState,
} from '../../../lambdas/shared/documents';
import { localTrafficOf, type LocalBackend } from '../../../local/backends';
import { buildColorApp, type LocalImage } from '../../../local/services/ecs';
import { startTraffic, type TrafficGenerator } from '../../../local/traffic';
import { startLocalWorld, type LocalWorld } from '../../../local/world';

export const V1 = 'colorapp:v1';
export const V2 = 'colorapp:v2';
/** Who the in-process CLI acts as. */
export const IDENTITY = 'e2e@localhost';
const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const BIN = join(__dirname, '..', '..', '..', 'bin', 'ecs-release.js');

/** How the world for one test is built. */
export interface E2eWorldOptions {
  /** How v2 behaves: baked into its image, never into the task definition. @default healthy */
  readonly v2?: { readonly faultRate?: number; readonly crash?: boolean };
  /** The service's default strategy (the config document's `defaultStrategy`). */
  readonly strategy: Strategy;
  /** Bake per step, seconds (local profile). */
  readonly bakeSeconds: number;
  /** Client requests per second through the gateway, for the whole test. */
  readonly requestsPerSecond: number;
  /** The traffic backend. @default 'alb' */
  readonly traffic?: LocalBackend;
}

/** A world seen from the outside: SDK clients pointed at its endpoint, and what users read with them. */
export interface Observer {
  readonly endpointUrl: string;
  readonly ssm: SSMClient;
  readonly ecs: ECSClient;
  readonly sfn: SFNClient;
  readonly mesh: AppMeshClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  /** `/ecs-release/<service>/state` of the observed service, read with GetParameter through the endpoint; null when absent. */
  state(): Promise<ReleaseState | null>;
  /** `/ecs-release/<service>/approval` of the observed service: the waiting approval gate; null when none waits. */
  approval(): Promise<ApprovalDocument | null>;
  /**
   * Weights per colour, read through the endpoint as a user would: the weighted forward with
   * DescribeListeners/DescribeRules (ALB), or the route with DescribeRoute (App Mesh).
   */
  routeWeights(): Promise<{ blue: number; green: number }>;
  /** Both colours' ECS services, read with DescribeServices through the endpoint. */
  services(): Promise<{ blue: Service; green: Service }>;
  /** Releases the clients' sockets. */
  destroy(): void;
}

/**
 * SDK clients for `world`'s endpoint, as a user's script or the AWS CLI would reach it, looking
 * at `service` (one of the world's registered services; its first by default).
 */
export function observe(world: LocalWorld, service: string = world.config.service): Observer {
  const endpointUrl = world.endpoint.url;
  const clientConfig = { endpoint: endpointUrl, region: REGION, credentials: CREDENTIALS, maxAttempts: 2 };
  const ssm = new SSMClient(clientConfig);
  const ecs = new ECSClient(clientConfig);
  const sfn = new SFNClient(clientConfig);
  const mesh = new AppMeshClient(clientConfig);
  const elbv2 = new ElasticLoadBalancingV2Client(clientConfig);
  const { traffic: route, ecsServices, cluster } = world.service(service).config;
  const getJson = async <T>(name: string, schema: { parse(value: unknown): T }): Promise<T | null> => {
    try {
      const out = await ssm.send(new GetParameterCommand({ Name: name }));
      return schema.parse(JSON.parse(out.Parameter!.Value!));
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return null;
      throw error;
    }
  };
  return {
    endpointUrl,
    ssm,
    ecs,
    sfn,
    mesh,
    elbv2,
    state: () => getJson(parameterNames(service).state, ReleaseStateSchema),
    approval: () => getJson(parameterNames(service).approval, ApprovalDocumentSchema),
    async routeWeights() {
      if (route.kind === 'alb') {
        let actions: Action[];
        if (route.rule === 'listener-default') {
          const out = await elbv2.send(new DescribeListenersCommand({ ListenerArns: [route.listenerArn] }));
          actions = out.Listeners?.[0]?.DefaultActions ?? [];
        } else {
          const out = await elbv2.send(new DescribeRulesCommand({ RuleArns: [route.rule] }));
          actions = out.Rules?.[0]?.Actions ?? [];
        }
        const groups = actions.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups ?? [];
        const weightOf = (arn: string) => groups.find((g) => g.TargetGroupArn === arn)?.Weight ?? 0;
        return { blue: weightOf(route.targetGroups.blue), green: weightOf(route.targetGroups.green) };
      }
      const out = await mesh.send(
        new DescribeRouteCommand({ meshName: route.meshName, virtualRouterName: route.virtualRouterName, routeName: route.routeName }),
      );
      const targets = out.route?.spec?.httpRoute?.action?.weightedTargets ?? [];
      const weightOf = (node: string) => targets.find((t) => t.virtualNode === node)?.weight ?? 0;
      return { blue: weightOf(route.virtualNodes.blue), green: weightOf(route.virtualNodes.green) };
    },
    async services() {
      const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [ecsServices.blue, ecsServices.green] }));
      const byName = (name: string) => {
        const found = out.services?.find((s) => s.serviceName === name);
        if (!found) throw new Error(`DescribeServices did not return ${name}: ${JSON.stringify(out.failures)}`);
        return found;
      };
      return { blue: byName(ecsServices.blue), green: byName(ecsServices.green) };
    },
    destroy() {
      for (const client of [ssm, ecs, sfn, mesh, elbv2]) client.destroy();
    },
  };
}

/** A running world with client traffic, seen from the outside. */
export interface E2eWorld extends Observer {
  /** The world itself: only for failure drills (killTask) and facts the APIs do not show. */
  readonly world: LocalWorld;
  readonly traffic: TrafficGenerator;
  /** Stops the traffic, the clients and the world. Idempotent. */
  close(): Promise<void>;
}

/**
 * Boots a world with blue (v1) live at 100% and green idle, waits for blue to serve, and starts
 * client traffic through the gateway. The config document is the one the CDK app would write for
 * colorapp in the local profile (1-second metrics and alarms), with `strategy` and `bakeSeconds`.
 */
export async function startE2eWorld(options: E2eWorldOptions): Promise<E2eWorld> {
  const settings = { ...localProfile(COLORAPP, { bakeSeconds: options.bakeSeconds }), strategy: options.strategy };
  const entry = await buildColorApp();
  const v2: LocalImage = {
    entry,
    crash: options.v2?.crash ?? false,
    env: options.v2?.faultRate ? { FAULT_RATE: String(options.v2.faultRate) } : {},
  };
  const world = await startLocalWorld({
    config: serviceConfigOf(settings, { traffic: localTrafficOf(settings, options.traffic ?? 'alb') }),
    alarms: alarmDefinitionsOf(settings),
    images: { [V1]: { entry }, [V2]: v2 },
    liveImage: V1,
  });
  let observer: Observer;
  try {
    observer = observe(world);
  } catch (error) {
    await world.close();
    throw error;
  }
  // Bounded by itself too: it stops after three minutes even if close() never runs.
  const traffic = startTraffic(world.gateway.url, { requestsPerSecond: options.requestsPerSecond, maxDurationMs: 180_000 });
  let closing: Promise<void> | undefined;
  return {
    ...observer,
    world,
    traffic,
    close() {
      closing ??= (async () => {
        try {
          await traffic.stop();
        } finally {
          observer.destroy();
          await world.close();
        }
      })();
      return closing;
    },
  };
}

/** What one CLI run printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `ecs-release --endpoint-url <world> <argv>` in this process, with real waiting (polls every
 * 250 ms). `signal` stops a `--wait` early (cleanup after a failed test).
 */
export async function cli(endpointUrl: string, argv: readonly string[], signal?: AbortSignal): Promise<CliResult> {
  const io = captureIo();
  const code = await run(['--endpoint-url', endpointUrl, '--region', REGION, ...argv], {
    io,
    identity: IDENTITY,
    pollIntervalMs: 250,
    cleanupTimeoutMs: 15_000,
    signal,
  });
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

/** A CLI command left running (e.g. `start --wait`) while the test acts on the release. */
export interface BackgroundCli {
  readonly result: Promise<CliResult>;
  /** Stops a `--wait` that is still following its release (the release itself goes on) and waits, bounded, for it to return. */
  stop(): Promise<void>;
}

/** Runs `ecs-release <argv>` in-process without waiting for it; see {@link cli}. */
export function cliInBackground(endpointUrl: string, argv: readonly string[]): BackgroundCli {
  const interrupt = new AbortController();
  const result = cli(endpointUrl, argv, interrupt.signal);
  return {
    result,
    async stop() {
      interrupt.abort();
      await within(result, 5000, 'the CLI to stop waiting').catch(() => undefined);
    },
  };
}

/**
 * The installed command, `node bin/ecs-release.js --endpoint-url <world> <argv>`, as its own
 * process. Asynchronous on purpose: the world answers from this process, so a synchronous spawn
 * would block the endpoint the command talks to. Killed after `timeoutMs`.
 */
export function bin(endpointUrl: string, argv: readonly string[], timeoutMs = 30_000): Promise<CliResult & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--endpoint-url', endpointUrl, '--region', REGION, ...argv], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: stdout.trim(), stderr: stderr.trim(), timedOut });
    });
  });
}

/**
 * Polls `probe` every `intervalMs` until it returns a value other than undefined, or fails after
 * `timeoutMs` saying what it waited for (and the probe's last error, if it threw).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/** `promise`, or a failure saying what did not happen within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The task definition's revision number, e.g. `arn:...:task-definition/colorapp:3` → 3. */
export function revisionOf(taskDefinitionArn: string | undefined): number {
  const match = /:(\d+)$/.exec(taskDefinitionArn ?? '');
  if (!match) throw new Error(`not a task definition ARN: ${String(taskDefinitionArn)}`);
  return Number(match[1]);
}
