import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { createLogger } from '../shared/logger';
import { SsmDocuments } from '../shared/ssm-documents';
import { parseOrThrow } from '../shared/validation';
import { gateClosedResponse, loadWaitingApproval, rejectGate } from './approvals';
import {
  appendReleaseKeys,
  callerOf,
  handleApiRequest,
  json,
  parseJsonBody,
  ReasonSchema,
  ReleaseIdSchema,
  serviceParameter,
} from './http';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-reject-release');

/** `POST /releases/{service}/reject` body. */
export const RejectBodySchema = z.strictObject({
  /** Why: recorded in the release history as the failure's cause. Required so a rollback is never unexplained. */
  reason: ReasonSchema,
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
    if (!(await rejectGate(sfn, documents, service, approval, { rejectedBy, reason: body.reason }, logger))) {
      return gateClosedResponse(approval, service);
    }
    return json(202, {
      releaseId: approval.releaseId,
      executionArn: approval.executionArn,
      gate: approval.gate,
      rejectedBy,
      reason: body.reason,
    });
  });
}
