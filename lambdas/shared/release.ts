import * as z from 'zod';
import { ColourSchema } from './colours';
import { ServiceConfigSchema, StrategySchema } from './config';
import { VerdictSchema } from './documents';

/**
 * The release as it travels through the state machine. `Plan` builds it once; every later task
 * receives the parts it needs through `Parameters`. The service configuration is embedded so a
 * config edit in the middle of a release cannot change how that release behaves.
 */

/** The execution input: what a user (API, EventBridge, CodePipeline) asks for. */
export const ReleaseRequestSchema = z.object({
  service: z.string().min(1).max(255).regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . - only'),
  /** A container image reference: `<repository>:<tag>` or `<repository>@sha256:<digest>`. */
  image: z
    .string()
    .min(3)
    .max(1024)
    .regex(
      /^[a-z0-9]+(?:[._\-/:][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$/,
      'must be <repository>:<tag> or <repository>@sha256:<digest>',
    ),
  strategy: StrategySchema.optional(),
  bakeSeconds: z.number().int().min(1).max(86_400).optional(),
  // Strict: a misspelt gate (`beforePromte`) would otherwise be dropped and the release would
  // run without the approval the caller asked for.
  approvals: z
    .strictObject({ beforeTraffic: z.boolean().optional(), beforePromote: z.boolean().optional() })
    .optional(),
  requestedBy: z.string().max(256).optional(),
  reason: z.string().max(1024).optional(),
});
/** A release request. */
export type ReleaseRequest = z.infer<typeof ReleaseRequestSchema>;

/** The planned release: request + configuration + schedule, fixed for the whole execution. */
export const PlannedReleaseSchema = z.object({
  id: z.string(),
  executionArn: z.string(),
  service: z.string(),
  image: z.string(),
  version: z.string(),
  strategy: StrategySchema,
  /** Idle-colour weight at each step, strictly increasing, ending at 100. */
  schedule: z.array(z.number().int()),
  bakeSeconds: z.number().int(),
  approvals: z.object({ beforeTraffic: z.boolean(), beforePromote: z.boolean() }),
  requestedBy: z.string().nullable(),
  reason: z.string().nullable(),
  startedAt: z.string(),
  config: ServiceConfigSchema,
});
/** The planned release. */
export type PlannedRelease = z.infer<typeof PlannedReleaseSchema>;

/** Which colour is live and which one this release deploys to, from LoadState. */
export const ColourAssignmentSchema = z.object({
  live: ColourSchema,
  idle: ColourSchema,
  liveTaskDefinitionArn: z.string(),
});
/** Colour assignment for this release. */
export type ColourAssignment = z.infer<typeof ColourAssignmentSchema>;

/** Where the release is in its schedule, and every verdict so far. */
export const ProgressSchema = z.object({
  stepIndex: z.number().int().min(0),
  /** Bakes at this step so far (inconclusive ones bake again). */
  attempt: z.number().int().min(0),
  verdicts: z.array(VerdictSchema),
  /** What the state machine does next. */
  decision: z.enum(['shift', 'bake-again', 'promote', 'rollback']),
  /** Set when `decision` is `rollback`: the error the release fails with. */
  failure: z.object({ Error: z.string(), Cause: z.string() }).nullable(),
});
/** Release progress. */
export type Progress = z.infer<typeof ProgressSchema>;

/** The error a `Catch` put at `$.error`. */
export const CaughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

/** Version label of an image: its tag, or the first 12 hex digits of its digest. */
export function versionOf(image: string): string {
  const digest = image.match(/@sha256:([a-f0-9]{12})/);
  if (digest) return digest[1];
  const tag = image.match(/:([A-Za-z0-9_][A-Za-z0-9_.-]*)$/);
  return tag ? tag[1] : 'latest';
}
