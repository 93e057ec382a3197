/**
 * The local world: every piece of the local environment wired together the way the CDK app
 * wires their AWS counterparts. One loopback endpoint speaks the AWS wire protocols for SSM,
 * ECS, CloudWatch, Step Functions, Elastic Load Balancing v2 and App Mesh; the real handlers run
 * in-process and reach it through `AWS_ENDPOINT_URL`, unchanged; colorapp tasks are real
 * processes behind a real gateway; CloudWatch alarm changes and execution status changes reach
 * the alarm-watcher and cleanup handlers through an event bus with the rules the CDK app creates.
 *
 * The traffic layer is the config's: `kind: 'alb'` (the default sample) builds the load
 * balancer, target groups, listener and header rules the config's ARNs name, the colour services'
 * tasks are targets of their colour's target group, and the gateway is the load balancer
 * (routing by the listener's rules, publishing `AWS/ApplicationELB` metrics); `kind: 'appmesh'`
 * seeds the mesh's weighted route, and the gateway is Envoy (publishing Envoy's statistics).
 *
 * One release engine (state machine, handlers, rules) serves every service of the world. The
 * first is the config's; `additionalServices` registers more with the same engine, as the fleet
 * sample (`cdk synth -c services=N`) does: each behind a listener of its own on the same load
 * balancer, with its own target groups, ECS services, alarms, lock and state (see
 * `local-service.ts`).
 */
import * as path from 'node:path';
import type { ServiceConfig } from '../lambdas/shared/config';
import { REGISTRY_PATH_ENV, registryPathOf } from '../lambdas/shared/registry';
import { CLEANUP_EXECUTION_STATUSES } from '../infra/release-rules';
import type { LambdaHandler } from './asl/lambda';
import type { WeightChange } from './local-service';
import { RELEASE_ASL_PATH, handlerFileOf } from './asl/definition';
import { LocalEventBus } from './bus';
import type { AlarmDefinition, BusEvent, JsonProtocolService } from './contracts';
import { resolveHostPrefixes } from './endpoint/host-prefix';
import { startLocalEndpoint, type EndpointFaultHook, type LocalEndpoint } from './endpoint/server';
import { LocalDriftEventPublisher } from './services/drift-publisher';
import { randomBytes } from 'node:crypto';
import { albColourDimensionsMap } from '../lambdas/shared/alb-metrics';
import { COLOURS } from '../lambdas/shared/colours';
import { SAMPLE_LISTENER_PORT, seedAlb } from './alb-sample';
import { serviceTaskTargets } from './alb-targets';
import type { LocalBackend } from './backends';
import type { Gateway } from './gateway/gateway';
import { deployLocalService, startLocalService, type LocalService, type LocalServiceOptions, type LocalServiceScope } from './local-service';
import { LocalAppMesh, appMeshRestHandler } from './services/appmesh';
import { LocalCloudWatch, type AlarmMetricSource } from './services/cloudwatch';
import { LocalElbv2 } from './services/elbv2';
import { LocalEcs, type LocalImage } from './services/ecs';
import { LocalSsm } from './services/ssm';
import { EXECUTION_STATUS_CHANGE, LocalStepFunctions } from './services/stepfunctions';

const LAMBDAS_DIR = path.join(__dirname, '../lambdas');

/**
 * Local-only: `deregistration_delay.timeout_seconds` of the local target groups. The sample's is
 * 30 s (`ReleaseSettings.alb`); colorapp answers in milliseconds, so 2 s drains every request in
 * flight, and the old colour's tasks stop (ECS waits for the draining) without holding a
 * release up for half a minute.
 */
export const LOCAL_DEREGISTRATION_DELAY_SECONDS = 2;
/** The release engine the local world's services are registered with (its registry path). */
export const LOCAL_ENGINE = 'ecs-release';
/** Local-only: the local load balancer health checks every target this often (AWS: the target group's 10 s). */
export const LOCAL_TARGET_HEALTH_CHECK_INTERVAL_MS = 250;

