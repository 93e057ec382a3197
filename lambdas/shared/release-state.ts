import type { Colour } from './colours';
import { otherColour } from './colours';
import { summariseVerdict, type ColourSlot, type ReleaseRecord, type ReleaseState, type ReleaseSummary } from './documents';

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

/** True when `state` already records release `releaseId` (a re-run must not record it twice). */
export function hasRecorded(state: ReleaseState, releaseId: string): boolean {
  return state.lastRelease?.id === releaseId || state.history.some((r) => r.id === releaseId);
}

/**
 * Largest state document, in characters, that one SSM parameter holds (the Advanced tier's
 * 8 KB, with room for the JSON of the parameter itself).
 */
export const MAX_STATE_CHARS = 8000;

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

/**
 * Trims `state` until its JSON fits in {@link MAX_STATE_CHARS}: oldest history entries first,
 * then the last release's verdict reasons. What it drops is still in the execution history of
 * those releases; what it keeps is always the live colour, the slots and the last outcome.
 */
export function fitToParameter(state: ReleaseState, maxChars = MAX_STATE_CHARS): ReleaseState {
  const size = (s: ReleaseState) => JSON.stringify(s).length;
  let fitted = state;
  while (size(fitted) > maxChars && fitted.history.length > 1) {
    fitted = { ...fitted, history: fitted.history.slice(0, -1) };
  }
  if (size(fitted) > maxChars && fitted.lastRelease) {
    const verdicts = fitted.lastRelease.verdicts.map((v) => ({ ...v, reasons: v.reasons.slice(0, 1).map((r) => r.slice(0, 80)) }));
    fitted = { ...fitted, lastRelease: { ...fitted.lastRelease, verdicts } };
  }
  if (size(fitted) > maxChars && fitted.lastRelease) {
    const verdicts = fitted.lastRelease.verdicts.map((v) => ({ ...v, reasons: [] }));
    fitted = { ...fitted, lastRelease: { ...fitted.lastRelease, verdicts } };
  }
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
  const recorded = recordRelease(state, record, historyLength, now);
  return { ...recorded, live: record.toColour, colours: { ...state.colours, [record.toColour]: slot } };
}
