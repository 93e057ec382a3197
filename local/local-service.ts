/**
 * One service of the local world, registered with its one release engine as the CDK app's
 * `ReleasedService` registers it: its config document, registry entry, initial release state,
 * colour alarms, template task definitions and ECS services, and its own way in (a listener of
 * the load balancer, or the mesh's gateway). The fleet sample (`cdk synth -c services=N`) has N
 * of them behind one load balancer; each one's traffic, alarms, targets, lock and state are its
 * own.
 */
import type { ServiceConfig } from '../lambdas/shared/config';
import { parameterNames } from '../lambdas/shared/documents';
import { registryEntryOf } from '../lambdas/shared/registry';
import { versionOf } from '../lambdas/shared/release';
import { seedState } from '../lambdas/shared/release-state';
import { templateFamilyOf } from '../lambdas/shared/task-definition';
import { COLOURS, type Colour } from '../lambdas/shared/colours';
import type { AlbTraffic } from './alb-sample';
import type { AlarmDefinition } from './contracts';
import { startAlbGateway } from './gateway/alb-gateway';
import { startGateway, type Gateway } from './gateway/gateway';
import type { LocalAppMesh } from './services/appmesh';
import type { LocalCloudWatch } from './services/cloudwatch';
import type { LocalEcs } from './services/ecs';
import type { LocalElbv2 } from './services/elbv2';
import type { LocalSsm } from './services/ssm';

/** One change of the weighted forward (ALB) or route (App Mesh), by colour. */
export interface WeightChange {
  readonly at: Date;
  readonly weights: { readonly blue: number; readonly green: number };
}

/** What a service of the world is built from. */
export interface LocalServiceOptions {
  /** The service configuration, from the same source the CDK app writes to SSM. */
  readonly config: ServiceConfig;
  /** The service's release alarms, defined as the CDK app defines them. */
  readonly alarms: readonly AlarmDefinition[];
  /** Port of its gateway on 127.0.0.1 (its listener, locally). @default 0 (any free port) */
  readonly gatewayPort?: number;
  /**
   * Port of its listener on the local load balancer (ALB): colorapp's is 80, copy `k` of the
   * fleet sample listens on 8000 + k (`ColorappCopyStack`).
   * @default 80
   */
  readonly listenerPort?: number;
}

/** A running service of the local world. */
export interface LocalService {
  readonly config: ServiceConfig;
  readonly alarms: readonly AlarmDefinition[];
  /** Where its clients send requests: its listener (ALB) or the mesh's gateway (App Mesh). */
  readonly gateway: Gateway;
  /** Current weights by colour (its weighted forward, or its route). */
  weights(): { blue: number; green: number };
  /** Every weight its weighted forward (or route) has had, oldest first, from its creation. */
  weightHistory(): WeightChange[];
}

/** The world's AWS services a service is deployed into. */
export interface LocalServiceScope {
  readonly ssm: LocalSsm;
  readonly ecs: LocalEcs;
  readonly elbv2: LocalElbv2;
  readonly appMesh: LocalAppMesh;
  readonly cloudWatch: LocalCloudWatch;
  /** The engine's registry name. */
  readonly engine: string;
  /** The engine's release state machine. */
  readonly stateMachineArn: string;
  /** The image both colours start on. */
  readonly liveImage: string;
  /** Tasks of the live colour. */
  readonly liveTasks: number;
}

/**
 * Creates what `cdk deploy` creates for one registered service once its traffic layer exists
 * (load balancer resources or mesh route): the config document naming the engine's state
 * machine, the registry entry, both colours' template task definitions and ECS services (blue
 * live, green at zero), the initial release state (`seededBy: cdk`), and the colour alarms.
 */
