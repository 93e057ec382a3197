import { AppMeshClient, DescribeRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/preflight';
import type { ColourAssignment } from '../../lambdas/shared/release';
import { NoHealthyTargetsError, RouteDriftError, ServiceNotSteadyError, StateConflictError, ValidationError } from '../../lambdas/shared/errors';
import { CLUSTER, COLOURS, deployment, ecsService, LIVE_TASK_DEFINITION_ARN } from '../support/ecs-fixtures';
import {
  albConfig,
  describeRulesOutput,
  productionActions,
  rule,
  RULE_ARN,
  TARGET_GROUP_ARNS,
  TEST_RULE_ARNS,
  targetHealthOutput,
  testRule,
} from '../support/alb-fixtures';
import {
  config,
  fakeParameters,
  IDLE_TASK_DEFINITION_ARN,
  lockDocument,
  NAMES,
  OTHER_EXECUTION_ARN,
  release,
  sentPuts,
  targets,
  timeline,
  undoPlan,
} from '../support/release-documents';
import { describeRouteOutput, routeSpecs } from '../support/traffic-fixtures';

const ssm = mockClient(SSMClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);

const GREEN_LIVE: ColourAssignment = { live: 'green', idle: 'blue', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN };

function givenRoute(blue: number, green: number, order: 'blue-first' | 'green-first' = 'blue-first') {
  appmesh.on(DescribeRouteCommand).resolves(describeRouteOutput(routeSpecs(targets(blue, green, order)).httpRoute));
}

/** A steady live service on the recorded revision. */
function liveService(name: string, overrides: Partial<Service> = {}): Service {
  return ecsService(name, { taskDefinition: LIVE_TASK_DEFINITION_ARN, ...overrides });
}

/** The idle service at zero tasks on its previous revision. */
function idleService(name: string, overrides: Partial<Service> = {}): Service {
  return ecsService(name, {
    taskDefinition: IDLE_TASK_DEFINITION_ARN,
    desiredCount: 0,
    runningCount: 0,
    deployments: [deployment({ taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0, runningCount: 0 })],
    ...overrides,
  });
}

function givenServices(live: Service, idle: Service) {
  ecs.on(DescribeServicesCommand, { services: [live.serviceName!] }).resolves({ services: [live] });
  ecs.on(DescribeServicesCommand, { services: [idle.serviceName!] }).resolves({ services: [idle] });
}

function event(colours: ColourAssignment = COLOURS) {
  return { release: release(), colours };
}

function expectNothingWritten() {
  expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
}

let params: ReturnType<typeof fakeParameters>;

beforeEach(() => {
  ssm.reset();
  ecs.reset();
  appmesh.reset();
  elbv2.reset();
  cloudwatch.reset();
  params = fakeParameters(ssm, { [NAMES.lock]: lockDocument({ undo: null }) });
});

describe('preflight handler', () => {
  describe('with alarms the bakes will watch', () => {
    /** The release of {@link event}, its config watching a common alarm and one per colour. */
    function watchingAlarms() {
      const planned = release();
      const health = { ...planned.config.health, alarms: { common: ['colorapp-errors'], blue: ['colorapp-blue-p99'], green: ['colorapp-green-p99'] } };
      return { release: { ...planned, config: { ...planned.config, health } }, colours: COLOURS };
    }
    function givenAlarmStates(states: Record<string, 'OK' | 'ALARM'>) {
      cloudwatch.on(DescribeAlarmsCommand).callsFake((input: { AlarmNames: string[] }) => ({
        MetricAlarms: input.AlarmNames.filter((name) => name in states).map((name) => ({ AlarmName: name, StateValue: states[name] })),
      }));
    }

    it('refuses, deploying nothing and writing no undo plan, while one of them is still in ALARM', async () => {
      givenRoute(100, 0);
      givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));
      // The idle colour (green) is watched; blue's alarm is the live colour's business.
      givenAlarmStates({ 'colorapp-errors': 'OK', 'colorapp-green-p99': 'ALARM', 'colorapp-blue-p99': 'ALARM' });

      const error = await handler(watchingAlarms()).catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'AlarmTriggeredError' });
      expect((error as Error).message).toContain('Alarm colorapp-green-p99 is in ALARM before anything was deployed to green');
      expect((error as Error).message).not.toContain('colorapp-blue-p99');
      expect(cloudwatch).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['colorapp-errors', 'colorapp-green-p99'] });
      expectNothingWritten();
    });

    it('passes when they are all OK', async () => {
      givenRoute(100, 0);
      givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));
      givenAlarmStates({ 'colorapp-errors': 'OK', 'colorapp-green-p99': 'OK' });

      await expect(handler(watchingAlarms())).resolves.toMatchObject({ weights: { live: 100, idle: 0 } });
    });
  });

  it('passes on a 100/0 route and a steady live service, and writes the undo plan into the lock', async () => {
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    await expect(handler(event())).resolves.toStrictEqual({ weights: { live: 100, idle: 0 }, undo: undoPlan() });

    expect(sentPuts(ssm)).toStrictEqual([
      { Name: NAMES.lock, Value: lockDocument({ undo: undoPlan() }), Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: undefined },
    ]);
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument({ undo: undoPlan() }));
    expect(timeline(ssm, ecs, appmesh)).toEqual([
      'DescribeRoute colorapp-route',
      'DescribeServices colorapp-blue',
      'DescribeServices colorapp-green',
      `GetParameter ${NAMES.lock}`,
      `PutParameter ${NAMES.lock}`,
    ]);
    expect(ecs.commandCalls(DescribeServicesCommand).map((call) => call.args[0].input)).toStrictEqual([
      { cluster: CLUSTER, services: ['colorapp-blue'] },
      { cluster: CLUSTER, services: ['colorapp-green'] },
    ]);
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
    expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('records the idle service exactly as it is, size included, so rollback restores that', async () => {
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green', { taskDefinition: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:5', desiredCount: 2 }));

    const { undo } = await handler(event());

    expect(undo.idleService).toStrictEqual({
      serviceName: 'colorapp-green',
      taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:5',
      desiredCount: 2,
    });
    expect(params.json(NAMES.lock)).toMatchObject({ undo: { idleService: undo.idleService } });
  });

  it('checks the green route and services when green is live', async () => {
    givenRoute(0, 100, 'green-first');
    givenServices(liveService('colorapp-green'), idleService('colorapp-blue'));

    const expected = undoPlan({ live: 'green', idle: 'blue', idleService: { serviceName: 'colorapp-blue', taskDefinitionArn: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 } });
    await expect(handler(event(GREEN_LIVE))).resolves.toStrictEqual({ weights: { live: 100, idle: 0 }, undo: expected });
    expect(params.json(NAMES.lock)).toMatchObject({ undo: expected });
  });

  it.each([
    [90, 10],
    [0, 100],
    [50, 50],
  ])('refuses a route at blue %i / green %i with a RouteDriftError and changes nothing', async (blue, green) => {
    givenRoute(blue, green);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RouteDriftError);
    expect((error as Error).message).toBe(
      `Route appmesh:colorapp-mesh/colorapp-router/colorapp-route sends blue ${blue} / green ${green}; a release needs 100/0 to the live colour (blue). ` +
        'Someone changed traffic outside a release: restore 100/0 by hand after checking why, then release again.',
    );
    expect(ecs).not.toHaveReceivedAnyCommand();
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument({ undo: null }));
    expectNothingWritten();
  });

  it.each<[string, Partial<Service>, string]>([
    [
      'a second deployment is rolling out',
      { deployments: [deployment({ rolloutState: 'IN_PROGRESS', runningCount: 1 }), deployment({ status: 'ACTIVE' })], runningCount: 3 },
      'running 3/3, 2 deployments',
    ],
    ['its deployment is still in progress', { deployments: [deployment({ rolloutState: 'IN_PROGRESS' })] }, 'running 3/3, 1 deployments'],
    ['tasks are missing', { runningCount: 2, deployments: [deployment({ runningCount: 2 })] }, 'running 2/3, 1 deployments'],
    ['it runs no task at all', { desiredCount: 0, runningCount: 0, deployments: [deployment({ desiredCount: 0, runningCount: 0 })] }, 'running 0/0, 1 deployments'],
  ])('is a ServiceNotSteadyError, writing nothing, when %s', async (_case, overrides, detail) => {
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue', overrides), idleService('colorapp-green'));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ServiceNotSteadyError);
    expect((error as Error).message).toBe(`Live service colorapp-blue is not steady (${detail}). Wait for it to settle, then release again.`);
    expectNothingWritten();
  });

  it('is a StateConflictError, writing nothing, when the live service runs another revision than the state records', async () => {
    const other = 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:9';
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue', { taskDefinition: other }), idleService('colorapp-green'));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toBe(
      `Live service colorapp-blue runs ${other}, but the release state says ${LIVE_TASK_DEFINITION_ARN}. ` +
        'It was changed outside a release; update the state document or redeploy the recorded revision first.',
    );
    expectNothingWritten();
  });

  it.each([
    ['live', 'CODE_DEPLOY', 'CodeDeploy'],
    ['idle', 'CODE_DEPLOY', 'CodeDeploy'],
    ['live', 'EXTERNAL', 'an external controller'],
    ['idle', 'EXTERNAL', 'an external controller'],
  ] as const)('is an UnsupportedServiceError, writing nothing, when the %s service uses the %s deployment controller', async (which, type, owner) => {
    givenRoute(100, 0);
    const controller = { deploymentController: { type } };
    givenServices(liveService('colorapp-blue', which === 'live' ? controller : {}), idleService('colorapp-green', which === 'idle' ? controller : {}));

    const error = await handler(event()).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'UnsupportedServiceError' });
    const name = which === 'live' ? 'colorapp-blue' : 'colorapp-green';
    expect((error as Error).message).toContain(`ECS service ${CLUSTER}/${name} uses the ${type} deployment controller: ${owner} owns its revisions`);
    expectNothingWritten();
  });

  it('accepts a service whose controller is ECS, the rolling update', async () => {
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue', { deploymentController: { type: 'ECS' } }), idleService('colorapp-green', { deploymentController: { type: 'ECS' } }));
    await expect(handler(event())).resolves.toMatchObject({ weights: { live: 100, idle: 0 } });
  });

  it('is a StateConflictError, writing nothing, when the idle service has no revision to roll back to', async () => {
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green', { taskDefinition: undefined }));

    await expect(handler(event())).rejects.toMatchObject({
      name: 'StateConflictError',
      message: 'Idle service colorapp-green has no task definition to roll back to',
    });
    expectNothingWritten();
  });

  it("is a StateConflictError, leaving the lock alone, when the lock is no longer this execution's", async () => {
    const others = lockDocument({ releaseId: 'rel-other', executionArn: OTHER_EXECUTION_ARN, undo: null });
    params.set(NAMES.lock, others);
    givenRoute(100, 0);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    await expect(handler(event())).rejects.toThrow(StateConflictError);
    expect(params.json(NAMES.lock)).toStrictEqual(others);
    expectNothingWritten();
  });

  it('is a ValidationError, sending nothing, when the colours are missing', async () => {
    await expect(handler({ release: release() })).rejects.toThrow(ValidationError);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expect(ecs).not.toHaveReceivedAnyCommand();
  });
});

