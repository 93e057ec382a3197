import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { LockDocument } from '../../../lambdas/shared/documents';
import { ReleaseInProgressError, StaleLockError, StateConflictError } from '../../../lambdas/shared/errors';
import { isActiveLockOf, lockProblem, ReleaseLock } from '../../../lambdas/shared/lock';
import {
  awsError,
  EXECUTION_ARN,
  fakeParameters,
  lockDocument,
  NAMES,
  OTHER_EXECUTION_ARN,
  parameter,
  parameterAlreadyExists,
  parameterNotFound,
  release,
  timeline,
} from '../../support/release-documents';

const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const lock = new ReleaseLock(new SSMClient({}), new SFNClient({}));

const NOW = new Date('2025-01-01T12:00:01.000Z');

/** The lock acquire() writes for the release fixture at NOW. */
const NEW_LOCK: LockDocument = lockDocument({ acquiredAt: NOW.toISOString(), undo: null });

/** Another release's lock. */
function othersLock(overrides: Partial<LockDocument> = {}): LockDocument {
  return lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN, undo: null, ...overrides });
}

function givenExecution(status: string) {
  sfn.on(DescribeExecutionCommand).resolves({ status: status as never, $metadata: {} });
}

beforeEach(() => {
  ssm.reset();
  sfn.reset();
});

describe('ReleaseLock.acquire', () => {
  it('creates the lock with Overwrite false and returns it', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 1, $metadata: {} });

    await expect(lock.acquire(release(), NOW)).resolves.toStrictEqual(NEW_LOCK);

    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toStrictEqual({
      Name: NAMES.lock,
      Value: JSON.stringify(NEW_LOCK),
      Type: 'String',
      Overwrite: false,
      Tier: 'Intelligent-Tiering',
      Description: 'Release lock for colorapp',
    });
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('records what is released, so a cleanup with only the lock can record it', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 1, $metadata: {} });

    const held = await lock.acquire(release({ strategy: { type: 'linear', stepPercent: 25 }, requestedBy: null, reason: 'hotfix' }), NOW);

    expect(held).toMatchObject({ strategy: { type: 'linear', stepPercent: 25 }, requestedBy: null, requestReason: 'hotfix', status: 'held', undo: null });
  });

  it('returns the existing lock, writing nothing more, when this execution already holds it (re-run)', async () => {
    const mine = lockDocument({ undo: null });
    fakeParameters(ssm, { [NAMES.lock]: mine });

    await expect(lock.acquire(release(), NOW)).resolves.toStrictEqual(mine);

    expect(timeline(ssm, sfn)).toEqual([`PutParameter ${NAMES.lock}`, `GetParameter ${NAMES.lock}`]);
  });

  it('is a ReleaseInProgressError naming the holder when its execution is running', async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: othersLock() });
    givenExecution('RUNNING');

    const error = await lock.acquire(release(), NOW).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ReleaseInProgressError);
    expect(error).toMatchObject({ service: 'colorapp', holderExecutionArn: OTHER_EXECUTION_ARN, holderReleaseId: 'rel-other' });
    expect((error as Error).message).toBe(
      `Service 'colorapp' is already being released by rel-other (execution ${OTHER_EXECUTION_ARN}). Wait for it to finish, or abort it, then start again.`,
    );
    expect(sfn.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input)).toStrictEqual([{ executionArn: OTHER_EXECUTION_ARN }]);
    expect(params.json(NAMES.lock)).toStrictEqual(othersLock());
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
  });

  it.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'])(
    'is a StaleLockError, never a takeover, when the holder execution is %s',
    async (status) => {
      const params = fakeParameters(ssm, { [NAMES.lock]: othersLock() });
      givenExecution(status);

      const error = await lock.acquire(release(), NOW).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StaleLockError);
      expect((error as Error).message).toBe(
        `Service 'colorapp' is locked by release rel-other, but its execution is ${status}. ` +
          'Its cleanup did not run or did not finish. Check the route and the idle service, then clear the lock with the clear-lock function.',
      );
      expect(params.json(NAMES.lock)).toStrictEqual(othersLock());
      expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    },
  );

  it('is a StaleLockError when the holder execution no longer exists', async () => {
    fakeParameters(ssm, { [NAMES.lock]: othersLock() });
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution does not exist', $metadata: {} }));

    await expect(lock.acquire(release(), NOW)).rejects.toThrow(
      /^Service 'colorapp' is locked by release rel-other, but its execution is DOES_NOT_EXIST\./,
    );
  });

  it('is a StaleLockError with the recorded reason, without asking Step Functions, when the holder rollback failed', async () => {
    fakeParameters(ssm, { [NAMES.lock]: othersLock({ status: 'rollback-failed', reason: 'UnhealthyReleaseError: 5xx | rollback failed: AccessDenied' }) });

    const error = await lock.acquire(release(), NOW).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StaleLockError);
    expect((error as Error).message).toBe(
      "Service 'colorapp' is locked by release rel-other, whose rollback failed: UnhealthyReleaseError: 5xx | rollback failed: AccessDenied. " +
        'Check traffic and the idle service by hand, then clear the lock with the clear-lock function.',
    );
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('creates the lock on a second try when the holder released it between the create and the read', async () => {
    ssm.on(PutParameterCommand).rejectsOnce(parameterAlreadyExists()).resolves({ Version: 1, $metadata: {} });
    ssm.on(GetParameterCommand).rejects(parameterNotFound());

    await expect(lock.acquire(release(), NOW)).resolves.toStrictEqual(NEW_LOCK);

    expect(timeline(ssm)).toEqual([`PutParameter ${NAMES.lock}`, `GetParameter ${NAMES.lock}`, `PutParameter ${NAMES.lock}`]);
    expect(ssm.commandCalls(PutParameterCommand)[1].args[0].input).toMatchObject({ Value: JSON.stringify(NEW_LOCK), Overwrite: false });
  });

  it('judges the new holder when another release took the lock during the second try', async () => {
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());
    ssm.on(GetParameterCommand).rejectsOnce(parameterNotFound()).resolves(parameter(NAMES.lock, othersLock()));
    givenExecution('RUNNING');

    await expect(lock.acquire(release(), NOW)).rejects.toThrow(ReleaseInProgressError);
    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 2);
  });

  it('is a StateConflictError when the lock keeps appearing and vanishing', async () => {
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());
    ssm.on(GetParameterCommand).rejects(parameterNotFound());

    const error = await lock.acquire(release(), NOW).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toBe(`Lock ${NAMES.lock} keeps changing; try again`);
    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 2);
  });

  it('is a StateConflictError, touching nothing, when the existing lock cannot be read', async () => {
    fakeParameters(ssm, { [NAMES.lock]: '{"service":' });

    await expect(lock.acquire(release(), NOW)).rejects.toThrow(StateConflictError);
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
  });
});

