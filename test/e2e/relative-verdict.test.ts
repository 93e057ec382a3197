// End to end: the verdict judges the new colour against the live one, not only against fixed
// thresholds. Two releases in fresh local worlds (canary 50/100), each as short as is
// statistically sound, with traffic and bakes chosen with the seeded simulation
// (test/support/release-simulation.ts):
// - one as good as live although both fail 1.5% of their requests (below the 99% threshold) is
//   promoted: 100 requests/s, 3 s bakes (falsely rolled back in 0.05% of simulated releases; a
//   false alarm is bounded by the 99% confidence whatever the volume, so this needs little);
// - one at 0.8% errors against a live colour with none (above the 99% threshold) is rolled back
//   by the comparison: that needs volume, 200 requests/s and 16 s bakes (caught in 99.7%). Half
//   the rate over twice the time judges the same numbers of requests and leaves the host room:
//   at 400 requests/s a busy machine queued requests into latency the verdict then judged.
import { runDemo, type DemoReport } from '../../local/demo';

const canary = { type: 'canary' as const, steps: [50, 100] };

describe('relative verdicts in the local world', () => {
  let asGood: DemoReport;
  let worse: DemoReport;

  beforeAll(async () => {
    // One after the other: a process runs one local world at a time.
    asGood = await runDemo({ strategy: canary, requestsPerSecond: 100, bakeSeconds: 3, baselineFaultRate: 0.015, faultRate: 0.015 });
    worse = await runDemo({ strategy: canary, requestsPerSecond: 200, bakeSeconds: 16, faultRate: 0.008 });
  }, 150_000);

  it('promotes a version as good as live although both are below the 99% threshold', () => {
    expect({ outcome: asGood.outcome, steps: asGood.steps }).toMatchObject({ outcome: 'promoted' });
    expect(asGood.traffic.byColour.blue?.failed).toBeGreaterThan(0); // live really is imperfect
    const compared = asGood.steps.filter((s) => s.comparison);
    expect(compared.map((s) => s.weight)).toEqual([50, 100]);
    expect(compared[0].comparison).toMatchObject({ errorsWorse: false, baseline: { colour: 'blue', from: 'same-window' } });
    expect(compared[1].comparison).toMatchObject({ errorsWorse: false, baseline: { colour: 'blue', from: 'previous-step' } });
    expect(compared[1].comparison!.summary).toContain("in the previous step's window");
  });

  it('rolls back a version worse than live although above the 99% threshold, and says why', () => {
    expect({ outcome: worse.outcome, error: worse.error }).toMatchObject({ outcome: 'rolled-back', error: { name: 'UnhealthyReleaseError' } });
    const deciding = worse.steps[worse.steps.length - 1];
    expect(deciding.verdict).toBe('unhealthy');
    expect(deciding.successRate).toBeGreaterThan(0.99 - 0.005);
    expect(deciding.comparison).toMatchObject({ errorsWorse: true, baseline: { colour: 'blue', errors5xx: 0 } });
    expect(worse.rollback?.reason).toMatch(/green [\d.]+% errors vs blue 0% .*worse beyond the 0.1 pp tolerance at 99%/);
    expect(worse.finalWeights).toEqual({ blue: 100, green: 0 });
  });
});
