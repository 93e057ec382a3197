/**
 * Path tests: the real release.asl.json, run by aws-local-stepfunctions, every Task state
 * calling its real handler, AWS replaced by the stateful FakeAws world. Each test asserts what
 * an operator would check afterwards: route weights, the ECS services, the state and lock
 * documents, the release events sent, the path taken and the state transitions billed.
 */
import { RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { handler as alarmWatcher } from '../../lambdas/alarm-watcher';
import { handler as approveRelease } from '../../lambdas/api/approve-release';
import { handler as rejectRelease } from '../../lambdas/api/reject-release';
import { handler as cleanup } from '../../lambdas/cleanup';
import { handler as reconcile } from '../../lambdas/reconcile';
import type { LockDocument, ReleaseState, ReleaseSummary } from '../../lambdas/shared/documents';
import { parameterNames } from '../../lambdas/shared/documents';
import { MAX_STATE_BYTES } from '../../lambdas/shared/release-state';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../../infra/release-event-schema';
import { awsError, FakeAws } from '../support/fake-aws';
import { colorappConfig, runRelease, seedColorapp, STATE_MACHINE_ARN, v2Request, virtualNodeArn, type RunResult } from '../support/release-harness';

const names = parameterNames('colorapp');
const V2 = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2';

let world: FakeAws;
let seeded: { blueTd: string; greenTd: string };

beforeEach(() => {
  world = new FakeAws();
  seeded = seedColorapp(world);
});
afterEach(() => world.restore());

const state = () => world.json<ReleaseState>(names.state)!;
const lock = () => world.json<LockDocument>(names.lock);
const route = () => world.weights();
const service = (name: string) => world.services.get(name)!;

/** The states a run went through after `from`, up to its end. */
function tail(result: RunResult, from: string): string[] {
  return result.path.slice(result.path.lastIndexOf(from));
}

/** An API Gateway request of alice to `POST /releases/colorapp/<action>`. */
function gateRequest(action: 'approve' | 'reject', body: Record<string, unknown> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: `/releases/colorapp/${action}`,
    pathParameters: { service: 'colorapp' },
    body: JSON.stringify(body),
    requestContext: { identity: { userArn: 'arn:aws:iam::111122223333:user/alice' } },
  } as unknown as APIGatewayProxyEvent;
}

/** The "Step Functions Execution Status Change" event EventBridge sends when `result` ended. */
function statusChange(result: RunResult, status: string = result.status) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: result.executionArn,
      name: result.releaseId,
      status,
      input: JSON.stringify(result.input),
      error: result.error?.Error ?? null,
      cause: result.error?.Cause ?? null,
    },
  };
}

/** What a rolled-back release must leave: blue 100/0, green as before, recorded, unlocked. */
function expectCleanRollback(result: RunResult, error: string) {
  expect(result.status).toBe('FAILED');
  expect(result.error?.Error).toBe(error);
  expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
  expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
  expect(service('colorapp-blue')).toMatchObject({ taskDefinition: seeded.blueTd, desiredCount: 2 });
  expect(lock()).toBeUndefined();
  expect(world.parameters.has(names.bake)).toBe(false);
  expect(world.parameters.has(names.approval)).toBe(false);
  expect(state().live).toBe('blue');
  expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rolled-back', failure: { error } });
}

