import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ModifyListenerInput,
  type ModifyRuleInput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  NoHealthyTargetsError,
  ResourceNotFoundError,
  RouteDriftError,
  ThrottledError,
  ValidationError,
} from '../../../../lambdas/shared/errors';
import { AlbTrafficRouter, type AlbTrafficConfig } from '../../../../lambdas/shared/traffic/alb-router';
import {
  albConfig,
  DEFAULT_RULE_ARN,
  describeListenersOutput,
  describeRulesOutput,
  elbError,
  LISTENER_ARN,
  oidcAction,
  OTHER_TARGET_GROUP_ARN,
  productionActions,
  rule,
  RULE_ARN,
  TARGET_GROUP_ARNS,
  TEST_RULE_ARNS,
  targetHealthOutput,
  testRule,
  weightedForward,
} from '../../../support/alb-fixtures';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const client = new ElasticLoadBalancingV2Client({});
const blueLive = { live: 'blue', idle: 'green' } as const;
const greenLive = { live: 'green', idle: 'blue' } as const;
const defaultActionConfig: AlbTrafficConfig = { ...albConfig, rule: 'listener-default' };
const { blue: BLUE_TG, green: GREEN_TG } = TARGET_GROUP_ARNS;

function router(config: AlbTrafficConfig = albConfig, colours: { live: 'blue' | 'green'; idle: 'blue' | 'green' } = blueLive) {
  return new AlbTrafficRouter(client, config, colours);
}

function ruleHas(actions: Action[]) {
  elbv2.on(DescribeRulesCommand, { RuleArns: [RULE_ARN] }).resolves(describeRulesOutput(rule(actions)));
}

function listenerHas(actions: Action[]) {
  elbv2.on(DescribeListenersCommand).resolves(describeListenersOutput(actions));
}

/** ELB's throttling answer ("Request throttling for the ELB API": ThrottlingException, Rate exceeded). */
function throttling(): Error {
  return elbError('ThrottlingException', 'Rate exceeded');
}

