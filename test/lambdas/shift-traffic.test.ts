import { AppMeshClient, DescribeRouteCommand, UpdateRouteCommand, type WeightedTarget } from '@aws-sdk/client-app-mesh';
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { LockDocument } from '../../lambdas/shared/documents';
import { ExecutionAbortedError, NoHealthyTargetsError, ThrottledError, ValidationError } from '../../lambdas/shared/errors';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import type { ColourAssignment, PlannedRelease, Progress } from '../../lambdas/shared/release';
import { handler } from '../../lambdas/shift-traffic';
import {
  albConfig,
  describeRulesOutput,
  productionActions,
  rule,
  RULE_ARN,
  TARGET_GROUP_ARNS,
  targetHealthOutput,
} from '../support/alb-fixtures';
import { appMeshConfig, describeRouteOutput, routeSpecs } from '../support/traffic-fixtures';

const appmesh = mockClient(AppMeshClient);
const ssm = mockClient(SSMClient);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const cloudwatch = mockClient(CloudWatchClient);

const EXECUTION_ARN = 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:rel-1';
const LOCK_NAME = '/ecs-release/colorapp/lock';
const routeRef = { meshName: 'colorapp-mesh', virtualRouterName: 'colorapp-router', routeName: 'colorapp-route' };

function release(traffic: PlannedRelease['config']['traffic'] = appMeshConfig): PlannedRelease {
  return {
    id: 'rel-1',
    executionArn: EXECUTION_ARN,
    service: 'colorapp',
    image: 'colorapp:1.4.0',
    version: '1.4.0',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    schedule: [10, 50, 100],
    bakeSeconds: 60,
    approvals: { beforeTraffic: false, beforePromote: false },
    requestedBy: 'alice',
    reason: null,
    startedAt: '2025-01-01T12:00:00.000Z',
    config: ServiceConfigSchema.parse({
      service: 'colorapp',
      cluster: 'apps',
      ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
      taskDefinitionFamily: 'colorapp',
      containerName: 'app',
      traffic,
    }),
  };
}

const blueLive: ColourAssignment = {
  live: 'blue',
  idle: 'green',
  liveTaskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:7',
};

function progress(stepIndex: number): Progress {
  return { stepIndex, attempt: 0, verdicts: [], decision: 'shift', failure: null };
}

function event(stepIndex = 1, colours: ColourAssignment = blueLive) {
  return { release: release(), colours, progress: progress(stepIndex) };
}

function lock(overrides: Partial<LockDocument> = {}): LockDocument {
  return {
    service: 'colorapp',
    releaseId: 'rel-1',
    executionArn: EXECUTION_ARN,
    acquiredAt: '2025-01-01T12:00:01.000Z',
    image: 'colorapp:1.4.0',
    version: '1.4.0',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    requestedBy: 'alice',
    requestReason: null,
    status: 'held',
    reason: null,
    undo: {
      live: 'blue',
      idle: 'green',
      idleService: {
        serviceName: 'colorapp-green',
        taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:6',
        desiredCount: 0,
      },
    },
    ...overrides,
  };
}

function lockParameter(document: LockDocument) {
  return { Parameter: { Name: LOCK_NAME, Value: JSON.stringify(document) }, $metadata: {} };
}

function lockMissing() {
  return new ParameterNotFound({ message: 'not found', $metadata: {} });
}

function route(targets: WeightedTarget[]) {
  return describeRouteOutput(routeSpecs(targets).httpRoute);
}

const allBlue = route([{ virtualNode: 'colorapp-blue', weight: 100 }]);

/** The weighted targets of the n-th UpdateRoute (1-based). */
function targetsSent(n: number): WeightedTarget[] | undefined {
  return appmesh.commandCalls(UpdateRouteCommand)[n - 1].args[0].input.spec?.httpRoute?.action?.weightedTargets;
}

beforeEach(() => {
  appmesh.reset();
  elbv2.reset();
  ssm.reset();
  cloudwatch.reset();
  appmesh.on(UpdateRouteCommand).resolves({ route: undefined, $metadata: {} });
  cloudwatch.on(PutMetricDataCommand).resolves({});
});

