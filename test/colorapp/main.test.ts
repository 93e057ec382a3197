// The colorapp process as a container runs it: environment in, exit code out, SIGTERM handled.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { call } from './http-client';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'colorapp', 'src', 'main.ts');
const HEALTHCHECK = join(ROOT, 'colorapp', 'src', 'healthcheck.ts');

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

/** Runs a colorapp TypeScript entry point with tsx and only the given environment (plus PATH). */
function run(script: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Resolves with `value`, or rejects after `ms` naming `what`: every wait here is bounded. */
function within<T>(ms: number, what: string, value: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([value, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for the "listening" log line and returns the port it names. */
async function listeningPort(app: Running): Promise<number> {
  return within(
    15_000,
    'colorapp start-up',
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const line = app.output().split('\n').find((l) => l.includes('"msg":"listening"'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      };
      app.child.stdout?.on('data', check);
      app.child.on('exit', (code) => reject(new Error(`colorapp exited with ${code} before listening: ${app.output()}`)));
      check();
    }),
  );
}

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

describe('colorapp process', () => {
  it.each([
    ['FAULT_RATE', 'abc', "FAULT_RATE must be a number from 0 to 1 (the share of requests answered 500), got 'abc'"],
    ['FAULT_RATE', '1.5', "FAULT_RATE must be a number from 0 to 1 (the share of requests answered 500), got '1.5'"],
    ['LATENCY_MS', 'slow', "LATENCY_MS must be an integer number of milliseconds from 0 to 600000, got 'slow'"],
  ])('exits 1 with a clear message when %s is %s', async (name, value, message) => {
    const app = run(MAIN, { COLOR: 'blue', HOST: '127.0.0.1', PORT: '0', [name]: value });

    await expect(within(15_000, 'colorapp exit', app.exited)).resolves.toBe(1);
    expect(app.output()).toContain(message);
    expect(app.output()).not.toContain('listening');
  });

  it('exits 1 when COLOR is missing', async () => {
    const app = run(MAIN, { HOST: '127.0.0.1', PORT: '0' });

    await expect(within(15_000, 'colorapp exit', app.exited)).resolves.toBe(1);
    expect(app.output()).toContain('COLOR is required');
  });

  it('serves its colour and version from the environment, and passes its container health check', async () => {
    const app = run(MAIN, { COLOR: 'green', VERSION: 'v2', HOST: '127.0.0.1', PORT: '0' });
    const port = await listeningPort(app);

    const reply = await call(port, '/');
    const healthcheck = run(HEALTHCHECK, { PORT: String(port) });

    expect(JSON.parse(reply.body)).toEqual({ color: 'green', version: 'v2' });
    await expect(within(15_000, 'health check', healthcheck.exited)).resolves.toBe(0);
  });

  it('writes its request metrics as EMF lines on stdout, the last ones on SIGTERM', async () => {
    const app = run(MAIN, { COLOR: 'green', HOST: '127.0.0.1', PORT: '0', SERVICE_NAME: 'colorapp' });
    const port = await listeningPort(app);

    await call(port, '/');
    await call(port, '/');
    app.child.kill('SIGTERM');
    await expect(within(5_000, 'colorapp exit', app.exited)).resolves.toBe(0);

    const documents = app
      .output()
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = documents.reduce((total, d) => total + (typeof d.Requests === 'number' ? d.Requests : 0), 0);
    expect(requests).toBe(2);
    expect(documents[0]).toMatchObject({ Service: 'colorapp', Color: 'green', ServerErrors: 0 });
  });

  it('fails the container health check when nothing answers', async () => {
    const app = run(MAIN, { COLOR: 'blue', HOST: '127.0.0.1', PORT: '0' });
    const port = await listeningPort(app);
    app.child.kill('SIGKILL');
    await within(5_000, 'colorapp kill', app.exited);

    const healthcheck = run(HEALTHCHECK, { PORT: String(port) });

    await expect(within(15_000, 'health check', healthcheck.exited)).resolves.toBe(1);
  });

  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    const app = run(MAIN, { COLOR: 'blue', VERSION: 'v1', HOST: '127.0.0.1', PORT: '0', LATENCY_MS: '500' });
    const port = await listeningPort(app);
    const inFlight = call(port, '/');
    await new Promise((resolve) => setTimeout(resolve, 100));

    app.child.kill('SIGTERM');

    const reply = await within(5_000, 'in-flight request', inFlight);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ color: 'blue', version: 'v1' });
    await expect(within(5_000, 'colorapp exit', app.exited)).resolves.toBe(0);
    await expect(call(port, '/healthcheck', { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    expect(app.output()).toContain('"msg":"shutting down","signal":"SIGTERM"');
  });
});
