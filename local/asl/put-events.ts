/**
 * The `arn:aws:states:::events:putEvents` integration, for Task states run locally: what
 * EventBridge accepts from the state's `Parameters`, what the task returns, and the error it
 * fails with. Pure, so the local Step Functions service (which publishes on the local bus) and
 * the path-test harness (which records) run the same rules.
 *
 * As in AWS:
 * - `Detail` may be a JSON object (Step Functions serialises it) or a string holding one;
 * - the execution ARN and the state machine ARN are appended to each entry's `Resources`;
 * - an entry EventBridge refuses does not fail the others, but the task then fails with
 *   `EventBridge.FailedEntry`;
 * - the result is PutEvents' response: `{ Entries: [{ EventId }], FailedEntryCount: 0 }`.
 *
 * The local bus is the default bus: any other `EventBusName` is refused like a bus that does
 * not exist.
 */

/** The most entries one PutEvents call takes. */
export const MAX_PUT_EVENTS_ENTRIES = 10;

/** An event EventBridge accepted: what goes on the bus. */
export interface AcceptedEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown>;
  readonly resources: string[];
}

/** What EventBridge made of one request entry, in request order. */
export type EntryOutcome =
  | { readonly accepted: true; readonly event: AcceptedEvent }
  | { readonly accepted: false; readonly errorCode: string; readonly errorMessage: string };

/** Who calls PutEvents: the execution and its state machine, whose ARNs go into `Resources`. */
export interface PutEventsCaller {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly region: string;
  readonly account: string;
}

/** PutEvents' response, as the task returns it. */
export interface PutEventsResponse {
  readonly Entries: Array<{ EventId: string } | { ErrorCode: string; ErrorMessage: string }>;
  readonly FailedEntryCount: number;
}

/** A failure of the integration, named as Step Functions names it (`EventBridge.FailedEntry`, ...). */
export class PutEventsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * What EventBridge makes of the `Parameters` of a PutEvents task: one outcome per entry.
 *
 * @throws PutEventsError `EventBridge.ValidationException` when `Entries` is not a list of 1 to
 *   10 entries: the request as a whole is refused.
 *
 * @example
 * const outcomes = putEventsOutcomes({ Entries: [{ Source: 'ecs-release', DetailType: 'Release Step Passed', Detail: { step: 1 } }] }, caller);
 * // [{ accepted: true, event: { source: 'ecs-release', 'detail-type': 'Release Step Passed', detail: { step: 1 }, resources: [executionArn, stateMachineArn] } }]
 */
export function putEventsOutcomes(parameters: unknown, caller: PutEventsCaller): EntryOutcome[] {
  const entries = (parameters as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_PUT_EVENTS_ENTRIES) {
    throw new PutEventsError(
      'EventBridge.ValidationException',
      `PutEvents needs Entries, a list of 1 to ${MAX_PUT_EVENTS_ENTRIES} entries; the task's Parameters gave ${describe(entries)}.`,
    );
  }
  return entries.map((entry) => outcomeOf(entry, caller));
}

/** PutEvents' response for `outcomes`, each accepted event with the id the bus gave it. */
export function putEventsResponse(outcomes: readonly EntryOutcome[], eventIds: readonly (string | undefined)[]): PutEventsResponse {
  return {
    Entries: outcomes.map((outcome, index) =>
      outcome.accepted ? { EventId: eventIds[index] ?? '' } : { ErrorCode: outcome.errorCode, ErrorMessage: outcome.errorMessage },
    ),
    FailedEntryCount: outcomes.filter((outcome) => !outcome.accepted).length,
  };
}

/**
 * The task's error when EventBridge refused an entry (the accepted ones are published all the
 * same), or `null` when it took them all.
 */
export function failedEntryError(response: PutEventsResponse): PutEventsError | null {
  if (response.FailedEntryCount === 0) return null;
  const refused = response.Entries.flatMap((entry, index) =>
    'ErrorCode' in entry ? [`entry ${index + 1}: ${entry.ErrorCode} (${entry.ErrorMessage})`] : [],
  );
  return new PutEventsError(
    'EventBridge.FailedEntry',
    `EventBridge refused ${response.FailedEntryCount} of ${response.Entries.length} entries: ${refused.join('; ')}`,
  );
}

function outcomeOf(entry: unknown, caller: PutEventsCaller): EntryOutcome {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    return refused('InvalidArgument', `An entry must be an object, got ${describe(entry)}.`);
  }
  const { Source, DetailType, Detail, EventBusName, Resources } = entry as Record<string, unknown>;
  const defaultBusArn = `arn:aws:events:${caller.region}:${caller.account}:event-bus/default`;
  if (EventBusName !== undefined && EventBusName !== 'default' && EventBusName !== defaultBusArn) {
    return refused('ResourceNotFoundException', `Event bus ${String(EventBusName)} does not exist (the local bus is the default bus).`);
  }
  if (typeof Source !== 'string' || Source.length === 0) return refused('InvalidArgument', 'Parameter Source is not valid.');
  if (typeof DetailType !== 'string' || DetailType.length === 0) return refused('InvalidArgument', 'Parameter DetailType is not valid.');
  const detail = detailOf(Detail);
  if (!detail) return refused('MalformedDetail', `Detail is not a JSON object: ${describe(Detail)}.`);
  if (Resources !== undefined && (!Array.isArray(Resources) || Resources.some((resource) => typeof resource !== 'string'))) {
    return refused('InvalidArgument', 'Parameter Resources must be a list of ARNs.');
  }
  return {
    accepted: true,
    event: {
      source: Source,
      'detail-type': DetailType,
      detail,
      // What the optimized integration adds to every entry.
      resources: [...((Resources as string[] | undefined) ?? []), caller.executionArn, caller.stateMachineArn],
    },
  };
}

/** The detail as an object: Step Functions serialises an object; a string must hold one. */
function detailOf(detail: unknown): Record<string, unknown> | null {
  let value = detail;
  if (typeof detail === 'string') {
    try {
      value = JSON.parse(detail) as unknown;
    } catch {
      return null;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function refused(errorCode: string, errorMessage: string): EntryOutcome {
  return { accepted: false, errorCode, errorMessage };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
