import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { versionOf } from '../lambdas/shared/release';
import { causeMessage } from '../lambdas/shared/rollback';

/** The release state machine's Fail state for a release refused before anything was touched. */
const REJECTED_STATE = 'Rejected';

/**
 * A release that was refused before it touched anything (the lock was held, the digest was
 * already live, the request was invalid). The state document never records those, since the
 * release never held the lock; Step Functions does, for as long as it keeps the execution.
 */
export interface RejectedRelease {
  readonly id: string;
  readonly executionArn: string;
  /** From the execution's input; `null` when the input was not a release request. */
  readonly image: string | null;
  readonly version: string | null;
  readonly requestedBy: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly error: string;
  readonly cause: string;
}

/**
 * The newest refused releases among the state machine's last `limit` failed executions, newest
 * first. A failed execution counts when it ended in the `Rejected` state: its last two history
 * events (no data) say so, whatever the error is called (a rollback can fail with the same name).
 */
export async function recentRejections(sfn: SFNClient, stateMachineArn: string, limit: number): Promise<RejectedRelease[]> {
  const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'FAILED', maxResults: limit }));
  const rejected: RejectedRelease[] = [];
  for (const execution of executions) {
    if (!execution.executionArn || !(await endedInRejected(sfn, execution.executionArn))) continue;
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    const request = parseRequest(described.input);
    rejected.push({
      id: execution.name ?? execution.executionArn,
      executionArn: execution.executionArn,
      image: request.image,
      version: request.image ? versionOf(request.image) : null,
      requestedBy: request.requestedBy,
      startedAt: (described.startDate ?? execution.startDate)?.toISOString() ?? '-',
      finishedAt: (described.stopDate ?? execution.stopDate)?.toISOString() ?? '-',
      error: described.error ?? 'unknown',
      cause: causeMessage(described.cause),
    });
  }
  return rejected;
}

async function endedInRejected(sfn: SFNClient, executionArn: string): Promise<boolean> {
  const { events = [] } = await sfn.send(
    new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 2, includeExecutionData: false }),
  );
  // Newest first, a Fail state's execution ends FailStateEntered, ExecutionFailed.
  return events.some((event) => event.type === 'FailStateEntered' && event.stateEnteredEventDetails?.name === REJECTED_STATE);
}

function parseRequest(input: string | undefined): { image: string | null; requestedBy: string | null } {
  try {
    const request = JSON.parse(input ?? 'null') as { image?: unknown; requestedBy?: unknown } | null;
    return {
      image: typeof request?.image === 'string' ? request.image : null,
      requestedBy: typeof request?.requestedBy === 'string' ? request.requestedBy : null,
    };
  } catch {
    return { image: null, requestedBy: null };
  }
}
