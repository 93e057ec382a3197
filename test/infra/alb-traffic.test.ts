import { Fn } from 'aws-cdk-lib';
import { albTrafficProblemsAtSynth, type AlbTrafficConfig } from '../../infra/constructs/alb-traffic';

/**
 * The synth-time check of an ALB traffic section: the handlers' schema (AlbTrafficSchema) on
 * what synth time knows, each CloudFormation token standing in as a placeholder ARN.
 */
const ARN = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333';
const listener = (id: string) => `${ARN}:listener/app/colorapp/50dc6c495c0c9188/${id}`;
const rule = (listenerId: string, id: string) => `${ARN}:listener-rule/app/colorapp/50dc6c495c0c9188/${listenerId}/${id}`;
const targetGroup = (name: string) => `${ARN}:targetgroup/${name}/73e2d6bc24d8a067`;
const token = (name: string) => Fn.importValue(name);
/** One deploy-time value used twice: the same token string both times. */
const sharedTargetGroup = token('SharedTargetGroup');
const sharedRule = token('SharedRule');

function traffic(overrides: Partial<AlbTrafficConfig>): AlbTrafficConfig {
  return {
    kind: 'alb',
    listenerArn: listener('l1'),
    rule: 'listener-default',
    targetGroups: { blue: targetGroup('blue'), green: targetGroup('green') },
    ...overrides,
  };
}

describe('albTrafficProblemsAtSynth', () => {
  it.each<[string, Partial<AlbTrafficConfig>]>([
    ['all literal, default action', {}],
    ['all literal, a rule and test rules of the listener', { rule: rule('l1', 'r1'), testRules: { blue: rule('l1', 'r2'), green: rule('l1', 'r3') } }],
    ['every ARN a distinct token', { listenerArn: token('L'), rule: token('R'), targetGroups: { blue: token('B'), green: token('G') }, testRules: { blue: token('TB'), green: token('TG') } }],
    ['a token listener with a literal rule (the listener is the rule\'s)', { listenerArn: token('L'), rule: rule('l9', 'r1') }],
    ['a literal listener with token rules', { rule: token('R'), testRules: { blue: token('TB'), green: token('TG') } }],
  ])('accepts %s', (_name, overrides) => {
    expect(albTrafficProblemsAtSynth(traffic(overrides))).toEqual([]);
  });

  it.each<[string, Partial<AlbTrafficConfig>, RegExp]>([
    ['a literal rule of another listener', { rule: rule('l2', 'r1') }, /^rule: rule .*\/l2\/r1 is not a rule of listener .*\/l1$/],
    ['the same token for both target groups', { targetGroups: { blue: sharedTargetGroup, green: sharedTargetGroup } }, /^targetGroups: blue and green must use different target groups$/],
    ['the same token for a test rule and the weighted rule', { rule: sharedRule, testRules: { blue: sharedRule, green: token('TG') } }, /^testRules: the test rules must differ/],
    ['a malformed literal target group ARN', { targetGroups: { blue: 'colorapp-blue', green: targetGroup('green') } }, /^targetGroups\.blue: must be a target group ARN$/],
  ])('refuses %s', (_name, overrides, message) => {
    expect(albTrafficProblemsAtSynth(traffic(overrides))).toEqual([expect.stringMatching(message)]);
  });

  it('names a deploy-time listener as such, not by its placeholder, when literal rules name two listeners', () => {
    const problems = albTrafficProblemsAtSynth(traffic({ listenerArn: token('L'), rule: rule('l1', 'r1'), testRules: { blue: rule('l2', 'r2'), green: rule('l1', 'r3') } }));
    expect(problems).toEqual([`testRules.blue: rule ${rule('l2', 'r2')} is not a rule of listener <listener ARN known at deploy time>`]);
  });
});
