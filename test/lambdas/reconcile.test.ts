import { AppMeshClient, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient, StartSyncExecutionCommand, type ExecutionStatus } from '@aws-sdk/client-sfn';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler as cleanup } from '../../lambdas/cleanup';
import { handler as reconcileFleet, reconcileService } from '../../lambdas/reconcile';
import { REGISTRY_PATH_ENV, registryEntryOf, registryPathOf } from '../../lambdas/shared/registry';
import type { ReleaseState } from '../../lambdas/shared/documents';
import { CLUSTER, ecsService, IMAGE, LIVE_TASK_DEFINITION_ARN, RELEASE_ID, taskDefinitionArn } from '../support/ecs-fixtures';
import {
  config,
  EXECUTION_ARN,
  fakeDateOnly,
  fakeParameters,
  fakeRoute,
  IDLE_TASK_DEFINITION_ARN,
  lockDocument,
  NAMES,
  NEW_TASK_DEFINITION_ARN,
  releaseState,
  ROUTE,
  targets,
} from '../support/release-documents';

const ssm = mockClient(SSMClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);

const NOW = new Date('2025-01-01T12:30:00.000Z');
fakeDateOnly(NOW);
const PUBLISHER_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ecs-release-colorapp-drift-events';

let params: ReturnType<typeof fakeParameters>;
/** One service's reconciliation, as the engine-wide handler runs it for each registered service. */
const reconcile = () => reconcileService('colorapp');
let route: ReturnType<typeof fakeRoute>;
let services: Record<string, Service>;

function given(documents: Record<string, unknown>) {
  params = fakeParameters(ssm, { [NAMES.config]: config(), [NAMES.state]: releaseState(), ...documents });
}

/** The lock's execution, as DescribeExecution reports it. */
function execution(status: ExecutionStatus, extra: { error?: string; cause?: string } = {}) {
  sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION_ARN, status, ...extra });
}

/** The Drift values the run published. */
const driftValues = () =>
  cloudwatch.commandCalls(PutMetricDataCommand).map((call) => {
    const input = call.args[0].input;
    expect(input).toMatchObject({ Namespace: 'ECSRelease' });
    expect(input.MetricData![0]).toMatchObject({ MetricName: 'Drift', Dimensions: [{ Name: 'Service', Value: 'colorapp' }] });
    return input.MetricData![0].Value;
  });
/** The TrafficWeight points the run published, as `colour=value`. */
const weightsPublished = () =>
  cloudwatch
    .commandCalls(PutMetricDataCommand)
    .flatMap((call) => call.args[0].input.MetricData!.filter((d) => d.MetricName === 'TrafficWeight'))
    .map((d) => `${d.Dimensions!.find((x) => x.Name === 'Colour')!.Value}=${d.Value}`);
const driftEvents = () => sfn.commandCalls(StartSyncExecutionCommand).map((call) => JSON.parse(call.args[0].input.input!));

beforeEach(() => {
  process.env[REGISTRY_PATH_ENV] = registryPathOf('ecs-release');
  process.env.DRIFT_EVENTS_STATE_MACHINE_ARN = PUBLISHER_ARN;
  for (const mock of [ssm, ecs, appmesh, sfn, cloudwatch]) mock.reset();
  route = fakeRoute(appmesh, targets(100, 0));
  // Between releases: blue live on the recorded revision, green scaled to zero.
  services = {
    'colorapp-blue': ecsService('colorapp-blue', { taskDefinition: LIVE_TASK_DEFINITION_ARN }),
    'colorapp-green': ecsService('colorapp-green', { taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0, runningCount: 0 }),
  };
  ecs.on(DescribeServicesCommand).callsFake(async (input: { services: string[] }) => ({ services: [services[input.services[0]]] }));
  ecs.on(UpdateServiceCommand).callsFake(async (input: { service: string; taskDefinition: string; desiredCount: number }) => {
    services[input.service] = { ...services[input.service], taskDefinition: input.taskDefinition, desiredCount: input.desiredCount };
    return { service: services[input.service] };
  });
  cloudwatch.on(PutMetricDataCommand).resolves({});
  sfn.on(StartSyncExecutionCommand).resolves({ status: 'SUCCEEDED' });
});

