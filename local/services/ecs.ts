/**
 * The local ECS: task definitions, services and deployments behind the ECS JSON 1.1 API, with
 * tasks that are real processes. Updating a service to a task definition starts that revision's
 * image (a colorapp bundle) with the container's environment; a task counts as running only
 * once it answers `/healthcheck`; a deployment whose tasks crash or never get healthy is FAILED
 * by the circuit breaker, and the tasks of the previous deployment keep serving.
 *
 * What it models, in ECS's terms (rolling update, minimumHealthyPercent 100, maximumPercent 200,
 * circuit breaker on without ECS's own rollback, as the CDK app configures the colour services):
 * - UpdateService with a different task definition (or `forceNewDeployment`) creates a new
 *   PRIMARY deployment at the service's desired count; the previous one becomes ACTIVE. A
 *   desired-count-only change resizes the PRIMARY deployment.
 * - The PRIMARY's tasks are started first; once all of them are healthy the ACTIVE deployments'
 *   tasks are stopped (drained), and when they have exited the PRIMARY is COMPLETED.
 * - `failedTasksThreshold` failed tasks (crashed, or not healthy within `unhealthyAfterMs`)
 *   make an IN_PROGRESS deployment FAILED; it launches nothing more and drains nothing.
 */

import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { versionOf } from '../../lambdas/shared/release';
import { AwsServiceError, type JsonProtocolService, type Operation, type TaskEndpoint, type TaskEndpoints } from '../contracts';
import { toImageCatalog, supportFiles, type LocalImage, type LocalImageCatalog } from './ecs/images';
import {
  decodeToken,
  encodeToken,
  optionalBoolean,
  optionalInteger,
  optionalString,
  optionalStringList,
  requiredString,
} from './ecs/input';
import { allocatePort, isAlive, probeHealth, spawnTask, stopProcess } from './ecs/processes';
import { TaskDefinitionRegistry, describeTaskDefinition, type TaskDefinitionRecord } from './ecs/task-definitions';

export { buildColorApp, imageCatalog, type LocalImage, type LocalImageCatalog } from './ecs/images';

/** Options for {@link LocalEcs}. */
export interface LocalEcsOptions {
  /** What each image reference runs. A plain record is used as {@link imageCatalog}. */
  readonly images: LocalImageCatalog | Readonly<Record<string, LocalImage>>;
  /** The one cluster that exists (the service configuration's `cluster`). */
  readonly cluster: string;
  /** Region in every ARN. @default 'us-east-1' */
  readonly region?: string;
  /** Account in every ARN. @default '000000000000' */
  readonly accountId?: string;
  /** How often tasks' `/healthcheck` is polled and the scheduler runs. @default 250 */
  readonly healthCheckIntervalMs?: number;
  /** A task not healthy this long after it was launched is stopped and counts as failed. @default 10000 */
  readonly unhealthyAfterMs?: number;
  /** Failed tasks that make an IN_PROGRESS deployment FAILED (the circuit breaker). @default 3 */
  readonly failedTasksThreshold?: number;
  /** How long a stopping task gets between SIGTERM and SIGKILL. @default 3000 */
  readonly stopTimeoutMs?: number;
  /** Loopback address tasks listen on. @default '127.0.0.1' */
  readonly host?: string;
  /**
   * The load balancer the services' tasks sit behind (a service's `loadBalancers`), if any: ECS
   * registers a task as a target once it runs, counts it healthy only once the target group
   * does, and on stop deregisters it and waits for the draining to end before SIGTERM.
   * @default - no load balancer: tasks are stopped at once
   */
  readonly targets?: TaskTargetRegistry;
  /**
   * Receives every line a task writes (the container logs).
   * @default - lines are kept (the last 50 per task, see {@link LocalEcs.taskLogs}) and not printed
   */
  readonly onTaskOutput?: (line: TaskOutputLine) => void;
}

/**
 * What ECS does with the target group of a service attached to a load balancer
 * ("Use load balancing to distribute Amazon ECS service traffic"; "Optimize load balancer
 * connection draining parameters": ECS waits for the target to leave draining, `unused`, before
 * it sends the stop signal). Services the registry does not know are not behind a load balancer.
 */
export interface TaskTargetRegistry {
  /** Registers a task's address as a target of its service's target group, once the task runs. */
  register(serviceName: string, target: TaskEndpoint): void;
  /** True when the target group counts the target healthy (true for a service behind no load balancer). */
  isHealthy(serviceName: string, target: TaskEndpoint): boolean;
  /** Deregisters the target; resolves when its draining has ended (at once for a service behind no load balancer). */
  deregister(serviceName: string, target: TaskEndpoint): Promise<void>;
}

