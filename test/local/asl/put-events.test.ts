/**
 * EventBridge's rules for the entries of an `events:putEvents` task, as the local Step Functions
 * service and the path-test harness apply them: what is accepted (and how it reaches the bus),
 * what is refused, and what the task returns or fails with.
 */
import { failedEntryError, putEventsOutcomes, putEventsResponse, type EntryOutcome } from '../../../local/asl/put-events';

const caller = {
  executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:colorapp-release:r1',
  stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:colorapp-release',
  region: 'eu-west-1',
  account: '111122223333',
};
const entry = (fields: Record<string, unknown> = {}) => ({ Source: 'ecs-release', DetailType: 'Release Step Passed', Detail: { step: 1 }, ...fields });
const only = (fields: Record<string, unknown>): EntryOutcome => putEventsOutcomes({ Entries: [entry(fields)] }, caller)[0];

describe('putEventsOutcomes', () => {
  it('accepts an entry on the default bus, detail as given, the execution and state machine appended to its resources', () => {
    expect(only({ EventBusName: 'default', Resources: ['arn:aws:ecs:eu-west-1:111122223333:service/c/s'] })).toEqual({
      accepted: true,
      event: {
        source: 'ecs-release',
        'detail-type': 'Release Step Passed',
        detail: { step: 1 },
        resources: ['arn:aws:ecs:eu-west-1:111122223333:service/c/s', caller.executionArn, caller.stateMachineArn],
      },
    });
  });

  it.each<[string, Record<string, unknown>]>([
    ['no bus name', {}],
    ['the default bus by name', { EventBusName: 'default' }],
    ['the default bus by ARN', { EventBusName: 'arn:aws:events:eu-west-1:111122223333:event-bus/default' }],
    ['a Detail string holding an object', { Detail: '{"step":1}' }],
  ])('accepts %s', (_name, fields) => {
    expect(only(fields)).toMatchObject({ accepted: true, event: { detail: { step: 1 } } });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['another bus', { EventBusName: 'audit' }, 'ResourceNotFoundException'],
    ['another account\'s default bus', { EventBusName: 'arn:aws:events:eu-west-1:444455556666:event-bus/default' }, 'ResourceNotFoundException'],
    ['no source', { Source: undefined }, 'InvalidArgument'],
    ['an empty detail-type', { DetailType: '' }, 'InvalidArgument'],
    ['no detail', { Detail: undefined }, 'MalformedDetail'],
    ['a detail that is not JSON', { Detail: '{step: 1' }, 'MalformedDetail'],
    ['a detail that is a list', { Detail: '[1]' }, 'MalformedDetail'],
    ['resources that are not strings', { Resources: [1] }, 'InvalidArgument'],
  ])('refuses %s', (_name, fields, errorCode) => {
    expect(only(fields)).toMatchObject({ accepted: false, errorCode });
  });

  it.each([
    ['no Entries', {}],
    ['an empty list', { Entries: [] }],
    ['eleven entries', { Entries: Array.from({ length: 11 }, () => entry()) }],
  ])('refuses the whole request for %s', (_name, parameters) => {
    expect(() => putEventsOutcomes(parameters, caller)).toThrow(
      expect.objectContaining({ name: 'EventBridge.ValidationException', message: expect.stringMatching(/list of 1 to 10 entries/) }),
    );
  });
});

describe('putEventsResponse and failedEntryError', () => {
  it('answers with the event ids, and no error, when every entry was accepted', () => {
    const response = putEventsResponse(putEventsOutcomes({ Entries: [entry(), entry()] }, caller), ['id-1', 'id-2']);
    expect(response).toEqual({ Entries: [{ EventId: 'id-1' }, { EventId: 'id-2' }], FailedEntryCount: 0 });
    expect(failedEntryError(response)).toBeNull();
  });

  it('counts refused entries and fails the task with EventBridge.FailedEntry naming them', () => {
    const outcomes = putEventsOutcomes({ Entries: [entry(), entry({ EventBusName: 'audit' })] }, caller);
    const response = putEventsResponse(outcomes, ['id-1', undefined]);
    expect(response).toEqual({
      Entries: [{ EventId: 'id-1' }, { ErrorCode: 'ResourceNotFoundException', ErrorMessage: expect.stringContaining('audit') }],
      FailedEntryCount: 1,
    });
    expect(failedEntryError(response)).toMatchObject({
      name: 'EventBridge.FailedEntry',
      message: expect.stringMatching(/^EventBridge refused 1 of 2 entries: entry 2: ResourceNotFoundException/),
    });
  });
});
