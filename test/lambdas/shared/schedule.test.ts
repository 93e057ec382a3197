import type { Strategy } from '../../../lambdas/shared/config';
import { ValidationError } from '../../../lambdas/shared/errors';
import { computeSchedule, MAX_STEPS } from '../../../lambdas/shared/schedule';

describe('computeSchedule', () => {
  it.each<[string, Strategy, number[]]>([
    ['keeps canary steps that end at 100', { type: 'canary', steps: [10, 50, 100] }, [10, 50, 100]],
    ['adds a final 100 step to canary steps that stop short', { type: 'canary', steps: [10, 50] }, [10, 50, 100]],
    ['turns a single canary step of 1 into 1 then 100', { type: 'canary', steps: [1] }, [1, 100]],
    ['keeps a single canary step of 100', { type: 'canary', steps: [100] }, [100]],
    ['steps linearly and ends exactly at 100', { type: 'linear', stepPercent: 30 }, [30, 60, 90, 100]],
    ['does not repeat 100 when the linear step divides it', { type: 'linear', stepPercent: 25 }, [25, 50, 75, 100]],
    ['makes a short last linear step', { type: 'linear', stepPercent: 34 }, [34, 68, 100]],
    ['moves everything in one linear step of 100', { type: 'linear', stepPercent: 100 }, [100]],
    ['moves everything at once for blue/green', { type: 'blue-green' }, [100]],
    ['allows exactly MAX_STEPS linear steps', { type: 'linear', stepPercent: 5 }, Array.from({ length: 20 }, (_, i) => (i + 1) * 5)],
    [
      'allows MAX_STEPS canary steps once the final 100 is added',
      { type: 'canary', steps: Array.from({ length: 19 }, (_, i) => i + 1) },
      [...Array.from({ length: 19 }, (_, i) => i + 1), 100],
    ],
  ])('%s', (_case, strategy, expected) => {
    expect(computeSchedule(strategy)).toEqual(expected);
  });

  it.each<[string, Strategy, string]>([
    ['a canary step of 0', { type: 'canary', steps: [0, 50] }, 'Canary step 1 is 0; each step must be an integer from 1 to 100'],
    ['a canary step above 100', { type: 'canary', steps: [10, 101] }, 'Canary step 2 is 101; each step must be an integer from 1 to 100'],
    ['a fractional canary step', { type: 'canary', steps: [12.5] }, 'Canary step 1 is 12.5; each step must be an integer from 1 to 100'],
    [
      'a repeated canary step',
      { type: 'canary', steps: [10, 10, 100] },
      'Canary steps must increase strictly; step 2 (10) is not above step 1 (10)',
    ],
    [
      'a decreasing canary step',
      { type: 'canary', steps: [10, 50, 20] },
      'Canary steps must increase strictly; step 3 (20) is not above step 2 (50)',
    ],
    ['a linear step of 0', { type: 'linear', stepPercent: 0 }, 'Linear stepPercent is 0; it must be an integer from 1 to 100'],
    ['a linear step above 100', { type: 'linear', stepPercent: 101 }, 'Linear stepPercent is 101; it must be an integer from 1 to 100'],
    ['a fractional linear step', { type: 'linear', stepPercent: 2.5 }, 'Linear stepPercent is 2.5; it must be an integer from 1 to 100'],
    [
      'more than MAX_STEPS linear steps',
      { type: 'linear', stepPercent: 4 },
      'The strategy makes 25 steps; at most 20 are allowed. Use larger steps.',
    ],
    [
      'more than MAX_STEPS canary steps once the final 100 is added',
      { type: 'canary', steps: Array.from({ length: 20 }, (_, i) => i + 1) },
      'The strategy makes 21 steps; at most 20 are allowed. Use larger steps.',
    ],
    ['an unknown strategy type', { type: 'instant' } as unknown as Strategy, "Unknown strategy type 'instant'"],
  ])('is a ValidationError for %s', (_case, strategy, message) => {
    expect(() => computeSchedule(strategy)).toThrow(new ValidationError(message));
    expect(() => computeSchedule(strategy)).toThrow(ValidationError);
  });

  it('gives every linear step size either a strictly increasing schedule ending at 100 or a ValidationError', () => {
    for (let stepPercent = 1; stepPercent <= 100; stepPercent++) {
      const steps = Math.ceil(100 / stepPercent);
      if (steps > MAX_STEPS) {
        expect(() => computeSchedule({ type: 'linear', stepPercent })).toThrow(ValidationError);
        continue;
      }
      const schedule = computeSchedule({ type: 'linear', stepPercent });
      expect(schedule).toHaveLength(steps);
      expect(schedule[schedule.length - 1]).toBe(100);
      schedule.forEach((weight, i) => {
        expect(Number.isInteger(weight)).toBe(true);
        if (i > 0) expect(weight).toBeGreaterThan(schedule[i - 1]);
        if (i < schedule.length - 1) expect(weight).toBe((i + 1) * stepPercent);
      });
    }
  });

  it('returns a new array, so a caller changing the schedule cannot change the strategy', () => {
    const strategy: Strategy = { type: 'canary', steps: [10, 50, 100] };

    const schedule = computeSchedule(strategy);
    schedule.push(999);

    expect(strategy.steps).toEqual([10, 50, 100]);
  });
});