describe('preflight handler on ALB traffic', () => {
  function albEvent(colours: ColourAssignment = COLOURS) {
    return { release: release({ config: config({ traffic: albConfig }) }), colours };
  }

  /** The weighted rule at blue/green, test rules as given, the target groups' health per colour. */
  function givenAlb(
    blue: number,
    green: number,
    options: { testRules?: ReturnType<typeof testRule>[]; health?: Partial<Record<'blue' | 'green', Parameters<typeof targetHealthOutput>[0]>> } = {},
  ) {
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE_ARN] }).resolves(describeRulesOutput(rule(productionActions(blue, green))));
    elbv2
      .on(DescribeRulesCommand, { RuleArns: [TEST_RULE_ARNS.blue, TEST_RULE_ARNS.green] })
      .resolves(describeRulesOutput(...(options.testRules ?? [testRule('blue'), testRule('green')])));
    for (const colour of ['blue', 'green'] as const) {
      elbv2
        .on(DescribeTargetHealthCommand, { TargetGroupArn: TARGET_GROUP_ARNS[colour] })
        .resolves(targetHealthOutput(options.health?.[colour] ?? (colour === 'blue' ? [['healthy'], ['healthy']] : [])));
    }
  }

  function expectNoElbWrite() {
    expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(elbv2).not.toHaveReceivedCommand(ModifyListenerCommand);
  }

  it("passes on a 100/0 forward, test rules to their own colour and healthy live targets, checking only the live colour's health", async () => {
    givenAlb(100, 0);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    await expect(handler(albEvent())).resolves.toStrictEqual({ weights: { live: 100, idle: 0 }, undo: undoPlan() });

    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument({ undo: undoPlan() }));
    expect(elbv2.calls().map((call) => [call.args[0].constructor.name, call.args[0].input])).toStrictEqual([
      ['DescribeRulesCommand', { RuleArns: [RULE_ARN] }],
      ['DescribeRulesCommand', { RuleArns: [TEST_RULE_ARNS.blue, TEST_RULE_ARNS.green] }],
      // Green runs no task before DeployIdle: its target group is checked by ShiftTraffic, not here.
      ['DescribeTargetHealthCommand', { TargetGroupArn: TARGET_GROUP_ARNS.blue }],
    ]);
    expectNoElbWrite();
    expect(appmesh).not.toHaveReceivedAnyCommand();
  });

  it('checks the green target group when green is live', async () => {
    givenAlb(0, 100, { health: { green: [['healthy']], blue: [] } });
    givenServices(liveService('colorapp-green'), idleService('colorapp-blue'));

    await expect(handler(albEvent(GREEN_LIVE))).resolves.toMatchObject({ weights: { live: 100, idle: 0 } });
    expect(elbv2).toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: TARGET_GROUP_ARNS.green });
    expect(elbv2).not.toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: TARGET_GROUP_ARNS.blue });
  });

  it('is a NoHealthyTargetsError, writing nothing, when the live target group has no healthy target', async () => {
    givenAlb(100, 0, { health: { blue: [['unhealthy', 'Target.Timeout'], ['unhealthy', 'Target.Timeout']] } });
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    const error = await handler(albEvent()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NoHealthyTargetsError);
    expect((error as Error).message).toContain('Target group colorapp-blue of the live colour (blue) has no healthy target: 2 target(s): 2 unhealthy (Target.Timeout)');
    expect(params.json(NAMES.lock)).toStrictEqual(lockDocument({ undo: null }));
    expectNothingWritten();
    expectNoElbWrite();
  });

  it('is a RouteDriftError, before ECS is asked anything, when the green test rule forwards to blue', async () => {
    givenAlb(100, 0, { testRules: [testRule('blue'), testRule('green', [TARGET_GROUP_ARNS.blue])] });
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    const error = await handler(albEvent()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RouteDriftError);
    expect((error as Error).message).toMatch(/Test rule .* for green forwards to colorapp-blue .*; it must forward to green's target group colorapp-green only/);
    expect(ecs).not.toHaveReceivedAnyCommand();
    expectNothingWritten();
    expectNoElbWrite();
  });

  it.each([
    [90, 10],
    [0, 100],
  ])('refuses a forward at blue %i / green %i with a RouteDriftError naming the rule, changing nothing', async (blue, green) => {
    givenAlb(blue, green);
    givenServices(liveService('colorapp-blue'), idleService('colorapp-green'));

    await expect(handler(albEvent())).rejects.toThrow(
      `Route alb:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee sends blue ${blue} / green ${green}; a release needs 100/0 to the live colour (blue).`,
    );
    expect(elbv2).toHaveReceivedCommandTimes(DescribeRulesCommand, 1);
    expect(ecs).not.toHaveReceivedAnyCommand();
    expectNothingWritten();
    expectNoElbWrite();
  });
});
