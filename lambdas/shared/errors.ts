/**
 * The error catalogue: every error a handler throws on purpose, and every name the state machine
 * routes on. Each class has a literal `name` so it survives minification (bundled with keepNames
 * too) and so Step Functions can match it in `ErrorEquals`. A test checks that every name in the
 * ASL exists here.
 */

/** Base for all catalogue errors. `name` is a string literal in every subclass. */
export abstract class ReleaseError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Input or configuration is invalid. Nothing was touched. */
export class ValidationError extends ReleaseError {
  override readonly name = 'ValidationError' as const;
}

/** The service has no configuration parameter. Nothing was touched. */
export class ConfigNotFoundError extends ReleaseError {
  override readonly name = 'ConfigNotFoundError' as const;
}

/**
 * An image trigger (an ECR push, the CodePipeline) asked to release the image digest that is
 * already live: pushing one digest under two tags releases it once. Nothing was touched.
 */
export class AlreadyReleasedError extends ReleaseError {
  override readonly name = 'AlreadyReleasedError' as const;
}

/** Another release of the service holds the lock and is still running. Nothing was touched. */
export class ReleaseInProgressError extends ReleaseError {
  override readonly name = 'ReleaseInProgressError' as const;
  constructor(
    readonly service: string,
    readonly holderExecutionArn: string,
    readonly holderReleaseId: string,
  ) {
    super(
      `Service '${service}' is already being released by ${holderReleaseId} (execution ${holderExecutionArn}). ` +
        'Wait for it to finish, or abort it, then start again.',
    );
  }
}

/**
 * The lock is held by an execution that is no longer running (or whose last rollback failed).
 * It is never taken over silently: an operator must inspect and clear it.
 */
export class StaleLockError extends ReleaseError {
  override readonly name = 'StaleLockError' as const;
}

/** The route is not as a release left it: weights not 100/0 to the live colour, or targets outside the two colours. */
export class RouteDriftError extends ReleaseError {
  override readonly name = 'RouteDriftError' as const;
}

/**
 * A colour's load-balancer target group has no healthy target, so traffic sent to it would fail:
 * the release refuses to move any weight onto it. Never raised by a rollback.
 */
export class NoHealthyTargetsError extends ReleaseError {
  override readonly name = 'NoHealthyTargetsError' as const;
}

/** The live service is not steady (deployment in progress, tasks missing). */
export class ServiceNotSteadyError extends ReleaseError {
  override readonly name = 'ServiceNotSteadyError' as const;
}

/**
 * A configured ECS service is deployed by something other than ECS's rolling update: a
 * CODE_DEPLOY or EXTERNAL deployment controller owns its revisions and traffic, so UpdateService
 * cannot set its revision and two tools would fight over it.
 */
export class UnsupportedServiceError extends ReleaseError {
  override readonly name = 'UnsupportedServiceError' as const;
}

/** The release state document disagrees with what is running, or was changed during the release. */
export class StateConflictError extends ReleaseError {
  override readonly name = 'StateConflictError' as const;
}

/**
 * A resource the release needs does not exist: an ECS cluster or service, an App Mesh route, a
 * load balancer listener, rule or target group, an alarm, a waiting approval.
 */
export class ResourceNotFoundError extends ReleaseError {
  override readonly name = 'ResourceNotFoundError' as const;
}

/** ECS marked the idle service's deployment FAILED (circuit breaker, tasks that never got healthy). */
export class DeploymentFailedError extends ReleaseError {
  override readonly name = 'DeploymentFailedError' as const;
}

/** The idle service did not become stable within the configured time. */
export class StabilizationTimeoutError extends ReleaseError {
  override readonly name = 'StabilizationTimeoutError' as const;
}

/** A person rejected the release at an approval gate. */
export class ApprovalRejectedError extends ReleaseError {
  override readonly name = 'ApprovalRejectedError' as const;
}

/** Nobody approved within the gate's timeout. */
export class ApprovalTimeoutError extends ReleaseError {
  override readonly name = 'ApprovalTimeoutError' as const;
}

/** A release alarm went into ALARM during a bake: roll back now, not at the end of the bake. */
export class AlarmTriggeredError extends ReleaseError {
  override readonly name = 'AlarmTriggeredError' as const;
}

/** The health check judged the new colour unhealthy. */
export class UnhealthyReleaseError extends ReleaseError {
  override readonly name = 'UnhealthyReleaseError' as const;
}

