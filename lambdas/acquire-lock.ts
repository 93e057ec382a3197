import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { LockDocument } from './shared/documents';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { PlannedReleaseSchema } from './shared/release';
import { parseOrThrow } from './shared/validation';

const lock = new ReleaseLock(new SSMClient({}), new SFNClient({}));
const logger = createLogger('acquire-lock');

const InputSchema = z.object({ release: PlannedReleaseSchema });

/**
 * Lock step: atomically creates `/ecs-release/<service>/lock`. A running release elsewhere is
 * `ReleaseInProgressError` (naming its execution); a lock left by a dead execution is
 * `StaleLockError`. Either way nothing is touched.
 */
export async function handler(event: unknown): Promise<LockDocument> {
  const { release } = parseOrThrow(InputSchema, event, 'AcquireLock input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const held = await lock.acquire(release);
    logger.info('Lock acquired', { executionArn: held.executionArn, acquiredAt: held.acquiredAt });
    return held;
  });
}
