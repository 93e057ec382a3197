import type { z } from 'zod';
import { ReasonSchema, ReleaseIdSchema } from '../lambdas/api/http';
import { StrategySchema, type Strategy } from '../lambdas/shared/config';
import { ReleaseRequestSchema, type ReleaseRequest } from '../lambdas/shared/release';
import { computeSchedule } from '../lambdas/shared/schedule';
import type { CommandName, OptionValues } from './args';
import { usageError } from './errors';

/**
 * Option values to typed inputs, validated with the same schemas the API and the state machine
 * use, before any AWS call. Every error names the option (`--image`, not `image`) and exits 2.
 */

/** `--service`, required, validated like a release request's `service`. */
export function serviceOption(values: OptionValues, command: CommandName): string {
  const value = requiredString(values, 'service', command);
  return check(ReleaseRequestSchema.shape.service, value, 'service', command);
}

/** `--release-id`, optional, validated as an execution name. */
export function releaseIdOption(values: OptionValues, command: CommandName): string | undefined {
  const value = optionalString(values, 'release-id');
  return value === undefined ? undefined : check(ReleaseIdSchema, value, 'release-id', command);
}

/** `--reason`: required (`reject`) or optional (`start`, `abort`), never blank. */
export function reasonOption(values: OptionValues, command: CommandName, required: true): string;
export function reasonOption(values: OptionValues, command: CommandName, required: false): string | undefined;
export function reasonOption(values: OptionValues, command: CommandName, required: boolean): string | undefined {
  const value = required ? requiredString(values, 'reason', command) : optionalString(values, 'reason');
  return value === undefined ? undefined : check(ReasonSchema, value, 'reason', command);
}

/** An optional string option, as given. */
export function optionalString(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A required string option; missing is "missing --name". */
export function requiredString(values: OptionValues, name: string, command: CommandName): string {
  const value = optionalString(values, name);
  if (value === undefined) throw usageError(`missing --${name}`, command);
  return value;
}

/** A whole number option within `min..max`; `undefined` when not given. */
export function integerOption(values: OptionValues, name: string, command: CommandName, min: number, max: number): number | undefined {
  const value = optionalString(values, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw usageError(`invalid --${name} '${value}': use a whole number from ${min} to ${max}`, command);
  }
  return Number(value);
}

/**
 * `--strategy`: `canary:10,50,100`, `linear:25` or `blue-green`. Checked with the state
 * machine's own schedule rules (steps strictly increasing, at most 20 steps), so a bad strategy
 * fails here rather than in Plan.
 *
 * @example
 * parseStrategy('canary:10,50'); // { type: 'canary', steps: [10, 50] }
 */
export function parseStrategy(text: string): Strategy {
  const [type, args, ...extra] = text.trim().split(':');
  const hint = 'use canary:10,50,100, linear:25 or blue-green';
  const fail = (why: string) => usageError(`invalid --strategy '${text}': ${why}; ${hint}`, 'start');
  if (extra.length) throw fail('too many colons');
  const numbers = () => {
    if (!args) throw fail(`${type} needs its steps after a colon`);
    return args.split(',').map((part) => {
      if (!/^\d+$/.test(part.trim())) throw fail(`'${part}' is not a whole number`);
      return Number(part);
    });
  };
  let candidate: unknown;
  switch (type) {
    case 'canary':
      candidate = { type, steps: numbers() };
      break;
    case 'linear': {
      const parts = numbers();
      if (parts.length !== 1) throw fail('linear takes one step size');
      candidate = { type, stepPercent: parts[0] };
      break;
    }
    case 'blue-green':
      if (args !== undefined) throw fail('blue-green takes no steps');
      candidate = { type };
      break;
    default:
      throw fail(`unknown strategy '${type}'`);
  }
  const parsed = StrategySchema.safeParse(candidate);
  if (!parsed.success) throw fail(parsed.error.issues.map((i) => `${i.path.join('.') || type}: ${i.message}`).join('; '));
  try {
    computeSchedule(parsed.data);
  } catch (error) {
    throw fail((error as Error).message.replace(/\.$/, ''));
  }
  return parsed.data;
}

/** Request fields to the option that sets them, for error messages. */
const FLAG_OF: Record<string, string> = {
  service: '--service',
  image: '--image',
  strategy: '--strategy',
  bakeSeconds: '--bake-seconds',
  approvals: '--approve-before-traffic/--approve-before-promote',
  requestedBy: '--requested-by',
  reason: '--reason',
};

/**
 * The release request `start` sends as the execution input, validated with
 * {@link ReleaseRequestSchema}. Gates are only sent when asked for, so the service's defaults
 * apply otherwise.
 */
export function releaseRequestFrom(values: OptionValues, defaultRequestedBy: string): ReleaseRequest {
  const service = requiredString(values, 'service', 'start');
  const image = requiredString(values, 'image', 'start');
  const strategyText = optionalString(values, 'strategy');
  const approvals = {
    ...(values['approve-before-traffic'] ? { beforeTraffic: true } : {}),
    ...(values['approve-before-promote'] ? { beforePromote: true } : {}),
  };
  const request = {
    service,
    image,
    ...(strategyText !== undefined ? { strategy: parseStrategy(strategyText) } : {}),
    ...(values['bake-seconds'] !== undefined ? { bakeSeconds: integerOption(values, 'bake-seconds', 'start', 1, 86_400) } : {}),
    ...(Object.keys(approvals).length ? { approvals } : {}),
    requestedBy: optionalString(values, 'requested-by') ?? defaultRequestedBy,
    ...(values.reason !== undefined ? { reason: reasonOption(values, 'start', false) } : {}),
  };
  const parsed = ReleaseRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? '');
    const flag = FLAG_OF[field] ?? field;
    const given = (request as Record<string, unknown>)[field];
    throw usageError(`invalid ${flag}${typeof given === 'string' ? ` '${given}'` : ''}: ${issue.message}`, 'start');
  }
  return parsed.data;
}

function check<S extends z.ZodType>(schema: S, value: string, name: string, command: CommandName): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw usageError(`invalid --${name} '${value}': ${parsed.error.issues[0].message}`, command);
  return parsed.data;
}
