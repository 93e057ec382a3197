import { DescribeServicesCommand, UpdateServiceCommand, type ECSClient, type Service } from '@aws-sdk/client-ecs';
import { ResourceNotFoundError, UnsupportedServiceError } from './errors';
import { withThrottlingRetry } from './retry';

/**
 * Describes one ECS service. A missing or INACTIVE service is a {@link ResourceNotFoundError}
 * naming the cluster and service, because the configuration points at something that is not there.
 */
export async function describeService(ecs: ECSClient, cluster: string, serviceName: string): Promise<Service> {
  let out;
  try {
    out = await withThrottlingRetry(`DescribeServices ${cluster}/${serviceName}`, () =>
      ecs.send(new DescribeServicesCommand({ cluster, services: [serviceName] })),
    );
  } catch (error) {
    if ((error as Error).name === 'ClusterNotFoundException') {
      throw new ResourceNotFoundError(`ECS cluster ${cluster} does not exist. Check the service configuration.`, { cause: error });
    }
    throw error;
  }
  const service = out.services?.find((s) => s.serviceName === serviceName || s.serviceArn?.endsWith(`/${serviceName}`));
  if (!service || service.status === 'INACTIVE') {
    const reason = out.failures?.find((f) => f.arn?.endsWith(serviceName))?.reason ?? 'not found';
    throw new ResourceNotFoundError(
      `ECS service ${serviceName} in cluster ${cluster}: ${reason}. Check the service configuration.`,
    );
  }
  return service;
}

/**
 * Refuses a service whose deployments another controller owns. With CODE_DEPLOY, UpdateService
 * cannot change the task definition at all; with EXTERNAL, task sets (not the service) hold the
 * revision. Either way the release could not set, or put back, what the service runs.
 * A service with no controller set uses ECS's rolling update.
 */
export function assertRollingUpdate(service: Service, cluster: string): void {
  const type = service.deploymentController?.type ?? 'ECS';
  if (type !== 'ECS') {
    throw new UnsupportedServiceError(
      `ECS service ${cluster}/${service.serviceName} uses the ${type} deployment controller: ${type === 'CODE_DEPLOY' ? 'CodeDeploy' : 'an external controller'} ` +
        'owns its revisions and traffic. ecs-release deploys each colour with the rolling update (ECS) controller: ' +
        'point the configuration at two services that use it.',
    );
  }
}

/** The PRIMARY deployment of a service (the one ECS is rolling towards). */
export function primaryDeployment(service: Service) {
  return service.deployments?.find((d) => d.status === 'PRIMARY');
}

/**
 * True when the service has exactly one deployment, it is COMPLETED (or has no rollout state, as
 * with the older ECS deployment controller), and running equals desired.
 */
export function isSteady(service: Service): boolean {
  const deployments = service.deployments ?? [];
  if (deployments.length !== 1) return false;
  const [only] = deployments;
  const rolledOut = only.rolloutState === undefined || only.rolloutState === 'COMPLETED';
  return rolledOut && service.runningCount === service.desiredCount && only.runningCount === only.desiredCount;
}

/** An ECS service's revision and size, as a release records it to put the service back. */
export interface ServiceSnapshot {
  readonly serviceName: string;
  readonly taskDefinitionArn: string;
  readonly desiredCount: number;
}

/**
 * Puts a service back to `snapshot`'s revision and size. Idempotent: a service already there gets
 * no UpdateService, so retries and concurrent restorers (a rollback and a late deploy undoing
 * itself) agree.
 *
 * @returns whether an UpdateService was sent.
 */
export async function restoreService(ecs: ECSClient, cluster: string, snapshot: ServiceSnapshot): Promise<boolean> {
  const current = await describeService(ecs, cluster, snapshot.serviceName);
  if (current.taskDefinition === snapshot.taskDefinitionArn && current.desiredCount === snapshot.desiredCount) return false;
  await withThrottlingRetry(`UpdateService ${snapshot.serviceName}`, () =>
    ecs.send(
      new UpdateServiceCommand({
        cluster,
        service: snapshot.serviceName,
        taskDefinition: snapshot.taskDefinitionArn,
        desiredCount: snapshot.desiredCount,
      }),
    ),
  );
  return true;
}
