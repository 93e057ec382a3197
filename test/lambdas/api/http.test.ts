import { Logger } from '@aws-lambda-powertools/logger';
import {
  callerOf,
  errorResponse,
  handleApiRequest,
  json,
  parseJsonBody,
  statusCodeFor,
} from '../../../lambdas/api/http';
import {
  ConfigNotFoundError,
  ReleaseInProgressError,
  ResourceNotFoundError,
  StaleLockError,
  StateConflictError,
  ThrottledError,
  ValidationError,
} from '../../../lambdas/shared/errors';
import { createLogger } from '../../../lambdas/shared/logger';
import { apiEvent, bodyOf, CALLER, EXECUTION_ARN, RELEASE_ID } from './fixtures';

const logger = createLogger('http-test');

describe('statusCodeFor', () => {
  it.each([
    ['ValidationError', 400, new ValidationError('bad')],
    ['ConfigNotFoundError', 404, new ConfigNotFoundError('none')],
    ['ResourceNotFoundError', 404, new ResourceNotFoundError('gone')],
    ['ReleaseInProgressError', 409, new ReleaseInProgressError('colorapp', EXECUTION_ARN, RELEASE_ID)],
    ['StaleLockError', 409, new StaleLockError('stale')],
    ['ThrottledError', 503, new ThrottledError('slow down')],
    ['StateConflictError', 500, new StateConflictError('corrupt')],
    ['a plain Error', 500, new Error('anything else')],
    ['a thrown string', 500, 'not even an error'],
  ])('maps %s to %i', (_name, status, error) => {
    expect(statusCodeFor(error)).toBe(status);
  });
});

describe('errorResponse', () => {
  it('answers a release in progress with the running release id and execution ARN', () => {
    const result = errorResponse(new ReleaseInProgressError('colorapp', EXECUTION_ARN, RELEASE_ID), logger);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toEqual({
      error: 'ReleaseInProgressError',
      message: expect.stringContaining(RELEASE_ID),
      releaseId: RELEASE_ID,
      executionArn: EXECUTION_ARN,
    });
  });

  it('keeps a catalogue error message, which is written for the user', () => {
    const result = errorResponse(new StateConflictError('Parameter /ecs-release/colorapp/state is not valid JSON'), logger);

    expect(bodyOf(result)).toEqual({ error: 'StateConflictError', message: 'Parameter /ecs-release/colorapp/state is not valid JSON' });
  });

  it('hides the message and stack of any other error and names the request id to search the logs for', () => {
    const error = new Error('secret internals at arn:aws:iam::1:role/x');

    const result = errorResponse(error, logger, 'req-42');

    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({ error: 'InternalError', message: expect.stringContaining('req-42') });
    expect(result.body).not.toContain('secret');
    expect(result.body).not.toContain(error.stack!.split('\n')[1].trim());
  });
});

describe('json', () => {
  it('sends JSON that no cache keeps, with any extra headers', () => {
    expect(json(202, { ok: true }, { Location: '/x' })).toEqual({
      statusCode: 202,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Location: '/x' },
      body: '{"ok":true}',
    });
  });
});

describe('parseJsonBody', () => {
  const post = (body: unknown) => apiEvent({ method: 'POST', resource: '/x', body });

  it('parses a JSON body', () => {
    expect(parseJsonBody(post({ a: 1 }))).toEqual({ a: 1 });
  });

  it('decodes a base64-encoded body', () => {
    const event = { ...post(Buffer.from('{"a":2}').toString('base64')), isBase64Encoded: true };
    expect(parseJsonBody(event)).toEqual({ a: 2 });
  });

  it('treats a missing body as {} when the body is optional', () => {
    expect(parseJsonBody(post(undefined), { optional: true })).toEqual({});
  });

  it.each([
    ['missing', undefined, /empty/],
    ['blank', '  ', /empty/],
    ['not JSON', '{', /not valid JSON/],
  ])('rejects a %s body with a ValidationError', (_case, body, message) => {
    expect(() => parseJsonBody(post(body))).toThrow(ValidationError);
    expect(() => parseJsonBody(post(body))).toThrow(message);
  });
});

describe('callerOf', () => {
  it('names the IAM principal API Gateway authenticated', () => {
    expect(callerOf(apiEvent({ method: 'GET', resource: '/x' }))).toBe(CALLER);
  });

  it('says unknown when the request has no identity', () => {
    expect(callerOf(apiEvent({ method: 'GET', resource: '/x', userArn: null }))).toBe('unknown');
  });
});

describe('handleApiRequest', () => {
  it('answers a thrown catalogue error with its status code', async () => {
    const result = await handleApiRequest(logger, apiEvent({ method: 'GET', resource: '/x' }), undefined, async () => {
      throw new ResourceNotFoundError('no such thing');
    });

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({ error: 'ResourceNotFoundError', message: 'no such thing' });
  });

  it('logs the caller during the request and clears it afterwards, so a warm container never logs the previous caller', async () => {
    const local = new Logger({ serviceName: 'keys-test', logLevel: 'INFO' });
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await handleApiRequest(local, apiEvent({ method: 'GET', resource: '/x' }), undefined, async () => {
        local.info('inside');
        return json(200, {});
      });
      local.info('after');
    } finally {
      write.mockRestore();
    }

    const [inside, after] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(inside).toMatchObject({ message: 'inside', caller: CALLER, route: 'GET /x', apiRequestId: 'api-request-1' });
    expect(after.message).toBe('after');
    expect(after).not.toHaveProperty('caller');
  });
});
