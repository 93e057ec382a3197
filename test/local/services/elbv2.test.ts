import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  InvalidTargetException,
  ListenerNotFoundException,
  LoadBalancerNotFoundException,
  ModifyListenerCommand,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  OperationNotPermittedException,
  paginateDescribeRules,
  PriorityInUseException,
  RegisterTargetsCommand,
  RuleNotFoundException,
  TargetGroupAssociationLimitException,
  TargetGroupNotFoundException,
  type Action,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { loadBalancerDimension, targetGroupDimension } from '../../../lambdas/shared/alb-metrics';
import { AlbTrafficSchema } from '../../../lambdas/shared/config';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import * as sdk from '@aws-sdk/client-elastic-load-balancing-v2';
import { ELBV2_ERRORS, elbThrottling, httpHealthProbe, LocalElbv2, type HealthCheckResult } from '../../../local/services/elbv2';
import { clientConfig } from '../endpoint/harness';

// The local ELBv2 through the real SDK v3 client (AWS Query protocol) and the real endpoint.
// Sources: Elastic Load Balancing API reference (2015-12-01) per operation, the ALB user guide
// ("Health checks for Application Load Balancer target groups", "Deregistration delay",
// "Listener rules"), and the SDK's error classes (each one's awsQueryError code).

const T0 = new Date('2026-03-01T12:00:00.000Z');
const OIDC: Action = {
  Type: 'authenticate-oidc',
  Order: 1,
  AuthenticateOidcConfig: {
    Issuer: 'https://idp.example.com',
    AuthorizationEndpoint: 'https://idp.example.com/authorize',
    TokenEndpoint: 'https://idp.example.com/token',
    UserInfoEndpoint: 'https://idp.example.com/userinfo',
    ClientId: 'colorapp',
    ClientSecret: 'secret',
    OnUnauthenticatedRequest: 'authenticate',
  },
};

let clock: Date;
let elb: LocalElbv2;
let endpoint: LocalEndpoint;
let client: ElasticLoadBalancingV2Client;
/** What the injected health probe answers, per target `id:port`; absent means healthy. */
let probeAnswers: Map<string, HealthCheckResult>;
let world: ReturnType<typeof seedColorapp>;

beforeAll(async () => {
  // The endpoint dispatches to whichever LocalElbv2 the current test built.
  const service = () => elb;
  endpoint = await startLocalEndpoint({
    jsonServices: [],
    queryServices: [
      {
        apiVersion: '2015-12-01',
        xmlNamespace: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
        get queryOperations() {
          return service().queryOperations;
        },
      },
    ],
  });
  client = new ElasticLoadBalancingV2Client(clientConfig(endpoint.url));
});

afterAll(async () => {
  client.destroy();
  await endpoint.close();
});

beforeEach(() => {
  clock = T0;
  probeAnswers = new Map();
  elb = new LocalElbv2({
    accountId: '111122223333',
    now: () => clock,
    defaultDeregistrationDelaySeconds: 30,
    healthProbe: async (check) => probeAnswers.get(`${check.id}:${check.port}`) ?? { healthy: true },
  });
  world = seedColorapp(elb);
});

afterEach(() => elb.stopHealthChecks());

/** colorapp as the sample stack builds it: a weighted default action and a header rule per colour. */
function seedColorapp(service: LocalElbv2) {
  const lb = service.createLoadBalancer({ Name: 'colorapp', Subnets: ['subnet-a', 'subnet-b'] }).LoadBalancers[0];
  const tg = (name: string) =>
    service.createTargetGroup({ Name: name, Protocol: 'HTTP', Port: 8080, TargetType: 'ip', HealthCheckPath: '/healthcheck' }).TargetGroups[0]
      .TargetGroupArn!;
  const blue = tg('colorapp-blue');
  const green = tg('colorapp-green');
  const listener = service.createListener({
    LoadBalancerArn: lb.LoadBalancerArn,
    Protocol: 'HTTP',
    Port: 80,
    DefaultActions: [forward(blue, 100, green, 0)],
  }).Listeners[0].ListenerArn!;
  const headerRule = (colour: string, priority: number, arn: string) =>
    service.createRule({
      ListenerArn: listener,
      Priority: priority,
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-release-color', Values: [colour] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: arn }],
    }).Rules[0].RuleArn!;
  const blueRule = headerRule('blue', 10, blue);
  const greenRule = headerRule('green', 20, green);
  return { lb: lb.LoadBalancerArn!, blue, green, listener, blueRule, greenRule };
}

