/**
 * The schema of the release events: source, detail-types and detail. Pure data and types, no
 * CDK, so the local environment (which publishes the state machine's own events on its local
 * bus) and the constructs (which publish the rest) share one definition without loading
 * aws-cdk-lib.
 */
import type { Verdict } from '../lambdas/shared/documents';

/** The `source` of every release event. */
export const RELEASE_EVENT_SOURCE = 'ecs-release';

/**
 * The `detail-type` of a request to start a release (detail = the release request), sent by a
 * person or a CI job with `events:PutEvents` on the default bus. Its `source` must be
 * {@link RELEASE_EVENT_SOURCE}: the rule matches nothing else, so IAM can decide who may request
 * a release with the `events:source` and `events:detail-type` condition keys.
 */
export const RELEASE_REQUESTED_DETAIL_TYPE = 'Release Requested';

/** The bus release events go to: the account's default bus. */
export const RELEASE_EVENT_BUS_NAME = 'default';

/**
 * The definition substitutions of the release state machine's PutEvents states, which
 * ReleasePipeline always provides (and the local runner too), so the ASL names neither the bus
 * nor the source itself.
 */
export const RELEASE_EVENT_SUBSTITUTIONS = {
  ReleaseEventBusName: RELEASE_EVENT_BUS_NAME,
  ReleaseEventSource: RELEASE_EVENT_SOURCE,
} as const;

/** The `detail-type` of each release event. */
export const RELEASE_EVENT_TYPES = {
  /** The execution started (before Plan: it may still be rejected). */
  started: 'Release Started',
  /** An approval gate is waiting; the detail names the gate and when it expires. */
  approvalRequested: 'Release Approval Requested',
  /**
   * A traffic step baked and was judged healthy; the detail names the step, its weight and the
   * verdict. Published by the release state machine itself (states `StepPassed` and
   * `LastStepPassed`), once per passed step, before the next shift or the promotion. Best
   * effort: a publish that fails after its retries is logged in the execution and the release
   * goes on.
   */
  stepPassed: 'Release Step Passed',
  /** The new colour is live. */
  promoted: 'Release Promoted',
  /** The release failed and was rolled back: traffic is back on the old colour. */
  rolledBack: 'Release Rolled Back',
  /** Refused before anything was touched (invalid request, no config, lock held). */
  rejected: 'Release Rejected',
  /** Needs an operator: the rollback failed, or the release promoted but could not tidy up. */
  failed: 'Release Failed',
  /** Stopped from outside (aborted, or the state machine's own timeout); cleanup rolls it back. */
  stopped: 'Release Stopped',
  /**
   * No release runs, yet the service is not as the release state says (route not 100/0 on the
   * live colour, idle colour running tasks, live colour on another revision). Published by the
   * reconciler on each run that finds drift; detail {@link ReleaseDriftDetail}. Nothing is fixed.
   */
  driftDetected: 'Release Drift Detected',
} as const;

/** What `detail.outcome` says, one per detail-type. */
export type ReleaseEventOutcome =
  | 'started'
  | 'approval-requested'
  | 'step-passed'
  | 'promoted'
  | 'rolled-back'
  | 'rejected'
  | 'failed'
  | 'stopped';

/** The `detail` of every release event. */
export interface ReleaseEventDetail {
  /** Bumped on any incompatible change. */
  readonly schemaVersion: 1;
  readonly service: string;
  /** The execution name, as the API's `/releases/{service}/{releaseId}` uses it. */
  readonly releaseId: string;
  readonly executionArn: string;
  readonly outcome: ReleaseEventOutcome;
  /** The execution's status (`RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`, `TIMED_OUT`); `null` for approval events. */
  readonly status: string | null;
  /** The error the execution failed with, e.g. `AlarmTriggeredError`; `null` when it did not fail. */
  readonly error: string | null;
  /** The error's cause as the engine wrote it (what went wrong, what to do next); `null` if none. */
  readonly cause: string | null;
  /**
   * The service's release dashboard in the console (`dashboardUrlOf`). Set by the events
   * publisher (every detail-type but `Release Step Passed`, which the state machine sends itself).
   */
  readonly dashboardUrl?: string;
  /** The approval gate (`before-traffic` or `before-promote`), approval events only. */
  readonly gate?: string;
  /** When the gate stops waiting (ISO 8601), approval events only. */
  readonly expiresAt?: string;
  /** The step that passed, counted from 1, step events only. */
  readonly step?: number;
  /** How many steps the release has, step events only (`step === stepCount` is the last). */
  readonly stepCount?: number;
  /** The new colour's share of traffic at that step, in percent, step events only. */
  readonly weight?: number;
  /**
   * The health verdict that passed the step, with its evidence (requests, 5xx, success rate,
   * p99, alarms in ALARM), thresholds, window and reasons; step events only. Its `stepIndex`
   * counts from 0, as the state machine does.
   */
  readonly verdict?: Verdict;
  /** When it happened (ISO 8601). */
  readonly at: string;
}

/**
 * The `detail` of a {@link RELEASE_EVENT_TYPES.driftDetected} event. It is about a service, not a
 * release, so it has no release id or execution. Declared next to the drift rules, which build it.
 */
export type { ReleaseDriftDetail } from '../lambdas/shared/drift';