/**
 * The handlers are loaded once per process and their SDK clients keep the endpoint URL they
 * were created with. So every world of a process serves its endpoint on the same port, and only
 * one world runs at a time.
 */
const processWorld = { endpointPort: undefined as number | undefined, running: false };

export type { LocalService, LocalServiceOptions, WeightChange } from './local-service';

/** What the world is built from. */
export interface LocalWorldOptions {
  /** The (first) service's configuration, from the same source the CDK app writes to SSM. */
  readonly config: ServiceConfig;
  /** The (first) service's release alarms, defined as the CDK app defines them. */
  readonly alarms: readonly AlarmDefinition[];
  /**
   * More services registered with the same engine, as the fleet sample's copies of colorapp
   * (`sampleServiceSettings`): each with its own listener on the first service's load balancer.
   * ALB only, as the CDK sample (App Mesh runs one service).
   * @default - none: the world runs the one service
   */
  readonly additionalServices?: readonly LocalServiceOptions[];
  /** The local "registry": what each image reference runs. */
  readonly images: Readonly<Record<string, LocalImage>>;
  /** The image blue runs at the start (live at 100%). */
  readonly liveImage: string;
  /** Tasks of the live colour. @default 2 */
  readonly liveTasks?: number;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly account?: string;
  /** Port of the AWS endpoint on 127.0.0.1. @default 0 (any free port) */
  readonly endpointPort?: number;
  /** Port of the (first) service's gateway on 127.0.0.1. @default 0 (any free port) */
  readonly gatewayPort?: number;
  /** Handler log level (Powertools). @default 'WARN' */
  readonly logLevel?: string;
  /** How long Wait states really wait. @default - as the definition says */
  readonly waitTimeScale?: (stateName: string, seconds: number) => number;
  /**
   * The ALB sample's settings the config document does not hold.
   * @default - header `x-release-color`, {@link LOCAL_DEREGISTRATION_DELAY_SECONDS}
   */
  readonly alb?: { readonly testHeader?: string; readonly deregistrationDelaySeconds?: number };
  /**
   * Runs the reconciler on this schedule, as the CDK app's EventBridge schedule rule does (AWS:
   * `reconcileInterval`, 5 minutes by default): a `Scheduled Event` on the bus, delivered to the
   * `reconcile` handler with the bus's retries.
   * @default - no schedule; {@link LocalWorld.reconcile} runs it on demand
   */
  readonly reconcileIntervalMs?: number;
  /** Fault injection hooks (`npm run chaos`). @default - none: the world behaves as AWS does on a good day */
  readonly faults?: LocalWorldFaults;
}

/** Where faults can enter the world; each hook is off unless given. */
export interface LocalWorldFaults {
  /** Answers some endpoint calls badly (errors, delays, dropped connections). */
  readonly endpoint?: EndpointFaultHook;
  /** Loses some events before any rule sees them. */
  readonly dropEvent?: (event: BusEvent) => boolean;
  /** Wraps the handler that plays a state machine's Lambda function (file name, e.g. `shift-traffic`), e.g. to make it crash. */
  readonly wrapHandler?: (file: string, handler: LambdaHandler) => LambdaHandler;
}

