/**
 * What must hold after every release, whatever went wrong during it, and how to read it: through
 * the local endpoint with SDK clients, as any client (the AWS CLI, an operator's script) would,
 * plus HTTP requests through the gateway, as users see the service. The checks are a pure
 * function of one observation, so each invariant has a test that builds a violating world.
 */
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeRulesCommand, ElasticLoadBalancingV2Client, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AppMeshClient, DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { COLOURS, otherColour, type Colour } from '../../lambdas/shared/colours';
import type { ServiceConfig } from '../../lambdas/shared/config';
import { LockDocumentSchema, parameterNames, ReleaseStateSchema, type LockDocument, type ReleaseState } from '../../lambdas/shared/documents';

/** The invariants, by name. */
export const INVARIANTS = {
  trafficOnLive: 'traffic-on-live',
  lockFree: 'lock-free',
  revisionsMatch: 'revisions-match',
  idleEmpty: 'idle-empty',
  servesLive: 'serves-live-version',
} as const;
export type InvariantName = (typeof INVARIANTS)[keyof typeof INVARIANTS];

/** One broken invariant, in words an engineer can act on. */
export interface Violation {
  readonly invariant: InvariantName;
  readonly message: string;
}

/** One colour's ECS service, as DescribeServices shows it. */
export interface ServiceView {
  readonly name: string;
  readonly taskDefinition: string | undefined;
  readonly desiredCount: number;
}

/** What a client sees of the world after a release. */
export interface WorldObservation {
  /** Weights by colour of the weighted forward (ALB) or route (App Mesh), or why they could not be read. */
  readonly weights: { readonly blue: number; readonly green: number } | { readonly problem: string };
  readonly state: ReleaseState | null;
  readonly lock: LockDocument | null;
  readonly services: Readonly<Record<Colour, ServiceView>>;
  readonly keepOldColourWarm: boolean;
  /** What requests through the gateway were answered with (colorapp answers its colour and version). */
  readonly served: readonly { readonly status: number; readonly color?: string; readonly version?: string }[];
}

/** What is known of the release just run, besides the world. */
export interface ReleaseFacts {
  readonly releaseId: string;
  /** The version it released, e.g. `v3`. */
  readonly version: string;
  /** DescribeExecution's status and error. */
  readonly executionStatus: string;
  readonly executionError?: string;
  /** Whoever reported a failed rollback for this release (the execution, cleanup's dead letters, the reconciler): non-empty means reported. */
  readonly rollbackFailureReports: readonly string[];
}

/**
 * Every invariant `observed` breaks after `release`:
 * 1. traffic is 100/0 on the colour the state calls live;
 * 2. the lock is free, or held `rollback-failed` and that was reported;
 * 3. the state's revision of each colour that runs tasks is the one its ECS service runs;
 * 4. the idle service wants no task after a release that did not promote, unless kept warm
 *    (after a promotion too, unless the scale-down failed and said so);
 * 5. what the gateway serves is the state's live version: for a release recorded as promoted,
 *    the new version.
 * With the lock left `rollback-failed` (reported), traffic and services may be half-way by
 * definition: only invariant 2 is judged.
 */
export function checkInvariants(observed: WorldObservation, release: ReleaseFacts): Violation[] {
  const violations: Violation[] = [];
  const { state, lock } = observed;
  if (lock) {
    if (lock.status !== 'rollback-failed') {
      violations.push({
        invariant: INVARIANTS.lockFree,
        message: `the lock is still held (${lock.status}) by release ${lock.releaseId} (${lock.executionArn}) after the release ended and cleanup and the reconciler ran`,
      });
    } else if (release.rollbackFailureReports.length === 0) {
      violations.push({
        invariant: INVARIANTS.lockFree,
        message: `the lock was left rollback-failed by release ${lock.releaseId} (${lock.reason ?? 'no reason'}) and nothing reported it`,
      });
    }
    if (lock.status === 'rollback-failed') return violations;
  }
  if (!state) {
    violations.push({ invariant: INVARIANTS.revisionsMatch, message: 'there is no release state document' });
    return violations;
  }
  const live = state.live;
  const idle = otherColour(live);
  if ('problem' in observed.weights) {
    violations.push({ invariant: INVARIANTS.trafficOnLive, message: `the route cannot be read as a split of the two colours: ${observed.weights.problem}` });
  } else if (observed.weights[live] !== 100 || observed.weights[idle] !== 0) {
    violations.push({
      invariant: INVARIANTS.trafficOnLive,
      message: `traffic is blue ${observed.weights.blue} / green ${observed.weights.green}, but the state says ${live} is live (expected 100/0)`,
    });
  }
  for (const colour of COLOURS) {
    const service = observed.services[colour];
    if (colour === idle && service.desiredCount === 0) continue;
    const recorded = state.colours[colour].taskDefinitionArn;
    if (recorded !== null && recorded !== service.taskDefinition) {
      violations.push({
        invariant: INVARIANTS.revisionsMatch,
        message: `${service.name} (${colour}${colour === live ? ', live' : ', idle'}) runs ${service.taskDefinition ?? 'nothing'}, but the state records ${recorded}`,
      });
    }
  }
  const record = state.lastRelease?.id === release.releaseId ? state.lastRelease : null;
  const promoted = record?.outcome === 'promoted';
  const scaleDownReported = release.executionError === 'ScaleDownFailedError';
  if (!observed.keepOldColourWarm && observed.services[idle].desiredCount > 0 && !(promoted && scaleDownReported)) {
    violations.push({
      invariant: INVARIANTS.idleEmpty,
      message: `idle service ${observed.services[idle].name} (${idle}) wants ${observed.services[idle].desiredCount} task(s) after the release (${record?.outcome ?? 'no record'}); keepOldColourWarm is off`,
    });
  }
  const liveVersion = state.colours[live].version;
  const expected = promoted ? release.version : liveVersion;
  const wrong = observed.served.filter((answer) => answer.status !== 200 || answer.version !== expected || answer.color !== live);
  if (observed.served.length === 0 || wrong.length > 0) {
    const seen = observed.served.map((a) => (a.status === 200 ? `${a.color}/${a.version}` : String(a.status)));
    violations.push({
      invariant: INVARIANTS.servesLive,
      message:
        `${promoted ? `release ${release.releaseId} is recorded as promoted, so ` : ''}users should get ${live}/${expected}; ` +
        `of ${observed.served.length} requests, ${wrong.length} got something else: ${[...new Set(seen)].join(', ') || 'no answer'}`,
    });
  }
  return violations;
}

