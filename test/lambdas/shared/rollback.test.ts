import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AppMeshClient, DescribeRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { ApprovalDocument, BakeDocument, LockDocument, ReleaseRecord, ReleaseState } from '../../../lambdas/shared/documents';
import { RollbackFailedError } from '../../../lambdas/shared/errors';
import { createLogger } from '../../../lambdas/shared/logger';
import { MAX_STATE_BYTES, stateSize } from '../../../lambdas/shared/release-state';
import { causeMessage, markRollbackFailed, performRollback, type RollbackRequest } from '../../../lambdas/shared/rollback';
import { CLUSTER, deployment, ecsService, IMAGE, RELEASE_ID } from '../../support/ecs-fixtures';
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
  sentPuts,
  targets,
  timeline,
  summaryOf,
  undoPlan,
  verdict,
  verdictSummary,
} from '../../support/release-documents';
import { describeRouteOutput, routeSpecs } from '../../support/traffic-fixtures';

const ssm = mockClient(SSMClient);
// The rollback publishes the restored weights for the release dashboard.
const cloudwatch = mockClient(CloudWatchClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
const sfn = mockClient(SFNClient);
const clients = { ssm: new SSMClient({}), ecs: new ECSClient({}), sfn: new SFNClient({}) };
const logger = createLogger('rollback-test');

const NOW = new Date('2025-01-01T12:20:00.000Z');
fakeDateOnly(NOW);

const FAILURE = { error: 'UnhealthyReleaseError', cause: 'success rate 0.7 below 0.99 at 10% on green' };
const VERDICTS = [verdict({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] })];
/** {@link VERDICTS} as the state document keeps them. */
const RECORDED_VERDICTS = [verdictSummary({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] })];

function request(overrides: Partial<RollbackRequest> = {}): RollbackRequest {
  return { service: 'colorapp', releaseId: RELEASE_ID, executionArn: EXECUTION_ARN, config: config(), failure: FAILURE, verdicts: VERDICTS, ...overrides };
}

/** What the rollback records for the release fixture, as the state keeps it. */
function record(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: RELEASE_ID,
    executionArn: EXECUTION_ARN,
    image: IMAGE,
    version: '1.4.0',
    fromColour: 'blue',
    toColour: 'green',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    outcome: 'rolled-back',
    startedAt: '2025-01-01T12:00:01.000Z',
    finishedAt: NOW.toISOString(),
    requestedBy: 'alice',
    reason: null,
    failure: FAILURE,
    verdicts: RECORDED_VERDICTS,
    ...overrides,
  };
}

/** The state after `recorded` was recorded over the state fixture: its summary heads the history. */
function stateWith(recorded: ReleaseRecord, base: ReleaseState = releaseState()): ReleaseState {
  return { ...base, lastRelease: recorded, history: [summaryOf(recorded), ...base.history], updatedAt: NOW.toISOString() };
}

function bake(executionArn = EXECUTION_ARN): BakeDocument {
  return { releaseId: RELEASE_ID, executionArn, taskToken: 'bake-token', stepIndex: 0, weight: 10, alarmNames: [], startedAt: '2025-01-01T12:10:00.000Z' };
}

function approval(executionArn = EXECUTION_ARN): ApprovalDocument {
  return {
    releaseId: RELEASE_ID,
    executionArn,
    taskToken: 'approval-token',
    gate: 'before-promote',
    requestedAt: '2025-01-01T12:15:00.000Z',
    expiresAt: '2025-01-01T13:15:00.000Z',
  };
}

/** The idle service as the release left it (new revision, 3 tasks), or as given. */
function givenIdle(name = 'colorapp-green', overrides: Partial<Service> = {}) {
  const service = ecsService(name, {
    taskDefinition: NEW_TASK_DEFINITION_ARN,
    deployments: [deployment({ taskDefinition: NEW_TASK_DEFINITION_ARN })],
    ...overrides,
  });
  ecs.on(DescribeServicesCommand, { services: [name] }).resolves({ services: [service] });
  ecs.on(UpdateServiceCommand).resolves({ service });
}

let params: ReturnType<typeof fakeParameters>;
let route: ReturnType<typeof fakeRoute>;

/** A release caught half-way: 50/50, green on the new revision, lock held with its undo plan. */
function givenHalfWay(documents: Record<string, unknown> = {}) {
  params = fakeParameters(ssm, {
    [NAMES.lock]: lockDocument(),
    [NAMES.state]: releaseState(),
    [NAMES.bake]: bake(),
    [NAMES.approval]: approval(),
    ...documents,
  });
  route = fakeRoute(appmesh, targets(50, 50));
  givenIdle();
}

