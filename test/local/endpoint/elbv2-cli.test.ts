import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalElbv2 } from '../../../local/services/elbv2';
import { aws, type CliResult } from './harness';

// `aws elbv2` (botocore's Query serializer and XML parser) against the local endpoint: the
// commands a user tries first while `npm run local` is up, and the XML error a mistake gets.

let endpoint: LocalEndpoint;
const elb = new LocalElbv2({ defaultDeregistrationDelaySeconds: 60, healthProbe: async () => ({ healthy: true }) });
let lbArn: string;
let listenerArn: string;
let blue: string;
let green: string;
let headerRule: string;

beforeAll(async () => {
  lbArn = elb.createLoadBalancer({ Name: 'colorapp', Subnets: ['subnet-a', 'subnet-b'] }).LoadBalancers[0].LoadBalancerArn!;
  blue = elb.createTargetGroup({ Name: 'colorapp-blue', Protocol: 'HTTP', Port: 8080, TargetType: 'ip' }).TargetGroups[0].TargetGroupArn!;
  green = elb.createTargetGroup({ Name: 'colorapp-green', Protocol: 'HTTP', Port: 8080, TargetType: 'ip' }).TargetGroups[0].TargetGroupArn!;
  listenerArn = elb.createListener({
    LoadBalancerArn: lbArn,
    Protocol: 'HTTP',
    Port: 80,
    DefaultActions: [
      {
        Type: 'forward',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: blue, Weight: 100 },
            { TargetGroupArn: green, Weight: 0 },
          ],
        },
      },
    ],
  }).Listeners[0].ListenerArn!;
  headerRule = elb.createRule({
    ListenerArn: listenerArn,
    Priority: 20,
    Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-release-color', Values: ['green'] } }],
    Actions: [{ Type: 'forward', TargetGroupArn: green }],
  }).Rules[0].RuleArn!;
  elb.registerTargets({ TargetGroupArn: blue, Targets: [{ Id: '127.0.0.1', Port: 41001 }] });
  await elb.checkHealthNow();
  endpoint = await startLocalEndpoint({ jsonServices: [], queryServices: [elb] });
});

afterAll(() => endpoint.close());

/** The JSON the CLI printed (nothing for an empty result); fails with what it said when it did not succeed. */
function output(result: CliResult): Record<string, unknown> {
  if (result.code !== 0) throw new Error(`aws exited ${result.code}: ${result.stderr}`);
  return result.stdout.trim() === '' ? {} : (JSON.parse(result.stdout) as Record<string, unknown>);
}

