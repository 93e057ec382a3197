import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { createLogger, withReleaseKeys } from './shared/logger';
import { CaughtErrorSchema, PlannedReleaseSchema, ProgressSchema } from './shared/release';
import { causeMessage, performRollback, rollbackRequestOf, type RollbackReport } from './shared/rollback';
import { parseOrThrow } from './shared/validation';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const logger = createLogger('rollback-release');

const InputSchema = z.object({ release: PlannedReleaseSchema, progress: ProgressSchema, error: CaughtErrorSchema });

/**
 * Rollback step, where every Catch of the state machine ends: traffic back to 100/0, idle
 * service reverted, release recorded as rolled back with the reason and the verdicts, lock
 * released. The state machine retries it; if it still fails, MarkRollbackFailed runs.
 */
export async function handler(event: unknown): Promise<RollbackReport> {
  const { release, progress, error } = parseOrThrow(InputSchema, event, 'Rollback input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    logger.warn('Rolling back', { error: error.Error, cause: causeMessage(error.Cause) });
    return performRollback(
      clients,
      rollbackRequestOf(release, progress.verdicts, error),
      logger,
    );
  });
}
