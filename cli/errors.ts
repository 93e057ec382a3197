import {
  ConfigNotFoundError,
  ReleaseError,
  ReleaseInProgressError,
  ResourceNotFoundError,
  StaleLockError,
  StateConflictError,
  ThrottledError,
  ValidationError,
} from '../lambdas/shared/errors';

/**
 * How the CLI fails: every failure becomes one {@link CliError}, printed as one line
 * `ecs-release: <what> — <what to do>` with a documented exit code. Catalogue errors from the
 * shared release code and AWS SDK errors are translated here, in one place.
 */

/** Exit codes, as `ecs-release --help` documents them. */
export const EXIT = {
  /** The command did what was asked; with `start --wait`, the release was promoted. */
  ok: 0,
  /** `start --wait`: the release was rolled back or failed. */
  releaseFailed: 1,
  /** Bad usage or input, or the service is not configured: nothing was touched. */
  usage: 2,
  /** Refused by the service's current state: a release in progress, a stale lock, no waiting gate, nothing to abort. */
  refused: 3,
  /** AWS or the endpoint failed (credentials, permissions, network, throttling) or something unexpected. */
  aws: 4,
  /**
   * `start --wait`: the rollback failed, or the release ended with no rollback recorded yet.
   * Traffic or the idle service may be left half-way and the lock is kept: someone must look.
   * Distinct from {@link EXIT.releaseFailed} so a CI job can page instead of just going red.
   */
  needsOperator: 5,
  /** Interrupted (Ctrl-C) while waiting; the release itself goes on. */
  interrupted: 130,
} as const;

/** An exit code from {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports: what went wrong, what to do next, and the exit code. */
export class CliError extends Error {
  override readonly name = 'CliError' as const;
  constructor(
    /** What went wrong, in a few words plus the facts (names, ids). */
    readonly what: string,
    /** What the user can do next. */
    readonly todo: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(`${what} — ${todo}`, options);
  }
}

/** Bad command line or input: exit 2, pointing at the command's help. */
export function usageError(what: string, command?: string): CliError {
  return new CliError(what, `see 'ecs-release ${command ? `${command} ` : ''}--help'`, EXIT.usage);
}

/** The one line printed on stderr for a failure. */
export function errorLine(error: CliError): string {
  return `ecs-release: ${error.what} — ${error.todo}`;
}

/** Where the CLI talks to, so connection errors can name it. */
export interface ErrorContext {
  readonly service?: string;
  readonly endpointUrl?: string;
}

/**
 * Translates anything thrown into a {@link CliError}. Catalogue errors keep their message (it is
 * written for people and names the resource); SDK and network errors get the advice that usually
 * fixes them.
 */
export function toCliError(error: unknown, context: ErrorContext = {}): CliError {
  if (error instanceof CliError) return error;
  const statusHint = context.service ? `ecs-release status --service ${context.service}` : 'ecs-release status';
  if (error instanceof ReleaseInProgressError) {
    return new CliError(
      `release in progress: ${error.holderReleaseId} (execution ${error.holderExecutionArn})`,
      `wait for it to finish (${statusHint}) or stop it (ecs-release abort --service ${error.service}), then start again`,
      EXIT.refused,
      { cause: error },
    );
  }
  if (error instanceof ConfigNotFoundError) {
    return new CliError(
      `service not configured: ${stripPeriod(error.message)}`,
      'check --service, --region and --endpoint-url, or deploy the service with its ReleasePipeline construct',
      EXIT.usage,
      { cause: error },
    );
  }
  if (error instanceof ValidationError) {
    return new CliError(stripPeriod(error.message), 'correct it and run the command again', EXIT.usage, { cause: error });
  }
  if (error instanceof StaleLockError) {
    return new CliError('stale release lock', error.message, EXIT.refused, { cause: error });
  }
  if (error instanceof ResourceNotFoundError) {
    return new CliError(stripPeriod(error.message), `check the service with '${statusHint}'`, EXIT.refused, { cause: error });
  }
  if (error instanceof ThrottledError) {
    return new CliError(stripPeriod(error.message), 'AWS is throttling these calls; try again in a minute', EXIT.aws, { cause: error });
  }
  if (error instanceof StateConflictError) {
    return new CliError(
      stripPeriod(error.message),
      'a release document is unreadable; inspect it with the AWS CLI (ssm get-parameter) before changing anything',
      EXIT.aws,
      { cause: error },
    );
  }
  if (error instanceof ReleaseError) {
    return new CliError(`${error.name}: ${stripPeriod(error.message)}`, `check the service with '${statusHint}'`, EXIT.refused, { cause: error });
  }
  return awsError(error, context);
}

/** SDK, credential and network errors, by name or code. */
function awsError(error: unknown, context: ErrorContext): CliError {
  const err = error instanceof Error ? error : new Error(String(error));
  const code = (err as { code?: string }).code ?? '';
  const name = err.name;
  const where = context.endpointUrl ?? 'AWS';
  const what = `${name === 'Error' ? '' : `${name}: `}${stripPeriod(err.message || String(error))}`;

  if (['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'EAI_AGAIN', 'ETIMEDOUT'].includes(code) || name === 'TimeoutError') {
    const todo = context.endpointUrl
      ? `is the endpoint at ${context.endpointUrl} running (npm run local)? Check --endpoint-url`
      : 'check your network connection and --region';
    return new CliError(`cannot reach ${where}: ${what}`, todo, EXIT.aws, { cause: error });
  }
  if (name === 'CredentialsProviderError' || (/credential/i.test(err.message) && /could not load|missing/i.test(err.message))) {
    return new CliError(
      `no AWS credentials: ${what}`,
      context.endpointUrl
        ? 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values work for the local endpoint)'
        : 'configure credentials (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)',
      EXIT.aws,
      { cause: error },
    );
  }
  if (/region is missing/i.test(err.message)) {
    return new CliError('no AWS region', 'pass --region or set AWS_REGION', EXIT.usage, { cause: error });
  }
  if (['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId'].includes(name)) {
    return new CliError(`AWS refused the credentials: ${what}`, 'refresh or fix your AWS credentials', EXIT.aws, { cause: error });
  }
  if (['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation'].includes(name)) {
    return new CliError(
      `access denied: ${what}`,
      'use a role allowed to read /ecs-release/* parameters and to start, describe and stop the release state machine',
      EXIT.aws,
      { cause: error },
    );
  }
  return new CliError(what, 'run again with --debug for details', EXIT.aws, { cause: error });
}

function stripPeriod(message: string): string {
  return message.trim().replace(/\.$/, '');
}
