import {
  AlbTrafficSchema,
  LISTENER_DEFAULT_ACTION,
  ServiceConfigSchema,
  meshIdentityRewrite,
  metricSourceOf,
  type TrafficConfig,
} from '../../../lambdas/shared/config';
import { ValidationError } from '../../../lambdas/shared/errors';
import { serviceConfig } from '../../support/ecs-fixtures';

describe('meshIdentityRewrite', () => {
  const traffic = serviceConfig().traffic;

  it.each([
    { live: 'blue', idle: 'green', expected: { from: 'colorapp-blue', to: 'colorapp-green' } },
    { live: 'green', idle: 'blue', expected: { from: 'colorapp-green', to: 'colorapp-blue' } },
  ] as const)('renames App Mesh $live virtual node to $idle one', ({ live, idle, expected }) => {
    expect(meshIdentityRewrite(traffic, { live, idle })).toStrictEqual(expected);
  });

  it('fails fast with a ValidationError naming an unknown kind', () => {
    const config = { kind: 'nlb', listenerArn: 'arn:aws:elasticloadbalancing:x' } as unknown as TrafficConfig;

    expect(() => meshIdentityRewrite(config, { live: 'blue', idle: 'green' })).toThrow(ValidationError);
    expect(() => meshIdentityRewrite(config, { live: 'blue', idle: 'green' })).toThrow(/Unknown traffic kind 'nlb'/);
  });

  it('renames nothing for ALB traffic: a target group is not named inside the task definition', () => {
    expect(meshIdentityRewrite(ALB_TRAFFIC, { live: 'blue', idle: 'green' })).toBeUndefined();
  });
});

const LISTENER = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2';
const RULE = (id: string) =>
  `arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/${id}`;
const TG = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/73e2d6bc24d8a067`;
const ALB_TRAFFIC = {
  kind: 'alb',
  listenerArn: LISTENER,
  rule: RULE('9683b2d02a6cabee'),
  targetGroups: { blue: TG('colorapp-blue'), green: TG('colorapp-green') },
  testRules: { blue: RULE('0000000000000001'), green: RULE('0000000000000002') },
} as const;

describe('ALB traffic configuration', () => {
  it('accepts a rule of the listener, or its default action', () => {
    expect(AlbTrafficSchema.parse(ALB_TRAFFIC)).toStrictEqual(ALB_TRAFFIC);
    expect(AlbTrafficSchema.parse({ ...ALB_TRAFFIC, rule: LISTENER_DEFAULT_ACTION }).rule).toBe('listener-default');
  });

  it.each([
    ['a rule of another listener', { rule: RULE('x').replace('f2f7dc8efc522ab2', 'ffffffffffffffff') }, /not a rule of listener/],
    ['the same target group for both colours', { targetGroups: { blue: TG('a'), green: TG('a') } }, /different target groups/],
    ['a network load balancer listener', { listenerArn: LISTENER.replace('/app/', '/net/') }, /Application Load Balancer listener ARN/],
    ['a test rule equal to the weighted rule', { testRules: { blue: RULE('9683b2d02a6cabee'), green: RULE('2') } }, /must differ/],
    ['a target group that is not an ARN', { targetGroups: { blue: 'colorapp-blue', green: TG('g') } }, /target group ARN/],
  ])('refuses %s', (_what, change, message) => {
    const result = AlbTrafficSchema.safeParse({ ...ALB_TRAFFIC, ...change });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(message);
  });
});

describe('metricSourceOf', () => {
  const appMesh = serviceConfig();

  it('defaults to the load balancer for ALB traffic and to Envoy for App Mesh', () => {
    expect(metricSourceOf({ ...appMesh, traffic: ALB_TRAFFIC })).toBe('load-balancer');
    expect(metricSourceOf(appMesh)).toBe('envoy');
  });

  it('keeps a configured source', () => {
    expect(metricSourceOf({ ...appMesh, health: { ...appMesh.health, metricSource: 'application' } })).toBe('application');
  });

  it.each([
    ['load-balancer', 'appmesh', appMesh.traffic],
    ['envoy', 'alb', ALB_TRAFFIC],
  ] as const)('refuses metricSource %s with %s traffic', (metricSource, _kind, traffic) => {
    const result = ServiceConfigSchema.safeParse({ ...appMesh, traffic, health: { ...appMesh.health, metricSource } });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(/needs traffic.kind/);
  });
});
