/**
 * Path tests of one engine serving two services: the real release.asl.json and handlers, two
 * releases of two registered services (colorapp and orders, each behind its own weighted rule of
 * one ALB listener) running at the same time in one FakeAws world. What they protect: each
 * release takes its own service's lock, moves its own service's weights and writes its own
 * service's state; an alarm fails only the bake that watches it; and one service's bad config
 * never holds up another's release.
 */
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import 'aws-sdk-client-mock-jest';
import { handler as alarmWatcher } from '../../lambdas/alarm-watcher';
import type { ServiceConfigInput } from '../../lambdas/shared/config';
import type { LockDocument, ReleaseState } from '../../lambdas/shared/documents';
import { parameterNames } from '../../lambdas/shared/documents';
import { LISTENER_ARN, RULE_ARN, TARGET_GROUP_ARNS, weightedForward, rule as listenerRule } from '../support/alb-fixtures';
import { FakeAws } from '../support/fake-aws';
import { ACCOUNT, colorappAlbConfig, registerService, runRelease, seedColorappAlb, v2Request, type RunResult } from '../support/release-harness';

const PREFIX = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333';
const ORDERS_RULE_ARN = `${PREFIX}:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/5e5e5e5e5e5e5e5e`;
const ORDERS_TARGET_GROUPS = {
  blue: `${PREFIX}:targetgroup/orders-blue/1111111111111111`,
  green: `${PREFIX}:targetgroup/orders-green/2222222222222222`,
};
const ORDERS_V2 = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders:v2';

/** The second service: its own ECS services, family, weighted rule, target groups and alarms. */
function ordersConfig(): ServiceConfigInput {
  return colorappAlbConfig({
    service: 'orders',
    ecsServices: { blue: 'orders-blue', green: 'orders-green' },
    taskDefinitionFamily: 'orders',
    traffic: { kind: 'alb', listenerArn: LISTENER_ARN, rule: ORDERS_RULE_ARN, targetGroups: { ...ORDERS_TARGET_GROUPS } },
    health: {
      alarms: { common: [], blue: ['orders-blue-p99'], green: ['orders-green-p99'] },
      minSuccessRate: 0.99,
      maxP99LatencyMs: 500,
      minRequestsPerStep: 20,
      maxInconclusiveBakes: 1,
    },
  });
}

