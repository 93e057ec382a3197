/**
 * Local Elastic Load Balancing v2 (Application Load Balancers): load balancers, target groups,
 * listeners, rules and targets, answering the AWS Query API the ALB router
 * (`@aws-sdk/client-elastic-load-balancing-v2`) and `aws elbv2` use, and telling the local
 * gateway where each request goes ({@link LocalElbv2.route}) and which targets may take it
 * ({@link LocalElbv2.routableTargets}).
 *
 * Shapes, member names and error codes are the SDK model's (operation schemas such as
 * `DescribeRules$`, error codes from each exception's `awsQueryError` trait); behaviour follows
 * the Elastic Load Balancing API reference and the ALB user guide, cited where it is imitated.
 * Deliberate differences from AWS, each one named setting: the deregistration delay default
 * ({@link LocalElbv2Options.defaultDeregistrationDelaySeconds}) and the health check interval
 * ({@link LocalElbv2Options.healthCheckIntervalMs}).
 */

import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {
  CreateListener$,
  CreateLoadBalancer$,
  CreateRule$,
  CreateTargetGroup$,
  DeleteRule$,
  DeregisterTargets$,
  DescribeListeners$,
  DescribeLoadBalancers$,
  DescribeRules$,
  DescribeTags$,
  DescribeTargetGroupAttributes$,
  DescribeTargetGroups$,
  DescribeTargetHealth$,
  ModifyListener$,
  ModifyRule$,
  ModifyTargetGroupAttributes$,
  RegisterTargets$,
  type Action,
  type CreateListenerInput,
  type CreateLoadBalancerInput,
  type CreateRuleInput,
  type CreateTargetGroupInput,
  type DeleteRuleInput,
  type DeregisterTargetsInput,
  type DescribeListenersInput,
  type DescribeLoadBalancersInput,
  type DescribeRulesInput,
  type DescribeTagsInput,
  type DescribeTargetGroupAttributesInput,
  type DescribeTargetGroupsInput,
  type DescribeTargetHealthInput,
  type Listener,
  type LoadBalancer,
  type ModifyListenerInput,
  type ModifyRuleInput,
  type ModifyTargetGroupAttributesInput,
  type RegisterTargetsInput,
  type Rule,
  type RuleCondition,
  type Tag,
  type TargetDescription,
  type TargetGroup,
  type TargetGroupAttribute,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsServiceError, type Operation, type QueryOperation, type QueryProtocolService } from '../contracts';
import { operationShapesFromSdk } from '../endpoint/query';
import { MAX_PRIORITY, validateActions, validateConditions, weightsOf, type ActionContext } from './elbv2/actions';
import { defaultTargetGroupAttributes, MAX_DEREGISTRATION_DELAY, validateAttribute } from './elbv2/attributes';
import { checkRange, ELBV2_ERRORS, isIntegerIn, requireString, validation } from './elbv2/errors';
import { httpHealthProbe, nextHealth, REGISTERED, type HealthProbe, type TargetHealthState } from './elbv2/health';
import { paginate } from './elbv2/paging';
import { conditionsMatch, decide, forwardTargets, type RoutableRequest, type RouteDecision } from './elbv2/routing';

export type { HealthCheckRequest, HealthCheckResult, HealthProbe } from './elbv2/health';
export { httpHealthProbe } from './elbv2/health';
export { ELBV2_ERRORS, elbThrottling } from './elbv2/errors';
export type { RoutableRequest, RouteDecision } from './elbv2/routing';

/** The API version of Elastic Load Balancing v2; every Query request names it. */
export const ELBV2_API_VERSION = '2015-12-01';
/** The namespace of every ELBv2 XML answer (the SDK client's `xmlNamespace`). */
export const ELBV2_XML_NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** Operations {@link LocalElbv2} answers (and in which failures can be injected). */
export type Elbv2OperationName =
  | 'CreateLoadBalancer'
  | 'DescribeLoadBalancers'
  | 'CreateTargetGroup'
  | 'DescribeTargetGroups'
  | 'CreateListener'
  | 'DescribeListeners'
  | 'ModifyListener'
  | 'CreateRule'
  | 'DescribeRules'
  | 'ModifyRule'
  | 'DeleteRule'
  | 'RegisterTargets'
  | 'DeregisterTargets'
  | 'DescribeTargetHealth'
  | 'DescribeTargetGroupAttributes'
  | 'ModifyTargetGroupAttributes'
  | 'DescribeTags';

/** Options for {@link LocalElbv2}. */
export interface LocalElbv2Options {
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** The clock for draining and timestamps. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * `deregistration_delay.timeout_seconds` of a new target group: how long a deregistered target
   * stays `draining`. The local profile shortens it; it is the attribute's value, so
   * DescribeTargetGroupAttributes shows what the world really does.
   * @default 300 - AWS's default
   */
  readonly defaultDeregistrationDelaySeconds?: number;
  /** Makes each health check. @default httpHealthProbe (a real HTTP GET to the target) */
  readonly healthProbe?: HealthProbe;
  /**
   * Local-only: the time between health checks of every target group, in milliseconds.
   * @default - each target group's `HealthCheckIntervalSeconds`, as AWS
   */
  readonly healthCheckIntervalMs?: number;
  /** 16 hex digits for a new ARN's id. @default random */
  readonly newId?: () => string;
}

/** One change of a rule's forward weights (or the rule's creation). */
export interface ForwardWeightChange {
  readonly at: Date;
  readonly ruleArn: string;
  /** Weight by target group ARN; empty when the rule no longer forwards. */
  readonly weights: Readonly<Record<string, number>>;
}

/** A target the gateway may send a new request to. */
export interface RoutableTarget {
  /** The target id: an IP address for target type `ip`. */
  readonly id: string;
  readonly port: number;
}

/** `'listener-default'` names the listener's default rule, as in the `AlbTrafficSchema` config. */
export type RuleSelector = 'listener-default' | string;

interface LoadBalancerState {
  readonly arn: string;
  readonly id: string;
  readonly data: LoadBalancer;
  tags: Tag[];
}

interface TargetState {
  readonly id: string;
  readonly port: number;
  readonly availabilityZone?: string;
  health: TargetHealthState;
  /** Set while draining: when (ms) the target leaves. */
  drainingUntil?: number;
  readonly drainedWaiters: (() => void)[];
}

interface TargetGroupState {
  readonly arn: string;
  readonly data: TargetGroup;
  readonly attributes: Map<string, string>;
  /** `${id}:${port}` -> target. */
  readonly targets: Map<string, TargetState>;
  tags: Tag[];
}

