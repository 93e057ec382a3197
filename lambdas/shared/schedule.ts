import type { Strategy } from './config';
import { ValidationError } from './errors';

/** Most steps a release may have: each step costs a shift, a bake and a health check. */
export const MAX_STEPS = 20;

/**
 * The idle colour's weight at each step of a strategy: strictly increasing integers ending at
 * 100. Canary steps that stop short of 100 get a final 100 step, because promotion always
 * follows a bake with all traffic on the new colour.
 *
 * @example
 * computeSchedule({ type: 'canary', steps: [10, 50] });   // [10, 50, 100]
 * computeSchedule({ type: 'linear', stepPercent: 30 });   // [30, 60, 90, 100]
 * computeSchedule({ type: 'blue-green' });                // [100]
 */
export function computeSchedule(strategy: Strategy): number[] {
  let schedule: number[];
  switch (strategy.type) {
    case 'canary': {
      const steps = strategy.steps;
      steps.forEach((weight, i) => {
        if (!Number.isInteger(weight) || weight < 1 || weight > 100) {
          throw new ValidationError(`Canary step ${i + 1} is ${weight}; each step must be an integer from 1 to 100`);
        }
        if (i > 0 && weight <= steps[i - 1]) {
          throw new ValidationError(
            `Canary steps must increase strictly; step ${i + 1} (${weight}) is not above step ${i} (${steps[i - 1]})`,
          );
        }
      });
      schedule = steps[steps.length - 1] === 100 ? [...steps] : [...steps, 100];
      break;
    }
    case 'linear': {
      const { stepPercent } = strategy;
      if (!Number.isInteger(stepPercent) || stepPercent < 1 || stepPercent > 100) {
        throw new ValidationError(`Linear stepPercent is ${stepPercent}; it must be an integer from 1 to 100`);
      }
      schedule = [];
      for (let weight = stepPercent; weight < 100; weight += stepPercent) schedule.push(weight);
      schedule.push(100);
      break;
    }
    case 'blue-green':
      schedule = [100];
      break;
    default: {
      const unknown: never = strategy;
      throw new ValidationError(`Unknown strategy type '${(unknown as { type: string }).type}'`);
    }
  }
  if (schedule.length > MAX_STEPS) {
    throw new ValidationError(
      `The strategy makes ${schedule.length} steps; at most ${MAX_STEPS} are allowed. Use larger steps.`,
    );
  }
  return schedule;
}
