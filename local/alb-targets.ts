/**
 * ECS's side of a service attached to a target group (`loadBalancers` of the CDK's
 * `attachToApplicationTargetGroup`), over the local ELBv2: each colour's tasks are targets of
 * that colour's target group, registered by IP address and port (target type `ip`, as Fargate
 * tasks in awsvpc mode are), and on stop deregistered and waited for until their draining ends.
 */
import { COLOURS, type Colour } from '../lambdas/shared/colours';
import type { TaskEndpoint } from './contracts';
import type { LocalElbv2 } from './services/elbv2';
import type { TaskTargetRegistry } from './services/ecs';

/**
 * The {@link TaskTargetRegistry} of the colour services: `services[colour]`'s tasks go to
 * `targetGroups[colour]`; any other service is behind no load balancer.
 *
 * @example
 * new LocalEcs({ ..., targets: colourTaskTargets(elbv2, config.ecsServices, config.traffic.targetGroups) });
 */
export function colourTaskTargets(
  elbv2: LocalElbv2,
  services: Readonly<Record<Colour, string>>,
  targetGroups: Readonly<Record<Colour, string>>,
): TaskTargetRegistry {
  return serviceTaskTargets(elbv2, new Map(COLOURS.map((colour) => [services[colour], targetGroups[colour]])));
}

/**
 * The {@link TaskTargetRegistry} of several services in one cluster (the fleet sample): each ECS
 * service's tasks go to the target group `groups` maps it to; any other service is behind no load
 * balancer. One registry, because ECS has one cluster for all of them.
 *
 * @example
 * new LocalEcs({ ..., targets: serviceTaskTargets(elbv2, new Map([['colorapp-blue', blueTg], ['colorapp-2-blue', blueTg2]])) });
 */
export function serviceTaskTargets(elbv2: LocalElbv2, groups: ReadonlyMap<string, string>): TaskTargetRegistry {
  const groupOf = (serviceName: string): string | undefined => groups.get(serviceName);
  const target = (endpoint: TaskEndpoint) => ({ Id: endpoint.host, Port: endpoint.port });
  return {
    register(serviceName, endpoint) {
      const group = groupOf(serviceName);
      if (group !== undefined) elbv2.registerTargets({ TargetGroupArn: group, Targets: [target(endpoint)] });
    },
    isHealthy(serviceName, endpoint) {
      const group = groupOf(serviceName);
      if (group === undefined) return true;
      const [description] = elbv2.describeTargetHealth({ TargetGroupArn: group, Targets: [target(endpoint)] }).TargetHealthDescriptions;
      return description?.TargetHealth?.State === 'healthy';
    },
    async deregister(serviceName, endpoint) {
      const group = groupOf(serviceName);
      if (group === undefined) return;
      const [description] = elbv2.describeTargetHealth({ TargetGroupArn: group, Targets: [target(endpoint)] }).TargetHealthDescriptions;
      // Already gone (or draining from an earlier call): nothing to deregister, maybe a drain to wait for.
      const health = description?.TargetHealth;
      if (health?.Reason !== 'Target.NotRegistered' && health?.State !== 'draining') {
        elbv2.deregisterTargets({ TargetGroupArn: group, Targets: [target(endpoint)] });
      }
      await elbv2.whenDeregistered(group, { id: endpoint.host, port: endpoint.port });
    },
  };
}