/** One line of a task's output. */
export interface TaskOutputLine {
  readonly serviceName: string;
  readonly taskId: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/** How {@link LocalEcs.seedService} creates a service (what CreateService would). */
export interface SeedServiceOptions {
  readonly serviceName: string;
  /** ARN, `family:revision` or `family` of a registered task definition. */
  readonly taskDefinition: string;
  readonly desiredCount: number;
  /**
   * The container a task runs as its process; other containers (sidecars) are not run locally.
   * @default - the task definition's only container (an error if it has several)
   */
  readonly containerName?: string;
  /**
   * The service's `loadBalancers`, as CreateService takes them (what DescribeServices shows; the
   * registration itself is {@link LocalEcsOptions.targets}'s).
   * @default - none
   */
  readonly loadBalancers?: readonly { readonly targetGroupArn: string; readonly containerName: string; readonly containerPort: number }[];
}

/** A task as {@link LocalEcs.tasks} lists it: for progress displays and tests. */
export interface LocalTaskSummary {
  readonly taskId: string;
  readonly serviceName: string;
  readonly deploymentId: string;
  readonly taskDefinitionArn: string;
  readonly image: string;
  readonly lastStatus: TaskStatus;
  readonly desiredStatus: 'RUNNING' | 'STOPPED';
  readonly healthStatus: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
  readonly port: number | null;
  readonly pid: number | null;
  readonly stoppedReason: string | null;
}

/**
 * ECS's task lifecycle ("Amazon ECS task lifecycle"): DEACTIVATING is where a task behind a load
 * balancer waits while its target drains; DEPROVISIONING here covers the stop signal and the exit.
 */
type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'DEACTIVATING' | 'DEPROVISIONING' | 'STOPPED';
type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

interface DeploymentState {
  readonly id: string;
  status: 'PRIMARY' | 'ACTIVE';
  readonly taskDefinition: TaskDefinitionRecord;
  desiredCount: number;
  failedTasks: number;
  rolloutState: RolloutState;
  rolloutStateReason: string;
  readonly createdAt: Date;
  updatedAt: Date;
}

interface ServiceState {
  readonly name: string;
  readonly arn: string;
  readonly createdAt: Date;
  readonly containerName: string | undefined;
  readonly loadBalancers: readonly { readonly targetGroupArn: string; readonly containerName: string; readonly containerPort: number }[];
  desiredCount: number;
  /** PRIMARY first, then ACTIVE ones, newest first. */
  deployments: DeploymentState[];
  /** Newest first, at most {@link MAX_EVENTS}. */
  readonly events: { id: string; createdAt: Date; message: string }[];
  steadyAnnounced: boolean;
}

interface TaskState {
  readonly id: string;
  readonly arn: string;
  readonly service: ServiceState;
  readonly deployment: DeploymentState;
  readonly createdAt: Date;
  containerName: string;
  image: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  health: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
  port: number | undefined;
  child: ChildProcess | undefined;
  startedAt: Date | undefined;
  stoppingAt: Date | undefined;
  stoppedAt: Date | undefined;
  stoppedReason: string | undefined;
  stopCode: 'TaskFailedToStart' | 'EssentialContainerExited' | 'ServiceSchedulerInitiated' | undefined;
  exitCode: number | null | undefined;
  containerReason: string | undefined;
  healthFailures: number;
  probing: boolean;
  /** Registered as a target of its service's target group (and not yet deregistered). */
  registered: boolean;
  readonly output: string[];
}

const MAX_EVENTS = 100;
const MAX_OUTPUT_LINES = 50;
const MAX_STOPPED_TASKS = 200;
/** Consecutive failed checks that make a healthy task unhealthy (ECS's default `retries`). */
const HEALTH_RETRIES = 3;

/**
 * The local ECS service. Register it with the local endpoint (`jsonServices`) and give it to the
 * gateway as its {@link TaskEndpoints}.
 *
 * @example
 * const entry = await buildColorApp();
 * const ecs = new LocalEcs({ cluster: 'apps', images: { 'colorapp:v1': { entry } } });
 * const td = ecs.registerTaskDefinition({
 *   family: 'colorapp',
 *   containerDefinitions: [{ name: 'app', image: 'colorapp:v1', environment: [{ name: 'COLOR', value: 'blue' }] }],
 * });
 * ecs.seedService({ serviceName: 'colorapp-blue', taskDefinition: td.taskDefinitionArn, desiredCount: 2 });
 * await ecs.waitUntilSteady('colorapp-blue');
 * ecs.healthyEndpoints('colorapp-blue'); // [{ taskId, host: '127.0.0.1', port }, ...]
 * await ecs.close();
 */
export class LocalEcs implements JsonProtocolService, TaskEndpoints {
  readonly targetPrefix = 'AmazonEC2ContainerServiceV20141113';
  readonly jsonVersion = '1.1' as const;
  readonly operations: Readonly<Record<string, Operation>>;

  private readonly images: LocalImageCatalog;
  private readonly cluster: string;
  private readonly clusterArn: string;
  private readonly arnPrefix: string;
  private readonly healthCheckIntervalMs: number;
  private readonly unhealthyAfterMs: number;
  private readonly failedTasksThreshold: number;
  private readonly stopTimeoutMs: number;
  private readonly host: string;
  private readonly targets: TaskTargetRegistry | undefined;
  private readonly onTaskOutput: ((line: TaskOutputLine) => void) | undefined;
  private readonly taskDefinitions: TaskDefinitionRegistry;
  private readonly services = new Map<string, ServiceState>();
  private readonly tasksById = new Map<string, TaskState>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private readonly killOnExit = () => {
    // Last resort when the process exits without close(): no task may outlive the world.
    for (const task of this.tasksById.values()) if (task.child && isAlive(task.child)) task.child.kill('SIGKILL');
  };
  private closed: Promise<void> | undefined;

  /** @throws Error naming the option when an option is out of range. */
  constructor(options: LocalEcsOptions) {
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '000000000000';
    if (!options.cluster) throw new Error('LocalEcs: cluster must not be empty.');
    this.images = toImageCatalog(options.images);
    this.cluster = options.cluster;
    this.arnPrefix = `arn:aws:ecs:${region}:${accountId}:`;
    this.clusterArn = `${this.arnPrefix}cluster/${options.cluster}`;
    this.healthCheckIntervalMs = positive('healthCheckIntervalMs', options.healthCheckIntervalMs ?? 250);
    this.unhealthyAfterMs = positive('unhealthyAfterMs', options.unhealthyAfterMs ?? 10_000);
    this.failedTasksThreshold = positive('failedTasksThreshold', options.failedTasksThreshold ?? 3);
    this.stopTimeoutMs = positive('stopTimeoutMs', options.stopTimeoutMs ?? 3000);
    this.host = options.host ?? '127.0.0.1';
    this.targets = options.targets;
    this.onTaskOutput = options.onTaskOutput;
    this.taskDefinitions = new TaskDefinitionRegistry(`${this.arnPrefix}task-definition/`);
    this.operations = {
      RegisterTaskDefinition: async (input) => this.registerTaskDefinitionOperation(input),
      DescribeTaskDefinition: async (input) => this.describeTaskDefinitionOperation(input),
      ListTaskDefinitions: async (input) => this.listTaskDefinitions(input),
      DescribeServices: async (input) => this.describeServices(input),
      ListServices: async (input) => this.listServices(input),
      ListClusters: async (input) => this.listClusters(input),
      DescribeClusters: async (input) => this.describeClusters(input),
      UpdateService: async (input) => this.updateService(input),
      ListTasks: async (input) => this.listTasks(input),
      DescribeTasks: async (input) => this.describeTasks(input),
    };
    supportFiles();
    process.on('exit', this.killOnExit);
    this.timer = setInterval(() => this.tick(), this.healthCheckIntervalMs);
    this.timer.unref();
  }