describe('reconcile handler: a release holds the lock', () => {
  /** Mid-canary: green deployed at the new revision with tasks, the route split 50/50. */
  function midCanary() {
    given({ [NAMES.lock]: lockDocument() });
    route = fakeRoute(appmesh, targets(50, 50));
    services['colorapp-green'] = ecsService('colorapp-green', { taskDefinition: NEW_TASK_DEFINITION_ARN });
  }

  it('recovers a release whose ABORTED event was lost: traffic 100/0, idle reverted, state rolled-back, lock released', async () => {
    midCanary();
    execution('ABORTED');

    await expect(reconcile()).resolves.toMatchObject({ action: 'recovered', recovery: { action: 'rolled-back' } });

    expect(route.targets()).toStrictEqual(targets(100, 0));
    expect(ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input)).toStrictEqual([
      { cluster: CLUSTER, service: 'colorapp-green', taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 },
    ]);
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
      id: RELEASE_ID,
      outcome: 'rolled-back',
      image: IMAGE,
      failure: { error: 'ExecutionAbortedError', cause: `Execution ${EXECUTION_ARN} was stopped from outside` },
    });
    expect(params.has(NAMES.lock)).toBe(false);
    // Recovery is not drift: no Drift point for this run; only the restored weights, for the dashboard.
    expect(cloudwatch.commandCalls(PutMetricDataCommand).flatMap((call) => call.args[0].input.MetricData!.map((d) => d.MetricName))).toEqual([
      'TrafficWeight',
      'TrafficWeight',
    ]);
  });

  it('records what cleanup would for a FAILED execution: its own error and cause', async () => {
    midCanary();
    execution('FAILED', { error: 'States.Runtime', cause: "Invalid path '$.progress.decision'" });

    await expect(reconcile()).resolves.toMatchObject({ action: 'recovered' });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.failure).toStrictEqual({
      error: 'States.Runtime',
      cause: "Invalid path '$.progress.decision'",
    });
  });

  it('treats a lock whose execution Step Functions does not know as dead, and says so in the history', async () => {
    midCanary();
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));

    await expect(reconcile()).resolves.toMatchObject({ action: 'recovered' });
    expect(route.targets()).toStrictEqual(targets(100, 0));
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.failure?.error).toBe('ExecutionNotFoundError');
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it('leaves a lock held by a RUNNING execution untouched, and writes nothing', async () => {
    midCanary();
    execution('RUNNING');

    await expect(reconcile()).resolves.toStrictEqual({ action: 'release-running', reason: `execution ${EXECUTION_ARN} is RUNNING` });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(ecs).not.toHaveReceivedAnyCommand();
    expect(cloudwatch).not.toHaveReceivedAnyCommand();
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument());
  });

  it('leaves a rollback-failed lock for an operator without asking Step Functions or touching anything', async () => {
    const failed = lockDocument({ status: 'rollback-failed', reason: 'UnhealthyReleaseError: ... | rollback failed: AccessDenied' });
    given({ [NAMES.lock]: failed });

    await expect(reconcile()).resolves.toMatchObject({ action: 'left-for-operator' });
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(params.json(NAMES.lock)).toStrictEqual(failed);
  });

  it('leaves a lock still held by a SUCCEEDED execution for an operator: undoing it could undo a promotion', async () => {
    midCanary();
    execution('SUCCEEDED');

    await expect(reconcile()).resolves.toMatchObject({ action: 'left-for-operator' });
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(route.targets()).toStrictEqual(targets(50, 50));
  });

  it('acts exactly once when cleanup handles the same dead execution while the reconciler asks Step Functions', async () => {
    midCanary();
    // Cleanup's event arrives while the reconciler waits for DescribeExecution.
    sfn.on(DescribeExecutionCommand).callsFake(async () => {
      await expect(
        cleanup({ detail: { executionArn: EXECUTION_ARN, name: RELEASE_ID, status: 'ABORTED', input: JSON.stringify({ service: 'colorapp' }) } }),
      ).resolves.toMatchObject({ action: 'rolled-back' });
      return { executionArn: EXECUTION_ARN, status: 'ABORTED' };
    });

    await expect(reconcile()).resolves.toMatchObject({ action: 'lock-changed', recovery: { action: 'nothing-to-undo' } });

    expect(ssm.commandCalls(PutParameterCommand, { Name: NAMES.state })).toHaveLength(1);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(1);
    expect(appmesh.commandCalls(UpdateRouteCommand)).toHaveLength(1);
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it('lets cleanup find nothing to do after the reconciler recovered the execution first', async () => {
    midCanary();
    execution('ABORTED');
    await reconcile();

    await expect(
      cleanup({ detail: { executionArn: EXECUTION_ARN, name: RELEASE_ID, status: 'ABORTED', input: JSON.stringify({ service: 'colorapp' }) } }),
    ).resolves.toStrictEqual({ action: 'nothing-to-undo', reason: 'the execution does not hold the lock' });
    expect(ssm.commandCalls(PutParameterCommand, { Name: NAMES.state })).toHaveLength(1);
  });
});

