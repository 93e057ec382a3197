import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
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
// The rollback publishes the restored weights for the release dashboard.
const cloudwatch = mockClient(CloudWatchClient);
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
  cloudwatch.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
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
  it.each(['RUNNING', 'SUCCEEDED'])('ignores an execution that is %s: nothing to clean up', async (status) => {
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

  it('only releases the lock of a release stopped after its promotion, once the route agrees: traffic and services stay', async () => {
    const promoted = previousRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, fromColour: 'blue', toColour: 'green' });
    given({
      [NAMES.lock]: lockDocument(),
      [NAMES.state]: releaseState({ live: 'green', lastRelease: promoted, history: [summaryOf(promoted)] }),
      [NAMES.approval]: { releaseId: RELEASE_ID, executionArn: EXECUTION_ARN, taskToken: 't', gate: 'before-promote', requestedAt: 'x', expiresAt: 'y' },
    });
    route = fakeRoute(appmesh, targets(0, 100));

    await expect(handler(statusChange('ABORTED'))).resolves.toStrictEqual({
      action: 'unlocked-promoted',
      reason: 'the release was already promoted',
    });

    expect(timeline(ssm, appmesh, ecs)).toEqual([
      `GetParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.config}`,
      `GetParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.lock}`,
      `PutParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.state}`,
      'DescribeRoute colorapp-route',
      `GetParameter ${NAMES.bake}`,
      `GetParameter ${NAMES.approval}`,
      `DeleteParameter ${NAMES.approval}`,
      `GetParameter ${NAMES.lock}`,
      `DeleteParameter ${NAMES.lock}`,
    ]);
    expect(route.targets()).toStrictEqual(targets(0, 100));
    expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toStrictEqual(promoted);
    expect(params.has(NAMES.lock)).toBe(false);
    expect(params.has(NAMES.approval)).toBe(false);
  });

  it('fails loudly, keeping the lock, when the state says promoted but the route does not send everything to the new colour', async () => {
    const promoted = previousRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, fromColour: 'blue', toColour: 'green' });
    const state = releaseState({ live: 'green', lastRelease: promoted, history: [summaryOf(promoted)] });
    given({ [NAMES.lock]: lockDocument(), [NAMES.state]: state });
    route = fakeRoute(appmesh, targets(100, 0));

    const error = await handler(statusChange('ABORTED')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).message).toContain('failed at: check traffic agrees with the promotion');
    expect(route.targets()).toStrictEqual(targets(100, 0));
    expect(params.json<LockDocument>(NAMES.lock)).toMatchObject({ status: 'rollback-failed', executionArn: EXECUTION_ARN });
    // A promotion is never rewritten as a failure.
    expect(params.json<ReleaseState>(NAMES.state)).toStrictEqual(state);
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

  it('marks the rollback failed, keeps the lock, and throws RollbackFailedError when the service configuration is gone', async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

    const error = await handler(statusChange('ABORTED')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).cause).toBeInstanceOf(ConfigNotFoundError);
    const message = (error as Error).message;
    expect(message).toBe(
      `Cleanup of release ${RELEASE_ID} of 'colorapp' failed before it could roll back; nothing was undone. ` +
        `Cause: ConfigNotFoundError: Service 'colorapp' has no configuration at ${NAMES.config}. Deploy its ReleasePipeline construct (or write the parameter) first.`,
    );
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(
      lockDocument({ status: 'rollback-failed', reason: `ExecutionAbortedError: Execution ${EXECUTION_ARN} was stopped from outside | rollback failed: ${message}` }),
    );
    // Recorded without the configuration: the history keeps every entry it had.
    expect(params.json<ReleaseState>(NAMES.state)).toMatchObject({
      lastRelease: { id: RELEASE_ID, outcome: 'rollback-failed', failure: { error: 'ExecutionAbortedError' } },
      history: [{ id: RELEASE_ID }, { id: 'rel-previous' }],
    });
  });

  it('throws RollbackFailedError naming both failures when neither the lock can be read nor the failure recorded', async () => {
    given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });
    ssm.on(GetParameterCommand, { Name: NAMES.lock }).rejects(awsError('AccessDeniedException', 'not authorized to perform ssm:GetParameter'));

    const error = await handler(statusChange('TIMED_OUT')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).message).toBe(
      `Cleanup of release ${RELEASE_ID} of 'colorapp' failed before it could roll back; nothing was undone. ` +
        'Cause: AccessDeniedException: not authorized to perform ssm:GetParameter. ' +
        'Recording the failure also failed (AccessDeniedException: not authorized to perform ssm:GetParameter): ' +
        'check the route, the idle service and /ecs-release/colorapp/lock by hand.',
    );
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  });

  describe('an execution that FAILED', () => {
    const RUNTIME_CAUSE =
      "An error occurred while executing the state 'HealthDecision' (entered at the event id #42). Invalid path '$.progress.decision': " +
      'The choice state\'s condition path references an invalid value.';

    /** The status-change event of an execution that failed with `error` outside any Catch. */
    function failed(error: string | null, cause: string | null) {
      const event = statusChange('FAILED');
      return { ...event, detail: { ...event.detail, error, cause } };
    }

    it('rolls back an execution that failed outside any Catch (States.Runtime) mid-split, recording its own error', async () => {
      given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

      await expect(handler(failed('States.Runtime', RUNTIME_CAUSE))).resolves.toStrictEqual({
        action: 'rolled-back',
        reason:
          `States.Runtime: read the lock; mark the lock rolling-back; restore traffic 100/0 to blue on ${ROUTE}; ` +
          `revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0; record the release in the state; ` +
          'clear the bake and approval documents; release the lock',
      });

      expect(route.targets()).toStrictEqual(targets(100, 0));
      expect(ecs).toHaveReceivedCommandWith(UpdateServiceCommand, { service: 'colorapp-green', taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 });
      expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
        id: RELEASE_ID,
        outcome: 'rolled-back',
        failure: { error: 'States.Runtime', cause: RUNTIME_CAUSE },
      });
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('finishes the rollback of an execution whose own rollback and its recording both failed (lock still rolling-back)', async () => {
      given({ [NAMES.lock]: lockDocument({ status: 'rolling-back', reason: 'UnhealthyReleaseError' }), [NAMES.state]: releaseState() });
      const lambdaCause = JSON.stringify({ errorType: 'RollbackFailedError', errorMessage: 'Rollback of release failed at: restore traffic' });

      await expect(handler(failed('RollbackFailedError', lambdaCause))).resolves.toMatchObject({ action: 'rolled-back' });

      expect(route.targets()).toStrictEqual(targets(100, 0));
      expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
        outcome: 'rolled-back',
        failure: { error: 'RollbackFailedError', cause: 'Rollback of release failed at: restore traffic' },
      });
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('tries again after its own earlier attempt left the lock rollback-failed (the event is retried)', async () => {
      given({ [NAMES.lock]: lockDocument({ status: 'rollback-failed', reason: 'States.Runtime: ... | rollback failed: ...' }), [NAMES.state]: releaseState() });

      await expect(handler(failed('States.Runtime', RUNTIME_CAUSE))).resolves.toMatchObject({ action: 'rolled-back' });
      expect(route.targets()).toStrictEqual(targets(100, 0));
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('releases the lock of a promoted release whose ReleaseLock failed (LockReleaseFailedError), undoing nothing', async () => {
      const promoted = previousRecord({ id: RELEASE_ID, executionArn: EXECUTION_ARN, fromColour: 'blue', toColour: 'green' });
      given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState({ live: 'green', lastRelease: promoted, history: [summaryOf(promoted)] }) });
      route = fakeRoute(appmesh, targets(0, 100));

      await expect(handler(failed('LockReleaseFailedError', 'Release was promoted, but its lock could not be released'))).resolves.toStrictEqual({
        action: 'unlocked-promoted',
        reason: 'the release was already promoted',
      });
      expect(route.targets()).toStrictEqual(targets(0, 100));
      expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('records UnknownError with a cause naming the execution when the event carries neither', async () => {
      given({ [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

      await expect(handler(failed(null, null))).resolves.toMatchObject({ action: 'rolled-back' });
      expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.failure).toStrictEqual({
        error: 'UnknownError',
        cause: `Execution ${EXECUTION_ARN} failed without a rollback and reported no cause`,
      });
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['rolled back itself (lock released)', {}, 'the failed execution does not hold the lock: it released it (rolled back, or promoted) or never had it'],
      [
        'was refused (the lock is another release\'s)',
        { [NAMES.lock]: lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN }) },
        'the failed execution does not hold the lock: it released it (rolled back, or promoted) or never had it',
      ],
      [
        'ended in its own RollbackFailedError (lock rollback-failed, for an operator)',
        { [NAMES.lock]: lockDocument({ status: 'rollback-failed', reason: 'UnhealthyReleaseError: ... | rollback failed: ...' }) },
        'the failed execution left its lock as rollback-failed for an operator',
      ],
    ])('ignores, touching nothing, an execution that %s', async (_case, documents, reason) => {
      given({ [NAMES.state]: releaseState(), ...documents });
      const lockBefore = params.json(NAMES.lock);

      await expect(handler(failed(reason.includes('operator') ? 'RollbackFailedError' : 'UnhealthyReleaseError', 'cause'))).resolves.toStrictEqual({
        action: 'ignored',
        reason,
      });
      expect(timeline(ssm, appmesh, ecs)).toEqual([`GetParameter ${NAMES.lock}`]);
      expect(params.json(NAMES.lock)).toStrictEqual(lockBefore);
    });
  });

  it('is a ValidationError for an event without an execution', async () => {
    await expect(handler({ detail: { status: 'ABORTED' } })).rejects.toThrow(ValidationError);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
