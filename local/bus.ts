/**
 * The local EventBridge default bus: CloudWatch alarm state changes and Step Functions execution
 * status changes go through it to the handlers subscribed to them (alarm-watcher, cleanup), with
 * the delivery semantics those handlers see in AWS: asynchronous, at least once, a failing
 * target retried twice with a backoff (EventBridge invokes a Lambda target asynchronously, and
 * an asynchronous invoke retries a function error twice), then given up on loudly, where AWS
 * would put it in the dead-letter queue.
 */
import { randomUUID } from 'node:crypto';
import type { BusEvent, EventBus } from './contracts';

/** One allowed value in an event pattern: a literal, or one of EventBridge's content filters. */
export type PatternValue =
  | string
  | number
  | boolean
  | null
  | { readonly prefix: string }
  | { readonly 'anything-but': string | number | readonly (string | number)[] }
  | { readonly exists: boolean };

/** An EventBridge `detail` pattern: per field, the allowed values or a nested pattern. */
export interface DetailPattern {
  readonly [field: string]: readonly PatternValue[] | DetailPattern;
}

/**
 * Which events a subscriber gets: `source` and `detail-type` as in {@link EventBus}, and
 * optionally a `detail` pattern, so a subscription can carry the same pattern as the CDK rule
 * (e.g. `{ status: ['ABORTED', 'TIMED_OUT'] }`) and a target is invoked exactly when AWS would.
 */
export interface EventMatch {
  readonly source: string;
  readonly detailType: string;
  readonly detail?: DetailPattern;
}

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Names the target in logs and dead letters, e.g. `cleanup`. @default - `<source>/<detail-type>` */
  readonly name?: string;
}

/** An event a target failed on after every retry: in AWS, the message in the rule's dead-letter queue. */
export interface DeadLetter {
  readonly target: string;
  readonly event: BusEvent;
  readonly error: Error;
  readonly attempts: number;
}

/** Options of {@link LocalEventBus}. */
export interface LocalEventBusOptions {
  /** The region events carry. */
  readonly region: string;
  /** The account events carry. @default '000000000000' */
  readonly account?: string;
  /**
   * The delay before each retry of a failing target; its length is the number of retries.
   * @default [100, 200] - two retries, like an asynchronous Lambda invoke, with a short backoff
   */
  readonly retryDelaysMs?: readonly number[];
  /** Where retries and given-up deliveries are reported. @default console */
  readonly logger?: Pick<Console, 'warn' | 'error'>;
  /**
   * Fault injection (`npm run chaos`): events for which this returns true are lost before any
   * rule sees them, as AWS allows for best-effort events (execution status changes). Off by default.
   * @default - every event is delivered
   */
  readonly drop?: (event: BusEvent) => boolean;
}

interface Subscription {
  readonly match: EventMatch;
  readonly target: (event: BusEvent) => Promise<unknown>;
  readonly name: string;
}

/**
 * An in-process event bus with EventBridge's event envelope and delivery semantics.
 *
 * @example
 * const bus = new LocalEventBus({ region: 'eu-west-1' });
 * bus.subscribe(
 *   { source: 'aws.states', detailType: 'Step Functions Execution Status Change', detail: { status: ['ABORTED', 'TIMED_OUT'] } },
 *   (event) => cleanup(event),
 *   { name: 'cleanup' },
 * );
 * await bus.drain(); // before asserting, and on shutdown
 */
export class LocalEventBus implements EventBus {
  readonly region: string;
  readonly account: string;
  private readonly retryDelaysMs: readonly number[];
  private readonly logger: Pick<Console, 'warn' | 'error'>;
  private readonly subscriptions = new Set<Subscription>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: BusEvent[] = [];
  private readonly dead: DeadLetter[] = [];
  private readonly lost: BusEvent[] = [];
  private readonly drop: ((event: BusEvent) => boolean) | undefined;

  constructor(options: LocalEventBusOptions) {
    if (!options.region) throw new Error('LocalEventBus needs a region: events carry it');
    const delays = options.retryDelaysMs ?? [100, 200];
    if (delays.some((delay) => !Number.isFinite(delay) || delay < 0)) {
      throw new Error(`LocalEventBus retryDelaysMs must be non-negative numbers, got [${delays.join(', ')}]`);
    }
    this.region = options.region;
    this.account = options.account ?? '000000000000';
    this.retryDelaysMs = delays;
    this.logger = options.logger ?? console;
    this.drop = options.drop;
  }

  /**
   * Stamps the event (id unless given, time, account, region) and delivers it to every matching
   * subscriber, asynchronously.
   */
  publish(input: Omit<BusEvent, 'version' | 'id' | 'account' | 'region' | 'time'> & { time?: string; id?: string }): void {
    const event: BusEvent = {
      version: '0',
      id: input.id ?? randomUUID(),
      'detail-type': input['detail-type'],
      source: input.source,
      account: this.account,
      time: input.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [...input.resources],
      detail: copy(input.detail),
    };
    if (this.drop?.(event)) {
      this.lost.push(event);
      return;
    }
    this.log.push(event);
    for (const subscription of this.subscriptions) {
      if (matches(subscription.match, event)) this.deliver(subscription, event);
    }
  }

