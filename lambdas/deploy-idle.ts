import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { LockDocumentSchema, parameterNames, type LockDocument } from './shared/documents';
import { ExecutionAbortedError, StateConflictError, ValidationError, describeError } from './shared/errors';
import { describeService, primaryDeployment, restoreService, type ServiceSnapshot } from './shared/ecs';
import { lockProblem } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema, type PlannedRelease } from './shared/release';
import { withThrottlingRetry } from './shared/retry';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

/**
 * Deploy step: points the idle colour's ECS service at the release's revision, sized like the
 * live colour so it can take all the traffic at the end. Idempotent: a re-run that finds the
 * deployment already under way does not start another one.
 */

const ecs = new ECSClient({});
const documents = new SsmDocuments(new SSMClient({}));
const logger = createLogger('deploy-idle');

/** Input of the Deploy step. */
export const DeployIdleInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  taskDefinition: z.object({ taskDefinitionArn: z.string().min(1) }),
});

/** Output of the Deploy step; the stability check receives it as `deployment`. */
export interface IdleDeployment {
  readonly serviceName: string;
  readonly taskDefinitionArn: string;
  readonly desiredCount: number;
  readonly deploymentId: string;
  /** When the deployment started (ISO 8601); the stabilization timeout counts from here. */
  readonly startedAt: string;
}

/**
 * Deploys the release's task definition to the idle colour's service. Like ShiftTraffic, it
 * refuses unless this execution holds the lock as `held`, and looks at the lock again after
 * UpdateService: if a rollback or cleanup took it while the call was in flight (it may already
 * have reverted the idle service, before our update landed), the idle service is put back to the
 * lock's undo plan, or to what it was before the call, and the step aborts.
 *
 * @throws ValidationError for invalid input, or a configuration that gives both colours one service.
 * @throws ExecutionAbortedError when the lock is missing, another execution's, or not `held`,
 *   before the update (nothing touched) or after it (the update undone).
 * @throws ResourceNotFoundError when the live or idle service does not exist.
 * @throws StateConflictError when ECS reports no PRIMARY deployment running the release's revision.
 */
export async function handler(event: unknown): Promise<IdleDeployment> {
  const { release, colours, taskDefinition } = parseOrThrow(DeployIdleInputSchema, event, 'Deploy input');
  const { config } = release;
  const { taskDefinitionArn } = taskDefinition;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const liveName = config.ecsServices[colours.live];
    const idleName = config.ecsServices[colours.idle];
    if (liveName === idleName) {
      // Deploying to "idle" would then replace the revision that is serving all the traffic.
      throw new ValidationError(
        `Service configuration of ${release.service} names the same ECS service (${liveName}) for blue and green. ` +
          'Give each colour its own service.',
      );
    }
    const lockName = parameterNames(release.service).lock;
    const before = await documents.get(lockName, LockDocumentSchema);
    const refusal = lockProblem(before, release.service, release.executionArn);
    logger.info('Checked lock before deploying', {
      lock: lockName,
      lockExecutionArn: before?.executionArn ?? null,
      lockStatus: before?.status ?? null,
      decision: refusal === null ? 'deploy' : 'abort',
    });
    if (refusal !== null) {
      throw new ExecutionAbortedError(
        `Not deploying ${taskDefinitionArn} to ${config.cluster}/${idleName} for release ${release.id}: ${refusal}. ` +
          'The release was aborted or is being rolled back; the service was not touched.',
      );
    }

    const live = await describeService(ecs, config.cluster, liveName);
    const idle = await describeService(ecs, config.cluster, idleName);

    // The idle colour will end up with all the traffic, so it gets the live colour's size; at
    // least one task, or there would be nothing to send the first canary step to.
    const desiredCount = Math.max(1, live.desiredCount ?? 0);

    const current = primaryDeployment(idle);
    if (current?.id && current.taskDefinition === taskDefinitionArn && current.desiredCount === desiredCount) {
      const startedAt = (current.createdAt ?? new Date(Date.now())).toISOString();
      logger.info('Idle service already runs this revision at the live size; not updating it', {
        serviceName: idleName,
        taskDefinitionArn,
        desiredCount,
        liveDesiredCount: live.desiredCount,
        deploymentId: current.id,
        startedAt,
      });
      return { serviceName: idleName, taskDefinitionArn, desiredCount, deploymentId: current.id, startedAt };
    }

    logger.info('Updating the idle service to the release revision', {
      serviceName: idleName,
      taskDefinitionArn,
      desiredCount,
      liveDesiredCount: live.desiredCount,
      previousTaskDefinitionArn: current?.taskDefinition ?? null,
      previousDesiredCount: current?.desiredCount ?? null,
    });
    const requestedAt = new Date(Date.now());
    const out = await withThrottlingRetry(`UpdateService ${config.cluster}/${idleName}`, () =>
      ecs.send(new UpdateServiceCommand({ cluster: config.cluster, service: idleName, taskDefinition: taskDefinitionArn, desiredCount })),
    );

    // A rollback or cleanup may have taken the lock while UpdateService was in flight and already
    // reverted the idle service; our late update would then leave the new revision running. Look again.
    const after = await documents.get(lockName, LockDocumentSchema);
    const lost = lockProblem(after, release.service, release.executionArn);
    if (lost !== null) {
      const previousArn = idle.taskDefinition ?? current?.taskDefinition;
      const previous: ServiceSnapshot | null = previousArn
        ? { serviceName: idleName, taskDefinitionArn: previousArn, desiredCount: idle.desiredCount ?? current?.desiredCount ?? 0 }
        : null;
      await undoLateDeploy(release, config.cluster, idleName, after, previous, lost);
    }

    const deployment = out.service ? primaryDeployment(out.service) : undefined;
    if (!deployment?.id || deployment.taskDefinition !== taskDefinitionArn) {
      throw new StateConflictError(
        `UpdateService on ${config.cluster}/${idleName} did not leave a PRIMARY deployment of ${taskDefinitionArn} ` +
          `(PRIMARY runs ${deployment?.taskDefinition ?? 'nothing'}). Check the service's deployments.`,
      );
    }
    // When only the count changed, ECS keeps the existing PRIMARY deployment and its old
    // createdAt; timing stabilization from then would time out a deployment we only just sized.
    const createdAt = deployment.createdAt ?? requestedAt;
    const startedAt = new Date(Math.max(createdAt.getTime(), requestedAt.getTime())).toISOString();
    logger.info('Idle service deployment started', {
      serviceName: idleName,
      deploymentId: deployment.id,
      deploymentCreatedAt: deployment.createdAt?.toISOString() ?? null,
      startedAt,
    });
    return { serviceName: idleName, taskDefinitionArn, desiredCount, deploymentId: deployment.id, startedAt };
  });
}