describe('ReleaseLock.executionStatus', () => {
  it('asks Step Functions for the execution status', async () => {
    givenExecution('SUCCEEDED');

    await expect(lock.executionStatus(EXECUTION_ARN)).resolves.toBe('SUCCEEDED');
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
  });

  it('throws errors other than a missing execution', async () => {
    const denied = awsError('AccessDeniedException');
    sfn.on(DescribeExecutionCommand).rejects(denied);

    await expect(lock.executionStatus(EXECUTION_ARN)).rejects.toBe(denied);
  });
});

describe('ReleaseLock.update', () => {
  it('writes the changed lock over the one this execution holds', async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ undo: null }) });

    const next = await lock.update('colorapp', EXECUTION_ARN, (l) => ({ ...l, status: 'rolling-back', reason: 'AlarmTriggeredError' }));

    const expected = lockDocument({ undo: null, status: 'rolling-back', reason: 'AlarmTriggeredError' });
    expect(next).toStrictEqual(expected);
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toStrictEqual({
      Name: NAMES.lock,
      Value: JSON.stringify(expected),
      Type: 'String',
      Overwrite: true,
      Tier: 'Intelligent-Tiering',
      Description: undefined,
    });
    expect(params.json(NAMES.lock)).toStrictEqual(expected);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['gone', {}, `The lock of 'colorapp' is gone; execution ${EXECUTION_ARN} no longer owns it`],
    [
      "another execution's",
      { [NAMES.lock]: othersLock() },
      `The lock of 'colorapp' is held by ${OTHER_EXECUTION_ARN}; execution ${EXECUTION_ARN} no longer owns it`,
    ],
  ])('is a StateConflictError, writing nothing, when the lock is %s', async (_case, parameters, message) => {
    fakeParameters(ssm, parameters);
    const change = jest.fn((l: LockDocument) => l);

    const error = await lock.update('colorapp', EXECUTION_ARN, change).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toBe(message);
    expect(change).not.toHaveBeenCalled();
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });
});

describe('ReleaseLock.release', () => {
  it('deletes the lock this execution holds', async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: lockDocument() });

    await expect(lock.release('colorapp', EXECUTION_ARN)).resolves.toBe('released');

    expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.lock }]);
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it('is not-held, deleting nothing, when the lock is already gone', async () => {
    fakeParameters(ssm);

    await expect(lock.release('colorapp', EXECUTION_ARN)).resolves.toBe('not-held');
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
  });

  it("is held-by-other and never deletes another execution's lock", async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: othersLock() });

    await expect(lock.release('colorapp', EXECUTION_ARN)).resolves.toBe('held-by-other');
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(othersLock());
  });
});

describe('isActiveLockOf', () => {
  it.each<[string, LockDocument | null, boolean]>([
    ['held by the execution', lockDocument(), true],
    ['rolling back', lockDocument({ status: 'rolling-back' }), false],
    ['left by a failed rollback', lockDocument({ status: 'rollback-failed' }), false],
    ['held by another execution', othersLock(), false],
    ['absent', null, false],
  ])('is %s -> %s', (_case, held, expected) => {
    expect(isActiveLockOf(held, EXECUTION_ARN)).toBe(expected);
  });
});

describe('lockProblem', () => {
  it.each<[string, LockDocument | null, string | null]>([
    ['held by this execution: no problem', lockDocument(), null],
    ['missing', null, 'lock /ecs-release/colorapp/lock does not exist'],
    [
      'held by another execution',
      lockDocument({ executionArn: OTHER_EXECUTION_ARN, releaseId: 'rel-other' }),
      `the lock belongs to execution ${OTHER_EXECUTION_ARN} (release rel-other)`,
    ],
    ['being rolled back', lockDocument({ status: 'rolling-back' }), "the lock's status is 'rolling-back'"],
    ['left by a failed rollback', lockDocument({ status: 'rollback-failed' }), "the lock's status is 'rollback-failed'"],
  ])('%s', (_case, lock, expected) => {
    expect(lockProblem(lock, 'colorapp', EXECUTION_ARN)).toBe(expected);
  });
});