describe('aws elbv2 against the local endpoint', () => {
  it('describes load balancers, listeners, rules and target health', async () => {
    const [lbs, listeners, rules, targetHealth, groups] = await Promise.all([
      aws(endpoint.url, ['elbv2', 'describe-load-balancers']),
      aws(endpoint.url, ['elbv2', 'describe-listeners', '--load-balancer-arn', lbArn]),
      aws(endpoint.url, ['elbv2', 'describe-rules', '--listener-arn', listenerArn]),
      aws(endpoint.url, ['elbv2', 'describe-target-health', '--target-group-arn', blue]),
      // With --page-size the CLI makes one call and prints NextMarker (PageSize is the paginator's limit_key).
      aws(endpoint.url, ['elbv2', 'describe-target-groups', '--page-size', '1']),
    ]);

    expect(output(lbs)).toMatchObject({ LoadBalancers: [{ LoadBalancerArn: lbArn, LoadBalancerName: 'colorapp', State: { Code: 'active' } }] });
    expect(output(listeners)).toMatchObject({
      Listeners: [{ ListenerArn: listenerArn, Port: 80, DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ Weight: 100 }, { Weight: 0 }] } }] }],
    });
    expect((output(rules).Rules as { Priority: string; IsDefault: boolean }[]).map((r) => [r.Priority, r.IsDefault])).toEqual([
      ['20', false],
      ['default', true],
    ]);
    expect(output(targetHealth)).toEqual({
      TargetHealthDescriptions: [{ Target: { Id: '127.0.0.1', Port: 41001 }, HealthCheckPort: '41001', TargetHealth: { State: 'healthy' } }],
    });
    const firstPage = output(groups) as { TargetGroups: { TargetGroupName: string }[]; NextMarker: string };
    expect(firstPage.TargetGroups.map((g) => g.TargetGroupName)).toEqual(['colorapp-blue']);
    const secondPage = output(
      await aws(endpoint.url, ['elbv2', 'describe-target-groups', '--page-size', '1', '--marker', firstPage.NextMarker]),
    ) as { TargetGroups: { TargetGroupName: string }[]; NextMarker?: string };
    expect(secondPage.TargetGroups.map((g) => g.TargetGroupName)).toEqual(['colorapp-green']);
    expect(secondPage.NextMarker).toBeUndefined();
  });

  it('modify-rule sets a weighted forward as typed by hand', async () => {
    const actions = JSON.stringify([
      {
        Type: 'forward',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: blue, Weight: 80 },
            { TargetGroupArn: green, Weight: 20 },
          ],
          TargetGroupStickinessConfig: { Enabled: false },
        },
      },
    ]);
    const modified = await aws(endpoint.url, ['elbv2', 'modify-rule', '--rule-arn', headerRule, '--actions', actions]);
    expect(output(modified)).toMatchObject({ Rules: [{ RuleArn: headerRule, Conditions: [{ Field: 'http-header' }] }] });
    expect(elb.weights(listenerArn, headerRule)).toEqual({ [blue]: 80, [green]: 20 });
  });

  it('register-targets then deregister-targets leaves the target draining', async () => {
    const target = 'Id=127.0.0.1,Port=41002';
    output(await aws(endpoint.url, ['elbv2', 'register-targets', '--target-group-arn', green, '--targets', target]));
    const registered = output(await aws(endpoint.url, ['elbv2', 'describe-target-health', '--target-group-arn', green]));
    expect(registered).toMatchObject({ TargetHealthDescriptions: [{ TargetHealth: { State: 'initial', Reason: 'Elb.RegistrationInProgress' } }] });

    output(await aws(endpoint.url, ['elbv2', 'deregister-targets', '--target-group-arn', green, '--targets', target]));
    const draining = output(await aws(endpoint.url, ['elbv2', 'describe-target-health', '--target-group-arn', green]));
    expect(draining).toMatchObject({
      TargetHealthDescriptions: [{ TargetHealth: { State: 'draining', Reason: 'Target.DeregistrationInProgress' } }],
    });
  });

  it('answers the other commands a user tries: target group attributes, tags, create-rule in shorthand', async () => {
    const [attributes, tags, created] = await Promise.all([
      aws(endpoint.url, ['elbv2', 'describe-target-group-attributes', '--target-group-arn', blue]),
      aws(endpoint.url, ['elbv2', 'describe-tags', '--resource-arns', lbArn, blue]),
      aws(endpoint.url, [
        'elbv2', 'create-rule', '--listener-arn', listenerArn, '--priority', '30',
        '--conditions', 'Field=path-pattern,PathPatternConfig={Values=[/blue/*]}',
        '--actions', `Type=forward,TargetGroupArn=${blue}`,
      ]),
    ]);
    expect(output(attributes).Attributes).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '60' });
    expect(output(tags)).toEqual({ TagDescriptions: [{ ResourceArn: lbArn, Tags: [] }, { ResourceArn: blue, Tags: [] }] });
    expect(output(created)).toMatchObject({
      Rules: [{ Priority: '30', IsDefault: false, Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/blue/*'] } }] }],
    });
    expect(elb.route(listenerArn, { path: '/blue/x', headers: {} })).toMatchObject({ kind: 'forward', targetGroupArn: blue });
  });

  it('exits non-zero naming the error code from the XML error (RuleNotFound, ValidationError)', async () => {
    const [badRule, badWeight] = await Promise.all([
      aws(endpoint.url, ['elbv2', 'describe-rules', '--rule-arns', `${headerRule.slice(0, -16)}0000000000000000`]),
      aws(endpoint.url, [
        'elbv2', 'modify-listener', '--listener-arn', listenerArn, '--default-actions',
        JSON.stringify([{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: blue, Weight: 1000 }] } }]),
      ]),
    ]);
    expect(badRule.code).not.toBe(0);
    expect(badRule.stderr).toMatch(/An error occurred \(RuleNotFound\) when calling the DescribeRules operation/);
    expect(badWeight.code).not.toBe(0);
    // botocore adds "(reached max retries: 0)" to every error once its single attempt is used.
    expect(badWeight.stderr).toMatch(/\(ValidationError\) when calling the ModifyListener operation.*: Weight must be an integer from 0 to 999/);
  });
});
