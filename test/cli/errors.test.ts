import { CliError, errorLine, toCliError } from '../../cli/errors';
import {
  ConfigNotFoundError,
  ReleaseInProgressError,
  StateConflictError,
  ThrottledError,
  ValidationError,
} from '../../lambdas/shared/errors';

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, extra);
}

describe('toCliError', () => {
  it.each([
    ['a release in progress', new ReleaseInProgressError('colorapp', 'arn:x', 'colorapp-1'), 3, /^release in progress: colorapp-1/],
    ['a missing configuration', new ConfigNotFoundError('Service x has no configuration.'), 2, /^service not configured: /],
    ['invalid input', new ValidationError('Invalid release request: image: bad.'), 2, /^Invalid release request/],
    ['throttling', new ThrottledError('GetParameter was still throttled'), 4, /throttled/],
    ['an unreadable document', new StateConflictError('Parameter /ecs-release/x/state is not valid JSON'), 4, /not valid JSON/],
    ['a refused connection', named('Error', 'connect ECONNREFUSED 127.0.0.1:4566', { code: 'ECONNREFUSED' }), 4, /^cannot reach/],
    ['missing credentials', named('CredentialsProviderError', 'Could not load credentials from any providers'), 4, /^no AWS credentials/],
    ['a missing region', named('Error', 'Region is missing'), 2, /^no AWS region/],
    ['access denied', named('AccessDeniedException', 'not authorized to perform: states:StartExecution'), 4, /^access denied/],
    ['anything else', named('InternalServerError', 'boom'), 4, /^InternalServerError: boom$/],
  ])('maps %s to exit %d', (_what, error, exitCode, what) => {
    const cliError = toCliError(error, { service: 'colorapp', endpointUrl: 'http://127.0.0.1:4566' });

    expect(cliError.exitCode).toBe(exitCode);
    expect(cliError.what).toMatch(what);
    expect(cliError.todo.length).toBeGreaterThan(0);
  });

  it('prints one line: ecs-release: <what> — <what to do>', () => {
    expect(errorLine(new CliError('it broke', 'fix it', 4))).toBe('ecs-release: it broke — fix it');
  });

  it('points a refused local connection at the local environment', () => {
    const cliError = toCliError(named('Error', 'connect ECONNREFUSED 127.0.0.1:4566', { code: 'ECONNREFUSED' }), {
      endpointUrl: 'http://127.0.0.1:4566',
    });

    expect(cliError.todo).toBe('is the endpoint at http://127.0.0.1:4566 running (npm run local)? Check --endpoint-url');
  });
});
