import { meshIdentityRewrite, type TrafficConfig } from '../../../lambdas/shared/config';
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
    const config = { kind: 'alb', listenerArn: 'arn:aws:elasticloadbalancing:x' } as unknown as TrafficConfig;

    expect(() => meshIdentityRewrite(config, { live: 'blue', idle: 'green' })).toThrow(ValidationError);
    expect(() => meshIdentityRewrite(config, { live: 'blue', idle: 'green' })).toThrow(/Unknown traffic kind 'alb'/);
  });
});
