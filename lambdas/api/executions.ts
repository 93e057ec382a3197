import { randomBytes } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { LockDocument } from '../shared/documents';
import { withThrottlingRetry } from '../shared/retry';

/**
 * Release ids, execution ARNs and lock holders: how the API finds the execution behind a
 * release. A release id is the execution's name, so the ARN can be derived from the state
 * machine's ARN without a lookup table.
 */

/** Step Functions' limit on execution names. */
const MAX_EXECUTION_NAME = 80;
/** `-yyyymmddHHMMss-` plus six hex digits. */
const SUFFIX_LENGTH = 1 + 14 + 1 + 6;

/**
 * A new release id, `<service>-<yyyymmddHHMMss UTC>-<6 random hex>`, used as the execution name.
 * Characters other than letters, digits, `-` and `_` become `-` (Step Functions only logs
 * executions with such names to CloudWatch), and the service part is cut so the id fits in 80.
 *
 * @example
 * newReleaseId('colorapp', new Date('2025-03-04T05:06:07Z')); // 'colorapp-20250304050607-1a2b3c'
 */
export function newReleaseId(service: string, now: Date = new Date(), randomHex: () => string = () => randomBytes(3).toString('hex')): string {
  const safe = service.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, MAX_EXECUTION_NAME - SUFFIX_LENGTH);
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 14);
  return `${safe}-${stamp}-${randomHex()}`;
}

/**
 * The execution ARN of a release: `arn:<partition>:states:<region>:<account>:stateMachine:<name>`
 * becomes `arn:<partition>:states:<region>:<account>:execution:<name>:<releaseId>`.
 */
export function executionArnFor(stateMachineArn: string, releaseId: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine') {
    throw new Error(`STATE_MACHINE_ARN '${stateMachineArn}' is not a state machine ARN; the function is misconfigured.`);
  }
  return [...parts.slice(0, 5), 'execution', parts[6], releaseId].join(':');
}

/**
 * DescribeExecution, or `null` when the execution does not exist (deleted after its retention
 * period, or never started).
 */
export async function describeExecutionOrNull(
  sfn: SFNClient,
  executionArn: string,
): Promise<DescribeExecutionCommandOutput | null> {
  try {
    return await withThrottlingRetry(`DescribeExecution ${executionArn}`, () =>
      sfn.send(new DescribeExecutionCommand({ executionArn })),
    );
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return null;
    throw error;
  }
}

/** The execution holding a lock, as far as Step Functions knows it. */
export interface LockHolder {
  readonly lock: LockDocument;
  /** The execution's status, or `DOES_NOT_EXIST` (as `ReleaseLock.executionStatus` says it). */
  readonly executionStatus: ExecutionStatus | 'DOES_NOT_EXIST';
  /**
   * True while the release is in progress: its execution runs (or is about to be redriven) and
   * its rollback has not failed. A failed rollback's lock waits for an operator, like
   * `ReleaseLock.acquire` says.
   */
  readonly active: boolean;
}

/** Looks up the execution that holds `lock`. */
export async function inspectLock(sfn: SFNClient, lock: LockDocument): Promise<LockHolder> {
  return holderOf(lock, await describeExecutionOrNull(sfn, lock.executionArn));
}

/** The holder of `lock`, given its execution as DescribeExecution returned it (`null`: it does not exist). */
export function holderOf(lock: LockDocument, execution: DescribeExecutionCommandOutput | null): LockHolder {
  const executionStatus = execution?.status ?? 'DOES_NOT_EXIST';
  // PENDING_REDRIVE will run again and may touch the service, so it counts as running.
  const running = executionStatus === 'RUNNING' || executionStatus === 'PENDING_REDRIVE';
  return { lock, executionStatus, active: running && lock.status !== 'rollback-failed' };
}

/**
 * What to tell a user about a lock whose release is no longer in progress. The lock is never
 * taken over automatically: the release may have stopped half-way, so someone must check what
 * runs first, then clear it with the clear-lock function (which refuses a running holder).
 */
export function staleLockMessage(holder: LockHolder): string {
  const { lock, executionStatus } = holder;
  const execution = executionStatus === 'DOES_NOT_EXIST' ? 'no longer exists' : `is ${executionStatus}`;
  const head =
    `Service '${lock.service}' is locked by release ${lock.releaseId}, whose execution ${execution} ` +
    `(lock status '${lock.status}'${lock.reason ? `: ${lock.reason}` : ''}).`;
  const cleanupNote =
    lock.status === 'rolling-back' && executionStatus !== 'DOES_NOT_EXIST'
      ? ' Its cleanup may still be rolling it back: wait a minute and check the service status again.'
      : '';
  const clearInput = JSON.stringify({ service: lock.service, executionArn: lock.executionArn, operator: '<you>', reason: '<why>' });
  return (
    `${head}${cleanupNote} The lock is never taken over automatically. If it stays, check that the route ` +
    `sends 100% to the live colour and that the idle service is back on its previous revision, then clear ` +
    `the lock by invoking the clear-lock function with ${clearInput}.`
  );
}

/**
 * True when the execution's input names `service`, so `GET /releases/a/<id of a release of b>`
 * answers 404 instead of showing another service's release under the wrong name.
 */
export function isReleaseOfService(execution: DescribeExecutionCommandOutput, service: string): boolean {
  const input = parseJsonOrRaw(execution.input);
  return typeof input === 'object' && input !== null && (input as { service?: unknown }).service === service;
}

/** Parses a Step Functions JSON string; a value that is not JSON is returned as it is. */
export function parseJsonOrRaw(value: string | undefined): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