  // --- The world's API --------------------------------------------------------------------------

  /** Registers a task definition revision (RegisterTaskDefinition); returns the `taskDefinition` ECS would. */
  registerTaskDefinition(input: Record<string, unknown>): Record<string, unknown> & { taskDefinitionArn: string } {
    const record = this.taskDefinitions.register(input);
    return describeTaskDefinition(record) as Record<string, unknown> & { taskDefinitionArn: string };
  }

  /**
   * Creates a service with one PRIMARY deployment and starts its tasks (what CreateService does).
   *
   * @throws Error when the service exists, the task definition is unknown, or the container is ambiguous.
   */
  seedService(options: SeedServiceOptions): Record<string, unknown> {
    this.assertOpen();
    const { serviceName, desiredCount } = options;
    if (this.services.has(serviceName)) throw new Error(`LocalEcs: service ${serviceName} already exists.`);
    if (!Number.isInteger(desiredCount) || desiredCount < 0) {
      throw new Error(`LocalEcs: desiredCount of ${serviceName} must be a whole number >= 0, got ${desiredCount}.`);
    }
    const taskDefinition = this.taskDefinitions.find(options.taskDefinition);
    if (!taskDefinition) throw new Error(`LocalEcs: task definition ${options.taskDefinition} is not registered.`);
    if (options.containerName === undefined && taskDefinition.containers.length !== 1) {
      throw new Error(
        `LocalEcs: ${taskDefinition.arn} has ${taskDefinition.containers.length} containers; say which one runs (containerName).`,
      );
    }
    const now = new Date();
    const service: ServiceState = {
      name: serviceName,
      arn: `${this.arnPrefix}service/${this.cluster}/${serviceName}`,
      createdAt: now,
      containerName: options.containerName,
      loadBalancers: options.loadBalancers ?? [],
      desiredCount,
      deployments: [],
      events: [],
      steadyAnnounced: false,
    };
    service.deployments.push(newDeployment(taskDefinition, desiredCount, now));
    this.services.set(serviceName, service);
    this.reconcile(service);
    return this.serviceJson(service);
  }

  /** The healthy tasks of `serviceName` now (all deployments), oldest first; [] for an unknown service. */
  healthyEndpoints(serviceName: string): TaskEndpoint[] {
    const out: TaskEndpoint[] = [];
    for (const task of this.tasksById.values()) {
      if (task.service.name === serviceName && isServing(task) && task.port !== undefined) {
        out.push({ taskId: task.id, host: this.host, port: task.port });
      }
    }
    return out;
  }

  /** Every task of `serviceName` (or of all services), stopped ones included, oldest first. */
  tasks(serviceName?: string): LocalTaskSummary[] {
    return [...this.tasksById.values()]
      .filter((task) => serviceName === undefined || task.service.name === serviceName)
      .map((task) => ({
        taskId: task.id,
        serviceName: task.service.name,
        deploymentId: task.deployment.id,
        taskDefinitionArn: task.deployment.taskDefinition.arn,
        image: task.image,
        lastStatus: task.lastStatus,
        desiredStatus: task.desiredStatus,
        healthStatus: task.health,
        port: task.port ?? null,
        pid: task.child?.pid ?? null,
        stoppedReason: task.stoppedReason ?? null,
      }));
  }

  /** The last lines a task wrote (stdout and stderr, oldest first); [] for an unknown task. */
  taskLogs(taskId: string): string[] {
    return [...(this.tasksById.get(taskId)?.output ?? [])];
  }

  /**
   * Kills a task's process as a crash would (no drain): ECS then sees the essential container
   * exit, counts a failed task and starts a replacement. For failure drills and tests.
   *
   * @returns false when the task does not exist or has no live process.
   */
  killTask(taskId: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const child = this.tasksById.get(taskId)?.child;
    if (!child || !isAlive(child)) return false;
    return child.kill(signal);
  }

  /**
   * Resolves once `serviceName` is steady: one deployment, COMPLETED, all desired tasks healthy.
   *
   * @throws Error when the deployment FAILED, or on timeout, with the service's state and the
   *   last lines of its tasks' output.
   */
  async waitUntilSteady(serviceName: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.assertOpen();
      const service = this.services.get(serviceName);
      if (!service) throw new Error(`LocalEcs: service ${serviceName} does not exist.`);
      const [primary] = service.deployments;
      const running = this.counts(service.deployments).runningCount;
      if (service.deployments.length === 1 && primary.rolloutState === 'COMPLETED' && running === service.desiredCount) return;
      if (primary.rolloutState === 'FAILED' || Date.now() >= deadline) {
        const outputs = this.tasks(serviceName)
          .slice(-3)
          .map((task) => `task ${task.taskId} (${task.lastStatus}${task.stoppedReason ? `: ${task.stoppedReason}` : ''}): ${this.taskLogs(task.taskId).slice(-3).join(' | ')}`);
        throw new Error(
          `LocalEcs: service ${serviceName} did not become steady ` +
            (primary.rolloutState === 'FAILED' ? `(deployment ${primary.id} FAILED: ${primary.rolloutStateReason})` : `within ${timeoutMs} ms`) +
            `: ${running}/${service.desiredCount} running, ${service.deployments.length} deployment(s), rollout ${primary.rolloutState}. ` +
            outputs.join('; '),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * Stops every task (SIGTERM, then SIGKILL after `stopTimeoutMs`) and the scheduler. Resolves
   * when every process has exited. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      for (const task of this.tasksById.values()) {
        // Shutting the world down: no deregistration delay to wait for.
        if (task.lastStatus !== 'STOPPED') this.stopTask(task, 'Local ECS shut down', 'ServiceSchedulerInitiated', { drain: false });
      }
      await Promise.all([...this.stopping]);
      process.off('exit', this.killOnExit);
    })();
    return this.closed;
  }

