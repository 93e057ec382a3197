// Shared by the endpoint and service tests: SDK client settings for a local endpoint, a raw HTTP
// client for what the SDK would never send, and the AWS CLI run against the endpoint.
import { execFile } from 'node:child_process';
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
 * is given. Killed after 15 s.
 */
export function aws(url: string, args: string[], options: { configFile?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'aws',
      [...args, '--endpoint-url', url, '--output', 'json'],
      {
        timeout: 15_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          // pyenv's shim needs to know which interpreter to run the CLI with.
          ...(process.env.PYENV_ROOT !== undefined ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_DEFAULT_REGION: REGION,
          AWS_CONFIG_FILE: options.configFile ?? '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_MAX_ATTEMPTS: '1',
          AWS_RETRY_MODE: 'standard',
          AWS_EC2_METADATA_DISABLED: 'true',
          NO_PROXY: '127.0.0.1,localhost',
        },
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(error);
          return;
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}
