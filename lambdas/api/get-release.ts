import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  ApprovalDocumentSchema,
  LockDocumentSchema,
  parameterNames,
  ReleaseStateSchema,
  type ApprovalDocument,
  type LockDocument,
  type ReleaseRecord,
  type ReleaseState,
} from '../shared/documents';
import { ConfigNotFoundError, ResourceNotFoundError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { SsmDocuments } from '../shared/ssm-documents';
import {
  describeExecutionOrNull,
  executionArnFor,
  holderOf,
  inspectLock,
  isReleaseOfService,
  parseJsonOrRaw,
  type LockHolder,
} from './executions';
import { appendReleaseKeys, handleApiRequest, json, releaseIdParameter, requireEnv, serviceParameter } from './http';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-get-release');

/** The lock as the API shows it: who holds it, and whether that execution still runs. */
export interface LockSummary {
  readonly releaseId: string;
  readonly executionArn: string;
  readonly status: LockDocument['status'];
  readonly reason: string | null;
  readonly acquiredAt: string;
  readonly image: string;
  readonly version: string;
  readonly requestedBy: string | null;
  /** Status of the holding execution, or `DOES_NOT_EXIST`. */
  readonly executionStatus: string;
  /** True when the release no longer runs (or its rollback failed): someone must check and clear the lock. */
  readonly stale: boolean;
}

/** A waiting approval gate, without its task token (a token is a capability, not status). */
export interface ApprovalSummary {
  readonly releaseId: string;
  readonly gate: ApprovalDocument['gate'];
  readonly requestedAt: string;
  readonly expiresAt: string;
}

/** `GET /releases/{service}`: the service's current release status. */
export interface ServiceStatusResponse {
  readonly service: string;
  /** Which colour is live and what each colour runs; `null` before the first release. */
  readonly state: Pick<ReleaseState, 'live' | 'colours' | 'updatedAt'> | null;
  readonly lastRelease: ReleaseRecord | null;
  readonly lock: LockSummary | null;
  readonly approval: ApprovalSummary | null;
}

/** `GET /releases/{service}/{releaseId}`: one release. */
export interface ReleaseStatusResponse {
  readonly service: string;
  readonly releaseId: string;
  readonly executionArn: string;
  /** Execution status (`RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`...); `null` once Step Functions has forgotten it. */
  readonly status: string | null;
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: string | null;
  readonly cause: string | null;
  /** How it ended, from the release history; `null` while it runs. */
  readonly outcome: ReleaseRecord['outcome'] | null;
  readonly record: ReleaseRecord | null;
  /** Set while this release holds the service's lock. */
  readonly lock: LockSummary | null;
  /** Set while this release waits at an approval gate. */
  readonly approval: ApprovalSummary | null;
}

/**
 * `GET /releases/{service}` and `GET /releases/{service}/{releaseId}` (one function, routed on
 * the `releaseId` path parameter). Reads the state, lock and approval documents, and the
 * execution from Step Functions. 404 when the service has no configuration, or when neither Step
 * Functions nor the release history knows the release.
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const service = serviceParameter(event);
    if (event.pathParameters?.releaseId === undefined) {
      appendReleaseKeys(logger, { service });
      return json(200, await serviceStatus(service));
    }
    const releaseId = releaseIdParameter(event);
    appendReleaseKeys(logger, { service, releaseId });
    return json(200, await releaseStatus(service, releaseId, requireEnv('STATE_MACHINE_ARN')));
  });
}

async function serviceStatus(service: string): Promise<ServiceStatusResponse> {
  const names = parameterNames(service);
  const [config, state, lock, approval] = await Promise.all([
    // Only its existence matters here; start-release is where the configuration is validated.
    documents.getRaw(names.config),
    documents.get(names.state, ReleaseStateSchema),
    documents.get(names.lock, LockDocumentSchema),
    documents.get(names.approval, ApprovalDocumentSchema),
  ]);
  if (config === null) {
    throw new ConfigNotFoundError(`Service '${service}' has no release configuration (${names.config}). Check the service name.`);
  }
  const holder = lock ? await inspectLock(sfn, lock) : null;
  return {
    service,
    state: state ? { live: state.live, colours: state.colours, updatedAt: state.updatedAt } : null,
    lastRelease: state?.lastRelease ?? null,
    lock: holder ? lockSummary(holder) : null,
    approval: approval ? approvalSummary(approval) : null,
  };
}

async function releaseStatus(service: string, releaseId: string, stateMachineArn: string): Promise<ReleaseStatusResponse> {
  const names = parameterNames(service);
  const executionArn = executionArnFor(stateMachineArn, releaseId);
  const [found, state, lock, approval] = await Promise.all([
    describeExecutionOrNull(sfn, executionArn),
    documents.get(names.state, ReleaseStateSchema),
    documents.get(names.lock, LockDocumentSchema),
    documents.get(names.approval, ApprovalDocumentSchema),
  ]);
  const execution = found && isReleaseOfService(found, service) ? found : null;
  const record = findRecord(state, releaseId);
  if (!execution && !record) {
    throw new ResourceNotFoundError(
      `Service '${service}' has no release ${releaseId}. List its releases with GET /releases/${service}.`,
    );
  }
  const ownLock = lock?.releaseId === releaseId ? lock : null;
  return {
    service,
    releaseId,
    executionArn: execution?.executionArn ?? record?.executionArn ?? executionArn,
    status: execution?.status ?? null,
    startDate: execution?.startDate?.toISOString() ?? record?.startedAt ?? null,
    stopDate: execution?.stopDate?.toISOString() ?? record?.finishedAt ?? null,
    input: parseJsonOrRaw(execution?.input),
    output: parseJsonOrRaw(execution?.output),
    error: execution?.error ?? record?.failure?.error ?? null,
    cause: execution?.cause ?? record?.failure?.cause ?? null,
    outcome: record?.outcome ?? null,
    record,
    lock: ownLock ? lockSummary(holderOf(ownLock, execution)) : null,
    approval: approval?.releaseId === releaseId ? approvalSummary(approval) : null,
  };
}

/** The release's entry in the state's last release or history. */
function findRecord(state: ReleaseState | null, releaseId: string): ReleaseRecord | null {
  if (!state) return null;
  if (state.lastRelease?.id === releaseId) return state.lastRelease;
  return state.history.find((r) => r.id === releaseId) ?? null;
}

function lockSummary({ lock, executionStatus, active }: LockHolder): LockSummary {
  return {
    releaseId: lock.releaseId,
    executionArn: lock.executionArn,
    status: lock.status,
    reason: lock.reason,
    acquiredAt: lock.acquiredAt,
    image: lock.image,
    version: lock.version,
    requestedBy: lock.requestedBy,
    executionStatus,
    stale: !active,
  };
}

function approvalSummary(approval: ApprovalDocument): ApprovalSummary {
  return {
    releaseId: approval.releaseId,
    gate: approval.gate,
    requestedAt: approval.requestedAt,
    expiresAt: approval.expiresAt,
  };
}
