/**
 * The one source of truth for colorapp's release: names, thresholds, strategy and alarms. The
 * CDK app builds its resources and the `/ecs-release/colorapp/config` document from it; the
 * local environment seeds its world from it. Pure data and pure functions, no CDK, so the local
 * environment loads it without synthesizing anything.
 */
import type { Colour } from '../lambdas/shared/colours';
import { ServiceConfigSchema, type ServiceConfig, type Strategy, type TrafficConfig } from '../lambdas/shared/config';
import type { AlarmDefinition } from '../local/contracts';

/** Everything a release of one service needs to know about it. */
export interface ReleaseSettings {
  readonly serviceName: string;
  readonly clusterName: string;
  readonly ecsServices: Readonly<Record<Colour, string>>;
  readonly taskDefinitionFamily: string;
  readonly containerName: string;
  readonly colourEnvironmentVariable?: string;
  /**
   * The ALB sample (the default backend): the load balancer, one target group per colour, and
   * the header whose value (`blue` or `green`) sends a request to that colour whatever the weights.
   */
  readonly alb: {
    readonly loadBalancerName: string;
    readonly targetGroupNames: Readonly<Record<Colour, string>>;
    readonly testHeader: string;
    /**
     * How long a target group lets a deregistered task finish its requests. A release waits on
     * it when the old colour scales down, so it is short: colorapp answers in milliseconds.
     */
    readonly deregistrationDelaySeconds: number;
  };
  /** The App Mesh sample (`-c traffic=appmesh`; App Mesh was discontinued on 2026-09-30). */
  readonly appMesh: {
    readonly meshName: string;
    readonly virtualRouterName: string;
    readonly routeName: string;
    readonly virtualNodes: Readonly<Record<Colour, string>>;
  };
  readonly strategy: Strategy;
  readonly bakeSeconds: number;
  readonly health: {
    readonly metricNamespace: string;
    readonly metricPeriodSeconds: number;
    readonly minSuccessRate: number;
    /**
     * The disaster floor of relative judgement (on for the sample): the success-rate alarms fire
     * below it, since the comparison with the live colour judges everything above.
     */
    readonly floorSuccessRate: number;
    readonly maxP99LatencyMs: number;
    readonly minRequestsPerStep: number;
    readonly maxInconclusiveBakes: number;
  };
  /** The per-colour alarms: `datapointsToAlarm` breaching periods out of `evaluationPeriods`. */
  readonly alarms: { readonly periodSeconds: number; readonly evaluationPeriods: number; readonly datapointsToAlarm: number };
  readonly stabilization: { readonly pollSeconds: number; readonly timeoutSeconds: number };
  readonly approvalTimeoutSeconds: number;
  readonly promotion: { readonly scaleDownDelaySeconds: number; readonly keepOldColourWarm: boolean };
}

/**
 * colorapp, the sample service, as the CDK app deploys it: `ColorappServiceStack` names its
 * cluster, ECS services, task definition family, container, load balancer and target groups (or,
 * with `-c traffic=appmesh`, mesh, virtual router, weighted route and virtual nodes) from here, and
 * `ColorappReleaseStack` builds its `ReleasePipeline` from the rest (bake, thresholds, strategy,
 * alarms, timeouts). The periods here are App Mesh's (10 s), which the local world runs with; the
 * ALB sample deploys {@link settingsForTraffic}(COLORAPP, 'alb'). Tests check that the synthesized
 * `/ecs-release/colorapp/config` equals {@link serviceConfigOf} of those settings, per variant.
 */
export const COLORAPP: ReleaseSettings = {
  serviceName: 'colorapp',
  clusterName: 'colorapp',
  ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
  taskDefinitionFamily: 'colorapp',
  containerName: 'app',
  colourEnvironmentVariable: 'COLOR',
  alb: {
    loadBalancerName: 'colorapp',
    targetGroupNames: { blue: 'colorapp-blue', green: 'colorapp-green' },
    testHeader: 'x-release-color',
    deregistrationDelaySeconds: 30,
  },
  appMesh: {
    meshName: 'colorapp-mesh',
    virtualRouterName: 'colorapp-router',
    // The release route; the header routes beside it in the router are `blue-by-header` and `green-by-header`.
    routeName: 'weighted',
    virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
  },
  strategy: { type: 'canary', steps: [10, 50, 100] },
  bakeSeconds: 120,
  health: {
    metricNamespace: 'ECSRelease/Envoy',
    metricPeriodSeconds: 10,
    minSuccessRate: 0.99,
    floorSuccessRate: 0.95,
    maxP99LatencyMs: 1000,
    minRequestsPerStep: 50,
    maxInconclusiveBakes: 2,
  },
  // Three bad periods within six: a blip does not roll a release back, a trend does.
  alarms: { periodSeconds: 10, evaluationPeriods: 6, datapointsToAlarm: 3 },
  stabilization: { pollSeconds: 15, timeoutSeconds: 900 },
  approvalTimeoutSeconds: 3600,
  promotion: { scaleDownDelaySeconds: 300, keepOldColourWarm: false },
};

/** The traffic backends the sample can be deployed with (`cdk synth -c traffic=...`). */
export const SAMPLE_TRAFFIC_KINDS = ['alb', 'appmesh'] as const;
/** A traffic backend of the sample: `alb` (the default) or `appmesh` (discontinued on 2026-09-30). */
export type SampleTrafficKind = (typeof SAMPLE_TRAFFIC_KINDS)[number];

