import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import type { ApprovalDocument, LockDocument, Verdict } from '../lambdas/shared/documents';
import { ShiftResultSchema } from '../lambdas/shared/health/progress';
import { ColourAssignmentSchema, ProgressSchema } from '../lambdas/shared/release';
import { formatDuration, formatVerdictShort } from './format';

/**
 * Where a running release is, read from its execution history: the state it is in, the step
 * schedule, the weights in force and the verdicts so far. Pure, so every rendering has a test.
 *
 * Every state's input and output is the whole execution state (`$.release`, `$.colours`,
 * `$.shift`, `$.progress`, `$.error`), so the newest event that carries data says everything.
 */

/** Colour-relative weights mapped onto the colours. */
export interface ColourWeights {
  readonly blue: number;
  readonly green: number;
}

/** A running release, as far as its history says. */
export interface ReleaseSnapshot {
  /** The state the execution entered last; `null` before the first. */
  readonly stateName: string | null;
  /** What that state means to a person: `deploying green`, `baking`, `rolling back`... */
  readonly phase: string;
  /** Idle-colour weight per step; `null` until Plan has run. */
  readonly schedule: readonly number[] | null;
  /** 1-based step whose traffic is in force or being shifted to; 0 before any traffic moved. */
  readonly step: number;
  readonly live: 'blue' | 'green' | null;
  readonly idle: 'blue' | 'green' | null;
  /** The weights in force; `null` until LoadState says which colour is live. */
  readonly weights: ColourWeights | null;
  readonly verdicts: readonly Verdict[];
  /** The error the release fails with, once one is caught (rollback under way). */
  readonly error: { readonly Error: string; readonly Cause?: string } | null;
}