/** Reads a {@link WorldObservation} through the endpoint and the gateway. */
export class WorldReader {
  private readonly ssm: SSMClient;
  private readonly ecs: ECSClient;
  private readonly elbv2: ElasticLoadBalancingV2Client;
  private readonly mesh: AppMeshClient;

  constructor(
    endpointUrl: string,
    private readonly gatewayUrl: string,
    private readonly config: ServiceConfig,
    region: string,
  ) {
    const clientConfig = { endpoint: endpointUrl, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 5 };
    this.ssm = new SSMClient(clientConfig);
    this.ecs = new ECSClient(clientConfig);
    this.elbv2 = new ElasticLoadBalancingV2Client(clientConfig);
    this.mesh = new AppMeshClient(clientConfig);
  }

  /** The lock, read with GetParameter; null when free. */
  async lock(): Promise<LockDocument | null> {
    return this.getJson(parameterNames(this.config.service).lock, LockDocumentSchema);
  }

  /** Everything the invariants judge; `requests` GETs through the gateway. */
  async observe(requests = 10): Promise<WorldObservation> {
    const [weights, state, lock, services] = await Promise.all([this.weights(), this.state(), this.lock(), this.services()]);
    const served = [];
    for (let i = 0; i < requests; i++) served.push(await this.get());
    return { weights, state, lock, services, keepOldColourWarm: this.config.promotion.keepOldColourWarm, served };
  }

  destroy(): void {
    for (const client of [this.ssm, this.ecs, this.elbv2, this.mesh]) client.destroy();
  }

  private state(): Promise<ReleaseState | null> {
    return this.getJson(parameterNames(this.config.service).state, ReleaseStateSchema);
  }

  private async getJson<T>(name: string, schema: { parse(value: unknown): T }): Promise<T | null> {
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: name }));
      return schema.parse(JSON.parse(out.Parameter!.Value!));
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return null;
      throw error;
    }
  }

  private async weights(): Promise<WorldObservation['weights']> {
    const route = this.config.traffic;
    if (route.kind === 'alb') {
      let actions: Action[];
      if (route.rule === 'listener-default') {
        const out = await this.elbv2.send(new DescribeListenersCommand({ ListenerArns: [route.listenerArn] }));
        actions = out.Listeners?.[0]?.DefaultActions ?? [];
      } else {
        const out = await this.elbv2.send(new DescribeRulesCommand({ RuleArns: [route.rule] }));
        actions = out.Rules?.[0]?.Actions ?? [];
      }
      const groups = actions.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups ?? [];
      const known = new Set(Object.values(route.targetGroups));
      const stranger = groups.find((g) => !known.has(g.TargetGroupArn ?? '') && (g.Weight ?? 0) > 0);
      if (stranger) return { problem: `the forward sends weight ${stranger.Weight} to ${stranger.TargetGroupArn}, neither colour's target group` };
      const weightOf = (arn: string) => groups.find((g) => g.TargetGroupArn === arn)?.Weight ?? 0;
      return { blue: weightOf(route.targetGroups.blue), green: weightOf(route.targetGroups.green) };
    }
    const out = await this.mesh.send(new DescribeRouteCommand({ meshName: route.meshName, virtualRouterName: route.virtualRouterName, routeName: route.routeName }));
    const targets = out.route?.spec?.httpRoute?.action?.weightedTargets ?? [];
    const weightOf = (node: string) => targets.find((t) => t.virtualNode === node)?.weight ?? 0;
    return { blue: weightOf(route.virtualNodes.blue), green: weightOf(route.virtualNodes.green) };
  }

  private async services(): Promise<Record<Colour, ServiceView>> {
    const names = this.config.ecsServices;
    const out = await this.ecs.send(new DescribeServicesCommand({ cluster: this.config.cluster, services: [names.blue, names.green] }));
    const view = (name: string): ServiceView => {
      const found = out.services?.find((s) => s.serviceName === name);
      if (!found) throw new Error(`DescribeServices did not return ${name}: ${JSON.stringify(out.failures)}`);
      return { name, taskDefinition: found.taskDefinition, desiredCount: found.desiredCount ?? 0 };
    };
    return { blue: view(names.blue), green: view(names.green) };
  }

  private async get(): Promise<WorldObservation['served'][number]> {
    try {
      const response = await fetch(this.gatewayUrl, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json().catch(() => ({}))) as { color?: string; version?: string };
      return { status: response.status, color: body.color, version: body.version };
    } catch {
      return { status: 0 };
    }
  }
}
