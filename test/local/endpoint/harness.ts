// Shared by the endpoint and service tests: SDK client settings for a local endpoint, a raw HTTP
// client for what the SDK would never send, and the AWS CLI run against the endpoint.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'node:http';

/** Region of every test client (matches test/support/setup-env.ts). */
export const REGION = 'eu-west-1';

/**
 * Settings for an SDK v3 client talking to the local endpoint at `url`. One attempt by default,
 * so a test sees exactly what the endpoint answered rather than the SDK's retries.
 */
export function clientConfig(url: string, maxAttempts = 1) {
  return {
    endpoint: url,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts,
  };
}

/** One raw HTTP exchange. */
export interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Sends one request to the endpoint (a fresh connection each time) and resolves with the whole reply within 5 s. */
export function rawRequest(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<RawReply> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path: options.path ?? '/',
        method: options.method ?? 'POST',
        headers: options.headers,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'POST'} ${options.path ?? '/'} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** What one AWS CLI run printed, and how it exited. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the AWS CLI against the endpoint with fake credentials, no proxies and one attempt (a
 * failure must show at once, not after the CLI's back-off). No config file unless `configFile`
 * is given. A command that has not answered within 15 s fails the call.
 *
 * The CLI is the real one (awscli.clidriver, as the `aws` script runs it) in one Python process
 * per test file ({@link AwsCliProcess}): each command gets a fresh driver and session with exactly
 * this environment, as a new `aws` process would, without paying Python's start-up again.
 */
export function aws(url: string, args: string[], options: { configFile?: string } = {}): Promise<CliResult> {
  const env = cliEnvironment(options.configFile);
  cliProcess ??= new AwsCliProcess(cliEnvironment());
  return cliProcess.run([...args, '--endpoint-url', url, '--output', 'json'], env);
}

/** Fake credentials, one attempt, no proxies, and no config file unless given: all a command sees. */
function cliEnvironment(configFile?: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: configFile ?? '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_MAX_ATTEMPTS: '1',
    AWS_RETRY_MODE: 'standard',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
  };
}

let cliProcess: AwsCliProcess | undefined;

/**
 * The Python interpreter the `aws` on PATH runs with, from its `#!` line; a pyenv shim is
 * resolved to the script it runs first.
 *
 * @throws Error when `aws` is not an AWS CLI v1 Python script (install it: `apt-get install awscli`).
 */
function awsCliInterpreter(): string[] {
  const onPath = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'aws')).find((file) => existsSync(file));
  if (!onPath) throw new Error('The AWS CLI (`aws`) is not on PATH: install it (apt-get install awscli)');
  let script = onPath;
  if (readFileSync(script, 'utf8').includes('pyenv')) script = execFileSync('pyenv', ['which', 'aws'], { encoding: 'utf8' }).trim();
  const shebang = /^#!\s*(.+)$/m.exec(readFileSync(script, 'utf8').split('\n')[0]);
  if (!shebang || !/python/.test(shebang[1])) throw new Error(`${script} is not the AWS CLI v1 (a Python script): its first line is not a python #!`);
  return shebang[1].trim().split(/\s+/);
}

/** One long-lived AWS CLI process: commands are answered one at a time, in the order sent. */
class AwsCliProcess {
  private readonly child: ChildProcess;
  /** Commands sent, in order; the first is the one running, and only its 15 s are counting. */
  private readonly waiting: Array<{ what: string; resolve: (result: CliResult) => void; reject: (error: Error) => void; timer?: NodeJS.Timeout }> = [];
  private buffered = '';
  private failure?: Error;

  constructor(env: Record<string, string>) {
    const [interpreter, ...interpreterArgs] = awsCliInterpreter();
    // The curated environment from the start: what Python and awscli read at import is the same as a new `aws` would see.
    this.child = spawn(interpreter, [...interpreterArgs, path.join(__dirname, 'aws_cli_server.py')], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    // Never keeps a test process alive: it exits when its stdin closes with this process.
    this.child.unref();
    (this.child.stdin as unknown as { unref(): void }).unref();
    (this.child.stdout as unknown as { unref(): void }).unref();
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    this.child.on('error', (error) => this.fail(error));
    // Writing to a process that has just exited fails asynchronously (EPIPE): fail the calls, never crash the test file.
    this.child.stdin!.on('error', (error) => this.fail(error));
    this.child.on('exit', (code, signal) => this.fail(new Error(`The AWS CLI process exited (${code ?? signal})`)));
  }

  run(args: string[], env: Record<string, string>): Promise<CliResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ what: `aws ${args.slice(0, 2).join(' ')}`, resolve, reject });
      if (this.waiting.length === 1) this.startClock();
      this.child.stdin!.write(`${JSON.stringify({ args, env })}\n`);
    });
  }

  /** Starts the running command's 15 s: commands run one at a time, so time spent queued does not count. */
  private startClock(): void {
    const head = this.waiting[0];
    if (head) head.timer = setTimeout(() => this.fail(new Error(`${head.what} did not answer within 15 s`)), 15_000);
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let newline = this.buffered.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        let result: CliResult;
        try {
          result = JSON.parse(line) as CliResult;
        } catch {
          this.waiting.unshift(next);
          this.fail(new Error(`The AWS CLI process wrote something other than an answer: ${line.slice(0, 200)}`));
          return;
        }
        next.resolve(result);
        this.startClock();
      }
      newline = this.buffered.indexOf('\n');
    }
  }

  /** Fails every waiting command and the ones after: a stuck or dead CLI is not retried silently. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const next of this.waiting.splice(0)) {
      clearTimeout(next.timer);
      next.reject(this.failure);
    }
    if (cliProcess === this) cliProcess = undefined;
    this.child.kill();
  }
}