interface RuleState {
  readonly arn: string;
  readonly listenerArn: string;
  priority: number | 'default';
  conditions: RuleCondition[];
  actions: Action[];
  tags: Tag[];
  readonly history: ForwardWeightChange[];
}

interface ListenerState {
  readonly arn: string;
  readonly id: string;
  readonly loadBalancerArn: string;
  port: number;
  protocol: string;
  readonly rules: Map<string, RuleState>;
  readonly defaultRuleArn: string;
  tags: Tag[];
}

const NAME = /^(?!-)(?!internal-)[A-Za-z0-9-]{1,32}(?<!-)$/;
/** Hosted zone of ALBs in a few regions (AWS general reference, "Elastic Load Balancing endpoints and quotas"). */
const ALB_HOSTED_ZONES: Record<string, string> = {
  'eu-west-1': 'Z32O12XQLNTSW2',
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-west-2': 'Z1H1FL5HABSF5',
  'eu-central-1': 'Z215JYRZR1TBD5',
};

/**
 * In-memory Elastic Load Balancing v2. Serve it with `startLocalEndpoint({ queryServices: [elbv2] })`;
 * the gateway calls {@link route} and {@link routableTargets} on every request; the world starts
 * health checks with {@link startHealthChecks}.
 *
 * @example
 * const elbv2 = new LocalElbv2({ defaultDeregistrationDelaySeconds: 5 });
 * const lb = elbv2.createLoadBalancer({ Name: 'colorapp', Subnets: ['subnet-a', 'subnet-b'] }).LoadBalancers![0];
 * const blue = elbv2.createTargetGroup({ Name: 'colorapp-blue', Protocol: 'HTTP', Port: 8080, VpcId: 'vpc-local', TargetType: 'ip' }).TargetGroups![0];
 * const green = elbv2.createTargetGroup({ Name: 'colorapp-green', Protocol: 'HTTP', Port: 8080, VpcId: 'vpc-local', TargetType: 'ip' }).TargetGroups![0];
 * const listener = elbv2.createListener({
 *   LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: 80,
 *   DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [
 *     { TargetGroupArn: blue.TargetGroupArn, Weight: 100 }, { TargetGroupArn: green.TargetGroupArn, Weight: 0 }] } }],
 * }).Listeners![0];
 * elbv2.registerTargets({ TargetGroupArn: blue.TargetGroupArn, Targets: [{ Id: '127.0.0.1', Port: 41001 }] });
 * elbv2.startHealthChecks();
 * elbv2.route(listener.ListenerArn!, { path: '/', headers: {} }); // { kind: 'forward', targetGroupArn: blue... }
 */
export class LocalElbv2 implements QueryProtocolService {
  readonly apiVersion = ELBV2_API_VERSION;
  readonly xmlNamespace = ELBV2_XML_NAMESPACE;
  readonly queryOperations: Readonly<Record<Elbv2OperationName, QueryOperation>>;

  private readonly loadBalancers = new Map<string, LoadBalancerState>();
  private readonly targetGroups = new Map<string, TargetGroupState>();
  private readonly listeners = new Map<string, ListenerState>();
  private readonly rules = new Map<string, RuleState>();
  private readonly failures = new Map<Elbv2OperationName, AwsServiceError[]>();
  private readonly healthTimers = new Map<string, NodeJS.Timeout>();
  private readonly checking = new Set<string>();
  private healthChecksRunning = false;
  private readonly accountId: string;
  private readonly region: string;
  private readonly now: () => Date;
  private readonly defaultDeregistrationDelaySeconds: number;
  private readonly probe: HealthProbe;
  private readonly healthCheckIntervalMs: number | undefined;
  private readonly newId: () => string;

  constructor(options: LocalElbv2Options = {}) {
    this.accountId = options.accountId ?? '000000000000';
    this.region = options.region ?? 'eu-west-1';
    this.now = options.now ?? (() => new Date());
    this.defaultDeregistrationDelaySeconds = options.defaultDeregistrationDelaySeconds ?? 300;
    if (!isIntegerIn(this.defaultDeregistrationDelaySeconds, 0, MAX_DEREGISTRATION_DELAY)) {
      throw new Error(`defaultDeregistrationDelaySeconds must be an integer from 0 to ${MAX_DEREGISTRATION_DELAY}`);
    }
    this.probe = options.healthProbe ?? httpHealthProbe;
    this.healthCheckIntervalMs = options.healthCheckIntervalMs;
    this.newId = options.newId ?? (() => randomBytes(8).toString('hex'));

    const op = (name: Elbv2OperationName, schema: unknown, run: (input: never) => object): QueryOperation => ({
      shapes: operationShapesFromSdk(schema),
      handler: (async (input: Record<string, unknown>) => {
        this.failInjected(name);
        return run(input as never) as Record<string, unknown>;
      }) satisfies Operation,
    });
    this.queryOperations = {
      CreateLoadBalancer: op('CreateLoadBalancer', CreateLoadBalancer$, (i) => this.createLoadBalancer(i)),
      DescribeLoadBalancers: op('DescribeLoadBalancers', DescribeLoadBalancers$, (i) => this.describeLoadBalancers(i)),
      CreateTargetGroup: op('CreateTargetGroup', CreateTargetGroup$, (i) => this.createTargetGroup(i)),
      DescribeTargetGroups: op('DescribeTargetGroups', DescribeTargetGroups$, (i) => this.describeTargetGroups(i)),
      CreateListener: op('CreateListener', CreateListener$, (i) => this.createListener(i)),
      DescribeListeners: op('DescribeListeners', DescribeListeners$, (i) => this.describeListeners(i)),
      ModifyListener: op('ModifyListener', ModifyListener$, (i) => this.modifyListener(i)),
      CreateRule: op('CreateRule', CreateRule$, (i) => this.createRule(i)),
      DescribeRules: op('DescribeRules', DescribeRules$, (i) => this.describeRules(i)),
      ModifyRule: op('ModifyRule', ModifyRule$, (i) => this.modifyRule(i)),
      DeleteRule: op('DeleteRule', DeleteRule$, (i) => this.deleteRule(i)),
      RegisterTargets: op('RegisterTargets', RegisterTargets$, (i) => this.registerTargets(i)),
      DeregisterTargets: op('DeregisterTargets', DeregisterTargets$, (i) => this.deregisterTargets(i)),
      DescribeTargetHealth: op('DescribeTargetHealth', DescribeTargetHealth$, (i) => this.describeTargetHealth(i)),
      DescribeTargetGroupAttributes: op('DescribeTargetGroupAttributes', DescribeTargetGroupAttributes$, (i) =>
        this.describeTargetGroupAttributes(i),
      ),
      ModifyTargetGroupAttributes: op('ModifyTargetGroupAttributes', ModifyTargetGroupAttributes$, (i) =>
        this.modifyTargetGroupAttributes(i),
      ),
      DescribeTags: op('DescribeTags', DescribeTags$, (i) => this.describeTags(i)),
    };
  }

