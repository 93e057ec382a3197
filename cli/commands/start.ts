import { DescribeExecutionCommand, GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { newReleaseId } from '../../lambdas/api/executions';
import { isExecutionAlreadyExists, lockRefusal, preCheckStart, startReleaseExecution } from '../../lambdas/api/release-start';
import { ReleaseInProgressError, ResourceNotFoundError, StaleLockError } from '../../lambdas/shared/errors';
import type { ReleaseRequest } from '../../lambdas/shared/release';
import type { CommandContext } from '../context';
import { CliError, EXIT } from '../errors';
import { formatStrategy, jsonText } from '../format';
import { ProgressRenderer } from '../progress';
import { exitCodeOf, summaryLines, watchRelease, type WatchResult } from '../watch';

/** What `ecs-release start` was asked to do. */
export interface StartOptions {
  readonly request: ReleaseRequest;
  /** Overrides the config's `releaseStateMachineArn`. */
  readonly stateMachineArn?: string;
  /** Follow the release to its end. */
  readonly wait: boolean;
}

/**
 * `ecs-release start`: the same pre-checks as `POST /releases` (configuration, both ECS services,
 * the lock), then StartExecution named with a new release id. Prints the release id; with
 * `wait`, follows the release and returns 0 when promoted, 1 otherwise.
 */
export async function start(ctx: CommandContext, options: StartOptions): Promise<number> {
  const { request } = options;
  const { service } = request;

  let preCheck;
  try {
    preCheck = await preCheckStart(ctx.clients, service);
  } catch (error) {
    // A missing ECS service or cluster is the configuration's problem, not a state to wait out.
    if (error instanceof ResourceNotFoundError) {
      throw new CliError(
        error.message.replace(/\.?\s*Check the service configuration\.?$/, ''),
        `fix ecsServices/cluster in /ecs-release/${service}/config, or create the missing ECS service`,
        EXIT.usage,
        { cause: error },
      );
    }
    throw error;
  }
  const { config, holder } = preCheck;

  const stateMachineArn = options.stateMachineArn ?? config.releaseStateMachineArn;
  if (!stateMachineArn) {
    throw new CliError(
      `no release state machine is known for '${service}' (its config has no releaseStateMachineArn)`,
      'pass --state-machine-arn ARN, or redeploy the ReleasePipeline construct so the config names it',
      EXIT.usage,
    );
  }
  if (holder) throw lockRefusal(holder);

  const releaseId = newReleaseId(service, ctx.now());
  let executionArn: string;
  try {
    executionArn = await startReleaseExecution(ctx.clients.sfn, stateMachineArn, releaseId, request);
  } catch (error) {
    if (!isExecutionAlreadyExists(error)) throw error;
    throw new CliError(
      `an execution named ${releaseId} already exists; nothing was started`,
      'run the command again for a new release id',
      EXIT.refused,
      { cause: error },
    );
  }

  const strategy = request.strategy ?? config.defaultStrategy;
  if (!options.wait) {
    // Without --wait, still wait for the lock step's answer: a start that loses the lock to a
    // concurrent one must not print a release id and exit 0.
    const admitted = await awaitLock(ctx, service, executionArn);
    if (ctx.output === 'json') {
      ctx.io.out(jsonText({ service, releaseId, executionArn, stateMachineArn, image: request.image, strategy, lock: admitted }));
      return EXIT.ok;
    }
  }
  if (ctx.output === 'text') ctx.io.out(releaseId);
  ctx.io.err(
    `Started release ${releaseId} of ${service}: ${request.image}, ${formatStrategy(strategy)}` +
      `${request.strategy ? '' : ' (service default)'}.`,
  );
  if (!options.wait) {
    ctx.io.err(`Follow it with: ecs-release status --service ${service} --release-id ${releaseId}`);
    return EXIT.ok;
  }

  const progress = new ProgressRenderer(ctx.io);
  let result;
  try {
    result = await watchRelease(ctx, { service, releaseId, executionArn }, (view) => progress.update(view));
  } finally {
    progress.finish();
  }
  const refusal = lockRefusalOf(result);
  if (refusal) throw refusal;
  if (ctx.output === 'json') ctx.io.out(jsonText(result));
  else for (const line of summaryLines(result)) ctx.io.out(line);
  return exitCodeOf(result);
}

/** How long `start` (without --wait) waits for the lock step to answer. */
const LOCK_ANSWER_TIMEOUT_MS = 20_000;

/**
 * Follows a new execution until its AcquireLock step has answered: `acquired` once it moved past
 * it, a refusal thrown as exit 3 when the lock step refused, `unconfirmed` when it has not
 * answered within {@link LOCK_ANSWER_TIMEOUT_MS} (the release may still run; status tells).
 */
async function awaitLock(ctx: CommandContext, service: string, executionArn: string): Promise<'acquired' | 'unconfirmed'> {
  const deadline = ctx.now().getTime() + LOCK_ANSWER_TIMEOUT_MS;
  for (;;) {
    const execution = await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      const refusal = lockRefusalOf({
        service,
        record: null,
        executionStatus: execution.status ?? 'UNKNOWN',
        error: execution.error ?? null,
        cause: execution.cause ?? null,
      });
      if (refusal) throw refusal;
      return 'acquired';
    }
    const history = await ctx.clients.sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 50 }));
    const pastLock = (history.events ?? []).some(
      (e) => e.stateExitedEventDetails?.name === 'AcquireLock' || e.stateEnteredEventDetails?.name === 'LoadState',
    );
    if (pastLock) return 'acquired';
    if (ctx.now().getTime() >= deadline) {
      ctx.io.err('The lock step has not answered yet; check with ecs-release status.');
      return 'unconfirmed';
    }
    await ctx.sleep(Math.min(ctx.pollIntervalMs, 500), ctx.signal);
  }
}

/**
 * The pre-check is only courtesy: two starts can both pass it, and then the state machine's own
 * lock step refuses the second one before touching anything. Reported like the pre-check's
 * refusal (exit 3), not as a failed release.
 */
function lockRefusalOf(
  result: Pick<WatchResult, 'service' | 'record' | 'executionStatus' | 'error' | 'cause'>,
): ReleaseInProgressError | StaleLockError | null {
  if (result.record || result.executionStatus !== 'FAILED') return null;
  if (result.error === 'ReleaseInProgressError') {
    const holder = result.cause?.match(/already being released by (\S+) \(execution (\S+)\)/);
    if (holder) return new ReleaseInProgressError(result.service, holder[2], holder[1]);
  }
  if (result.error === 'StaleLockError' && result.cause) return new StaleLockError(result.cause);
  return null;
}
