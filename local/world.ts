/**
 * The local world: every piece of the local environment wired together the way the CDK app
 * wires their AWS counterparts. One loopback endpoint speaks the AWS wire protocols for SSM,
 * ECS, CloudWatch, Step Functions and App Mesh; the real handlers run in-process and reach it
 * through `AWS_ENDPOINT_URL`, unchanged; colorapp tasks are real processes behind a real
 * gateway that splits traffic by the route's weights; CloudWatch alarm changes and execution
 * status changes reach the alarm-watcher and cleanup handlers through an event bus with the
 * rules the CDK app creates.
 */
import * as path from 'node:path';
import type { ServiceConfig } from '../lambdas/shared/config';
import { parameterNames } from '../lambdas/shared/documents';
import { versionOf } from '../lambdas/shared/release';
import { seedState } from '../lambdas/shared/release-state';
import { CLEANUP_EXECUTION_STATUSES } from '../infra/release-rules';
import type { LambdaHandler } from './asl/lambda';
import { RELEASE_ASL_PATH, handlerFileOf } from './asl/definition';
import { LocalEventBus } from './bus';
import type { AlarmDefinition, JsonProtocolService } from './contracts';
import { startLocalEndpoint, type LocalEndpoint } from './endpoint/server';
import { startGateway, type Gateway } from './gateway/gateway';
import { LocalAppMesh, appMeshRestHandler } from './services/appmesh';
import { LocalCloudWatch } from './services/cloudwatch';
import { LocalEcs, type LocalImage } from './services/ecs';
import { LocalSsm } from './services/ssm';
import { EXECUTION_STATUS_CHANGE, LocalStepFunctions } from './services/stepfunctions';

const LAMBDAS_DIR = path.join(__dirname, '../lambdas');

/**
 * The handlers are loaded once per process and their SDK clients keep the endpoint URL they
 * were created with. So every world of a process serves its endpoint on the same port, and only
 * one world runs at a time.
 */
const processWorld = { endpointPort: undefined as number | undefined, running: false };

/** What the world is built from. */
export interface LocalWorldOptions {
  /** The service configuration, from the same source the CDK app writes to SSM. */
  readonly config: ServiceConfig;
  /** The release alarms, defined as the CDK app defines them. */
  readonly alarms: readonly AlarmDefinition[];
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
  /** Port of the gateway on 127.0.0.1. @default 0 (any free port) */
  readonly gatewayPort?: number;
  /** Handler log level (Powertools). @default 'WARN' */
  readonly logLevel?: string;
  /** How long Wait states really wait. @default - as the definition says */
  readonly waitTimeScale?: (stateName: string, seconds: number) => number;
}

/** A running local world. Close it: it owns processes and ports. */
export interface LocalWorld {
  readonly config: ServiceConfig;
  readonly endpoint: LocalEndpoint;
  readonly gateway: Gateway;
  readonly ssm: LocalSsm;
  readonly ecs: LocalEcs;
  readonly appMesh: LocalAppMesh;
  readonly cloudWatch: LocalCloudWatch;
  readonly stepFunctions: LocalStepFunctions;
  readonly bus: LocalEventBus;
  /** ARN of the release state machine (also written into the service configuration). */
  readonly stateMachineArn: string;
  readonly region: string;
  /** Current route weights by colour. */
  weights(): { blue: number; green: number };
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
  if (traffic.kind !== 'appmesh') throw new Error(`The local world has no ${String(traffic.kind)} traffic layer`);

  const bus = new LocalEventBus({ region, account });
  const ssm = new LocalSsm({ accountId: account, region });
  const appMesh = new LocalAppMesh({ accountId: account, region });
  const cloudWatch = new LocalCloudWatch({ namespace: config.health.metricNamespace, bus, region, accountId: account });
  const ecs = new LocalEcs({ images: options.images, cluster: config.cluster, region, accountId: account });