/** The new colour served too few requests to judge, too many times in a row. No data is never healthy. */
export class InconclusiveHealthError extends ReleaseError {
  override readonly name = 'InconclusiveHealthError' as const;
}

/** An AWS API kept throttling after every retry. */
export class ThrottledError extends ReleaseError {
  override readonly name = 'ThrottledError' as const;
}

/** Scaling the old colour down after promotion failed. The release itself is promoted. */
export class ScaleDownFailedError extends ReleaseError {
  override readonly name = 'ScaleDownFailedError' as const;
}

/**
 * An AWS call failed with an error that is not throttling and not one the release understands
 * (access denied, invalid parameter, a service fault). The message keeps the service's own
 * error name, so the execution's error is always a catalogue name and the cause says what AWS said.
 */
export class AwsCallFailedError extends ReleaseError {
  override readonly name = 'AwsCallFailedError' as const;
}

/** The release was promoted but its lock could not be deleted: clear it by hand. */
export class LockReleaseFailedError extends ReleaseError {
  override readonly name = 'LockReleaseFailedError' as const;
}

/** The execution was stopped from outside (StopExecution) and cleaned up. */
export class ExecutionAbortedError extends ReleaseError {
  override readonly name = 'ExecutionAbortedError' as const;
}

/** The execution hit the state machine's own timeout and was cleaned up. */
export class ExecutionTimedOutError extends ReleaseError {
  override readonly name = 'ExecutionTimedOutError' as const;
}

/**
 * The lock names an execution Step Functions does not know (its history expired, or it was never
 * started): the reconciler treats it as ended and cleans up after it.
 */
export class ExecutionNotFoundError extends ReleaseError {
  override readonly name = 'ExecutionNotFoundError' as const;
}

/**
 * Rollback could not complete. Traffic or the idle service may be half-way: the state records
 * `rollback-failed`, the lock stays with the reason, and an operator must act.
 */
export class RollbackFailedError extends ReleaseError {
  override readonly name = 'RollbackFailedError' as const;
}

/**
 * A run of the engine-wide reconciler could not reconcile every registered service. It reconciled
 * the others first; the message names each service that failed and why.
 */
export class ReconcileIncompleteError extends ReleaseError {
  override readonly name = 'ReconcileIncompleteError' as const;
}

/** Every catalogue error class, keyed by its name. */
export const ERROR_CATALOGUE = {
  ValidationError,
  ConfigNotFoundError,
  AlreadyReleasedError,
  ReleaseInProgressError,
  StaleLockError,
  RouteDriftError,
  NoHealthyTargetsError,
  ServiceNotSteadyError,
  UnsupportedServiceError,
  StateConflictError,
  ResourceNotFoundError,
  DeploymentFailedError,
  StabilizationTimeoutError,
  ApprovalRejectedError,
  ApprovalTimeoutError,
  AlarmTriggeredError,
  UnhealthyReleaseError,
  InconclusiveHealthError,
  ThrottledError,
  AwsCallFailedError,
  ScaleDownFailedError,
  LockReleaseFailedError,
  ExecutionAbortedError,
  ExecutionTimedOutError,
  ExecutionNotFoundError,
  RollbackFailedError,
  ReconcileIncompleteError,
} as const;

/** A name from the catalogue. */
export type ReleaseErrorName = keyof typeof ERROR_CATALOGUE;

/**
 * Names Step Functions itself produces, which the ASL may route on without a catalogue entry.
 * `States.*` are runtime errors; `Lambda.*` are Lambda service exceptions worth retrying;
 * `EventBridge.*` are what the `events:putEvents` integration fails with when EventBridge
 * throttles, has an internal error, or accepts only part of the entries (`FailedEntry`).
 */
export const SERVICE_ERROR_NAMES: readonly string[] = [
  'States.ALL',
  'States.Timeout',
  'States.TaskFailed',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
  'EventBridge.ThrottlingException',
  'EventBridge.InternalException',
  'EventBridge.AmazonEventBridgeException',
  'EventBridge.SdkClientException',
  'EventBridge.FailedEntry',
];

/** Shape Step Functions gives a caught error (`Catch` with `ResultPath`). */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** A short, human-readable summary of any thrown value, for logs and state records. */
export function describeError(error: unknown): CaughtError {
  if (error instanceof Error) return { Error: error.name, Cause: error.message };
  return { Error: 'UnknownError', Cause: String(error) };
}