/** A running local world. Close it: it owns processes and ports. */
export interface LocalWorld {
  /** The first service's configuration (`services[0].config`). */
  readonly config: ServiceConfig;
  readonly endpoint: LocalEndpoint;
  /** The first service's gateway (`services[0].gateway`). */
  readonly gateway: Gateway;
  /** Every service registered with the engine, the first one first. */
  readonly services: readonly LocalService[];
  /**
   * The service named `name`.
   * @throws Error naming the services the world runs, for any other name.
   */
  service(name: string): LocalService;
  readonly ssm: LocalSsm;
  readonly ecs: LocalEcs;
  /** Serves the App Mesh API; holds the weighted route when the backend is `appmesh`. */
  readonly appMesh: LocalAppMesh;
  /** Serves the ELBv2 API; holds the load balancer when the backend is `alb`. */
  readonly elbv2: LocalElbv2;
  /** The traffic backend: the config's `traffic.kind`. */
  readonly backend: LocalBackend;
  readonly cloudWatch: LocalCloudWatch;
  readonly stepFunctions: LocalStepFunctions;
  readonly bus: LocalEventBus;
  /** ARN of the release state machine (also written into the service configuration). */
  readonly stateMachineArn: string;
  /** ARN of the drift-event publisher (Express) the reconciler starts. */
  readonly driftEventsStateMachineArn: string;
  /** Runs the reconciler once, now, as one scheduled invocation would (no retries), and returns its result. */
  reconcile(): Promise<unknown>;
  readonly region: string;
  /** The first service's current weights by colour (the weighted forward, or the route). */
  weights(): { blue: number; green: number };
  /** Every weight the first service's weighted forward (or route) has had, oldest first, from its creation. */
  weightHistory(): WeightChange[];
  close(): Promise<void>;
}

/**
 * Starts the local world with blue live at 100% on `liveImage` and green idle at zero.
 *
 * Handler modules create their SDK clients when they are first loaded, so the endpoint starts
 * first and the process environment points at it before any handler is required.
 */
export async function startLocalWorld(options: LocalWorldOptions): Promise<LocalWorld> {
  if (processWorld.running) {
    throw new Error('A local world is already running in this process; close it first (the handlers point at its endpoint)');
  }
  const wanted = options.endpointPort ?? processWorld.endpointPort ?? 0;
  if (processWorld.endpointPort !== undefined && wanted !== processWorld.endpointPort) {
    throw new Error(`This process's handlers already point at port ${processWorld.endpointPort}; a new world cannot use port ${wanted}`);
  }
  processWorld.running = true;
  try {
    return await start(options, wanted);
  } catch (error) {
    processWorld.running = false;
    throw error;
  }
}