/**
 * The settings as deployed with one traffic backend. App Mesh's Envoy metrics are high resolution
 * (10-second periods); the ALB sample reads the load balancer's `AWS/ApplicationELB` metrics, which
 * Elastic Load Balancing publishes every 60 seconds, so its health and alarm periods are 60
 * seconds (a shorter one would only ever see missing data, and `ReleasePipeline` refuses it). Its
 * alarms look at three minutes and alarm on two bad ones: three of six minutes would wait longer
 * than a bake lasts.
 */
export function settingsForTraffic(settings: ReleaseSettings, traffic: SampleTrafficKind): ReleaseSettings {
  if (traffic === 'appmesh') return settings;
  return {
    ...settings,
    health: { ...settings.health, metricPeriodSeconds: 60 },
    alarms: { periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 },
  };
}

/** The alarm names of one colour, as the CDK app names them. */
export function colourAlarmNames(serviceName: string, colour: Colour): { successRate: string; p99Latency: string } {
  return { successRate: `${serviceName}-${colour}-success-rate`, p99Latency: `${serviceName}-${colour}-p99-latency` };
}

/** The release alarms of both colours, exactly as the CDK app defines them. */
export function alarmDefinitionsOf(settings: ReleaseSettings): AlarmDefinition[] {
  return (['blue', 'green'] as const).flatMap((colour) => {
    const names = colourAlarmNames(settings.serviceName, colour);
    const common = {
      service: settings.serviceName,
      colour,
      periodSeconds: settings.alarms.periodSeconds,
      evaluationPeriods: settings.alarms.evaluationPeriods,
      datapointsToAlarm: settings.alarms.datapointsToAlarm,
      // An idle colour has no traffic most of the time: silence must not fail a bake. Judging
      // too little traffic is the health check's job, and it calls that inconclusive.
      treatMissingData: 'notBreaching' as const,
    };
    return [
      // Relative judgement is on: the alarm is the disaster floor, the comparison judges the rest.
      { ...common, alarmName: names.successRate, kind: 'success-rate' as const, threshold: settings.health.floorSuccessRate },
      { ...common, alarmName: names.p99Latency, kind: 'p99-latency' as const, threshold: settings.health.maxP99LatencyMs },
    ];
  });
}

/** The `traffic` section of the App Mesh sample, all names from `settings`. */
export function appMeshTrafficOf(settings: ReleaseSettings): TrafficConfig {
  return { kind: 'appmesh', ...settings.appMesh };
}

/**
 * The `/ecs-release/<service>/config` document for `settings`, validated by its schema. The
 * traffic section is given, because an ALB's ARNs are only known where it exists (CloudFormation
 * tokens in the CDK app, the local ELBv2's ARNs in the local world).
 */
export function serviceConfigOf(
  settings: ReleaseSettings,
  extra: { traffic: TrafficConfig; releaseStateMachineArn?: string },
): ServiceConfig {
  const alarmsOf = (colour: Colour) => Object.values(colourAlarmNames(settings.serviceName, colour));
  return ServiceConfigSchema.parse({
    service: settings.serviceName,
    cluster: settings.clusterName,
    ecsServices: settings.ecsServices,
    taskDefinitionFamily: settings.taskDefinitionFamily,
    containerName: settings.containerName,
    colourEnvironmentVariable: settings.colourEnvironmentVariable,
    health: { ...settings.health, alarms: { common: [], blue: alarmsOf('blue'), green: alarmsOf('green') } },
    defaultStrategy: settings.strategy,
    bakeSeconds: settings.bakeSeconds,
    approvalTimeoutSeconds: settings.approvalTimeoutSeconds,
    stabilization: settings.stabilization,
    promotion: settings.promotion,
    ...extra,
  });
}

/**
 * The same service on one machine: every name and threshold unchanged, only the clock faster.
 * Metrics and alarms use 1-second periods (AWS's finest is 10 seconds for alarms, so the local
 * world reacts faster than AWS can), bakes last seconds, and nothing waits to scale down.
 */
export function localProfile(settings: ReleaseSettings, timing: { bakeSeconds?: number } = {}): ReleaseSettings {
  return {
    ...settings,
    bakeSeconds: timing.bakeSeconds ?? 6,
    health: { ...settings.health, metricPeriodSeconds: 1 },
    // One bad second alarms: at 1-second periods, 3 of 6 would add seconds of failed requests.
    alarms: { periodSeconds: 1, evaluationPeriods: 2, datapointsToAlarm: 1 },
    stabilization: { pollSeconds: 1, timeoutSeconds: 60 },
    approvalTimeoutSeconds: 300,
    promotion: { ...settings.promotion, scaleDownDelaySeconds: 0 },
  };
}

/** At most this many copies of colorapp in the sample (`cdk synth -c services=N`). */
export const MAX_SAMPLE_SERVICES = 50;

/**
 * The settings of copy `index` (2, 3, ...) of colorapp in the fleet sample: `colorapp-<index>`,
 * its own ECS services, family and target groups, in colorapp's cluster, behind colorapp's load
 * balancer; release settings as colorapp's. Copy 1 is colorapp itself.
 *
 * @throws Error for an index outside 1..MAX_SAMPLE_SERVICES.
 */
export function sampleServiceSettings(settings: ReleaseSettings, index: number): ReleaseSettings {
  if (!Number.isInteger(index) || index < 1 || index > MAX_SAMPLE_SERVICES) {
    throw new Error(`A sample service index is a whole number from 1 to ${MAX_SAMPLE_SERVICES}, got ${index}`);
  }
  if (index === 1) return settings;
  const name = `${settings.serviceName}-${index}`;
  return {
    ...settings,
    serviceName: name,
    ecsServices: { blue: `${name}-blue`, green: `${name}-green` },
    taskDefinitionFamily: name,
    alb: { ...settings.alb, targetGroupNames: { blue: `${name}-blue`, green: `${name}-green` } },
  };
}