/** Each PutMetricData's weights, as `colour=value`, in the order sent. */
function weightsPublished(): string[][] {
  return cloudwatch.commandCalls(PutMetricDataCommand).map((call) =>
    (call.args[0].input.MetricData ?? []).map((d) => `${d.Dimensions?.find((x) => x.Name === 'Colour')?.Value}=${d.Value}`),
  );
}

describe('shift-traffic handler: the traffic weight metric (release dashboard)', () => {
  it('publishes ECSRelease/TrafficWeight for both colours, by Service and Colour, after the shift', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(allBlue);

    await handler(event(0));

    expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    const [call] = cloudwatch.commandCalls(PutMetricDataCommand);
    expect(call.args[0].input).toEqual({
      Namespace: 'ECSRelease',
      MetricData: [
        expect.objectContaining({ MetricName: 'TrafficWeight', Dimensions: [{ Name: 'Service', Value: 'colorapp' }, { Name: 'Colour', Value: 'blue' }], Value: 90, Unit: 'Percent' }),
        expect.objectContaining({ MetricName: 'TrafficWeight', Dimensions: [{ Name: 'Service', Value: 'colorapp' }, { Name: 'Colour', Value: 'green' }], Value: 10, Unit: 'Percent' }),
      ],
    });
  });

  it('shifts all the same when the metric cannot be published (a graph never fails a step)', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(allBlue);
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));

    await expect(handler(event(0))).resolves.toMatchObject({ weights: { live: 90, idle: 10 }, changed: true });
  });

  it('retries a throttled PutMetricData', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(allBlue);
    cloudwatch
      .on(PutMetricDataCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves({});

    await handler(event(0));

    expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 2);
  });

  it('publishes the step and then the 100/0 when the lock was lost mid-shift', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce(lockParameter(lock()))
      .resolves(lockParameter(lock({ status: 'rolling-back', reason: 'AlarmTriggeredError' })));
    appmesh.on(DescribeRouteCommand).resolves(allBlue);

    await expect(handler(event(0))).rejects.toBeInstanceOf(ExecutionAbortedError);

    expect(weightsPublished()).toEqual([['blue=90', 'green=10'], ['blue=100', 'green=0']]);
  });

  it('publishes nothing when the lock refuses the shift', async () => {
    ssm.on(GetParameterCommand).rejects(lockMissing());

    await expect(handler(event(0))).rejects.toBeInstanceOf(ExecutionAbortedError);

    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
  });
});

