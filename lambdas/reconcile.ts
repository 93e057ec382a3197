import { CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { otherColour } from './shared/colours';
import { parameterNames, ReleaseStateSchema, type LockDocument } from './shared/documents';
import { DRIFT_METRIC, findDrift, observeDrift, type DriftFinding, type ReleaseDriftDetail } from './shared/drift';
import { AwsCallFailedError, ReconcileIncompleteError, StateConflictError, ValidationError } from './shared/errors';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import {
  describeExecutionEnd,
  failureOf,
  leaveUnlessHeld,
  recoverDeadExecution,
  type LeaveRule,
  type RecoveryResult,
} from './shared/recovery';
import { listRegisteredServices, registryPathFromEnv, settleEach } from './shared/registry';
import { withThrottlingRetry } from './shared/retry';
import { loadServiceConfig } from './shared/service-config';
import { SsmDocuments } from './shared/ssm-documents';
import { createTrafficRouter } from './shared/traffic/create-traffic-router';
import { weightDatums } from './shared/weight-metric';

const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const cloudwatch = new CloudWatchClient({});
const lock = new ReleaseLock(clients.ssm, clients.sfn);
const logger = createLogger('reconcile');

/**
 * Execution statuses after which no Catch ran and the lock may still be held: cleanup's, plus an
 * execution Step Functions no longer knows (its history expired), whose lock nobody else will free.
 */
const DEAD = new Set(['ABORTED', 'TIMED_OUT', 'FAILED', 'DOES_NOT_EXIST']);

/** What one run of the reconciler found and did. */
export interface ReconcileResult {
  /**
   * `release-running`: the lock's execution runs, nothing touched; `recovered`: the lock's dead
   * execution was rolled back (or, promoted, unlocked); `lock-changed`: the lock no longer named
   * that execution when recovery read it again (cleanup got there first); `left-for-operator`:
   * a `rollback-failed` lock, or an execution in a status no trigger acts on; `clean` and
   * `drift-reported`: no release ran, and the service does or does not match its state.
   */
  readonly action: 'release-running' | 'recovered' | 'lock-changed' | 'left-for-operator' | 'clean' | 'drift-reported';
  readonly reason: string;
  readonly recovery?: RecoveryResult;
  readonly findings?: readonly DriftFinding[];
}

/** Leave the lock to cleanup's rule (only this execution's) and to an operator once a rollback failed. */
const leaveToOperator: LeaveRule = (held, dead) =>
  leaveUnlessHeld(held, dead) ??
  (held?.status === 'rollback-failed' ? { action: 'ignored', reason: `the lock is rollback-failed: ${held.reason ?? 'no reason'}` } : null);

/** One service's result in a run of the reconciler. */
export type ServiceReconcileResult = ReconcileResult & { readonly service: string };

/** What one run found and did, per registered service. */
export interface FleetReconcileResult {
  /** Each registered service that was reconciled, in name order. */
  readonly services: readonly ServiceReconcileResult[];
}

/** Services reconciled at once: bounded, so a large fleet does not hit SSM's and ECS's rate limits in one burst. */
const SERVICE_CONCURRENCY = 4;

/**
 * Runs on a schedule for every service registered with the engine (the registry path is
 * `RELEASE_REGISTRY_PATH`), because the execution status-change events that trigger cleanup are
 * delivered best effort: a lost one would leave traffic split and the lock held with nothing to
 * say so. Each service is reconciled on its own ({@link reconcileService}); one service's failure
 * (a broken config, a rollback that cannot complete, AWS refusing a call) never keeps the others
 * from being reconciled. When any failed, the run throws after all of them, naming each, so the
 * failure reaches the dead-letter queue and its alarm (a retry reconciles every service again,
 * which is safe: recovery acts only on what the documents still say).
 *
 * The scheduled event's content is not used.
 */
export async function handler(): Promise<FleetReconcileResult> {
  const registry = await listRegisteredServices(clients.ssm, registryPathFromEnv());
  for (const entry of registry.invalid) logger.error('Registry entry ignored', { ...entry });
  const settled = await settleEach(registry.services, SERVICE_CONCURRENCY, (service) => reconcileService(service));
  const services: ServiceReconcileResult[] = [];
  const failures: string[] = [];
  settled.forEach((outcome, index) => {
    const service = registry.services[index];
    if (outcome.status === 'fulfilled') {
      services.push({ service, ...outcome.value });
    } else {
      const error = outcome.reason as unknown;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      logger.error('Reconciling a service failed; the other services were reconciled', { service, error: message });
      failures.push(`${service}: ${message}`);
    }
  });
  if (failures.length > 0) {
    throw new ReconcileIncompleteError(
      `The reconciler could not reconcile ${failures.length} of ${registry.services.length} services: ${failures.join(' | ')}. ` +
        `The others were reconciled (${services.map((s) => `${s.service} ${s.action}`).join(', ') || 'none'}). Fix what each error names.`,
    );
  }
  logger.info('Reconciled every registered service', { count: services.length, actions: services.map((s) => `${s.service}:${s.action}`) });
  return { services };
}

/**
 * Reconciles one service:
 *
 * - Lock held by a RUNNING execution: nothing touched.
 * - Lock held by an execution that ended without its own rollback (ABORTED, TIMED_OUT, FAILED,
 *   or unknown to Step Functions): exactly what cleanup does, through the same
 *   `recoverDeadExecution`, which acts only while the lock still names that execution.
 * - Lock `rollback-failed`: left for an operator, reported in the result and the log.
 * - No lock: compares the route and both services with the release state, and reports drift as
 *   the `ECSRelease/Drift` metric (0 or 1) and, when found, a `Release Drift Detected` event
 *   (through the `DRIFT_EVENTS_STATE_MACHINE_ARN` publisher). It never fixes drift: only an
 *   operator knows whether the change was meant.
 */
export async function reconcileService(service: string): Promise<ReconcileResult> {
  const held = await withReleaseKeys(logger, { service }, () => lock.read(service));
  if (held) {
    return withReleaseKeys(logger, { service, releaseId: held.releaseId }, () => reconcileLock(service, held));
  }
  return withReleaseKeys(logger, { service }, () => reportDrift(service));
}

async function reconcileLock(service: string, held: LockDocument): Promise<ReconcileResult> {
  if (held.status === 'rollback-failed') {
    logger.warn('The lock was left rollback-failed: an operator must check traffic and the idle service, then clear it', {
      executionArn: held.executionArn,
      reason: held.reason,
    });
    return { action: 'left-for-operator', reason: `release ${held.releaseId}'s rollback failed: ${held.reason ?? 'no reason recorded'}` };
  }
  const end = await describeExecutionEnd(clients.sfn, held.executionArn);
  if (end.status === 'RUNNING') {
    logger.info('The lock is held by a running release; nothing to do', { executionArn: held.executionArn });
    return { action: 'release-running', reason: `execution ${held.executionArn} is RUNNING` };
  }
  if (!DEAD.has(end.status)) {
    // SUCCEEDED (or a status added later) with the lock still held is not something cleanup
    // would undo either: guessing here could undo a promotion.
    logger.warn('The lock is held by an execution in a status no recovery acts on', { executionArn: held.executionArn, status: end.status });
    return { action: 'left-for-operator', reason: `execution ${held.executionArn} is ${end.status} and still holds the lock` };
  }
  logger.warn('The lock is held by an execution that ended without its rollback; recovering (its status event was lost or not acted on)', {
    executionArn: held.executionArn,
    status: end.status,
  });
  const recovery = await recoverDeadExecution(
    clients,
    { service, releaseId: held.releaseId, executionArn: held.executionArn, failure: failureOf(held.executionArn, end) },
    leaveToOperator,
    logger,
  );
  switch (recovery.action) {
    case 'rolled-back':
    case 'unlocked-promoted':
      return { action: 'recovered', reason: `execution ${held.executionArn} was ${end.status}`, recovery };
    case 'nothing-to-undo':
      return { action: 'lock-changed', reason: 'the lock no longer named the execution when recovery read it again', recovery };
    case 'ignored':
      return { action: 'left-for-operator', reason: recovery.reason, recovery };
  }
}

async function reportDrift(service: string): Promise<ReconcileResult> {
  const config = await loadServiceConfig(clients.ssm, service);
  const state = await new SsmDocuments(clients.ssm).get(parameterNames(service).state, ReleaseStateSchema);
  if (!state) {
    throw new StateConflictError(`Service '${service}' has no release state at ${parameterNames(service).state}; redeploy its ReleasePipeline`);
  }
  const colours = { live: state.live, idle: otherColour(state.live) };
  const router = createTrafficRouter(config.traffic, colours);
  const observation = await observeDrift(clients.ecs, config, state, router);
  const findings = findDrift(observation);
  // The split as read, with the Drift point: the dashboard's weight graph then shows the current
  // split even when the last release is older than the graph's window.
  const weights = 'weights' in observation.route ? weightDatums(service, colours, observation.route.weights, new Date()) : [];
  await putDriftMetric(service, findings.length > 0 ? 1 : 0, weights);
  if (findings.length === 0) {
    logger.info('No drift: the route, the live and the idle service match the release state', { live: state.live });
    return { action: 'clean', reason: `${state.live} is live on ${router.describe()} and both services match the state` };
  }
  logger.warn('DRIFT: the service differs from its release state; nothing was changed', { live: state.live, findings });
  await publishDriftEvent({ schemaVersion: 1, service, outcome: 'drift-detected', live: state.live, findings, at: new Date().toISOString() });
  return { action: 'drift-reported', reason: findings.map((f) => f.message).join(' | '), findings };
}

async function putDriftMetric(service: string, value: 0 | 1, weights: MetricDatum[]): Promise<void> {
  await withThrottlingRetry(`PutMetricData ${DRIFT_METRIC.namespace}/${DRIFT_METRIC.metricName}`, () =>
    cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: DRIFT_METRIC.namespace,
        MetricData: [
          { MetricName: DRIFT_METRIC.metricName, Dimensions: [{ Name: DRIFT_METRIC.dimension, Value: service }], Value: value, Unit: 'Count' },
          // Same namespace (a test holds TRAFFIC_WEIGHT_METRIC to it), so one call carries both.
          ...weights,
        ],
      }),
    ),
  );
}

/**
 * Publishes the drift event through the pipeline's drift-event publisher, an Express state
 * machine whose only state is an EventBridge PutEvents with the source and detail-type fixed:
 * this function can announce drift and nothing else. Synchronous, because StartSyncExecution
 * answers 200 even when the execution fails; its status says whether the event went out.
 */
async function publishDriftEvent(detail: ReleaseDriftDetail): Promise<void> {
  const stateMachineArn = requiredEnv('DRIFT_EVENTS_STATE_MACHINE_ARN', 'the drift-event publisher of the pipeline');
  const out = await withThrottlingRetry('StartSyncExecution drift event', () =>
    clients.sfn.send(new StartSyncExecutionCommand({ stateMachineArn, input: JSON.stringify(detail) })),
  );
  if (out.status !== 'SUCCEEDED') {
    throw new AwsCallFailedError(
      `The drift event was not published: the publisher ${stateMachineArn} ended ${out.status ?? 'UNKNOWN'} (${out.error ?? 'no error'}: ${out.cause ?? 'no cause'}). ` +
        'The Drift metric was published; check the publisher\'s log.',
    );
  }
}

function requiredEnv(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new ValidationError(`Environment variable ${name} is not set; set it to ${what}.`);
  return value;
}