  // --- Operations -------------------------------------------------------------------------------

  private registerTaskDefinitionOperation(input: Record<string, unknown>): Record<string, unknown> {
    const record = this.taskDefinitions.register(input);
    return { taskDefinition: describeTaskDefinition(record), tags: record.tags.map((t) => ({ ...t })) };
  }

  private describeTaskDefinitionOperation(input: Record<string, unknown>): Record<string, unknown> {
    const reference = requiredString(input, 'taskDefinition');
    const include = optionalStringList(input, 'include') ?? [];
    const record = this.taskDefinitions.find(reference);
    // ECS's own words for a family or revision that does not exist (what the handlers match on).
    if (!record) throw new AwsServiceError('ClientException', 'Unable to describe task definition.');
    const out: Record<string, unknown> = { taskDefinition: describeTaskDefinition(record) };
    if (include.includes('TAGS')) out.tags = record.tags.map((t) => ({ ...t }));
    return out;
  }

  private listTaskDefinitions(input: Record<string, unknown>): Record<string, unknown> {
    const familyPrefix = optionalString(input, 'familyPrefix');
    const status = optionalString(input, 'status') ?? 'ACTIVE';
    const sort = optionalString(input, 'sort') ?? 'ASC';
    const maxResults = optionalInteger(input, 'maxResults', 1, 100) ?? 100;
    const offset = decodeToken(optionalString(input, 'nextToken'));
    let arns = this.taskDefinitions
      .all()
      .filter((record) => record.status === status && (familyPrefix === undefined || record.family.startsWith(familyPrefix)))
      .map((record) => record.arn);
    if (sort === 'DESC') arns = arns.reverse();
    return page('taskDefinitionArns', arns, offset, maxResults);
  }

  private describeServices(input: Record<string, unknown>): Record<string, unknown> {
    this.checkCluster(input);
    const names = optionalStringList(input, 'services');
    if (!names || names.length === 0 || names.length > 10) {
      throw new AwsServiceError('InvalidParameterException', 'services must name from 1 to 10 services.');
    }
    const services: Record<string, unknown>[] = [];
    const failures: Record<string, unknown>[] = [];
    for (const reference of names) {
      const service = this.findService(reference);
      if (service) services.push(this.serviceJson(service));
      else failures.push({ arn: reference.startsWith('arn:') ? reference : `${this.arnPrefix}service/${this.cluster}/${reference}`, reason: 'MISSING' });
    }
    return { services, failures };
  }

  /** ListClusters: the one cluster (ECS API reference: `clusterArns`, paged by `maxResults` up to 100). */
  private listClusters(input: Record<string, unknown>): Record<string, unknown> {
    const maxResults = optionalInteger(input, 'maxResults', 1, 100) ?? 100;
    return page('clusterArns', [this.clusterArn], decodeToken(optionalString(input, 'nextToken')), maxResults);
  }

