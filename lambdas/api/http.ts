import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import {
  ConfigNotFoundError,
  ReleaseError,
  ReleaseInProgressError,
  ResourceNotFoundError,
  StaleLockError,
  ThrottledError,
  ValidationError,
} from '../shared/errors';
import { ReleaseRequestSchema } from '../shared/release';
import { parseOrThrow } from '../shared/validation';

/**
 * What every API handler shares: JSON responses, the mapping from catalogue errors to status
 * codes, body and path parsing, and who the IAM caller is. Handlers throw catalogue errors and
 * let {@link handleApiRequest} turn them into responses, so every route answers errors the same way.
 */

/**
 * Error codes only the API answers with. They describe HTTP situations (a gate that has closed,
 * an execution name already taken), not release failures, so no state machine routes on them
 * and they are not in the catalogue.
 */
export const API_ERROR_CODES = {
  /** The approval gate's task token is no longer valid (timed out, or the execution ended). */
  approvalGateClosed: 'ApprovalGateClosedError',
  /** Step Functions already has an execution with this release id. */
  executionAlreadyExists: 'ExecutionAlreadyExistsError',
  /** The release is already rolling back: aborting it would only interrupt the rollback. */
  rollbackInProgress: 'RollbackInProgressError',
  /** Anything unexpected; details are in the function's log, never in the response. */
  internal: 'InternalError',
} as const;

/** The body of every error response. */
export interface ErrorBody {
  /** A catalogue error name or one of {@link API_ERROR_CODES}. */
  readonly error: string;
  /** What went wrong and what to do next. */
  readonly message: string;
  readonly [detail: string]: unknown;
}

const JSON_HEADERS = {
  'Content-Type': 'application/json',
  // Release status changes from one second to the next; a cached answer would mislead.
  'Cache-Control': 'no-store',
} as const;

/** A JSON response with `statusCode`, plus any extra `headers` (e.g. `Location`). */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** An error response: `{ error, message, ...details }`. */
export function errorJson(statusCode: number, error: string, message: string, details: object = {}): APIGatewayProxyResult {
  return json(statusCode, { ...details, error, message } satisfies ErrorBody);
}

/**
 * The status code for a thrown value: ValidationError 400; ConfigNotFoundError and
 * ResourceNotFoundError 404; ReleaseInProgressError and StaleLockError 409; ThrottledError 503
 * (so clients know a retry may succeed); everything else 500.
 */
export function statusCodeFor(error: unknown): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof ConfigNotFoundError || error instanceof ResourceNotFoundError) return 404;
  if (error instanceof ReleaseInProgressError || error instanceof StaleLockError) return 409;
  if (error instanceof ThrottledError) return 503;
  return 500;
}

/**
 * Turns a thrown value into a response. Catalogue errors keep their name and message (they are
 * written for the user); a {@link ReleaseInProgressError} also carries the running release's id
 * and execution ARN. Anything else is a 500 whose body says only where to look: an SDK error's
 * message or a stack can name internal resources, so they go to the log, not to the caller.
 */
export function errorResponse(
  error: unknown,
  logger: Logger,
  requestId?: string,
  details: object = {},
): APIGatewayProxyResult {
  const statusCode = statusCodeFor(error);
  if (statusCode >= 500) logger.error('Request failed', { error: error as Error });
  else logger.info('Request refused', { statusCode, errorName: (error as Error).name, reason: (error as Error).message });

  if (error instanceof ReleaseInProgressError) {
    return errorJson(statusCode, error.name, error.message, {
      ...details,
      releaseId: error.holderReleaseId,
      executionArn: error.holderExecutionArn,
    });
  }
  if (error instanceof ReleaseError) return errorJson(statusCode, error.name, error.message, details);
  return errorJson(
    500,
    API_ERROR_CODES.internal,
    `Internal error${requestId ? ` (request ${requestId})` : ''}; the function's log has the details.`,
  );
}

