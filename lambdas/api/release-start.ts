import type { ECSClient } from '@aws-sdk/client-ecs';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../shared/config';
import { LockDocumentSchema, parameterNames } from '../shared/documents';
import { describeService } from '../shared/ecs';
import { ReleaseInProgressError, ResourceNotFoundError, StaleLockError } from '../shared/errors';
import type { ReleaseRequest } from '../shared/release';
import { withThrottlingRetry } from '../shared/retry';
import { loadServiceConfig } from '../shared/service-config';
import { SsmDocuments } from '../shared/ssm-documents';
import { executionArnFor, inspectLock, staleLockMessage, type LockHolder } from './executions';

/**
 * Starting a release, as every front door does it (the API's `POST /releases` and the
 * `ecs-release start` CLI): the pre-checks that give a fast, clear refusal, and the
 * StartExecution itself. The pre-checks are only courtesy: the state machine's own lock step
 * (an atomic create-if-absent) is what actually keeps two releases apart.
 */

/** The clients a start needs. */
export interface StartClients {
  readonly ssm: SSMClient;
  readonly ecs: ECSClient;
  readonly sfn: SFNClient;
}

/** What the pre-checks found. */
export interface StartPreCheck {
  /** The service configuration, loaded and validated as Plan will load it. */
  readonly config: ServiceConfig;
  /** The execution holding the service's lock; `null` when nobody holds it. */
  readonly holder: LockHolder | null;
}

/**
 * Reads the configuration and the lock, checks that both colours' ECS services exist, and looks
 * up the execution behind a lock. Uses the same loader Plan uses, so a start is refused for
 * exactly the configurations the release would refuse.
 *
 * @throws ConfigNotFoundError when the service has no configuration.
 * @throws ValidationError when the configuration does not match its schema.
 * @throws ResourceNotFoundError when the cluster or one of the colours' ECS services is missing.
 */
export async function preCheckStart(clients: StartClients, service: string): Promise<StartPreCheck> {
  const documents = new SsmDocuments(clients.ssm);
  const [config, lock] = await Promise.all([
    loadServiceConfig(clients.ssm, service),
    documents.get(parameterNames(service).lock, LockDocumentSchema),
  ]);
  await Promise.all([
    describeServiceOrNotFound(clients.ecs, config.cluster, config.ecsServices.blue),
    describeServiceOrNotFound(clients.ecs, config.cluster, config.ecsServices.green),
  ]);
  const holder = lock ? await inspectLock(clients.sfn, lock) : null;
  return { config, holder };
}

/**
 * Why a held lock refuses a new start: a {@link ReleaseInProgressError} while its release runs, else
 * a {@link StaleLockError} saying how to check and clear it (a lock is never taken over).
 */
export function lockRefusal(holder: LockHolder): ReleaseInProgressError | StaleLockError {
  const { lock } = holder;
  return holder.active
    ? new ReleaseInProgressError(lock.service, lock.executionArn, lock.releaseId)
    : new StaleLockError(staleLockMessage(holder));
}

/**
 * StartExecution of the release state machine, named `releaseId`, with `input` as the execution
 * input. Returns the execution ARN. An `ExecutionAlreadyExists` error is thrown as it is: the
 * caller says what to do about it.
 */
export async function startReleaseExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  releaseId: string,
  input: ReleaseRequest,
): Promise<string> {
  const out = await withThrottlingRetry(`StartExecution ${releaseId}`, () =>
    sfn.send(new StartExecutionCommand({ stateMachineArn, name: releaseId, input: JSON.stringify(input) })),
  );
  // The response always carries the ARN; deriving it is only a fallback for the type.
  return out.executionArn ?? executionArnFor(stateMachineArn, releaseId);
}

/** True for Step Functions' "an execution with this name already exists". */
export function isExecutionAlreadyExists(error: unknown): boolean {
  return error instanceof Error && error.name === 'ExecutionAlreadyExists';
}

/**
 * {@link describeService}, with a missing cluster (which DescribeServices reports as an
 * exception, not as a failure entry) answered as the same {@link ResourceNotFoundError}.
 */
async function describeServiceOrNotFound(ecs: ECSClient, cluster: string, serviceName: string): Promise<void> {
  try {
    await describeService(ecs, cluster, serviceName);
  } catch (error) {
    if ((error as Error).name !== 'ClusterNotFoundException') throw error;
    throw new ResourceNotFoundError(
      `ECS cluster ${cluster} (for service ${serviceName}) does not exist. Check the service configuration.`,
      { cause: error },
    );
  }
}
