import { Duration } from 'aws-cdk-lib';

/**
 * What a handler may do, in the terms of the resources one release pipeline owns. Each maps to a
 * short list of IAM actions on named resources in `ReleasePipeline` (see `grantHandlerPermission`).
 */
export type HandlerPermission =
  /** ssm:GetParameter under `/ecs-release/<service>/`: read the release documents. */
  | 'readDocuments'
  /** ssm:PutParameter under `/ecs-release/<service>/`: create or overwrite a release document. */
  | 'writeDocuments'
  /** ssm:DeleteParameter under `/ecs-release/<service>/`: delete a release document (lock, bake, approval). */
  | 'deleteDocuments'
  /**
   * ssm:GetParametersByPath on the engine's registry path (`/ecs-release-registry/<engine>`),
   * which holds only the registered services' names: which services the engine-wide handlers serve.
   */
  | 'listServices'
  /**
   * Read the traffic split: appmesh:DescribeRoute on the release route (App Mesh);
   * elasticloadbalancing:DescribeRules or DescribeListeners (ALB).
   */
  | 'readRoute'
  /**
   * Read and change the traffic split: appmesh:DescribeRoute and UpdateRoute on the release
   * route (App Mesh); the ALB reads plus ModifyRule on the weighted rule, or ModifyListener on the
   * listener when the weighted forward is its default action.
   */
  | 'writeRoute'
  /** elasticloadbalancing:DescribeTargetHealth (ALB); nothing for App Mesh. */
  | 'readTargetHealth'
  /** ecs:DescribeServices on the blue and green services. */
  | 'readServices'
  /** ecs:UpdateService on the blue and green services. */
  | 'writeServices'
  /** ecs:DescribeTaskDefinition. */
  | 'readTaskDefinitions'
  /** ecs:DescribeTaskDefinition, RegisterTaskDefinition (and tagging it), iam:PassRole for the task roles. */
  | 'registerTaskDefinitions'
  /** cloudwatch:DescribeAlarms on the release alarms. */
  | 'readAlarms'
  /** cloudwatch:GetMetricData. */
  | 'readMetrics'
  /** states:DescribeExecution on the release executions. */
  | 'describeExecutions'
  /** states:SendTaskSuccess on the release state machine. */
  | 'sendTaskSuccess'
  /** states:SendTaskFailure on the release state machine. */
  | 'sendTaskFailure'
  /** states:StartExecution on the release state machine. */
  | 'startExecution'
  /** states:StopExecution on the release executions. */
  | 'stopExecution'
  /**
   * cloudwatch:PutMetricData, only in the `ECSRelease` namespace (condition key
   * `cloudwatch:namespace`): the reconciler's `Drift`, and `TrafficWeight` from whatever sets weights.
   */
  | 'putReleaseMetrics'
  /**
   * states:StartSyncExecution on the pipeline's drift-event publisher, whose one state puts a
   * `Release Drift Detected` event: announcing drift is all it allows.
   */
  | 'publishDriftEvents'
  /** states:GetExecutionHistory on the release executions. */
  | 'readExecutionHistory'
  /**
   * codepipeline:GetPipelineState on the pipeline, and codepipeline:PutApprovalResult on its
   * gates' manual approval actions only.
   */
  | 'answerConsoleApprovals';

/** One Lambda handler of the release engine. */
export interface ReleaseHandlerSpec {
  /** Handler file, relative to `lambdas/`; it exports `handler`. */
  readonly entry: string;
  /** What it is for, as the function's description says. */
  readonly description: string;
  /**
   * Function timeout. For a state machine task it is shorter than the task's `TimeoutSeconds`,
   * so Step Functions sees the function's own timeout error rather than abandoning a run.
   */
  readonly timeout: Duration;
  /**
   * Everything it may do; nothing else is granted. `test/infra/app.test.ts` checks these against
   * the AWS calls the handler's code can reach, so a permission the code stops using, or a call
   * (a write in a handler that only reads, say) without one, fails the build.
   */
  readonly permissions: readonly HandlerPermission[];
}

/**
 * The state machine's task handlers, keyed by the name in their `${<Name>FunctionArn}`
 * definition placeholder. The pipeline refuses a definition with a placeholder missing here.
 */