async function start(options: LocalWorldOptions, endpointPort: number): Promise<LocalWorld> {
  const { config } = options;
  const region = options.region ?? 'eu-west-1';
  const account = options.account ?? '000000000000';
  const traffic = config.traffic;
  const backend: LocalBackend = traffic.kind;
  const specs: LocalServiceOptions[] = [
    { config, alarms: options.alarms, gatewayPort: options.gatewayPort, listenerPort: SAMPLE_LISTENER_PORT },
    ...(options.additionalServices ?? []),
  ];
  validateServices(specs);

  const bus = new LocalEventBus({ region, account, drop: options.faults?.dropEvent });
  const ssm = new LocalSsm({ accountId: account, region });
  const appMesh = new LocalAppMesh({ accountId: account, region });
  // The ids the next ELBv2 resources get: seedAlb creates them under the ids the config's ARNs name.
  const nextIds: string[] = [];
  const elbv2 = new LocalElbv2({
    accountId: account,
    region,
    healthCheckIntervalMs: LOCAL_TARGET_HEALTH_CHECK_INTERVAL_MS,
    defaultDeregistrationDelaySeconds: options.alb?.deregistrationDelaySeconds ?? LOCAL_DEREGISTRATION_DELAY_SECONDS,
    newId: () => nextIds.shift() ?? randomBytes(8).toString('hex'),
  });
  // What `cdk deploy` would have created, before anything can fail half-started: the load
  // balancer once, and a listener, target groups and rules per service (ColorappCopyStack).
  const albTraffic = new Map<string, Extract<ServiceConfig['traffic'], { kind: 'alb' }>>();
  for (const spec of specs) {
    const t = spec.config.traffic;
    if (t.kind !== 'alb') continue;
    albTraffic.set(spec.config.service, t);
    seedAlb(elbv2, t, { region, account }, {
      testHeader: options.alb?.testHeader ?? 'x-release-color',
      deregistrationDelaySeconds: options.alb?.deregistrationDelaySeconds ?? LOCAL_DEREGISTRATION_DELAY_SECONDS,
      nextIds,
      listenerPort: spec.listenerPort,
    });
  }
  const alarmSource: AlarmMetricSource =
    traffic.kind === 'alb'
      ? {
          kind: 'load-balancer',
          // Each service's alarms watch its own target groups (the alarm definition names its service).
          dimensionsOf: (colour, service) => {
            const own = albTraffic.get(service);
            if (!own) throw new Error(`An alarm names service '${service}', which the local world does not run`);
            return albColourDimensionsMap(own, colour);
          },
        }
      : { kind: 'envoy' };
  const cloudWatch = new LocalCloudWatch({ namespace: config.health.metricNamespace, bus, region, accountId: account, alarmSource });
  // Each colour's service is attached to its colour's target group, as the CDK sample attaches it.
  const targetGroupOfService = new Map(
    specs.flatMap((spec) => {
      const t = spec.config.traffic;
      return t.kind === 'alb' ? COLOURS.map((colour) => [spec.config.ecsServices[colour], t.targetGroups[colour]] as const) : [];
    }),
  );
  const ecs = new LocalEcs({
    images: options.images,
    // One cluster: the fleet sample's copies run in colorapp's.
    cluster: config.cluster,
    region,
    accountId: account,
    ...(traffic.kind === 'alb' ? { targets: serviceTaskTargets(elbv2, targetGroupOfService) } : {}),
  });

  // Step Functions needs the handlers, the handlers need the endpoint's URL: the endpoint
  // starts with a late-bound Step Functions service, read on every request.
  const late: { stepFunctions?: LocalStepFunctions; drift?: LocalDriftEventPublisher } = {};
  const lateStepFunctions: JsonProtocolService = {
    targetPrefix: 'AWSStepFunctions',
    jsonVersion: '1.0',
    get operations() {
      if (!late.stepFunctions || !late.drift) throw new Error('Step Functions is not ready yet');
      // One Step Functions API for both state machines: the release (standard) and the drift publisher (Express).
      const drift = late.drift;
      return { ...late.stepFunctions.operations, StartSyncExecution: (input: Record<string, unknown>) => drift.startSyncExecution(input) };
    },
  };
  const endpoint = await startLocalEndpoint({
    jsonServices: [ssm, ecs, cloudWatch, lateStepFunctions],
    queryServices: [elbv2],
    restAppMesh: appMeshRestHandler(appMesh),
    port: endpointPort,
    faults: options.faults?.endpoint,
  });
  processWorld.endpointPort = Number(new URL(endpoint.url).port);
  const unresolveHostPrefixes = resolveHostPrefixes(new URL(endpoint.url).hostname);
  pointHandlersAt(endpoint.url, region, options.logLevel ?? 'WARN');

  const stepFunctions = new LocalStepFunctions({
    definitionPath: RELEASE_ASL_PATH,
    stateMachineName: `${config.service}-release`,
    handlers: (placeholder) => {
      const file = handlerFileOf(placeholder);
      const handler = loadHandler(file);
      return options.faults?.wrapHandler ? options.faults.wrapHandler(file, handler) : handler;
    },
    bus,
    region,
    account,
    waitTimeScale: options.waitTimeScale,
  });
  late.stepFunctions = stepFunctions;
  const stateMachineArn = stepFunctions.stateMachineArn;
  const drift = new LocalDriftEventPublisher({
    stateMachineName: `${config.service}-drift-events`,
    region,
    account,
    bus,
    standardStateMachineArns: [stateMachineArn],
  });
  late.drift = drift;
  // As ReleasePipeline sets it on the reconciler.
  process.env.DRIFT_EVENTS_STATE_MACHINE_ARN = drift.stateMachineArn;

  // The EventBridge rules of the CDK app: release alarms → alarm-watcher (fast rollback),
  // execution ABORTED / TIMED_OUT / FAILED → cleanup (which acts only while that execution holds the lock).
  const alarmWatcher = loadHandler('alarm-watcher');
  bus.subscribe(
    {
      source: 'aws.cloudwatch',
      detailType: 'CloudWatch Alarm State Change',
      detail: { alarmName: specs.flatMap((spec) => spec.alarms.map((a) => a.alarmName)) },
    },
    (event) => alarmWatcher(event),
    { name: 'alarm-watcher' },
  );
  const cleanup = loadHandler('cleanup');
  bus.subscribe(
    {
      source: 'aws.states',
      detailType: EXECUTION_STATUS_CHANGE,
      detail: { status: [...CLEANUP_EXECUTION_STATUSES], stateMachineArn: [stateMachineArn] },
    },
    (event) => cleanup(event),
    { name: 'cleanup' },
  );
  // The reconciler's schedule rule: a Scheduled Event from the rule, as EventBridge sends it.
  const reconcile = loadHandler('reconcile');
  const scheduleRuleArn = `arn:aws:events:${region}:${account}:rule/${config.service}-reconcile`;
  bus.subscribe(
    { source: 'aws.events', detailType: 'Scheduled Event' },
    // Only this rule's events: a schedule rule targets its own function.
    (event) => (event.resources.includes(scheduleRuleArn) ? reconcile(event) : Promise.resolve()),
    { name: 'reconcile' },
  );
  const schedule =
    options.reconcileIntervalMs === undefined
      ? undefined
      : setInterval(() => bus.publish({ source: 'aws.events', 'detail-type': 'Scheduled Event', resources: [scheduleRuleArn], detail: {} }), options.reconcileIntervalMs);
  schedule?.unref();

  // What `cdk deploy` would have created, service by service.
  if (traffic.kind === 'appmesh') seedAppMesh(appMesh, traffic);
  else elbv2.startHealthChecks();
  const scope: LocalServiceScope = {
    ssm,
    ecs,
    elbv2,
    appMesh,
    cloudWatch,
    engine: LOCAL_ENGINE,
    stateMachineArn,
    liveImage: options.liveImage,
    liveTasks: options.liveTasks ?? 2,
  };
  for (const spec of specs) deployLocalService(scope, spec);

  const services: LocalService[] = [];
  const closeServices = async () => {
    await Promise.all(services.map((s) => s.gateway.close()));
  };
  try {
    for (const spec of specs) services.push(await startLocalService(scope, spec));
  } catch (error) {
    // A taken port: stop what started, so the process can try again.
    await closeServices();
    clearInterval(schedule);
    await stepFunctions.close();
    cloudWatch.close();
    elbv2.stopHealthChecks();
    await ecs.close();
    await endpoint.close();
    unresolveHostPrefixes();
    throw error;
  }
  const [first] = services;

  const world: LocalWorld = {
    config,
    endpoint,
    gateway: first.gateway,
    services,
    service(name) {
      const found = services.find((s) => s.config.service === name);
      if (!found) throw new Error(`The local world runs no service '${name}'; it runs ${services.map((s) => s.config.service).join(', ')}`);
      return found;
    },
    ssm,
    ecs,
    appMesh,
    elbv2,
    backend,
    cloudWatch,
    stepFunctions,
    bus,
    stateMachineArn,
    driftEventsStateMachineArn: drift.stateMachineArn,
    region,
    reconcile() {
      return reconcile({ version: '0', id: 'on-demand', 'detail-type': 'Scheduled Event', source: 'aws.events', account, time: new Date().toISOString(), region, resources: [scheduleRuleArn], detail: {} });
    },
    weights: () => first.weights(),
    weightHistory: () => first.weightHistory(),
    async close() {
      try {
        clearInterval(schedule);
        await stepFunctions.close();
        await bus.drain().catch(() => undefined);
        cloudWatch.close();
        elbv2.stopHealthChecks();
        await closeServices();
        await ecs.close();
        await endpoint.close();
      } finally {
        unresolveHostPrefixes();
        processWorld.running = false;
      }
    },
  };
  try {
    await Promise.all(specs.map((spec) => ecs.waitUntilSteady(spec.config.ecsServices.blue, 20_000)));
  } catch (error) {
    await world.close();
    throw error;
  }
  return world;
}

