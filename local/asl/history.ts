/**
 * An execution's history in the shape of GetExecutionHistory: numbered events with the types
 * and `...EventDetails` fields Step Functions uses, so the CLI's progress view and the AWS CLI
 * read a local history the way they read a real one.
 */
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';

/** The details of one event: every `...EventDetails` field HistoryEvent may carry. */
export type HistoryEventDetails = Omit<HistoryEvent, 'id' | 'previousEventId' | 'timestamp' | 'type'>;

/** The events of one execution, in order. */
export class ExecutionHistory {
  private readonly events: HistoryEvent[] = [];

  /** Appends an event; ids start at 1 and each event points at the one before it. */
  add(type: HistoryEventType, details: HistoryEventDetails = {}, timestamp = new Date()): HistoryEvent {
    const id = this.events.length + 1;
    const event: HistoryEvent = { timestamp, type, id, previousEventId: id - 1, ...details };
    this.events.push(event);
    return event;
  }

  /** Every event so far (a copy). */
  list(): HistoryEvent[] {
    return [...this.events];
  }

  get size(): number {
    return this.events.length;
  }
}

/** The detail fields that carry execution data. */
const EXECUTION_DATA = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

/** `value` as the JSON string a history event carries. */
export function dataOf(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/**
 * One event as the JSON 1.0 protocol sends it: the timestamp as epoch seconds, and without
 * inputs and outputs when `includeExecutionData` is false.
 */
export function historyEventToWire(event: HistoryEvent, includeExecutionData: boolean): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (value === undefined) continue;
    if (key === 'timestamp') {
      wire.timestamp = (value as Date).getTime() / 1000;
    } else if (!includeExecutionData && key.endsWith('EventDetails') && typeof value === 'object' && value !== null) {
      wire[key] = Object.fromEntries(Object.entries(value).filter(([field]) => !EXECUTION_DATA.has(field)));
    } else {
      wire[key] = value;
    }
  }
  return wire;
}
