/**
 * A small, stateful, in-memory AWS for path tests: SSM parameters, ECS services and task
 * definitions, one App Mesh route, CloudWatch alarms and metrics, and Step Functions task
 * tokens. It sits behind aws-sdk-client-mock, so the real handlers send real SDK commands and
 * the tests assert on what the world looks like afterwards (weights, state, services, lock).
 */
import {
  AppMeshClient,
  DescribeRouteCommand,
  UpdateRouteCommand,
  type RouteSpec,
} from '@aws-sdk/client-app-mesh';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type Deployment,
  type Service,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { ENVOY_METRICS } from '../../lambdas/shared/envoy-metrics';

/** An AWS-shaped error: the SDK's exceptions carry the error code as `name`. */
export function awsError(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** How the fake ECS rolls out a new deployment of a service. */
export type RolloutBehaviour = 'completes' | 'fails' | 'never-stabilises';

/** Traffic the fake CloudWatch reports for one colour's ingress listener, over any window. */
export interface ColourTraffic {
  requests: number;
  errors5xx: number;
  p99LatencyMs: number | null;
}

/** A pending `.waitForTaskToken` task: resolved or rejected by SendTaskSuccess/Failure. */
interface PendingToken {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** What one UpdateRoute set, by colour (virtual node name -> weight). */
export type WeightsByNode = Record<string, number>;

export class FakeAws {
  readonly ssm = mockClient(SSMClient);
  readonly ecs = mockClient(ECSClient);
  readonly appmesh = mockClient(AppMeshClient);
  readonly cloudwatch = mockClient(CloudWatchClient);
  readonly sfn = mockClient(SFNClient);

  /** SSM parameters by name. */
  readonly parameters = new Map<string, { value: string; version: number }>();
  /** ECS services by name. */
  readonly services = new Map<string, Service>();
  /** Task definitions by ARN, with their tags. */
  readonly taskDefinitions = new Map<string, { taskDefinition: TaskDefinition; tags: Tag[] }>();
  /** Rollout behaviour per ECS service name (default: completes on the next describe). */
  readonly rollout = new Map<string, RolloutBehaviour>();
  /** The route, as App Mesh would describe it. */
  route!: { meshName: string; virtualRouterName: string; routeName: string; spec: RouteSpec; version: number };
  /** Every weight set by UpdateRoute, in order. */
  readonly weightHistory: WeightsByNode[] = [];
  /** Errors the next UpdateRoute calls throw, one per call, before any succeeds. */
  readonly updateRouteFailures: Error[] = [];
  /** When set, every UpdateRoute throws this (a rollback that cannot complete). */
  updateRouteAlwaysFails: Error | null = null;
  /** When set for a parameter name, every DeleteParameter of it throws this (e.g. a lock that cannot be released). */
  readonly deleteParameterFailures = new Map<string, Error>();
  /** When set for an ECS service name, every UpdateService of it throws this (e.g. a scale-down that fails). */
  readonly updateServiceFailures = new Map<string, Error>();
  /** Alarm states by name. */
  readonly alarms = new Map<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>();
  /** Traffic per colour the metrics report. */
  readonly traffic = new Map<string, ColourTraffic>();
  /** Execution status per ARN for DescribeExecution (default RUNNING). */
  readonly executions = new Map<string, string>();
  /** Task tokens waiting for a callback. */
  private readonly tokens = new Map<string, PendingToken>();
  private tokenCounter = 0;
  private clock = Date.UTC(2026, 10, 22, 12, 0, 0);

  constructor() {
    this.wireSsm();
    this.wireEcs();
    this.wireAppMesh();
    this.wireCloudWatch();
    this.wireSfn();
  }

  /** Removes every mock; call in afterAll. */
  restore(): void {
    for (const mock of [this.ssm, this.ecs, this.appmesh, this.cloudwatch, this.sfn]) mock.restore();
  }

  // ---------- SSM ----------
  /** Parses a JSON parameter, or undefined. */
  json<T = unknown>(name: string): T | undefined {
    const p = this.parameters.get(name);
    return p ? (JSON.parse(p.value) as T) : undefined;
  }

  putJson(name: string, value: unknown): void {
    const version = (this.parameters.get(name)?.version ?? 0) + 1;
    this.parameters.set(name, { value: JSON.stringify(value), version });
  }

  private wireSsm(): void {
    this.ssm.on(GetParameterCommand).callsFake(async (input) => {
      const p = this.parameters.get(input.Name);
      if (!p) throw awsError('ParameterNotFound', `Parameter ${input.Name} not found.`);
      return { Parameter: { Name: input.Name, Value: p.value, Version: p.version, Type: 'String' } };
    });
    this.ssm.on(PutParameterCommand).callsFake(async (input) => {
      const existing = this.parameters.get(input.Name);
      if (existing && !input.Overwrite) {
        throw awsError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
      }
      // SSM's limits: 4 KB in the Standard tier, 8 KB in Advanced (which intelligent tiering
      // picks), counted in bytes: a non-ASCII character weighs more than one.
      const limit = input.Tier === 'Advanced' || input.Tier === 'Intelligent-Tiering' ? 8192 : 4096;
      const bytes = Buffer.byteLength(input.Value ?? '', 'utf8');
      if (bytes > limit) {
        throw awsError('ValidationException', `Parameter value can be at most ${limit} bytes for tier ${input.Tier ?? 'Standard'}.`);
      }
      const version = (existing?.version ?? 0) + 1;
      this.parameters.set(input.Name, { value: input.Value, version });
      return { Version: version, Tier: bytes > 4096 ? 'Advanced' : 'Standard' };
    });
    this.ssm.on(DeleteParameterCommand).callsFake(async (input) => {
      const failure = this.deleteParameterFailures.get(input.Name);
      if (failure) throw failure;
      if (!this.parameters.delete(input.Name)) throw awsError('ParameterNotFound', `Parameter ${input.Name} not found.`);
      return {};
    });
  }

  // ---------- ECS ----------
  /** Registers a task definition directly (seeding), returning its ARN. */
  seedTaskDefinition(taskDefinition: TaskDefinition, tags: Tag[] = []): string {
    return this.register(taskDefinition, tags);
  }

  /** Seeds a steady service. */
  seedService(name: string, taskDefinition: string, desiredCount: number): void {
    this.services.set(name, {
      serviceName: name,
      serviceArn: `arn:aws:ecs:eu-west-1:111122223333:service/colorapp-cluster/${name}`,
      status: 'ACTIVE',
      taskDefinition,
      desiredCount,
      runningCount: desiredCount,
      pendingCount: 0,
      deployments: [this.deployment(taskDefinition, desiredCount, 'COMPLETED', desiredCount)],
    });
  }

  private deployment(taskDefinition: string, desiredCount: number, rolloutState: Deployment['rolloutState'], running: number): Deployment {
    return {
      id: `ecs-svc/${++this.tokenCounter}`,
      status: 'PRIMARY',
      taskDefinition,
      desiredCount,
      runningCount: running,
      rolloutState,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
  }

  private register(td: TaskDefinition, tags: Tag[]): string {
    const family = td.family!;
    const revision = [...this.taskDefinitions.values()].filter((t) => t.taskDefinition.family === family).length + 1;
    const arn = `arn:aws:ecs:eu-west-1:111122223333:task-definition/${family}:${revision}`;
    this.taskDefinitions.set(arn, {
      taskDefinition: { ...structuredClone(td), taskDefinitionArn: arn, revision, status: 'ACTIVE' },
      tags: structuredClone(tags),
    });
    return arn;
  }

  /** Advances rollouts: each describe moves an in-progress deployment to its scripted end. */
  private advance(service: Service): void {
    const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
    if (!primary || primary.rolloutState !== 'IN_PROGRESS') return;
    const behaviour = this.rollout.get(service.serviceName!) ?? 'completes';
    if (behaviour === 'completes') {
      primary.rolloutState = 'COMPLETED';
      primary.runningCount = primary.desiredCount;
      service.runningCount = primary.desiredCount;
      service.deployments = [primary];
    } else if (behaviour === 'fails') {
      primary.rolloutState = 'FAILED';
      primary.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.';
      primary.failedTasks = 3;
    }
  }

  private wireEcs(): void {
    this.ecs.on(DescribeServicesCommand).callsFake(async (input) => {
      const services: Service[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const name of input.services ?? []) {
        const s = this.services.get(name);
        if (!s) {
          failures.push({ arn: `arn:aws:ecs:eu-west-1:111122223333:service/${input.cluster}/${name}`, reason: 'MISSING' });
          continue;
        }
        this.advance(s);
        services.push(structuredClone(s));
      }
      return { services, failures };
    });
    this.ecs.on(UpdateServiceCommand).callsFake(async (input) => {
      const s = this.services.get(input.service!);
      if (!s) throw awsError('ServiceNotFoundException', 'Service not found.');
      const failure = this.updateServiceFailures.get(input.service!);
      if (failure) throw failure;
      const taskDefinition = input.taskDefinition ?? s.taskDefinition!;
      const desiredCount = input.desiredCount ?? s.desiredCount!;
      const changedRevision = taskDefinition !== s.taskDefinition;
      for (const d of s.deployments ?? []) d.status = 'ACTIVE';
      const next = this.deployment(taskDefinition, desiredCount, 'IN_PROGRESS', changedRevision ? 0 : Math.min(desiredCount, s.runningCount ?? 0));
      s.deployments = [next, ...(s.deployments ?? [])];
      s.taskDefinition = taskDefinition;
      s.desiredCount = desiredCount;
      return { service: structuredClone(s) };
    });
    this.ecs.on(DescribeTaskDefinitionCommand).callsFake(async (input) => {
      const ref = input.taskDefinition!;
      let found = this.taskDefinitions.get(ref);
      if (!found) {
        // A family name (or family:revision) resolves to the latest ACTIVE revision.
        const [family, revision] = ref.split(':');
        const matches = [...this.taskDefinitions.values()].filter(
          (t) => t.taskDefinition.family === family && (!revision || String(t.taskDefinition.revision) === revision),
        );
        found = matches.sort((a, b) => b.taskDefinition.revision! - a.taskDefinition.revision!)[0];
      }
      if (!found) throw awsError('ClientException', 'Unable to describe task definition.');
      return {
        taskDefinition: structuredClone(found.taskDefinition),
        tags: input.include?.includes('TAGS') ? structuredClone(found.tags) : undefined,
      };
    });
    this.ecs.on(RegisterTaskDefinitionCommand).callsFake(async (input) => {
      const { tags, ...definition } = input;
      const arn = this.register(definition as TaskDefinition, tags ?? []);
      return { taskDefinition: structuredClone(this.taskDefinitions.get(arn)!.taskDefinition), tags };
    });
  }

  // ---------- App Mesh ----------
  /** Seeds an HTTP route with the given weights per virtual node. */
  seedRoute(meshName: string, virtualRouterName: string, routeName: string, weights: WeightsByNode): void {
    this.route = {
      meshName,
      virtualRouterName,
      routeName,
      version: 1,
      spec: {
        priority: 10,
        httpRoute: {
          match: { prefix: '/' },
          retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: 'ms', value: 2000 }, httpRetryEvents: ['gateway-error'] },
          action: {
            weightedTargets: Object.entries(weights).map(([virtualNode, weight]) => ({ virtualNode, weight, port: 8080 })),
          },
        },
      },
    };
  }

  /** Current weights by virtual node. */
  weights(): WeightsByNode {
    const targets = this.route.spec.httpRoute?.action?.weightedTargets ?? [];
    return Object.fromEntries(targets.map((t) => [t.virtualNode!, t.weight!]));
  }

  private describeRoute() {
    return {
      route: {
        meshName: this.route.meshName,
        virtualRouterName: this.route.virtualRouterName,
        routeName: this.route.routeName,
        spec: structuredClone(this.route.spec),
        status: { status: 'ACTIVE' as const },
        metadata: {
          arn: `arn:aws:appmesh:eu-west-1:111122223333:mesh/${this.route.meshName}/virtualRouter/${this.route.virtualRouterName}/route/${this.route.routeName}`,
          version: this.route.version,
          uid: 'uid-1',
          createdAt: new Date(0),
          lastUpdatedAt: new Date(0),
          meshOwner: '111122223333',
          resourceOwner: '111122223333',
        },
      },
    };
  }

  private wireAppMesh(): void {
    const matches = (input: { meshName?: string; virtualRouterName?: string; routeName?: string }) =>
      input.meshName === this.route.meshName &&
      input.virtualRouterName === this.route.virtualRouterName &&
      input.routeName === this.route.routeName;
    this.appmesh.on(DescribeRouteCommand).callsFake(async (input) => {
      if (!matches(input)) throw awsError('NotFoundException', 'Route not found.');
      return this.describeRoute();
    });
    this.appmesh.on(UpdateRouteCommand).callsFake(async (input) => {
      if (!matches(input)) throw awsError('NotFoundException', 'Route not found.');
      const failure = this.updateRouteFailures.shift();
      if (failure) throw failure;
      if (this.updateRouteAlwaysFails) throw this.updateRouteAlwaysFails;
      this.route.spec = structuredClone(input.spec!);
      this.route.version++;
      this.weightHistory.push(this.weights());
      return this.describeRoute();
    });
  }

  // ---------- CloudWatch ----------
  private wireCloudWatch(): void {
    this.cloudwatch.on(DescribeAlarmsCommand).callsFake(async (input: { AlarmNames?: string[] }) => ({
      MetricAlarms: (input.AlarmNames ?? [])
        .filter((name: string) => this.alarms.has(name))
        .map((name: string) => ({ AlarmName: name, StateValue: this.alarms.get(name), StateReason: `fake ${this.alarms.get(name)}` })),
    }));
    this.cloudwatch.on(GetMetricDataCommand).callsFake(async (input: { MetricDataQueries?: MetricDataQuery[] }) => ({
      MetricDataResults: (input.MetricDataQueries ?? []).map((q: MetricDataQuery) => this.metricResult(q)),
    }));
  }

  private metricResult(query: MetricDataQuery) {
    const stat = query.MetricStat;
    const dims = Object.fromEntries((stat?.Metric?.Dimensions ?? []).map((d) => [d.Name, d.Value]));
    // The traffic is the colour's ingress listener's, the only listener the CloudWatch agent
    // publishes: a query that does not pin it finds no metric, as in AWS.
    const ingress = dims[ENVOY_METRICS.listenerDimension] === ENVOY_METRICS.ingressListener;
    const traffic = (ingress ? this.traffic.get(dims[ENVOY_METRICS.colourDimension] ?? '') : undefined) ?? {
      requests: 0,
      errors5xx: 0,
      p99LatencyMs: null,
    };
    let values: number[] = [];
    if (stat?.Metric?.MetricName === ENVOY_METRICS.responsesByClass) {
      const klass = dims[ENVOY_METRICS.responseClassDimension];
      const value = klass === '5' ? traffic.errors5xx : klass === '2' ? traffic.requests - traffic.errors5xx : 0;
      values = traffic.requests > 0 ? [value] : [];
    } else if (stat?.Metric?.MetricName === ENVOY_METRICS.requestTime) {
      values = traffic.p99LatencyMs === null || traffic.requests === 0 ? [] : [traffic.p99LatencyMs];
    }
    return { Id: query.Id, Label: query.Label, StatusCode: 'Complete' as const, Values: values, Timestamps: values.map(() => new Date(this.clock)) };
  }

  // ---------- Step Functions ----------
  /** A new task token whose callback the returned promise waits for. */
  createToken(): { token: string; done: Promise<unknown> } {
    const token = `token-${++this.tokenCounter}`;
    const done = new Promise<unknown>((resolve, reject) => this.tokens.set(token, { resolve, reject }));
    // A token nobody calls back is fine (the task times out); avoid unhandled rejections.
    done.catch(() => undefined);
    return { token, done };
  }

  /**
   * Ends every waiting token, as Step Functions does when their task times out or the execution
   * moves on: a later SendTaskSuccess/Failure with one of them is `TaskTimedOut`.
   */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** True while a token waits for its callback. */
  isWaiting(token: string): boolean {
    return this.tokens.has(token);
  }

  private wireSfn(): void {
    this.sfn.on(SendTaskFailureCommand).callsFake(async (input) => {
      const pending = this.tokens.get(input.taskToken!);
      if (!pending) throw awsError('TaskTimedOut', 'Task Timed Out');
      this.tokens.delete(input.taskToken!);
      pending.reject(Object.assign(new Error(input.cause ?? ''), { name: input.error ?? 'States.TaskFailed' }));
      return {};
    });
    this.sfn.on(SendTaskSuccessCommand).callsFake(async (input) => {
      const pending = this.tokens.get(input.taskToken!);
      if (!pending) throw awsError('TaskTimedOut', 'Task Timed Out');
      this.tokens.delete(input.taskToken!);
      pending.resolve(JSON.parse(input.output ?? '{}'));
      return {};
    });
    this.sfn.on(DescribeExecutionCommand).callsFake(async (input) => ({
      executionArn: input.executionArn,
      stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:release',
      status: (this.executions.get(input.executionArn!) ?? 'RUNNING') as 'RUNNING',
      startDate: new Date(0),
    }));
    this.sfn.on(StopExecutionCommand).callsFake(async (input) => {
      this.executions.set(input.executionArn!, 'ABORTED');
      return { stopDate: new Date() };
    });
  }
}
