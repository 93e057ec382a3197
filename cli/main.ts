import { parseCommandLine, type CommandLine, type CommandName, type OptionValues } from './args';
import { abort } from './commands/abort';
import { approve, reject } from './commands/gate';
import { DEFAULT_HISTORY_LIMIT, history } from './commands/history';
import { start } from './commands/start';
import { status } from './commands/status';
import {
  cliLogger,
  createClients,
  destroyClients,
  documentsOf,
  localIdentity,
  sleep,
  type CliClients,
  type CommandContext,
  type GlobalOptions,
} from './context';
import { errorLine, EXIT, toCliError } from './errors';
import { processIo, type Io } from './io';
import { integerOption, optionalString, reasonOption, releaseIdOption, releaseRequestFrom, serviceOption } from './inputs';

/**
 * `ecs-release`: parses the command line, builds the clients and the context, runs one command,
 * and turns any failure into one line on stderr and an exit code. Everything the process
 * provides can be replaced, so tests run the whole CLI in-process.
 */

/** What {@link run} takes from the process unless told otherwise. */
export interface RunDependencies {
  readonly io?: Io;
  readonly createClients?: (options: Pick<GlobalOptions, 'endpointUrl' | 'region'>) => CliClients;
  /** Who acts when the command does not say (`--requested-by`, `--by`). @default - `user@host` */
  readonly identity?: string;
  readonly now?: () => Date;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** @default 2000 */
  readonly pollIntervalMs?: number;
  /** @default 120000 */
  readonly cleanupTimeoutMs?: number;
  /** Aborting it makes `start --wait` stop waiting (the bin wires Ctrl-C to it). */
  readonly signal?: AbortSignal;
}

/** Default poll interval of `start --wait`: a few calls every 2 s is far below any API limit. */
export const DEFAULT_POLL_INTERVAL_MS = 2000;
/** How long `start --wait` waits for the cleanup after an abort or a timeout. */
export const DEFAULT_CLEANUP_TIMEOUT_MS = 120_000;

/** Runs the CLI with `argv` (without `node` and the script) and returns the exit code. */
export async function run(argv: readonly string[], deps: RunDependencies = {}): Promise<number> {
  const io = deps.io ?? processIo();
  let commandLine: CommandLine;
  try {
    commandLine = parseCommandLine(argv);
  } catch (error) {
    return fail(io, error, argv.includes('--debug'), {});
  }
  if (commandLine.kind === 'help') {
    io.out(commandLine.text);
    return EXIT.ok;
  }

  const { command, globals, values } = commandLine;
  const service = typeof values.service === 'string' ? values.service : undefined;
  const identity = deps.identity ?? localIdentity();
  let clients: CliClients | undefined;
  try {
    const invoke = commandFor(command, values, identity);
    clients = (deps.createClients ?? createClients)(globals);
    const ctx: CommandContext = {
      clients,
      documents: documentsOf(clients),
      io,
      output: globals.output,
      logger: cliLogger(io, globals.debug),
      now: deps.now ?? (() => new Date()),
      sleep: deps.sleep ?? sleep,
      pollIntervalMs: deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      cleanupTimeoutMs: deps.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS,
      signal: deps.signal,
    };
    return await invoke(ctx);
  } catch (error) {
    return fail(io, error, globals.debug, { service, endpointUrl: globals.endpointUrl });
  } finally {
    if (clients) destroyClients(clients);
  }
}

/**
 * Validates the command's options (before any client exists, so bad input never reaches AWS) and
 * returns the call that runs it.
 */
function commandFor(command: CommandName, values: OptionValues, identity: string): (ctx: CommandContext) => Promise<number> {
  switch (command) {
    case 'start': {
      const request = releaseRequestFrom(values, identity);
      const stateMachineArn = optionalString(values, 'state-machine-arn');
      return (ctx) => start(ctx, { request, stateMachineArn, wait: Boolean(values.wait) });
    }
    case 'status': {
      const options = {
        service: serviceOption(values, command),
        releaseId: releaseIdOption(values, command),
        stateMachineArn: optionalString(values, 'state-machine-arn'),
      };
      return (ctx) => status(ctx, options);
    }
    case 'approve': {
      const options = { service: serviceOption(values, command), releaseId: releaseIdOption(values, command), by: byOption(values, identity) };
      return (ctx) => approve(ctx, options);
    }
    case 'reject': {
      const options = {
        service: serviceOption(values, command),
        releaseId: releaseIdOption(values, command),
        reason: reasonOption(values, command, true),
        by: byOption(values, identity),
      };
      return (ctx) => reject(ctx, options);
    }
    case 'abort': {
      const options = {
        service: serviceOption(values, command),
        releaseId: releaseIdOption(values, command),
        reason: reasonOption(values, command, false),
        by: byOption(values, identity),
      };
      return (ctx) => abort(ctx, options);
    }
    case 'history': {
      const options = {
        service: serviceOption(values, command),
        limit: integerOption(values, 'limit', command, 1, 50) ?? DEFAULT_HISTORY_LIMIT,
      };
      return (ctx) => history(ctx, options);
    }
    default: {
      const unknown: never = command;
      throw new Error(`Unhandled command ${String(unknown)}`);
    }
  }
}

function byOption(values: OptionValues, identity: string): string {
  return optionalString(values, 'by') ?? identity;
}

function fail(io: Io, error: unknown, debug: boolean, context: { service?: string; endpointUrl?: string }): number {
  const cliError = toCliError(error, context);
  io.err(errorLine(cliError));
  if (debug) {
    const root = cliError.cause ?? cliError;
    io.err(root instanceof Error && root.stack ? root.stack : String(root));
  }
  return cliError.exitCode;
}

/**
 * The process entry point used by `bin/ecs-release.js`: runs with the real process and sets the
 * exit code. Ctrl-C while `--wait` follows a release stops waiting and says how to follow it
 * (a second Ctrl-C exits at once); anywhere else it exits at once.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const interrupt = new AbortController();
  const waits = argv.includes('--wait');
  const onSigint = () => {
    if (!waits || interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    process.exitCode = await run(argv, { signal: interrupt.signal });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