function expectTrafficAndServicesUntouched() {
  expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
}

const ALL_ACTIONS = [
  'read the lock',
  'mark the lock rolling-back',
  `restore traffic 100/0 to blue on ${ROUTE}`,
  `revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0`,
  'record the release in the state',
  'clear the bake and approval documents',
  'release the lock',
];

beforeEach(() => {
  cloudwatch.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
  ssm.reset();
  ecs.reset();
  appmesh.reset();
  sfn.reset();
});

describe('performRollback', () => {
  it('marks the lock rolling-back, restores traffic, reverts the idle service, records, clears the gates, unlocks: in that order', async () => {
    givenHalfWay();

    await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({ outcome: 'rolled-back', actions: ALL_ACTIONS });

    expect(timeline(ssm, appmesh, ecs, sfn)).toEqual([
      `GetParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.lock}`,
      `PutParameter ${NAMES.lock}`,
      `GetParameter ${NAMES.state}`,
      'DescribeRoute colorapp-route',
      'UpdateRoute colorapp-route',
      'DescribeRoute colorapp-route',
      'DescribeServices colorapp-green',
      'UpdateService colorapp-green',
      `GetParameter ${NAMES.state}`,
      `PutParameter ${NAMES.state}`,
      `GetParameter ${NAMES.bake}`,
      `DeleteParameter ${NAMES.bake}`,
      `GetParameter ${NAMES.approval}`,
      `DeleteParameter ${NAMES.approval}`,
      `GetParameter ${NAMES.lock}`,
      `DeleteParameter ${NAMES.lock}`,
    ]);
    expect(sentPuts(ssm)).toStrictEqual([
      {
        Name: NAMES.lock,
        Value: lockDocument({ status: 'rolling-back', reason: 'UnhealthyReleaseError' }),
        Type: 'String',
        Overwrite: true,
        Tier: 'Intelligent-Tiering',
        Description: undefined,
      },
      { Name: NAMES.state, Value: stateWith(record()), Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: undefined },
    ]);
    expect(appmesh.commandCalls(UpdateRouteCommand)[0].args[0].input.spec?.httpRoute?.action?.weightedTargets).toStrictEqual(targets(100, 0));
    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toStrictEqual([
      { cluster: CLUSTER, service: 'colorapp-green', taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 },
    ]);
    expect(route.targets()).toStrictEqual(targets(100, 0));
    expect(params.has(NAMES.lock)).toBe(false);
    expect(params.has(NAMES.bake)).toBe(false);
    expect(params.has(NAMES.approval)).toBe(false);
  });

  it('publishes the restored 100/0 as each colour\'s TrafficWeight, for the release dashboard', async () => {
    givenHalfWay();

    await performRollback(clients, request(), logger);

    const published = cloudwatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
    expect(published).toEqual([
      {
        Namespace: 'ECSRelease',
        MetricData: [
          expect.objectContaining({ MetricName: 'TrafficWeight', Dimensions: [{ Name: 'Service', Value: 'colorapp' }, { Name: 'Colour', Value: 'blue' }], Value: 100 }),
          expect.objectContaining({ MetricName: 'TrafficWeight', Dimensions: [{ Name: 'Service', Value: 'colorapp' }, { Name: 'Colour', Value: 'green' }], Value: 0 }),
        ],
      },
    ]);
  });

  it('rolls back all the same when the weight metric cannot be published', async () => {
    givenHalfWay();
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));

    await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({ outcome: 'rolled-back', actions: ALL_ACTIONS });
  });

  it('restores green and reverts blue when green was live', async () => {
    const undo = undoPlan({ live: 'green', idle: 'blue', idleService: { serviceName: 'colorapp-blue', taskDefinitionArn: IDLE_TASK_DEFINITION_ARN, desiredCount: 1 } });
    givenHalfWay({ [NAMES.lock]: lockDocument({ undo }), [NAMES.state]: releaseState({ live: 'green' }) });
    route = fakeRoute(appmesh, targets(30, 70, 'green-first'));
    givenIdle('colorapp-blue');

    const report = await performRollback(clients, request(), logger);

    expect(report.actions).toContain(`restore traffic 100/0 to green on ${ROUTE}`);
    expect(route.targets()).toStrictEqual(targets(0, 100, 'green-first'));
    expect(ecs.commandCalls(UpdateServiceCommand)[0].args[0].input).toStrictEqual({
      cluster: CLUSTER,
      service: 'colorapp-blue',
      taskDefinition: IDLE_TASK_DEFINITION_ARN,
      desiredCount: 1,
    });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toStrictEqual(record({ fromColour: 'green', toColour: 'blue' }));
  });

  it("clears only this execution's bake and approval documents", async () => {
    givenHalfWay({ [NAMES.bake]: bake(OTHER_EXECUTION_ARN), [NAMES.approval]: approval(OTHER_EXECUTION_ARN) });

    await performRollback(clients, request(), logger);

    expect(ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.lock }]);
    expect(params.json(NAMES.bake)).toStrictEqual(bake(OTHER_EXECUTION_ARN));
    expect(params.json(NAMES.approval)).toStrictEqual(approval(OTHER_EXECUTION_ARN));
  });

  describe('with no undo plan (failed before preflight passed)', () => {
    it("touches neither traffic nor services, records the release as 'failed', and unlocks", async () => {
      givenHalfWay({ [NAMES.lock]: lockDocument({ undo: null }) });

      await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
        outcome: 'failed',
        actions: ['read the lock', 'mark the lock rolling-back', 'record the release in the state', 'clear the bake and approval documents', 'release the lock'],
      });

      expect(appmesh).not.toHaveReceivedAnyCommand();
      expect(ecs).not.toHaveReceivedAnyCommand();
      expect(params.json(NAMES.state)).toStrictEqual(stateWith(record({ outcome: 'failed' })));
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('takes the colours of the record from the state when green is live', async () => {
      givenHalfWay({ [NAMES.lock]: lockDocument({ undo: null }), [NAMES.state]: releaseState({ live: 'green' }) });

      await performRollback(clients, request(), logger);

      expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({ fromColour: 'green', toColour: 'blue', outcome: 'failed' });
    });

    it('writes no state when none exists yet, and still unlocks', async () => {
      params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ undo: null }) });

      await expect(performRollback(clients, request(), logger)).resolves.toMatchObject({ outcome: 'failed' });

      expect(sentPuts(ssm).map((put) => put.Name)).toEqual([NAMES.lock]);
      expect(params.has(NAMES.state)).toBe(false);
      expect(params.has(NAMES.lock)).toBe(false);
    });
  });

  describe('when the lock is not this release', () => {
    it.each<[string, LockDocument | undefined]>([
      ["another execution's", lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN })],
      ['gone, and the release never recorded', undefined],
    ])("touches nothing when the lock is %s: 'not-ours'", async (_case, held) => {
      params = fakeParameters(ssm, { [NAMES.state]: releaseState(), ...(held ? { [NAMES.lock]: held } : {}) });
      fakeRoute(appmesh, targets(50, 50));

      await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
        outcome: 'not-ours',
        actions: ['read the lock', 'read the state'],
      });

      expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
      expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
      expect(appmesh).not.toHaveReceivedAnyCommand();
      expect(ecs).not.toHaveReceivedAnyCommand();
      if (held) expect(params.json(NAMES.lock)).toStrictEqual(held);
    });
  });

  describe('idempotent re-runs', () => {
    it("changes nothing on a second run after a complete rollback: 'already-recorded'", async () => {
      givenHalfWay();
      await performRollback(clients, request(), logger);
      const after = params.json(NAMES.state);
      ssm.resetHistory();
      appmesh.resetHistory();
      ecs.resetHistory();

      await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
        outcome: 'already-recorded',
        actions: ['read the lock', 'read the state'],
      });

      expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
      expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
      expect(appmesh).not.toHaveReceivedAnyCommand();
      expect(ecs).not.toHaveReceivedAnyCommand();
      expect(params.json(NAMES.state)).toStrictEqual(after);
    });

    it('finishes the job after a partial run: no re-marking, no traffic or service change when already restored', async () => {
      params = fakeParameters(ssm, {
        [NAMES.lock]: lockDocument({ status: 'rolling-back', reason: 'UnhealthyReleaseError' }),
        [NAMES.state]: releaseState(),
      });
      route = fakeRoute(appmesh, targets(100, 0));
      givenIdle('colorapp-green', { taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0, runningCount: 0 });

      await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
        outcome: 'rolled-back',
        actions: ALL_ACTIONS.filter((a) => a !== 'mark the lock rolling-back'),
      });

      expect(sentPuts(ssm).map((put) => put.Name)).toEqual([NAMES.state]);
      expectTrafficAndServicesUntouched();
      expect(params.json(NAMES.state)).toStrictEqual(stateWith(record()));
      expect(params.has(NAMES.lock)).toBe(false);
    });

    it('replaces, not duplicates, the record when a run after the state write re-records it', async () => {
      const earlier = record({ finishedAt: '2025-01-01T12:19:00.000Z' });
      givenHalfWay({ [NAMES.lock]: lockDocument({ status: 'rolling-back' }), [NAMES.state]: stateWith(earlier) });

      await performRollback(clients, request(), logger);

      expect(params.json<ReleaseState>(NAMES.state)?.history).toStrictEqual([summaryOf(record()), summaryOf(previousRecord())]);
    });
  });

  it("does not undo a release the state already records as promoted: it only releases the lock ('already-promoted')", async () => {
    const promoted = record({ outcome: 'promoted', failure: null, verdicts: [] });
    const state = stateWith(promoted, releaseState({ live: 'green' }));
    givenHalfWay({ [NAMES.state]: state });
    route = fakeRoute(appmesh, targets(0, 100));

    await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
      outcome: 'already-promoted',
      actions: [
        'read the lock',
        'mark the lock rolling-back',
        'check traffic agrees with the promotion',
        'clear the bake and approval documents',
        'release the lock',
      ],
    });

    expect(appmesh).toHaveReceivedCommandTimes(DescribeRouteCommand, 1);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(ecs).not.toHaveReceivedAnyCommand();
    expect(route.targets()).toStrictEqual(targets(0, 100));
    expect(sentPuts(ssm).map((put) => put.Name)).toEqual([NAMES.lock]);
    expect(params.json(NAMES.state)).toStrictEqual(state);
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it("says 'already-promoted' again on a re-run after it released the lock of a promoted release, touching nothing", async () => {
    const promoted = record({ outcome: 'promoted', failure: null, verdicts: [] });
    const state = stateWith(promoted, releaseState({ live: 'green' }));
    givenHalfWay({ [NAMES.state]: state });
    route = fakeRoute(appmesh, targets(0, 100));
    await performRollback(clients, request(), logger);
    ssm.resetHistory();
    appmesh.resetHistory();

    // A retry of the Rollback task (the first attempt timed out after releasing the lock) must
    // still route to PromotedBeforeTheError, not to RolledBack.
    await expect(performRollback(clients, request(), logger)).resolves.toStrictEqual({
      outcome: 'already-promoted',
      actions: ['read the lock', 'read the state'],
    });

    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expect(ecs).not.toHaveReceivedAnyCommand();
    expect(params.json(NAMES.state)).toStrictEqual(state);
  });

  it('fails loudly when a promotion lands while it is undoing, instead of recording a rollback over a promoted state', async () => {
    givenHalfWay();
    const promoted = stateWith(record({ outcome: 'promoted', failure: null, verdicts: [] }), releaseState({ live: 'green' }));
    // Promote's Lambda, still running after its task timed out, writes between our undo and our record.
    ecs.on(UpdateServiceCommand).callsFake(async () => {
      params.set(NAMES.state, promoted);
      return { service: ecsService('colorapp-green') };
    });

    const error = await performRollback(clients, request(), logger).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).message).toMatch(/record the release in the state.*promotion landed during the rollback/s);
    expect(params.json(NAMES.state)).toStrictEqual(promoted);
    expect(params.has(NAMES.lock)).toBe(true);
  });

  it('fails loudly when the state says promoted but traffic is back on the old colour (a promotion that landed mid-rollback)', async () => {
    const promoted = record({ outcome: 'promoted', failure: null, verdicts: [] });
    const state = stateWith(promoted, releaseState({ live: 'green' }));
    givenHalfWay({ [NAMES.lock]: lockDocument({ status: 'rolling-back' }), [NAMES.state]: state });
    route = fakeRoute(appmesh, targets(100, 0));

    const error = await performRollback(clients, request(), logger).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).message).toMatch(/check traffic agrees with the promotion.*promoted to green.*blue 100 \/ green 0/s);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(params.has(NAMES.lock)).toBe(true);
    expect(params.json(NAMES.state)).toStrictEqual(state);
  });

  describe('when an action fails', () => {
    const denied = awsError('AccessDeniedException', 'not authorized');

    it.each<[string, () => void, string, string, string]>([
      [
        'reading the lock',
        () => params.set(NAMES.lock, '{"service":'),
        'read the lock',
        'nothing',
        `StateConflictError: Parameter ${NAMES.lock} is not valid JSON; fix or delete it by hand`,
      ],
      [
        'marking the lock',
        () => ssm.on(PutParameterCommand, { Name: NAMES.lock }).rejects(denied),
        'mark the lock rolling-back',
        'read the lock',
        'AccessDeniedException: not authorized',
      ],
      [
        'restoring traffic',
        () => appmesh.on(UpdateRouteCommand).rejects(denied),
        `restore traffic 100/0 to blue on ${ROUTE}`,
        'read the lock; mark the lock rolling-back',
        'AccessDeniedException: not authorized',
      ],
      [
        'confirming the restored weights',
        () => appmesh.on(UpdateRouteCommand).resolves(describeRouteOutput(routeSpecs(targets(50, 50)).httpRoute)),
        `restore traffic 100/0 to blue on ${ROUTE}`,
        'read the lock; mark the lock rolling-back',
        'StateConflictError: route reads 50/50 after setting 100/0',
      ],
      [
        'reverting the idle service',
        () => ecs.on(UpdateServiceCommand).rejects(denied),
        `revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0`,
        `read the lock; mark the lock rolling-back; restore traffic 100/0 to blue on ${ROUTE}`,
        'AccessDeniedException: not authorized',
      ],
      [
        'recording the release',
        () => ssm.on(PutParameterCommand, { Name: NAMES.state }).rejects(denied),
        'record the release in the state',
        ALL_ACTIONS.slice(0, 4).join('; '),
        'AccessDeniedException: not authorized',
      ],
      [
        'clearing the gate documents',
        () => ssm.on(DeleteParameterCommand, { Name: NAMES.bake }).rejects(denied),
        'clear the bake and approval documents',
        ALL_ACTIONS.slice(0, 5).join('; '),
        'AccessDeniedException: not authorized',
      ],
      [
        'releasing the lock',
        () => ssm.on(DeleteParameterCommand, { Name: NAMES.lock }).rejects(denied),
        'release the lock',
        ALL_ACTIONS.slice(0, 6).join('; '),
        'AccessDeniedException: not authorized',
      ],
    ])('%s is a RollbackFailedError naming the action, what was done, and the cause', async (_case, inject, failedAt, done, cause) => {
      givenHalfWay();
      inject();

      const error = await performRollback(clients, request(), logger).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RollbackFailedError);
      expect((error as Error).name).toBe('RollbackFailedError');
      expect((error as Error).message).toBe(
        `Rollback of release ${RELEASE_ID} of 'colorapp' failed at: ${failedAt}. Done before: ${done}. Cause: ${cause}`,
      );
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(params.has(NAMES.lock)).toBe(true);
    });

    it('never reverts the idle service while traffic could not be restored', async () => {
      givenHalfWay();
      appmesh.on(UpdateRouteCommand).rejects(denied);

      await expect(performRollback(clients, request(), logger)).rejects.toThrow(RollbackFailedError);

      expect(ecs).not.toHaveReceivedAnyCommand();
      expect(params.json(NAMES.lock)).toStrictEqual(lockDocument({ status: 'rolling-back', reason: 'UnhealthyReleaseError' }));
      expect(params.json(NAMES.state)).toStrictEqual(releaseState());
    });

    it('never touches traffic when the lock could not be marked rolling-back', async () => {
      givenHalfWay();
      ssm.on(PutParameterCommand, { Name: NAMES.lock }).rejects(denied);

      await expect(performRollback(clients, request(), logger)).rejects.toThrow(RollbackFailedError);

      expect(appmesh).not.toHaveReceivedAnyCommand();
      expect(ecs).not.toHaveReceivedAnyCommand();
    });

    it('is a RollbackFailedError caused by the RouteDriftError when the route points at a foreign node', async () => {
      givenHalfWay();
      appmesh.on(DescribeRouteCommand).resolves(describeRouteOutput(routeSpecs([...targets(50, 40), { virtualNode: 'debug', weight: 10 }]).httpRoute));

      const error = await performRollback(clients, request(), logger).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RollbackFailedError);
      expect((error as Error).cause).toMatchObject({ name: 'RouteDriftError' });
      expectTrafficAndServicesUntouched();
    });
  });
});

