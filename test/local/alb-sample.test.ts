// The ALB sample the local world builds from the config's traffic section: the same resources
// ColorappServiceStack creates in AWS (infra/stacks/colorapp-service-stack.ts), under the ARNs
// the config names, whether the weighted forward is the listener's default action or a rule.
import { randomBytes } from 'node:crypto';
import { AlbTrafficSchema } from '../../lambdas/shared/config';
import { COLORAPP } from '../../infra/colorapp-settings';
import { localAlbTrafficOf, seedAlb } from '../../local/alb-sample';
import { LocalElbv2 } from '../../local/services/elbv2';

const SCOPE = { region: 'eu-west-1', account: '000000000000' };

function build(weighted: 'listener-default' | 'rule') {
  const traffic = localAlbTrafficOf(COLORAPP.alb, SCOPE, weighted);
  const nextIds: string[] = [];
  const elbv2 = new LocalElbv2({ ...SCOPE, accountId: SCOPE.account, newId: () => nextIds.shift() ?? randomBytes(8).toString('hex') });
  seedAlb(elbv2, traffic, SCOPE, { testHeader: 'x-release-color', deregistrationDelaySeconds: 2, nextIds });
  return { traffic, elbv2 };
}

describe('the local ALB sample', () => {
  it("is a valid traffic section of the handlers' schema, in both variants", () => {
    expect(() => AlbTrafficSchema.parse(localAlbTrafficOf(COLORAPP.alb, SCOPE))).not.toThrow();
    expect(() => AlbTrafficSchema.parse(localAlbTrafficOf(COLORAPP.alb, SCOPE, 'rule'))).not.toThrow();
  });

  it('creates the load balancer, listener and target groups under the ARNs the config names', () => {
    const { traffic, elbv2 } = build('listener-default');
    const [lb] = elbv2.describeLoadBalancers({ Names: ['colorapp'] }).LoadBalancers;
    expect(traffic.listenerArn.startsWith(lb.LoadBalancerArn!.replace(':loadbalancer/', ':listener/'))).toBe(true);
    expect(elbv2.describeListeners({ ListenerArns: [traffic.listenerArn] }).Listeners[0]).toMatchObject({ Port: 80, Protocol: 'HTTP' });
    const groups = elbv2.describeTargetGroups({ TargetGroupArns: [traffic.targetGroups.blue, traffic.targetGroups.green] }).TargetGroups;
    expect(groups.map((g) => g.TargetGroupName)).toEqual(['colorapp-blue', 'colorapp-green']);
    // The sample's target groups: Fargate tasks by IP on 8080, colorapp's health check path.
    for (const group of groups) {
      expect(group).toMatchObject({ TargetType: 'ip', Port: 8080, Protocol: 'HTTP', HealthCheckPath: '/healthcheck', HealthyThresholdCount: 2 });
      expect(elbv2.describeTargetGroupAttributes({ TargetGroupArn: group.TargetGroupArn }).Attributes).toContainEqual({
        Key: 'deregistration_delay.timeout_seconds',
        Value: '2',
      });
    }
  });

  it('forwards blue 100 / green 0 from the default action, after the header rules 1 (blue) and 2 (green)', () => {
    const { traffic, elbv2 } = build('listener-default');
    expect(elbv2.weights(traffic.listenerArn)).toEqual({ [traffic.targetGroups.blue]: 100, [traffic.targetGroups.green]: 0 });
    const rules = elbv2.describeRules({ ListenerArn: traffic.listenerArn }).Rules;
    expect(rules.map((r) => [r.RuleArn, r.Priority])).toEqual([
      [traffic.testRules!.blue, '1'],
      [traffic.testRules!.green, '2'],
      [expect.any(String), 'default'],
    ]);
    expect(elbv2.route(traffic.listenerArn, { path: '/', headers: { 'x-release-color': 'green' } })).toMatchObject({
      kind: 'forward',
      targetGroupArn: traffic.targetGroups.green,
    });
    expect(elbv2.route(traffic.listenerArn, { path: '/', headers: {} }, () => 0.99)).toMatchObject({ targetGroupArn: traffic.targetGroups.blue });
  });

  it('puts the weighted forward on the rule the config names when it names one', () => {
    const { traffic, elbv2 } = build('rule');
    expect(traffic.rule).not.toBe('listener-default');
    expect(elbv2.weights(traffic.listenerArn, traffic.rule)).toEqual({ [traffic.targetGroups.blue]: 100, [traffic.targetGroups.green]: 0 });
    expect(elbv2.weights(traffic.listenerArn)).toEqual({}); // the default action is a fixed response
    expect(elbv2.route(traffic.listenerArn, { path: '/color', headers: {} }, () => 0.5)).toMatchObject({
      kind: 'forward',
      ruleArn: traffic.rule,
      targetGroupArn: traffic.targetGroups.blue,
    });
  });

  it("refuses ARNs of another region or account, naming the world's", () => {
    const traffic = localAlbTrafficOf(COLORAPP.alb, { region: 'us-east-1', account: '111122223333' });
    expect(() => seedAlb(new LocalElbv2(), traffic, SCOPE, { testHeader: 'x-release-color', deregistrationDelaySeconds: 2, nextIds: [] })).toThrow(
      /us-east-1\/111122223333 but the local world runs in eu-west-1\/000000000000/,
    );
  });
});
