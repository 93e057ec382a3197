import { parseArgs } from 'node:util';
import { EXIT, usageError } from './errors';

/**
 * The command line: global options, one command, its options. Parsed with `node:util`
 * `parseArgs` (strict: an unknown or misspelt option is an error, never ignored), and the help
 * text is generated from the same specs, so the two cannot drift apart.
 */

/** One option as the help shows it and `parseArgs` reads it. */
interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder for the value in the help, e.g. `URL`. */
  readonly value?: string;
  readonly description: string;
}

/** Options every command accepts, before or after the command name. */
const GLOBAL_OPTIONS = {
  'endpoint-url': {
    type: 'string',
    value: 'URL',
    description: 'Send every AWS call to URL, e.g. the local environment that `npm run local` prints',
  },
  region: { type: 'string', value: 'REGION', description: 'AWS region (default: AWS_REGION or your profile)' },
  output: { type: 'string', value: 'text|json', description: 'Result format on stdout (default: text)' },
  debug: { type: 'boolean', description: "Print stack traces and the release code's log lines" },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
} as const satisfies Record<string, OptionSpec>;

const service = { type: 'string', value: 'NAME', description: 'The service, as named in its release configuration (required)' } as const;
const releaseId = (what: string) => ({ type: 'string', value: 'ID', description: what }) as const;
const stateMachineArn = {
  type: 'string',
  value: 'ARN',
  description: "Release state machine (default: the service config's releaseStateMachineArn)",
} as const;
const by = { type: 'string', value: 'WHO', description: 'Who is acting, for the record (default: your user@host)' } as const;

/** Every command: a summary, its options and how to call it. */
export const COMMANDS = {
  start: {
    summary: 'Start a release of a new image; with --wait, follow it to the end',
    usage: 'ecs-release start --service NAME --image IMAGE [options]',
    options: {
      service,
      image: { type: 'string', value: 'IMAGE', description: 'Image to release: <repository>:<tag> or <repository>@sha256:<digest> (required)' },
      strategy: {
        type: 'string',
        value: 'STRATEGY',
        description: "canary:10,50,100 | linear:25 | blue-green (default: the service's defaultStrategy)",
      },
      'bake-seconds': { type: 'string', value: 'N', description: "Bake time per step, 1..86400 (default: the service's bakeSeconds)" },
      'approve-before-traffic': { type: 'boolean', description: 'Wait for `ecs-release approve` before the first traffic shift' },
      'approve-before-promote': { type: 'boolean', description: 'Wait for `ecs-release approve` before promoting' },
      reason: { type: 'string', value: 'TEXT', description: 'Why, recorded with the release' },
      'requested-by': { type: 'string', value: 'WHO', description: 'Who asked, recorded with the release (default: your user@host)' },
      wait: {
        type: 'boolean',
        description: 'Follow the release (progress on stderr) and exit 0 when promoted, 1 when rolled back or failed',
      },
      'state-machine-arn': stateMachineArn,
    },
    details: [
      'Refuses (exit 3) while another release of the service runs or its lock is stale.',
      'Prints the release id on stdout; progress and notes go to stderr.',
    ],
  },
  status: {
    summary: 'Show the live colour, what runs where, the lock, a waiting approval and the last release',
    usage: 'ecs-release status --service NAME [--release-id ID]',
    options: {
      service,
      'release-id': releaseId('Show this release instead: its execution, outcome, verdicts, lock and approval'),
      'state-machine-arn': stateMachineArn,
    },
    details: [],
  },
  approve: {
    summary: 'Let a release waiting at an approval gate continue',
    usage: 'ecs-release approve --service NAME [--release-id ID]',
    options: {
      service,
      'release-id': releaseId('Only approve if this is the release waiting (recommended: the one you reviewed)'),
      by,
    },
    details: ['Refuses (exit 3) when no approval is waiting, or the gate timed out or its execution ended.'],
  },
  reject: {
    summary: 'Reject a release waiting at an approval gate; it is rolled back',
    usage: 'ecs-release reject --service NAME --reason TEXT [--release-id ID]',
    options: {
      service,
      reason: { type: 'string', value: 'TEXT', description: 'Why, recorded in the release history (required)' },
      'release-id': releaseId('Only reject if this is the release waiting'),
      by,
    },
    details: ['Refuses (exit 3) when no approval is waiting, or the gate timed out or its execution ended.'],
  },
  abort: {
    summary: 'Stop the running release; the cleanup handler rolls it back and releases the lock',
    usage: 'ecs-release abort --service NAME [--reason TEXT]',
    options: {
      service,
      reason: { type: 'string', value: 'TEXT', description: 'Why, recorded with the abort' },
      'release-id': releaseId('Only abort if this is the release running'),
      by,
    },
    details: ['Refuses (exit 3) when nothing runs, the release is already rolling back, or its lock is stale.'],
  },
  history: {
    summary: "List the service's past releases, newest first",
    usage: 'ecs-release history --service NAME [--limit N]',
    options: {
      service,
      limit: { type: 'string', value: 'N', description: 'Show at most N releases, 1..50 (default: 10)' },
    },
    details: [],
  },
} as const satisfies Record<string, { summary: string; usage: string; options: Record<string, OptionSpec>; details: readonly string[] }>;

/** A command name. */
export type CommandName = keyof typeof COMMANDS;

/** Option values as `parseArgs` returns them. */
export type OptionValues = Record<string, string | boolean | undefined>;

