import { SendTaskFailureCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import { ApprovalRejectedError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { withThrottlingRetry } from '../shared/retry';
import { SsmDocuments } from '../shared/ssm-documents';
import { parseOrThrow } from '../shared/validation';
import { deleteApprovalIfUnchanged, gateClosedResponse, isClosedGateError, loadWaitingApproval } from './approvals';
import { appendReleaseKeys, callerOf, handleApiRequest, json, parseJsonBody, ReleaseIdSchema, serviceParameter } from './http';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-reject-release');

/** The error name the gate fails with; the state machine catches it and rolls back. */
const REJECTED: ApprovalRejectedError['name'] = 'ApprovalRejectedError';

/** `POST /releases/{service}/reject` body. */
export const RejectBodySchema = z.strictObject({
  /** Why: recorded in the release history as the failure's cause. Required so a rollback is never unexplained. */
  reason: z.string().trim().min(1).max(1024),
  /** The release the caller reviewed; if another one is waiting, nothing is rejected (404). */
  releaseId: ReleaseIdSchema.optional(),
});

/**
 * `POST /releases/{service}/reject`: fails the waiting approval gate with `ApprovalRejectedError`
 * (SendTaskFailure, cause naming who and why), which rolls the release back; then deletes the
 * approval document.
 *
 * Answers 202 `{ releaseId, executionArn, gate, rejectedBy, reason }` (the rollback follows);
 * 400 without a reason; 404 when no approval is waiting; 410 when the gate has stopped waiting.
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const service = serviceParameter(event);
    appendReleaseKeys(logger, { service });
    const body = parseOrThrow(RejectBodySchema, parseJsonBody(event), 'reject request');
    const approval = await loadWaitingApproval(documents, service, body.releaseId);
    appendReleaseKeys(logger, { service, releaseId: approval.releaseId });

    const rejectedBy = callerOf(event);
    try {
      await withThrottlingRetry(`SendTaskFailure ${approval.releaseId}`, () =>
        sfn.send(
          new SendTaskFailureCommand({
            taskToken: approval.taskToken,
            error: REJECTED,
            cause: `Rejected by ${rejectedBy}: ${body.reason}`,
          }),
        ),
      );
    } catch (error) {
      if (!isClosedGateError(error)) throw error;
      logger.info('Approval gate no longer waiting', { gate: approval.gate, sfnError: (error as Error).name });
      await deleteApprovalIfUnchanged(documents, service, approval.taskToken, logger);
      return gateClosedResponse(approval, service);
    }
    logger.info('Release rejected', { gate: approval.gate, rejectedBy, reason: body.reason });
    await deleteApprovalIfUnchanged(documents, service, approval.taskToken, logger);
    return json(202, {
      releaseId: approval.releaseId,
      executionArn: approval.executionArn,
      gate: approval.gate,
      rejectedBy,
      reason: body.reason,
    });
  });
}
