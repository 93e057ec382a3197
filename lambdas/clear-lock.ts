import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { LockDocument } from './shared/documents';
import { ReleaseInProgressError, ValidationError } from './shared/errors';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { parseOrThrow } from './shared/validation';

const lock = new ReleaseLock(new SSMClient({}), new SFNClient({}));
const logger = createLogger('clear-lock');

const InputSchema = z.object({
  service: z.string().min(1),
  /** The execution the operator means to clear: guards against deleting a newer lock. */
  executionArn: z.string().min(1),
  operator: z.string().min(1),
  reason: z.string().min(1),
});

/**
 * Admin action: clears a stale lock after an operator has checked traffic and the idle service.
 * Refuses when the named execution is not the holder or is still running. Invoked by hand
 * (`aws lambda invoke` or the CLI), never automatically.
 */
export async function handler(event: unknown): Promise<{ cleared: LockDocument }> {
  const input = parseOrThrow(InputSchema, event, 'clear-lock input');
  return withReleaseKeys(logger, { service: input.service }, async () => {
    const held = await lock.read(input.service);
    if (!held) throw new ValidationError(`Service '${input.service}' has no lock to clear`);
    if (held.executionArn !== input.executionArn) {
      throw new ValidationError(
        `The lock of '${input.service}' is held by ${held.executionArn}, not ${input.executionArn}; nothing cleared`,
      );
    }
    const status = await lock.executionStatus(held.executionArn);
    if (status === 'RUNNING') {
      throw new ReleaseInProgressError(input.service, held.executionArn, held.releaseId);
    }
    await lock.release(input.service, held.executionArn);
    logger.warn('Stale lock cleared by an operator', { operator: input.operator, reason: input.reason, lock: held, status });
    return { cleared: held };
  });
}
