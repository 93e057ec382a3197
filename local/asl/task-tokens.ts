/**
 * Task tokens for `.waitForTaskToken` tasks, with Step Functions' callback semantics: a token is
 * answered once (SendTaskSuccess or SendTaskFailure), and any call for a token whose task has
 * ended (answered, timed out, stopped with its execution) fails with `TaskTimedOut`.
 */
import { randomBytes } from 'node:crypto';
import { AwsServiceError } from '../contracts';

/** Who waits on a token. */
export interface TokenOwner {
  readonly executionArn: string;
  readonly stateName: string;
}

/** A failure sent with SendTaskFailure: `name` is the Error a Catch matches, `message` the Cause. */
export class TaskCallbackFailure extends Error {
  constructor(
    readonly error: string | undefined,
    readonly cause: string | undefined,
  ) {
    super(cause ?? '');
    // SendTaskFailure may omit the error; the task still fails and States.ALL still catches it.
    this.name = error ?? 'States.TaskFailed';
  }
}

interface OpenToken {
  readonly owner: TokenOwner;
  readonly resolve: (output: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** Recognisable local tokens, so a token this process never issued is `TaskDoesNotExist`, garbage `InvalidToken`. */
const TOKEN_PREFIX = 'AQlocal';
const TOKEN_SHAPE = /^AQlocal[A-Za-z0-9_-]{40,}$/;

/**
 * The tokens of every running `.waitForTaskToken` task.
 *
 * @example
 * const { token, outcome } = tokens.issue({ executionArn, stateName: 'ApproveTraffic' });
 * // ... the handler publishes `token`; later the approve API calls:
 * tokens.succeed(token, { approvedBy: 'alice' }); // `outcome` resolves with the output
 */
export class TaskTokenRegistry {
  private readonly open = new Map<string, OpenToken>();
  private readonly closed = new Set<string>();

  /** A fresh token and the outcome its task waits for (resolves with the output, rejects with the failure). */
  issue(owner: TokenOwner): { token: string; outcome: Promise<unknown> } {
    const token = `${TOKEN_PREFIX}${randomBytes(48).toString('base64url')}`;
    const outcome = new Promise<unknown>((resolve, reject) => this.open.set(token, { owner, resolve, reject }));
    // A task may stop waiting (timeout) before anyone answers; never an unhandled rejection.
    outcome.catch(() => undefined);
    return { token, outcome };
  }

  /** SendTaskSuccess: the task succeeds with `output`. */
  succeed(token: string, output: unknown): void {
    this.take(token).resolve(output);
  }

  /** SendTaskFailure: the task fails with `error` and `cause`. */
  fail(token: string, error: string | undefined, cause: string | undefined): void {
    this.take(token).reject(new TaskCallbackFailure(error, cause));
  }

  /** SendTaskHeartbeat: only checks that the task still waits (no `HeartbeatSeconds` in the release). */
  heartbeat(token: string): void {
    this.find(token);
  }

  /** True while `token`'s task waits. */
  isOpen(token: string): boolean {
    return this.open.has(token);
  }

  /** The owners of the tokens still waiting, for status views and tests. */
  waiting(): { token: string; owner: TokenOwner }[] {
    return [...this.open].map(([token, { owner }]) => ({ token, owner }));
  }

  /**
   * Ends the tasks whose owner matches: their outcome rejects with `reason` and their token is
   * closed (a late SendTaskSuccess gets `TaskTimedOut`). Returns how many were waiting.
   */
  cancel(matches: (owner: TokenOwner) => boolean, reason: Error): number {
    let count = 0;
    for (const [token, entry] of [...this.open]) {
      if (!matches(entry.owner)) continue;
      this.open.delete(token);
      this.closed.add(token);
      entry.reject(reason);
      count++;
    }
    return count;
  }

  /** Closes one token without settling its outcome (its task already ended some other way). */
  close(token: string): void {
    if (this.open.delete(token)) this.closed.add(token);
  }

  private take(token: string): OpenToken {
    const entry = this.find(token);
    this.open.delete(token);
    this.closed.add(token);
    return entry;
  }

  private find(token: string): OpenToken {
    const entry = this.open.get(token);
    if (entry) return entry;
    if (this.closed.has(token)) {
      throw new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    if (TOKEN_SHAPE.test(token)) {
      throw new AwsServiceError('TaskDoesNotExist', 'Task does not exist: the token was not issued by this local Step Functions');
    }
    throw new AwsServiceError('InvalidToken', "Invalid Token: 'Invalid token'");
  }
}