  /**
   * DescribeClusters by name or ARN (`default` when none is given, as ECS does); one it does not
   * know is a failure with reason `MISSING`, not an error (ECS API reference, DescribeClusters).
   */
  private describeClusters(input: Record<string, unknown>): Record<string, unknown> {
    const asked = optionalStringList(input, 'clusters') ?? ['default'];
    const clusters: Record<string, unknown>[] = [];
    const failures: Record<string, unknown>[] = [];
    for (const reference of asked) {
      if (reference !== this.cluster && reference !== this.clusterArn) {
        failures.push({ arn: reference.startsWith('arn:') ? reference : `${this.arnPrefix}cluster/${reference}`, reason: 'MISSING' });
        continue;
      }
      let runningTasksCount = 0;
      let pendingTasksCount = 0;
      for (const task of this.tasksById.values()) {
        if (task.lastStatus === 'STOPPED') continue;
        if (task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING') pendingTasksCount += 1;
        else runningTasksCount += 1;
      }
      clusters.push({
        clusterArn: this.clusterArn,
        clusterName: this.cluster,
        status: 'ACTIVE',
        registeredContainerInstancesCount: 0,
        runningTasksCount,
        pendingTasksCount,
        activeServicesCount: this.services.size,
        statistics: [],
        tags: [],
        settings: [{ name: 'containerInsights', value: 'disabled' }],
        capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
        defaultCapacityProviderStrategy: [],
      });
    }
    return { clusters, failures };
  }

  private listServices(input: Record<string, unknown>): Record<string, unknown> {
    this.checkCluster(input);
    const maxResults = optionalInteger(input, 'maxResults', 1, 100) ?? 10;
    const offset = decodeToken(optionalString(input, 'nextToken'));
    return page('serviceArns', [...this.services.values()].map((s) => s.arn), offset, maxResults);
  }

  private updateService(input: Record<string, unknown>): Record<string, unknown> {
    this.assertOpen();
    this.checkCluster(input);
    const reference = requiredString(input, 'service');
    const desiredCount = optionalInteger(input, 'desiredCount', 0, 5000);
    const taskDefinitionReference = optionalString(input, 'taskDefinition');
    const force = optionalBoolean(input, 'forceNewDeployment') ?? false;
    const service = this.findService(reference);
    if (!service) throw new AwsServiceError('ServiceNotFoundException', 'Service not found.');
    let taskDefinition: TaskDefinitionRecord | undefined;
    if (taskDefinitionReference !== undefined) {
      taskDefinition = this.taskDefinitions.find(taskDefinitionReference);
      if (!taskDefinition) throw new AwsServiceError('ClientException', 'TaskDefinition not found.');
    }

    const now = new Date();
    const [primary] = service.deployments;
    if (desiredCount !== undefined) service.desiredCount = desiredCount;
    if ((taskDefinition && taskDefinition.arn !== primary.taskDefinition.arn) || force) {
      primary.status = 'ACTIVE';
      primary.updatedAt = now;
      service.deployments.unshift(newDeployment(taskDefinition ?? primary.taskDefinition, service.desiredCount, now));
      service.steadyAnnounced = false;
    } else if (desiredCount !== undefined && desiredCount !== primary.desiredCount) {
      primary.desiredCount = desiredCount;
      primary.updatedAt = now;
      service.steadyAnnounced = false;
    }
    this.reconcile(service);
    return { service: this.serviceJson(service) };
  }

  private listTasks(input: Record<string, unknown>): Record<string, unknown> {
    this.checkCluster(input);
    const serviceName = optionalString(input, 'serviceName');
    const family = optionalString(input, 'family');
    const desiredStatus = optionalString(input, 'desiredStatus') ?? 'RUNNING';
    const maxResults = optionalInteger(input, 'maxResults', 1, 100) ?? 100;
    const offset = decodeToken(optionalString(input, 'nextToken'));
    const service = serviceName === undefined ? undefined : this.findService(serviceName);
    if (serviceName !== undefined && !service) throw new AwsServiceError('ServiceNotFoundException', 'Service not found.');
    const arns = [...this.tasksById.values()]
      .filter(
        (task) =>
          task.desiredStatus === desiredStatus &&
          (service === undefined || task.service === service) &&
          (family === undefined || task.deployment.taskDefinition.family === family),
      )
      .map((task) => task.arn);
    return page('taskArns', arns, offset, maxResults);
  }

  private describeTasks(input: Record<string, unknown>): Record<string, unknown> {
    this.checkCluster(input);
    const references = optionalStringList(input, 'tasks');
    if (!references || references.length === 0 || references.length > 100) {
      throw new AwsServiceError('InvalidParameterException', 'tasks must name from 1 to 100 tasks.');
    }
    const tasks: Record<string, unknown>[] = [];
    const failures: Record<string, unknown>[] = [];
    for (const reference of references) {
      const task = this.tasksById.get(reference.slice(reference.lastIndexOf('/') + 1));
      if (task && (task.arn === reference || task.id === reference)) tasks.push(this.taskJson(task));
      else failures.push({ arn: reference, reason: 'MISSING' });
    }
    return { tasks, failures };
  }

  // --- Scheduler ------------------------------------------------------------------------------

  /** Health checks, the unhealthy-task timeout, then the scheduler for every service. */
  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const task of this.tasksById.values()) {
      if (task.desiredStatus !== 'RUNNING') continue;
      if (task.health !== 'HEALTHY' && now - task.createdAt.getTime() > this.unhealthyAfterMs) {
        this.failTask(task, `Task failed container health checks: not healthy within ${this.unhealthyAfterMs} ms of launch`);
        continue;
      }
      if (task.lastStatus === 'RUNNING' && task.port !== undefined && !task.probing) this.probe(task, task.port);
    }
    for (const service of this.services.values()) this.reconcile(service);
  }

  private probe(task: TaskState, port: number): void {
    task.probing = true;
    void probeHealth(this.host, port, Math.max(200, Math.min(2000, this.healthCheckIntervalMs * 4))).then((ok) => {
      task.probing = false;
      if (this.closed || task.desiredStatus !== 'RUNNING') return;
      if (ok) {
        task.healthFailures = 0;
        // Behind a load balancer, ECS counts a task healthy once the target group does too.
        if (task.health !== 'HEALTHY' && !this.targetHealthy(task)) return;
        if (task.health !== 'HEALTHY') {
          task.health = 'HEALTHY';
          this.reconcile(task.service);
        }
        return;
      }
      task.healthFailures += 1;
      if (task.health === 'HEALTHY' && task.healthFailures >= HEALTH_RETRIES) {
        this.failTask(task, `Task failed container health checks: ${HEALTH_RETRIES} consecutive checks failed`);
        this.reconcile(task.service);
      }
    });
  }

  /**
   * Brings one service towards its deployments' desired state. Synchronous and idempotent: it
   * runs on every tick and after every change.
   */
  private reconcile(service: ServiceState): void {
    if (this.closed) return;
    const [primary, ...older] = service.deployments;
    const now = new Date();

    if (primary.rolloutState === 'IN_PROGRESS' && primary.failedTasks >= this.failedTasksThreshold) {
      primary.rolloutState = 'FAILED';
      primary.rolloutStateReason = `ECS deployment circuit breaker: tasks failed to start.`;
      primary.updatedAt = now;
      this.addEvent(service, `(service ${service.name}) (deployment ${primary.id}) deployment failed: tasks failed to start.`);
      // A failed deployment launches nothing more; its tasks that never got healthy go, the
      // previous deployment's tasks stay and keep serving.
      for (const task of this.liveTasks(primary)) {
        if (task.health !== 'HEALTHY') this.stopTask(task, `Deployment ${primary.id} failed`, 'ServiceSchedulerInitiated');
      }
    }
    if (primary.rolloutState === 'FAILED') {
      // Launches nothing, but a scale-in still applies; at zero the service wants no task at all.
      const live = this.liveTasks(primary);
      for (const task of live.slice(primary.desiredCount)) this.stopTask(task, `Scaling activity initiated by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
      if (service.desiredCount === 0) {
        for (const deployment of older) {
          for (const task of this.liveTasks(deployment)) this.stopTask(task, `Scaling activity initiated by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
        }
      }
      return;
    }

