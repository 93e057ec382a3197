import * as z from 'zod';
import { ValidationError } from './errors';

/**
 * Parses `value` with `schema`, or throws a {@link ValidationError} whose message names `what`
 * and every invalid field, so the user knows what to fix.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(`Invalid ${what}: ${formatIssues(result.error)}`);
  }
  return result.data;
}

/** One line per issue: `path: message`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
