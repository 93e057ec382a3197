/**
 * Path tests on ALB traffic: the real release.asl.json, every Task state calling its real
 * handler, AWS replaced by the stateful FakeAws world, with colorapp behind an Application Load
 * Balancer (a weighted forward of a listener rule or of the listener's default action, one
 * target group per colour, a header test rule per colour). Each test asserts what an operator
 * would check afterwards: the forward's weights, the rest of the rule untouched, the ECS
 * services, the state and lock documents and the path taken.
 */
import {
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import 'aws-sdk-client-mock-jest';
import { handler as alarmWatcher } from '../../lambdas/alarm-watcher';
import type { LockDocument, ReleaseState } from '../../lambdas/shared/documents';
import { parameterNames } from '../../lambdas/shared/documents';
import {
  LISTENER_ARN,
  OTHER_TARGET_GROUP_ARN,
  RULE_ARN,
  rule as listenerRule,
  TARGET_GROUP_ARNS,
  TEST_RULE_ARNS,
  testRule,
  weightedForward,
} from '../support/alb-fixtures';
import { awsError, FakeAws } from '../support/fake-aws';
import { colorappAlbConfig, runRelease, seedColorappAlb, v2Request, type RunResult } from '../support/release-harness';

const names = parameterNames('colorapp');
const V2 = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2';

let world: FakeAws;
let seeded: { blueTd: string; greenTd: string };

beforeEach(() => {
  world = new FakeAws();
  seeded = seedColorappAlb(world);
});
afterEach(() => world.restore());

const state = () => world.json<ReleaseState>(names.state)!;
const lock = () => world.json<LockDocument>(names.lock);
const forward = () => world.albWeights();
const greenWeights = () => world.albWeightHistory.map((w) => w['colorapp-green']);
const service = (name: string) => world.services.get(name)!;

/** The states a run went through after `from`, up to its end. */
function tail(result: RunResult, from: string): string[] {
  return result.path.slice(result.path.lastIndexOf(from));
}

/** Targets that run but fail the target group's health check. */
function failingTargets(count: number): TargetHealthDescription[] {
  return Array.from({ length: count }, (_, index) => ({
    Target: { Id: `10.0.2.${10 + index}`, Port: 8080 },
    TargetHealth: { State: 'unhealthy' as const, Reason: 'Target.ResponseCodeMismatch' as const, Description: 'Health checks failed with these codes: [500]' },
  }));
}

/** What a rolled-back release must leave: blue 100/0, green as before, recorded, unlocked. */
function expectCleanRollback(result: RunResult, error: string) {
  expect(result.status).toBe('FAILED');
  expect(result.error?.Error).toBe(error);
  expect(forward()).toEqual({ 'colorapp-blue': 100, 'colorapp-green': 0 });
  expect(service('colorapp-green')).toMatchObject({ taskDefinition: seeded.greenTd, desiredCount: 0 });
  expect(service('colorapp-blue')).toMatchObject({ taskDefinition: seeded.blueTd, desiredCount: 2 });
  expect(lock()).toBeUndefined();
  expect(state().live).toBe('blue');
  expect(state().lastRelease).toMatchObject({ id: result.releaseId, outcome: 'rolled-back', failure: { error } });
}

/** The rule as seeded, weights aside: conditions, priority, stickiness and order must survive a release. */
function expectRuleKeptButWeights() {
  const weights = forward();
  expect(world.rules.get(RULE_ARN)).toStrictEqual(
    listenerRule([
      weightedForward([
        [TARGET_GROUP_ARNS.blue, weights['colorapp-blue']],
        [TARGET_GROUP_ARNS.green, weights['colorapp-green']],
      ]),
    ]),
  );
  expect(world.rules.get(TEST_RULE_ARNS.blue)).toStrictEqual(testRule('blue'));
  expect(world.rules.get(TEST_RULE_ARNS.green)).toStrictEqual(testRule('green'));
}

describe('release state machine on ALB: promotion paths', () => {
  it('promotes a canary 10/50/100 by weighting the forward 0→10→50→100: green live with v2, blue scaled to zero', async () => {
    const result = await runRelease(world, v2Request());

    expect(result.status).toBe('SUCCEEDED');
    expect(world.albWeightHistory).toEqual([
      { 'colorapp-blue': 90, 'colorapp-green': 10 },
      { 'colorapp-blue': 50, 'colorapp-green': 50 },
      { 'colorapp-blue': 0, 'colorapp-green': 100 },
    ]);
    expectRuleKeptButWeights();
    expect(world.elbv2).toHaveReceivedCommandTimes(ModifyRuleCommand, 3);
    expect(world.elbv2).not.toHaveReceivedCommand(ModifyListenerCommand);
    // Preflight checks blue's targets; every shift first checks green's.
    expect(world.elbv2.commandCalls(DescribeTargetHealthCommand).map((c) => c.args[0].input.TargetGroupArn)).toEqual([
      TARGET_GROUP_ARNS.blue,
      TARGET_GROUP_ARNS.green,
      TARGET_GROUP_ARNS.green,
      TARGET_GROUP_ARNS.green,
    ]);
    const green = service('colorapp-green');
    expect(green.desiredCount).toBe(2);
    expect(world.taskDefinitions.get(green.taskDefinition!)?.taskDefinition.containerDefinitions).toMatchObject([
      { name: 'app', image: V2, environment: [{ name: 'COLOR', value: 'green' }] },
    ]);
    expect(service('colorapp-blue').desiredCount).toBe(0);
    expect(state()).toMatchObject({
      live: 'green',
      colours: { green: { taskDefinitionArn: green.taskDefinition, image: V2, version: 'v2' } },
      lastRelease: { id: result.releaseId, outcome: 'promoted', fromColour: 'blue', toColour: 'green' },
    });
    expect(state().lastRelease!.verdicts.map((v) => [v.weight, v.status])).toEqual([
      [10, 'healthy'],
      [50, 'healthy'],
      [100, 'healthy'],
    ]);
    expect(lock()).toBeUndefined();
  });

  it("weights the listener's default action with ModifyListener when rule is listener-default", async () => {
    world.restore();
    world = new FakeAws();
    const config = colorappAlbConfig();
    if (config.traffic.kind !== 'alb') throw new Error('unreachable');
    seeded = seedColorappAlb(world, { ...config, traffic: { ...config.traffic, rule: 'listener-default' } });

    const result = await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));

    expect(result.status).toBe('SUCCEEDED');
    expect(world.albWeightHistory).toEqual([{ 'colorapp-blue': 0, 'colorapp-green': 100 }]);
    expect(world.elbv2).toHaveReceivedCommandTimes(ModifyListenerCommand, 1);
    expect(world.elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(world.listeners.get(LISTENER_ARN)!.DefaultActions).toStrictEqual([
      weightedForward([
        [TARGET_GROUP_ARNS.blue, 0],
        [TARGET_GROUP_ARNS.green, 100],
      ]),
    ]);
    expect(state().live).toBe('green');
  });

  it('releases back from green to blue on the next release: the forward returns to blue 100', async () => {
    await runRelease(world, v2Request({ strategy: { type: 'blue-green' } }));
    const result = await runRelease(world, v2Request({ image: V2.replace(':v2', ':v3'), strategy: { type: 'blue-green' } }));

    expect(result.status).toBe('SUCCEEDED');
    expect(world.albWeightHistory).toEqual([
      { 'colorapp-blue': 0, 'colorapp-green': 100 },
      { 'colorapp-blue': 100, 'colorapp-green': 0 },
    ]);
    expect(state()).toMatchObject({ live: 'blue', colours: { blue: { version: 'v3' }, green: { version: 'v2' } } });
    expectRuleKeptButWeights();
  });

  it('retries a throttled ModifyRule and still promotes', async () => {
    world.modifyForwardFailures.push(awsError('ThrottlingException', 'Rate exceeded'));

    const result = await runRelease(world, v2Request());

    expect(result.status).toBe('SUCCEEDED');
    expect(world.elbv2).toHaveReceivedCommandTimes(ModifyRuleCommand, 4);
    expect(greenWeights()).toEqual([10, 50, 100]);
  });
});

