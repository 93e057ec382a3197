import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { createLogger, withReleaseKeys } from './shared/logger';
import { CaughtErrorSchema, PlannedReleaseSchema, ProgressSchema } from './shared/release';
import { causeMessage, markRollbackFailed, rollbackRequestOf } from './shared/rollback';
import { parseOrThrow } from './shared/validation';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const logger = createLogger('mark-rollback-failed');

const InputSchema = z.object({
  release: PlannedReleaseSchema,
  progress: ProgressSchema,
  error: CaughtErrorSchema,
  rollbackError: CaughtErrorSchema,
});

/**
 * Runs when Rollback failed after its retries: records `rollback-failed` in the state and keeps
 * the lock with the reason, then the execution fails with `RollbackFailedError`.
 */
export async function handler(event: unknown): Promise<{ lockKept: boolean; stateRecorded: boolean }> {
  const { release, progress, error, rollbackError } = parseOrThrow(InputSchema, event, 'MarkRollbackFailed input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, () =>
    markRollbackFailed(
      clients,
      rollbackRequestOf(release, progress.verdicts, error),
      `${rollbackError.Error}: ${causeMessage(rollbackError.Cause)}`,
      logger,
    ),
  );
}
