import * as z from 'zod';
import { ColourSchema } from './colours';
import { StrategySchema } from './config';

/**
 * The documents a release keeps in SSM Parameter Store, all under `/ecs-release/<service>/`:
 * `config` (see config.ts), `state`, `lock`, `bake` and `approval`. Their schemas live here so
 * every handler, the CLI and the local environment read and write the same shapes.
 */

/** Parameter names for one service. One prefix, so IAM can be scoped to it. */
export function parameterNames(service: string) {
  const prefix = `/ecs-release/${service}`;
  return {
    prefix,
    config: `${prefix}/config`,
    state: `${prefix}/state`,
    lock: `${prefix}/lock`,
    bake: `${prefix}/bake`,
    approval: `${prefix}/approval`,
  } as const;
}

/** What one colour runs. */
export const ColourSlotSchema = z.object({
  taskDefinitionArn: z.string().nullable(),
  image: z.string().nullable(),
  version: z.string().nullable(),
});
/** What one colour runs. */
export type ColourSlot = z.infer<typeof ColourSlotSchema>;

/**
 * The live colour's numbers a verdict compared with: over the same window (`same-window`), or,
 * at a step with no live traffic (100%), over the previous step's window (`previous-step`).
 */
export const BaselineSchema = z.object({
  colour: ColourSchema,
  requests: z.number(),
  errors5xx: z.number(),
  successRate: z.number().nullable(),
  p99LatencyMs: z.number().nullable(),
  p50LatencyMs: z.number().nullable(),
  from: z.enum(['same-window', 'previous-step']),
  window: z.object({ start: z.string(), end: z.string() }),
});
/** The live colour's numbers a verdict compared with. */
export type Baseline = z.infer<typeof BaselineSchema>;

/** The comparison of the new colour with the live one: the test, its result, what it could detect. */
export const ComparisonSchema = z.object({
  /** One-sided Newcombe hybrid score bound on the error-rate difference. */
  test: z.literal('newcombe-hybrid-score'),
  /** New minus live error rate (shares). */
  errorRateDifference: z.number(),
  /** The one-sided lower confidence bound of that difference. */
  lowerBound: z.number(),
  /** The new colour's error rate is worse beyond the tolerance at the confidence. */
  errorsWorse: z.boolean(),
  /** The smallest rise this window could show at 80% power; `null`: none (too few requests). */
  detectableDifference: z.number().nullable(),
  /** A latency statistic above ratio × live + allowance. */
  latencyWorse: z.boolean(),
  /** The comparison in one sentence, as the CLI and reports print it. */
  summary: z.string(),
});
/** The comparison of the new colour with the live one. */
export type Comparison = z.infer<typeof ComparisonSchema>;

/** The numbers a verdict is made from; `p50LatencyMs`, `baseline` and `comparison` only with relative judgement. */
const EvidenceSchema = z.object({
  requests: z.number(),
  errors5xx: z.number(),
  successRate: z.number().nullable(),
  p99LatencyMs: z.number().nullable(),
  alarmsInAlarm: z.array(z.string()),
  p50LatencyMs: z.number().nullable().optional(),
  baseline: BaselineSchema.optional(),
  comparison: ComparisonSchema.optional(),
});

/** A health verdict, with the evidence that made it. */
export const VerdictSchema = z.object({
  status: z.enum(['healthy', 'unhealthy', 'inconclusive']),
  reasons: z.array(z.string()),
  colour: ColourSchema,
  stepIndex: z.number().int(),
  weight: z.number().int(),
  attempt: z.number().int(),
  window: z.object({ start: z.string(), end: z.string() }),
  evidence: EvidenceSchema,
  thresholds: z.object({
    minSuccessRate: z.number(),
    maxP99LatencyMs: z.number(),
    minRequests: z.number(),
    /** Relative judgement's settings, when it was on. */
    relative: z
      .object({
        errorRateTolerance: z.number(),
        confidence: z.number(),
        latencyRatio: z.number(),
        latencyAllowanceMs: z.number(),
      })
      .optional(),
  }),
});
/** A health verdict with its evidence. */
export type Verdict = z.infer<typeof VerdictSchema>;

/**
 * A step's verdict as the state document keeps it: the decision and its numbers. The full
 * verdict (thresholds, window) stays in the execution output; the state document must fit in
 * one SSM parameter (8 KB), so it keeps only what an operator reads first.
 */
export const VerdictSummarySchema = z.object({
  stepIndex: z.number().int(),
  weight: z.number().int(),
  attempt: z.number().int(),
  status: z.enum(['healthy', 'unhealthy', 'inconclusive']),
  reasons: z.array(z.string()),
  evidence: EvidenceSchema,
});
/** A step's verdict, as the state document keeps it. */
export type VerdictSummary = z.infer<typeof VerdictSummarySchema>;

/** Longest reason kept per verdict in the state document. */
const MAX_REASON_CHARS = 300;

/** The part of a verdict the state document keeps. */
export function summariseVerdict(verdict: Verdict | VerdictSummary): VerdictSummary {
  return {
    stepIndex: verdict.stepIndex,
    weight: verdict.weight,
    attempt: verdict.attempt,
    status: verdict.status,
    reasons: verdict.reasons.map((r) => (r.length > MAX_REASON_CHARS ? `${r.slice(0, MAX_REASON_CHARS - 1)}…` : r)),
    evidence: { ...verdict.evidence, alarmsInAlarm: [...verdict.evidence.alarmsInAlarm] },
  };
}