describe('markRollbackFailed', () => {
  const ROLLBACK_ERROR = 'RollbackFailedError: failed at: restore traffic';

  it("keeps the lock as 'rollback-failed' with the reason, and records 'rollback-failed' in the state", async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ status: 'rolling-back' }), [NAMES.state]: releaseState() });

    await expect(markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger)).resolves.toStrictEqual({ lockKept: true, stateRecorded: true });

    const reason = `UnhealthyReleaseError: ${FAILURE.cause} | rollback failed: ${ROLLBACK_ERROR}`;
    const recorded = record({ outcome: 'rollback-failed', failure: { error: 'UnhealthyReleaseError', cause: `${FAILURE.cause} | rollback failed: ${ROLLBACK_ERROR}` } });
    expect(sentPuts(ssm)).toStrictEqual([
      { Name: NAMES.lock, Value: lockDocument({ status: 'rollback-failed', reason }), Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: undefined },
      { Name: NAMES.state, Value: stateWith(recorded), Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: undefined },
    ]);
    expect(ssm).not.toHaveReceivedCommand(DeleteParameterCommand);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expect(ecs).not.toHaveReceivedAnyCommand();
  });

  it('bounds the reason in the lock and the cause in the state, and the state still fits one parameter', async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });

    await markRollbackFailed(clients, request(), 'x'.repeat(5000), logger);

    expect(params.json<LockDocument>(NAMES.lock)?.reason).toHaveLength(2000);
    const state = params.json<ReleaseState>(NAMES.state)!;
    expect(state.lastRelease?.failure?.cause).toHaveLength(4000);
    // Two copies of a 4000-character cause do not fit in 8 KB: the history's copy is cut.
    expect(state.history.map((r) => [r.id, r.failure?.cause.length])).toEqual([[RELEASE_ID, 200]]);
    expect(stateSize(state)).toBeLessThanOrEqual(MAX_STATE_BYTES);
  });

  it('takes the colours of the record from the state when there is no undo plan', async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ undo: null }), [NAMES.state]: releaseState({ live: 'green' }) });

    await markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger);

    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({ fromColour: 'green', toColour: 'blue', outcome: 'rollback-failed' });
  });

  it('writes nothing when the lock is gone', async () => {
    params = fakeParameters(ssm, { [NAMES.state]: releaseState() });

    await expect(markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger)).resolves.toStrictEqual({ lockKept: false, stateRecorded: false });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it("writes nothing when the lock is another execution's: its image and colours are not this release's", async () => {
    const others = lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN, image: 'colorapp:9.9.9', version: '9.9.9' });
    params = fakeParameters(ssm, { [NAMES.lock]: others, [NAMES.state]: releaseState() });

    await expect(markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger)).resolves.toStrictEqual({ lockKept: false, stateRecorded: false });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(others);
    expect(params.json(NAMES.state)).toStrictEqual(releaseState());
  });

  it('says the state was not recorded when no state exists', async () => {
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument() });

    await expect(markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger)).resolves.toStrictEqual({ lockKept: true, stateRecorded: false });
    expect(sentPuts(ssm).map((put) => put.Name)).toEqual([NAMES.lock]);
  });

  it('never rewrites a promotion as rollback-failed', async () => {
    const state = stateWith(record({ outcome: 'promoted', failure: null }), releaseState({ live: 'green' }));
    params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ status: 'rolling-back' }), [NAMES.state]: state });

    await expect(markRollbackFailed(clients, request(), ROLLBACK_ERROR, logger)).resolves.toStrictEqual({ lockKept: true, stateRecorded: false });
    expect(params.json(NAMES.state)).toStrictEqual(state);
    expect(params.json(NAMES.lock)).toMatchObject({ status: 'rollback-failed' });
  });
});

describe('causeMessage', () => {
  it.each<[string, string | undefined, string]>([
    ['the errorMessage of a Lambda error cause', JSON.stringify({ errorType: 'UnhealthyReleaseError', errorMessage: 'too many 5xx', trace: [] }), 'too many 5xx'],
    ['a plain cause as it is', 'No approval within 60 seconds', 'No approval within 60 seconds'],
    ['JSON without an errorMessage as it is', '{"reason":"x"}', '{"reason":"x"}'],
    ['JSON whose errorMessage is not a string as it is', '{"errorMessage":42}', '{"errorMessage":42}'],
    ['nothing as an empty string', undefined, ''],
  ])('gives %s', (_case, cause, expected) => {
    expect(causeMessage(cause)).toBe(expected);
  });
});