const ExecutionDataSchema = z.object({
  release: z.object({ schedule: z.array(z.number().int()) }).optional(),
  colours: ColourAssignmentSchema.optional(),
  shift: ShiftResultSchema.optional(),
  progress: ProgressSchema.optional(),
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
type ExecutionData = z.infer<typeof ExecutionDataSchema>;

/** States whose name says "preparing"; everything before the idle colour is touched. */
const PREPARING = new Set(['Plan', 'AcquireLock', 'LoadState', 'Preflight']);
const DEPLOYING = new Set(['RegisterTaskDefinition', 'DeployIdle', 'WaitForStability', 'CheckStability', 'IsStable']);

/**
 * What a state means to a person. Unknown states show their own name, so a new state in the ASL
 * is visible rather than hidden.
 */
export function phaseOf(stateName: string | null, idle: string | null): string {
  if (stateName === null) return 'starting';
  if (PREPARING.has(stateName)) return 'preparing';
  if (DEPLOYING.has(stateName)) return `deploying ${idle ?? 'the idle colour'}`;
  switch (stateName) {
    case 'ApprovalBeforeTraffic?':
    case 'ApprovalBeforePromote?':
      return 'checking approvals';
    case 'ApproveTraffic':
    case 'ApprovePromotion':
      return 'waiting for approval';
    case 'ShiftTraffic':
      return 'shifting traffic';
    case 'Bake':
      return 'baking';
    case 'CheckHealth':
    case 'HealthDecision':
      return 'checking health';
    case 'StepPassed':
    case 'LastStepPassed':
      return 'step passed';
    case 'Promote':
    case 'KeepOldColourWarm?':
      return 'promoting';
    case 'WaitBeforeScaleDown':
    case 'ScaleDownOldColour':
      return 'scaling down the old colour';
    case 'ReleaseLock':
    case 'Released':
      return 'releasing the lock';
    case 'HealthFailed':
    case 'ApprovalTimedOut':
    case 'Rollback':
    case 'RolledBack':
      return 'rolling back';
    case 'MarkRollbackFailed':
    case 'RollbackFailed':
      return 'ROLLBACK FAILED';
    case 'Rejected':
      return 'refused';
    default:
      return stateName;
  }
}

/** The snapshot from history events, in any order (newest first is what the CLI asks for). */
export function snapshotFromHistory(events: readonly HistoryEvent[]): ReleaseSnapshot {
  const newestFirst = [...events].sort((a, b) => (b.id ?? 0) - (a.id ?? 0));
  const entered = newestFirst.find((e) => e.stateEnteredEventDetails?.name !== undefined);
  const stateName = entered?.stateEnteredEventDetails?.name ?? null;
  let data: ExecutionData = {};
  for (const event of newestFirst) {
    const raw = event.stateEnteredEventDetails?.input ?? event.stateExitedEventDetails?.output;
    const parsed = raw === undefined ? null : parseData(raw);
    if (parsed?.release) {
      data = parsed;
      break;
    }
  }
  const live = data.colours?.live ?? null;
  const idle = data.colours?.idle ?? null;
  const schedule = data.release?.schedule ?? null;
  // While ShiftTraffic runs, the step is the one being shifted to; the weights are still the old ones.
  let step = data.shift ? data.shift.stepIndex + 1 : 0;
  if (stateName === 'ShiftTraffic' && data.progress) step = data.progress.stepIndex + 1;
  let weights: ColourWeights | null = null;
  if (live && idle) {
    const split = data.shift?.weights ?? { live: 100, idle: 0 };
    weights = live === 'blue' ? { blue: split.live, green: split.idle } : { blue: split.idle, green: split.live };
  }
  return {
    stateName,
    phase: phaseOf(stateName, idle),
    schedule,
    step,
    live,
    idle,
    weights,
    verdicts: data.progress?.verdicts ?? [],
    error: data.error ?? null,
  };
}

function parseData(raw: string): ExecutionData | null {
  try {
    const parsed = ExecutionDataSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Everything one progress line shows. */
export interface ProgressView {
  readonly snapshot: ReleaseSnapshot;
  /** The release's own lock (another release's is not shown). */
  readonly lock: LockDocument | null;
  /** The release's own waiting approval. */
  readonly approval: ApprovalDocument | null;
  readonly elapsedMs: number;
  readonly service: string;
}

/** What is happening now, in words: the phase, or the gate and lock facts that override it. */
export function activity(view: ProgressView): string {
  const { snapshot, lock, approval, service } = view;
  if (approval) {
    return `waiting for approval (${approval.gate}): ecs-release approve --service ${service}`;
  }
  if (lock && lock.status !== 'held') {
    return `${lock.status === 'rollback-failed' ? 'ROLLBACK FAILED' : 'rolling back'}${lock.reason ? `: ${lock.reason}` : ''}`;
  }
  if (snapshot.phase === 'rolling back' && snapshot.error) {
    return `rolling back: ${snapshot.error.Error}`;
  }
  return snapshot.phase;
}

/** `blue 90 / green 10`, live colour first. */
export function formatWeights(snapshot: ReleaseSnapshot): string {
  if (!snapshot.weights || !snapshot.live || !snapshot.idle) return 'weights unknown';
  return `${snapshot.live} ${snapshot.weights[snapshot.live]} / ${snapshot.idle} ${snapshot.weights[snapshot.idle]}`;
}

function stepText(snapshot: ReleaseSnapshot): string {
  return snapshot.schedule ? `step ${snapshot.step}/${snapshot.schedule.length}` : 'step -';
}

function lastVerdictText(snapshot: ReleaseSnapshot): string {
  const last = snapshot.verdicts[snapshot.verdicts.length - 1];
  return last ? `last verdict: ${formatVerdictShort(last)}` : 'no verdict yet';
}

/**
 * One plain progress line, for logs and pipes:
 * `[00:42] step 2/3 · blue 50 / green 50 · baking · last verdict: healthy (99.9%, 1234 req)`.
 */
export function plainLine(view: ProgressView): string {
  return `[${formatDuration(view.elapsedMs, 'clock')}] ${statusText(view)}`;
}

/** The line without the clock: a new plain line is printed only when this changes. */
export function statusText(view: ProgressView): string {
  const { snapshot } = view;
  return [stepText(snapshot), formatWeights(snapshot), activity(view), lastVerdictText(snapshot)].join(' · ');
}

const BAR_WIDTH = 20;

/**
 * The terminal progress bar: the bar fills with the new colour's share of traffic.
 * `[████░░░░░░░░░░░░░░░░] green 20% · step 1/3 · baking · last verdict: healthy (99.9%, 1234 req) · 00:42`,
 * cut to `columns`.
 */
export function barLine(view: ProgressView, columns: number): string {
  const { snapshot } = view;
  const share = snapshot.weights && snapshot.idle ? snapshot.weights[snapshot.idle] : 0;
  const filled = Math.round((share / 100) * BAR_WIDTH);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`;
  const colour = snapshot.idle ? `${snapshot.idle} ${share}%` : '';
  const line = [`${bar} ${colour}`.trimEnd(), stepText(snapshot), activity(view), lastVerdictText(snapshot), formatDuration(view.elapsedMs, 'clock')].join(
    ' · ',
  );
  const max = Math.max(20, columns - 1);
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Draws progress: a bar redrawn in place on a terminal; otherwise a plain line each time the
 * status changes (not on every poll, so logs stay short).
 */
export class ProgressRenderer {
  private lastStatus: string | null = null;
  private drawn = false;

  constructor(private readonly io: { err(line: string): void; rewrite(line: string): void; interactive: boolean; columns: number }) {}

  /** Shows `view`. */
  update(view: ProgressView): void {
    if (this.io.interactive) {
      this.io.rewrite(barLine(view, this.io.columns));
      this.drawn = true;
      return;
    }
    const status = statusText(view);
    if (status !== this.lastStatus) {
      this.io.err(plainLine(view));
      this.lastStatus = status;
    }
  }

  /** Ends the bar's line (the last bar stays visible), so what follows starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.io.err('');
    this.drawn = false;
  }

  /** Writes a note on its own line without losing the bar. */
  note(line: string): void {
    this.finish();
    this.io.err(line);
  }
}