/**
 * Runs one API request: injects the Lambda context, appends the route and caller to every log
 * line, and answers any thrown error with {@link errorResponse}. Keys are cleared afterwards so
 * a warm container never logs the previous caller.
 */
export async function handleApiRequest(
  logger: Logger,
  event: APIGatewayProxyEvent,
  context: Context | undefined,
  run: () => Promise<APIGatewayProxyResult>,
): Promise<APIGatewayProxyResult> {
  if (context) logger.addContext(context);
  const requestId = event.requestContext?.requestId;
  try {
    logger.appendKeys({ route: `${event.httpMethod} ${event.resource}`, caller: callerOf(event), apiRequestId: requestId });
    return await run();
  } catch (error) {
    return errorResponse(error, logger, requestId);
  } finally {
    logger.resetKeys();
  }
}

/**
 * Appends the released service and release id to every log line of this request, under the same
 * keys `withReleaseKeys` uses (`releaseService`, `releaseId`); {@link handleApiRequest} clears them.
 */
export function appendReleaseKeys(logger: Logger, keys: { service?: string; releaseId?: string }): void {
  logger.appendKeys({ releaseService: keys.service, releaseId: keys.releaseId });
}

/**
 * The IAM principal API Gateway authenticated (AWS_IAM authorization): its ARN, else its caller
 * id; `undefined` when the request carries no identity (only possible without IAM authorization).
 */
export function callerArn(event: APIGatewayProxyEvent): string | undefined {
  const identity = event.requestContext?.identity;
  return identity?.userArn ?? identity?.caller ?? identity?.user ?? undefined;
}

/** {@link callerArn}, or `'unknown'`: who is named as `approvedBy`, in reject and abort causes, and in logs. */
export function callerOf(event: APIGatewayProxyEvent): string {
  return callerArn(event) ?? 'unknown';
}

/**
 * The request body as JSON. A missing or empty body is `{}` when `optional`, else a
 * {@link ValidationError}; so is a body that is not JSON.
 */
export function parseJsonBody(event: APIGatewayProxyEvent, options: { optional?: boolean } = {}): unknown {
  const raw = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (raw === null || raw === undefined || raw.trim() === '') {
    if (options.optional) return {};
    throw new ValidationError('Invalid request body: it is empty; send a JSON object.');
  }
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new ValidationError(`Invalid request body: ${bytes} bytes, more than the ${MAX_BODY_BYTES} any request of this API needs.`);
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new ValidationError('Invalid request body: it is not valid JSON.', { cause: error });
  }
}

/**
 * The largest body any route accepts. The largest valid release request (every field at its
 * maximum length) is under 4 KB; refusing far larger bodies before parsing them keeps a caller
 * from making the function parse megabytes of JSON.
 */
export const MAX_BODY_BYTES = 16 * 1024;

/** Service names, as the release request allows them. */
const ServiceNameSchema = ReleaseRequestSchema.shape.service;

/**
 * Release ids as they appear in execution names: Step Functions allows at most 80 characters,
 * and only these characters keep CloudWatch logging of the execution working.
 */
export const ReleaseIdSchema = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only');

/** A human reason (reject, abort): trimmed, never empty, recorded in the release history. */
export const ReasonSchema = z.string().trim().min(1).max(1024);

/** The `{service}` path parameter, validated like a release request's `service`. */
export function serviceParameter(event: APIGatewayProxyEvent): string {
  return parseOrThrow(ServiceNameSchema, event.pathParameters?.service, 'path parameter service');
}

/** The `{releaseId}` path parameter, validated as an execution name. */
export function releaseIdParameter(event: APIGatewayProxyEvent): string {
  return parseOrThrow(ReleaseIdSchema, event.pathParameters?.releaseId, 'path parameter releaseId');
}

/**
 * An environment variable read at call time (so tests and a redeployed alias see the current
 * value). Missing means the function was deployed wrong: a 500, not the caller's fault.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the function is misconfigured.`);
  return value;
}
