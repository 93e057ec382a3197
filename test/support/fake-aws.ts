/**
 * A small, stateful, in-memory AWS for path tests: SSM parameters, ECS services and task
 * definitions, one App Mesh route, ELBv2 listeners, rules and target health, CloudWatch alarms
 * and metrics (Envoy's and the load balancer's), and Step Functions task tokens. It sits behind aws-sdk-client-mock, so the real handlers send real SDK commands and
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
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type DescribeListenersInput,
  type DescribeRulesInput,
  type Listener,
  type Rule,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
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
  GetParametersByPathCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { ALB_METRICS, loadBalancerDimension, targetGroupDimension } from '../../lambdas/shared/alb-metrics';
import type { Colour } from '../../lambdas/shared/colours';
import { ENVOY_METRICS } from '../../lambdas/shared/envoy-metrics';

/** An AWS-shaped error: the SDK's exceptions carry the error code as `name`. */
export function awsError(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** How the fake ECS rolls out a new deployment of a service. */
export type RolloutBehaviour = 'completes' | 'fails' | 'never-stabilises';

/**
 * Traffic the fake CloudWatch reports for one colour, over any window: as its Envoy ingress
 * listener's statistics, and as its target group's `AWS/ApplicationELB` metrics.
 */
export interface ColourTraffic {
  requests: number;
  /** 5xx the colour's tasks answered (Envoy 5xx; ALB `HTTPCode_Target_5XX_Count`). */
  errors5xx: number;
  p99LatencyMs: number | null;
  /**
   * ALB only: requests whose connection to a target failed (`TargetConnectionErrorCount`),
   * each a 502 the load balancer answers itself. Part of `requests`.
   * @default 0
   */
  connectionErrors?: number;
}

/** One colour's target group behind the fake load balancer. */
export interface FakeTargetGroup {
  readonly colour: Colour;
  /** ECS service whose running tasks are the group's registered targets. */
  readonly serviceName: string;
}

/** A pending `.waitForTaskToken` task: resolved or rejected by SendTaskSuccess/Failure. */
interface PendingToken {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  /** The run that waits on it: runs of different services proceed side by side. */
  owner: string;
}

/** What one UpdateRoute set, by colour (virtual node name -> weight). */
export type WeightsByNode = Record<string, number>;

/** What one ModifyRule/ModifyListener set on the weighted forward (target group name -> weight). */
export type WeightsByTargetGroup = Record<string, number>;

export class FakeAws {
  readonly ssm = mockClient(SSMClient);
  readonly ecs = mockClient(ECSClient);
  readonly appmesh = mockClient(AppMeshClient);
  readonly elbv2 = mockClient(ElasticLoadBalancingV2Client);
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
  /** ELB listener rules by ARN, as DescribeRules describes them. */
  readonly rules = new Map<string, Rule>();
  /** ELB listeners by ARN, as DescribeListeners describes them. */
  readonly listeners = new Map<string, Listener>();
  /** The colour and ECS service of each target group, by target group ARN. */
  readonly targetGroups = new Map<string, FakeTargetGroup>();
  /**
   * Target health that replaces the one derived from the service's running tasks, by target
   * group ARN (tasks that run but fail the health check, targets still in `initial`, ...).
   */
  readonly targetHealthOverrides = new Map<string, TargetHealthDescription[]>();
  /** The weighted rule (or listener, for its default action) whose forward {@link albWeights} reads. */
  weightedForwardOf: { readonly rule: string } | { readonly listener: string } | null = null;
  /** Every forward weight set by ModifyRule/ModifyListener on the weighted forward, in order. */
  readonly albWeightHistory: WeightsByTargetGroup[] = [];
  /** Errors the next ModifyRule/ModifyListener calls throw, one per call, before any succeeds. */
  readonly modifyForwardFailures: Error[] = [];
  /** When set, every ModifyRule/ModifyListener throws this (a rollback that cannot complete). */
  modifyForwardAlwaysFails: Error | null = null;
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
    this.wireElbv2();
    this.wireCloudWatch();
    this.wireSfn();
  }

  /** Removes every mock; call in afterAll. */
  restore(): void {
    for (const mock of [this.ssm, this.ecs, this.appmesh, this.elbv2, this.cloudwatch, this.sfn]) mock.restore();
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
    // One page, not recursive: what the engine-wide handlers ask of the service registry.
    this.ssm.on(GetParametersByPathCommand).callsFake(async (input) => {
      const prefix = `${input.Path.replace(/\/$/, '')}/`;
      const names = [...this.parameters.keys()].filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/')).sort();
      return { Parameters: names.map((name) => ({ Name: name, Value: this.parameters.get(name)!.value, Type: 'String' })) };
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

  // ---------- ELBv2 ----------
  // What is faked, from the ELB API reference (2015-12-01): DescribeRules by RuleArns (every ARN
  // must exist, else RuleNotFound), DescribeListeners by ListenerArns (ListenerNotFound),
  // DescribeTargetHealth (TargetGroupNotFound), ModifyRule ("Replaces the specified properties of
  // the specified rule. Any properties that you do not specify are unchanged", so Actions and
  // Conditions are each replaced only when sent) and ModifyListener (DefaultActions likewise).
  // The SDK names each error `<code>Exception`. A forward action is checked as the Action
  // reference states: "If you specify both ForwardConfig and TargetGroupArn, you can specify
  // only one target group using ForwardConfig and it must be the same target group specified
  // in TargetGroupArn", and target group weights are 0..999; a violation is the documented
  // ModifyRule/ModifyListener error InvalidLoadBalancerAction ("The requested action is not valid").

  /** Seeds a listener rule. */
  seedRule(rule: Rule): void {
    this.rules.set(rule.RuleArn!, jsonCopy(rule));
  }

  /** Seeds a listener. */
  seedListener(listener: Listener): void {
    this.listeners.set(listener.ListenerArn!, jsonCopy(listener));
  }

  /** The weighted forward's current weights by target group name. */
  albWeights(): WeightsByTargetGroup {
    const where = this.weightedForwardOf;
    if (!where) throw new Error('No weighted forward seeded');
    const actions = 'rule' in where ? this.rules.get(where.rule)?.Actions : this.listeners.get(where.listener)?.DefaultActions;
    const forward = (actions ?? []).find((a) => a.Type === 'forward');
    return Object.fromEntries(
      (forward?.ForwardConfig?.TargetGroups ?? []).map((t) => [targetGroupName(t.TargetGroupArn!), t.Weight!]),
    );
  }

  /**
   * A target group's targets: each running task of its ECS service, healthy (ECS registers a
   * task's IP when it starts and deregisters it when it stops), unless overridden.
   */
  private targetHealth(targetGroupArn: string): TargetHealthDescription[] {
    const override = this.targetHealthOverrides.get(targetGroupArn);
    if (override) return jsonCopy(override);
    const group = this.targetGroups.get(targetGroupArn)!;
    const running = this.services.get(group.serviceName)?.runningCount ?? 0;
    return Array.from({ length: running }, (_, index) => ({
      Target: { Id: `10.0.${group.colour === 'blue' ? 1 : 2}.${10 + index}`, Port: 8080, AvailabilityZone: 'eu-west-1a' },
      HealthCheckPort: '8080',
      TargetHealth: { State: 'healthy' as const },
    }));
  }

  private checkActions(actions: readonly Action[]): void {
    for (const action of actions) {
      if (action.Type !== 'forward') continue;
      const groups = action.ForwardConfig?.TargetGroups ?? [];
      if (action.TargetGroupArn !== undefined && groups.length > 0 && (groups.length !== 1 || groups[0].TargetGroupArn !== action.TargetGroupArn)) {
        throw awsError('InvalidLoadBalancerActionException', 'You cannot specify both a target group ARN and a forward config with other target groups.');
      }
      for (const group of groups) {
        if (!this.targetGroups.has(group.TargetGroupArn!)) throw awsError('TargetGroupNotFoundException', 'One or more target groups not found');
        if (group.Weight !== undefined && (!Number.isInteger(group.Weight) || group.Weight < 0 || group.Weight > 999)) {
          throw awsError('InvalidLoadBalancerActionException', `Weight ${group.Weight} is not within 0..999.`);
        }
      }
    }
  }

  /** Records the weighted forward after a successful modify of the rule or listener it lives in. */
  private recordForward(arn: string): void {
    const where = this.weightedForwardOf;
    if (where && ('rule' in where ? where.rule : where.listener) === arn) this.albWeightHistory.push(this.albWeights());
  }

  private wireElbv2(): void {
    this.elbv2.on(DescribeRulesCommand).callsFake(async (input: DescribeRulesInput) => {
      const arns = input.RuleArns ?? [];
      const missing = arns.filter((arn) => !this.rules.has(arn));
      if (missing.length > 0) throw awsError('RuleNotFoundException', 'One or more rules not found');
      return { Rules: arns.map((arn) => jsonCopy(this.rules.get(arn)!)) };
    });
    this.elbv2.on(DescribeListenersCommand).callsFake(async (input: DescribeListenersInput) => {
      const arns = input.ListenerArns ?? [];
      if (arns.some((arn) => !this.listeners.has(arn))) throw awsError('ListenerNotFoundException', 'One or more listeners not found');
      return { Listeners: arns.map((arn) => jsonCopy(this.listeners.get(arn)!)) };
    });
    this.elbv2.on(DescribeTargetHealthCommand).callsFake(async (input) => {
      if (!this.targetGroups.has(input.TargetGroupArn!)) throw awsError('TargetGroupNotFoundException', 'One or more target groups not found');
      return { TargetHealthDescriptions: this.targetHealth(input.TargetGroupArn!) };
    });
    this.elbv2.on(ModifyRuleCommand).callsFake(async (input) => {
      const rule = this.rules.get(input.RuleArn!);
      if (!rule) throw awsError('RuleNotFoundException', 'One or more rules not found');
      const failure = this.modifyForwardFailures.shift();
      if (failure) throw failure;
      if (this.modifyForwardAlwaysFails) throw this.modifyForwardAlwaysFails;
      if (input.Actions) this.checkActions(input.Actions);
      if (input.Actions) rule.Actions = jsonCopy(input.Actions);
      if (input.Conditions) rule.Conditions = jsonCopy(input.Conditions);
      this.recordForward(input.RuleArn!);
      return { Rules: [jsonCopy(rule)] };
    });
    this.elbv2.on(ModifyListenerCommand).callsFake(async (input) => {
      const listener = this.listeners.get(input.ListenerArn!);
      if (!listener) throw awsError('ListenerNotFoundException', 'One or more listeners not found');
      const failure = this.modifyForwardFailures.shift();
      if (failure) throw failure;
      if (this.modifyForwardAlwaysFails) throw this.modifyForwardAlwaysFails;
      if (input.DefaultActions) this.checkActions(input.DefaultActions);
      if (input.DefaultActions) listener.DefaultActions = jsonCopy(input.DefaultActions);
      this.recordForward(input.ListenerArn!);
      return { Listeners: [jsonCopy(listener)] };
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
    if (stat?.Metric?.Namespace === ALB_METRICS.namespace) {
      const values = this.albMetricValues(stat.Metric.MetricName ?? '', dims);
      return { Id: query.Id, Label: query.Label, StatusCode: 'Complete' as const, Values: values, Timestamps: values.map(() => new Date(this.clock)) };
    }
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

  /**
   * `AWS/ApplicationELB` values for one query, from "CloudWatch metrics for your Application Load
   * Balancer": per-target-group metrics carry exactly the dimensions `TargetGroup` and
   * `LoadBalancer` (a query naming only one of them finds nothing, as CloudWatch matches the
   * whole dimension set); `HTTPCode_ELB_5XX_Count` exists per `LoadBalancer` only;
   * `TargetResponseTime` is in seconds; and "if there are no requests flowing through the load
   * balancer or no data for a metric, the metric is not reported": a count of zero is no datapoint.
   */
  private albMetricValues(metricName: string, dims: Record<string, string | undefined>): number[] {
    const where = this.weightedForwardOf;
    const listenerOrRule = where ? ('rule' in where ? where.rule : where.listener) : undefined;
    const loadBalancer = listenerOrRule ? loadBalancerDimension(listenerOrRule) : undefined;
    const names = Object.keys(dims).sort().join(',');
    const count = (n: number) => (n > 0 ? [n] : []);
    if (dims[ALB_METRICS.loadBalancerDimension] !== loadBalancer) return [];
    if (names === ALB_METRICS.loadBalancerDimension) {
      if (metricName !== ALB_METRICS.elb5xx) return [];
      // A failed connection to a target is a 502 the load balancer generates itself.
      return count([...this.targetGroups.values()].reduce((sum, g) => sum + (this.traffic.get(g.colour)?.connectionErrors ?? 0), 0));
    }
    if (names !== [ALB_METRICS.loadBalancerDimension, ALB_METRICS.targetGroupDimension].sort().join(',')) return [];
    const group = [...this.targetGroups.entries()].find(([arn]) => targetGroupDimension(arn) === dims[ALB_METRICS.targetGroupDimension]);
    const traffic = group ? this.traffic.get(group[1].colour) : undefined;
    if (!traffic || traffic.requests === 0) return [];
    const connectionErrors = traffic.connectionErrors ?? 0;
    switch (metricName) {
      case ALB_METRICS.requestCount:
        return [traffic.requests];
      case ALB_METRICS.targetResponsesByClass['5']:
        return count(traffic.errors5xx);
      case ALB_METRICS.targetResponsesByClass['2']:
        return count(traffic.requests - traffic.errors5xx - connectionErrors);
      case ALB_METRICS.targetConnectionErrors:
        return count(connectionErrors);
      case ALB_METRICS.targetResponseTime:
        return traffic.p99LatencyMs === null ? [] : [traffic.p99LatencyMs / 1000];
      default:
        return [];
    }
  }

  // ---------- Step Functions ----------
  /** A new task token whose callback the returned promise waits for. */
  createToken(owner = ''): { token: string; done: Promise<unknown> } {
    const token = `token-${++this.tokenCounter}`;
    const done = new Promise<unknown>((resolve, reject) => this.tokens.set(token, { resolve, reject, owner }));
    // A token nobody calls back is fine (the task times out); avoid unhandled rejections.
    done.catch(() => undefined);
    return { token, done };
  }

  /**
   * Ends every waiting token, as Step Functions does when their task times out or the execution
   * moves on: a later SendTaskSuccess/Failure with one of them is `TaskTimedOut`. With `owner`,
   * only that run's tokens: another run's bake goes on waiting, as in AWS.
   */
  expireTokens(owner?: string): void {
    for (const [token, pending] of this.tokens) if (owner === undefined || pending.owner === owner) this.tokens.delete(token);
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

/** `...:targetgroup/<name>/<id>` → `<name>`. */
function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/**
 * A deep copy of plain JSON data (ELB rules and listeners hold no dates), made in the test's own
 * realm so that `toStrictEqual` compares it with fixtures by value.
 */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
