/**
 * The local event bus: EventBridge's envelope, pattern matching as the CDK rules write it, and
 * asynchronous delivery with two retries and a loud give-up, so the alarm-watcher and cleanup
 * handlers see events locally the way they do in AWS.
 */
import type { BusEvent } from '../../local/contracts';
import { LocalEventBus, matches, type EventMatch } from '../../local/bus';

const STATUS_CHANGE = 'Step Functions Execution Status Change';

function quietLogger() {
  return { warn: jest.fn(), error: jest.fn() };
}

function newBus(retryDelaysMs: number[] = [1, 2]) {
  const logger = quietLogger();
  return { bus: new LocalEventBus({ region: 'eu-west-1', retryDelaysMs, logger }), logger };
}

function statusEvent(detail: Record<string, unknown>) {
  return { source: 'aws.states', 'detail-type': STATUS_CHANGE, resources: ['arn:x'], detail };
}

describe('LocalEventBus', () => {
  it('stamps each event with an id, the time, the account and the region', async () => {
    const { bus } = newBus();
    const received: BusEvent[] = [];
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, async (event) => void received.push(event));

    bus.publish(statusEvent({ status: 'RUNNING' }));
    bus.publish({ ...statusEvent({ status: 'SUCCEEDED' }), time: '2026-01-02T03:04:05Z' });
    await bus.drain();

    expect(received).toHaveLength(2);
    expect(received[0]).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': STATUS_CHANGE,
      source: 'aws.states',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: 'eu-west-1',
      resources: ['arn:x'],
      detail: { status: 'RUNNING' },
    });
    expect(received[1].time).toBe('2026-01-02T03:04:05Z');
    expect(received[0].id).not.toBe(received[1].id);
    expect(new LocalEventBus({ region: 'us-east-1', account: '123456789012' }).account).toBe('123456789012');
  });

  it('delivers asynchronously, never inside publish', async () => {
    const { bus } = newBus();
    const target = jest.fn(async () => undefined);
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, target);

    bus.publish(statusEvent({ status: 'RUNNING' }));
    expect(target).not.toHaveBeenCalled();
    await bus.drain();
    expect(target).toHaveBeenCalledTimes(1);
  });

  it('gives each target its own copy of the event', async () => {
    const { bus } = newBus();
    const seen: unknown[] = [];
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, async (event) => {
      (event.detail as { status: string }).status = 'MUTATED';
    });
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, async (event) => void seen.push(event.detail.status));
    const detail = { status: 'ABORTED' };

    bus.publish(statusEvent(detail));
    await bus.drain();

    expect(seen).toEqual(['ABORTED']);
    expect(detail.status).toBe('ABORTED');
    expect(bus.published()[0].detail.status).toBe('ABORTED');
  });

  it('retries a failing target twice, then gives up loudly and keeps a dead letter', async () => {
    const { bus, logger } = newBus([1, 2]);
    const target = jest.fn(async () => {
      throw Object.assign(new Error('rollback failed'), { name: 'RollbackFailedError' });
    });
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, target, { name: 'cleanup' });

    bus.publish(statusEvent({ status: 'ABORTED' }));
    await bus.drain();

    expect(target).toHaveBeenCalledTimes(3);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0][0]).toMatch(/GAVE UP .* to cleanup after 3 attempts: RollbackFailedError: rollback failed/);
    expect(bus.deadLetters()).toEqual([
      { target: 'cleanup', event: expect.objectContaining({ detail: { status: 'ABORTED' } }), error: expect.any(Error), attempts: 3 },
    ]);
  });

  it('stops retrying as soon as the target succeeds', async () => {
    const { bus, logger } = newBus([1, 2]);
    let calls = 0;
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, async () => {
      if (++calls === 1) throw new Error('throttled');
    });

    bus.publish(statusEvent({ status: 'TIMED_OUT' }));
    await bus.drain();

    expect(calls).toBe(2);
    expect(logger.error).not.toHaveBeenCalled();
    expect(bus.deadLetters()).toEqual([]);
  });

  it('drain waits for deliveries of events that targets publish meanwhile', async () => {
    const { bus } = newBus();
    const order: string[] = [];
    bus.subscribe({ source: 'aws.cloudwatch', detailType: 'CloudWatch Alarm State Change' }, async () => {
      order.push('alarm');
      bus.publish(statusEvent({ status: 'FAILED' }));
    });
    bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push('status');
    });

    bus.publish({ source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', resources: [], detail: {} });
    await bus.drain();

    expect(order).toEqual(['alarm', 'status']);
  });

  it('stops delivering to a target once it unsubscribes', async () => {
    const { bus } = newBus();
    const target = jest.fn(async () => undefined);
    const unsubscribe = bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE }, target);
    unsubscribe();

    bus.publish(statusEvent({ status: 'RUNNING' }));
    await bus.drain();

    expect(target).not.toHaveBeenCalled();
  });

  it('delivers only what the subscription pattern selects, like the cleanup rule', async () => {
    const { bus } = newBus();
    const statuses: unknown[] = [];
    bus.subscribe(
      { source: 'aws.states', detailType: STATUS_CHANGE, detail: { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: ['arn:sm'] } },
      async (event) => void statuses.push(event.detail.status),
    );

    for (const status of ['RUNNING', 'ABORTED', 'SUCCEEDED', 'TIMED_OUT']) bus.publish(statusEvent({ status, stateMachineArn: 'arn:sm' }));
    bus.publish(statusEvent({ status: 'ABORTED', stateMachineArn: 'arn:other' }));
    await bus.drain();

    expect(statuses).toEqual(['ABORTED', 'TIMED_OUT']);
  });

  it('refuses a pattern filter it does not implement instead of matching differently from EventBridge', () => {
    const { bus } = newBus();
    const target = async () => undefined;
    expect(() =>
      bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE, detail: { startDate: [{ numeric: ['>', 0] } as never] } }, target),
    ).toThrow(/implements literals, prefix, anything-but and exists only/);
    expect(() =>
      bus.subscribe({ source: 'aws.states', detailType: STATUS_CHANGE, detail: { name: [{ 'anything-but': { prefix: 'x' } } as never] } }, target),
    ).toThrow(/anything-but/);
  });

  it('needs a region and sane retry delays', () => {
    expect(() => new LocalEventBus({ region: '' })).toThrow(/region/);
    expect(() => new LocalEventBus({ region: 'eu-west-1', retryDelaysMs: [-1] })).toThrow(/retryDelaysMs/);
  });
});

