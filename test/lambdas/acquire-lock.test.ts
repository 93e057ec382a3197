import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/acquire-lock';
import { ReleaseInProgressError, StaleLockError, ValidationError } from '../../lambdas/shared/errors';
import { fakeDateOnly, fakeParameters, lockDocument, NAMES, OTHER_EXECUTION_ARN, release, timeline } from '../support/release-documents';

const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);

const NOW = new Date('2025-01-01T12:00:01.000Z');
const othersLock = lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN, undo: null });

fakeDateOnly(NOW);

beforeEach(() => {
  ssm.reset();
  sfn.reset();
});

describe('acquire-lock handler', () => {
  it('creates the lock of the service for this execution, with no undo plan yet, and returns it', async () => {
    const params = fakeParameters(ssm);
    const expected = lockDocument({ acquiredAt: NOW.toISOString(), undo: null });

    await expect(handler({ release: release() })).resolves.toStrictEqual(expected);

    expect(ssm.commandCalls(PutParameterCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Name: NAMES.lock, Value: JSON.stringify(expected), Type: 'String', Overwrite: false, Tier: 'Intelligent-Tiering', Description: 'Release lock for colorapp' },
    ]);
    expect(params.json(NAMES.lock)).toStrictEqual(expected);
  });

  it('returns the lock it already holds when the step is re-run', async () => {
    const mine = lockDocument({ acquiredAt: '2025-01-01T11:59:59.000Z', undo: null });
    const params = fakeParameters(ssm, { [NAMES.lock]: mine });

    await expect(handler({ release: release() })).resolves.toStrictEqual(mine);
    expect(params.json(NAMES.lock)).toStrictEqual(mine);
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('is a ReleaseInProgressError, leaving the other lock alone, when another release is running', async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: othersLock });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', $metadata: {} });

    await expect(handler({ release: release() })).rejects.toThrow(ReleaseInProgressError);
    expect(params.json(NAMES.lock)).toStrictEqual(othersLock);
    expect(timeline(ssm, sfn)).toEqual([`PutParameter ${NAMES.lock}`, `GetParameter ${NAMES.lock}`, `DescribeExecution ${OTHER_EXECUTION_ARN}`]);
  });

  it('is a StaleLockError when the other release has ended without clearing its lock', async () => {
    fakeParameters(ssm, { [NAMES.lock]: othersLock });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', $metadata: {} });

    await expect(handler({ release: release() })).rejects.toThrow(StaleLockError);
  });

  it('is a ValidationError naming the field, sending nothing, when the input has no release', async () => {
    const error = await handler({ releases: release() }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^Invalid AcquireLock input: release: /);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
