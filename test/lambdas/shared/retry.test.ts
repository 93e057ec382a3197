import { ThrottledError, ValidationError } from '../../../lambdas/shared/errors';
import { isThrottlingError, withThrottlingRetry } from '../../../lambdas/shared/retry';
import { awsError } from '../../support/release-documents';

/** A call that fails with `errors` in turn, then returns 'ok'. */
function failing(...errors: unknown[]): jest.Mock<Promise<string>, []> {
  const call = jest.fn<Promise<string>, []>();
  for (const error of errors) call.mockRejectedValueOnce(error);
  return call.mockResolvedValue('ok');
}

/** Runs every setTimeout at once and records the delays asked for. */
function recordDelays(): number[] {
  const delays: number[] = [];
  jest.spyOn(global, 'setTimeout').mockImplementation(((callback: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    callback();
    return 0 as unknown as NodeJS.Timeout;
  }) as typeof setTimeout);
  return delays;
}

afterEach(() => jest.restoreAllMocks());

describe('isThrottlingError', () => {
  it.each([
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
  ])('recognises %s', (name) => {
    expect(isThrottlingError(awsError(name))).toBe(true);
  });

  it("recognises any error the SDK marks as throttling", () => {
    expect(isThrottlingError(Object.assign(awsError('SomethingNew'), { $retryable: { throttling: true } }))).toBe(true);
  });

  it.each<[string, unknown]>([
    ['an access error', awsError('AccessDeniedException')],
    ['a retryable error that is not throttling', Object.assign(awsError('InternalFailure'), { $retryable: { throttling: false } })],
    ['a business error of our own', new ValidationError('bad input')],
    ['an object that only looks like a throttling error', { name: 'ThrottlingException', message: 'Rate exceeded' }],
    ['a string', 'ThrottlingException'],
    ['undefined', undefined],
  ])('does not treat %s as throttling', (_case, error) => {
    expect(isThrottlingError(error)).toBe(false);
  });
});

describe('withThrottlingRetry', () => {
  it('returns the first result without retrying', async () => {
    const call = failing();

    await expect(withThrottlingRetry('GetParameter /x', call)).resolves.toBe('ok');
    expect(call).toHaveBeenCalledTimes(1);
  });

  it('retries throttling until the call succeeds', async () => {
    const call = failing(awsError('ThrottlingException', 'Rate exceeded'), awsError('TooManyRequestsException'));

    await expect(withThrottlingRetry('GetParameter /x', call, { baseDelayMs: 0 })).resolves.toBe('ok');
    expect(call).toHaveBeenCalledTimes(3);
  });

  it('gives up with a ThrottledError naming the call and the attempts, caused by the last throttle', async () => {
    const last = awsError('ThrottlingException', 'Rate exceeded (last)');
    const call = failing(awsError('ThrottlingException'), awsError('ThrottlingException'), last);

    const error = await withThrottlingRetry('UpdateRoute colorapp-route', call, { maxAttempts: 3, baseDelayMs: 0 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).name).toBe('ThrottledError');
    expect((error as ThrottledError).message).toBe('UpdateRoute colorapp-route was still throttled after 3 attempts');
    expect((error as ThrottledError).cause).toBe(last);
    expect(call).toHaveBeenCalledTimes(3);
  });

  it('makes six attempts by default', async () => {
    const call = jest.fn().mockRejectedValue(awsError('ThrottlingException'));

    await expect(withThrottlingRetry('DescribeServices apps/colorapp-blue', call, { baseDelayMs: 0 })).rejects.toThrow(
      'DescribeServices apps/colorapp-blue was still throttled after 6 attempts',
    );
    expect(call).toHaveBeenCalledTimes(6);
  });

  it.each<[string, Error]>([
    ['an AWS error that is not throttling', awsError('AccessDeniedException', 'not authorized')],
    ['a business error', new ValidationError('Weights must sum to 100')],
  ])('never retries %s: it is thrown at once, unchanged', async (_case, business) => {
    const call = failing(business);

    await expect(withThrottlingRetry('PutParameter /x', call)).rejects.toBe(business);
    expect(call).toHaveBeenCalledTimes(1);
  });

  it('stops at a business error that follows a throttle', async () => {
    const business = awsError('ParameterAlreadyExists');
    const call = failing(awsError('ThrottlingException'), business);

    await expect(withThrottlingRetry('PutParameter /x', call, { baseDelayMs: 0 })).rejects.toBe(business);
    expect(call).toHaveBeenCalledTimes(2);
  });

  it('backs off exponentially from baseDelayMs up to maxDelayMs, with full jitter', async () => {
    const delays = recordDelays();
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const call = jest.fn().mockRejectedValue(awsError('ThrottlingException'));

    await expect(withThrottlingRetry('x', call, { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500 })).rejects.toThrow(ThrottledError);

    // Half of each ceiling (100, 200, 400, 500, 500): no wait after the last attempt.
    expect(delays).toEqual([50, 100, 200, 250, 250]);
  });

  it('takes its base delay from RETRY_BASE_DELAY_MS when none is given', async () => {
    const delays = recordDelays();
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const previous = process.env.RETRY_BASE_DELAY_MS;
    process.env.RETRY_BASE_DELAY_MS = '40';
    try {
      await withThrottlingRetry('x', failing(awsError('Throttling'), awsError('Throttling')));
    } finally {
      process.env.RETRY_BASE_DELAY_MS = previous;
    }

    expect(delays).toEqual([20, 40]);
  });
});