/** Seeds orders next to colorapp: blue v1 live at 100 on its own rule (priority 20), green idle. */
function seedOrders(world: FakeAws): { blueTd: string; greenTd: string } {
  world.putJson(parameterNames('orders').config, ordersConfig());
  registerService(world, 'orders');
  const definition = (colour: 'blue' | 'green', image: string) => ({
    family: 'orders',
    networkMode: 'awsvpc' as const,
    requiresCompatibilities: ['FARGATE' as const],
    cpu: '256',
    memory: '512',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/orders-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/orders-exec`,
    containerDefinitions: [{ name: 'app', image, essential: true, environment: [{ name: 'COLOR', value: colour }] }],
  });
  const greenTd = world.seedTaskDefinition(definition('green', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders:v0'));
  const blueTd = world.seedTaskDefinition(definition('blue', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/orders:v1'));
  world.seedService('orders-blue', blueTd, 2);
  world.seedService('orders-green', greenTd, 0);
  world.targetGroups.set(ORDERS_TARGET_GROUPS.blue, { colour: 'blue', serviceName: 'orders-blue' });
  world.targetGroups.set(ORDERS_TARGET_GROUPS.green, { colour: 'green', serviceName: 'orders-green' });
  world.seedRule(
    listenerRule(
      [
        weightedForward([
          [ORDERS_TARGET_GROUPS.blue, 100],
          [ORDERS_TARGET_GROUPS.green, 0],
        ]),
      ],
      { RuleArn: ORDERS_RULE_ARN, Priority: '20', Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['orders.example.com'] } }] },
    ),
  );
  for (const alarm of ['orders-blue-p99', 'orders-green-p99']) world.alarms.set(alarm, 'OK');
  return { blueTd, greenTd };
}

let world: FakeAws;
let colorapp: { blueTd: string; greenTd: string };
let orders: { blueTd: string; greenTd: string };

beforeEach(() => {
  world = new FakeAws();
  colorapp = seedColorappAlb(world);
  orders = seedOrders(world);
});
afterEach(() => world.restore());

const stateOf = (service: string) => world.json<ReleaseState>(parameterNames(service).state)!;
const lockOf = (service: string) => world.json<LockDocument>(parameterNames(service).lock);
/** A rule's forward weights by target group ARN. */
function forwardOf(ruleArn: string): Record<string, number | undefined> {
  const forward = world.rules.get(ruleArn)!.Actions!.find((a) => a.Type === 'forward')!;
  return Object.fromEntries(forward.ForwardConfig!.TargetGroups!.map((t) => [t.TargetGroupArn!, t.Weight]));
}
/** The target groups each ModifyRule of `ruleArn` named. */
function targetGroupsModifiedOn(ruleArn: string): string[] {
  return world.elbv2
    .commandCalls(ModifyRuleCommand, { RuleArn: ruleArn })
    .flatMap((call) => call.args[0].input.Actions!.flatMap((a) => a.ForwardConfig?.TargetGroups?.map((t) => t.TargetGroupArn!) ?? []));
}
/** Names of the SSM documents a release wrote or deleted. */
function documentsTouched(): string[] {
  return [
    ...world.ssm.commandCalls(PutParameterCommand).map((call) => call.args[0].input.Name!),
    ...world.ssm.commandCalls(DeleteParameterCommand).map((call) => call.args[0].input.Name!),
  ];
}

/** Resolves when both runs reached their first bake: proof they ran side by side, each holding its own lock. */
function barrier(): { arrive: (who: 'colorapp' | 'orders') => Promise<void> } {
  const arrived: Record<string, () => void> = {};
  const both = { colorapp: new Promise<void>((r) => (arrived.colorapp = r)), orders: new Promise<void>((r) => (arrived.orders = r)) };
  return {
    arrive: async (who) => {
      arrived[who]();
      const other = who === 'colorapp' ? both.orders : both.colorapp;
      await Promise.race([other, new Promise((_, reject) => setTimeout(() => reject(new Error(`${who}: the other release never baked`)), 10_000).unref())]);
    },
  };
}

describe('one engine, two services released at once', () => {
  it("promotes one while the other rolls back on its own alarm: neither touches the other's traffic, lock or state", async () => {
    const meeting = barrier();
    let locksWhileBothBaked: Array<LockDocument | undefined> = [];
    let watched: Awaited<ReturnType<typeof alarmWatcher>> | undefined;

    const [colorappRun, ordersRun] = await Promise.all([
      runRelease(world, v2Request(), {
        onBakeStarted: async ({ stepIndex }) => {
          if (stepIndex === 0) await meeting.arrive('colorapp');
        },
      }),
      runRelease(world, { service: 'orders', image: ORDERS_V2, requestedBy: 'test', reason: 'fleet path test', bakeSeconds: 30 }, {
        onBakeStarted: async ({ stepIndex }) => {
          if (stepIndex !== 0) return;
          await meeting.arrive('orders');
          locksWhileBothBaked = [lockOf('colorapp'), lockOf('orders')];
          world.alarms.set('orders-green-p99', 'ALARM');
          watched = await alarmWatcher({
            source: 'aws.cloudwatch',
            'detail-type': 'CloudWatch Alarm State Change',
            time: new Date().toISOString(),
            detail: { alarmName: 'orders-green-p99', state: { value: 'ALARM', reason: 'p99 above 500 ms' }, previousState: { value: 'OK' } },
          });
        },
      }),
    ]);

    // Both held their own lock at once, each named by its own execution.
    expect(locksWhileBothBaked.map((l) => [l?.service, l?.executionArn, l?.status])).toEqual([
      ['colorapp', colorappRun.executionArn, 'held'],
      ['orders', ordersRun.executionArn, 'held'],
    ]);
    // The alarm failed orders' bake, and only that one.
    expect(watched?.releases).toEqual([expect.objectContaining({ service: 'orders', releaseId: ordersRun.releaseId, action: 'failed-bake' })]);

    expectPromoted(colorappRun);
    expect(ordersRun.status).toBe('FAILED');
    expect(ordersRun.error?.Error).toBe('AlarmTriggeredError');
    expect(forwardOf(ORDERS_RULE_ARN)).toEqual({ [ORDERS_TARGET_GROUPS.blue]: 100, [ORDERS_TARGET_GROUPS.green]: 0 });
    expect(world.services.get('orders-green')).toMatchObject({ taskDefinition: orders.greenTd, desiredCount: 0 });
    expect(world.services.get('orders-blue')).toMatchObject({ taskDefinition: orders.blueTd, desiredCount: 2 });
    expect(stateOf('orders')).toMatchObject({ live: 'blue', lastRelease: { id: ordersRun.releaseId, outcome: 'rolled-back', failure: { error: 'AlarmTriggeredError' } } });
    expect(stateOf('orders').history).toHaveLength(1);
    expect(lockOf('orders')).toBeUndefined();

    // No cross-talk: each rule was weighted with its own target groups only, each ECS service
    // updated belongs to the release's service, and no other document was written.
    expect(new Set(targetGroupsModifiedOn(RULE_ARN))).toEqual(new Set(Object.values(TARGET_GROUP_ARNS)));
    expect(new Set(targetGroupsModifiedOn(ORDERS_RULE_ARN))).toEqual(new Set(Object.values(ORDERS_TARGET_GROUPS)));
    const updated = world.ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input.service!);
    expect(new Set(updated)).toEqual(new Set(['colorapp-green', 'colorapp-blue', 'orders-green']));
    for (const name of documentsTouched()) expect(name).toMatch(/^\/ecs-release\/(colorapp|orders)\/(state|lock|bake|approval)$/);
  }, 30_000);

  it("releases one service while the other's release is refused for its missing config: nothing of either is touched by the other", async () => {
    world.parameters.delete(parameterNames('orders').config);

    const [colorappRun, ordersRun] = await Promise.all([
      runRelease(world, v2Request()),
      runRelease(world, { service: 'orders', image: ORDERS_V2, requestedBy: 'test', reason: 'fleet path test' }),
    ]);

    expectPromoted(colorappRun);
    expect(ordersRun.status).toBe('FAILED');
    expect(ordersRun.error?.Error).toBe('ConfigNotFoundError');
    expect(ordersRun.path.at(-1)).toBe('Rejected');
    expect(world.elbv2).not.toHaveReceivedCommandWith(ModifyRuleCommand, { RuleArn: ORDERS_RULE_ARN });
    expect(lockOf('orders')).toBeUndefined();
  }, 30_000);

  /** colorapp promoted on its own rule: green live with v2, blue scaled to zero, unlocked. */
  function expectPromoted(run: RunResult): void {
    expect(run.status).toBe('SUCCEEDED');
    expect(forwardOf(RULE_ARN)).toEqual({ [TARGET_GROUP_ARNS.blue]: 0, [TARGET_GROUP_ARNS.green]: 100 });
    expect(world.services.get('colorapp-blue')).toMatchObject({ desiredCount: 0 });
    expect(world.services.get('colorapp-green')?.taskDefinition).not.toBe(colorapp.greenTd);
    expect(stateOf('colorapp')).toMatchObject({ live: 'green', lastRelease: { id: run.releaseId, outcome: 'promoted' } });
    expect(lockOf('colorapp')).toBeUndefined();
  }
});
