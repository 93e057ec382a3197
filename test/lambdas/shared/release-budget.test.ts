import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { assertCanFinish, EXECUTION_TIMEOUT_SECONDS, worstCaseOf } from '../../../lambdas/shared/release-budget';
import { config } from '../../support/release-documents';

const release = (overrides: Record<string, unknown> = {}, configOverrides: Record<string, unknown> = {}) => ({
  schedule: [10, 50, 100],
  bakeSeconds: 60,
  approvals: { beforeTraffic: false, beforePromote: false },
  // The config's own stability defaults (the shared fixture polls for 600 s).
  config: config({ stabilization: { pollSeconds: 15, timeoutSeconds: 900 }, ...configOverrides }),
  ...overrides,
});

describe('release budget', () => {
  it('uses the TimeoutSeconds the release state machine really has', () => {
    const definition = JSON.parse(readFileSync(path.join(__dirname, '../../../statemachines/release.asl.json'), 'utf8')) as { TimeoutSeconds: number };
    expect(EXECUTION_TIMEOUT_SECONDS).toBe(definition.TimeoutSeconds);
  });

  it('adds up the worst case of the default canary: every poll, every re-bake, the scale-down delay, one hour for the tasks', () => {
    // 900 s / 15 s = 60 polls, plus the one past the timeout; 3 steps × 3 bakes × 60 s; 300 s delay.
    expect(worstCaseOf(release()).seconds).toBe(61 * 15 + 3 * 3 * 60 + 300 + 3600);
    expect(worstCaseOf(release()).historyEvents).toBeLessThan(1_500);
  });

  it('counts both approval gates and leaves out the scale-down delay of a warm old colour', () => {
    const gated = worstCaseOf(release({ approvals: { beforeTraffic: true, beforePromote: true } }, { promotion: { keepOldColourWarm: true } }));
    expect(gated.seconds).toBe(61 * 15 + 2 * 3600 + 3 * 3 * 60 + 3600);
    expect(gated.parts).toContain('2 approval gates of up to 3600s');
  });

  it('accepts the longest release that fits in 8 days and refuses one second more of bake', () => {
    // 2 steps × 3 bakes × B + 915 + 300 + 3600 = 691200 → B = 114397.5: use one bake per step.
    const fits = release({ schedule: [100], bakeSeconds: EXECUTION_TIMEOUT_SECONDS - 915 - 300 - 3600 }, { health: { maxInconclusiveBakes: 0 } });
    expect(() => assertCanFinish(fits)).not.toThrow();
    expect(() => assertCanFinish({ ...fits, bakeSeconds: fits.bakeSeconds + 1 })).toThrow(/longer than the release state machine's 691200s timeout/);
  });

  it('refuses a one-second stability poll for a day: 86,401 polls cannot fit in 25,000 history events', () => {
    expect(() => assertCanFinish(release({}, { stabilization: { pollSeconds: 1, timeoutSeconds: 86_400 } }))).toThrow(
      /could write \d+ execution history events, more than the 25000/,
    );
    // Every 15 s for a day is 5,761 polls of 9 events each: still too many. Every 60 s fits.
    expect(() => assertCanFinish(release({}, { stabilization: { pollSeconds: 15, timeoutSeconds: 86_400 } }))).toThrow(/history events/);
    expect(() => assertCanFinish(release({}, { stabilization: { pollSeconds: 60, timeoutSeconds: 86_400 } }))).not.toThrow();
  });
});