  // ---------- load balancers ----------

  /**
   * CreateLoadBalancer (type `application` only). Idempotent as AWS documents: the same name with
   * the same scheme and type returns the existing load balancer.
   *
   * @throws AwsServiceError `ValidationError` (name, subnets, type), `DuplicateLoadBalancerName`.
   */
  createLoadBalancer(input: CreateLoadBalancerInput): { LoadBalancers: LoadBalancer[] } {
    const name = requireString(input.Name, 'name');
    validateName(name, 'Load balancer');
    const type = input.Type ?? 'application';
    if (type !== 'application') {
      throw validation(`The local ELBv2 emulates Application Load Balancers only; got Type '${type}'`);
    }
    const scheme = input.Scheme ?? 'internet-facing';
    const existing = [...this.loadBalancers.values()].find((lb) => lb.data.LoadBalancerName === name);
    if (existing !== undefined) {
      if (existing.data.Scheme === scheme && existing.data.Type === type) return { LoadBalancers: [structuredClone(existing.data)] };
      throw new AwsServiceError(ELBV2_ERRORS.duplicateLoadBalancerName, `A load balancer with the same name '${name}' exists, but with different settings`);
    }
    const subnets = [...(input.Subnets ?? []), ...(input.SubnetMappings ?? []).map((m) => m.SubnetId ?? '')].filter((s) => s !== '');
    // ALB user guide ("Subnets for your Application Load Balancer"): at least two Availability Zones.
    if (new Set(subnets).size < 2) {
      throw validation('At least two subnets in two different Availability Zones must be specified');
    }
    const id = this.newId();
    const arn = this.arn(`loadbalancer/app/${name}/${id}`);
    const data: LoadBalancer = {
      LoadBalancerArn: arn,
      DNSName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${parseInt(id.slice(0, 8), 16)}.${this.region}.elb.amazonaws.com`,
      CanonicalHostedZoneId: ALB_HOSTED_ZONES[this.region] ?? 'Z32O12XQLNTSW2',
      CreatedTime: this.now(),
      LoadBalancerName: name,
      Scheme: scheme,
      VpcId: 'vpc-00000000000000000',
      // Nothing to provision locally, so the load balancer is active at once (AWS: provisioning first).
      State: { Code: 'active' },
      Type: 'application',
      AvailabilityZones: [...new Set(subnets)].map((subnet, i) => ({
        ZoneName: `${this.region}${String.fromCharCode(97 + (i % 26))}`,
        SubnetId: subnet,
        LoadBalancerAddresses: [],
      })),
      SecurityGroups: [...(input.SecurityGroups ?? [])],
      IpAddressType: input.IpAddressType ?? 'ipv4',
    };
    this.loadBalancers.set(arn, { arn, id, data, tags: [...(input.Tags ?? [])] });
    return { LoadBalancers: [structuredClone(data)] };
  }

  /**
   * DescribeLoadBalancers by ARN or name (not both), or all, paged by `Marker`/`PageSize`.
   *
   * @throws AwsServiceError `LoadBalancerNotFound` when a named one does not exist.
   */
  describeLoadBalancers(input: DescribeLoadBalancersInput = {}): { LoadBalancers: LoadBalancer[]; NextMarker?: string } {
    let found: LoadBalancerState[];
    if (input.LoadBalancerArns?.length && input.Names?.length) {
      throw validation('Load balancer names and load balancer ARNs cannot be specified at the same time');
    }
    if (input.LoadBalancerArns?.length) {
      found = input.LoadBalancerArns.map((arn) => this.loadBalancerState(arn));
    } else if (input.Names?.length) {
      found = input.Names.map((name) => {
        const lb = [...this.loadBalancers.values()].find((candidate) => candidate.data.LoadBalancerName === name);
        if (lb === undefined) throw new AwsServiceError(ELBV2_ERRORS.loadBalancerNotFound, `Load balancers '[${name}]' not found`);
        return lb;
      });
    } else {
      found = [...this.loadBalancers.values()];
    }
    const page = paginate(found, input.Marker, input.PageSize);
    return { LoadBalancers: page.items.map((lb) => structuredClone(lb.data)), ...(page.next ? { NextMarker: page.next } : {}) };
  }

  // ---------- target groups ----------

  /**
   * CreateTargetGroup (HTTP/HTTPS target groups for ALBs) with AWS's defaults for an ALB target
   * group (API reference, CreateTargetGroup): health check HTTP on the traffic port, path `/`,
   * every 30 s, timeout 5 s, healthy 5, unhealthy 2, matcher 200, target type `instance`.
   *
   * @throws AwsServiceError `ValidationError`, `DuplicateTargetGroupName`.
   */
  createTargetGroup(input: CreateTargetGroupInput): { TargetGroups: TargetGroup[] } {
    const name = requireString(input.Name, 'name');
    validateName(name, 'Target group');
    const protocol = input.Protocol ?? 'HTTP';
    if (protocol !== 'HTTP' && protocol !== 'HTTPS') {
      throw validation(`The local ELBv2 emulates ALB target groups (HTTP or HTTPS); got Protocol '${protocol}'`);
    }
    const targetType = input.TargetType ?? 'instance';
    if (targetType !== 'ip' && targetType !== 'instance') {
      throw validation(`The local ELBv2 supports target types ip and instance; got '${targetType}'`);
    }
    const port = input.Port;
    if (!isIntegerIn(port, 1, 65535)) throw validation(`A port from 1 to 65535 must be specified; got ${String(port)}`);
    const interval = input.HealthCheckIntervalSeconds ?? 30;
    const timeout = input.HealthCheckTimeoutSeconds ?? 5;
    const healthy = input.HealthyThresholdCount ?? 5;
    const unhealthy = input.UnhealthyThresholdCount ?? 2;
    checkRange(interval, 5, 300, 'healthCheckIntervalSeconds');
    checkRange(timeout, 2, 120, 'healthCheckTimeoutSeconds');
    checkRange(healthy, 2, 10, 'healthyThresholdCount');
    checkRange(unhealthy, 2, 10, 'unhealthyThresholdCount');
    if (timeout >= interval) throw validation('Health check interval must be greater than the timeout.');
    const data: TargetGroup = {
      TargetGroupArn: '',
      TargetGroupName: name,
      Protocol: protocol,
      Port: port,
      VpcId: input.VpcId ?? 'vpc-00000000000000000',
      HealthCheckProtocol: input.HealthCheckProtocol ?? protocol,
      HealthCheckPort: input.HealthCheckPort ?? 'traffic-port',
      HealthCheckEnabled: input.HealthCheckEnabled ?? true,
      HealthCheckIntervalSeconds: interval,
      HealthCheckTimeoutSeconds: timeout,
      HealthyThresholdCount: healthy,
      UnhealthyThresholdCount: unhealthy,
      HealthCheckPath: input.HealthCheckPath ?? '/',
      Matcher: { HttpCode: input.Matcher?.HttpCode ?? '200' },
      LoadBalancerArns: [],
      TargetType: targetType,
      ProtocolVersion: input.ProtocolVersion ?? 'HTTP1',
      IpAddressType: input.IpAddressType ?? 'ipv4',
    };
    const existing = [...this.targetGroups.values()].find((tg) => tg.data.TargetGroupName === name);
    if (existing !== undefined) {
      const same = existing.data.Protocol === data.Protocol && existing.data.Port === data.Port && existing.data.TargetType === data.TargetType;
      if (same) return { TargetGroups: [this.targetGroupData(existing)] };
      throw new AwsServiceError(ELBV2_ERRORS.duplicateTargetGroupName, `A target group with the same name '${name}' exists, but with different settings`);
    }
    const arn = this.arn(`targetgroup/${name}/${this.newId()}`);
    const state: TargetGroupState = {
      arn,
      data: { ...data, TargetGroupArn: arn },
      attributes: defaultTargetGroupAttributes(this.defaultDeregistrationDelaySeconds),
      targets: new Map(),
      tags: [...(input.Tags ?? [])],
    };
    this.targetGroups.set(arn, state);
    if (this.healthChecksRunning) this.scheduleHealthChecks(state);
    return { TargetGroups: [this.targetGroupData(state)] };
  }

  /**
   * DescribeTargetGroups by load balancer, ARNs or names, or all; paged.
   *
   * @throws AwsServiceError `TargetGroupNotFound`, `LoadBalancerNotFound`.
   */
  describeTargetGroups(input: DescribeTargetGroupsInput = {}): { TargetGroups: TargetGroup[]; NextMarker?: string } {
    let found: TargetGroupState[];
    if (input.TargetGroupArns?.length) {
      found = input.TargetGroupArns.map((arn) => this.targetGroupState(arn));
    } else if (input.Names?.length) {
      found = input.Names.map((name) => {
        const tg = [...this.targetGroups.values()].find((candidate) => candidate.data.TargetGroupName === name);
        if (tg === undefined) throw new AwsServiceError(ELBV2_ERRORS.targetGroupNotFound, `One or more target groups not found`);
        return tg;
      });
    } else {
      found = [...this.targetGroups.values()];
    }
    if (input.LoadBalancerArn !== undefined) {
      this.loadBalancerState(input.LoadBalancerArn);
      found = found.filter((tg) => this.loadBalancersOf(tg.arn).includes(input.LoadBalancerArn!));
    }
    const page = paginate(found, input.Marker, input.PageSize);
    return { TargetGroups: page.items.map((tg) => this.targetGroupData(tg)), ...(page.next ? { NextMarker: page.next } : {}) };
  }

  /** DescribeTargetGroupAttributes. @throws AwsServiceError `TargetGroupNotFound`. */
  describeTargetGroupAttributes(input: DescribeTargetGroupAttributesInput): { Attributes: TargetGroupAttribute[] } {
    const tg = this.targetGroupState(requireString(input.TargetGroupArn, 'targetGroupArn'));
    return { Attributes: [...tg.attributes].map(([Key, Value]) => ({ Key, Value })) };
  }

  /**
   * ModifyTargetGroupAttributes: validates every attribute first, then applies them all (a new
   * deregistration delay applies to targets deregistered from now on).
   *
   * @throws AwsServiceError `TargetGroupNotFound`; `ValidationError` for an unknown key or a bad value.
   */
  modifyTargetGroupAttributes(input: ModifyTargetGroupAttributesInput): { Attributes: TargetGroupAttribute[] } {
    const tg = this.targetGroupState(requireString(input.TargetGroupArn, 'targetGroupArn'));
    const attributes = input.Attributes ?? [];
    for (const { Key, Value } of attributes) {
      if (Key === undefined || !tg.attributes.has(Key)) {
        throw validation(`Target group attribute key '${String(Key)}' is not recognized`);
      }
      validateAttribute(Key, Value ?? '');
    }
    for (const { Key, Value } of attributes) tg.attributes.set(Key!, Value ?? '');
    return this.describeTargetGroupAttributes({ TargetGroupArn: tg.arn });
  }

  // ---------- listeners ----------

  /**
   * CreateListener (HTTP or HTTPS) with its default rule (`IsDefault: true`, priority `default`),
   * which holds the default actions.
   *
   * @throws AwsServiceError `LoadBalancerNotFound`, `DuplicateListener`, `ValidationError`,
   *   `TargetGroupNotFound`, `TargetGroupAssociationLimit`, `InvalidLoadBalancerAction`.
   */
  createListener(input: CreateListenerInput): { Listeners: Listener[] } {
    const lb = this.loadBalancerState(requireString(input.LoadBalancerArn, 'loadBalancerArn'));
    const protocol = input.Protocol ?? 'HTTP';
    if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw validation(`Protocol '${protocol}' is not valid for an Application Load Balancer listener`);
    if (protocol === 'HTTPS' && !input.Certificates?.length) throw validation('A certificate must be specified for HTTPS listeners');
    const port = input.Port ?? (protocol === 'HTTPS' ? 443 : 80);
    if (!isIntegerIn(port, 1, 65535)) throw validation(`A port from 1 to 65535 must be specified; got ${port}`);
    for (const listener of this.listeners.values()) {
      if (listener.loadBalancerArn === lb.arn && listener.port === port) {
        throw new AwsServiceError(ELBV2_ERRORS.duplicateListener, `A listener already exists on port ${port} of this load balancer`);
      }
    }
    const actions = validateActions(input.DefaultActions, 'defaultActions', this.actionContext(lb.arn));
    const id = this.newId();
    const arn = this.arn(`listener/app/${lb.data.LoadBalancerName}/${lb.id}/${id}`);
    const defaultRule = this.newRule(arn, 'default', [], actions, []);
    const listener: ListenerState = {
      arn,
      id,
      loadBalancerArn: lb.arn,
      port,
      protocol,
      rules: new Map([[defaultRule.arn, defaultRule]]),
      defaultRuleArn: defaultRule.arn,
      tags: [...(input.Tags ?? [])],
    };
    this.listeners.set(arn, listener);
    return { Listeners: [this.listenerData(listener)] };
  }

  /**
   * DescribeListeners of a load balancer or by ARN; paged.
   *
   * @throws AwsServiceError `ListenerNotFound`, `LoadBalancerNotFound`, `ValidationError` when neither is given.
   */
  describeListeners(input: DescribeListenersInput = {}): { Listeners: Listener[]; NextMarker?: string } {
    let found: ListenerState[];
    if (input.ListenerArns?.length) {
      found = input.ListenerArns.map((arn) => this.listenerState(arn));
    } else if (input.LoadBalancerArn !== undefined) {
      const lb = this.loadBalancerState(input.LoadBalancerArn);
      found = [...this.listeners.values()].filter((l) => l.loadBalancerArn === lb.arn);
    } else {
      throw validation('You must specify either listener ARNs or a load balancer ARN');
    }
    const page = paginate(found, input.Marker, input.PageSize);
    return { Listeners: page.items.map((l) => this.listenerData(l)), ...(page.next ? { NextMarker: page.next } : {}) };
  }

  /**
   * ModifyListener: changes only what is sent; `DefaultActions` replaces the default rule's actions.
   *
   * @throws AwsServiceError `ListenerNotFound`, `DuplicateListener`, and the action errors of {@link createListener}.
   */
  modifyListener(input: ModifyListenerInput): { Listeners: Listener[] } {
    const listener = this.listenerState(requireString(input.ListenerArn, 'listenerArn'));
    const actions = input.DefaultActions === undefined ? undefined : validateActions(input.DefaultActions, 'defaultActions', this.actionContext(listener.loadBalancerArn));
    if (input.Port !== undefined) {
      if (!isIntegerIn(input.Port, 1, 65535)) throw validation(`A port from 1 to 65535 must be specified; got ${input.Port}`);
      for (const other of this.listeners.values()) {
        if (other !== listener && other.loadBalancerArn === listener.loadBalancerArn && other.port === input.Port) {
          throw new AwsServiceError(ELBV2_ERRORS.duplicateListener, `A listener already exists on port ${input.Port} of this load balancer`);
        }
      }
    }
    if (input.Protocol !== undefined && input.Protocol !== 'HTTP' && input.Protocol !== 'HTTPS') {
      throw validation(`Protocol '${input.Protocol}' is not valid for an Application Load Balancer listener`);
    }
    if (input.Port !== undefined) listener.port = input.Port;
    if (input.Protocol !== undefined) listener.protocol = input.Protocol;
    if (actions !== undefined) this.setActions(listener.rules.get(listener.defaultRuleArn)!, actions);
    return { Listeners: [this.listenerData(listener)] };
  }

  // ---------- rules ----------

  /**
   * CreateRule on a listener at a free priority (1 to 50000).
   *
   * @throws AwsServiceError `ListenerNotFound`, `PriorityInUse`, `ValidationError`, and the action errors.
   */
  createRule(input: CreateRuleInput): { Rules: Rule[] } {
    const listener = this.listenerState(requireString(input.ListenerArn, 'listenerArn'));
    const priority = input.Priority;
    if (!isIntegerIn(priority, 1, MAX_PRIORITY)) throw validation(`Priority must be an integer from 1 to ${MAX_PRIORITY}; got ${String(priority)}`);
    const conditions = validateConditions(input.Conditions);
    const actions = validateActions(input.Actions, 'actions', this.actionContext(listener.loadBalancerArn));
    for (const rule of listener.rules.values()) {
      if (rule.priority === priority) throw new AwsServiceError(ELBV2_ERRORS.priorityInUse, `Priority '${priority}' is currently in use`);
    }
    const rule = this.newRule(listener.arn, priority, conditions, actions, [...(input.Tags ?? [])]);
    listener.rules.set(rule.arn, rule);
    return { Rules: [ruleData(rule)] };
  }

  /**
   * DescribeRules of a listener (by priority, the default rule last) or by ARN; paged.
   *
   * @throws AwsServiceError `ListenerNotFound`, `RuleNotFound`, `ValidationError` when neither is given.
   */
  describeRules(input: DescribeRulesInput = {}): { Rules: Rule[]; NextMarker?: string } {
    let found: RuleState[];
    if (input.RuleArns?.length) {
      found = input.RuleArns.map((arn) => this.ruleState(arn));
    } else if (input.ListenerArn !== undefined) {
      found = [...this.listenerState(input.ListenerArn).rules.values()].sort(byPriority);
    } else {
      throw validation('You must specify either listener ARN or rule ARNs');
    }
    const page = paginate(found, input.Marker, input.PageSize);
    return { Rules: page.items.map(ruleData), ...(page.next ? { NextMarker: page.next } : {}) };
  }

  /**
   * ModifyRule: `Actions` replaces the actions and `Conditions` the conditions, each only when sent
   * (API reference: "Any properties that you do not specify are unchanged").
   *
   * @throws AwsServiceError `RuleNotFound`, `ValidationError`, `OperationNotPermitted` for a
   *   default rule (API reference: "To modify the actions for the default rule, use
   *   ModifyListener"; OperationNotPermitted is among ModifyRule's errors), and the action errors.
   */
  modifyRule(input: ModifyRuleInput): { Rules: Rule[] } {
    const rule = this.ruleState(requireString(input.RuleArn, 'ruleArn'));
    const listener = this.listenerState(rule.listenerArn);
    if (rule.priority === 'default') {
      throw new AwsServiceError(
        ELBV2_ERRORS.operationNotPermitted,
        `Rule '${rule.arn}' is the default rule of its listener; to modify the default actions, use ModifyListener`,
      );
    }
    const conditions = input.Conditions === undefined ? undefined : validateConditions(input.Conditions);
    const actions = input.Actions === undefined ? undefined : validateActions(input.Actions, 'actions', this.actionContext(listener.loadBalancerArn));
    if (conditions !== undefined) rule.conditions = conditions;
    if (actions !== undefined) this.setActions(rule, actions);
    return { Rules: [ruleData(rule)] };
  }

  /** DeleteRule. @throws AwsServiceError `RuleNotFound`, `OperationNotPermitted` for a default rule. */
  deleteRule(input: DeleteRuleInput): Record<string, never> {
    const rule = this.ruleState(requireString(input.RuleArn, 'ruleArn'));
    if (rule.priority === 'default') throw new AwsServiceError(ELBV2_ERRORS.operationNotPermitted, 'Default rule cannot be deleted');
    this.listenerState(rule.listenerArn).rules.delete(rule.arn);
    this.rules.delete(rule.arn);
    return {};
  }

  // ---------- targets ----------

  /**
   * RegisterTargets: new targets start `initial`; an already registered one is left as it is; a
   * draining one is registered again (`initial`). The port defaults to the target group's.
   *
   * @throws AwsServiceError `TargetGroupNotFound`, `InvalidTarget` (an id that is not an IP address
   *   for target type `ip`), `ValidationError`.
   */
  registerTargets(input: RegisterTargetsInput): Record<string, never> {
    const tg = this.targetGroupState(requireString(input.TargetGroupArn, 'targetGroupArn'));
    const targets = (input.Targets ?? []).map((t) => this.targetKey(tg, t));
    if (targets.length === 0) throw validation("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null");
    for (const target of targets) {
      const existing = tg.targets.get(target.key);
      if (existing !== undefined && existing.drainingUntil === undefined) continue;
      if (existing !== undefined) this.finishDraining(existing);
      tg.targets.set(target.key, {
        id: target.id,
        port: target.port,
        ...(target.availabilityZone !== undefined ? { availabilityZone: target.availabilityZone } : {}),
        health: REGISTERED,
        drainedWaiters: [],
      });
    }
    return {};
  }

  /**
   * DeregisterTargets: each target drains for the target group's `deregistration_delay.timeout_seconds`
   * (taking no new requests), then leaves (ALB user guide, "Deregistration delay").
   *
   * @throws AwsServiceError `TargetGroupNotFound`, `InvalidTarget` for a target that is not registered.
   */
  deregisterTargets(input: DeregisterTargetsInput): Record<string, never> {
    const tg = this.targetGroupState(requireString(input.TargetGroupArn, 'targetGroupArn'));
    this.expireDraining(tg);
    const targets = (input.Targets ?? []).map((t) => this.targetKey(tg, t));
    for (const target of targets) {
      if (!tg.targets.has(target.key)) {
        throw new AwsServiceError(
          ELBV2_ERRORS.invalidTarget,
          `The following targets are not registered in target group ${tg.data.TargetGroupName}: '${target.id}:${target.port}'`,
        );
      }
    }
    const delayMs = Number(tg.attributes.get('deregistration_delay.timeout_seconds')) * 1000;
    const until = this.now().getTime() + delayMs;
    for (const target of targets) {
      const state = tg.targets.get(target.key)!;
      if (state.drainingUntil !== undefined) continue;
      state.drainingUntil = until;
      const timer = setTimeout(() => this.expireDraining(tg), delayMs + 1);
      timer.unref();
    }
    this.expireDraining(tg);
    return {};
  }

  /**
   * DescribeTargetHealth of every registered target, or of the targets asked for (an unregistered
   * one is `unused` / `Target.NotRegistered`). Targets of a target group no load balancer uses are
   * `unused` / `Target.NotInUse`.
   *
   * @throws AwsServiceError `TargetGroupNotFound`, `InvalidTarget`.
   */
  describeTargetHealth(input: DescribeTargetHealthInput): { TargetHealthDescriptions: TargetHealthDescription[] } {
    const tg = this.targetGroupState(requireString(input.TargetGroupArn, 'targetGroupArn'));
    this.expireDraining(tg);
    const inUse = this.loadBalancersOf(tg.arn).length > 0;
    const asked = input.Targets?.length ? input.Targets.map((t) => this.targetKey(tg, t)) : undefined;
    const describe = (target: TargetState): TargetHealthDescription => ({
      Target: { Id: target.id, Port: target.port, ...(target.availabilityZone ? { AvailabilityZone: target.availabilityZone } : {}) },
      HealthCheckPort: this.healthCheckPort(tg, target),
      TargetHealth:
        target.drainingUntil !== undefined
          ? { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' }
          : !inUse
            ? { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target group is not configured to receive traffic from the load balancer' }
            : {
                State: target.health.state,
                ...(target.health.reason !== undefined ? { Reason: target.health.reason } : {}),
                ...(target.health.description !== undefined ? { Description: target.health.description } : {}),
              },
    });
    if (asked === undefined) return { TargetHealthDescriptions: [...tg.targets.values()].map(describe) };
    return {
      TargetHealthDescriptions: asked.map((a) => {
        const target = tg.targets.get(a.key);
        if (target !== undefined) return describe(target);
        return {
          Target: { Id: a.id, Port: a.port },
          HealthCheckPort: tg.data.HealthCheckPort === 'traffic-port' ? String(a.port) : tg.data.HealthCheckPort,
          TargetHealth: { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' },
        };
      }),
    };
  }

  // ---------- tags ----------

  /**
   * DescribeTags of load balancers, target groups, listeners and rules (at most 20 ARNs).
   *
   * @throws AwsServiceError the not-found error of the first unknown resource; `ValidationError`.
   */
  describeTags(input: DescribeTagsInput): { TagDescriptions: { ResourceArn: string; Tags: Tag[] }[] } {
    const arns = input.ResourceArns ?? [];
    if (arns.length === 0 || arns.length > 20) throw validation('Between 1 and 20 resource ARNs must be specified');
    return {
      TagDescriptions: arns.map((arn) => {
        const resource = this.loadBalancers.get(arn) ?? this.targetGroups.get(arn) ?? this.listeners.get(arn) ?? this.rules.get(arn);
        if (resource === undefined) {
          if (arn.includes(':targetgroup/')) this.targetGroupState(arn);
          if (arn.includes(':listener-rule/')) this.ruleState(arn);
          if (arn.includes(':listener/')) this.listenerState(arn);
          this.loadBalancerState(arn);
        }
        return { ResourceArn: arn, Tags: structuredClone(resource!.tags) };
      }),
    };
  }

  // ---------- what the gateway, the world and the reports read ----------

  /**
   * Where the listener sends a request: rules by priority, then the default rule; the first whose
   * conditions all match decides (see `./elbv2/routing`). A weighted forward picks a target group
   * with probability weight / total using `random()`.
   *
   * @throws AwsServiceError `ListenerNotFound`.
   *
   * @example
   * const decision = elbv2.route(listenerArn, { path: '/color', headers: { 'x-release-color': 'green' } });
   * if (decision.kind === 'forward') elbv2.routableTargets(decision.targetGroupArn);
   */
  route(listenerArn: string, request: RoutableRequest, random: () => number = Math.random): RouteDecision {
    const listener = this.listenerState(listenerArn);
    for (const rule of [...listener.rules.values()].sort(byPriority)) {
      if (conditionsMatch(rule.conditions, request)) return decide(rule.arn, rule.actions, random());
    }
    // Unreachable: the default rule has no conditions and so matches every request.
    throw new Error(`Listener ${listenerArn} has no default rule`);
  }

  /**
   * The targets a NEW request may go to: the healthy ones; when the target group has registered
   * targets but none healthy, every unhealthy one (ALB fails open: "If a target group contains only
   * unhealthy registered targets, the load balancer routes requests to all those targets"). Draining
   * and initial targets take no new requests. Read it on every request: it changes as tasks come and go.
   *
   * @throws AwsServiceError `TargetGroupNotFound`.
   */
  routableTargets(targetGroupArn: string): RoutableTarget[] {
    const tg = this.targetGroupState(targetGroupArn);
    this.expireDraining(tg);
    const live = [...tg.targets.values()].filter((t) => t.drainingUntil === undefined);
    const healthy = live.filter((t) => t.health.state === 'healthy');
    const chosen = healthy.length > 0 ? healthy : live.filter((t) => t.health.state === 'unhealthy');
    return chosen.map((t) => ({ id: t.id, port: t.port }));
  }

  /**
   * Resolves when the target stops being in the target group's care: at once when it is not
   * registered, else when its draining ends (or it is registered again while draining). ECS
   * stops a task behind a load balancer only after this (its deregistration delay).
   */
  whenDeregistered(targetGroupArn: string, target: { id: string; port: number }): Promise<void> {
    const tg = this.targetGroupState(targetGroupArn);
    this.expireDraining(tg);
    const state = tg.targets.get(`${target.id}:${target.port}`);
    if (state === undefined) return Promise.resolve();
    return new Promise((resolve) => state.drainedWaiters.push(resolve));
  }

  /**
   * The forward weights of a listener's rule by target group ARN (`'listener-default'` for the
   * default action); empty when the rule does not forward.
   *
   * @throws AwsServiceError `ListenerNotFound`, `RuleNotFound` (also for a rule of another listener).
   */
  weights(listenerArn: string, rule: RuleSelector = 'listener-default'): Record<string, number> {
    return weightsOf(this.selectRule(listenerArn, rule).actions);
  }

  /** Every forward weight the rule has had, oldest first, starting with its creation. */
  weightHistory(listenerArn: string, rule: RuleSelector = 'listener-default'): readonly ForwardWeightChange[] {
    return structuredClone(this.selectRule(listenerArn, rule).history);
  }

  /** Starts health checking every in-use target group, each at its interval (or `healthCheckIntervalMs`). Idempotent. */
  startHealthChecks(): void {
    if (this.healthChecksRunning) return;
    this.healthChecksRunning = true;
    for (const tg of this.targetGroups.values()) this.scheduleHealthChecks(tg);
  }

  /** Stops health checking (checks in flight finish and are applied). Idempotent. */
  stopHealthChecks(): void {
    this.healthChecksRunning = false;
    for (const timer of this.healthTimers.values()) clearInterval(timer);
    this.healthTimers.clear();
  }

  /**
   * Runs one round of health checks now, on every registered, non-draining target of every in-use
   * target group (or of `targetGroupArn`), and applies the results. What the timer does each
   * interval; tests call it to step health deterministically.
   */
  async checkHealthNow(targetGroupArn?: string): Promise<void> {
    const groups = targetGroupArn === undefined ? [...this.targetGroups.values()] : [this.targetGroupState(targetGroupArn)];
    await Promise.all(groups.map((tg) => this.healthCheckRound(tg)));
  }

  /**
   * Makes the next calls of `operation` fail, one error per call, in order, before they touch
   * any state (e.g. throttle one ModifyRule with {@link elbThrottling}). Applies to requests
   * through the endpoint.
   */
  injectFailures(operation: Elbv2OperationName, errors: readonly AwsServiceError[]): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...errors]);
  }

  /** Drops every failure injected and not yet thrown. */
  clearInjectedFailures(): void {
    this.failures.clear();
  }

  // ---------- internals ----------

  private failInjected(operation: Elbv2OperationName): void {
    const next = this.failures.get(operation)?.shift();
    if (next !== undefined) throw next;
  }

  private arn(resource: string): string {
    return `arn:aws:elasticloadbalancing:${this.region}:${this.accountId}:${resource}`;
  }

  private newRule(listenerArn: string, priority: number | 'default', conditions: RuleCondition[], actions: Action[], tags: Tag[]): RuleState {
    const listener = /:listener\/(app\/.+)$/.exec(listenerArn)![1];
    const arn = this.arn(`listener-rule/${listener}/${this.newId()}`);
    const rule: RuleState = { arn, listenerArn, priority, conditions, actions, tags, history: [] };
    rule.history.push({ at: this.now(), ruleArn: arn, weights: weightsOf(actions) });
    this.rules.set(arn, rule);
    return rule;
  }

  private setActions(rule: RuleState, actions: Action[]): void {
    const before = weightsOf(rule.actions);
    rule.actions = actions;
    const after = weightsOf(actions);
    if (JSON.stringify(before) !== JSON.stringify(after)) rule.history.push({ at: this.now(), ruleArn: rule.arn, weights: after });
  }

  private selectRule(listenerArn: string, selector: RuleSelector): RuleState {
    const listener = this.listenerState(listenerArn);
    if (selector === 'listener-default') return listener.rules.get(listener.defaultRuleArn)!;
    const rule = listener.rules.get(selector);
    if (rule === undefined) throw new AwsServiceError(ELBV2_ERRORS.ruleNotFound, `Rule '${selector}' not found on listener ${listenerArn}`);
    return rule;
  }

  private actionContext(loadBalancerArn: string): ActionContext {
    return {
      loadBalancerArn,
      requireTargetGroup: (arn) => void this.targetGroupState(arn),
      loadBalancersOf: (arn) => this.loadBalancersOf(arn),
    };
  }

  /** Load balancers whose listeners' rules forward to the target group. */
  private loadBalancersOf(targetGroupArn: string): string[] {
    const out = new Set<string>();
    for (const listener of this.listeners.values()) {
      for (const rule of listener.rules.values()) {
        if (rule.actions.some((a) => a.Type === 'forward' && forwardTargets(a).some((t) => t.targetGroupArn === targetGroupArn))) {
          out.add(listener.loadBalancerArn);
        }
      }
    }
    return [...out];
  }

  private targetKey(tg: TargetGroupState, target: TargetDescription): { key: string; id: string; port: number; availabilityZone?: string } {
    const id = requireString(target.Id, 'targets.member.id');
    if (tg.data.TargetType === 'ip' && isIP(id) === 0) {
      throw new AwsServiceError(ELBV2_ERRORS.invalidTarget, `The IP address '${id}' is not a valid IPv4 or IPv6 address`);
    }
    const port = target.Port ?? tg.data.Port!;
    if (!isIntegerIn(port, 1, 65535)) throw validation(`Target port must be from 1 to 65535; got ${port}`);
    return { key: `${id}:${port}`, id, port, ...(target.AvailabilityZone !== undefined ? { availabilityZone: target.AvailabilityZone } : {}) };
  }

  private healthCheckPort(tg: TargetGroupState, target: { port: number }): string {
    return tg.data.HealthCheckPort === 'traffic-port' || tg.data.HealthCheckPort === undefined ? String(target.port) : tg.data.HealthCheckPort;
  }

  /** Removes targets whose draining has ended and wakes whoever waits for them. */
  private expireDraining(tg: TargetGroupState): void {
    const now = this.now().getTime();
    for (const [key, target] of tg.targets) {
      if (target.drainingUntil !== undefined && target.drainingUntil <= now) {
        tg.targets.delete(key);
        this.finishDraining(target);
      }
    }
  }

  private finishDraining(target: TargetState): void {
    for (const wake of target.drainedWaiters.splice(0)) wake();
  }

  private scheduleHealthChecks(tg: TargetGroupState): void {
    if (this.healthTimers.has(tg.arn)) return;
    const intervalMs = this.healthCheckIntervalMs ?? tg.data.HealthCheckIntervalSeconds! * 1000;
    const timer = setInterval(() => {
      void this.healthCheckRound(tg);
    }, intervalMs);
    timer.unref();
    this.healthTimers.set(tg.arn, timer);
  }

  private async healthCheckRound(tg: TargetGroupState): Promise<void> {
    this.expireDraining(tg);
    // Checks of a target group that no load balancer uses are not made (its targets are `unused`).
    if (this.checking.has(tg.arn) || !tg.data.HealthCheckEnabled || this.loadBalancersOf(tg.arn).length === 0) return;
    this.checking.add(tg.arn);
    try {
      const targets = [...tg.targets.values()].filter((t) => t.drainingUntil === undefined);
      const results = await Promise.all(
        targets.map((target) =>
          this.probe({
            targetGroupArn: tg.arn,
            id: target.id,
            port: Number(this.healthCheckPort(tg, target)),
            protocol: tg.data.HealthCheckProtocol === 'HTTPS' ? 'HTTPS' : 'HTTP',
            path: tg.data.HealthCheckPath ?? '/',
            timeoutMs: tg.data.HealthCheckTimeoutSeconds! * 1000,
            matcher: tg.data.Matcher?.HttpCode ?? '200',
          }).catch((error: unknown) => ({
            healthy: false as const,
            reason: 'Target.FailedHealthChecks' as const,
            description: `Health check failed: ${error instanceof Error ? error.message : String(error)}`,
          })),
        ),
      );
      const thresholds = { healthyThreshold: tg.data.HealthyThresholdCount!, unhealthyThreshold: tg.data.UnhealthyThresholdCount! };
      targets.forEach((target, i) => {
        // A target deregistered (or registered again) while its check ran keeps its new state.
        if (tg.targets.get(`${target.id}:${target.port}`) === target && target.drainingUntil === undefined) {
          target.health = nextHealth(target.health, results[i], thresholds);
        }
      });
    } finally {
      this.checking.delete(tg.arn);
    }
  }

  private loadBalancerState(arn: string): LoadBalancerState {
    const lb = this.loadBalancers.get(arn);
    if (lb === undefined) throw new AwsServiceError(ELBV2_ERRORS.loadBalancerNotFound, `Load balancers '[${arn}]' not found`);
    return lb;
  }

  private targetGroupState(arn: string): TargetGroupState {
    const tg = this.targetGroups.get(arn);
    if (tg === undefined) throw new AwsServiceError(ELBV2_ERRORS.targetGroupNotFound, `Target groups '[${arn}]' not found`);
    return tg;
  }

  private listenerState(arn: string): ListenerState {
    const listener = this.listeners.get(arn);
    if (listener === undefined) throw new AwsServiceError(ELBV2_ERRORS.listenerNotFound, `Listeners '[${arn}]' not found`);
    return listener;
  }

  private ruleState(arn: string): RuleState {
    const rule = this.rules.get(arn);
    if (rule === undefined) throw new AwsServiceError(ELBV2_ERRORS.ruleNotFound, `One or more rules not found: '${arn}'`);
    return rule;
  }

  private targetGroupData(tg: TargetGroupState): TargetGroup {
    return { ...structuredClone(tg.data), LoadBalancerArns: this.loadBalancersOf(tg.arn) };
  }

  private listenerData(listener: ListenerState): Listener {
    return {
      ListenerArn: listener.arn,
      LoadBalancerArn: listener.loadBalancerArn,
      Port: listener.port,
      Protocol: listener.protocol as Listener['Protocol'],
      DefaultActions: structuredClone(listener.rules.get(listener.defaultRuleArn)!.actions),
    };
  }
}

/** A rule as DescribeRules shows it. */
function ruleData(rule: RuleState): Rule {
  return {
    RuleArn: rule.arn,
    Priority: String(rule.priority),
    Conditions: structuredClone(rule.conditions),
    Actions: structuredClone(rule.actions),
    IsDefault: rule.priority === 'default',
  };
}

function byPriority(a: RuleState, b: RuleState): number {
  const rank = (r: RuleState) => (r.priority === 'default' ? Number.MAX_SAFE_INTEGER : r.priority);
  return rank(a) - rank(b);
}

function validateName(name: string, what: string): void {
  // CreateLoadBalancer / CreateTargetGroup `Name`: up to 32 alphanumerics or hyphens, no hyphen at
  // either end; a load balancer name must not begin with "internal-".
  if (!NAME.test(name)) {
    throw validation(`${what} name '${name}' must be 1 to 32 letters, digits or hyphens, must not begin or end with a hyphen, or begin with 'internal-'`);
  }
}

