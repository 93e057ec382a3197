import { SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/release-lock';
import type { BakeDocument } from '../../lambdas/shared/documents';
import { StateConflictError, ValidationError } from '../../lambdas/shared/errors';
import { RELEASE_ID } from '../support/ecs-fixtures';
import { EXECUTION_ARN, fakeParameters, lockDocument, NAMES, OTHER_EXECUTION_ARN, release, timeline } from '../support/release-documents';

const ssm = mockClient(SSMClient);
mockClient(SFNClient);

function bake(executionArn = EXECUTION_ARN): BakeDocument {
  return {
    releaseId: RELEASE_ID,
    executionArn,
    taskToken: 'token-of-the-last-bake',
    stepIndex: 2,
    weight: 100,
    alarmNames: ['colorapp-5xx'],
    startedAt: '2025-01-01T12:30:00.000Z',
  };
}

const othersLock = lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN });

beforeEach(() => ssm.reset());

describe('release-lock handler', () => {
  it("deletes this release's finished bake document, then its lock", async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.bake]: bake() });

    await expect(handler({ release: release() })).resolves.toStrictEqual({ released: true });

    expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.bake }, { Name: NAMES.lock }]);
    expect(params.has(NAMES.lock)).toBe(false);
    expect(params.has(NAMES.bake)).toBe(false);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it("leaves another execution's bake document alone", async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.bake]: bake(OTHER_EXECUTION_ARN) });

    await handler({ release: release() });

    expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.lock }]);
    expect(params.json(NAMES.bake)).toStrictEqual(bake(OTHER_EXECUTION_ARN));
  });

  it('still releases the lock when the bake document cannot be read', async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.bake]: 'not json' });

    await expect(handler({ release: release() })).resolves.toStrictEqual({ released: true });
    expect(params.has(NAMES.lock)).toBe(false);
    expect(params.has(NAMES.bake)).toBe(true);
  });

  it('counts a lock that is already gone as released (re-run), deleting nothing', async () => {
    fakeParameters(ssm);

    await expect(handler({ release: release() })).resolves.toStrictEqual({ released: true });
    expect(timeline(ssm)).toEqual([`GetParameter ${NAMES.bake}`, `GetParameter ${NAMES.lock}`]);
  });

  it("is a StateConflictError, and never deletes it, when another execution holds the lock", async () => {
    const params = fakeParameters(ssm, { [NAMES.lock]: othersLock });

    const error = await handler({ release: release() }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toBe("The lock of 'colorapp' is held by another execution; left it in place");
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(othersLock);
  });

  it('is a ValidationError, sending nothing, on malformed input', async () => {
    await expect(handler({})).rejects.toThrow(ValidationError);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
