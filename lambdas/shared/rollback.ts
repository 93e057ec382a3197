import type { ECSClient } from '@aws-sdk/client-ecs';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Logger } from '@aws-lambda-powertools/logger';
import { otherColour } from './colours';
import type { ServiceConfig } from './config';
import {
  ApprovalDocumentSchema,
  BakeDocumentSchema,
  ReleaseStateSchema,
  parameterNames,
  type LockDocument,
  type ReleaseOutcome,
  type ReleaseRecord,
  type ReleaseState,
  type UndoPlan,
  type Verdict,
} from './documents';
import { restoreService } from './ecs';
import { RollbackFailedError, StateConflictError } from './errors';
import { ReleaseLock } from './lock';
import { recordedOutcome, recordRelease } from './release-state';
import { SsmDocuments } from './ssm-documents';
import { createTrafficRouter } from './traffic/create-traffic-router';
import { WeightMetricRouter } from './weight-metric';

/** AWS clients the rollback uses. */
export interface RollbackClients {
  readonly ssm: SSMClient;
  readonly ecs: ECSClient;
  readonly sfn: SFNClient;
}

/** Which release to roll back, and why. */
export interface RollbackRequest {
  readonly service: string;
  readonly releaseId: string;
  readonly executionArn: string;
  readonly config: ServiceConfig;
  /** The error that made the release fail: name and human message. */
  readonly failure: { readonly error: string; readonly cause: string };
  readonly verdicts: readonly Verdict[];
}

/**
 * What {@link markRollbackFailed} needs: a rollback request whose service configuration may be
 * unknown, because loading it is one of the things that can fail.
 */
export type FailedRollbackRequest = Omit<RollbackRequest, 'config'> & { readonly config: ServiceConfig | null };

/**
 * The rollback request for a release the state machine is rolling back: the error a Catch put
 * at `$.error` (a Lambda error's cause unwrapped) and the verdicts so far.
 */
export function rollbackRequestOf(
  release: { id: string; service: string; executionArn: string; config: ServiceConfig },
  verdicts: readonly Verdict[],
  error: { Error: string; Cause?: string },
): RollbackRequest {
  return {
    service: release.service,
    releaseId: release.id,
    executionArn: release.executionArn,
    config: release.config,
    failure: { error: error.Error, cause: causeMessage(error.Cause) },
    verdicts,
  };
}

/** What the rollback did, step by step, for the execution output and the logs. */
export interface RollbackReport {
  /**
   * `rolled-back`: traffic and the idle service restored; `failed`: nothing to undo (failure
   * before preflight), recorded; `already-promoted`: the state already records this release as
   * promoted, so nothing was undone and only the lock was released (by this run, or by an
   * earlier attempt of it); `already-recorded` and `not-ours`: the lock was not this release's,
   * nothing touched.
   */
  readonly outcome: 'rolled-back' | 'failed' | 'already-promoted' | 'already-recorded' | 'not-ours';
  readonly actions: string[];
}

/**
 * Undoes a release, in an order that is safe at every point: mark the lock `rolling-back` (so a
 * late traffic shift undoes itself), send all traffic back to the live colour, revert the idle
 * service to its previous revision and size, record the release, then release the lock. Every
 * action is idempotent, so a retry after a partial failure completes the job. What to undo
 * comes from the lock's undo plan; with no plan (failure before preflight passed) nothing is
 * undone, only recorded. A release the state already records as promoted (Promote failed after
 * its write, e.g. a task timeout) is not undone: the promotion write is the commit point, as in
 * cleanup, and undoing traffic under a state that says the new colour is live would leave the two
 * disagreeing. If an action fails, a {@link RollbackFailedError} says which one and what was
 * already done.
 */