describe('release state machine on ALB: refusals that touch nothing', () => {
  /** A recorded state (blue live), so LoadState reads it instead of bootstrapping from the forward. */
  function givenState() {
    world.putJson(names.state, {
      schemaVersion: 1, service: 'colorapp', live: 'blue',
      colours: {
        blue: { taskDefinitionArn: seeded.blueTd, image: 'colorapp:v1', version: 'v1' },
        green: { taskDefinitionArn: seeded.greenTd, image: 'colorapp:v0', version: 'v0' },
      },
      lastRelease: null, history: [], updatedAt: '2026-11-22T00:00:00.000Z',
    });
  }

  it('refuses a forward with a third target group with RouteDriftError and leaves it as it found it', async () => {
    const drifted = listenerRule([
      weightedForward([
        [TARGET_GROUP_ARNS.blue, 90],
        [TARGET_GROUP_ARNS.green, 0],
        [OTHER_TARGET_GROUP_ARN, 10],
      ]),
    ]);
    world.seedRule(drifted);
    world.targetGroups.set(OTHER_TARGET_GROUP_ARN, { colour: 'blue', serviceName: 'colorapp-debug' });
    givenState();

    const result = await runRelease(world, v2Request());

    expect(result.error?.Error).toBe('RouteDriftError');
    expect(state().lastRelease).toMatchObject({ outcome: 'failed', failure: { error: 'RouteDriftError' } });
    expect(state().lastRelease?.failure?.cause).toContain('colorapp-debug (weight 10)');
    expect(tail(result, 'Preflight')).toEqual(['Preflight', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(world.rules.get(RULE_ARN)).toStrictEqual(drifted);
    expect(world.elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(world.ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(lock()).toBeUndefined();
  });

  it('refuses a test rule that sends green test traffic to blue, before anything is deployed', async () => {
    world.seedRule(testRule('green', [TARGET_GROUP_ARNS.blue]));

    const result = await runRelease(world, v2Request());

    expect(result.error?.Error).toBe('RouteDriftError');
    expect(tail(result, 'Preflight')).toEqual(['Preflight', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(world.elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(world.ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
  });
});

describe('release state machine on ALB: rollback paths', () => {
  it('rolls back at once to blue 100 / green 0 when an alarm fires during a bake', async () => {
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
    expect(greenWeights()).toEqual([10, 0]);
    expect(tail(result, 'Bake')).toEqual(['Bake', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expectRuleKeptButWeights();
  }, 30_000);

  it('restores the weights with UnhealthyReleaseError when green fails too many requests', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 300, p99LatencyMs: 40 });

    const result = await runRelease(world, v2Request());

    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(greenWeights()).toEqual([10, 0]);
    expect(tail(result, 'CheckHealth')).toEqual(['CheckHealth', 'HealthDecision', 'HealthFailed', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expectRuleKeptButWeights();
  });

  it('restores the weights when green is unhealthy at 50%, even though blue then has no healthy target: rollback is never blocked by target health', async () => {
    const result = await runRelease(world, v2Request(), {
      onStateDone: (name, output) => {
        if (name !== 'ShiftTraffic' || (output as { weight: number }).weight !== 50) return;
        world.traffic.set('green', { requests: 1000, errors5xx: 300, p99LatencyMs: 40 });
        world.targetHealthOverrides.set(TARGET_GROUP_ARNS.blue, failingTargets(2));
      },
    });

    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(greenWeights()).toEqual([10, 50, 0]);
  });

  it('rolls back with NoHealthyTargetsError and shifts nothing when green runs but no target passes the health check', async () => {
    world.targetHealthOverrides.set(TARGET_GROUP_ARNS.green, failingTargets(2));

    const result = await runRelease(world, v2Request());

    expectCleanRollback(result, 'NoHealthyTargetsError');
    expect(world.albWeightHistory).toEqual([]);
    expect(world.elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(tail(result, 'ShiftTraffic')).toEqual(['ShiftTraffic', 'Rollback', 'WasItPromoted?', 'RolledBack']);
    expect(state().lastRelease?.failure?.cause).toContain(
      'Target group colorapp-green of the idle colour (green) has no healthy target: 2 target(s): 2 unhealthy (Target.ResponseCodeMismatch)',
    );
  });

  it("says RollbackFailedError and keeps the lock when the rollback cannot modify the rule", async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 500, p99LatencyMs: 40 });
    const result = await runRelease(world, v2Request(), {
      onStateDone: (name) => {
        if (name === 'ShiftTraffic') world.modifyForwardAlwaysFails = awsError('AccessDenied', 'not authorized to perform: elasticloadbalancing:ModifyRule');
      },
    });

    expect(result.error?.Error).toBe('RollbackFailedError');
    expect(forward()).toEqual({ 'colorapp-blue': 90, 'colorapp-green': 10 });
    expect(lock()).toMatchObject({ executionArn: result.executionArn, status: 'rollback-failed' });
    expect(lock()?.reason).toContain('AccessDenied');
  });
});

describe('release state machine on ALB: health from the load balancer', () => {
  // Needs the load-balancer health source (AWS/ApplicationELB metrics, metricSource
  // 'load-balancer', the default for ALB traffic): the Envoy metrics know nothing of failed
  // connections from the load balancer to the targets.
  it('rolls back with UnhealthyReleaseError when the load balancer cannot connect to green (TargetConnectionErrorCount)', async () => {
    world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40, connectionErrors: 300 });

    const result = await runRelease(world, v2Request());

    expectCleanRollback(result, 'UnhealthyReleaseError');
    expect(greenWeights()).toEqual([10, 0]);
  });
});
