import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One logger per function, created at module scope by each handler. Keys for the release are
 * appended per invocation with {@link withReleaseKeys} and cleared afterwards, so a warm
 * container never logs the previous release's id.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

/**
 * Runs `fn` with `releaseId` and the released service appended to every log line, then clears
 * them. The key is `releaseService` because Powertools reserves `service` for the function's own name.
 */
export async function withReleaseKeys<T>(
  logger: Logger,
  keys: { releaseId?: string; service?: string },
  fn: () => Promise<T>,
): Promise<T> {
  logger.appendKeys({ releaseId: keys.releaseId, releaseService: keys.service });
  try {
    return await fn();
  } finally {
    logger.resetKeys();
  }
}
