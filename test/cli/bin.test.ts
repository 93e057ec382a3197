import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The installed command: bin/ecs-release.js registers tsx and runs cli/main.ts in a real process.
const BIN = join(__dirname, '..', '..', 'bin', 'ecs-release.js');

function ecsRelease(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
}

describe('bin/ecs-release.js', () => {
  it('runs --help through tsx: usage and exit codes on stdout, exit 0', () => {
    const result = ecsRelease(['--help']);

    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: ecs-release <command> [options]');
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stderr).toBe('');
  });

  it('fails bad usage with one stderr line and exit 2, without touching AWS', () => {
    const result = ecsRelease(['start', '--service', 'colorapp', '--image', 'not an image']);

    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      "ecs-release: invalid --image 'not an image': must be <repository>:<tag> or <repository>@sha256:<digest> — see 'ecs-release start --help'",
    ]);
  });

  it('says it cannot reach an endpoint that is not running, exit 4, with no SDK warning noise', () => {
    const result = spawnSync(
      process.execPath,
      [BIN, '--endpoint-url', 'http://127.0.0.1:9', '--region', 'eu-west-1', 'status', '--service', 'colorapp'],
      {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_MAX_ATTEMPTS: '1' },
      },
    );

    expect(result.status).toBe(4);
    expect(result.stderr.trim().split('\n')).toEqual([
      'ecs-release: cannot reach http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9 — is the endpoint at http://127.0.0.1:9 running (npm run local)? Check --endpoint-url',
    ]);
  });
});