  /**
   * Subscribes `target` to the events `match` selects. Throws for a pattern using a filter this
   * bus does not implement, rather than matching differently from EventBridge.
   */
  subscribe(match: EventMatch, target: (event: BusEvent) => Promise<unknown>, options: SubscribeOptions = {}): () => void {
    if (!match.source || !match.detailType) throw new Error('A subscription needs a source and a detailType');
    if (match.detail) validatePattern(match.detail, 'detail');
    const subscription: Subscription = { match, target, name: options.name ?? `${match.source}/${match.detailType}` };
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  /** Resolves when no delivery is in flight, including deliveries of events published meanwhile. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Every event published so far, in order. */
  published(): readonly BusEvent[] {
    return [...this.log];
  }

  /** The events the `drop` option lost (never delivered, not in {@link published}). */
  droppedEvents(): readonly BusEvent[] {
    return [...this.lost];
  }

  /** The deliveries given up on after every retry. */
  deadLetters(): readonly DeadLetter[] {
    return [...this.dead];
  }

  private deliver(subscription: Subscription, event: BusEvent): void {
    const delivery = (async () => {
      // Never inside the publisher's call stack: EventBridge delivers after PutEvents returns.
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (let attempt = 1; ; attempt++) {
        try {
          await subscription.target(copy(event));
          return;
        } catch (thrown) {
          const error = thrown instanceof Error ? thrown : new Error(String(thrown));
          const delay = this.retryDelaysMs[attempt - 1];
          if (delay === undefined) {
            this.dead.push({ target: subscription.name, event, error, attempts: attempt });
            this.logger.error(
              `[event bus] GAVE UP delivering ${event.source} "${event['detail-type']}" ${event.id} to ${subscription.name} ` +
                `after ${attempt} attempts: ${error.name}: ${error.message}. In AWS this event would be in the dead-letter queue; ` +
                'whatever the target was meant to do has not happened.',
            );
            return;
          }
          this.logger.warn(
            `[event bus] ${subscription.name} failed on ${event['detail-type']} ${event.id} (attempt ${attempt}): ` +
              `${error.name}: ${error.message}; retrying in ${delay} ms`,
          );
          await new Promise<void>((resolve) => setTimeout(resolve, delay));
        }
      }
    })();
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }
}

/** True when `event` is one `match` selects. */
export function matches(match: EventMatch, event: BusEvent): boolean {
  return (
    event.source === match.source &&
    event['detail-type'] === match.detailType &&
    (match.detail === undefined || matchesPattern(match.detail, event.detail))
  );
}

/**
 * True when a whole EventBridge event pattern (as a rule's `EventPattern`: `source`,
 * `detail-type`, `detail`, ...) matches `event`. A pattern is matched field by field against the
 * event itself, exactly as against its detail.
 */
export function matchesEventPattern(pattern: DetailPattern, event: BusEvent): boolean {
  return matchesPattern(pattern, event);
}

function matchesPattern(pattern: DetailPattern, value: unknown): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    const field = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    return isValueList(rule) ? matchesValues(rule, field) : matchesPattern(rule, field);
  });
}

function matchesValues(rules: readonly PatternValue[], field: unknown): boolean {
  // An array field matches when any of its elements does (EventBridge's rule for arrays).
  const values = Array.isArray(field) ? (field as unknown[]) : [field];
  return rules.some((rule) => {
    if (rule !== null && typeof rule === 'object') {
      if ('exists' in rule) return rule.exists === (field !== undefined);
      return field !== undefined && values.some((value) => matchesFilter(rule, value));
    }
    return field !== undefined && values.some((value) => value === rule);
  });
}

function matchesFilter(filter: Exclude<PatternValue, string | number | boolean | null | { exists: boolean }>, value: unknown): boolean {
  if ('prefix' in filter) return typeof value === 'string' && value.startsWith(filter.prefix);
  const excluded = filter['anything-but'];
  return !(Array.isArray(excluded) ? excluded : [excluded]).includes(value as string | number);
}

function isValueList(rule: readonly PatternValue[] | DetailPattern): rule is readonly PatternValue[] {
  return Array.isArray(rule);
}

function validatePattern(pattern: DetailPattern, at: string): void {
  for (const [key, rule] of Object.entries(pattern)) {
    if (!isValueList(rule)) {
      validatePattern(rule, `${at}.${key}`);
      continue;
    }
    for (const value of rule) {
      if (value === null || typeof value !== 'object') continue;
      const operators = Object.keys(value);
      const excluded = (value as { 'anything-but'?: unknown })['anything-but'];
      const plainExclusion = (item: unknown) => typeof item === 'string' || typeof item === 'number';
      if (
        operators.length !== 1 ||
        !['prefix', 'anything-but', 'exists'].includes(operators[0]) ||
        (excluded !== undefined && !(Array.isArray(excluded) ? excluded.every(plainExclusion) : plainExclusion(excluded)))
      ) {
        throw new Error(
          `Event pattern ${at}.${key} uses ${JSON.stringify(value)}; the local bus implements literals, prefix, anything-but and exists only`,
        );
      }
    }
  }
}

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