/**
 * Puts the idle service back after the lock was lost mid-deploy, then aborts. The target is this
 * release's undo plan when the lock is still ours (being rolled back), else what the service ran
 * before the call. A lock another release has taken since is left alone, and so is the service:
 * that release may already be deploying to it.
 */
async function undoLateDeploy(
  release: PlannedRelease,
  cluster: string,
  serviceName: string,
  lock: LockDocument | null,
  previous: ServiceSnapshot | null,
  reason: string,
): Promise<never> {
  const service = `${cluster}/${serviceName}`;
  const byHand = previous ? ` set ${service} back to ${previous.taskDefinitionArn} x${previous.desiredCount} by hand` : ` set ${service} back by hand`;
  if (lock !== null && lock.executionArn !== release.executionArn) {
    logger.error('Lock taken by another release while deploying; leaving the idle service to it', { service, reason });
    throw new ExecutionAbortedError(
      `Release ${release.id} lost its lock during its deployment to ${service} (${reason}); that release now owns the ` +
        `service, so it was not reverted. If that release is not deploying there,${byHand}.`,
    );
  }
  const planned = lock?.undo?.idleService;
  const target = planned && planned.serviceName === serviceName ? planned : previous;
  if (!target) {
    throw new ExecutionAbortedError(
      `Release ${release.id} lost its lock during its deployment to ${service} (${reason}), and neither an undo plan nor ` +
        'the revision before the call is known. Set the service back to its previous revision and size by hand.',
    );
  }
  logger.warn('Lock lost while deploying; reverting the idle service', {
    service,
    reason,
    revertTo: target,
    source: target === planned ? 'undo plan' : 'before the call',
  });
  try {
    await restoreService(ecs, cluster, target);
  } catch (error) {
    logger.error('Could not revert the idle service after losing the lock', { service, error: describeError(error) });
    throw new ExecutionAbortedError(
      `Release ${release.id} lost its lock during its deployment to ${service} (${reason}) and reverting it to ` +
        `${target.taskDefinitionArn} x${target.desiredCount} failed. Set the service back by hand.`,
      { cause: error },
    );
  }
  throw new ExecutionAbortedError(
    `Release ${release.id} lost its lock during its deployment to ${service} (${reason}); the service was set back to ` +
      `${target.taskDefinitionArn} x${target.desiredCount}.`,
  );
}
