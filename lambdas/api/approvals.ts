import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ApprovalDocumentSchema, parameterNames, type ApprovalDocument } from '../shared/documents';
import { ResourceNotFoundError } from '../shared/errors';
import type { SsmDocuments } from '../shared/ssm-documents';
import { API_ERROR_CODES, errorJson } from './http';

/**
 * The approval gate as the approve and reject routes see it: the document a waiting gate writes
 * at `/ecs-release/<service>/approval`, and what to do when its task token has gone stale.
 */

/**
 * The approval document of a waiting gate. No document is a 404 "no approval is waiting"; so is a
 * document for another release than `expectedReleaseId`, so a caller who names the release they
 * reviewed never approves a different one that started waiting in the meantime.
 */
export async function loadWaitingApproval(
  documents: SsmDocuments,
  service: string,
  expectedReleaseId?: string,
): Promise<ApprovalDocument> {
  const approval = await documents.get(parameterNames(service).approval, ApprovalDocumentSchema);
  if (!approval) {
    throw new ResourceNotFoundError(
      `Service '${service}': no approval is waiting. Check the release status with GET /releases/${service}.`,
    );
  }
  if (expectedReleaseId !== undefined && approval.releaseId !== expectedReleaseId) {
    throw new ResourceNotFoundError(
      `Service '${service}': release ${expectedReleaseId} is not waiting for approval; release ${approval.releaseId} is ` +
        `(gate ${approval.gate}). Review that release before approving or rejecting it.`,
    );
  }
  return approval;
}

/** Step Functions' answers for a task token nobody waits on any more. */
const CLOSED_GATE_ERRORS = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** True when SendTaskSuccess/SendTaskFailure failed because the gate is no longer waiting. */
export function isClosedGateError(error: unknown): boolean {
  return error instanceof Error && CLOSED_GATE_ERRORS.has(error.name);
}

/**
 * Deletes the approval document if it still holds `taskToken`. Best effort: the token has
 * already been answered, so a failure here is logged and never turns that answer into an error.
 * The re-read keeps us from deleting the document of the next gate (the same release may reach
 * its before-promote gate moments later); SSM has no conditional delete, so a small window remains.
 */
export async function deleteApprovalIfUnchanged(
  documents: SsmDocuments,
  service: string,
  taskToken: string,
  logger: Logger,
): Promise<boolean> {
  const name = parameterNames(service).approval;
  try {
    const current = await documents.get(name, ApprovalDocumentSchema);
    if (current?.taskToken !== taskToken) {
      logger.info('Approval document changed since it was read; leaving it', { parameter: name });
      return false;
    }
    await documents.delete(name);
    return true;
  } catch (error) {
    logger.warn('Could not delete the approval document; it is stale and harmless, delete it by hand', {
      parameter: name,
      error: error as Error,
    });
    return false;
  }
}

/** 410: the gate timed out or its execution ended; the stale document has been cleared. */
export function gateClosedResponse(approval: ApprovalDocument, service: string): APIGatewayProxyResult {
  return errorJson(
    410,
    API_ERROR_CODES.approvalGateClosed,
    `The approval gate is no longer waiting: release ${approval.releaseId} (gate ${approval.gate}) timed out or ` +
      `its execution ended. Check its status with GET /releases/${service}/${approval.releaseId}.`,
    { releaseId: approval.releaseId, executionArn: approval.executionArn, gate: approval.gate },
  );
}
