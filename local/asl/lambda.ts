/**
 * Lambda invoke semantics for handlers run in-process: what goes in and out is JSON (the
 * handler gets a copy, never the runner's object), and a thrown error reaches Step Functions the
 * way the Node.js runtime reports it: `Error` is the error type (the thrown error's `name`), and
 * `Cause` is the runtime's JSON error document `{"errorType","errorMessage","trace"}`, exactly
 * the string a Catch puts under `ResultPath` in AWS (`causeMessage` in lambdas/shared/rollback
 * reads the message back out of it).
 */

/** A Lambda handler as the release functions export it. */
export type LambdaHandler = (event: unknown) => Promise<unknown>;

/** Step Functions' limit on a state's input or output (256 KiB, UTF-8). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * A failed invocation, as Step Functions sees it: `name` is the Error a Retry or Catch matches,
 * `message` the Cause.
 */
export class LambdaFunctionError extends Error {
  constructor(
    /** The runtime's `errorType`: the thrown error's `name`. */
    readonly errorType: string,
    /** The runtime's `errorMessage`. */
    readonly errorMessage: string,
    trace: readonly string[] = [],
  ) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }

  /** The error document the Node.js runtime reports for `thrown`. */
  static of(thrown: unknown): LambdaFunctionError {
    if (thrown instanceof Error) {
      const trace = (thrown.stack ?? '').split('\n').filter((line) => line.length > 0);
      return new LambdaFunctionError(thrown.name || 'Error', thrown.message, trace);
    }
    return new LambdaFunctionError('Error', String(thrown));
  }
}

/**
 * An error the runner must neither retry nor catch (the runner reads `isRetryable` and
 * `isCatchable` off the error): the execution fails or ends with it, as Step Functions does for
 * `States.Runtime` and `States.DataLimitExceeded`, and as a stopped execution must.
 */
export class TerminalStateError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** `value` as it would cross the Lambda boundary: serialised and parsed again (`undefined` is `null`). */
export function throughJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/**
 * Invokes `handler` with a JSON copy of `payload` and returns a JSON copy of its result.
 * Throws {@link LambdaFunctionError} when the handler throws or returns something that is not
 * JSON, and a non-catchable `States.DataLimitExceeded` when the result exceeds 256 KiB.
 */
export async function invokeLambda(handler: LambdaHandler, payload: unknown): Promise<unknown> {
  let raw: unknown;
  try {
    raw = await handler(throughJson(payload));
  } catch (error) {
    throw LambdaFunctionError.of(error);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(raw);
  } catch (error) {
    throw new LambdaFunctionError('Runtime.MarshalError', `Unable to marshal response: ${(error as Error).message}`);
  }
  if (text !== undefined && Buffer.byteLength(text, 'utf8') > MAX_PAYLOAD_BYTES) {
    throw new TerminalStateError(
      'States.DataLimitExceeded',
      `The function result has ${Buffer.byteLength(text, 'utf8')} bytes, more than the ${MAX_PAYLOAD_BYTES} bytes a state may pass on.`,
    );
  }
  return text === undefined ? null : (JSON.parse(text) as unknown);
}