export function deployLocalService(scope: LocalServiceScope, options: LocalServiceOptions): void {
  const { ssm, ecs, cloudWatch } = scope;
  const { config } = options;
  const traffic = config.traffic;
  ssm.putJson(parameterNames(config.service).config, { ...config, releaseStateMachineArn: scope.stateMachineArn });
  // Registered with the engine, as the ReleasedService construct registers it: the alarm-watcher
  // and the reconciler find the service there.
  ssm.putString(registryEntryOf(scope.engine, config.service), config.service);
  // As the CDK sample: each colour's service starts on its template revision, which the app owns
  // and a release clones (a release registers its own revisions in the release family).
  const taskDefinition = (colour: Colour) =>
    ecs.registerTaskDefinition({
      family: templateFamilyOf(config.taskDefinitionFamily, colour),
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        {
          name: config.containerName,
          image: scope.liveImage,
          essential: true,
          portMappings: [{ containerPort: 8080 }],
          // The colour is the slot's, set by the release as the CDK app sets it; behaviour
          // (faults, latency) is the image's and never appears here.
          environment: config.colourEnvironmentVariable ? [{ name: config.colourEnvironmentVariable, value: colour }] : [],
        },
      ],
    }).taskDefinitionArn;
  const greenTd = taskDefinition('green');
  const blueTd = taskDefinition('blue');
  // Behind the ALB, each colour's service names its target group, as `attachToApplicationTargetGroup` makes it.
  const loadBalancers = (colour: Colour) =>
    traffic.kind === 'alb' ? [{ targetGroupArn: traffic.targetGroups[colour], containerName: config.containerName, containerPort: 8080 }] : [];
  ecs.seedService({ serviceName: config.ecsServices.blue, taskDefinition: blueTd, desiredCount: scope.liveTasks, loadBalancers: loadBalancers('blue') });
  ecs.seedService({ serviceName: config.ecsServices.green, taskDefinition: greenTd, desiredCount: 0, loadBalancers: loadBalancers('green') });
  // The initial release state, as the deployed stack creates it (marked `seededBy: cdk`, which
  // the first release checks against what runs): a newcomer can read it before any release.
  const slot = (taskDefinitionArn: string) => ({ taskDefinitionArn, image: scope.liveImage, version: versionOf(scope.liveImage) });
  ssm.putJson(parameterNames(config.service).state, seedState(config.service, 'blue', { blue: slot(blueTd), green: slot(greenTd) }));
  cloudWatch.defineAlarms(options.alarms);
}

/**
 * Starts the service's way in and returns the running service: behind the ALB, a gateway for its
 * own listener (routing by that listener's rules, publishing `AWS/ApplicationELB` metrics of its
 * target groups); on App Mesh, the Envoy gateway of its route.
 */
export async function startLocalService(scope: LocalServiceScope, options: LocalServiceOptions): Promise<LocalService> {
  const { elbv2, appMesh, ecs, cloudWatch } = scope;
  const { config } = options;
  const traffic = config.traffic;
  const gateway =
    traffic.kind === 'alb'
      ? await startAlbGateway({ elbv2, listenerArn: traffic.listenerArn, targetGroups: traffic.targetGroups, metrics: cloudWatch, port: options.gatewayPort ?? 0 })
      : await startGateway({
          routes: appMesh,
          tasks: ecs,
          mesh: { meshName: traffic.meshName, virtualRouterName: traffic.virtualRouterName, routeName: traffic.routeName },
          nodes: traffic.virtualNodes,
          services: config.ecsServices,
          serviceName: config.service,
          metrics: cloudWatch,
          namespace: config.health.metricNamespace,
          headerMatch: { header: 'x-release-color' },
          port: options.gatewayPort ?? 0,
        });
  return {
    config,
    alarms: options.alarms,
    gateway,
    weights() {
      if (traffic.kind === 'alb') return albWeights(elbv2, traffic);
      return byColour(appMesh.weights(traffic.meshName, traffic.virtualRouterName, traffic.routeName), traffic.virtualNodes);
    },
    weightHistory() {
      if (traffic.kind === 'alb') {
        return elbv2.weightHistory(traffic.listenerArn, traffic.rule).map((c) => ({ at: c.at, weights: byColour(c.weights, traffic.targetGroups) }));
      }
      return appMesh
        .weightHistory(traffic.meshName, traffic.virtualRouterName, traffic.routeName)
        .map((c) => ({ at: c.at, weights: byColour(c.weights, traffic.virtualNodes) }));
    },
  };
}

/** Weights by colour from weights by target group ARN or virtual node name. */
function byColour(weights: Readonly<Record<string, number>>, names: Readonly<Record<Colour, string>>): { blue: number; green: number } {
  const [blue, green] = COLOURS.map((colour) => weights[names[colour]] ?? 0);
  return { blue, green };
}

function albWeights(elbv2: LocalElbv2, traffic: AlbTraffic): { blue: number; green: number } {
  return byColour(elbv2.weights(traffic.listenerArn, traffic.rule), traffic.targetGroups);
}
