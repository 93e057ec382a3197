import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  ApprovalDocumentSchema,
  LockDocumentSchema,
  parameterNames,
  ReleaseStateSchema,
  type ApprovalDocument,
  type LockDocument,
  type ReleaseRecord,
  type ReleaseSummary,
  type ReleaseState,
} from '../shared/documents';
import { ConfigNotFoundError, ResourceNotFoundError } from '../shared/errors';
import type { SsmDocuments } from '../shared/ssm-documents';
import {
  describeExecutionOrNull,
  executionArnFor,
  holderOf,
  inspectLock,
  isReleaseOfService,
  parseJsonOrRaw,
  type LockHolder,
} from './executions';

/**
 * A service's release status and one release's status, read from the state, lock and approval
 * documents and from Step Functions. The API's `GET /releases/...` and the `ecs-release status`
 * CLI show the same facts.
 */

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
  /** The last release carries its verdicts; older history entries are summaries without them. */
  readonly record: ReleaseRecord | ReleaseSummary | null;
  /** Set while this release holds the service's lock. */
  readonly lock: LockSummary | null;
  /** Set while this release waits at an approval gate. */
  readonly approval: ApprovalSummary | null;
}

/**
 * The service's status: which colour is live, what each colour runs, the last release, the lock
 * (with whether its execution still runs) and a waiting approval.
 *
 * @throws ConfigNotFoundError when the service has no configuration.
 */
export async function serviceStatus(documents: SsmDocuments, sfn: SFNClient, service: string): Promise<ServiceStatusResponse> {
  const names = parameterNames(service);
  const [config, state, lock, approval] = await Promise.all([
    // Only its existence matters here; start-release is where the configuration is validated.
    documents.getRaw(names.config),
    documents.get(names.state, ReleaseStateSchema),
    documents.get(names.lock, LockDocumentSchema),
    documents.get(names.approval, ApprovalDocumentSchema),
  ]);
  if (config === null) throw configNotFound(service);
  const holder = lock ? await inspectLock(sfn, lock) : null;
  return {
    service,
    state: state ? { live: state.live, colours: state.colours, updatedAt: state.updatedAt } : null,
    lastRelease: state?.lastRelease ?? null,
    lock: holder ? lockSummary(holder) : null,
    approval: approval ? approvalSummary(approval) : null,
  };
}

/**
 * One release: its execution (looked up by the ARN derived from `stateMachineArn`), its record in
 * the history, and the lock or approval it holds.
 *
 * @param listHint how to list the service's releases, for the not-found message.
 * @throws ResourceNotFoundError when neither Step Functions nor the history knows the release.
 */
export async function releaseStatus(
  documents: SsmDocuments,
  sfn: SFNClient,
  service: string,
  releaseId: string,
  stateMachineArn: string,
  listHint = `List its releases with GET /releases/${service}.`,
): Promise<ReleaseStatusResponse> {
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
      `Service '${service}' has no release ${releaseId}. ${listHint}`,
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

/** The release's entry in the state's last release or history; `null` when it has none. */
export function findRecord(state: ReleaseState | null, releaseId: string): ReleaseRecord | ReleaseSummary | null {
  if (!state) return null;
  if (state.lastRelease?.id === releaseId) return state.lastRelease;
  return state.history.find((r) => r.id === releaseId) ?? null;
}

/** The lock as the API shows it (see {@link LockSummary}). */
export function lockSummary({ lock, executionStatus, active }: LockHolder): LockSummary {
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

/** A waiting approval without its task token. */
export function approvalSummary(approval: ApprovalDocument): ApprovalSummary {
  return {
    releaseId: approval.releaseId,
    gate: approval.gate,
    requestedAt: approval.requestedAt,
    expiresAt: approval.expiresAt,
  };
}

/**
 * Throws {@link ConfigNotFoundError} unless `/ecs-release/<service>/config` exists. Only existence
 * is checked: a misspelt service name should say so, not "nothing is running".
 */
export async function requireServiceConfigured(documents: SsmDocuments, service: string): Promise<void> {
  if ((await documents.getRaw(parameterNames(service).config)) === null) throw configNotFound(service);
}

function configNotFound(service: string): ConfigNotFoundError {
  return new ConfigNotFoundError(
    `Service '${service}' has no release configuration (${parameterNames(service).config}). Check the service name.`,
  );
}
