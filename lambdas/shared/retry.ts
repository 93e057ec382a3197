import { ThrottledError } from './errors';

/** Error names AWS services use for throttling. */
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'LimitExceededException',
]);

/** True when `error` is an AWS throttling error (by name or by the SDK's retryable marker). */
export function isThrottlingError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (THROTTLING_NAMES.has(error.name)) return true;
  const retryable = (error as { $retryable?: { throttling?: boolean } }).$retryable;
  return retryable?.throttling === true;
}

/** Options for {@link withThrottlingRetry}. */
export interface RetryOptions {
  /** Attempts in all, including the first. @default 6 */
  readonly maxAttempts?: number;
  /** First backoff in ms; doubles each attempt, full jitter. @default env RETRY_BASE_DELAY_MS or 200 */
  readonly baseDelayMs?: number;
  /** Cap for one backoff in ms. @default 5000 */
  readonly maxDelayMs?: number;
}

/**
 * Runs `call`, retrying only on throttling with exponential backoff and full jitter. The SDK
 * retries too, but a burst of releases against one route can outlast its three attempts, and
 * our calls are idempotent, so a few more patient attempts are safe. Anything else is thrown
 * at once: a business error must not be retried into a different outcome.
 *
 * @example
 * await withThrottlingRetry('UpdateRoute colorapp-route', () => appmesh.send(new UpdateRouteCommand(input)));
 */
export async function withThrottlingRetry<T>(
  what: string,
  call: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 6;
  const baseDelayMs = options.baseDelayMs ?? Number(process.env.RETRY_BASE_DELAY_MS ?? 200);
  const maxDelayMs = options.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottlingError(error)) throw error;
      if (attempt >= maxAttempts) {
        throw new ThrottledError(`${what} was still throttled after ${attempt} attempts`, { cause: error });
      }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