export const STEP_HANDLERS: Readonly<Record<string, ReleaseHandlerSpec>> = {
  PlanRelease: {
    entry: 'plan-release.ts',
    description: 'Plan: validate the request and the service config, compute the step schedule',
    timeout: Duration.seconds(50),
    permissions: ['readDocuments'],
  },
  AcquireLock: {
    entry: 'acquire-lock.ts',
    description: 'Lock: one release per service at a time',
    timeout: Duration.seconds(50),
    permissions: ['readDocuments', 'writeDocuments', 'describeExecutions'],
  },
  LoadState: {
    entry: 'load-state.ts',
    description: 'Load state: which colour is live (bootstrapped from what runs on the first release)',
    timeout: Duration.seconds(100),
    permissions: ['readDocuments', 'writeDocuments', 'readRoute', 'readServices', 'readTaskDefinitions'],
  },
  Preflight: {
    entry: 'preflight.ts',
    description: 'Preflight: the route is 100/0 to the live colour and the live service is steady',
    timeout: Duration.seconds(100),
    // readTargetHealth: no release starts towards a target group without healthy targets (ALB).
    // readAlarms: no release starts while an alarm its bakes watch is already in ALARM.
    permissions: ['readDocuments', 'writeDocuments', 'readRoute', 'readServices', 'readTargetHealth', 'readAlarms'],
  },
  RegisterTaskDefinition: {
    entry: 'register-task-definition.ts',
    description: 'Register: the live revision cloned with the new image',
    timeout: Duration.seconds(100),
    permissions: ['registerTaskDefinitions'],
  },
  DeployIdle: {
    entry: 'deploy-idle.ts',
    description: 'Deploy: update the idle service to the new revision',
    timeout: Duration.seconds(100),
    // readDocuments: it re-reads the lock, so an aborted release never starts a deployment.
    permissions: ['readDocuments', 'readServices', 'writeServices'],
  },
  CheckStability: {
    entry: 'check-stability.ts',
    description: 'Wait until stable: the idle deployment is COMPLETED, or FAILED',
    timeout: Duration.seconds(100),
    permissions: ['readServices'],
  },
  RequestApproval: {
    entry: 'request-approval.ts',
    description: 'Approval gate: publish the task token where the API finds it',
    timeout: Duration.seconds(50),
    permissions: ['writeDocuments'],
  },
  ShiftTraffic: {
    entry: 'shift-traffic.ts',
    description: 'Shift: set the route weights for this step',
    timeout: Duration.seconds(100),
    // readTargetHealth: no step moves traffic to a target group without healthy targets (ALB).
    // putReleaseMetrics: each split set goes on the release dashboard (TrafficWeight).
    permissions: ['readDocuments', 'writeRoute', 'readTargetHealth', 'putReleaseMetrics'],
  },
  StartBake: {
    entry: 'start-bake.ts',
    description: 'Bake: publish the task token so an alarm can end the bake early',
    timeout: Duration.seconds(50),
    permissions: ['writeDocuments', 'readAlarms'],
  },
  CheckHealth: {
    entry: 'check-health.ts',
    description: 'Health check: judge the idle colour over the bake, with evidence',
    timeout: Duration.seconds(100),
    permissions: ['readAlarms', 'readMetrics'],
  },
  PromoteRelease: {
    entry: 'promote-release.ts',
    description: 'Promote: the idle colour becomes live in the release state',
    timeout: Duration.seconds(100),
    // readAlarms: it re-checks the idle colour's alarms just before the state write.
    permissions: ['readDocuments', 'writeDocuments', 'readAlarms'],
  },
  ScaleDownOldColour: {
    entry: 'scale-down-old-colour.ts',
    description: 'Scale the old colour to zero after promotion',
    timeout: Duration.seconds(100),
    permissions: ['readDocuments', 'readServices', 'writeServices'],
  },
  ReleaseLock: {
    entry: 'release-lock.ts',
    description: 'Unlock: delete the lock of a finished release',
    timeout: Duration.seconds(100),
    permissions: ['readDocuments', 'deleteDocuments'],
  },
  RollbackRelease: {
    entry: 'rollback-release.ts',
    description: 'Rollback: weights back to the live colour, idle service reverted, release recorded',
    timeout: Duration.seconds(280),
    permissions: ['readDocuments', 'writeDocuments', 'deleteDocuments', 'writeRoute', 'readServices', 'writeServices', 'putReleaseMetrics'],
  },
  MarkRollbackFailed: {
    entry: 'mark-rollback-failed.ts',
    description: 'Record a failed rollback: state says rollback-failed, the lock stays',
    timeout: Duration.seconds(50),
    permissions: ['readDocuments', 'writeDocuments'],
  },
};

