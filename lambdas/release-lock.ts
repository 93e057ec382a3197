import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { BakeDocumentSchema, parameterNames } from './shared/documents';
import { StateConflictError } from './shared/errors';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { PlannedReleaseSchema } from './shared/release';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const ssm = new SSMClient({});
const docs = new SsmDocuments(ssm);
const lock = new ReleaseLock(ssm, new SFNClient({}));
const logger = createLogger('release-lock');

const InputSchema = z.object({ release: PlannedReleaseSchema });

/**
 * Unlock step: deletes the release's lock (and its finished bake document). Idempotent: a lock
 * already gone counts as released. A lock held by another execution is left alone and is an
 * error, because it means two releases believed they held the service.
 */
export async function handler(event: unknown): Promise<{ released: boolean }> {
  const { release } = parseOrThrow(InputSchema, event, 'ReleaseLock input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const names = parameterNames(release.service);
    const bake = await docs.get(names.bake, BakeDocumentSchema).catch(() => null);
    if (bake?.executionArn === release.executionArn) await docs.delete(names.bake);
    const outcome = await lock.release(release.service, release.executionArn);
    if (outcome === 'held-by-other') {
      throw new StateConflictError(`The lock of '${release.service}' is held by another execution; left it in place`);
    }
    logger.info('Lock released', { outcome });
    return { released: true };
  });
}
