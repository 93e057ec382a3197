import { Logger } from '@aws-lambda-powertools/logger';
import { AwsCallFailedError, ReleaseError } from './errors';

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
 * them. An error that is not from the catalogue (a raw AWS error such as AccessDeniedException)
 * leaves as {@link AwsCallFailedError} with the original chained, so every error a step reports
 * to the state machine has a catalogue name. The key is `releaseService` because Powertools reserves `service` for the function's own name.
 */
export async function withReleaseKeys<T>(
  logger: Logger,
  keys: { releaseId?: string; service?: string },
  fn: () => Promise<T>,
): Promise<T> {
  logger.appendKeys({ releaseId: keys.releaseId, releaseService: keys.service });
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ReleaseError) throw error;
    const { name, message } = error instanceof Error ? error : { name: 'UnknownError', message: String(error) };
    logger.error('AWS call failed', { error: name, message });
    throw new AwsCallFailedError(`${name}: ${message}`, { cause: error });
  } finally {
    logger.resetKeys();
  }
}