/** Handlers triggered by events or by hand, not by the state machine. */
export const EVENT_HANDLERS = {
  alarmWatcher: {
    entry: 'alarm-watcher.ts',
    description: 'Fails the running bake the moment one of its alarms goes to ALARM',
    timeout: Duration.seconds(60),
    permissions: ['listServices', 'readDocuments', 'sendTaskFailure'],
  },
  cleanup: {
    entry: 'cleanup.ts',
    description: 'Rolls back an execution that was aborted or timed out, and releases its lock',
    timeout: Duration.minutes(5),
    permissions: ['readDocuments', 'writeDocuments', 'deleteDocuments', 'writeRoute', 'readServices', 'writeServices', 'putReleaseMetrics'],
  },
  reconcile: {
    entry: 'reconcile.ts',
    description: 'On a schedule: recovers a release whose end event was lost, and reports drift between releases',
    timeout: Duration.minutes(5),
    // Cleanup's permissions (it recovers through the same code), plus asking Step Functions about
    // the lock's execution and reporting drift.
    permissions: [
      'listServices',
      'readDocuments',
      'writeDocuments',
      'deleteDocuments',
      'writeRoute',
      'readServices',
      'writeServices',
      'describeExecutions',
      'putReleaseMetrics',
      'publishDriftEvents',
    ],
  },
  clearLock: {
    entry: 'clear-lock.ts',
    description: 'Admin, by hand: clears a stale lock after an operator has checked it',
    timeout: Duration.seconds(60),
    permissions: ['readDocuments', 'deleteDocuments', 'describeExecutions'],
  },
} as const satisfies Record<string, ReleaseHandlerSpec>;

/**
 * Handlers a pipeline creates only with a CodePipeline that has console approvals (a repository
 * and at least one default approval gate).
 */
export const CONSOLE_APPROVAL_HANDLERS = {
  syncConsoleApprovals: {
    entry: 'sync-console-approvals.ts',
    description: 'Keeps the release gates and the CodePipeline console approvals in step: first answer wins, the other is closed with why',
    timeout: Duration.seconds(60),
    // approve/reject through the API's code; the history tells a gate the CLI answered from one not reached.
    permissions: ['readDocuments', 'deleteDocuments', 'sendTaskSuccess', 'sendTaskFailure', 'describeExecutions', 'readExecutionHistory', 'answerConsoleApprovals'],
  },
} as const satisfies Record<string, ReleaseHandlerSpec>;

/** API handlers; API Gateway gives up after 29 s, so they stop sooner. */
export const API_HANDLERS = {
  startRelease: {
    entry: 'api/start-release.ts',
    description: 'POST /releases: validate a release request and start it',
    timeout: Duration.seconds(25),
    permissions: ['readDocuments', 'describeExecutions', 'readServices', 'startExecution'],
  },
  getRelease: {
    entry: 'api/get-release.ts',
    description: 'GET /releases/{service}[/{releaseId}]: release status',
    timeout: Duration.seconds(25),
    permissions: ['readDocuments', 'describeExecutions'],
  },
  approveRelease: {
    entry: 'api/approve-release.ts',
    description: 'POST /releases/{service}/approve: let the waiting gate continue',
    timeout: Duration.seconds(25),
    permissions: ['readDocuments', 'deleteDocuments', 'sendTaskSuccess'],
  },
  rejectRelease: {
    entry: 'api/reject-release.ts',
    description: 'POST /releases/{service}/reject: fail the waiting gate, which rolls back',
    timeout: Duration.seconds(25),
    permissions: ['readDocuments', 'deleteDocuments', 'sendTaskFailure'],
  },
  abortRelease: {
    entry: 'api/abort-release.ts',
    description: 'POST /releases/{service}/abort: stop the running release (cleanup rolls it back)',
    timeout: Duration.seconds(25),
    permissions: ['readDocuments', 'describeExecutions', 'stopExecution'],
  },
} as const satisfies Record<string, ReleaseHandlerSpec>;

/** `ScaleDownOldColour` → `scale-down-old-colour`. */
export function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