describe('release state machine: promotion paths', () => {
  it('promotes a canary 10/50/100: green live with v2, blue scaled to zero, lock released', async () => {
    const result = await runRelease(world, v2Request());

    expect(result.status).toBe('SUCCEEDED');
    expect(world.weightHistory).toEqual([
      { 'colorapp-blue-node': 90, 'colorapp-green-node': 10 },
      { 'colorapp-blue-node': 50, 'colorapp-green-node': 50 },
      { 'colorapp-blue-node': 0, 'colorapp-green-node': 100 },
    ]);
    const green = service('colorapp-green');
    expect(green.desiredCount).toBe(2);
    // Green's revision is a clone of blue's, and must run as green throughout: the app's colour,
    // the virtual node its Envoy registers as, and the colour its metrics are tagged with.
    expect(world.taskDefinitions.get(green.taskDefinition!)?.taskDefinition.containerDefinitions).toMatchObject([
      { name: 'app', image: V2, environment: [{ name: 'COLOR', value: 'green' }] },
      {
        name: 'envoy',
        environment: [
          { name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn('colorapp-mesh', 'colorapp-green-node') },
          { name: 'ENABLE_ENVOY_DOG_STATSD', value: '1' },
        ],
      },
      { name: 'envoy-stats-config', environment: [{ name: 'SERVICE', value: 'colorapp' }, { name: 'COLOR', value: 'green' }] },
    ]);
    expect(service('colorapp-blue').desiredCount).toBe(0);
    expect(state()).toMatchObject({
      live: 'green',
      colours: { green: { taskDefinitionArn: green.taskDefinition, image: V2, version: 'v2' } },
      lastRelease: { id: result.releaseId, outcome: 'promoted', fromColour: 'blue', toColour: 'green', requestedBy: 'test' },
    });
    expect(state().lastRelease!.verdicts.map((v) => [v.weight, v.status])).toEqual([
      [10, 'healthy'],
      [50, 'healthy'],
      [100, 'healthy'],
    ]);
    expect(lock()).toBeUndefined();
    const output = result.output as { progress: { verdicts: unknown[] } };
    expect(output.progress.verdicts).toHaveLength(3);
    expect(result.path).toEqual([
      'Plan', 'AcquireLock', 'LoadState', 'Preflight', 'RegisterTaskDefinition', 'DeployIdle',
      'WaitForStability', 'CheckStability', 'IsStable', 'ApprovalBeforeTraffic?',
      'ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision', 'StepPassed',
      'ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision', 'StepPassed',
      'ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision', 'LastStepPassed',
      'ApprovalBeforePromote?', 'Promote', 'KeepOldColourWarm?', 'WaitBeforeScaleDown', 'ScaleDownOldColour',
      'ReleaseLock', 'Released',
    ]);
  });

  it('bills at most 40 state transitions for a 4-step canary, one of them per step for its event', async () => {
    const result = await runRelease(world, v2Request({ strategy: { type: 'canary', steps: [5, 25, 50, 100] } }));
    expect(result.status).toBe('SUCCEEDED');
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([5, 25, 50, 100]);
    expect(result.path.filter((s) => s === 'StepPassed' || s === 'LastStepPassed')).toEqual([
      'StepPassed', 'StepPassed', 'StepPassed', 'LastStepPassed',
    ]);
    // 33 before the step events, plus one PutEvents state per step.
    expect(result.transitions).toBe(37);
    expect(result.transitions).toBeLessThanOrEqual(40);
  });

  it('shifts linearly in stepPercent steps', async () => {
    const result = await runRelease(world, v2Request({ strategy: { type: 'linear', stepPercent: 40 } }));
    expect(result.status).toBe('SUCCEEDED');
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([40, 80, 100]);
    expect(state().live).toBe('green');
  });

  it('moves all traffic at once for blue/green and bakes once', async () => {
    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));
    expect(result.status).toBe('SUCCEEDED');
    expect(world.weightHistory).toEqual([{ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 }]);
    expect(result.path.filter((s) => s === 'Bake')).toHaveLength(1);
    expect(state().lastRelease?.verdicts).toHaveLength(1);
  });

  it('releases back from green to blue on the next release, using the recorded state', async () => {
    await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));
    const result = await runRelease(world, v2Request({ image: V2.replace(':v2', ':v3'), strategy: { type: 'blue-green' } }));
    expect(result.status).toBe('SUCCEEDED');
    expect(state()).toMatchObject({ live: 'blue', colours: { blue: { version: 'v3' }, green: { version: 'v2' } } });
    expect(state().history.map((r) => r.version)).toEqual(['v3', 'v2']);
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    // Cloned from green's clone of blue: back to blue's identity everywhere.
    const blue = world.taskDefinitions.get(service('colorapp-blue').taskDefinition!)!.taskDefinition;
    expect(blue.containerDefinitions!.map((c) => [c.name, c.environment])).toEqual([
      ['app', [{ name: 'COLOR', value: 'blue' }]],
      ['envoy', [{ name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn('colorapp-mesh', 'colorapp-blue-node') }, { name: 'ENABLE_ENVOY_DOG_STATSD', value: '1' }]],
      ['envoy-stats-config', [{ name: 'SERVICE', value: 'colorapp' }, { name: 'COLOR', value: 'blue' }]],
    ]);
    expect(blue.containerDefinitions![0].image).toBe(V2.replace(':v2', ':v3'));
  });

  it('retries a throttled UpdateRoute and still promotes', async () => {
    world.updateRouteFailures.push(awsError('ThrottlingException', 'Rate exceeded'));
    const result = await runRelease(world, v2Request());
    expect(result.status).toBe('SUCCEEDED');
    expect(world.appmesh).toHaveReceivedCommandTimes(UpdateRouteCommand, 4);
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([10, 50, 100]);
  });
});

