// The traffic backends of the local world, as `npm start`, `npm run local` and `npm run bench`
// take them: ALB weighted target groups by default, `--traffic appmesh` for App Mesh, anything
// else refused with a message naming both (a typo must not silently pick a default).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { COLORAPP } from '../../infra/colorapp-settings';
import { backendOf, localTrafficOf } from '../../local/backends';

const ROOT = join(__dirname, '..', '..');

/** Runs `tsx <script> <args>` from the repository root; resolves with its exit code and output. */
function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), script, ...args], { cwd: ROOT, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

describe('local traffic backends', () => {
  it('defaults to alb and accepts appmesh', () => {
    expect(backendOf(undefined)).toBe('alb');
    expect(backendOf('alb')).toBe('alb');
    expect(backendOf('appmesh')).toBe('appmesh');
    expect(localTrafficOf(COLORAPP, 'alb').kind).toBe('alb');
    expect(localTrafficOf(COLORAPP, 'appmesh')).toMatchObject({ kind: 'appmesh', meshName: 'colorapp-mesh' });
  });

  it.each(['nlb', 'ALB', ''])('refuses %j naming both backends', (value) => {
    expect(() => backendOf(value)).toThrow(`--traffic must be alb (ALB weighted target groups, the default) or appmesh (App Mesh), got '${value}'`);
  });

  it('npm start and npm run local exit 2 on an unknown --traffic, saying what they accept, before starting anything', async () => {
    const [start, local] = await Promise.all([run('local/start.ts', ['--traffic', 'mesh']), run('local/run-local.ts', ['--traffic', 'mesh'])]);
    for (const result of [start, local]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("--traffic must be alb (ALB weighted target groups, the default) or appmesh (App Mesh), got 'mesh'");
      expect(result.stdout).toBe('');
    }
  });
});
