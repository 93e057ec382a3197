/**
 * Reading CloudWatch request fields. Errors use CloudWatch's query-protocol codes
 * (`InvalidParameterValue`, `MissingParameter`, ...): CloudWatch is `awsQueryCompatible`, so the
 * SDK maps those codes to its exception classes (`InvalidParameterValueException`...) through the
 * `awsQueryError` trait, and the AWS CLI shows them as AWS does.
 */

import { AwsServiceError } from '../../contracts';

/** `InvalidParameterValue`. */
export function invalidValue(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

/** `MissingParameter`. */
export function missing(field: string): AwsServiceError {
  return new AwsServiceError('MissingParameter', `The parameter ${field} is required.`);
}

/** An optional string. */
export function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidValue(`The parameter ${field} must be a string.`);
  return value;
}

/** A required non-empty string. */
export function requiredString(input: Record<string, unknown>, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value === '') throw missing(field);
  return value;
}

/** An optional list of strings. */
export function optionalStringList(input: Record<string, unknown>, field: string): string[] | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw invalidValue(`The parameter ${field} must be a list of strings.`);
  }
  return value as string[];
}

/** An optional integer within `[min, max]`. */
export function optionalInteger(input: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidValue(`The parameter ${field} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/**
 * A timestamp: epoch seconds (what the SDK and the CLI send in awsJson1_0) or an ISO-8601
 * string. `undefined` when absent.
 */
export function optionalTimestamp(input: Record<string, unknown>, field: string): Date | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  const date =
    typeof value === 'number' ? new Date(Math.round(value * 1000)) : typeof value === 'string' ? new Date(/^-?\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw invalidValue(`The parameter ${field} must be a timestamp (epoch seconds or ISO 8601).`);
  }
  return date;
}

/** A required timestamp. */
export function requiredTimestamp(input: Record<string, unknown>, field: string): Date {
  const value = optionalTimestamp(input, field);
  if (value === undefined) throw missing(field);
  return value;
}

/** Opaque pagination token over JSON state. */
export function encodeToken(state: unknown): string {
  return Buffer.from(JSON.stringify(state)).toString('base64');
}

/** Reads a token made by {@link encodeToken}; `InvalidNextToken` when it is not one. */
export function decodeToken<T>(token: string, valid: (state: unknown) => state is T): T {
  try {
    const state: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (valid(state)) return state;
  } catch {
    // fall through: not one of ours
  }
  throw new AwsServiceError('InvalidNextToken', 'The service returned an error with Error Code InvalidNextToken: the token is invalid or expired.');
}
