/**
 * What the release pipeline's EventBridge rules match, shared by the `ReleasePipeline` construct
 * and the local world (`local/world.ts`), so the local environment reacts to exactly the events
 * AWS delivers. Pure data, no CDK.
 */

/**
 * Execution statuses that invoke the cleanup handler. After ABORTED (StopExecution) and
 * TIMED_OUT no Catch of the state machine runs; FAILED is included because an execution can fail
 * with an error no Catch catches (`States.Runtime`, `States.DataLimitExceeded`) while it holds the
 * lock. Cleanup acts only when the lock is still held by that execution, so the FAILED events of
 * releases that rolled back themselves, or were refused, change nothing.
 */
export const CLEANUP_EXECUTION_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;
