import { executionArnFor, holderOf, newReleaseId, staleLockMessage } from '../../../lambdas/api/executions';
import { EXECUTION_ARN, lockDoc } from './fixtures';

const AT = new Date('2025-03-04T05:06:07.891Z');
const hex = () => '1a2b3c';

describe('newReleaseId', () => {
  it.each([
    ['colorapp', 'colorapp-20250304050607-1a2b3c'],
    ['my_service-2', 'my_service-2-20250304050607-1a2b3c'],
    // A dot is allowed in a service name but stops Step Functions logging the execution.
    ['api.v2', 'api-v2-20250304050607-1a2b3c'],
    ['s'.repeat(58), `${'s'.repeat(58)}-20250304050607-1a2b3c`],
    ['s'.repeat(255), `${'s'.repeat(58)}-20250304050607-1a2b3c`],
  ])('names a release of %s as %s', (service, expected) => {
    expect(newReleaseId(service, AT, hex)).toBe(expected);
  });

  it('never exceeds the 80 characters Step Functions allows in an execution name', () => {
    expect(newReleaseId('x'.repeat(255), AT, hex)).toHaveLength(80);
  });

  it('uses UTC and six random hex digits by default', () => {
    expect(newReleaseId('colorapp', AT)).toMatch(/^colorapp-20250304050607-[0-9a-f]{6}$/);
  });
});

describe('executionArnFor', () => {
  it.each([
    [
      'arn:aws:states:eu-west-1:111122223333:stateMachine:ecs-release',
      'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:r-1',
    ],
    [
      'arn:aws-cn:states:cn-north-1:111122223333:stateMachine:release',
      'arn:aws-cn:states:cn-north-1:111122223333:execution:release:r-1',
    ],
  ])('derives the execution ARN of release r-1 from %s', (stateMachineArn, expected) => {
    expect(executionArnFor(stateMachineArn, 'r-1')).toBe(expected);
  });

  it.each([
    'arn:aws:lambda:eu-west-1:111122223333:function:ecs-release',
    'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:r-0',
    'ecs-release',
  ])('refuses %s, which is not a state machine ARN', (arn) => {
    expect(() => executionArnFor(arn, 'r-1')).toThrow(/not a state machine ARN/);
  });
});

describe('holderOf', () => {
  it.each([
    ['held', 'RUNNING', true],
    ['rolling-back', 'RUNNING', true],
    ['held', 'PENDING_REDRIVE', true],
    ['held', 'FAILED', false],
    ['held', 'ABORTED', false],
    ['held', 'SUCCEEDED', false],
    ['held', 'TIMED_OUT', false],
    // A failed rollback waits for an operator even before its execution has finished failing.
    ['rollback-failed', 'RUNNING', false],
  ] as const)('counts a %s lock whose execution is %s as active: %s', (lockStatus, executionStatus, active) => {
    const holder = holderOf(lockDoc({ status: lockStatus }), { executionArn: EXECUTION_ARN, status: executionStatus, $metadata: {} } as never);
    expect(holder.active).toBe(active);
    expect(holder.executionStatus).toBe(executionStatus);
  });

  it('reports an execution Step Functions no longer knows as DOES_NOT_EXIST, not active', () => {
    expect(holderOf(lockDoc(), null)).toMatchObject({ executionStatus: 'DOES_NOT_EXIST', active: false });
  });
});

describe('staleLockMessage', () => {
  it('names the release, what happened to its execution, and how to clear the lock without taking it over', () => {
    const message = staleLockMessage(holderOf(lockDoc(), null));

    expect(message).toContain('colorapp-20250101120000-a1b2c3');
    expect(message).toContain('no longer exists');
    expect(message).toContain('never taken over automatically');
    expect(message).toContain(`"executionArn":"${EXECUTION_ARN}"`);
    expect(message).toContain('clear-lock');
  });

  it('tells the user to wait when the cleanup of an aborted release may still be running', () => {
    const message = staleLockMessage({ lock: lockDoc({ status: 'rolling-back' }), executionStatus: 'ABORTED', active: false });

    expect(message).toContain('is ABORTED');
    expect(message).toContain('wait a minute');
  });
});
