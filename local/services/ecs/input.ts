/**
 * Reading ECS request fields the way ECS validates them: a wrong type is an
 * `InvalidParameterException` naming the field, never a crash of the local service.
 */

import { AwsServiceError } from '../../contracts';

function invalid(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterException', message);
}

/** An optional string field. */
export function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string.`);
  return value;
}

/** A required, non-empty string field. */
export function requiredString(input: Record<string, unknown>, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value === '') throw invalid(`${field} can not be blank.`);
  return value;
}

/** An optional list of strings. */
export function optionalStringList(input: Record<string, unknown>, field: string): string[] | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw invalid(`${field} must be a list of strings.`);
  }
  return value as string[];
}

/** An optional integer within `[min, max]`. */
export function optionalInteger(input: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/** An optional boolean. */
export function optionalBoolean(input: Record<string, unknown>, field: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${field} must be a boolean.`);
  return value;
}

/** Opaque pagination token: the offset to continue from. */
export function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

/** Reads a token made by {@link encodeToken}. */
export function decodeToken(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown };
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through: not one of ours
  }
  throw invalid('Invalid nextToken.');
}
