import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { parameterNames, type ApprovalDocument } from './shared/documents';
import { createLogger, withReleaseKeys } from './shared/logger';
import { PlannedReleaseSchema } from './shared/release';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const docs = new SsmDocuments(new SSMClient({}));
const logger = createLogger('request-approval');

const InputSchema = z.object({
  taskToken: z.string().min(1),
  gate: z.enum(['before-traffic', 'before-promote']),
  release: PlannedReleaseSchema,
});

/**
 * Approval gate (a `.waitForTaskToken` task): stores the gate's task token at
 * `/ecs-release/<service>/approval`, where the approve/reject API and the CLI find it. The
 * task then waits: SendTaskSuccess continues, SendTaskFailure (`ApprovalRejectedError`) or the
 * gate's timeout rolls back.
 */
export async function handler(event: unknown): Promise<{ waitingFor: string; expiresAt: string }> {
  const { taskToken, gate, release } = parseOrThrow(InputSchema, event, 'RequestApproval input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const now = new Date();
    const document: ApprovalDocument = {
      service: release.service,
      releaseId: release.id,
      executionArn: release.executionArn,
      taskToken,
      gate,
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + release.config.approvalTimeoutSeconds * 1000).toISOString(),
    };
    await docs.put(parameterNames(release.service).approval, document, {
      overwrite: true,
      description: `Approval waiting for release ${release.id}`,
    });
    logger.info('Waiting for approval', { gate, expiresAt: document.expiresAt });
    return { waitingFor: gate, expiresAt: document.expiresAt };
  });
}