    const live = this.liveTasks(primary);
    if (live.length < primary.desiredCount) {
      const started = Array.from({ length: primary.desiredCount - live.length }, () => this.launchTask(service, primary));
      this.addEvent(service, `(service ${service.name}) has started ${started.length} tasks: ${started.map((t) => `(task ${t.id})`).join(' ')}.`);
    } else if (live.length > primary.desiredCount) {
      // Scale in: unhealthy tasks first, then the newest.
      const excess = [...live]
        .sort((a, b) => Number(a.health === 'HEALTHY') - Number(b.health === 'HEALTHY') || b.createdAt.getTime() - a.createdAt.getTime())
        .slice(0, live.length - primary.desiredCount);
      for (const task of excess) this.stopTask(task, `Scaling activity initiated by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
      this.addEvent(service, `(service ${service.name}) has stopped ${excess.length} running tasks: ${excess.map((t) => `(task ${t.id})`).join(' ')}.`);
    }

    const healthy = this.liveTasks(primary).filter((task) => task.health === 'HEALTHY').length;
    if (healthy < primary.desiredCount) return;

    // minimumHealthyPercent 100: the old tasks go only once the new ones all serve.
    const drained: TaskState[] = [];
    for (const deployment of older) {
      for (const task of this.liveTasks(deployment)) {
        this.stopTask(task, `Scaling activity initiated by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
        drained.push(task);
      }
    }
    if (drained.length > 0) {
      this.addEvent(service, `(service ${service.name}) has stopped ${drained.length} running tasks: ${drained.map((t) => `(task ${t.id})`).join(' ')}.`);
    }
    service.deployments = [primary, ...older.filter((d) => this.tasksOf(d).some((task) => task.lastStatus !== 'STOPPED'))];
    if (service.deployments.length > 1) return;

