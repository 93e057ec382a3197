import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { hostname, userInfo } from 'node:os';
import type { GateLogger } from '../lambdas/api/approvals';
import { SsmDocuments } from '../lambdas/shared/ssm-documents';
import type { Io } from './io';

/**
 * What every command receives: the SDK clients, where to write, and the few things tests replace
 * (clock, sleep, poll interval, who is acting).
 */

/** The AWS clients the CLI uses. */
export interface CliClients {
  readonly ssm: SSMClient;
  readonly sfn: SFNClient;
  readonly ecs: ECSClient;
}

/** Options that apply to every command. */
export interface GlobalOptions {
  /** Endpoint for every client (e.g. the local environment); unset: AWS. */
  readonly endpointUrl?: string;
  readonly region?: string;
  readonly output: 'text' | 'json';
  /** Print stacks and the shared code's log lines. */
  readonly debug: boolean;
}

/** The context a command runs in. */
export interface CommandContext {
  readonly clients: CliClients;
  /** The SSM documents (config, state, lock, approval) over `clients.ssm`. */
  readonly documents: SsmDocuments;
  readonly io: Io;
  readonly output: 'text' | 'json';
  /** Log lines from the shared release code: warnings always (to stderr), info with `--debug`. */
  readonly logger: GateLogger;
  readonly now: () => Date;
  /** Waits `ms`, or less when `signal` aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** How often `start --wait` polls. */
  readonly pollIntervalMs: number;
  /** How long `start --wait` waits for the cleanup after an execution was stopped or timed out. */
  readonly cleanupTimeoutMs: number;
  /** Aborted when the user interrupts (Ctrl-C): `--wait` stops waiting, the release goes on. */
  readonly signal?: AbortSignal;
}

/** Clients for every service, all pointed at `--endpoint-url` and `--region` when given. */
export function createClients(options: Pick<GlobalOptions, 'endpointUrl' | 'region'>): CliClients {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
  };
  return { ssm: new SSMClient(config), sfn: new SFNClient(config), ecs: new ECSClient(config) };
}

/** Releases the clients' sockets so the process can exit at once. */
export function destroyClients(clients: CliClients): void {
  clients.ssm.destroy();
  clients.sfn.destroy();
  clients.ecs.destroy();
}

/** The local user as `user@host`: who a release was requested, approved or aborted by, unless told. */
export function localIdentity(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = userInfo().username || user;
  } catch {
    // No passwd entry (some containers): keep the environment's name.
  }
  return `${user}@${hostname()}`;
}

/** A logger for the shared code: warnings as notes on stderr, info only with `--debug`. */
export function cliLogger(io: Io, debug: boolean): GateLogger {
  const line = (level: string, message: unknown, extra: unknown[]) =>
    `ecs-release: ${level}: ${String(message)}${extra.length ? ` ${extra.map((e) => JSON.stringify(e, errorReplacer)).join(' ')}` : ''}`;
  return {
    info: (message: unknown, ...extra: unknown[]) => {
      if (debug) io.err(line('debug', message, extra));
    },
    warn: (message: unknown, ...extra: unknown[]) => io.err(line('note', message, extra)),
  } as GateLogger;
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

/** A sleep that ends early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The documents helper over a client. */
export function documentsOf(clients: CliClients): SsmDocuments {
  return new SsmDocuments(clients.ssm);
}