describe('matches', () => {
  const event = (detail: Record<string, unknown>): BusEvent => ({
    version: '0',
    id: 'id',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '000000000000',
    time: '2026-01-01T00:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail,
  });
  const alarm = (detail?: EventMatch['detail']): EventMatch => ({ source: 'aws.cloudwatch', detailType: 'CloudWatch Alarm State Change', detail });

  it.each<[string, EventMatch, Record<string, unknown>, boolean]>([
    ['source and detail-type only', alarm(), { anything: 1 }, true],
    ['another source', { source: 'aws.states', detailType: 'CloudWatch Alarm State Change' }, {}, false],
    ['a nested literal (the alarm rule)', alarm({ state: { value: ['ALARM'] } }), { state: { value: 'ALARM' } }, true],
    ['a nested literal that differs', alarm({ state: { value: ['ALARM'] } }), { state: { value: 'OK' } }, false],
    ['one of several literals', alarm({ alarmName: ['a', 'b'] }), { alarmName: 'b' }, true],
    ['a missing field', alarm({ alarmName: ['a'] }), {}, false],
    ['a null literal', alarm({ reason: [null] }), { reason: null }, true],
    ['an array field, any element', alarm({ tags: ['blue'] }), { tags: ['green', 'blue'] }, true],
    ['prefix', alarm({ alarmName: [{ prefix: 'colorapp-' }] }), { alarmName: 'colorapp-5xx' }, true],
    ['prefix that differs', alarm({ alarmName: [{ prefix: 'colorapp-' }] }), { alarmName: 'other-5xx' }, false],
    ['anything-but a value', alarm({ tag: [{ 'anything-but': 'latest' }] }), { tag: 'v2' }, true],
    ['anything-but the value', alarm({ tag: [{ 'anything-but': ['latest', 'dev'] }] }), { tag: 'dev' }, false],
    ['anything-but on a missing field', alarm({ tag: [{ 'anything-but': 'latest' }] }), {}, false],
    ['exists true', alarm({ error: [{ exists: true }] }), { error: 'X' }, true],
    ['exists false on a missing field', alarm({ error: [{ exists: false }] }), {}, true],
    ['exists false on a present field', alarm({ error: [{ exists: false }] }), { error: null }, false],
  ])('%s', (_name, match, detail, expected) => {
    expect(matches(match, event(detail))).toBe(expected);
  });
});
