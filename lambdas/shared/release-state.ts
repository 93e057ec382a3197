import type { Colour } from './colours';
import { otherColour } from './colours';
import type { ColourSlot, ReleaseRecord, ReleaseState } from './documents';

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

/** Appends `record` as the last release, keeping at most `historyLength` entries, newest first. */
export function recordRelease(state: ReleaseState, record: ReleaseRecord, historyLength: number, now: Date): ReleaseState {
  if (hasRecorded(state, record.id)) {
    // Replace in place: a rollback-failed record may later be superseded by an operator's fix.
    const history = state.history.map((r) => (r.id === record.id ? record : r));
    return { ...state, lastRelease: record, history, updatedAt: now.toISOString() };
  }
  return {
    ...state,
    lastRelease: record,
    history: [record, ...state.history].slice(0, historyLength),
    updatedAt: now.toISOString(),
  };
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