describe('reconcile handler: no release runs', () => {
  it('publishes Drift 0 and no event when the route, the live and the idle service match the state', async () => {
    given({});

    await expect(reconcile()).resolves.toMatchObject({ action: 'clean' });
    expect(driftValues()).toEqual([0]);
    expect(driftEvents()).toEqual([]);
    // The split it read, for the dashboard's weight graph (also long after the last release).
    expect(weightsPublished()).toEqual(['blue=100', 'green=0']);
  });

  it('reports a route left split, without fixing it: Drift 1 and a Release Drift Detected event', async () => {
    given({});
    route = fakeRoute(appmesh, targets(90, 10));

    const result = await reconcile();

    expect(result).toMatchObject({ action: 'drift-reported', findings: [{ kind: 'route' }] });
    expect(result.findings![0].message).toContain(`${ROUTE} sends blue 90 / green 10 with no release running`);
    expect(driftValues()).toEqual([1]);
    expect(weightsPublished()).toEqual(['blue=90', 'green=10']);
    expect(sfn).toHaveReceivedCommandWith(StartSyncExecutionCommand, { stateMachineArn: PUBLISHER_ARN });
    expect(driftEvents()).toEqual([
      { schemaVersion: 1, service: 'colorapp', outcome: 'drift-detected', live: 'blue', findings: result.findings, at: NOW.toISOString() },
    ]);
    expect(route.targets()).toStrictEqual(targets(90, 10));
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('reports an idle service that runs tasks and a live service on another revision, changing neither', async () => {
    given({});
    services['colorapp-green'] = ecsService('colorapp-green', { taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 2 });
    services['colorapp-blue'] = ecsService('colorapp-blue', { taskDefinition: taskDefinitionArn(9) });

    const result = await reconcile();

    expect(result.findings?.map((f) => f.kind)).toEqual(['idle-running', 'live-revision']);
    expect(result.findings![1].message).toContain(`runs ${taskDefinitionArn(9)}, but the release state records ${LIVE_TASK_DEFINITION_ARN}`);
    expect(driftValues()).toEqual([1]);
    expect(driftEvents()).toHaveLength(1);
    expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('does not count a warm idle colour as drift when the configuration keeps it warm', async () => {
    given({ [NAMES.config]: config({ promotion: { scaleDownDelaySeconds: 300, keepOldColourWarm: true } }) });
    services['colorapp-green'] = ecsService('colorapp-green', { taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 3 });

    await expect(reconcile()).resolves.toMatchObject({ action: 'clean' });
    expect(driftValues()).toEqual([0]);
  });

  it('reports a route that no longer forwards to the two colours as drift, not as a failure', async () => {
    given({});
    route = fakeRoute(appmesh, [{ virtualNode: 'someone-else', weight: 100 }]);

    await expect(reconcile()).resolves.toMatchObject({ action: 'drift-reported', findings: [{ kind: 'route' }] });
    expect(driftValues()).toEqual([1]);
    // A route that is not a split of the two colours has no weights to draw.
    expect(weightsPublished()).toEqual([]);
  });

  it('holds the live service to the seeded state only once a release has recorded it', async () => {
    given({ [NAMES.state]: releaseState({ seededBy: 'cdk' }) });
    services['colorapp-blue'] = ecsService('colorapp-blue', { taskDefinition: taskDefinitionArn(9) });

    await expect(reconcile()).resolves.toMatchObject({ action: 'clean' });
  });

  it('fails loudly when the drift event cannot be published (the metric still says 1)', async () => {
    given({});
    route = fakeRoute(appmesh, targets(90, 10));
    sfn.on(StartSyncExecutionCommand).resolves({ status: 'FAILED', error: 'EventBridge.AccessDeniedException', cause: 'denied' });

    await expect(reconcile()).rejects.toMatchObject({ name: 'AwsCallFailedError' });
    expect(driftValues()).toEqual([1]);
  });
});

describe('reconcile handler: every registered service', () => {
  it('reconciles each registered service and returns what it did for each', async () => {
    given({ [registryEntryOf('ecs-release', 'colorapp')]: 'colorapp' });

    await expect(reconcileFleet()).resolves.toEqual({ services: [expect.objectContaining({ service: 'colorapp', action: 'clean' })] });
    expect(driftValues()).toEqual([0]);
  });

  it("reconciles the other services when one's configuration is missing, then fails naming that one", async () => {
    given({
      [registryEntryOf('ecs-release', 'broken')]: 'broken',
      [registryEntryOf('ecs-release', 'colorapp')]: 'colorapp',
    });

    await expect(reconcileFleet()).rejects.toMatchObject({
      name: 'ReconcileIncompleteError',
      message: expect.stringMatching(/1 of 2 services: broken: ConfigNotFoundError.*colorapp clean/),
    });
    // colorapp was judged all the same.
    expect(driftValues()).toEqual([0]);
  });

  it('reconciles nothing, and reads no service document, when nothing is registered', async () => {
    given({});

    await expect(reconcileFleet()).resolves.toEqual({ services: [] });
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
  });
});

describe('reconcile handler: configuration', () => {
  it('is a ValidationError without RELEASE_REGISTRY_PATH, before any call', async () => {
    delete process.env[REGISTRY_PATH_ENV];
    await expect(reconcileFleet()).rejects.toMatchObject({ name: 'ValidationError' });
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
