import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import * as z from 'zod';
import { StateConflictError, ValidationError } from './shared/errors';
import { describeService, primaryDeployment } from './shared/ecs';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema } from './shared/release';
import { withThrottlingRetry } from './shared/retry';
import { parseOrThrow } from './shared/validation';

/**
 * Deploy step: points the idle colour's ECS service at the release's revision, sized like the
 * live colour so it can take all the traffic at the end. Idempotent: a re-run that finds the
 * deployment already under way does not start another one.
 */

const ecs = new ECSClient({});
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
 * Deploys the release's task definition to the idle colour's service.
 *
 * @throws ValidationError for invalid input, or a configuration that gives both colours one service.
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
