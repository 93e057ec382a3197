import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { createLogger } from '../shared/logger';
import { SsmDocuments } from '../shared/ssm-documents';
import { parseOrThrow } from '../shared/validation';
import { approveGate, gateClosedResponse, loadWaitingApproval } from './approvals';
import { appendReleaseKeys, callerOf, handleApiRequest, json, parseJsonBody, ReleaseIdSchema, serviceParameter } from './http';

export type { ApprovalOutput } from './approvals';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-approve-release');

/** `POST /releases/{service}/approve` body; may be empty. */
export const ApproveBodySchema = z.strictObject({
  /** The release the caller reviewed; if another one is waiting, nothing is approved (404). */
  releaseId: ReleaseIdSchema.optional(),
});

/**
 * `POST /releases/{service}/approve`: lets the waiting approval gate continue
 * (SendTaskSuccess with `{ approvedBy, at }`), then deletes the approval document.
 *
 * Answers 200 `{ releaseId, executionArn, gate, approvedBy, at }`; 404 when no approval is
 * waiting; 410 when the gate has stopped waiting (its stale document is deleted).
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const service = serviceParameter(event);
    appendReleaseKeys(logger, { service });
    const body = parseOrThrow(ApproveBodySchema, parseJsonBody(event, { optional: true }), 'approve request');
    const approval = await loadWaitingApproval(documents, service, body.releaseId);
    appendReleaseKeys(logger, { service, releaseId: approval.releaseId });

    const output = await approveGate(sfn, documents, service, approval, callerOf(event), logger);
    if (!output) return gateClosedResponse(approval, service);
    return json(200, {
      releaseId: approval.releaseId,
      executionArn: approval.executionArn,
      gate: approval.gate,
      ...output,
    });
  });
}
