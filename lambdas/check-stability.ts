import { ECSClient } from '@aws-sdk/client-ecs';
import * as z from 'zod';
import type { IdleDeployment } from './deploy-idle';
import { DeploymentFailedError, StabilizationTimeoutError, StateConflictError } from './shared/errors';
import { describeService, isSteady, primaryDeployment } from './shared/ecs';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema } from './shared/release';
import { parseOrThrow } from './shared/validation';

/**
 * The check inside the stabilization Wait loop: is the idle colour's deployment done, still
 * rolling, failed, or out of time? Only "not stable yet" loops; everything else either moves on
 * or fails with an error the state machine routes to rollback.
 */

const ecs = new ECSClient({});
const logger = createLogger('check-stability');

/** The Deploy step's output, as this step receives it. Tied to {@link IdleDeployment} at compile time. */
export const IdleDeploymentSchema = z.object({
  serviceName: z.string().min(1),
  taskDefinitionArn: z.string().min(1),
  desiredCount: z.number().int().min(0),
  deploymentId: z.string().min(1),
  startedAt: z.iso.datetime({ offset: true }),
}) satisfies z.ZodType<IdleDeployment>;

/** Input of the stability check. */
export const CheckStabilityInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  deployment: IdleDeploymentSchema,
});

/** Output of the stability check; the state machine loops while `stable` is false. */
export interface StabilityResult {
  readonly stable: boolean;
  /** Tasks running in the release's deployment. */
  readonly runningCount: number;
  /** Tasks the release's deployment wants. */
  readonly desiredCount: number;
  /** ECS rollout state of the deployment; `null` with controllers that do not report one. */
  readonly rolloutState: string | null;
  /** Whole seconds since the deployment started. */
  readonly elapsedSeconds: number;
}

/**
 * Checks whether the idle colour's deployment has stabilized.
 *
 * @throws StateConflictError when the idle service's PRIMARY deployment is not the release's
 *   revision (someone else deployed to it) or it was scaled to zero.
 * @throws DeploymentFailedError when ECS marked the deployment FAILED.
 * @throws StabilizationTimeoutError when it is not stable after `config.stabilization.timeoutSeconds`.
 */
export async function handler(event: unknown): Promise<StabilityResult> {
  const { release, deployment } = parseOrThrow(CheckStabilityInputSchema, event, 'CheckStability input');
  const { config } = release;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const service = await describeService(ecs, config.cluster, deployment.serviceName);
    const primary = primaryDeployment(service);
    const elapsedSeconds = Math.max(0, Math.floor((Date.now() - Date.parse(deployment.startedAt)) / 1000));

    if (primary?.taskDefinition !== deployment.taskDefinitionArn) {
      // ECS's circuit breaker with `rollback: true` fails our deployment and starts a new PRIMARY
      // deployment of the last completed revision: that is our deployment failing, not someone
      // else deploying, and the release rolls back as for any failed deployment.
      const ours = service.deployments?.find((d) => d.id === deployment.deploymentId);
      if (ours?.rolloutState === 'FAILED') {
        logger.error('Idle deployment failed and ECS rolled the service back', {
          serviceName: deployment.serviceName,
          deploymentId: ours.id ?? null,
          reason: ours.rolloutStateReason ?? null,
          primaryTaskDefinitionArn: primary?.taskDefinition ?? null,
        });
        throw new DeploymentFailedError(
          `Deployment ${ours.id} of ${deployment.taskDefinitionArn} to ${config.cluster}/${deployment.serviceName} ` +
            `failed: ${ours.rolloutStateReason ?? 'ECS gave no reason'}; ECS's deployment circuit breaker is rolling the service back to ` +
            `${primary?.taskDefinition ?? 'its last completed deployment'}. Check the service events and stopped tasks.`,
        );
      }
      logger.error('Idle service is deploying a revision this release did not deploy', {
        serviceName: deployment.serviceName,
        expectedTaskDefinitionArn: deployment.taskDefinitionArn,
        primaryTaskDefinitionArn: primary?.taskDefinition ?? null,
        primaryDeploymentId: primary?.id ?? null,
      });
      throw new StateConflictError(
        `Idle service ${config.cluster}/${deployment.serviceName} now deploys ${primary?.taskDefinition ?? 'nothing'}, ` +
          `not this release's ${deployment.taskDefinitionArn}: someone else deployed to it during the release. ` +
          'Find out who, then start the release again.',
      );
    }
    // A forced redeploy of the same revision gets a new id; it still runs our revision, so it is
    // followed rather than treated as a conflict.
    if (primary.id !== deployment.deploymentId) {
      logger.warn('PRIMARY deployment id changed but it runs our revision; following it', {
        expectedDeploymentId: deployment.deploymentId,
        primaryDeploymentId: primary.id ?? null,
      });
    }

    const runningCount = primary.runningCount ?? 0;
    const desiredCount = primary.desiredCount ?? 0;
    const rolloutState = primary.rolloutState ?? null;
    const evidence = {
      serviceName: deployment.serviceName,
      deploymentId: primary.id ?? null,
      rolloutState,
      runningCount,
      desiredCount,
      serviceRunningCount: service.runningCount ?? null,
      serviceDesiredCount: service.desiredCount ?? null,
      deployments: service.deployments?.length ?? 0,
      elapsedSeconds,
      timeoutSeconds: config.stabilization.timeoutSeconds,
    };

    if (rolloutState === 'FAILED') {
      logger.error('Idle deployment failed', { ...evidence, reason: primary.rolloutStateReason ?? null });
      throw new DeploymentFailedError(
        `Deployment ${primary.id} of ${deployment.taskDefinitionArn} to ${config.cluster}/${deployment.serviceName} ` +
          `failed: ${primary.rolloutStateReason ?? 'ECS gave no reason'}. Check the service events and stopped tasks.`,
      );
    }
    // Zero running of zero desired would read as "stable" and send traffic to no tasks at all.
    // Deploy sized it to at least one, so zero means someone scaled it down: waiting cannot help.
    if (service.desiredCount === 0) {
      logger.error('Idle service was scaled to zero during the release', evidence);
      throw new StateConflictError(
        `Idle service ${config.cluster}/${deployment.serviceName} was scaled to 0 tasks during the release ` +
          `(this release asked for ${deployment.desiredCount}). Find out who, then start the release again.`,
      );
    }

    if (isSteady(service)) {
      logger.info('Idle deployment is stable', evidence);
      return { stable: true, runningCount, desiredCount, rolloutState, elapsedSeconds };
    }
    if (elapsedSeconds > config.stabilization.timeoutSeconds) {
      const lastEvent = service.events?.[0]?.message;
      logger.error('Idle deployment did not stabilize in time', { ...evidence, lastEvent: lastEvent ?? null });
      throw new StabilizationTimeoutError(
        `Deployment of ${deployment.taskDefinitionArn} to ${config.cluster}/${deployment.serviceName} is not stable ` +
          `after ${elapsedSeconds}s (limit ${config.stabilization.timeoutSeconds}s): ${runningCount}/${desiredCount} tasks running, ` +
          `rollout ${rolloutState ?? 'state unknown'}, ${service.deployments?.length ?? 0} deployment(s)` +
          (lastEvent ? `; last service event: ${lastEvent}` : '') +
          '. Check the service events and stopped tasks, or raise stabilization.timeoutSeconds.',
      );
    }
    logger.info('Idle deployment not stable yet', evidence);
    return { stable: false, runningCount, desiredCount, rolloutState, elapsedSeconds };
  });
}