/** How a release ended. */
export const ReleaseOutcomeSchema = z.enum(['promoted', 'rolled-back', 'failed', 'rollback-failed']);
/** How a release ended. */
export type ReleaseOutcome = z.infer<typeof ReleaseOutcomeSchema>;

/** One release, as the history keeps it: what, who, why, and how it ended. */
export const ReleaseSummarySchema = z.object({
  id: z.string(),
  executionArn: z.string(),
  image: z.string(),
  version: z.string(),
  fromColour: ColourSchema,
  toColour: ColourSchema,
  strategy: StrategySchema,
  outcome: ReleaseOutcomeSchema,
  startedAt: z.string(),
  finishedAt: z.string(),
  requestedBy: z.string().nullable(),
  reason: z.string().nullable(),
  /** Why it did not promote: the error name and message. */
  failure: z.object({ error: z.string(), cause: z.string() }).nullable(),
});
/** One release, as the history keeps it. */
export type ReleaseSummary = z.infer<typeof ReleaseSummarySchema>;

/** The last release: its summary plus every step's verdict. */
export const ReleaseRecordSchema = ReleaseSummarySchema.extend({ verdicts: z.array(VerdictSummarySchema) });
/** The last release, with its verdicts. */
export type ReleaseRecord = z.infer<typeof ReleaseRecordSchema>;

/** `/ecs-release/<service>/state`: which colour is live, what runs where, and recent history. */
export const ReleaseStateSchema = z.object({
  schemaVersion: z.literal(1),
  service: z.string(),
  live: ColourSchema,
  colours: z.object({ blue: ColourSlotSchema, green: ColourSlotSchema }),
  /** The newest release, with its verdicts. */
  lastRelease: ReleaseRecordSchema.nullable(),
  /**
   * Newest first (the first entry is `lastRelease`'s summary), trimmed to `historyLength` and to
   * what fits in one parameter; in the extreme case where even one summary does not fit, empty.
   */
  history: z.array(ReleaseSummarySchema),
  updatedAt: z.string(),
  /**
   * Only on the initial document the CDK app creates (`ReleasePipeline`): its `live` and slots
   * are what the app knew at synth time, not what was seen running, and a stack update since may
   * have changed what runs. LoadState checks them against the route and the services before a
   * release relies on them, and drops this field.
   */
  seededBy: z.literal('cdk').optional(),
});
/** The release state document. */
export type ReleaseState = z.infer<typeof ReleaseStateSchema>;

/** What rollback must restore, written into the lock once preflight has passed. */
export const UndoPlanSchema = z.object({
  live: ColourSchema,
  idle: ColourSchema,
  /** The idle ECS service as it was before the release touched it. */
  idleService: z.object({
    serviceName: z.string(),
    taskDefinitionArn: z.string(),
    desiredCount: z.number().int().min(0),
  }),
});
/** What rollback must restore. */
export type UndoPlan = z.infer<typeof UndoPlanSchema>;

/** `/ecs-release/<service>/lock`: who is releasing the service, and what to undo if it stops. */
export const LockDocumentSchema = z.object({
  service: z.string(),
  releaseId: z.string(),
  executionArn: z.string(),
  acquiredAt: z.string(),
  /** What is being released, so a cleanup that has only the lock can still record the release. */
  image: z.string(),
  version: z.string(),
  strategy: StrategySchema,
  requestedBy: z.string().nullable(),
  requestReason: z.string().nullable(),
  /**
   * `held` while the release runs; `rolling-back` once a rollback or cleanup has begun (a
   * traffic shift that finishes late sees it and undoes itself); `rollback-failed` when an
   * operator must act.
   */
  status: z.enum(['held', 'rolling-back', 'rollback-failed']),
  reason: z.string().nullable(),
  /** Missing until preflight passes: before that there is nothing to undo. */
  undo: UndoPlanSchema.nullable(),
});
/** The lock document. */
export type LockDocument = z.infer<typeof LockDocumentSchema>;

/** `/ecs-release/<service>/bake`: the task token of the running bake, for the alarm-watcher. */
export const BakeDocumentSchema = z.object({
  releaseId: z.string(),
  executionArn: z.string(),
  taskToken: z.string(),
  stepIndex: z.number().int(),
  weight: z.number().int(),
  alarmNames: z.array(z.string()),
  startedAt: z.string(),
});
/** The bake document. */
export type BakeDocument = z.infer<typeof BakeDocumentSchema>;

/** `/ecs-release/<service>/approval`: the task token of a waiting approval gate. */
export const ApprovalDocumentSchema = z.object({
  /** The service (the engine-wide release-event publisher reads it; absent in documents written before fleets). */
  service: z.string().optional(),
  releaseId: z.string(),
  executionArn: z.string(),
  taskToken: z.string(),
  gate: z.enum(['before-traffic', 'before-promote']),
  requestedAt: z.string(),
  expiresAt: z.string(),
});
/** The approval document. */
export type ApprovalDocument = z.infer<typeof ApprovalDocumentSchema>;
