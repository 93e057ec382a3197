import type { Colour } from './colours';
import { otherColour } from './colours';
import {
  summariseVerdict,
  type ColourSlot,
  type ReleaseOutcome,
  type ReleaseRecord,
  type ReleaseState,
  type ReleaseSummary,
  type VerdictSummary,
} from './documents';

/**
 * Pure transitions of the release state document. Handlers read the document, call one of
 * these, and write the result, so the rules are tested without AWS.
 */

/** A state for a service released for the first time, built from what is running. */
export function bootstrapState(
  service: string,
  live: Colour,
  colours: Record<Colour, ColourSlot>,
  now: Date,
): ReleaseState {
  return {
    schemaVersion: 1,
    service,
    live,
    colours,
    lastRelease: null,
    history: [],
    updatedAt: now.toISOString(),
  };
}

/**
 * `updatedAt` of a seeded state. Fixed, so the CDK template that carries the seed is the same on
 * every synth; a time this old also says plainly that no release has written the document yet.
 */
export const SEED_UPDATED_AT = '1970-01-01T00:00:00.000Z';

/**
 * The initial state the CDK app creates at deploy time (see `ReleasePipeline`): what it knew at
 * synth time, marked `seededBy` so LoadState checks it against what runs before relying on it.
 * A slot the app could not know is all nulls.
 */
export function seedState(service: string, live: Colour, colours: Record<Colour, ColourSlot>): ReleaseState {
  return { ...bootstrapState(service, live, colours, new Date(SEED_UPDATED_AT)), seededBy: 'cdk' };
}

/**
 * A seeded state once checked against what runs: `live` and the slots become what was observed
 * (as a bootstrap would have recorded them) and the seed mark goes. Releases it recorded in the
 * meantime (one that failed before its LoadState finished) stay in its history.
 */
export function confirmSeed(
  seed: ReleaseState,
  observed: { live: Colour; colours: Record<Colour, ColourSlot> },
  now: Date,
): ReleaseState {
  const confirmed: ReleaseState = { ...seed, live: observed.live, colours: observed.colours, updatedAt: now.toISOString() };
  delete confirmed.seededBy;
  return confirmed;
}

/** True when `state` already records release `releaseId` (a re-run must not record it twice). */
export function hasRecorded(state: ReleaseState, releaseId: string): boolean {
  return state.lastRelease?.id === releaseId || state.history.some((r) => r.id === releaseId);
}

/**
 * Largest state document, in UTF-8 bytes, that one SSM parameter holds: the Advanced tier's
 * 8 KB (SSM counts bytes, so a non-ASCII reason weighs more than its length), with some room
 * to spare.
 */
export const MAX_STATE_BYTES = 8000;

/** Size of `state` as SSM counts it: the UTF-8 bytes of its JSON. */
export function stateSize(state: ReleaseState): number {
  return Buffer.byteLength(JSON.stringify(state), 'utf8');
}

/** How `state` recorded release `releaseId` (last release or history); `null` if it did not. */
export function recordedOutcome(state: ReleaseState, releaseId: string): ReleaseOutcome | null {
  if (state.lastRelease?.id === releaseId) return state.lastRelease.outcome;
  return state.history.find((r) => r.id === releaseId)?.outcome ?? null;
}

/**
 * Records `record` as the last release and puts its summary at the head of the history (a
 * re-run replaces its own entry instead of adding one), keeping at most `historyLength`
 * entries, then trims the document to fit one parameter ({@link fitToParameter}).
 */
export function recordRelease(state: ReleaseState, record: ReleaseRecord, historyLength: number, now: Date): ReleaseState {
  const { verdicts, ...summary } = record;
  const lastRelease: ReleaseRecord = { ...summary, verdicts: verdicts.map(summariseVerdict) };
  const others = state.history.filter((r) => r.id !== record.id);
  const history: ReleaseSummary[] = [summary, ...others].slice(0, historyLength);
  return fitToParameter({ ...state, lastRelease, history, updatedAt: now.toISOString() });
}

/** Longest free text (a failure's cause, a request's reason) kept when the document must give up text to fit. */
const SHORT_TEXT_CHARS = 200;

/** `text` cut to `max` characters, the cut marked with an ellipsis. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A record (or summary) with its free text clipped; what identifies it and its outcome stay. */
function withShortText<R extends ReleaseSummary>(record: R): R {
  return {
    ...record,
    reason: record.reason === null ? null : clip(record.reason, SHORT_TEXT_CHARS),
    failure: record.failure && { error: record.failure.error, cause: clip(record.failure.cause, SHORT_TEXT_CHARS) },
  };
}

/** The last release with its verdicts changed by `change`. */
function withVerdicts(state: ReleaseState, change: (verdicts: VerdictSummary[]) => VerdictSummary[]): ReleaseState {
  return state.lastRelease ? { ...state, lastRelease: { ...state.lastRelease, verdicts: change(state.lastRelease.verdicts) } } : state;
}

/**
 * Trims `state` until it fits in `maxBytes` ({@link MAX_STATE_BYTES}), giving up the least
 * useful part first: the oldest history entries; then long free text (failure causes, request
 * reasons) in the history's head, which repeats the last release in full; then the last
 * release's verdict reasons (first reason only, then none: the numbers stay); then the last
 * release's own long free text; then its oldest verdicts (the newest, deciding one stays); and
 * last the history's head. Everything it drops is still in those releases' execution histories.
 * It never drops the live colour, the slots or the last release's outcome, so with inputs the
 * schemas accept the result always fits.
 */
export function fitToParameter(state: ReleaseState, maxBytes = MAX_STATE_BYTES): ReleaseState {
  const fits = (s: ReleaseState) => stateSize(s) <= maxBytes;
  let fitted = state;
  while (!fits(fitted) && fitted.history.length > 1) {
    fitted = { ...fitted, history: fitted.history.slice(0, -1) };
  }
  const trims: ((s: ReleaseState) => ReleaseState)[] = [
    (s) => ({ ...s, history: s.history.map(withShortText) }),
    (s) => withVerdicts(s, (vs) => vs.map((v) => ({ ...v, reasons: v.reasons.slice(0, 1).map((r) => clip(r, 80)) }))),
    (s) => withVerdicts(s, (vs) => vs.map((v) => ({ ...v, reasons: [] }))),
    (s) => ({ ...s, lastRelease: s.lastRelease && withShortText(s.lastRelease) }),
  ];
  for (const trim of trims) {
    if (fits(fitted)) return fitted;
    fitted = trim(fitted);
  }
  while (!fits(fitted) && (fitted.lastRelease?.verdicts.length ?? 0) > 1) {
    fitted = withVerdicts(fitted, (vs) => vs.slice(1));
  }
  if (!fits(fitted)) fitted = { ...fitted, history: [] };
  return fitted;
}

/**
 * Promotion: the release's colour becomes live and the slot records what it runs. Throws if
 * the record is not a promotion of the currently idle colour.
 */
export function promote(
  state: ReleaseState,
  record: ReleaseRecord,
  slot: ColourSlot,
  historyLength: number,
  now: Date,
): ReleaseState {
  if (record.outcome !== 'promoted') throw new Error(`promote() needs a promoted record, got ${record.outcome}`);
  if (record.toColour !== otherColour(state.live)) {
    throw new Error(`Cannot promote ${record.toColour}: it is already live`);
  }
  // The slot changes before the record is added, so the size guard weighs the new slot too.
  const flipped: ReleaseState = { ...state, live: record.toColour, colours: { ...state.colours, [record.toColour]: slot } };
  return recordRelease(flipped, record, historyLength, now);
}
