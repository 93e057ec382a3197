import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { createLogger } from '../shared/logger';
import { ReleaseRequestSchema, type ReleaseRequest } from '../shared/release';
import { computeSchedule } from '../shared/schedule';
import { ValidationError } from '../shared/errors';
import { parseOrThrow } from '../shared/validation';
import { newReleaseId } from './executions';
import {
  API_ERROR_CODES,
  appendReleaseKeys,
  callerArn,
  errorJson,
  errorResponse,
  handleApiRequest,
  json,
  parseJsonBody,
  requireEnv,
} from './http';
import { isExecutionAlreadyExists, lockRefusal, preCheckStart, startReleaseExecution } from './release-start';

const ssm = new SSMClient({});
const ecs = new ECSClient({});
const sfn = new SFNClient({});
const logger = createLogger('api-start-release');

/**
 * Strict on purpose: a misspelt optional field (`aprovals`) would otherwise be dropped silently
 * and the release would run without the gate the caller asked for.
 */
const StartReleaseBodySchema = z.strictObject(ReleaseRequestSchema.shape);

/**
 * `POST /releases/{service}` names the service in the path (so IAM can allow one service's route
 * and not another's): it fills the body's `service`, and a body that names another is refused.
 *
 * @throws ValidationError when the body names a service other than the path's.
 */
function withPathService(event: APIGatewayProxyEvent, body: unknown): unknown {
  const service = event.pathParameters?.service;
  if (service === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const named = (body as { service?: unknown }).service;
  if (named !== undefined && named !== service) {
    throw new ValidationError(
      `The body names service '${String(named)}' but the path is /releases/${service}: leave service out of the body, or POST to /releases/${String(named)}.`,
    );
  }
  return { ...body, service };
}

/** What `POST /releases` answers with (202). */
export interface StartReleaseResponse {
  readonly releaseId: string;
  readonly executionArn: string;
}

/**
 * `POST /releases` (the body names the service) and `POST /releases/{service}`: validates a
 * release request and starts the release state machine.
 *
 * Answers 400 naming the invalid field, 404 when the service has no configuration or one of its
 * ECS services is missing, 409 when a release of the service is running (with its id) or its
 * lock is stale (with how to clear it), else 202 `{ releaseId, executionArn }`.
 *
 * The lock check here is only a faster, clearer answer: the state machine's own lock step
 * (an atomic create-if-absent) is what actually keeps two releases apart.
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const stateMachineArn = requireEnv('STATE_MACHINE_ARN');
    const request = parseOrThrow(StartReleaseBodySchema, withPathService(event, parseJsonBody(event)), 'release request');
    // A strategy the schedule cannot be computed from would only be rejected by Plan: say so now.
    if (request.strategy) computeSchedule(request.strategy);
    const { service } = request;
    appendReleaseKeys(logger, { service });

    // The same loader Plan uses, so the API refuses exactly the configurations the release would.
    const { config, holder } = await preCheckStart({ ssm, ecs, sfn }, service);
    if (holder) {
      const { lock } = holder;
      logger.info('Service is locked', {
        holderReleaseId: lock.releaseId,
        lockStatus: lock.status,
        executionStatus: holder.executionStatus,
      });
      const refusal = lockRefusal(holder);
      if (holder.active) throw refusal;
      return errorResponse(refusal, logger, event.requestContext?.requestId, {
        releaseId: lock.releaseId,
        executionArn: lock.executionArn,
        executionStatus: holder.executionStatus,
        lockStatus: lock.status,
      });
    }

    const releaseId = newReleaseId(service);
    appendReleaseKeys(logger, { service, releaseId });
    const input: ReleaseRequest = { ...request, requestedBy: request.requestedBy ?? callerArn(event) };
    try {
      const executionArn = await startReleaseExecution(sfn, stateMachineArn, releaseId, input);
      logger.info('Release started', {
        executionArn,
        image: request.image,
        strategy: request.strategy?.type ?? `default (${config.defaultStrategy.type})`,
        requestedBy: input.requestedBy,
      });
      const body: StartReleaseResponse = { releaseId, executionArn };
      return json(202, body, { Location: `/releases/${service}/${releaseId}` });
    } catch (error) {
      if (!isExecutionAlreadyExists(error)) throw error;
      logger.warn('Execution name already taken', { error: (error as Error).message });
      return errorJson(
        409,
        API_ERROR_CODES.executionAlreadyExists,
        `An execution named ${releaseId} already exists; nothing was started. Send the request again for a new release id.`,
        { releaseId },
      );
    }
  });
}
