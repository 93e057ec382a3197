import { COMMANDS, parseCommandLine } from '../../cli/args';
import { CliError } from '../../cli/errors';
import { runCli } from './support';

function usageMessage(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
}

describe('parseCommandLine', () => {
  it('accepts global options before and after the command', () => {
    const before = parseCommandLine(['--endpoint-url', 'http://127.0.0.1:4566', '--region', 'eu-west-1', 'status', '--service', 'a']);
    const after = parseCommandLine(['status', '--service', 'a', '--endpoint-url=http://127.0.0.1:4566', '--region', 'eu-west-1', '--output', 'json']);

    expect(before).toEqual({
      kind: 'run',
      command: 'status',
      globals: { endpointUrl: 'http://127.0.0.1:4566', region: 'eu-west-1', output: 'text', debug: false },
      values: { 'endpoint-url': 'http://127.0.0.1:4566', region: 'eu-west-1', service: 'a' },
    });
    expect(after).toMatchObject({ kind: 'run', command: 'status', globals: { endpointUrl: 'http://127.0.0.1:4566', output: 'json' } });
  });

  it.each([
    [[], "no command given — see 'ecs-release --help'"],
    [['deploy'], "unknown command 'deploy' (commands: start, status, approve, reject, abort, history) — see 'ecs-release --help'"],
    [['status', '--service', 'a', 'extra'], "unexpected argument 'extra': options take the form --name value — see 'ecs-release status --help'"],
    [['status', '--service', 'a', '--output', 'yaml'], "invalid --output 'yaml': use text or json — see 'ecs-release status --help'"],
    [['status', '--service', 'a', '--endpoint-url', 'localhost:4566'], "invalid --endpoint-url 'localhost:4566': use http://host:port or https://host — see 'ecs-release status --help'"],
    [['history', '--service', 'a', '--wait'], "unknown option '--wait' for 'history' — see 'ecs-release history --help'"],
    [['start', '--wait=yes'], "option '--wait' does not take an argument — see 'ecs-release start --help'"],
  ])('rejects %j', (argv, message) => {
    expect(usageMessage(argv)).toBe(message);
  });

  it('gives the general help for --help, -h and help, and a command help for "<command> --help" and "help <command>"', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const line = parseCommandLine(argv);
      expect(line.kind).toBe('help');
      expect(line.kind === 'help' && line.text).toContain('Usage: ecs-release <command> [options]');
    }
    for (const argv of [['abort', '--help'], ['help', 'abort']]) {
      const line = parseCommandLine(argv);
      expect(line.kind === 'help' && line.text).toContain('Usage: ecs-release abort --service NAME [--reason TEXT]');
    }
  });

  it('documents every command and the exit codes in the general help', () => {
    const line = parseCommandLine(['--help']);
    const text = line.kind === 'help' ? line.text : '';

    for (const command of Object.keys(COMMANDS)) expect(text).toContain(`  ${command} `);
    for (const code of ['0 ', '1 ', '2 ', '3 ', '4 ', '130 ']) expect(text).toContain(`\n  ${code}`);
    expect(text).toContain('--endpoint-url URL');
  });
});

describe('run', () => {
  it('prints help on stdout with exit 0, and usage errors as one stderr line with exit 2', async () => {
    const help = await runCli(['start', '--help']);
    const bad = await runCli(['start', '--service']);

    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--approve-before-promote');
    expect(help.io.stderr).toEqual([]);
    expect(bad.code).toBe(2);
    expect(bad.io.stderr).toEqual(["ecs-release: option '--service <value>' argument missing — see 'ecs-release start --help'"]);
  });
});
