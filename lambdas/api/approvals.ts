import type { Logger } from '@aws-lambda-powertools/logger';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ApprovalDocumentSchema, parameterNames, type ApprovalDocument } from '../shared/documents';
import { ResourceNotFoundError, type ApprovalRejectedError } from '../shared/errors';
import { withThrottlingRetry } from '../shared/retry';
import type { SsmDocuments } from '../shared/ssm-documents';
import { API_ERROR_CODES, errorJson } from './http';

/**
 * The approval gate as the approve and reject routes (and the `ecs-release approve|reject` CLI)
 * see it: the document a waiting gate writes at `/ecs-release/<service>/approval`, how to answer
 * its task token, and what to do when the token has gone stale.
 */

/** The logging the gate functions need; a Powertools `Logger` fits, and so does the CLI's. */
export type GateLogger = Pick<Logger, 'info' | 'warn'>;

/** What the approval gate's task receives as its output. */
export interface ApprovalOutput {
  readonly approvedBy: string;
  readonly at: string;
}

/** The error name the gate fails with; the state machine catches it and rolls back. */
const REJECTED: ApprovalRejectedError['name'] = 'ApprovalRejectedError';

/**
 * The approval document of a waiting gate. No document is a 404 "no approval is waiting"; so is a
 * document for another release than `expectedReleaseId`, so a caller who names the release they
 * reviewed never approves a different one that started waiting in the meantime.
 *
 * @param statusHint how to check the release status, for the "no approval is waiting" message.
 */
export async function loadWaitingApproval(
  documents: SsmDocuments,
  service: string,
  expectedReleaseId?: string,
  statusHint = `Check the release status with GET /releases/${service}.`,
): Promise<ApprovalDocument> {
  const approval = await documents.get(parameterNames(service).approval, ApprovalDocumentSchema);
  if (!approval) {
    throw new ResourceNotFoundError(`Service '${service}': no approval is waiting. ${statusHint}`);
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
  logger: GateLogger,
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

/**
 * Lets the waiting gate continue: SendTaskSuccess with `{ approvedBy, at }`, then deletes the
 * approval document. Returns the output sent, or `null` when the gate had stopped waiting (its
 * stale document is deleted too).
 */
export async function approveGate(
  sfn: SFNClient,
  documents: SsmDocuments,
  service: string,
  approval: ApprovalDocument,
  approvedBy: string,
  logger: GateLogger,
  now: Date = new Date(),
): Promise<ApprovalOutput | null> {
  const output: ApprovalOutput = { approvedBy, at: now.toISOString() };
  const answered = await answerGate(documents, service, approval, logger, () =>
    withThrottlingRetry(`SendTaskSuccess ${approval.releaseId}`, () =>
      sfn.send(new SendTaskSuccessCommand({ taskToken: approval.taskToken, output: JSON.stringify(output) })),
    ),
  );
  if (!answered) return null;
  logger.info('Release approved', { gate: approval.gate, approvedBy: output.approvedBy });
  await deleteApprovalIfUnchanged(documents, service, approval.taskToken, logger);
  return output;
}

/**
 * Fails the waiting gate with `ApprovalRejectedError` (SendTaskFailure, cause
 * `Rejected by <who>: <reason>`), which rolls the release back; then deletes the approval
 * document. Returns `false` when the gate had stopped waiting (its stale document is deleted too).
 */
export async function rejectGate(
  sfn: SFNClient,
  documents: SsmDocuments,
  service: string,
  approval: ApprovalDocument,
  rejection: { readonly rejectedBy: string; readonly reason: string },
  logger: GateLogger,
): Promise<boolean> {
  const { rejectedBy, reason } = rejection;
  const answered = await answerGate(documents, service, approval, logger, () =>
    withThrottlingRetry(`SendTaskFailure ${approval.releaseId}`, () =>
      sfn.send(
        new SendTaskFailureCommand({ taskToken: approval.taskToken, error: REJECTED, cause: `Rejected by ${rejectedBy}: ${reason}` }),
      ),
    ),
  );
  if (!answered) return false;
  logger.info('Release rejected', { gate: approval.gate, rejectedBy, reason });
  await deleteApprovalIfUnchanged(documents, service, approval.taskToken, logger);
  return true;
}

/** Sends the answer; a gate that stopped waiting has its stale document deleted and gives `false`. */
async function answerGate(
  documents: SsmDocuments,
  service: string,
  approval: ApprovalDocument,
  logger: GateLogger,
  send: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (!isClosedGateError(error)) throw error;
    logger.info('Approval gate no longer waiting', { gate: approval.gate, sfnError: (error as Error).name });
    await deleteApprovalIfUnchanged(documents, service, approval.taskToken, logger);
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