/** Global option values. */
export interface GlobalValues {
  readonly endpointUrl?: string;
  readonly region?: string;
  readonly output: 'text' | 'json';
  readonly debug: boolean;
}

/** What the command line asks for. */
export type CommandLine =
  | { readonly kind: 'help'; readonly text: string; readonly debug: boolean }
  | { readonly kind: 'run'; readonly command: CommandName; readonly globals: GlobalValues; readonly values: OptionValues };

const GLOBAL_WITH_VALUE = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, s]) => s.type === 'string').map(([n]) => `--${n}`));

/**
 * Parses `argv` (without `node` and the script). Global options may come before or after the
 * command. `help`, `--help` and `<command> --help` give the help text.
 *
 * @throws CliError (exit 2) for an unknown command or option, a missing value, or a stray argument.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const debug = argv.includes('--debug');
  const { command, rest } = splitCommand(argv);
  if (command === undefined || command === 'help') {
    const topic = command === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
    if (topic !== undefined && !isCommand(topic)) throw unknownCommand(topic);
    if (command === undefined && !rest.some((a) => a === '--help' || a === '-h')) throw usageError('no command given');
    return { kind: 'help', text: topic ? commandHelp(topic) : generalHelp(), debug };
  }
  if (!isCommand(command)) throw unknownCommand(command);
  const spec = COMMANDS[command];
  const values = checkOptions(rest, { ...GLOBAL_OPTIONS, ...spec.options }, command);
  if (values.help) return { kind: 'help', text: commandHelp(command), debug };
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') {
    throw usageError(`invalid --output '${String(output)}': use text or json`, command);
  }
  const endpointUrl = values['endpoint-url'] as string | undefined;
  if (endpointUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(endpointUrl)) {
    throw usageError(`invalid --endpoint-url '${endpointUrl}': use http://host:port or https://host`, command);
  }
  return {
    kind: 'run',
    command,
    globals: { endpointUrl, region: values.region as string | undefined, output, debug: Boolean(values.debug) },
    values,
  };
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

function unknownCommand(name: string) {
  return usageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
}

/** The first argument that is neither an option nor a global option's value, and the rest. */
function splitCommand(argv: readonly string[]): { command?: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (GLOBAL_WITH_VALUE.has(arg)) i++; // `--region eu-west-1`: skip the value too
      continue;
    }
    return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { rest: [...argv] };
}

/** Strict `parseArgs`, with its errors turned into exit-2 usage errors naming the option. */
function checkOptions(args: readonly string[], options: Record<string, OptionSpec>, command: string | undefined): OptionValues {
  try {
    const parsed = parseArgs({
      args: [...args],
      options: Object.fromEntries(
        Object.entries(options).map(([name, spec]) => [name, { type: spec.type, ...('short' in spec && spec.short ? { short: spec.short } : {}) }]),
      ),
      strict: true,
      allowPositionals: false,
    });
    return parsed.values as OptionValues;
  } catch (error) {
    const message = (error as Error).message.split('\n')[0].replace(/\.$/, '');
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usageError(`${lowerFirst(message)}${command ? ` for '${command}'` : ''}`, command);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw usageError(`${lowerFirst(message.replace(/\. This command does not take positional arguments$/, ''))}: options take the form --name value`, command);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw usageError(lowerFirst(message), command);
    throw error;
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${'short' in spec && spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

/** The exit codes, as every help text lists them. */
export const EXIT_CODE_LINES = [
  `  ${EXIT.ok}    success; with start --wait: the release was promoted`,
  `  ${EXIT.releaseFailed}    start --wait: the release was rolled back cleanly, or failed before it changed anything`,
  `  ${EXIT.usage}    bad usage or input, or the service is not configured (nothing was touched)`,
  `  ${EXIT.refused}    refused by the service's state: a release in progress, a stale lock, no approval waiting, nothing to abort`,
  `  ${EXIT.aws}    AWS or the endpoint failed (credentials, permissions, network, throttling), or an unexpected error`,
  `  ${EXIT.needsOperator}    start --wait: the rollback failed, or no rollback was recorded yet: the service may be half-way, the lock is kept`,
  `  ${EXIT.interrupted}  interrupted while waiting (the release goes on)`,
];

/** `ecs-release --help`. */
export function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'ecs-release: start, follow and control blue/green and canary releases of ECS services.',
    '',
    'Usage: ecs-release <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    '',
    'Global options (before or after the command):',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes:',
    ...EXIT_CODE_LINES,
    '',
    'Errors are one line on stderr: "ecs-release: <what> — <what to do>" (add --debug for the stack).',
    '',
    'Examples:',
    '  ecs-release start --service colorapp --image registry/colorapp:v2 --strategy canary:10,50,100 --wait',
    '  ecs-release --endpoint-url http://127.0.0.1:4566 status --service colorapp',
    '  ecs-release approve --service colorapp --release-id colorapp-20250101120000-a1b2c3',
    '  ecs-release reject --service colorapp --reason "p99 too high in the canary"',
    '  ecs-release history --service colorapp --limit 5 --output json',
    '',
    "Run 'ecs-release <command> --help' for a command's options.",
  ].join('\n');
}

/** `ecs-release <command> --help`. */
export function commandHelp(command: CommandName): string {
  const spec = COMMANDS[command];
  return [
    `Usage: ${spec.usage}`,
    '',
    `${spec.summary}.`,
    ...(spec.details.length ? ['', ...spec.details] : []),
    '',
    'Options:',
    ...optionLines(spec.options),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes:',
    ...EXIT_CODE_LINES,
  ].join('\n');
}
