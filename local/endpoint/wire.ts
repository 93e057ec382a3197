/**
 * Wire-format helpers shared by the endpoint and the services behind it: how values and errors
 * look on the wire in the AWS JSON protocols (awsJson1_0, awsJson1_1) and in REST JSON.
 *
 * Verified against the parsers that read them (SDK v3 `@aws-sdk/core` 3.981 / `@smithy/core`
 * 3.41, botocore 1.43):
 * - Timestamps are epoch seconds (JSON numbers, fractions allowed) in both protocols. The SDK's
 *   codecs default to epoch seconds (`timestampFormat.default: 7`) and App Mesh's timestamps
 *   carry no format trait; botocore's default timestamp parser takes numbers.
 * - A JSON-protocol error code is read from the body's `__type` first (SDK v3; botocore reads
 *   only `__type`), a REST JSON one from the `x-amzn-ErrorType` header first (both). Both
 *   strip anything after `:` and before `#`, so a bare code is the safest form.
 */

import { isDate } from 'node:util/types';
import { AwsServiceError } from '../contracts';

/**
 * Serialises a response body: `Date` values become epoch seconds with millisecond precision,
 * the form every AWS JSON protocol uses for timestamps without a format trait.
 *
 * @example
 * toWireJson({ LastModifiedDate: new Date('2025-01-01T00:00:00.250Z') }); // '{"LastModifiedDate":1735689600.25}'
 */
export function toWireJson(value: unknown): string {
  // JSON.stringify calls Date#toJSON before the replacer sees the value, so read the
  // original from the holder object instead of trusting `current`. `isDate` rather than
  // `instanceof Date`: a Date from another realm (structuredClone under jest, a vm) is a Date too.
  return JSON.stringify(value ?? {}, function (this: Record<string, unknown>, key: string, current: unknown) {
    const original = this[key];
    return isDate(original) ? original.getTime() / 1000 : current;
  });
}

/**
 * Reads a timestamp from a request body: epoch seconds (what the SDK and the CLI send in the
 * JSON protocols) or an ISO-8601 string. `undefined` when absent.
 *
 * @throws AwsServiceError `ValidationException` naming `field` when the value is not a timestamp.
 */
export function parseTimestamp(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const date = typeof value === 'number' ? new Date(Math.round(value * 1000)) : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new AwsServiceError('ValidationException', `${field} must be a timestamp in epoch seconds; got ${JSON.stringify(value)}`);
  }
  return date;
}

/** The parts of an error response: status, headers and body. */
export interface WireError {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Renders an AWS error for a JSON protocol: `{"__type", "message"}` plus `x-amzn-ErrorType`.
 * When the caller sent `x-amzn-query-mode: true` (query-compatible services such as
 * CloudWatch), adds `x-amzn-query-error: <code>;Sender|Receiver`, which both the SDK and
 * botocore read to recover the legacy query error code.
 */
export function jsonProtocolError(error: AwsServiceError, options: { contentType: string; queryMode: boolean }): WireError {
  const headers: Record<string, string> = {
    'content-type': options.contentType,
    'x-amzn-errortype': error.code,
  };
  if (options.queryMode) {
    headers['x-amzn-query-error'] = `${error.code};${error.statusCode >= 500 ? 'Receiver' : 'Sender'}`;
  }
  return { statusCode: error.statusCode, headers, body: JSON.stringify({ __type: error.code, message: error.message }) };
}

/** Renders an AWS error for REST JSON: the code in `x-amzn-ErrorType`, `{"message"}` as the body. */
export function restJsonError(error: AwsServiceError): WireError {
  return {
    statusCode: error.statusCode,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': error.code },
    body: JSON.stringify({ message: error.message }),
  };
}