function forward(blue: string, blueWeight: number, green: string, greenWeight: number, order?: number): Action {
  return {
    Type: 'forward',
    ...(order !== undefined ? { Order: order } : {}),
    ForwardConfig: {
      TargetGroups: [
        { TargetGroupArn: blue, Weight: blueWeight },
        { TargetGroupArn: green, Weight: greenWeight },
      ],
    },
  };
}

async function health(targetGroupArn: string) {
  const out = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).map((d) => ({ id: `${d.Target?.Id}:${d.Target?.Port}`, ...d.TargetHealth }));
}

describe('resources and ARNs', () => {
  it('shapes ARNs as AWS does, so they pass the ALB config schema and the metric dimension helpers', () => {
    // ARN formats: Service Authorization Reference, "Resource types defined by Elastic Load Balancing V2".
    expect(world.lb).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer\/app\/colorapp\/[0-9a-f]{16}$/);
    expect(world.listener).toMatch(/:listener\/app\/colorapp\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
    expect(world.blueRule).toMatch(/:listener-rule\/app\/colorapp\/[0-9a-f]{16}\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
    expect(world.blue).toMatch(/:targetgroup\/colorapp-blue\/[0-9a-f]{16}$/);
    const parsed = AlbTrafficSchema.safeParse({
      kind: 'alb',
      listenerArn: world.listener,
      rule: 'listener-default',
      targetGroups: { blue: world.blue, green: world.green },
      testRules: { blue: world.blueRule, green: world.greenRule },
    });
    expect(parsed.success).toBe(true);
    expect(loadBalancerDimension(world.listener)).toBe(`app/colorapp/${world.lb.split('/').pop()}`);
    expect(targetGroupDimension(world.green)).toMatch(/^targetgroup\/colorapp-green\/[0-9a-f]{16}$/);
  });

  it('describes load balancers, target groups (with the load balancer that uses them) and listeners', async () => {
    const [lbs, tgs, listeners] = await Promise.all([
      client.send(new DescribeLoadBalancersCommand({ Names: ['colorapp'] })),
      client.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: world.lb })),
      client.send(new DescribeListenersCommand({ LoadBalancerArn: world.lb })),
    ]);
    expect(lbs.LoadBalancers).toEqual([
      expect.objectContaining({ LoadBalancerArn: world.lb, Type: 'application', Scheme: 'internet-facing', State: { Code: 'active' } }),
    ]);
    expect(lbs.LoadBalancers![0].CreatedTime).toEqual(T0);
    // CreateTargetGroup defaults for an ALB target group (API reference, CreateTargetGroup).
    expect(tgs.TargetGroups).toEqual([
      expect.objectContaining({
        TargetGroupName: 'colorapp-blue',
        HealthCheckIntervalSeconds: 30,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 5,
        UnhealthyThresholdCount: 2,
        HealthCheckPath: '/healthcheck',
        Matcher: { HttpCode: '200' },
        LoadBalancerArns: [world.lb],
      }),
      expect.objectContaining({ TargetGroupName: 'colorapp-green', LoadBalancerArns: [world.lb] }),
    ]);
    expect(listeners.Listeners).toEqual([
      {
        ListenerArn: world.listener,
        LoadBalancerArn: world.lb,
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: world.blue, Weight: 100 },
                { TargetGroupArn: world.green, Weight: 0 },
              ],
              TargetGroupStickinessConfig: { Enabled: false },
            },
          },
        ],
      },
    ]);
  });

  it('lists a listener\'s rules by priority with the default rule last (IsDefault, priority "default")', async () => {
    const { Rules } = await client.send(new DescribeRulesCommand({ ListenerArn: world.listener }));
    expect(Rules!.map((r) => [r.Priority, r.IsDefault])).toEqual([
      ['10', false],
      ['20', false],
      ['default', true],
    ]);
    // A rule that forwards to one target group shows it both as TargetGroupArn and as a weight-1 tuple.
    expect(Rules![0].Actions).toEqual([
      {
        Type: 'forward',
        TargetGroupArn: world.blue,
        ForwardConfig: { TargetGroups: [{ TargetGroupArn: world.blue, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } },
      },
    ]);
    expect(Rules![2].Conditions).toEqual([]);
  });

  it('pages DescribeRules with Marker/NextMarker as the SDK paginator reads them', async () => {
    const pages: Rule[][] = [];
    // The model's paginator has no page-size member for DescribeRules, so PageSize goes in the input.
    for await (const page of paginateDescribeRules({ client }, { ListenerArn: world.listener, PageSize: 1 })) pages.push(page.Rules ?? []);
    expect(pages.map((p) => p.length)).toEqual([1, 1, 1]);
    expect(pages.flat().map((r) => r.Priority)).toEqual(['10', '20', 'default']);
  });

  it('answers DescribeTags for the resources it holds', async () => {
    elb.createTargetGroup({ Name: 'tagged', Protocol: 'HTTP', Port: 80, Tags: [{ Key: 'app', Value: 'colorapp' }] });
    const arn = elb.describeTargetGroups({ Names: ['tagged'] }).TargetGroups[0].TargetGroupArn!;
    const out = await client.send(new DescribeTagsCommand({ ResourceArns: [arn, world.lb] }));
    expect(out.TagDescriptions).toEqual([
      { ResourceArn: arn, Tags: [{ Key: 'app', Value: 'colorapp' }] },
      { ResourceArn: world.lb, Tags: [] },
    ]);
  });
});