/** The App Mesh sample's weighted route: blue 100, green 0, with App Mesh's default retry policy. */
function seedAppMesh(appMesh: LocalAppMesh, traffic: Extract<ServiceConfig['traffic'], { kind: 'appmesh' }>): void {
  for (const colour of ['blue', 'green'] as const) {
    appMesh.seedVirtualNode({ meshName: traffic.meshName, virtualNodeName: traffic.virtualNodes[colour] });
  }
  appMesh.seedRoute({
    meshName: traffic.meshName,
    virtualRouterName: traffic.virtualRouterName,
    routeName: traffic.routeName,
    spec: {
      priority: 10,
      httpRoute: {
        match: { prefix: '/' },
        retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: 'ms', value: 2000 }, httpRetryEvents: ['gateway-error'] },
        action: {
          weightedTargets: [
            { virtualNode: traffic.virtualNodes.blue, weight: 100, port: 8080 },
            { virtualNode: traffic.virtualNodes.green, weight: 0, port: 8080 },
          ],
        },
      },
    },
  });
}

/**
 * The services of one world: distinct names, ECS services, target groups, alarm names and
 * listener ports (one engine, one cluster, one alarm namespace), each alarm about its own
 * service, and more than one only behind the load balancer, as the CDK sample allows.
 *
 * @throws Error naming the clash.
 */