  // Step Functions needs the handlers, the handlers need the endpoint's URL: the endpoint
  // starts with a late-bound Step Functions service, read on every request.
  const late: { stepFunctions?: LocalStepFunctions } = {};
  const lateStepFunctions: JsonProtocolService = {
    targetPrefix: 'AWSStepFunctions',
    jsonVersion: '1.0',
    get operations() {
      if (!late.stepFunctions) throw new Error('Step Functions is not ready yet');
      return late.stepFunctions.operations;
    },
  };
  const endpoint = await startLocalEndpoint({
    jsonServices: [ssm, ecs, cloudWatch, lateStepFunctions],
    restAppMesh: appMeshRestHandler(appMesh),
    port: endpointPort,
  });
  processWorld.endpointPort = Number(new URL(endpoint.url).port);
  pointHandlersAt(endpoint.url, region, config.service, options.logLevel ?? 'WARN');

  const stepFunctions = new LocalStepFunctions({
    definitionPath: RELEASE_ASL_PATH,
    stateMachineName: `${config.service}-release`,
    handlers: (placeholder) => loadHandler(handlerFileOf(placeholder)),
    bus,
    region,
    account,
    waitTimeScale: options.waitTimeScale,
  });
  late.stepFunctions = stepFunctions;
  const stateMachineArn = stepFunctions.stateMachineArn;

  // The EventBridge rules of the CDK app: release alarms → alarm-watcher (fast rollback),
  // execution ABORTED / TIMED_OUT / FAILED → cleanup (which acts only while that execution holds the lock).
  const alarmWatcher = loadHandler('alarm-watcher');
  bus.subscribe(
    {
      source: 'aws.cloudwatch',
      detailType: 'CloudWatch Alarm State Change',
      detail: { alarmName: options.alarms.map((a) => a.alarmName) },
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

  // What `cdk deploy` would have created.
  ssm.putJson(parameterNames(config.service).config, { ...config, releaseStateMachineArn: stateMachineArn });
  const taskDefinition = (colour: 'blue' | 'green') =>
    ecs.registerTaskDefinition({
      family: config.taskDefinitionFamily,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        {
          name: config.containerName,
          image: options.liveImage,
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
  ecs.seedService({ serviceName: config.ecsServices.blue, taskDefinition: blueTd, desiredCount: options.liveTasks ?? 2 });
  ecs.seedService({ serviceName: config.ecsServices.green, taskDefinition: greenTd, desiredCount: 0 });
  // The initial release state, as the deployed stack creates it (marked `seededBy: cdk`, which
  // the first release checks against what runs): a newcomer can read it before any release.
  const slot = (taskDefinitionArn: string) => ({ taskDefinitionArn, image: options.liveImage, version: versionOf(options.liveImage) });
  ssm.putJson(parameterNames(config.service).state, seedState(config.service, 'blue', { blue: slot(blueTd), green: slot(greenTd) }));
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
  cloudWatch.defineAlarms(options.alarms);

  const gateway = await startGateway({
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

  const world: LocalWorld = {
    config,
    endpoint,
    gateway,
    ssm,
    ecs,
    appMesh,
    cloudWatch,
    stepFunctions,
    bus,
    stateMachineArn,
    region,
    weights() {
      const byNode = appMesh.weights(traffic.meshName, traffic.virtualRouterName, traffic.routeName);
      return { blue: byNode[traffic.virtualNodes.blue] ?? 0, green: byNode[traffic.virtualNodes.green] ?? 0 };
    },
    async close() {
      try {
        await stepFunctions.close();
        await bus.drain().catch(() => undefined);
        cloudWatch.close();
        await gateway.close();
        await ecs.close();
        await endpoint.close();
      } finally {
        processWorld.running = false;
      }
    },
  };
  try {
    await ecs.waitUntilSteady(config.ecsServices.blue, 20_000);
  } catch (error) {
    await world.close();
    throw error;
  }
  return world;
}

/** The environment every in-process handler reads: the endpoint, a region, fake credentials. */
function pointHandlersAt(url: string, region: string, service: string, logLevel: string): void {
  process.env.AWS_ENDPOINT_URL = url;
  process.env.AWS_REGION = region;
  process.env.AWS_DEFAULT_REGION = region;
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= logLevel;
  // One alarm-watcher per release pipeline, as the CDK construct deploys it.
  process.env.SERVICE_NAME = service;
}

function loadHandler(file: string): LambdaHandler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(path.join(LAMBDAS_DIR, file)) as { handler?: LambdaHandler };
  if (typeof module.handler !== 'function') throw new Error(`lambdas/${file}.ts exports no handler`);
  return module.handler;
}
