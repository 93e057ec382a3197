import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ChaosArgumentError, parseChaosArgs, runChaos } from '../../../local/chaos/run';

// `npm run chaos`, bounded: three blue/green releases with 1-second bakes in one local world, with
// endpoint faults, handler crashes, a StopExecution and lost status events (seed 5 plans all of
// them: release 1's check-stability crashes after its work; release 2's acquire-lock crashes after
// taking the lock and its end event is lost; release 3 is stopped from outside and its ABORTED event
// is lost, so only the reconciler can roll it back), and the invariants must hold after each.

describe('runChaos (bounded)', () => {
  it('injects faults and finds no violation in 3 releases (seed 5)', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      releases: 3,
      seed: 5,
      bakeSeconds: 1,
      strategy: { type: 'blue-green' },
      requestsPerSecond: 60,
      fractions: { faultyVersion: 0, slowVersion: 0, crashingVersion: 0.34, endpoint: 1, dropStatusEvent: 0.5, crash: 0.5, stop: 0.3, maxStopAfterMs: 4000 },
      log: (line) => lines.push(line),
    });
    expect({ violations: report.violations, log: lines }).toEqual({ violations: [], log: expect.any(Array) });
    expect(report.releases).toBe(3);
    expect(report.faultsInjected).toBeGreaterThan(0);
    expect(report.faults.crash + report.faults.dropStatusEvent + report.faults.stop).toBeGreaterThan(0);
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(3);
  }, 60_000);
});

describe('parseChaosArgs', () => {
  it('reads the releases, the seed and the report file', () => {
    expect(parseChaosArgs(['--releases', '40', '--seed', '7', '--report', '/tmp/r.json'])).toEqual({
      options: expect.objectContaining({ releases: 40, seed: 7, traffic: 'alb' }),
      report: '/tmp/r.json',
    });
  });

  it.each([
    [['--seed', '7'], /--releases is required/],
    [['--releases', '3'], /--seed is required/],
    [['--releases', 'x', '--seed', '1'], /--releases must be an integer/],
    [['--releases', '3', '--seed', '1', '--traffic', 'nginx'], /nginx/],
    [['--releases', '3', '--seed', '1', '--bogus'], /bogus/],
  ])('refuses %p with a ChaosArgumentError naming the problem', (argv, message) => {
    expect(() => parseChaosArgs(argv)).toThrow(ChaosArgumentError);
    expect(() => parseChaosArgs(argv)).toThrow(message);
  });
});

describe('npm run chaos', () => {
  it('exits 2 with the named error for bad arguments, before starting anything', () => {
    const root = join(__dirname, '..', '..', '..');
    const out = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'local', 'chaos', 'run.ts'), '--releases', 'many', '--seed', '1'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/ChaosArgumentError: --releases must be an integer from 1 to 10000, got 'many'/);
  });
});
