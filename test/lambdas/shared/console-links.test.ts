import { dashboardNameOf, dashboardUrlOf, executionUrlOf, regionOfArn } from '../../../lambdas/shared/console-links';

describe('console links', () => {
  it.each([
    ['colorapp', 'ecs-release-colorapp'],
    ['orders.v2', 'ecs-release-orders_v2'],
    ['a_b-c', 'ecs-release-a_b-c'],
  ])('names the dashboard of %s %s (CloudWatch allows A-Za-z0-9, - and _ in dashboard names)', (service, name) => {
    expect(dashboardNameOf(service)).toBe(name);
  });

  it('links to the dashboard in the console of the region', () => {
    expect(dashboardUrlOf('eu-west-1', 'colorapp')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/ecs-release-colorapp',
    );
  });

  it('links to an execution in the Step Functions console', () => {
    const arn = 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release-colorapp:rel-1';
    expect(executionUrlOf('eu-west-1', arn)).toBe(`https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`);
  });

  it('reads the region of an ARN, and nothing from what is not one', () => {
    expect(regionOfArn('arn:aws:states:eu-west-1:111122223333:execution:m:e')).toBe('eu-west-1');
    expect(regionOfArn('not-an-arn')).toBeUndefined();
  });
});