describe('release state machine: step events', () => {
  it('sends one "Release Step Passed" event per healthy step of a canary 10/50/100, weights 10, 50 and 100', async () => {
    const result = await runRelease(world, v2Request());

    expect(result.status).toBe('SUCCEEDED');
    expect(result.events.map((e) => [e.stateName, e.detail.step, e.detail.stepCount, e.detail.weight])).toEqual([
      ['StepPassed', 1, 3, 10],
      ['StepPassed', 2, 3, 50],
      ['LastStepPassed', 3, 3, 100],
    ]);
    for (const event of result.events) {
      expect(event).toMatchObject({
        eventBusName: 'default',
        source: RELEASE_EVENT_SOURCE,
        'detail-type': RELEASE_EVENT_TYPES.stepPassed,
        // Step Functions appends the execution and the state machine to every entry's resources.
        resources: [result.executionArn, STATE_MACHINE_ARN],
      });
      // The fields every release event has, plus the step's own.
      expect(Object.keys(event.detail).sort()).toEqual(
        ['schemaVersion', 'service', 'releaseId', 'executionArn', 'outcome', 'status', 'error', 'cause', 'step', 'stepCount', 'weight', 'verdict', 'at'].sort(),
      );
      expect(event.detail).toMatchObject({
        schemaVersion: 1,
        service: 'colorapp',
        releaseId: result.releaseId,
        executionArn: result.executionArn,
        outcome: 'step-passed',
        status: 'RUNNING',
        error: null,
        cause: null,
        verdict: {
          status: 'healthy',
          colour: 'green',
          weight: event.detail.weight,
          stepIndex: (event.detail.step as number) - 1,
          evidence: { requests: expect.any(Number), errors5xx: 0, successRate: 1, p99LatencyMs: 40, alarmsInAlarm: [] },
          // Judged against blue too (relative judgement is on by default): the minimum is the 95% floor.
          thresholds: { minSuccessRate: 0.95, maxP99LatencyMs: 500, minRequests: 20 },
          reasons: [expect.stringContaining('no alarm is in ALARM')],
        },
      });
      expect(new Date(event.detail.at as string).toISOString()).toBe(event.detail.at);
    }
    // Each event carries the verdict that passed its step: the ones the execution output keeps.
    expect(result.events.map((e) => e.detail.verdict)).toEqual((result.output as { progress: { verdicts: unknown[] } }).progress.verdicts);
  });

  it('announces only the steps that passed: unhealthy at 50% sends the 10% event and rolls back', async () => {
    const result = await runRelease(world, v2Request(), {
      onStateDone: (name) => {
        if (name === 'StepPassed') world.traffic.set('green', { requests: 1000, errors5xx: 300, p99LatencyMs: 40 });
      },
    });
    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(result.events.map((e) => [e.detail.step, e.detail.weight])).toEqual([[1, 10]]);
    expect(tail(result, 'StepPassed')).toEqual([
      'StepPassed', 'ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision', 'HealthFailed', 'Rollback', 'WasItPromoted?', 'RolledBack',
    ]);
  });

  it('sends one event for a step baked twice: inconclusive, then healthy', async () => {
    world.traffic.set('green', { requests: 3, errors5xx: 0, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }), {
      onStateDone: (name) => {
        if (name === 'CheckHealth') world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(tail(result, 'ShiftTraffic')).toEqual([
      'ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision', 'Bake', 'CheckHealth', 'HealthDecision', 'LastStepPassed',
      'ApprovalBeforePromote?', 'Promote', 'KeepOldColourWarm?', 'WaitBeforeScaleDown', 'ScaleDownOldColour', 'ReleaseLock', 'Released',
    ]);
    expect(result.events).toHaveLength(1);
    expect(result.events[0].detail).toMatchObject({ step: 1, stepCount: 1, weight: 100, verdict: { status: 'healthy', attempt: 1 } });
  });

  it('retries a throttled PutEvents and still sends every event', async () => {
    let calls = 0;
    const result = await runRelease(world, v2Request(), {
      onPutEvents: () => {
        if (++calls === 1) throw awsError('EventBridge.ThrottlingException', 'Rate exceeded');
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toBe(4);
    expect(result.events.map((e) => e.detail.weight)).toEqual([10, 50, 100]);
  });

  it('promotes all the same when no event can be sent: the error is kept at $.stepEvent, traffic and state as usual', async () => {
    let calls = 0;
    const result = await runRelease(world, v2Request(), {
      onPutEvents: () => {
        calls++;
        throw awsError('EventBridge.AmazonEventBridgeException', 'User is not authorized to perform: events:PutEvents');
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.events).toEqual([]);
    // Three steps, each tried once and retried three times, then given up on.
    expect(calls).toBe(12);
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([10, 50, 100]);
    expect(state()).toMatchObject({ live: 'green', lastRelease: { id: result.releaseId, outcome: 'promoted', failure: null } });
    expect(lock()).toBeUndefined();
    expect(result.output).toMatchObject({
      stepEvent: { Error: 'EventBridge.AmazonEventBridgeException', Cause: expect.stringContaining('events:PutEvents') },
    });
    expect(result.output).not.toHaveProperty('error');
    expect(result.path).not.toContain('Rollback');
    expect(result.path.filter((s) => s.endsWith('StepPassed'))).toHaveLength(3);
  });
});

describe('release state machine: a long-lived service', () => {
  /**
   * Ten releases before the two this test runs, newest first, as a busy service's state would
   * hold them: alternating colours, every third one rolled back with its cause.
   */
  function earlierReleases(): ReleaseSummary[] {
    return Array.from({ length: 10 }, (_, i) => {
      const n = 10 - i;
      const rolledBack = n % 3 === 0;
      const to = n % 2 === 0 ? 'blue' : 'green';
      return {
        id: `colorapp-earlier-${n}`,
        executionArn: `arn:aws:states:eu-west-1:111122223333:execution:colorapp-release:colorapp-earlier-${n}`,
        image: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v1.${n}`,
        version: `v1.${n}`,
        fromColour: to === 'blue' ? 'green' : 'blue',
        toColour: to,
        strategy: { type: 'canary', steps: [5, 10, 25, 50, 75, 100] },
        outcome: rolledBack ? 'rolled-back' : 'promoted',
        startedAt: new Date(Date.UTC(2026, 10, n, 9)).toISOString(),
        finishedAt: new Date(Date.UTC(2026, 10, n, 10)).toISOString(),
        requestedBy: 'arn:aws:iam::111122223333:role/colorapp-deployer',
        reason: `Weekly release ${n} of the colour app: CHG-${1000 + n}, approved by the change board`,
        failure: rolledBack
          ? { error: 'UnhealthyReleaseError', cause: `success rate 0.95 below 0.99 at 10% on ${to}: `.padEnd(250, 'evidence ') }
          : null,
      };
    });
  }

  it('promotes the eleventh and twelfth releases in a row with the state under 8 KB, the history newest first', async () => {
    const earlier = earlierReleases();
    world.putJson(names.state, {
      schemaVersion: 1, service: 'colorapp', live: 'blue',
      colours: {
        blue: { taskDefinitionArn: seeded.blueTd, image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v1', version: 'v1' },
        green: { taskDefinitionArn: seeded.greenTd, image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v0', version: 'v0' },
      },
      lastRelease: { ...earlier[0], verdicts: [] }, history: earlier, updatedAt: earlier[0].finishedAt,
    });
    const stored = () => Buffer.byteLength(world.parameters.get(names.state)!.value, 'utf8');
    expect(stored()).toBeLessThanOrEqual(MAX_STATE_BYTES);

    const eleventh = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));
    const twelfth = await runRelease(world, v2Request({ image: V2.replace(':v2', ':v3'), strategy: { type: 'blue-green' } }));

    expect([eleventh.status, twelfth.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(stored()).toBeLessThanOrEqual(MAX_STATE_BYTES);
    expect(state()).toMatchObject({
      live: 'blue',
      colours: { blue: { version: 'v3' }, green: { version: 'v2' } },
      lastRelease: { id: twelfth.releaseId, outcome: 'promoted', verdicts: [{ weight: 100, status: 'healthy' }] },
    });
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    // Twelve releases do not fit in 8 KB: the oldest were dropped, the newest kept in order.
    const ids = state().history.map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(ids.length).toBeLessThan(12);
    expect(ids).toEqual([twelfth.releaseId, eleventh.releaseId, ...earlier.slice(0, ids.length - 2).map((r) => r.id)]);
    const finished = state().history.map((r) => r.finishedAt);
    expect(finished).toEqual([...finished].sort().reverse());
    expect(lock()).toBeUndefined();
  });
});

describe('release state machine: refusals that touch nothing', () => {
  it('fails with ValidationError on invalid input and sends no write at all', async () => {
    const result = await runRelease(world, { service: 'colorapp', image: 'not an image!' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('ValidationError');
    expect(result.error?.Cause).toMatch(/image/);
    expect(result.path).toEqual(['Plan', 'Rejected']);
    expect(world.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(world.ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(world.appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  });

  it('fails with ReleaseInProgressError when the lock is held, naming the holder, touching nothing', async () => {
    const holder = 'arn:aws:states:eu-west-1:111122223333:execution:colorapp-release:other';
    const other: LockDocument = {
      service: 'colorapp', releaseId: 'other', executionArn: holder, acquiredAt: '2026-11-22T00:00:00.000Z',
      image: V2, version: 'v2', strategy: { type: 'blue-green' }, requestedBy: null, requestReason: null,
      status: 'held', reason: null, undo: null,
    };
    world.putJson(names.lock, other);
    world.executions.set(holder, 'RUNNING');

    const result = await runRelease(world, v2Request());

    expect(result.error?.Error).toBe('ReleaseInProgressError');
    expect(result.error?.Cause).toContain(holder);
    expect(result.path).toEqual(['Plan', 'AcquireLock', 'Rejected']);
    expect(lock()).toEqual(other);
    expect(world.parameters.has(names.state)).toBe(false);
    expect(world.ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(world.ecs).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
    expect(world.appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  });

  it('refuses a drifted route with RouteDriftError and leaves the drift as it found it', async () => {
    world.seedRoute('colorapp-mesh', 'colorapp-router', 'colorapp-route', { 'colorapp-blue-node': 90, 'colorapp-green-node': 10 });
    world.putJson(names.state, {
      schemaVersion: 1, service: 'colorapp', live: 'blue',
      colours: {
        blue: { taskDefinitionArn: seeded.blueTd, image: 'colorapp:v1', version: 'v1' },
        green: { taskDefinitionArn: seeded.greenTd, image: 'colorapp:v0', version: 'v0' },
      },
      lastRelease: null, history: [], updatedAt: '2026-11-22T00:00:00.000Z',
    });

    const result = await runRelease(world, v2Request());

    expect(result.error?.Error).toBe('RouteDriftError');
    expect(tail(result, 'Preflight')).toEqual(['Preflight', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(route()).toEqual({ 'colorapp-blue-node': 90, 'colorapp-green-node': 10 });
    expect(world.appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(world.ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(lock()).toBeUndefined();
    expect(state().lastRelease).toMatchObject({ outcome: 'failed', failure: { error: 'RouteDriftError' } });
  });
});

describe('release state machine: rollback paths', () => {
  it('rolls back at once when an alarm fires during a bake, not at the end of the bake', async () => {
    const started = Date.now();
    const result = await runRelease(world, v2Request({ bakeSeconds: 30 }), {
      onBakeStarted: async ({ stepIndex }) => {
        if (stepIndex !== 0) return;
        world.alarms.set('colorapp-green-p99', 'ALARM');
        const watched = await alarmWatcher({
          source: 'aws.cloudwatch',
          'detail-type': 'CloudWatch Alarm State Change',
          time: new Date().toISOString(),
          detail: {
            alarmName: 'colorapp-green-p99',
            state: { value: 'ALARM', reason: 'p99 above 500 ms', timestamp: new Date().toISOString() },
            previousState: { value: 'OK' },
          },
        });
        if (watched.action !== 'failed-bake') throw new Error(`alarm-watcher did not fail the bake: ${JSON.stringify(watched)}`);
      },
    });

    expectCleanRollback(result, 'AlarmTriggeredError');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([10, 0]);
    expect(tail(result, 'Bake')).toEqual(['Bake', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(result.path).not.toContain('CheckHealth');
    expect(state().lastRelease?.failure?.cause).toContain('colorapp-green-p99');
  }, 30_000);

  it('rolls back with UnhealthyReleaseError when the new colour fails too many requests', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 300, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request());
    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(tail(result, 'CheckHealth')).toEqual(['CheckHealth', 'HealthDecision', 'HealthFailed', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(state().lastRelease?.verdicts).toMatchObject([{ status: 'unhealthy', weight: 10, evidence: { successRate: 0.7 } }]);
    expect(result.events).toEqual([]);
  });

  it('bakes again when there is too little traffic to judge, then rolls back: no data is never healthy', async () => {
    world.traffic.set('green', { requests: 3, errors5xx: 0, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request());
    expectCleanRollback(result, 'InconclusiveHealthError');
    expect(result.path.filter((s) => s === 'Bake')).toHaveLength(2);
    expect(state().lastRelease?.verdicts.map((v) => v.status)).toEqual(['inconclusive', 'inconclusive']);
  });

  it('rolls back when ECS marks the deployment FAILED, before any traffic moves', async () => {
    world.rollout.set('colorapp-green', 'fails');
    const result = await runRelease(world, v2Request());
    expectCleanRollback(result, 'DeploymentFailedError');
    expect(world.weightHistory).toEqual([]);
    expect(tail(result, 'CheckStability')).toEqual(['CheckStability', 'Rollback', 'WasItPromoted?', 'RolledBack']);
  });

  it('rolls back when the idle service never stabilises', async () => {
    world.putJson(names.config, colorappConfig({ stabilization: { pollSeconds: 1, timeoutSeconds: 1 } }));
    world.rollout.set('colorapp-green', 'never-stabilises');
    const result = await runRelease(world, v2Request());
    expectCleanRollback(result, 'StabilizationTimeoutError');
    expect(world.weightHistory).toEqual([]);
  });

  it('rolls back when the approval before traffic is rejected through the API', async () => {
    const result = await runRelease(world, v2Request({ approvals: { beforeTraffic: true } }), {
      onApprovalRequested: async () => {
        const response = await rejectRelease({
          httpMethod: 'POST',
          path: '/releases/colorapp/reject',
          pathParameters: { service: 'colorapp' },
          body: JSON.stringify({ reason: 'not during the sale' }),
          requestContext: { identity: { userArn: 'arn:aws:iam::111122223333:user/alice' } },
        } as unknown as APIGatewayProxyEvent);
        if (response.statusCode >= 300) throw new Error(`reject answered ${response.statusCode}: ${response.body}`);
      },
    });
    expectCleanRollback(result, 'ApprovalRejectedError');
    expect(state().lastRelease?.failure?.cause).toContain('not during the sale');
    expect(world.weightHistory).toEqual([]);
  });

  it('rolls back with ApprovalTimeoutError when nobody approves in time', async () => {
    world.putJson(names.config, colorappConfig({ approvalTimeoutSeconds: 1 }));
    const result = await runRelease(world, v2Request({ approvals: { beforePromote: true } }));
    expectCleanRollback(result, 'ApprovalTimeoutError');
    expect(tail(result, 'ApprovePromotion')).toEqual(['ApprovePromotion', 'ApprovalTimedOut', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    // Traffic had reached 100% green before the gate: the rollback brought it back.
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([10, 50, 100, 0]);
  });

  it('rolls back with ApprovalTimeoutError when nobody approves traffic in time, before any traffic moves', async () => {
    world.putJson(names.config, colorappConfig({ approvalTimeoutSeconds: 1 }));
    const result = await runRelease(world, v2Request({ approvals: { beforeTraffic: true } }));
    expectCleanRollback(result, 'ApprovalTimeoutError');
    expect(result.error?.Cause).toBe('No approval within 1 seconds');
    expect(tail(result, 'ApproveTraffic')).toEqual(['ApproveTraffic', 'ApprovalTimedOut', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(result.path).not.toContain('ShiftTraffic');
    expect(world.weightHistory).toEqual([]);
  });

  it('rolls back with AlarmTriggeredError when an alarm fires while the promotion waits for approval: no bake is left to interrupt', async () => {
    const result = await runRelease(world, v2Request({ approvals: { beforePromote: true } }), {
      onApprovalRequested: async ({ gate }) => {
        if (gate !== 'before-promote') throw new Error(`unexpected gate ${gate}`);
        world.alarms.set('colorapp-green-p99', 'ALARM');
        // The last bake's token is spent: the alarm-watcher has nothing to fail.
        const watched = await alarmWatcher({
          source: 'aws.cloudwatch',
          'detail-type': 'CloudWatch Alarm State Change',
          time: new Date().toISOString(),
          detail: {
            alarmName: 'colorapp-green-p99',
            state: { value: 'ALARM', reason: 'p99 above 500 ms', timestamp: new Date().toISOString() },
            previousState: { value: 'OK' },
          },
        });
        if (watched.action === 'failed-bake') throw new Error('the alarm-watcher found a bake to fail');
        // Someone approves without looking at the alarms.
        const response = await approveRelease(gateRequest('approve'));
        if (response.statusCode >= 300) throw new Error(`approve answered ${response.statusCode}: ${response.body}`);
      },
    });

    expectCleanRollback(result, 'AlarmTriggeredError');
    expect(tail(result, 'ApprovePromotion')).toEqual(['ApprovePromotion', 'Promote', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(result.error?.Cause).toContain('colorapp-green-p99');
    // All traffic had reached green before the gate: the rollback brought it back.
    expect(world.weightHistory.map((w) => w['colorapp-green-node'])).toEqual([10, 50, 100, 0]);
    expect(state().lastRelease?.verdicts.map((v) => v.status)).toEqual(['healthy', 'healthy', 'healthy']);
  });

  it('says RollbackFailedError loudly when the rollback cannot restore traffic, and keeps the lock', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 500, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request(), {
      onStateDone: (name) => {
        if (name === 'ShiftTraffic') world.updateRouteAlwaysFails = awsError('AccessDeniedException', 'not authorized to UpdateRoute');
      },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('RollbackFailedError');
    expect(result.path.filter((s) => s === 'Rollback')).toHaveLength(1);
    expect(tail(result, 'Rollback')).toEqual(['Rollback', 'MarkRollbackFailed', 'RollbackFailed']);
    expect(route()).toEqual({ 'colorapp-blue-node': 90, 'colorapp-green-node': 10 });
    expect(lock()).toMatchObject({ executionArn: result.executionArn, status: 'rollback-failed' });
    expect(lock()?.reason).toContain('AccessDenied');
    expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rollback-failed' });

    // The next release is refused until an operator clears the lock.
    const next = await runRelease(world, v2Request());
    expect(next.error?.Error).toBe('StaleLockError');
  });
});

/**
 * Each Catch into Rollback hands Rollback the error at `$.error`. A Catch whose ResultPath were
 * changed would leave Rollback reading nothing: it would fail with States.Runtime, which no Catch
 * handles, and leave traffic split. So every source state is made to fail here, after its handler
 * did its work (as a task that times out after its writes does), with an error no Retry covers.
 */
describe('release state machine: a non-retryable failure in each step rolls back', () => {
  const denied = (state: string) => awsError('AccessDeniedException', `injected into ${state}: not authorized`);

  /** LoadState fails before the release changed anything: nothing to undo, so the outcome is "failed". */
  it.each([
    ['LoadState', 'failed'],
    ['Preflight', 'rolled-back'],
    ['RegisterTaskDefinition', 'rolled-back'],
    ['DeployIdle', 'rolled-back'],
    ['CheckStability', 'rolled-back'],
    ['ShiftTraffic', 'rolled-back'],
    ['CheckHealth', 'rolled-back'],
  ])('%s fails: the run ends %s with that error recorded, 100/0, green as before, lock free', async (failing, outcome) => {
    const result = await runRelease(world, v2Request(), {
      onStateDone: (name) => {
        if (name === failing) throw denied(name);
      },
    });
    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('AccessDeniedException');
    expect(tail(result, failing)).toEqual([failing, 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
    expect(service('colorapp-blue')).toMatchObject({ taskDefinition: seeded.blueTd, desiredCount: 2 });
    expect(lock()).toBeUndefined();
    expect(state().live).toBe('blue');
    expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome, failure: { error: 'AccessDeniedException' } });
    expect(state().lastRelease?.failure?.cause).toContain(`injected into ${failing}`);
  });
});

describe('release state machine: Promote fails after its state write', () => {
  it('ends in PromotedBeforeTheError: traffic stays on green, the state says promoted, the lock is released', async () => {
    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }), {
      // The handler wrote the state, then the task failed (a timeout after the write, as AWS reports it).
      onStateDone: (name) => {
        if (name === 'Promote') throw awsError('States.Timeout', 'Task timed out after 120.00 seconds');
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(tail(result, 'Promote')).toEqual(['Promote', 'Rollback', 'WasItPromoted?', 'PromotedBeforeTheError']);
    expect(result.output).toMatchObject({ error: { Error: 'States.Timeout' }, rollback: { outcome: 'already-promoted' } });
    // Nothing was undone: traffic moved once, to green, and green kept the new revision.
    expect(world.weightHistory).toEqual([{ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 }]);
    expect(route()).toEqual({ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 });
    const green = service('colorapp-green');
    expect(green).toMatchObject({ desiredCount: 2 });
    expect(green.taskDefinition).not.toBe(seeded.greenTd);
    expect(world.ecs).toHaveReceivedCommandTimes(UpdateServiceCommand, 1);
    // The old colour is left running, for an operator (or the next release) to scale down.
    expect(service('colorapp-blue')).toMatchObject({ taskDefinition: seeded.blueTd, desiredCount: 2 });
    expect(state()).toMatchObject({
      live: 'green',
      colours: { green: { taskDefinitionArn: green.taskDefinition, image: V2, version: 'v2' } },
      lastRelease: { id: result.releaseId, outcome: 'promoted', failure: null },
    });
    expect(state().history[0]).toMatchObject({ id: result.releaseId, outcome: 'promoted' });
    expect(lock()).toBeUndefined();
    expect(world.parameters.has(names.bake)).toBe(false);

    // The service is free: the next release goes back to blue from the recorded state.
    const next = await runRelease(world, v2Request({ image: V2.replace(':v2', ':v3'), strategy: { type: 'blue-green' } }));
    expect(next.status).toBe('SUCCEEDED');
    expect(state()).toMatchObject({ live: 'blue', colours: { blue: { version: 'v3' }, green: { version: 'v2' } } });
  });
});

describe('release state machine: stopped from outside', () => {
  it('cleans up an execution aborted in the middle of a canary: 100/0 restored, lock released', async () => {
    const result = await runRelease(world, v2Request({ bakeSeconds: 30 }), {
      onBakeStarted: ({ stepIndex, abort }) => {
        if (stepIndex === 0) abort();
      },
    });
    expect(result.status).toBe('ABORTED');
    expect(route()).toEqual({ 'colorapp-blue-node': 90, 'colorapp-green-node': 10 });
    expect(lock()?.executionArn).toBe(result.executionArn);

    const outcome = await cleanup({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: result.executionArn, name: result.releaseId, status: 'ABORTED', input: JSON.stringify(result.input) },
    });

    expect(outcome.action).toBe('rolled-back');
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
    expect(lock()).toBeUndefined();
    expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rolled-back', failure: { error: 'ExecutionAbortedError' } });
  }, 30_000);

  it('recovers an execution aborted mid-canary whose status event was lost: the next reconciler run does what cleanup would', async () => {
    const result = await runRelease(world, v2Request({ bakeSeconds: 30 }), {
      onBakeStarted: ({ stepIndex, abort }) => {
        if (stepIndex === 0) abort();
      },
    });
    expect(result.status).toBe('ABORTED');
    // What DescribeExecution answers; the status-change event never reaches cleanup.
    world.executions.set(result.executionArn, 'ABORTED');

    const outcome = await reconcile();

    expect(outcome.services).toEqual([expect.objectContaining({ service: 'colorapp', action: 'recovered', recovery: expect.objectContaining({ action: 'rolled-back' }) })]);
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
    expect(lock()).toBeUndefined();
    expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rolled-back', failure: { error: 'ExecutionAbortedError' } });
  }, 30_000);
});

describe('release state machine: failures after the promotion', () => {
  it('ends in ScaleDownFailedError when the old colour cannot be scaled down: still promoted, lock released', async () => {
    world.updateServiceFailures.set('colorapp-blue', awsError('AccessDeniedException', 'not authorized to perform ecs:UpdateService'));
    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('ScaleDownFailedError');
    expect(result.error?.Cause).toContain('ecs:UpdateService');
    expect(tail(result, 'ScaleDownOldColour')).toEqual(['ScaleDownOldColour', 'ReleaseLockAfterScaleDownFailure', 'ScaleDownFailed']);
    expect(route()).toEqual({ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 });
    expect(state()).toMatchObject({ live: 'green', lastRelease: { id: result.releaseId, outcome: 'promoted' } });
    expect(service('colorapp-blue')).toMatchObject({ taskDefinition: seeded.blueTd, desiredCount: 2 });
    expect(lock()).toBeUndefined();

    // Its FAILED event holds no lock: cleanup leaves it alone.
    await expect(cleanup(statusChange(result))).resolves.toMatchObject({ action: 'ignored' });
    expect(route()).toEqual({ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 });
  });

  it('ends in LockReleaseFailedError naming the service when the lock cannot be deleted; cleanup releases it later', async () => {
    world.deleteParameterFailures.set(names.lock, awsError('AccessDeniedException', 'not authorized to perform ssm:DeleteParameter'));
    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));

    expect(result.status).toBe('FAILED');
    expect(result.error).toEqual({
      Error: 'LockReleaseFailedError',
      Cause:
        `Release ${result.releaseId} of colorapp was promoted, but its lock could not be released (AwsCallFailedError). ` +
        'The cleanup handler tries again; if /ecs-release/colorapp/lock is still there, check it and clear it with the clear-lock function.',
    });
    expect(tail(result, 'ReleaseLock')).toEqual(['ReleaseLock', 'LockNotReleased', 'LockReleaseFailed']);
    expect(state()).toMatchObject({ live: 'green', lastRelease: { id: result.releaseId, outcome: 'promoted' } });
    expect(service('colorapp-blue').desiredCount).toBe(0);
    expect(lock()).toMatchObject({ executionArn: result.executionArn, status: 'held' });

    // The FAILED event's cleanup, once SSM lets it, releases the lock and undoes nothing.
    world.deleteParameterFailures.clear();
    await expect(cleanup(statusChange(result))).resolves.toStrictEqual({ action: 'unlocked-promoted', reason: 'the release was already promoted' });
    expect(lock()).toBeUndefined();
    expect(route()).toEqual({ 'colorapp-blue-node': 0, 'colorapp-green-node': 100 });
    expect(state()).toMatchObject({ live: 'green', lastRelease: { id: result.releaseId, outcome: 'promoted' } });
    expect((await runRelease(world, v2Request({ image: V2.replace(':v2', ':v3'), strategy: { type: 'blue-green' } }))).status).toBe('SUCCEEDED');
  });
});

describe('release state machine: failed outside any Catch', () => {
  it('is cleaned up from its FAILED event when States.Runtime stops it in the middle of a canary: 100/0 restored, lock released', async () => {
    const result = await runRelease(world, v2Request(), {
      // A handler output a later path cannot select: Step Functions fails the execution with
      // States.Runtime, which no Catch can catch, so the execution's own rollback never runs.
      onStateDone: (name, output) => {
        if (name === 'CheckHealth') delete (output as { decision?: string }).decision;
      },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('States.Runtime');
    expect(tail(result, 'ShiftTraffic')).toEqual(['ShiftTraffic', 'Bake', 'CheckHealth', 'HealthDecision']);
    expect(result.path).not.toContain('Rollback');
    expect(route()).toEqual({ 'colorapp-blue-node': 90, 'colorapp-green-node': 10 });
    expect(lock()).toMatchObject({ executionArn: result.executionArn, status: 'held' });

    const outcome = await cleanup(statusChange(result));

    expect(outcome.action).toBe('rolled-back');
    expect(route()).toEqual({ 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
    expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
    expect(lock()).toBeUndefined();
    expect(world.parameters.has(names.bake)).toBe(false);
    expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rolled-back', failure: { error: 'States.Runtime' } });
    expect(state().lastRelease?.failure?.cause).toContain('decision');

    // Cleanup of the same event again (a retry) finds nothing of this execution's to touch.
    await expect(cleanup(statusChange(result))).resolves.toMatchObject({ action: 'ignored' });
  });

  it('leaves a normally rolled-back execution to itself: its FAILED event finds no lock', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 300, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request());
    expectCleanRollback(result, 'UnhealthyReleaseError');
    const recorded = state();

    await expect(cleanup(statusChange(result))).resolves.toMatchObject({ action: 'ignored' });
    expect(state()).toEqual(recorded);
  });
});

describe('release state machine: the relative verdict decides', () => {
  it('promotes a new colour as good as live although both fail 1.5% (below the 99% threshold)', async () => {
    world.traffic.set('green', { requests: 2000, errors5xx: 30, p99LatencyMs: 40 });
    world.traffic.set('blue', { requests: 2000, errors5xx: 30, p99LatencyMs: 40 });

    const result = await runRelease(world, v2Request());

    expect(result.status).toBe('SUCCEEDED');
    const verdicts = state().lastRelease!.verdicts;
    expect(verdicts.map((v) => [v.weight, v.status, v.evidence.baseline?.from, v.evidence.comparison?.errorsWorse])).toEqual([
      [10, 'healthy', 'same-window', false],
      [50, 'healthy', 'same-window', false],
      // 100%: blue has no traffic; the figures of the 50% step's window.
      [100, 'healthy', 'previous-step', false],
    ]);
  });

  it('rolls back a new colour worse than live although above the 99% threshold (0.8% against 0%)', async () => {
    world.traffic.set('green', { requests: 5000, errors5xx: 40, p99LatencyMs: 40 });

    const result = await runRelease(world, v2Request());

    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(state().lastRelease?.verdicts).toMatchObject([{ status: 'unhealthy', weight: 10, evidence: { successRate: 0.992, comparison: { errorsWorse: true } } }]);
    expect(state().lastRelease?.failure?.cause).toContain('green 0.8% errors vs blue 0% over 5,000 / 1,000 requests: worse beyond the 0.1 pp tolerance at 99%');
  });
});
