import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/mark-rollback-failed';
import type { LockDocument, ReleaseState } from '../../lambdas/shared/documents';
import { ValidationError } from '../../lambdas/shared/errors';
import type { Progress } from '../../lambdas/shared/release';
import { fakeDateOnly, fakeParameters, lockDocument, NAMES, release, releaseState, verdict, verdictSummary } from '../support/release-documents';

const ssm = mockClient(SSMClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
mockClient(SFNClient);

fakeDateOnly(new Date('2025-01-01T12:25:00.000Z'));

const VERDICTS = [verdict({ status: 'unhealthy' })];

function progress(): Progress {
  return { stepIndex: 0, attempt: 0, verdicts: VERDICTS, decision: 'rollback', failure: null };
}

function lambdaError(type: string, message: string) {
  return { Error: type, Cause: JSON.stringify({ errorType: type, errorMessage: message }) };
}

const ROLLBACK_MESSAGE = "Rollback of release rel-20250101-abc123 of 'colorapp' failed at: restore traffic. Done before: read the lock.";

let params: ReturnType<typeof fakeParameters>;

beforeEach(() => {
  ssm.reset();
  params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ status: 'rolling-back' }), [NAMES.state]: releaseState() });
});

describe('mark-rollback-failed handler', () => {
  it('keeps the lock as rollback-failed with both errors, and records rollback-failed with the verdicts', async () => {
    await expect(
      handler({
        release: release(),
        progress: progress(),
        error: lambdaError('UnhealthyReleaseError', 'success rate 0.7'),
        rollbackError: lambdaError('RollbackFailedError', ROLLBACK_MESSAGE),
      }),
    ).resolves.toStrictEqual({ lockKept: true, stateRecorded: true });

    const both = `success rate 0.7 | rollback failed: RollbackFailedError: ${ROLLBACK_MESSAGE}`;
    expect(params.json<LockDocument>(NAMES.lock)).toStrictEqual(
      lockDocument({ status: 'rollback-failed', reason: `UnhealthyReleaseError: ${both}` }),
    );
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
      outcome: 'rollback-failed',
      failure: { error: 'UnhealthyReleaseError', cause: both },
    });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.verdicts).toStrictEqual([verdictSummary({ status: 'unhealthy' })]);
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(ecs).not.toHaveReceivedAnyCommand();
    expect(appmesh).not.toHaveReceivedAnyCommand();
  });

  it('uses a plain rollback cause as it is', async () => {
    await handler({
      release: release(),
      progress: progress(),
      error: { Error: 'ApprovalTimeoutError', Cause: 'No approval within 60 seconds' },
      rollbackError: { Error: 'States.Timeout', Cause: 'Task timed out after 300 seconds' },
    });

    expect(params.json<LockDocument>(NAMES.lock)?.reason).toBe(
      'ApprovalTimeoutError: No approval within 60 seconds | rollback failed: States.Timeout: Task timed out after 300 seconds',
    );
  });

  it('is a ValidationError, writing nothing, without the rollback error', async () => {
    await expect(handler({ release: release(), progress: progress(), error: lambdaError('UnhealthyReleaseError', 'x') })).rejects.toThrow(
      ValidationError,
    );
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
