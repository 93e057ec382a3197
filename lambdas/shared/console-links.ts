/**
 * Links into the AWS console that releases print: the service's release dashboard and a release's
 * Step Functions execution. Pure: the CDK app names the dashboard with {@link dashboardNameOf},
 * and the CLI and the handlers build the same links from the service name and the region alone,
 * without asking CloudFormation.
 */

/** Characters a CloudWatch dashboard name may not contain (it allows `A-Za-z0-9`, `-` and `_`). */
const NOT_IN_DASHBOARD_NAME = /[^A-Za-z0-9_-]/g;

/**
 * The release dashboard's name: `ecs-release-<service>`, with any character a dashboard name may
 * not hold (a service name may hold `.`) replaced by `_`.
 *
 * @example
 * dashboardNameOf('colorapp'); // 'ecs-release-colorapp'
 */
export function dashboardNameOf(service: string): string {
  return `ecs-release-${service}`.replace(NOT_IN_DASHBOARD_NAME, '_');
}

/**
 * The console URL of a service's release dashboard in `region`.
 *
 * @example
 * dashboardUrlOf('eu-west-1', 'colorapp');
 * // 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/ecs-release-colorapp'
 */
export function dashboardUrlOf(region: string, service: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${dashboardNameOf(service)}`;
}

/**
 * The console URL of a Step Functions execution (a release) in `region`.
 *
 * @example
 * executionUrlOf('eu-west-1', 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release-colorapp:rel-1');
 */
export function executionUrlOf(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The region an ARN names (its fourth field), or `undefined` when it is not an ARN. */
export function regionOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts.length >= 6 && parts[0] === 'arn' && parts[3] ? parts[3] : undefined;
}