describe('shift-traffic handler', () => {
  it("sets the route to the current step's weight and reports it", async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(
      route([
        { virtualNode: 'colorapp-blue', weight: 90 },
        { virtualNode: 'colorapp-green', weight: 10 },
      ]),
    );
    const before = Date.now();

    const result = await handler(event(1));

    expect(result).toEqual({
      stepIndex: 1,
      weight: 50,
      weights: { live: 50, idle: 50 },
      changed: true,
      shiftedAt: expect.any(String),
    });
    expect(Date.parse(result.shiftedAt)).toBeGreaterThanOrEqual(before);
    expect(new Date(result.shiftedAt).toISOString()).toBe(result.shiftedAt);
    expect(appmesh).toHaveReceivedCommandWith(DescribeRouteCommand, routeRef);
    expect(appmesh).toHaveReceivedCommandTimes(UpdateRouteCommand, 1);
    expect(appmesh).toHaveReceivedCommandWith(UpdateRouteCommand, {
      ...routeRef,
      spec: routeSpecs([
        { virtualNode: 'colorapp-blue', weight: 50 },
        { virtualNode: 'colorapp-green', weight: 50 },
      ]).httpRoute,
    });
    // Once before the shift, once after it.
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 2);
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: LOCK_NAME });
  });

  it('gives the step weight to the idle colour when green is live', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(route([{ virtualNode: 'colorapp-green', weight: 100 }]));

    const result = await handler(event(0, { ...blueLive, live: 'green', idle: 'blue' }));

    expect(result.weights).toEqual({ live: 90, idle: 10 });
    expect(targetsSent(1)).toEqual([
      { virtualNode: 'colorapp-green', weight: 90 },
      { virtualNode: 'colorapp-blue', weight: 10 },
    ]);
  });

  it('reports changed: false and sends no UpdateRoute when a retried step finds the weights already set', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    appmesh.on(DescribeRouteCommand).resolves(
      route([
        { virtualNode: 'colorapp-blue', weight: 50 },
        { virtualNode: 'colorapp-green', weight: 50 },
      ]),
    );

    await expect(handler(event(1))).resolves.toMatchObject({ weight: 50, changed: false });
    expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  });

  it.each([
    ['the lock is missing', () => ssm.on(GetParameterCommand).rejects(lockMissing())],
    [
      'the lock belongs to another execution',
      () =>
        ssm.on(GetParameterCommand).resolves(
          lockParameter(lock({ executionArn: `${EXECUTION_ARN}-other`, releaseId: 'rel-other' })),
        ),
    ],
    [
      'the lock is rolling back',
      () => ssm.on(GetParameterCommand).resolves(lockParameter(lock({ status: 'rolling-back', reason: 'AlarmTriggeredError' }))),
    ],
    [
      'the lock records a failed rollback',
      () => ssm.on(GetParameterCommand).resolves(lockParameter(lock({ status: 'rollback-failed' }))),
    ],
  ])('aborts without touching traffic when %s', async (_case, arrange) => {
    arrange();

    await expect(handler(event(1))).rejects.toThrow(ExecutionAbortedError);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
  });

  it.each([
    ['rolling back', lockParameter(lock({ status: 'rolling-back', reason: 'ExecutionAbortedError' }))],
    ['deleted', lockMissing()],
  ])('restores 100/0 and aborts when the lock is %s during the shift', async (_case, afterShift) => {
    const second = ssm.on(GetParameterCommand).resolvesOnce(lockParameter(lock()));
    if (afterShift instanceof Error) second.rejects(afterShift);
    else second.resolves(afterShift);
    appmesh
      .on(DescribeRouteCommand)
      .resolvesOnce(allBlue)
      .resolves(
        route([
          { virtualNode: 'colorapp-blue', weight: 50 },
          { virtualNode: 'colorapp-green', weight: 50 },
        ]),
      );

    const error = await handler(event(1)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toMatch(/lost its lock.*set back to 100\/0/);
    expect(appmesh).toHaveReceivedCommandTimes(UpdateRouteCommand, 2);
    expect(targetsSent(1)).toEqual([
      { virtualNode: 'colorapp-blue', weight: 50 },
      { virtualNode: 'colorapp-green', weight: 50 },
    ]);
    expect(targetsSent(2)).toEqual([
      { virtualNode: 'colorapp-blue', weight: 100 },
      { virtualNode: 'colorapp-green', weight: 0 },
    ]);
  });

  it('still aborts, with the cause and what to do, when restoring traffic after losing the lock fails', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce(lockParameter(lock()))
      .resolves(lockParameter(lock({ status: 'rolling-back' })));
    appmesh
      .on(DescribeRouteCommand)
      .resolvesOnce(allBlue)
      .resolves(
        route([
          { virtualNode: 'colorapp-blue', weight: 50 },
          { virtualNode: 'colorapp-green', weight: 50 },
        ]),
      );
    const throttling = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    appmesh.on(UpdateRouteCommand).resolvesOnce({ route: undefined, $metadata: {} }).rejects(throttling);

    const error = await handler(event(1)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExecutionAbortedError);
    expect((error as Error).message).toMatch(/restoring .* failed.*by hand/);
    expect((error as Error).cause).toBeInstanceOf(ThrottledError);
  });

  it('is a ValidationError, touching nothing, when the step index is outside the schedule', async () => {
    const error = await handler(event(3)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('Step 3');
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(appmesh).not.toHaveReceivedAnyCommand();
  });

  it('is a ValidationError naming the field when the input is malformed', async () => {
    const withoutProgress: Partial<ReturnType<typeof event>> = event(1);
    delete withoutProgress.progress;

    await expect(handler(withoutProgress)).rejects.toThrow(/Invalid ShiftTraffic input: progress/);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});

describe('shift-traffic handler on ALB traffic', () => {
  function albEvent(stepIndex = 0) {
    return { release: release(albConfig), colours: blueLive, progress: progress(stepIndex) };
  }

  function givenForward(blue: number, green: number) {
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE_ARN] }).resolves(describeRulesOutput(rule(productionActions(blue, green))));
  }

  function givenGreenTargets(targets: Parameters<typeof targetHealthOutput>[0]) {
    elbv2.on(DescribeTargetHealthCommand, { TargetGroupArn: TARGET_GROUP_ARNS.green }).resolves(targetHealthOutput(targets));
  }

  /** The forward action's target groups in the n-th ModifyRule (1-based). */
  function forwardSent(n: number) {
    return elbv2.commandCalls(ModifyRuleCommand)[n - 1].args[0].input.Actions?.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups;
  }

  beforeEach(() => {
    elbv2.on(ModifyRuleCommand).resolves({ Rules: [] });
  });

  it("checks the idle target group's health, then sets the step's weight with ModifyRule", async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    givenForward(100, 0);
    givenGreenTargets([['healthy'], ['healthy']]);

    await expect(handler(albEvent(0))).resolves.toMatchObject({ stepIndex: 0, weight: 10, weights: { live: 90, idle: 10 }, changed: true });

    expect(elbv2.calls().map((call) => call.args[0].constructor.name)).toEqual([
      'DescribeTargetHealthCommand',
      'DescribeRulesCommand',
      'ModifyRuleCommand',
    ]);
    expect(elbv2).toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: TARGET_GROUP_ARNS.green });
    expect(elbv2).toHaveReceivedCommandWith(ModifyRuleCommand, { RuleArn: RULE_ARN, Actions: productionActions(90, 10, true) });
    expect(appmesh).not.toHaveReceivedAnyCommand();
  });

  it('is a NoHealthyTargetsError and moves no weight when the idle target group has no healthy target', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    givenForward(100, 0);
    givenGreenTargets([['initial', 'Elb.InitialHealthChecking'], ['unhealthy', 'Target.ResponseCodeMismatch']]);

    const error = await handler(albEvent(0)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NoHealthyTargetsError);
    expect((error as Error).message).toContain('Target group colorapp-green of the idle colour (green) has no healthy target');
    expect((error as Error).message).toContain('No traffic was moved to it.');
    expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(elbv2).not.toHaveReceivedCommand(DescribeRulesCommand);
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
  });

  it('touches nothing when the lock is not held (the target health, read beside the lock, is only read)', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock({ status: 'rolling-back' })));
    givenGreenTargets([['healthy']]);

    await expect(handler(albEvent(0))).rejects.toThrow(ExecutionAbortedError);
    expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    expect(elbv2).not.toHaveReceivedCommand(DescribeRulesCommand);
  });

  it('says the lock is lost, not that the idle colour has no targets, when both are true', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock({ status: 'rolling-back' })));
    givenGreenTargets([['unhealthy']]);

    await expect(handler(albEvent(0))).rejects.toThrow(ExecutionAbortedError);
    expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
  });

  it('restores 100/0 after losing the lock mid-shift without asking for target health again', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce(lockParameter(lock()))
      .resolves(lockParameter(lock({ status: 'rolling-back' })));
    elbv2
      .on(DescribeRulesCommand, { RuleArns: [RULE_ARN] })
      .resolvesOnce(describeRulesOutput(rule(productionActions(100, 0))))
      .resolves(describeRulesOutput(rule(productionActions(50, 50))));
    givenGreenTargets([['healthy']]);

    await expect(handler(albEvent(1))).rejects.toThrow(/set back to 100\/0/);

    expect(elbv2).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 1);
    expect(elbv2).toHaveReceivedCommandTimes(ModifyRuleCommand, 2);
    expect(forwardSent(1)).toEqual([
      { TargetGroupArn: TARGET_GROUP_ARNS.blue, Weight: 50 },
      { TargetGroupArn: TARGET_GROUP_ARNS.green, Weight: 50 },
    ]);
    expect(forwardSent(2)).toEqual([
      { TargetGroupArn: TARGET_GROUP_ARNS.blue, Weight: 100 },
      { TargetGroupArn: TARGET_GROUP_ARNS.green, Weight: 0 },
    ]);
  });

  it('reports changed: false and sends no ModifyRule when a retried step finds the weights already set', async () => {
    ssm.on(GetParameterCommand).resolves(lockParameter(lock()));
    givenForward(50, 50);
    givenGreenTargets([['healthy']]);

    await expect(handler(albEvent(1))).resolves.toMatchObject({ weight: 50, changed: false });
    expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
  });
});