describe('changing weights', () => {
  it('ModifyRule replaces the actions and keeps the conditions when none are sent (API reference, ModifyRule)', async () => {
    const rule = elb.createRule({
      ListenerArn: world.listener,
      Priority: 5,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }],
      Actions: [OIDC, forward(world.blue, 100, world.green, 0, 2)],
    }).Rules[0].RuleArn!;
    const weighted: Action = {
      ...forward(world.blue, 90, world.green, 10, 2),
      ForwardConfig: { ...forward(world.blue, 90, world.green, 10).ForwardConfig, TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 600 } },
    };

    const out = await client.send(new ModifyRuleCommand({ RuleArn: rule, Actions: [OIDC, weighted] }));

    expect(out.Rules![0].Actions).toEqual([OIDC, weighted]);
    expect(out.Rules![0].Conditions).toEqual([{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }]);
    expect(elb.weights(world.listener, rule)).toEqual({ [world.blue]: 90, [world.green]: 10 });
  });

  it('ModifyListener replaces the default actions, and the weight history records each change', async () => {
    clock = new Date(T0.getTime() + 60_000);
    await client.send(new ModifyListenerCommand({ ListenerArn: world.listener, DefaultActions: [forward(world.blue, 50, world.green, 50)] }));
    const { Rules } = await client.send(new DescribeRulesCommand({ ListenerArn: world.listener }));

    expect(Rules!.find((r) => r.IsDefault)!.Actions![0].ForwardConfig!.TargetGroups).toEqual([
      { TargetGroupArn: world.blue, Weight: 50 },
      { TargetGroupArn: world.green, Weight: 50 },
    ]);
    expect(elb.weightHistory(world.listener)).toEqual([
      { at: T0, ruleArn: Rules![2].RuleArn, weights: { [world.blue]: 100, [world.green]: 0 } },
      { at: clock, ruleArn: Rules![2].RuleArn, weights: { [world.blue]: 50, [world.green]: 50 } },
    ]);
  });

  it('refuses a weight outside 0..999 (TargetGroupTuple: "The range is 0 to 999") and changes nothing', async () => {
    const error = await client
      .send(new ModifyListenerCommand({ ListenerArn: world.listener, DefaultActions: [forward(world.blue, 1000, world.green, 0)] }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ElasticLoadBalancingV2ServiceException);
    expect(error).toMatchObject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    expect(elb.weights(world.listener)).toEqual({ [world.blue]: 100, [world.green]: 0 });
  });

  it('refuses a forward to a target group of another load balancer (TargetGroupAssociationLimitException)', async () => {
    const other = elb.createLoadBalancer({ Name: 'other', Subnets: ['subnet-a', 'subnet-b'] }).LoadBalancers[0].LoadBalancerArn!;
    const otherTg = elb.createTargetGroup({ Name: 'other-tg', Protocol: 'HTTP', Port: 80 }).TargetGroups[0].TargetGroupArn!;
    elb.createListener({ LoadBalancerArn: other, Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTg }] });

    await expect(
      client.send(new ModifyRuleCommand({ RuleArn: world.blueRule, Actions: [{ Type: 'forward', TargetGroupArn: otherTg }] })),
    ).rejects.toBeInstanceOf(TargetGroupAssociationLimitException);
  });

  it('names the missing resource with the SDK error class AWS uses for it', async () => {
    const missing = (kind: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:${kind}`;
    await expect(client.send(new DescribeRulesCommand({ RuleArns: [missing('listener-rule/app/x/1/2/3')] }))).rejects.toBeInstanceOf(
      RuleNotFoundException,
    );
    await expect(client.send(new DescribeRulesCommand({ ListenerArn: missing('listener/app/x/1/2') }))).rejects.toBeInstanceOf(
      ListenerNotFoundException,
    );
    await expect(client.send(new DescribeTargetHealthCommand({ TargetGroupArn: missing('targetgroup/x/1') }))).rejects.toBeInstanceOf(
      TargetGroupNotFoundException,
    );
    await expect(client.send(new DescribeLoadBalancersCommand({ Names: ['nope'] }))).rejects.toBeInstanceOf(LoadBalancerNotFoundException);
    await expect(
      client.send(
        new CreateRuleCommand({
          ListenerArn: world.listener,
          Priority: 10,
          Conditions: [{ Field: 'path-pattern', Values: ['/x'] }],
          Actions: [{ Type: 'forward', TargetGroupArn: world.blue }],
        }),
      ),
    ).rejects.toBeInstanceOf(PriorityInUseException);
    const defaultRule = elb.describeRules({ ListenerArn: world.listener }).Rules.find((r) => r.IsDefault)!.RuleArn;
    await expect(client.send(new DeleteRuleCommand({ RuleArn: defaultRule }))).rejects.toBeInstanceOf(OperationNotPermittedException);
  });

  it('refuses ModifyRule on the default rule (API reference, ModifyRule: "To modify the actions for the default rule, use ModifyListener")', async () => {
    const defaultRule = elb.describeRules({ ListenerArn: world.listener }).Rules.find((r) => r.IsDefault)!.RuleArn;
    await expect(
      client.send(new ModifyRuleCommand({ RuleArn: defaultRule, Actions: [forward(world.blue, 0, world.green, 100)] })),
    ).rejects.toBeInstanceOf(OperationNotPermittedException);
    expect(elb.weights(world.listener)).toEqual({ [world.blue]: 100, [world.green]: 0 });
  });

  it('throws only error codes of the SDK model (each exception\'s awsQueryError code) or AWS common errors', () => {
    // The static error schemas the client exports, e.g. RuleNotFoundException$ = [-3, ns, name, { awsQueryError: ['RuleNotFound', 400] }, ...].
    const modelled = Object.entries(sdk)
      .filter(([name]) => name.endsWith('Exception$'))
      .map(([, schema]) => ((schema as unknown[])[3] as { awsQueryError?: [string, number] }).awsQueryError?.[0]);
    // ValidationError: "Common Errors" of the Elastic Load Balancing API reference. Throttling: the
    // Query code ELB throttles with ("Rate exceeded"); the SDK retries it (@smithy/core retry
    // THROTTLING_ERROR_CODES includes "Throttling") and so does botocore.
    const common = ['ValidationError', 'Throttling'];
    for (const code of Object.values(ELBV2_ERRORS)) {
      expect([code, modelled.includes(code) || common.includes(code)]).toEqual([code, true]);
    }
  });

  it('retries a throttled call as the SDK does for the Query error code Throttling', async () => {
    elb.injectFailures('ModifyRule', [elbThrottling()]);
    const retrying = new ElasticLoadBalancingV2Client({ ...clientConfig(endpoint.url, 2), retryStrategy: undefined });
    const out = await retrying.send(new ModifyRuleCommand({ RuleArn: world.blueRule, Actions: [{ Type: 'forward', TargetGroupArn: world.blue }] }));
    retrying.destroy();
    expect(out.$metadata.attempts).toBe(2);
  });
});

describe('target health and draining (ALB user guide, "Health checks" and "Deregistration delay")', () => {
  it('a registered target is initial until it passes one health check, then healthy', async () => {
    await client.send(new RegisterTargetsCommand({ TargetGroupArn: world.green, Targets: [{ Id: '127.0.0.2', Port: 41001 }] }));
    expect(await health(world.green)).toEqual([
      { id: '127.0.0.2:41001', State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' },
    ]);
    expect(elb.routableTargets(world.green)).toEqual([]);

    await elb.checkHealthNow();

    expect(await health(world.green)).toEqual([{ id: '127.0.0.2:41001', State: 'healthy' }]);
    expect(elb.routableTargets(world.green)).toEqual([{ id: '127.0.0.2', port: 41001 }]);
  });

  it('goes unhealthy after UnhealthyThresholdCount failures and back after HealthyThresholdCount passes', async () => {
    elb.registerTargets({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.3', Port: 41002 }, { Id: '127.0.0.4', Port: 41003 }] });
    await elb.checkHealthNow();
    probeAnswers.set('127.0.0.3:41002', { healthy: false, reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [503]' });

    await elb.checkHealthNow();
    expect((await health(world.blue))[0].State).toBe('healthy'); // one failure of the 2 needed
    await elb.checkHealthNow();
    expect((await health(world.blue))[0]).toMatchObject({ State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' });
    expect(elb.routableTargets(world.blue)).toEqual([{ id: '127.0.0.4', port: 41003 }]);

    probeAnswers.delete('127.0.0.3:41002');
    for (let i = 0; i < 4; i++) await elb.checkHealthNow();
    expect((await health(world.blue))[0].State).toBe('unhealthy'); // 4 of the 5 passes needed
    await elb.checkHealthNow();
    expect((await health(world.blue))[0].State).toBe('healthy');
  });

  it('fails open: with only unhealthy targets, every unhealthy target takes requests', async () => {
    elb.registerTargets({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.5', Port: 41004 }] });
    probeAnswers.set('127.0.0.5:41004', { healthy: false, reason: 'Target.Timeout', description: 'Request timed out' });
    await elb.checkHealthNow();
    await elb.checkHealthNow();
    expect((await health(world.blue))[0].State).toBe('unhealthy');
    expect(elb.routableTargets(world.blue)).toEqual([{ id: '127.0.0.5', port: 41004 }]);
  });

  it('a deregistered target drains for deregistration_delay.timeout_seconds, takes no new requests, then leaves', async () => {
    elb.registerTargets({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.6', Port: 41005 }, { Id: '127.0.0.7', Port: 41006 }] });
    await elb.checkHealthNow();
    const gone = elb.whenDeregistered(world.blue, { id: '127.0.0.6', port: 41005 });

    await client.send(new DeregisterTargetsCommand({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.6', Port: 41005 }] }));

    expect((await health(world.blue))[0]).toEqual({
      id: '127.0.0.6:41005',
      State: 'draining',
      Reason: 'Target.DeregistrationInProgress',
      Description: 'Target deregistration is in progress',
    });
    expect(elb.routableTargets(world.blue)).toEqual([{ id: '127.0.0.7', port: 41006 }]);
    clock = new Date(T0.getTime() + 29_999);
    expect(await health(world.blue)).toHaveLength(2);
    clock = new Date(T0.getTime() + 30_000);
    expect((await health(world.blue)).map((t) => t.id)).toEqual(['127.0.0.7:41006']);
    await expect(gone).resolves.toBeUndefined();
  });

  it('takes the delay from the attribute (default 300 s, as AWS) and refuses an out-of-range value', async () => {
    const defaults = new LocalElbv2();
    const tg = defaults.createTargetGroup({ Name: 'aws-default', Protocol: 'HTTP', Port: 80 }).TargetGroups[0].TargetGroupArn!;
    expect(defaults.describeTargetGroupAttributes({ TargetGroupArn: tg }).Attributes).toContainEqual({
      Key: 'deregistration_delay.timeout_seconds',
      Value: '300',
    });

    await client.send(
      new ModifyTargetGroupAttributesCommand({ TargetGroupArn: world.blue, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }] }),
    );
    const { Attributes } = await client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: world.blue }));
    expect(Attributes).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '5' });
    await expect(
      client.send(
        new ModifyTargetGroupAttributesCommand({ TargetGroupArn: world.blue, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '3601' }] }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });

    elb.registerTargets({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.8', Port: 41007 }] });
    elb.deregisterTargets({ TargetGroupArn: world.blue, Targets: [{ Id: '127.0.0.8', Port: 41007 }] });
    clock = new Date(T0.getTime() + 5_000);
    expect(await health(world.blue)).toEqual([]);
  });

  it('reports unused targets: Target.NotInUse when no load balancer uses the group, Target.NotRegistered when asked for one not registered', async () => {
    const idle = elb.createTargetGroup({ Name: 'idle', Protocol: 'HTTP', Port: 80, TargetType: 'ip' }).TargetGroups[0].TargetGroupArn!;
    elb.registerTargets({ TargetGroupArn: idle, Targets: [{ Id: '10.0.0.1' }] });
    await elb.checkHealthNow();
    expect(await health(idle)).toEqual([expect.objectContaining({ id: '10.0.0.1:80', State: 'unused', Reason: 'Target.NotInUse' })]);

    const asked = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: world.blue, Targets: [{ Id: '10.9.9.9', Port: 80 }] }));
    expect(asked.TargetHealthDescriptions![0].TargetHealth).toMatchObject({ State: 'unused', Reason: 'Target.NotRegistered' });
  });

  it('refuses to deregister a target that is not registered (InvalidTargetException)', async () => {
    await expect(
      client.send(new DeregisterTargetsCommand({ TargetGroupArn: world.blue, Targets: [{ Id: '10.9.9.9', Port: 80 }] })),
    ).rejects.toBeInstanceOf(InvalidTargetException);
  });

  it('runs health checks on its own at the configured interval once started', async () => {
    const fast = new LocalElbv2({ healthCheckIntervalMs: 20, healthProbe: async () => ({ healthy: true }) });
    const w = seedColorapp(fast);
    fast.registerTargets({ TargetGroupArn: w.blue, Targets: [{ Id: '127.0.0.9', Port: 41008 }] });
    fast.startHealthChecks();
    try {
      await waitFor(() => fast.routableTargets(w.blue).length === 1);
    } finally {
      fast.stopHealthChecks();
    }
  });
});

describe('the default health probe (a real HTTP GET, as the load balancer node sends)', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/healthcheck' ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const check = (path: string, matcher = '200') =>
    httpHealthProbe({ targetGroupArn: 'tg', id: '127.0.0.1', port, protocol: 'HTTP', path, timeoutMs: 1000, matcher });

  it('passes on a matching status and reports Target.ResponseCodeMismatch with the code otherwise', async () => {
    await expect(check('/healthcheck')).resolves.toEqual({ healthy: true });
    await expect(check('/other')).resolves.toEqual({
      healthy: false,
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [503]',
    });
    await expect(check('/other', '500-599')).resolves.toEqual({ healthy: true });
  });

  it('reports Target.FailedHealthChecks when nothing listens', async () => {
    const closed = await httpHealthProbe({ targetGroupArn: 'tg', id: '127.0.0.1', port: 1, protocol: 'HTTP', path: '/', timeoutMs: 500, matcher: '200' });
    expect(closed).toMatchObject({ healthy: false, reason: 'Target.FailedHealthChecks' });
  });
});

describe('routing for the gateway (ALB user guide, "Listener rules" and "Condition types")', () => {
  it('sends a request with the test header to that colour whatever the weights', () => {
    const decision = elb.route(world.listener, { path: '/color', headers: { 'X-Release-Color': 'GREEN' } });
    expect(decision).toEqual({ kind: 'forward', ruleArn: world.greenRule, targetGroupArn: world.green });
  });

  it('falls through to the default rule and picks target groups by weight', () => {
    elb.modifyListener({ ListenerArn: world.listener, DefaultActions: [forward(world.blue, 90, world.green, 10)] });
    const pick = (r: number) => elb.route(world.listener, { path: '/', headers: {} }, () => r);
    expect(pick(0)).toMatchObject({ kind: 'forward', targetGroupArn: world.blue });
    expect(pick(0.899)).toMatchObject({ kind: 'forward', targetGroupArn: world.blue });
    expect(pick(0.9)).toMatchObject({ kind: 'forward', targetGroupArn: world.green });
    expect(pick(0.999)).toMatchObject({ kind: 'forward', targetGroupArn: world.green });
  });

  it('matches path patterns case-sensitively and host headers case-insensitively, and answers fixed responses', () => {
    elb.createRule({
      ListenerArn: world.listener,
      Priority: 1,
      Conditions: [
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/admin/*'] } },
        { Field: 'host-header', HostHeaderConfig: { Values: ['*.example.com'] } },
      ],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'no' } }],
    });
    expect(elb.route(world.listener, { path: '/admin/users', headers: { host: 'App.Example.com:80' } })).toMatchObject({
      kind: 'fixed-response',
      statusCode: 403,
      messageBody: 'no',
    });
    expect(elb.route(world.listener, { path: '/Admin/users', headers: { host: 'app.example.com' } })).toMatchObject({ kind: 'forward' });
  });

  it('passes authentication actions (no identity provider on loopback) and lets the last action decide, by Order', () => {
    const rule = elb.createRule({
      ListenerArn: world.listener,
      Priority: 2,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/secure*'] } }],
      // Listed out of order on purpose: Order, not list position, decides.
      Actions: [forward(world.blue, 0, world.green, 1, 2), OIDC],
    }).Rules[0].RuleArn!;
    expect(elb.route(world.listener, { path: '/secure/area', headers: {} })).toEqual({ kind: 'forward', ruleArn: rule, targetGroupArn: world.green });
  });

  it('has nothing to forward to when every weight is 0', () => {
    elb.modifyListener({ ListenerArn: world.listener, DefaultActions: [forward(world.blue, 0, world.green, 0)] });
    expect(elb.route(world.listener, { path: '/', headers: {} })).toMatchObject({ kind: 'no-target' });
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