/** The only ModifyRule input sent. */
function sentModifyRule(): ModifyRuleInput {
  const calls = elbv2.commandCalls(ModifyRuleCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input;
}

/** The only ModifyListener input sent. */
function sentModifyListener(): ModifyListenerInput {
  const calls = elbv2.commandCalls(ModifyListenerCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input;
}

function expectNoModify() {
  expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
  expect(elbv2).not.toHaveReceivedCommand(ModifyListenerCommand);
}

beforeEach(() => {
  elbv2.reset();
  elbv2.on(ModifyRuleCommand).resolves({ Rules: [] });
  elbv2.on(ModifyListenerCommand).resolves({ Listeners: [] });
});

describe('AlbTrafficRouter', () => {
  it('describes a rule by its ARN resource and the default action by its listener', () => {
    expect(router().describe()).toBe('alb:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee');
    expect(router(defaultActionConfig).describe()).toBe('alb:listener/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2 default action');
  });

  it('rejects live and idle being the same colour', () => {
    expect(() => router(albConfig, { live: 'green', idle: 'green' })).toThrow(ValidationError);
  });

  it('rejects both colours sharing one target group', () => {
    const config = { ...albConfig, targetGroups: { blue: BLUE_TG, green: BLUE_TG } };
    expect(() => router(config)).toThrow(/same target group/);
  });

  describe('getWeights', () => {
    it("reads the weights of the rule's forward action", async () => {
      ruleHas(productionActions(90, 10));

      await expect(router().getWeights()).resolves.toEqual({ live: 90, idle: 10 });
      expect(elbv2).toHaveReceivedCommandTimes(DescribeRulesCommand, 1);
      expect(elbv2).toHaveReceivedCommandWith(DescribeRulesCommand, { RuleArns: [RULE_ARN] });
    });

    it("reads the listener's default action with DescribeListeners when rule is listener-default", async () => {
      listenerHas(productionActions(100, 0));

      await expect(router(defaultActionConfig).getWeights()).resolves.toEqual({ live: 100, idle: 0 });
      expect(elbv2).toHaveReceivedCommandWith(DescribeListenersCommand, { ListenerArns: [LISTENER_ARN] });
      expect(elbv2).not.toHaveReceivedCommand(DescribeRulesCommand);
    });

    it('maps target groups to colours by configuration, whichever colour is live and whatever their order', async () => {
      ruleHas([weightedForward([[GREEN_TG, 70], [BLUE_TG, 30]])]);

      await expect(router(albConfig, greenLive).getWeights()).resolves.toEqual({ live: 70, idle: 30 });
      await expect(router(albConfig, blueLive).getWeights()).resolves.toEqual({ live: 30, idle: 70 });
    });

    it.each([
      [1, 1, { live: 50, idle: 50 }],
      [999, 0, { live: 100, idle: 0 }],
      [2, 1, { live: 67, idle: 33 }],
      [900, 100, { live: 90, idle: 10 }],
    ])('reports relative ELB weights blue %i / green %i as percentages summing to 100', async (blue, green, expected) => {
      ruleHas(productionActions(blue, green));
      await expect(router().getWeights()).resolves.toEqual(expected);
    });

    it.each<[string, Action[], RegExp]>([
      [
        'a third target group',
        [weightedForward([[BLUE_TG, 90], [GREEN_TG, 0], [OTHER_TARGET_GROUP_ARN, 10]])],
        /forwards to colorapp-blue \(weight 90\), colorapp-green \(weight 0\), colorapp-debug \(weight 10\); a release needs exactly the two colour target groups \(blue: colorapp-blue, green: colorapp-green\)/,
      ],
      [
        "one colour's group missing (a plain forward to blue)",
        [{ Type: 'forward', TargetGroupArn: BLUE_TG, ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: 1 }] } }],
        /forwards to colorapp-blue \(weight 1\); a release needs exactly the two colour target groups/,
      ],
      ['a single TargetGroupArn and no ForwardConfig', [{ Type: 'forward', TargetGroupArn: GREEN_TG }], /forwards to colorapp-green; a release needs/],
      [
        'no forward action',
        [oidcAction(), { Type: 'fixed-response', Order: 2, FixedResponseConfig: { StatusCode: '503' } }],
        /has no forward action \(actions: authenticate-oidc, fixed-response\); a release needs one forward/,
      ],
      [
        'two forward actions',
        [weightedForward([[BLUE_TG, 100], [GREEN_TG, 0]], 1), weightedForward([[BLUE_TG, 100], [GREEN_TG, 0]], 2)],
        /has 2 forward actions/,
      ],
      ['a colour group without a weight', [weightedForward([[BLUE_TG, 100], [GREEN_TG, undefined]])], /gives target group colorapp-green the weight undefined/],
      ['a weight above 999', [weightedForward([[BLUE_TG, 1000], [GREEN_TG, 0]])], /weight 1000; ELB weights are integers 0\.\.999/],
      ['both weights 0', [weightedForward([[BLUE_TG, 0], [GREEN_TG, 0]])], /gives both colour target groups weight 0, so it sends no traffic/],
      ['the same colour group twice', [weightedForward([[BLUE_TG, 50], [BLUE_TG, 50]])], /a release needs exactly the two colour target groups/],
    ])('is a RouteDriftError naming what was found when the forward has %s', async (_case, actions, message) => {
      ruleHas(actions);

      const error = await router().getWeights().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RouteDriftError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('alb:listener-rule/app/colorapp/');
    });

    it('says what to do about drift: restore the two groups with the live colour at 100, or fix the configuration', async () => {
      ruleHas([weightedForward([[BLUE_TG, 100], [OTHER_TARGET_GROUP_ARN, 0]])]);

      await expect(router().getWeights()).rejects.toThrow(
        /restore a forward to those two groups with all weight on the live colour, or fix traffic\.targetGroups/,
      );
    });

    it('turns ELB RuleNotFound into a ResourceNotFoundError naming the rule', async () => {
      elbv2.on(DescribeRulesCommand).rejects(elbError('RuleNotFoundException', 'One or more rules not found'));

      const error = await router().getWeights().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as Error).message).toContain('DescribeRules alb:listener-rule/app/colorapp/');
      expect((error as Error).message).toContain('RuleNotFoundException: One or more rules not found');
      expect((error as Error).cause).toMatchObject({ name: 'RuleNotFoundException' });
    });

    it('turns ELB ListenerNotFound into a ResourceNotFoundError for the default action', async () => {
      elbv2.on(DescribeListenersCommand).rejects(elbError('ListenerNotFoundException', 'One or more listeners not found'));

      await expect(router(defaultActionConfig).getWeights()).rejects.toThrow(ResourceNotFoundError);
    });

    it('is a ResourceNotFoundError when the response does not contain the rule', async () => {
      elbv2.on(DescribeRulesCommand).resolves(describeRulesOutput());

      await expect(router().getWeights()).rejects.toThrow(/Listener rule .*9683b2d02a6cabee is missing from the DescribeRules response/);
    });

    it("is a ValidationError pointing at listener-default when the rule is the listener's default rule", async () => {
      const config = { ...albConfig, rule: DEFAULT_RULE_ARN };
      elbv2.on(DescribeRulesCommand).resolves(describeRulesOutput(rule(productionActions(100, 0), { RuleArn: DEFAULT_RULE_ARN, IsDefault: true, Priority: 'default', Conditions: [] })));

      const error = await router(config).getWeights().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(/is the listener's default rule, which ModifyRule cannot change; set traffic\.rule to 'listener-default'/);
    });
  });

  describe('setWeights', () => {
    it('sends ModifyRule with the actions exactly as described but the two weights: oidc first, stickiness and order kept, no conditions or priority', async () => {
      ruleHas(productionActions(100, 0));

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });

      expect(sentModifyRule()).toStrictEqual({
        RuleArn: RULE_ARN,
        Actions: [
          // As described, plus the one flag that keeps the client secret Describe never reports.
          oidcAction(true),
          {
            Type: 'forward',
            Order: 2,
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: BLUE_TG, Weight: 90 },
                { TargetGroupArn: GREEN_TG, Weight: 10 },
              ],
              TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 },
            },
          },
        ],
      });
      expect(elbv2).not.toHaveReceivedCommand(ModifyListenerCommand);
    });

    it("sends ModifyListener with the listener's DefaultActions, only the weights changed, for listener-default", async () => {
      listenerHas(productionActions(100, 0));

      await expect(router(defaultActionConfig).setWeights({ live: 50, idle: 50 })).resolves.toEqual({ changed: true });

      expect(sentModifyListener()).toStrictEqual({
        ListenerArn: LISTENER_ARN,
        DefaultActions: productionActions(50, 50, true),
      });
      expect(elbv2).not.toHaveReceivedCommand(ModifyRuleCommand);
    });

    it('keeps the target groups in the order they were described when green is live', async () => {
      ruleHas(productionActions(0, 100));

      await router(albConfig, greenLive).setWeights({ live: 90, idle: 10 });

      expect(sentModifyRule().Actions).toStrictEqual(productionActions(10, 90, true));
    });

    it('keeps any other field of the forward and of its target group tuples', async () => {
      const forward: Action = {
        ...weightedForward([[BLUE_TG, 100], [GREEN_TG, 0]]),
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: BLUE_TG, Weight: 100 },
            { TargetGroupArn: GREEN_TG, Weight: 0 },
          ],
          TargetGroupStickinessConfig: { Enabled: false },
        },
      };
      ruleHas([forward, { Type: 'fixed-response', Order: 3, FixedResponseConfig: { StatusCode: '200', ContentType: 'text/plain', MessageBody: 'never reached' } }]);

      await router().setWeights({ live: 0, idle: 100 });

      expect(sentModifyRule().Actions).toStrictEqual([
        {
          Type: 'forward',
          Order: 2,
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: BLUE_TG, Weight: 0 },
              { TargetGroupArn: GREEN_TG, Weight: 100 },
            ],
            TargetGroupStickinessConfig: { Enabled: false },
          },
        },
        { Type: 'fixed-response', Order: 3, FixedResponseConfig: { StatusCode: '200', ContentType: 'text/plain', MessageBody: 'never reached' } },
      ]);
    });

    it('never sends a TargetGroupArn beside a two-group ForwardConfig (ELB allows both only for one identical group)', async () => {
      ruleHas([{ ...weightedForward([[BLUE_TG, 100], [GREEN_TG, 0]], 1), TargetGroupArn: BLUE_TG }]);

      await router().setWeights({ live: 90, idle: 10 });

      const [forward] = sentModifyRule().Actions!;
      expect(forward).not.toHaveProperty('TargetGroupArn');
      expect(forward.ForwardConfig?.TargetGroups).toStrictEqual([
        { TargetGroupArn: BLUE_TG, Weight: 90 },
        { TargetGroupArn: GREEN_TG, Weight: 10 },
      ]);
    });

    it('says UseExistingClientSecret on an authenticate-oidc action Describe reported without its secret, and sends a secret it was given as it was', async () => {
      const withSecret: Action = { ...oidcAction(), AuthenticateOidcConfig: { ...oidcAction().AuthenticateOidcConfig!, ClientSecret: 's3cret' } };
      ruleHas([withSecret, ...productionActions(100, 0).slice(1)]);

      await router().setWeights({ live: 90, idle: 10 });

      expect(sentModifyRule().Actions![0]).toStrictEqual(withSecret);

      elbv2.resetHistory();
      ruleHas(productionActions(100, 0));
      await router().setWeights({ live: 90, idle: 10 });
      expect(sentModifyRule().Actions![0].AuthenticateOidcConfig).toStrictEqual({ ...oidcAction().AuthenticateOidcConfig, UseExistingClientSecret: true });
    });

    it('does not change the described actions it compared against', async () => {
      const described = productionActions(100, 0);
      ruleHas(described);

      await router().setWeights({ live: 90, idle: 10 });

      expect(described).toStrictEqual(productionActions(100, 0));
    });

    it('rolls back to 100/0 by writing both target groups, the idle one at weight 0', async () => {
      ruleHas(productionActions(50, 50));

      await router().setWeights({ live: 100, idle: 0 });

      expect(sentModifyRule().Actions).toStrictEqual(productionActions(100, 0, true));
    });

    it('sends nothing when the forward already has the weights', async () => {
      ruleHas(productionActions(90, 10));

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: false });
      expect(elbv2).toHaveReceivedCommandTimes(DescribeRulesCommand, 1);
      expectNoModify();
    });

    it('sends nothing for the default action when it already has the weights', async () => {
      listenerHas(productionActions(100, 0));

      await expect(router(defaultActionConfig).setWeights({ live: 100, idle: 0 })).resolves.toEqual({ changed: false });
      expectNoModify();
    });

    it('rewrites relative weights that only mean the requested split (999:0 is 100/0 but not 100:0)', async () => {
      ruleHas(productionActions(999, 0));

      await expect(router().setWeights({ live: 100, idle: 0 })).resolves.toEqual({ changed: true });
      expect(sentModifyRule().Actions).toStrictEqual(productionActions(100, 0, true));
    });

    it('retries a throttled ModifyRule with the same request and succeeds', async () => {
      ruleHas(productionActions(100, 0));
      elbv2.on(ModifyRuleCommand).rejectsOnce(throttling()).resolves({ Rules: [] });

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });

      const calls = elbv2.commandCalls(ModifyRuleCommand);
      expect(calls).toHaveLength(2);
      expect(calls[1].args[0].input).toStrictEqual(calls[0].args[0].input);
    });

    it('retries a throttled DescribeRules and succeeds', async () => {
      elbv2.on(DescribeRulesCommand).rejectsOnce(throttling()).resolves(describeRulesOutput(rule(productionActions(100, 0))));

      await expect(router().setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });
      expect(elbv2).toHaveReceivedCommandTimes(DescribeRulesCommand, 2);
    });

    it('retries a throttled ModifyListener and succeeds', async () => {
      listenerHas(productionActions(100, 0));
      elbv2.on(ModifyListenerCommand).rejectsOnce(throttling()).resolves({ Listeners: [] });

      await expect(router(defaultActionConfig).setWeights({ live: 90, idle: 10 })).resolves.toEqual({ changed: true });
      expect(elbv2).toHaveReceivedCommandTimes(ModifyListenerCommand, 2);
    });

    it('is a ThrottledError naming the call when ModifyRule is throttled on every attempt', async () => {
      ruleHas(productionActions(100, 0));
      elbv2.on(ModifyRuleCommand).rejects(throttling());

      const error = await router().setWeights({ live: 90, idle: 10 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ThrottledError);
      expect((error as Error).message).toContain('ModifyRule alb:listener-rule/app/colorapp/');
      expect(elbv2).toHaveReceivedCommandTimes(ModifyRuleCommand, 6);
    });

    it.each<[string, Action[]]>([
      ['a third target group', [weightedForward([[BLUE_TG, 90], [GREEN_TG, 0], [OTHER_TARGET_GROUP_ARN, 10]])]],
      ["one colour's group missing", [weightedForward([[BLUE_TG, 100]])]],
      ['no forward action', [oidcAction(), { Type: 'redirect', Order: 2, RedirectConfig: { StatusCode: 'HTTP_301', Protocol: 'HTTPS' } }]],
    ])('is a RouteDriftError and sends no ModifyRule when the forward has %s', async (_case, actions) => {
      ruleHas(actions);

      await expect(router().setWeights({ live: 100, idle: 0 })).rejects.toThrow(RouteDriftError);
      expectNoModify();
    });

    it('is a RouteDriftError and sends no ModifyListener when the default action forwards elsewhere', async () => {
      listenerHas([weightedForward([[BLUE_TG, 100], [OTHER_TARGET_GROUP_ARN, 0]])]);

      await expect(router(defaultActionConfig).setWeights({ live: 100, idle: 0 })).rejects.toThrow(RouteDriftError);
      expectNoModify();
    });

    it('is a ResourceNotFoundError and sends no ModifyRule when the rule is gone', async () => {
      elbv2.on(DescribeRulesCommand).rejects(elbError('RuleNotFoundException', 'One or more rules not found'));

      await expect(router().setWeights({ live: 90, idle: 10 })).rejects.toThrow(ResourceNotFoundError);
      expectNoModify();
    });

    it('is a ResourceNotFoundError when ModifyRule says a target group is gone', async () => {
      ruleHas(productionActions(100, 0));
      elbv2.on(ModifyRuleCommand).rejects(elbError('TargetGroupNotFoundException', 'One or more target groups not found'));

      await expect(router().setWeights({ live: 90, idle: 10 })).rejects.toThrow(ResourceNotFoundError);
    });

    it('lets other ELB errors through unchanged, for the handler to report with their name', async () => {
      ruleHas(productionActions(100, 0));
      elbv2.on(ModifyRuleCommand).rejects(elbError('OperationNotPermittedException', 'This operation is not allowed'));

      await expect(router().setWeights({ live: 90, idle: 10 })).rejects.toMatchObject({ name: 'OperationNotPermittedException' });
    });

    it.each([
      { live: 90, idle: 20 },
      { live: 110, idle: -10 },
      { live: 50.5, idle: 49.5 },
      { live: Number.NaN, idle: 100 },
    ])('is a ValidationError and sends nothing for live=$live idle=$idle', async (weights) => {
      await expect(router().setWeights(weights)).rejects.toThrow(ValidationError);
      expect(elbv2).not.toHaveReceivedAnyCommand();
    });
  });

  describe('checkTargets', () => {
    it("counts the idle colour's targets by state and passes with one healthy", async () => {
      elbv2.on(DescribeTargetHealthCommand).resolves(targetHealthOutput([['healthy'], ['initial', 'Elb.InitialHealthChecking']]));

      await expect(router().checkTargets('idle')).resolves.toStrictEqual({
        checked: true,
        role: 'idle',
        colour: 'green',
        target: GREEN_TG,
        healthy: 1,
        total: 2,
        states: { healthy: 1, initial: 1 },
      });
      expect(elbv2).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 1);
      expect(elbv2).toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: GREEN_TG });
    });

    it("checks the live colour's target group for role live", async () => {
      elbv2.on(DescribeTargetHealthCommand).resolves(targetHealthOutput([['healthy'], ['healthy']]));

      await expect(router(albConfig, greenLive).checkTargets('live')).resolves.toMatchObject({ colour: 'green', target: GREEN_TG, healthy: 2 });
      expect(elbv2).toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: GREEN_TG });
    });

    it('is a NoHealthyTargetsError listing every state and reason when no target is healthy', async () => {
      elbv2.on(DescribeTargetHealthCommand).resolves(
        targetHealthOutput([
          ['initial', 'Elb.InitialHealthChecking'],
          ['unhealthy', 'Target.Timeout'],
          ['unhealthy', 'Target.ResponseCodeMismatch'],
          ['draining', 'Target.DeregistrationInProgress'],
        ]),
      );

      const error = await router().checkTargets('idle').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(NoHealthyTargetsError);
      expect((error as Error).message).toBe(
        'Target group colorapp-green of the idle colour (green) has no healthy target: 4 target(s): ' +
          '1 initial (Elb.InitialHealthChecking), 2 unhealthy (Target.Timeout, Target.ResponseCodeMismatch), ' +
          "1 draining (Target.DeregistrationInProgress). No traffic was moved to it. Check why green's tasks fail " +
          "the target group's health check, then release again.",
      );
      expectNoModify();
    });

    it('is a NoHealthyTargetsError when no target is registered at all', async () => {
      elbv2.on(DescribeTargetHealthCommand).resolves(targetHealthOutput([]));

      await expect(router().checkTargets('idle')).rejects.toThrow(/colorapp-green of the idle colour \(green\) has no healthy target: no target is registered/);
    });

    it('is a NoHealthyTargetsError telling to fix the live colour when the live group has none', async () => {
      elbv2.on(DescribeTargetHealthCommand).resolves(targetHealthOutput([['unused', 'Target.NotInUse']]));

      await expect(router().checkTargets('live')).rejects.toThrow(/colorapp-blue of the live colour \(blue\) .*1 unused \(Target\.NotInUse\)\. The live colour cannot serve/);
    });

    it('is a ResourceNotFoundError when the target group is gone', async () => {
      elbv2.on(DescribeTargetHealthCommand).rejects(elbError('TargetGroupNotFoundException', 'One or more target groups not found'));

      await expect(router().checkTargets('idle')).rejects.toThrow(ResourceNotFoundError);
    });

    it('retries a throttled DescribeTargetHealth', async () => {
      elbv2.on(DescribeTargetHealthCommand).rejectsOnce(throttling()).resolves(targetHealthOutput([['healthy']]));

      await expect(router().checkTargets('idle')).resolves.toMatchObject({ healthy: 1 });
      expect(elbv2).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 2);
    });
  });

  describe('checkTestRoutes', () => {
    it('checks nothing and sends nothing when no test rules are configured', async () => {
      const withoutTestRules: AlbTrafficConfig = { ...albConfig };
      delete withoutTestRules.testRules;

      await expect(router(withoutTestRules).checkTestRoutes()).resolves.toEqual([]);
      expect(elbv2).not.toHaveReceivedAnyCommand();
    });

    it('passes when each test rule forwards to its own colour only, with one DescribeRules for both', async () => {
      elbv2.on(DescribeRulesCommand).resolves(describeRulesOutput(testRule('green'), testRule('blue')));

      await expect(router().checkTestRoutes()).resolves.toEqual([
        `alb:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/1b1b1b1b1b1b1b1b -> blue`,
        `alb:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/2c2c2c2c2c2c2c2c -> green`,
      ]);
      expect(elbv2).toHaveReceivedCommandTimes(DescribeRulesCommand, 1);
      expect(elbv2).toHaveReceivedCommandWith(DescribeRulesCommand, { RuleArns: [TEST_RULE_ARNS.blue, TEST_RULE_ARNS.green] });
    });

    it.each<[string, () => ReturnType<typeof testRule>, RegExp]>([
      ["the other colour's group", () => testRule('green', [BLUE_TG]), /for green forwards to colorapp-blue \(weight 1\); it must forward to green's target group colorapp-green only/],
      ['both groups', () => testRule('green', [GREEN_TG, BLUE_TG]), /for green forwards to colorapp-green \(weight 1\), colorapp-blue \(weight 1\)/],
      ['no forward at all', () => ({ ...testRule('green'), Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] }), /for green has no forward action/],
    ])('is a RouteDriftError when the green test rule forwards to %s', async (_case, green, message) => {
      elbv2.on(DescribeRulesCommand).resolves(describeRulesOutput(testRule('blue'), green()));

      const error = await router().checkTestRoutes().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RouteDriftError);
      expect((error as Error).message).toMatch(message);
    });

    it('is a ResourceNotFoundError when ELB says a test rule does not exist', async () => {
      elbv2.on(DescribeRulesCommand).rejects(elbError('RuleNotFoundException', 'One or more rules not found'));

      await expect(router().checkTestRoutes()).rejects.toThrow(ResourceNotFoundError);
    });

    it('is a ResourceNotFoundError naming the colour when the response lacks a test rule', async () => {
      elbv2.on(DescribeRulesCommand).resolves(describeRulesOutput(testRule('blue')));

      await expect(router().checkTestRoutes()).rejects.toThrow(/Test rule .*2c2c2c2c2c2c2c2c for green is missing/);
    });
  });
});
