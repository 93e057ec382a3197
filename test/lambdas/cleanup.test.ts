import { AppMeshClient, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/cleanup';
import type { LockDocument, ReleaseState } from '../../lambdas/shared/documents';
import { ConfigNotFoundError, RollbackFailedError, ValidationError } from '../../lambdas/shared/errors';
import { CLUSTER, ecsService, IMAGE, RELEASE_ID } from '../support/ecs-fixtures';
import {
  awsError,
  config,
  EXECUTION_ARN,
  fakeDateOnly,
  fakeParameters,
  fakeRoute,
  IDLE_TASK_DEFINITION_ARN,
  lockDocument,
  NAMES,
  NEW_TASK_DEFINITION_ARN,
  OTHER_EXECUTION_ARN,
  previousRecord,
  releaseState,
  ROUTE,
  summaryOf,
  targets,
  timeline,
} from '../support/release-documents';

const ssm = mockClient(SSMClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
const sfn = mockClient(SFNClient);

const NOW = new Date('2025-01-01T12:30:00.000Z');
fakeDateOnly(NOW);

/** A "Step Functions Execution Status Change" event for the release fixture. */
function statusChange(status: string, input: string | null = JSON.stringify({ service: 'colorapp', image: IMAGE })) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { executionArn: EXECUTION_ARN, name: RELEASE_ID, status, input },
  };
}

let params: ReturnType<typeof fakeParameters>;
let route: ReturnType<typeof fakeRoute>;

function given(documents: Record<string, unknown>) {
  params = fakeParameters(ssm, { [NAMES.config]: config(), ...documents });
}

beforeEach(() => {
  ssm.reset();
  ecs.reset();
  appmesh.reset();
  sfn.reset();
  route = fakeRoute(appmesh, targets(50, 50));
  const green = ecsService('colorapp-green', { taskDefinition: NEW_TASK_DEFINITION_ARN });
  ecs.on(DescribeServicesCommand).resolves({ services: [green] });
  ecs.on(UpdateServiceCommand).resolves({ service: green });
});

describe('cleanup handler', () => {
  it.each(['RUNNING', 'SUCCEEDED', 'FAILED'])('ignores an execution that ended %s: the state machine handled it', async (status) => {
    await expect(handler(statusChange(status))).resolves.toStrictEqual({
      action: 'ignored',
      reason: `status ${status} is handled by the state machine itself`,
    });
    expect(ssm).not.toHaveReceivedAnyCommand();
  });

  it.each<[string, string | null]>([
    ['no input', null],
    ['input that is not JSON', '{service: colorapp'],
    ['input without a service', JSON.stringify({ image: IMAGE })],
    ['an empty service', JSON.stringify({ service: '' })],
  ])('ignores a stopped execution with %s', async (_case, input) => {
    await expect(handler(statusChange('ABORTED', input))).resolves.toStrictEqual({
      action: 'ignored',
      reason: 'execution input names no service',
    });
    expect(ssm).not.toHaveReceivedAnyCommand();
  });

  it.each<[string, LockDocument | undefined]>([
    ["held by another execution (e.g. this one lost the race for it)", lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN })],
    ['gone (the execution rolled back before it was stopped)', undefined],
  ])('touches nothing when the lock is %s', async (_case, held) => {
    given(held ? { [NAMES.lock]: held, [NAMES.state]: releaseState() } : { [NAMES.state]: releaseState() });

    await expect(handler(statusChange('ABORTED'))).resolves.toStrictEqual({
      action: 'nothing-to-undo',
      reason: 'the execution does not hold the lock',
    });
    expect(timeline(ssm, appmesh, ecs)).toEqual([`GetParameter ${NAMES.lock}`]);
    if (held) expect(params.json(NAMES.lock)).toStrictEqual(held);
  });

  it('only releases the lock of a release stopped after its promotion: traffic and services stay', async () => {
    const promoted = previousRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, fromColour: 'blue', toColour: 'green' });
    given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState({ live: 'green', lastRelease: promoted, history: [summaryOf(promoted)] }) });
    route = fakeRoute(appmesh, targets(0, 100));

    await expect(handler(statusChange('ABORTED'))).resolves.toStrictEqual({
      action: 'unlocked-promoted',
      reason: 'the release was already promoted',
    });

    expect(timeline(ssm, appmesh, ecs)).toEqual([
      `GetParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.state}`,
      `GetParameter ${NAMES.lock}`,
      `DeleteParameter ${NAMES.lock}`,
    ]);
    expect(route.targets()).toStrictEqual(targets(0, 100));
  });

  it.each([
    ['ABORTED', 'ExecutionAbortedError', `Execution ${EXECUTION_ARN} was stopped from outside`],
    ['TIMED_OUT', 'ExecutionTimedOutError', `Execution ${EXECUTION_ARN} hit the state machine timeout`],
  ])('rolls back an execution that ended %s with the undo plan in its lock, recording %s', async (status, error, cause) => {
    given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

    const actions = [
      'read the lock',
      'mark the lock rolling-back',
      `restore traffic 100/0 to blue on ${ROUTE}`,
      `revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0`,
      'record the release in the state',
      'clear the bake and approval documents',
      'release the lock',
    ];
    await expect(handler(statusChange(status))).resolves.toStrictEqual({ action: 'rolled-back', reason: `${error}: ${actions.join('; ')}` });

    expect(route.targets()).toStrictEqual(targets(100, 0));
    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toStrictEqual([
      { cluster: CLUSTER, service: 'colorapp-green', taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 },
    ]);
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
      id: RELEASE_ID,
      outcome: 'rolled-back',
      image: IMAGE,
      failure: { error, cause },
      verdicts: [],
      finishedAt: NOW.toISOString(),
    });
    expect(params.has(NAMES.lock)).toBe(false);
    // The configuration is read from SSM: the stopped execution's own copy is out of reach.
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.config });
  });

  it('marks the rollback failed, keeps the lock, and throws RollbackFailedError when the rollback cannot finish', async () => {
    given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });
    appmesh.on(UpdateRouteCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform appmesh:UpdateRoute'));

    const error = await handler(statusChange('ABORTED')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    const message = (error as Error).message;
    expect(message).toBe(
      `Rollback of release ${RELEASE_ID} of 'colorapp' failed at: restore traffic 100/0 to blue on ${ROUTE}. ` +
        'Done before: read the lock; mark the lock rolling-back. Cause: AccessDeniedException: not authorized to perform appmesh:UpdateRoute',
    );
    expect(params.json(NAMES.lock)).toStrictEqual(
      lockDocument({ status: 'rollback-failed', reason: `ExecutionAbortedError: Execution ${EXECUTION_ARN} was stopped from outside | rollback failed: ${message}` }),
    );
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({ id: RELEASE_ID, outcome: 'rollback-failed' });
    expect(ssm).not.toHaveReceivedCommandWith(DeleteParameterCommand, { Name: NAMES.lock });
    expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('throws ConfigNotFoundError, touching nothing, when the service configuration is gone', async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

    await expect(handler(statusChange('ABORTED'))).rejects.toThrow(ConfigNotFoundError);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument());
  });

  it('is a ValidationError for an event without an execution', async () => {
    await expect(handler({ detail: { status: 'ABORTED' } })).rejects.toThrow(ValidationError);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