export function validateServices(specs: readonly LocalServiceOptions[]): void {
  const seen = new Set<string>();
  const unique = (what: string, value: string) => {
    if (seen.has(`${what}/${value}`)) throw new Error(`Two services of the local world share the ${what} '${value}'; each registered service needs its own`);
    seen.add(`${what}/${value}`);
  };
  for (const { config, alarms, listenerPort } of specs) {
    if (specs.length > 1 && config.traffic.kind !== 'alb') {
      throw new Error(`The local world runs several services behind the load balancer only; '${config.service}' is on ${config.traffic.kind} (App Mesh runs one service, as the CDK sample)`);
    }
    // One local ECS cluster, as the CDK fleet sample puts every copy in colorapp's.
    if (config.cluster !== specs[0].config.cluster) {
      throw new Error(`Every service of the local world runs in one cluster, '${specs[0].config.cluster}'; '${config.service}' names '${config.cluster}'`);
    }
    unique('service name', config.service);
    for (const colour of COLOURS) unique('ECS service', config.ecsServices[colour]);
    if (config.traffic.kind === 'alb') for (const colour of COLOURS) unique('target group', config.traffic.targetGroups[colour]);
    for (const alarm of alarms) {
      unique('alarm name', alarm.alarmName);
      if (alarm.service !== config.service) {
        throw new Error(`Alarm '${alarm.alarmName}' is about service '${alarm.service}' but is registered with '${config.service}'`);
      }
    }
    unique('listener port', String(listenerPort ?? SAMPLE_LISTENER_PORT));
  }
}

/** The environment every in-process handler reads: the endpoint, a region, fake credentials. */
function pointHandlersAt(url: string, region: string, logLevel: string): void {
  process.env.AWS_ENDPOINT_URL = url;
  process.env.AWS_REGION = region;
  process.env.AWS_DEFAULT_REGION = region;
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= logLevel;
  // One alarm-watcher and reconciler for every service of the engine, as the CDK construct deploys them.
  process.env[REGISTRY_PATH_ENV] = registryPathOf(LOCAL_ENGINE);
}

function loadHandler(file: string): LambdaHandler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(path.join(LAMBDAS_DIR, file)) as { handler?: LambdaHandler };
  if (typeof module.handler !== 'function') throw new Error(`lambdas/${file}.ts exports no handler`);
  return module.handler;
}
