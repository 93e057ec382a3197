import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { approveGate, rejectGate } from './api/approvals';
import { describeExecutionOrNull, executionArnFor } from './api/executions';
import {
  closeConsoleApproval,
  decideConsoleSync,
  type Gate,
  gatesAnsweredInHistory,
  readReleaseStage,
  type SyncDecision,
} from './shared/console-approvals';
import { ApprovalDocumentSchema, parameterNames } from './shared/documents';
import { ValidationError } from './shared/errors';
import { createLogger, withReleaseKeys } from './shared/logger';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const codepipeline = new CodePipelineClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(new SSMClient({}));
const logger = createLogger('sync-console-approvals');

/**
 * "CodePipeline Action Execution State Change" of a gate's manual approval, as AWS documents
 * it ("Monitoring CodePipeline events"): only what the sync reads is required.
 */
export const ActionStateChangeSchema = z.object({
  source: z.literal('aws.codepipeline'),
  'detail-type': z.literal('CodePipeline Action Execution State Change'),
  detail: z.object({
    pipeline: z.string(),
    'execution-id': z.string(),
    stage: z.string(),
    action: z.string(),
    state: z.string(),
    type: z.object({ category: z.string(), provider: z.string() }).loose(),
  }).loose(),
}).loose();

/** Any of the events that start a sync: what it acts on is read afresh, never taken from the event. */
const TriggerSchema = z.union([
  ActionStateChangeSchema,
  z.object({ source: z.literal('aws.ssm'), 'detail-type': z.literal('Parameter Store Change'), detail: z.object({ name: z.string(), operation: z.string() }).loose() }).loose(),
  z.object({ source: z.literal('aws.states'), 'detail-type': z.literal('Step Functions Execution Status Change'), detail: z.object({ name: z.string(), status: z.string() }).loose() }).loose(),
]);

/** What one sync did for each gate. */
export interface SyncResult {
  readonly releaseId: string | null;
  readonly decisions: ReadonlyArray<SyncDecision & { readonly outcome?: string }>;
}

/**
 * Keeps the pipeline's console approvals and the release's gates in step, from whatever
 * changed: a console approval answered, a gate opened or answered (the approval document), or
 * the release ended. Each run reads the pipeline's state, the release and the approval document
 * again and applies {@link decideConsoleSync}, so events that arrive late, twice or out of order
 * change nothing twice: answering a gate goes through `approveGate`/`rejectGate`, the same code
 * as `ecs-release approve|reject` and the API, and closing a console approval that someone
 * answered meanwhile is "already answered", not an error.
 *
 * @throws ValidationError on an event it was not subscribed to, or missing configuration.
 */
export async function handler(event: unknown): Promise<SyncResult> {
  const trigger = parseOrThrow(TriggerSchema, event, 'sync-console-approvals event');
  const service = requiredEnv('SERVICE_NAME');
  const pipelineName = requiredEnv('PIPELINE_NAME');
  const stateMachineArn = requiredEnv('STATE_MACHINE_ARN');
  const gates = requiredEnv('CONSOLE_GATES').split(',').filter((g): g is Gate => g === 'before-traffic' || g === 'before-promote');
  logger.info('Syncing console approvals', { trigger: { source: trigger.source, detailType: trigger['detail-type'] }, pipelineName, gates });

  const stage = await readReleaseStage(codepipeline, pipelineName, gates);
  if (!stage?.releaseId) {
    logger.info('The pipeline has not started a release yet; nothing to sync', { pipelineName });
    return { releaseId: null, decisions: [] };
  }
  const releaseId = stage.releaseId;
  return withReleaseKeys(logger, { releaseId, service }, async () => {
    const executionArn = executionArnFor(stateMachineArn, releaseId);
    const execution = await describeExecutionOrNull(sfn, executionArn);
    const approval = await documents.get(parameterNames(service).approval, ApprovalDocumentSchema);
    const waiting = approval?.releaseId === releaseId ? approval : null;
    const status = execution?.status ?? null;
    // The history is only needed to tell "answered by the CLI" from "not reached yet".
    const someWaitInConsole = stage.gates.some((g) => g.status === 'InProgress');
    const answered = status === 'RUNNING' && someWaitInConsole ? await gatesAnsweredInHistory(sfn, executionArn) : {};
    const decisions = decideConsoleSync(stage, {
      releaseId,
      status,
      error: execution?.error ?? null,
      cause: execution?.cause ?? null,
      waitingGate: waiting?.gate ?? null,
      answered,
    });
    const done: Array<SyncDecision & { outcome?: string }> = [];
    for (const decision of decisions) {
      logger.info('Console approval decision', { ...decision });
      switch (decision.kind) {
        case 'answer-gate': {
          if (!waiting) throw new ValidationError(`Release ${releaseId}: no approval document to answer for ${decision.gate}`);
          const answeredGate =
            decision.answer === 'approve'
              ? (await approveGate(sfn, documents, service, waiting, decision.by, logger)) !== null
              : await rejectGate(sfn, documents, service, waiting, { rejectedBy: decision.by, reason: decision.reason }, logger);
          done.push({ ...decision, outcome: answeredGate ? 'gate-answered' : 'gate-no-longer-waiting' });
          break;
        }
        case 'close-console': {
          const gate = stage.gates.find((g) => g.gate === decision.gate)!;
          done.push({ ...decision, outcome: await closeConsoleApproval(codepipeline, pipelineName, gate, decision.status, decision.summary) });
          break;
        }
        case 'none':
          done.push(decision);
          break;
        default: {
          const unknown: never = decision;
          throw new ValidationError(`Unknown console sync decision ${JSON.stringify(unknown)}`);
        }
      }
    }
    logger.info('Console approvals synced', { decisions: done });
    return { releaseId, decisions: done };
  });
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new ValidationError(`Environment variable ${name} is not set; the function is misconfigured (ReleasePipeline sets it).`);
  return value;
}