export async function performRollback(
  clients: RollbackClients,
  request: RollbackRequest,
  logger: Logger,
): Promise<RollbackReport> {
  const docs = new SsmDocuments(clients.ssm);
  const lock = new ReleaseLock(clients.ssm, clients.sfn);
  const names = parameterNames(request.service);
  const actions: string[] = [];
  const step = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
    try {
      const result = await action();
      actions.push(what);
      return result;
    } catch (error) {
      throw new RollbackFailedError(
        `Rollback of release ${request.releaseId} of '${request.service}' failed at: ${what}. ` +
          `Done before: ${actions.length ? actions.join('; ') : 'nothing'}. Cause: ${(error as Error).name}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  };

  const held = await step('read the lock', () => lock.read(request.service));
  if (!held || held.executionArn !== request.executionArn) {
    const state = await step('read the state', () => docs.get(names.state, ReleaseStateSchema));
    const recorded = state ? recordedOutcome(state, request.releaseId) : null;
    // Either an earlier attempt finished the rollback (lock gone, release recorded), or this
    // execution never got the lock: in both cases there is nothing of ours to touch. An earlier
    // attempt that found the release promoted and released the lock says so again, so the
    // state machine still ends in PromotedBeforeTheError rather than RolledBack.
    logger.warn('Rollback found no lock of this release; touching nothing', { holder: held?.executionArn ?? null, recorded });
    if (recorded === 'promoted') return { outcome: 'already-promoted', actions };
    return { outcome: recorded ? 'already-recorded' : 'not-ours', actions };
  }

  if (held.status === 'held') {
    await step('mark the lock rolling-back', () =>
      lock.update(request.service, request.executionArn, (l) => ({ ...l, status: 'rolling-back', reason: request.failure.error })),
    );
  }

  // Read after the lock is marked, so a Promote still in flight either wrote already (seen here)
  // or finds the lock rolling-back and refuses. A state we cannot read does not stop traffic from
  // being restored; the record step reads it again and fails loudly.
  const state = await docs.get(names.state, ReleaseStateSchema).catch((error: unknown) => {
    logger.warn('Could not read the state before undoing; undoing anyway', { error: (error as Error).message });
    return null;
  });
  if (state?.lastRelease?.id === request.releaseId && state.lastRelease.outcome === 'promoted') {
    // A promotion that landed while an earlier attempt of this rollback was undoing (Promote's
    // Lambda outliving its task timeout) leaves a state that says "new colour live" over traffic
    // already back on the old one. Only the route can tell: never paper over that.
    if (held.undo) await step('check traffic agrees with the promotion', () => assertTrafficOnNewColour(request, held.undo!));
    logger.warn('The state records this release as promoted; not undoing it, only releasing the lock', { live: state.live });
    await step('clear the bake and approval documents', () => clearGateDocuments(docs, request));
    await step('release the lock', () => lock.release(request.service, request.executionArn));
    return { outcome: 'already-promoted', actions };
  }

  const undo = held.undo;
  if (undo) {
    const colours = { live: undo.live, idle: undo.idle };
    // The 100/0 goes on the release dashboard beside the numbers that caused it.
    const router = new WeightMetricRouter(createTrafficRouter(request.config.traffic, colours), request.service, colours, logger);
    await step(`restore traffic 100/0 to ${undo.live} on ${router.describe()}`, async () => {
      await router.setWeights({ live: 100, idle: 0 });
      const after = await router.getWeights();
      if (after.live !== 100 || after.idle !== 0) {
        throw new StateConflictError(`route reads ${after.live}/${after.idle} after setting 100/0`);
      }
    });
    logger.info('Traffic restored', { live: undo.live });
    await step(`revert ${undo.idleService.serviceName} to ${undo.idleService.taskDefinitionArn} x${undo.idleService.desiredCount}`, () =>
      restoreService(clients.ecs, request.config.cluster, undo.idleService),
    );
  }

  const outcome: ReleaseOutcome = undo ? 'rolled-back' : 'failed';
  await step('record the release in the state', () =>
    recordOutcome(docs, names.state, held, request, outcome, undo ? { from: undo.live, to: undo.idle } : null),
  );
  await step('clear the bake and approval documents', () => clearGateDocuments(docs, request));
  await step('release the lock', () => lock.release(request.service, request.executionArn));
  logger.info('Rollback complete', { outcome, actions });
  return { outcome, actions };
}

/**
 * Records that rollback could not complete: the state says `rollback-failed` and the lock stays,
 * with the reason, so no new release starts on top of a half-undone one. Only a lock this
 * execution still holds is changed and used for the record; a promoted record is left as it is.
 * `stateRecorded` says whether the state document was actually written.
 */
export async function markRollbackFailed(
  clients: RollbackClients,
  request: FailedRollbackRequest,
  rollbackError: string,
  logger: Logger,
): Promise<{ lockKept: boolean; stateRecorded: boolean }> {
  const docs = new SsmDocuments(clients.ssm);
  const lock = new ReleaseLock(clients.ssm, clients.sfn);
  const held = await lock.read(request.service);
  let lockKept = false;
  if (held && held.executionArn === request.executionArn) {
    await lock.update(request.service, request.executionArn, (l) => ({
      ...l,
      status: 'rollback-failed',
      reason: `${request.failure.error}: ${request.failure.cause} | rollback failed: ${rollbackError}`.slice(0, 2000),
    }));
    lockKept = true;
  }
  let stateRecorded = false;
  // Only our own lock says what this release deployed: another release's lock would put its
  // image, version and colours into our record.
  if (lockKept && held) {
    const failure = { error: request.failure.error, cause: `${request.failure.cause} | rollback failed: ${rollbackError}` };
    stateRecorded = await recordOutcome(docs, parameterNames(request.service).state, held, { ...request, failure }, 'rollback-failed',
      held.undo ? { from: held.undo.live, to: held.undo.idle } : null);
  }
  logger.error('ROLLBACK FAILED: operator action needed', { rollbackError, lockKept, stateRecorded });
  return { lockKept, stateRecorded };
}

async function recordOutcome(
  docs: SsmDocuments,
  stateName: string,
  lock: LockDocument,
  request: FailedRollbackRequest,
  outcome: ReleaseOutcome,
  colours: { from: 'blue' | 'green'; to: 'blue' | 'green' } | null,
): Promise<boolean> {
  const state: ReleaseState | null = await docs.get(stateName, ReleaseStateSchema);
  if (!state) return false; // Failed before the state existed: there is no history to write to.
  // A promotion is final (see performRollback): it is never rewritten as rolled back or failed.
  // But if it landed while this rollback was undoing traffic, state and traffic now disagree.
  if (state.lastRelease?.id === request.releaseId && state.lastRelease.outcome === 'promoted') {
    if (outcome === 'rolled-back') {
      throw new StateConflictError(
        `the state records release ${request.releaseId} as promoted (to ${state.live}), but this rollback has already sent traffic back; ` +
          'the promotion landed during the rollback. Decide which colour should be live, then fix the route or the state by hand',
      );
    }
    return false;
  }
  const now = new Date();
  const record: ReleaseRecord = {
    id: request.releaseId,
    executionArn: request.executionArn,
    image: lock.image,
    version: lock.version,
    fromColour: colours?.from ?? state.live,
    toColour: colours?.to ?? otherColour(state.live),
    strategy: lock.strategy,
    outcome,
    startedAt: lock.acquiredAt,
    finishedAt: now.toISOString(),
    requestedBy: lock.requestedBy,
    reason: lock.requestReason,
    failure: { error: request.failure.error, cause: request.failure.cause.slice(0, 4000) },
    verdicts: [...request.verdicts],
  };
  // Without the configuration (it could not be loaded) the history keeps every entry it has.
  const historyLength = request.config?.historyLength ?? state.history.length + 1;
  await docs.put(stateName, recordRelease(state, record, historyLength, now), { overwrite: true });
  return true;
}

async function assertTrafficOnNewColour(request: RollbackRequest, undo: UndoPlan): Promise<void> {
  const router = createTrafficRouter(request.config.traffic, { live: undo.live, idle: undo.idle });
  const weights = await router.getWeights();
  if (weights.idle !== 100) {
    throw new StateConflictError(
      `the state records release ${request.releaseId} as promoted to ${undo.idle}, but ${router.describe()} sends ${undo.live} ${weights.live} / ${undo.idle} ${weights.idle}. ` +
        'The promotion landed during a rollback; decide which colour should be live, then fix the route or the state by hand',
    );
  }
}

async function clearGateDocuments(docs: SsmDocuments, request: RollbackRequest): Promise<void> {
  const names = parameterNames(request.service);
  const bake = await docs.get(names.bake, BakeDocumentSchema).catch(() => null);
  if (bake?.executionArn === request.executionArn) await docs.delete(names.bake);
  const approval = await docs.get(names.approval, ApprovalDocumentSchema).catch(() => null);
  if (approval?.executionArn === request.executionArn) await docs.delete(names.approval);
}

/**
 * The message of a caught Step Functions error. A Lambda error's `Cause` is a JSON string
 * (`{"errorType","errorMessage",...}`); anything else is used as it is.
 */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: a plain cause
  }
  return cause;
}