    if (primary.rolloutState === 'IN_PROGRESS') {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      primary.updatedAt = now;
      this.addEvent(service, `(service ${service.name}) (deployment ${primary.id}) deployment completed.`);
    }
    if (!service.steadyAnnounced && this.counts(service.deployments).runningCount === service.desiredCount) {
      service.steadyAnnounced = true;
      this.addEvent(service, `(service ${service.name}) has reached a steady state.`);
    }
  }

  /** Creates a task of `deployment` and starts its process in the background. */
  private launchTask(service: ServiceState, deployment: DeploymentState): TaskState {
    const id = randomBytes(16).toString('hex');
    const taskDefinition = deployment.taskDefinition;
    const containerName = service.containerName ?? taskDefinition.containers[0]?.name ?? '';
    const container = taskDefinition.containers.find((c) => c.name === containerName);
    const task: TaskState = {
      id,
      arn: `${this.arnPrefix}task/${this.cluster}/${id}`,
      service,
      deployment,
      createdAt: new Date(),
      containerName,
      image: container?.image ?? '',
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      health: 'UNKNOWN',
      port: undefined,
      child: undefined,
      startedAt: undefined,
      stoppingAt: undefined,
      stoppedAt: undefined,
      stoppedReason: undefined,
      stopCode: undefined,
      exitCode: undefined,
      containerReason: undefined,
      healthFailures: 0,
      probing: false,
      registered: false,
      output: [],
    };
    this.tasksById.set(id, task);
    this.forgetOldStoppedTasks();

    if (!container) {
      this.failToStart(task, `Task definition ${taskDefinition.arn} has no container named '${containerName}'`);
      return task;
    }
    const image = this.images.resolve(container.image);
    if (!image) {
      this.failToStart(
        task,
        `CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ${container.image}: not found`,
      );
      return task;
    }
    void this.startProcess(task, image, container.environment);
    return task;
  }

  private async startProcess(task: TaskState, image: LocalImage, environment: Readonly<Record<string, string>>): Promise<void> {
    let port: number;
    try {
      port = await allocatePort(this.host);
    } catch (error) {
      this.failToStart(task, `ResourceInitializationError: ${(error as Error).message}`);
      return;
    }
    if (this.closed || task.desiredStatus !== 'RUNNING') {
      this.markStopped(task, null);
      return;
    }
    const files = supportFiles();
    // Docker's order: the image's ENV, overridden by the container definition's environment.
    // HOST and PORT are the local world's port mapping: every task shares loopback, so each gets
    // its own port whatever the task definition says (the CDK's says 8080).
    const env = {
      NODE_ENV: 'production',
      VERSION: versionOf(task.image),
      ...image.env,
      ...environment,
      HOST: this.host,
      PORT: String(port),
    };
    const child = spawnTask({
      script: image.crash ? files.crash : image.entry,
      preload: files.guard,
      env,
      onLine: (stream, line) => this.recordOutput(task, stream, line),
    });
    task.child = child;
    task.port = port;
    task.lastStatus = 'RUNNING';
    task.startedAt = new Date();
    if (this.targets) {
      this.targets.register(task.service.name, this.endpointOf(task, port));
      task.registered = true;
    }
    child.once('error', (error) => {
      this.recordOutput(task, 'stderr', `failed to start: ${error.message}`);
      // A process that never started gets no 'exit' event; make sure the task is seen as stopped.
      if (child.pid === undefined) this.onExit(task, null);
    });
    // A process ended by a signal reports 128 + its number, as Docker (and so ECS) shows it: 137 after SIGKILL.
    child.once('exit', (code, signal) => this.onExit(task, code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : null)));
  }

  private onExit(task: TaskState, code: number | null): void {
    if (task.lastStatus === 'STOPPED') return;
    if (task.desiredStatus === 'RUNNING') {
      // Nobody asked it to stop: the essential container exited (a crash).
      task.desiredStatus = 'STOPPED';
      task.stoppedReason = 'Essential container in task exited';
      task.stopCode = 'EssentialContainerExited';
      task.health = 'UNHEALTHY';
      task.deployment.failedTasks += 1;
      const lastError = [...task.output].reverse().find((line) => line.startsWith('[stderr]'));
      if (lastError) task.containerReason = lastError.slice('[stderr] '.length, 255 + '[stderr] '.length);
      this.addEvent(task.service, `(service ${task.service.name}) (task ${task.id}) stopped: essential container exited with code ${code}.`);
    }
    this.markStopped(task, code);
    // A task that exits on its own leaves the target group too (draining, without anyone waiting).
    void this.deregister(task);
    this.reconcile(task.service);
  }

  private markStopped(task: TaskState, exitCode: number | null): void {
    task.lastStatus = 'STOPPED';
    task.desiredStatus = 'STOPPED';
    task.stoppedAt ??= new Date();
    task.exitCode = exitCode;
  }

  /** A task that never got a process: stopped at once, and a failed task for the circuit breaker. */
  private failToStart(task: TaskState, reason: string): void {
    task.desiredStatus = 'STOPPED';
    task.stoppedReason = reason;
    task.containerReason = reason;
    task.stopCode = 'TaskFailedToStart';
    task.health = 'UNHEALTHY';
    task.deployment.failedTasks += 1;
    this.markStopped(task, null);
    this.addEvent(task.service, `(service ${task.service.name}) was unable to start task ${task.id}: ${reason}.`);
    // Not from inside reconcile(): the next tick retries, like ECS's launch back-off.
  }

  /** Stops a running task because it is unhealthy: counts as a failed task. */
  private failTask(task: TaskState, reason: string): void {
    task.deployment.failedTasks += 1;
    task.health = 'UNHEALTHY';
    this.addEvent(task.service, `(service ${task.service.name}) (task ${task.id}) ${reason.charAt(0).toLowerCase()}${reason.slice(1)}.`);
    this.stopTask(task, reason, 'ServiceSchedulerInitiated');
  }

  /**
   * Asks a task to stop: out of the endpoints at once; behind a load balancer, deregistered and
   * DEACTIVATING until its draining ends (`drain: false` skips that wait, for shutdown); then
   * SIGTERM, and SIGKILL after `stopTimeoutMs`.
   */
  private stopTask(task: TaskState, reason: string, stopCode: TaskState['stopCode'], options: { drain?: boolean } = {}): void {
    if (task.desiredStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stoppedReason = reason;
    task.stopCode = stopCode;
    task.stoppingAt = new Date();
    const child = task.child;
    if (!child) return; // Still provisioning: startProcess sees desiredStatus and does not spawn.
    task.lastStatus = task.registered && options.drain !== false ? 'DEACTIVATING' : 'DEPROVISIONING';
    const drained = this.deregister(task);
    // The container's own stopTimeout, else the world's (Fargate's default is 30 s).
    const container = task.deployment.taskDefinition.containers.find((c) => c.name === task.containerName);
    const graceMs = container?.stopTimeoutSeconds !== undefined ? container.stopTimeoutSeconds * 1000 : this.stopTimeoutMs;
    const stopped = (options.drain === false ? Promise.resolve() : drained)
      .then(() => {
        if (task.lastStatus !== 'STOPPED') task.lastStatus = 'DEPROVISIONING';
        return stopProcess(child, graceMs);
      })
      .then(() => {
        this.stopping.delete(stopped);
        // 'exit' normally marked it already; this covers a process that ignored even SIGKILL's bound.
        if (task.lastStatus !== 'STOPPED') this.markStopped(task, child.exitCode);
      });
    this.stopping.add(stopped);
  }

  /** Deregisters a registered task from its target group; resolves when its draining has ended. */
  private deregister(task: TaskState): Promise<void> {
    if (!this.targets || !task.registered || task.port === undefined) return Promise.resolve();
    task.registered = false;
    return this.targets.deregister(task.service.name, this.endpointOf(task, task.port)).catch((error: unknown) => {
      this.recordOutput(task, 'stderr', `deregistration failed: ${(error as Error).message}`);
    });
  }

  private targetHealthy(task: TaskState): boolean {
    if (!this.targets || task.port === undefined) return true;
    return this.targets.isHealthy(task.service.name, this.endpointOf(task, task.port));
  }

  private endpointOf(task: TaskState, port: number): TaskEndpoint {
    return { taskId: task.id, host: this.host, port };
  }

  private recordOutput(task: TaskState, stream: 'stdout' | 'stderr', line: string): void {
    task.output.push(`[${stream}] ${line}`);
    if (task.output.length > MAX_OUTPUT_LINES) task.output.shift();
    this.onTaskOutput?.({ serviceName: task.service.name, taskId: task.id, stream, line });
  }

  private forgetOldStoppedTasks(): void {
    const stopped = [...this.tasksById.values()].filter((task) => task.lastStatus === 'STOPPED');
    for (const task of stopped.slice(0, Math.max(0, stopped.length - MAX_STOPPED_TASKS))) this.tasksById.delete(task.id);
  }

  // --- Views ----------------------------------------------------------------------------------

  private tasksOf(deployment: DeploymentState): TaskState[] {
    return [...this.tasksById.values()].filter((task) => task.deployment === deployment);
  }

  /** Tasks the deployment still wants running (starting, unhealthy or healthy). */
  private liveTasks(deployment: DeploymentState): TaskState[] {
    return this.tasksOf(deployment).filter((task) => task.desiredStatus === 'RUNNING');
  }

  private counts(deployments: readonly DeploymentState[]): { runningCount: number; pendingCount: number } {
    let runningCount = 0;
    let pendingCount = 0;
    for (const deployment of deployments) {
      for (const task of this.tasksOf(deployment)) {
        // Running follows live processes that passed their health check, including ones being
        // stopped (they still run until they exit); pending is what is wanted but not healthy yet.
        if (task.health === 'HEALTHY' && (task.lastStatus === 'RUNNING' || task.lastStatus === 'DEACTIVATING' || task.lastStatus === 'DEPROVISIONING')) runningCount += 1;
        else if (task.desiredStatus === 'RUNNING') pendingCount += 1;
      }
    }
    return { runningCount, pendingCount };
  }

  private serviceJson(service: ServiceState): Record<string, unknown> {
    const [primary] = service.deployments;
    return {
      serviceArn: service.arn,
      serviceName: service.name,
      clusterArn: this.clusterArn,
      loadBalancers: service.loadBalancers.map((lb) => ({ ...lb })),
      serviceRegistries: [],
      status: 'ACTIVE',
      desiredCount: service.desiredCount,
      ...this.counts(service.deployments),
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      platformFamily: 'Linux',
      taskDefinition: primary.taskDefinition.arn,
      deploymentConfiguration: {
        deploymentCircuitBreaker: { enable: true, rollback: false },
        maximumPercent: 200,
        minimumHealthyPercent: 100,
      },
      deployments: service.deployments.map((deployment) => ({
        id: deployment.id,
        status: deployment.status,
        taskDefinition: deployment.taskDefinition.arn,
        desiredCount: deployment.desiredCount,
        ...this.counts([deployment]),
        failedTasks: deployment.failedTasks,
        createdAt: epochSeconds(deployment.createdAt),
        updatedAt: epochSeconds(deployment.updatedAt),
        launchType: 'FARGATE',
        platformVersion: '1.4.0',
        platformFamily: 'Linux',
        rolloutState: deployment.rolloutState,
        rolloutStateReason: deployment.rolloutStateReason,
      })),
      events: service.events.map((event) => ({ id: event.id, createdAt: epochSeconds(event.createdAt), message: event.message })),
      createdAt: epochSeconds(service.createdAt),
      placementConstraints: [],
      placementStrategy: [],
      schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'ECS' },
      enableECSManagedTags: false,
      propagateTags: 'NONE',
      enableExecuteCommand: false,
    };
  }

  private taskJson(task: TaskState): Record<string, unknown> {
    const optionalDate = (date: Date | undefined) => (date ? epochSeconds(date) : undefined);
    return {
      taskArn: task.arn,
      clusterArn: this.clusterArn,
      taskDefinitionArn: task.deployment.taskDefinition.arn,
      group: `service:${task.service.name}`,
      startedBy: task.deployment.id,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      healthStatus: task.health,
      launchType: 'FARGATE',
      createdAt: epochSeconds(task.createdAt),
      startedAt: optionalDate(task.startedAt),
      stoppingAt: optionalDate(task.stoppingAt),
      stoppedAt: optionalDate(task.stoppedAt),
      stoppedReason: task.stoppedReason,
      stopCode: task.stopCode,
      containers: [
        {
          taskArn: task.arn,
          name: task.containerName,
          image: task.image,
          lastStatus: task.lastStatus === 'DEPROVISIONING' || task.lastStatus === 'DEACTIVATING' ? 'RUNNING' : task.lastStatus,
          exitCode: task.exitCode ?? undefined,
          reason: task.containerReason,
          healthStatus: task.health,
          networkBindings: task.port === undefined ? [] : [{ bindIP: this.host, containerPort: task.port, hostPort: task.port, protocol: 'tcp' }],
        },
      ],
      version: 1,
    };
  }

  // --- Helpers --------------------------------------------------------------------------------

  private findService(reference: string): ServiceState | undefined {
    const name = reference.startsWith('arn:') ? reference.slice(reference.lastIndexOf('/') + 1) : reference;
    const service = this.services.get(name);
    return service && (!reference.startsWith('arn:') || service.arn === reference) ? service : undefined;
  }

  /** ECS's default cluster is `default`; any cluster but ours is not found. */
  private checkCluster(input: Record<string, unknown>): void {
    const cluster = optionalString(input, 'cluster') ?? 'default';
    if (cluster !== this.cluster && cluster !== this.clusterArn) {
      throw new AwsServiceError('ClusterNotFoundException', 'Cluster not found.');
    }
  }

  private addEvent(service: ServiceState, message: string): void {
    service.events.unshift({ id: randomUUID(), createdAt: new Date(), message });
    if (service.events.length > MAX_EVENTS) service.events.length = MAX_EVENTS;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('LocalEcs is closed.');
  }
}

function newDeployment(taskDefinition: TaskDefinitionRecord, desiredCount: number, now: Date): DeploymentState {
  // ECS deployment ids look like `ecs-svc/` and 19 digits.
  const id = `ecs-svc/${String(randomInt(1, 10 ** 9)).padStart(9, '0')}${String(randomInt(0, 10 ** 10)).padStart(10, '0')}`;
  return {
    id,
    status: 'PRIMARY',
    taskDefinition,
    desiredCount,
    failedTasks: 0,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: `ECS deployment ${id} in progress.`,
    createdAt: now,
    updatedAt: now,
  };
}

/** Healthy and wanted: what runningCount counts and the gateway may send traffic to. */
function isServing(task: TaskState): boolean {
  return task.desiredStatus === 'RUNNING' && task.lastStatus === 'RUNNING' && task.health === 'HEALTHY';
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function page(field: string, items: string[], offset: number, maxResults: number): Record<string, unknown> {
  const out: Record<string, unknown> = { [field]: items.slice(offset, offset + maxResults) };
  if (offset + maxResults < items.length) out.nextToken = encodeToken(offset + maxResults);
  return out;
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`LocalEcs: ${name} must be a positive number, got ${value}.`);
  return value;
}
