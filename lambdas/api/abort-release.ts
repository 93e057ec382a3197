import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { StaleLockError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { SsmDocuments } from '../shared/ssm-documents';
import { parseOrThrow } from '../shared/validation';
import { staleLockMessage } from './executions';
import {
  API_ERROR_CODES,
  appendReleaseKeys,
  callerOf,
  errorJson,
  errorResponse,
  handleApiRequest,
  json,
  parseJsonBody,
  ReasonSchema,
  ReleaseIdSchema,
  serviceParameter,
} from './http';
import { abortCause, findAbortTarget, stopRelease } from './release-abort';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-abort-release');

/** `POST /releases/{service}/abort` body; may be empty. */
export const AbortBodySchema = z.strictObject({
  /** The release the caller means; if another one holds the lock, nothing is stopped (404). */
  releaseId: ReleaseIdSchema.optional(),
  /** Why, appended to the abort cause. */
  reason: ReasonSchema.optional(),
});

/**
 * `POST /releases/{service}/abort`: stops the running release (StopExecution with
 * `ExecutionAbortedError`, cause `Aborted by <caller>`). The execution runs no Catch when stopped;
 * the cleanup handler, triggered by the ABORTED status event, rolls it back and releases the lock.
 *
 * Answers 202 `{ releaseId, executionArn }`; 404 when no release holds the lock; 409 when the
 * release is already rolling back (stopping it would only interrupt the rollback) or its lock is
 * stale (nothing runs to stop: the lock needs an operator).
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const service = serviceParameter(event);
    appendReleaseKeys(logger, { service });
    const body = parseOrThrow(AbortBodySchema, parseJsonBody(event, { optional: true }), 'abort request');
    const target = await findAbortTarget(documents, sfn, service, body.releaseId);
    const { holder } = target;
    const { lock } = holder;
    appendReleaseKeys(logger, { service, releaseId: lock.releaseId });
    const ids = { releaseId: lock.releaseId, executionArn: lock.executionArn };

    if (target.kind === 'stale') {
      return errorResponse(new StaleLockError(staleLockMessage(holder)), logger, event.requestContext?.requestId, {
        ...ids,
        executionStatus: holder.executionStatus,
        lockStatus: lock.status,
      });
    }
    if (target.kind === 'rolling-back') {
      logger.info('Abort refused: release already rolling back', { lockStatus: lock.status });
      return errorJson(
        409,
        API_ERROR_CODES.rollbackInProgress,
        `Release ${lock.releaseId} of '${service}' is already rolling back (lock status '${lock.status}'); ` +
          `stopping it now would interrupt the rollback. Follow it with GET /releases/${service}/${lock.releaseId}.`,
        { ...ids, lockStatus: lock.status },
      );
    }

    const cause = abortCause(callerOf(event), body.reason);
    await stopRelease(sfn, lock, cause);
    logger.info('Release aborted', { cause });
    return json(202, {
      ...ids,
      message: 'Stopping the execution; the cleanup handler rolls the release back and releases the lock.',
    });
  });
}
