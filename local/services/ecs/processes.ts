/**
 * The process side of a local task: a free loopback port, the child process, its health check,
 * and a bounded stop (SIGTERM, then SIGKILL).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';

/** A free TCP port on `host`, found by binding port 0 and releasing it. */
export function allocatePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not allocate a port on ${host}`))));
    });
  });
}

/** How to start one task process. */
export interface SpawnSpec {
  /** Script run with `node`. */
  readonly script: string;
  /** Preloaded with `--require` (the parent guard). */
  readonly preload: string;
  /** The whole environment: nothing is inherited from this process, as nothing leaks into a container. */
  readonly env: Readonly<Record<string, string>>;
  /** Called with each line the process writes. */
  readonly onLine: (stream: 'stdout' | 'stderr', line: string) => void;
}

/** Starts a task process: node, the parent guard preloaded, an IPC channel only for the guard. */
export function spawnTask(spec: SpawnSpec): ChildProcess {
  const child = spawn(process.execPath, ['--require', spec.preload, spec.script], {
    env: { ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    windowsHide: true,
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    let buffered = '';
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        spec.onLine(stream, buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
      // A process that never ends a line must not grow the buffer without bound.
      if (buffered.length > 8192) {
        spec.onLine(stream, buffered);
        buffered = '';
      }
    });
  }
  return child;
}

/** True while the process runs: it started and has not exited. */
export function isAlive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Stops a process: SIGTERM, then SIGKILL if it is still running after `graceMs`. Resolves once it
 * has exited, or after a further bound if even SIGKILL went unanswered (never hangs).
 */
export function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (!isAlive(child)) return Promise.resolve();
  return new Promise((resolve) => {
    let giveUpTimer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(killTimer);
      clearTimeout(giveUpTimer);
      resolve();
    };
    child.once('exit', done);
    const killTimer = setTimeout(() => {
      if (isAlive(child)) child.kill('SIGKILL');
      giveUpTimer = setTimeout(done, 2000);
    }, graceMs);
    child.kill('SIGTERM');
  });
}

/**
 * One HTTP health check: `GET http://host:port/healthcheck` answered 200 within `timeoutMs`. Never
 * rejects. A fresh connection each time, as a container health check makes.
 */
export function probeHealth(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host, port, path: '/healthcheck', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on('timeout', () => request.destroy(new Error('health check timed out')));
    request.on('error', () => resolve(false));
  });
}
