/**
 * The ALB sample in the local world: the `traffic` section of the config document for it, and
 * the load balancer that section describes, built in the local ELBv2 exactly as
 * `ColorappServiceStack` builds it in AWS (infra/stacks/colorapp-service-stack.ts): an ALB, one
 * `ip` target group per colour on port 8080 with the `/healthcheck` health check, an HTTP
 * listener on port 80 whose default action forwards blue 100 / green 0, and listener rules 1
 * (blue) and 2 (green) that forward `x-release-color: <colour>` to that colour whatever the
 * weights.
 *
 * In AWS the ARNs are only known once the resources exist; locally the config comes first (the
 * same config document shape the CDK app writes) and the world creates the resources under the
 * names and ids its ARNs carry, so whichever the config names (the listener's default action or
 * a rule, test rules or not) is what exists.
 */
import { createHash } from 'node:crypto';
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLOURS, type Colour } from '../lambdas/shared/colours';
import { LISTENER_DEFAULT_ACTION, type TrafficConfig } from '../lambdas/shared/config';
import type { LocalElbv2 } from './services/elbv2';

/** The ALB member of the traffic union. */
export type AlbTraffic = Extract<TrafficConfig, { kind: 'alb' }>;

/** Names of the ALB sample, as `ReleaseSettings.alb` holds them. */
export interface AlbSampleNames {
  readonly loadBalancerName: string;
  readonly targetGroupNames: Readonly<Record<Colour, string>>;
}

/** Where the ALB's ARNs live. */
export interface AlbArnScope {
  readonly region: string;
  readonly account: string;
}

/** The sample's listener port (colorapp's; each copy of the fleet sample has its own) and the target groups' traffic port (colorapp's APP_PORT). */
export const SAMPLE_LISTENER_PORT = 80;
const TARGET_PORT = 8080;
/** Priority of the weighted rule when the config names a rule instead of the default action: after the header rules. */
const WEIGHTED_RULE_PRIORITY = 10;

/**
 * The `traffic` section of the local ALB sample: ARNs with stable ids derived from the names, as
 * the world will create them.
 *
 * @param weighted `'rule'` (as the CDK sample: a listener rule on every path carries the weighted forward, the listener's default action is a fixed 503) or `'listener-default'` (the weighted forward is the listener's default action, as many existing services have it).
 * @param listenerPort The listener's port: {@link SAMPLE_LISTENER_PORT} for colorapp; a copy of the fleet sample has a listener of its own on the same load balancer (`ColorappCopyStack`: port 8000 + its index), so its listener and rule ARNs differ from colorapp's.
 * @example
 * serviceConfigOf(settings, { traffic: localAlbTrafficOf(settings.alb, { region: 'eu-west-1', account: '000000000000' }) });
 */
export function localAlbTrafficOf(
  names: AlbSampleNames,
  scope: AlbArnScope,
  weighted: 'listener-default' | 'rule' = 'rule',
  listenerPort: number = SAMPLE_LISTENER_PORT,
): AlbTraffic {
  const prefix = `arn:aws:elasticloadbalancing:${scope.region}:${scope.account}:`;
  const lb = `app/${names.loadBalancerName}/${stableId('loadbalancer', names.loadBalancerName)}`;
  // colorapp's listener keeps the ids it always had; another port is another listener.
  const listenerKey = listenerPort === SAMPLE_LISTENER_PORT ? lb : `${lb}:${listenerPort}`;
  const listenerArn = `${prefix}listener/${lb}/${stableId('listener', listenerKey)}`;
  const ruleArn = (what: string) => `${listenerArn.replace(':listener/', ':listener-rule/')}/${stableId('rule', `${listenerKey}/${what}`)}`;
  const targetGroupArn = (colour: Colour) =>
    `${prefix}targetgroup/${names.targetGroupNames[colour]}/${stableId('targetgroup', names.targetGroupNames[colour])}`;
  return {
    kind: 'alb',
    listenerArn,
    rule: weighted === 'listener-default' ? LISTENER_DEFAULT_ACTION : ruleArn('weighted'),
    targetGroups: { blue: targetGroupArn('blue'), green: targetGroupArn('green') },
    testRules: { blue: ruleArn('blue-by-header'), green: ruleArn('green-by-header') },
  };
}

/** What {@link seedAlb} needs beyond the traffic section. */
export interface SeedAlbOptions {
  /** The header whose value names a colour (`ReleaseSettings.alb.testHeader`). */
  readonly testHeader: string;
  /** `deregistration_delay.timeout_seconds` of both target groups. */
  readonly deregistrationDelaySeconds: number;
  /** Tells the local ELBv2 which id its next resource gets (its `newId` option reads this queue). */
  readonly nextIds: string[];
  /** The listener's port. @default {@link SAMPLE_LISTENER_PORT} */
  readonly listenerPort?: number;
}

/**
 * Creates, in `elbv2`, the load balancer, target groups, listener and rules that `traffic` names,
 * under the names and ids of its ARNs, with the sample's settings. The load balancer is created
 * once: a copy of the fleet sample seeded after colorapp adds its listener, target groups and
 * rules to colorapp's load balancer, as `ColorappCopyStack` does.
 *
 * @throws Error when an ARN is not in `region`/`account`, or cannot be parsed.
 */
export function seedAlb(elbv2: LocalElbv2, traffic: AlbTraffic, scope: AlbArnScope, options: SeedAlbOptions): void {
  const listener = parseArn(traffic.listenerArn, /^listener\/app\/([^/]+)\/([^/]+)\/([^/]+)$/, scope);
  const [lbName, lbId, listenerId] = listener;
  const ids = options.nextIds;
  const existing = elbv2.describeLoadBalancers().LoadBalancers.find((candidate) => candidate.LoadBalancerName === lbName);
  // CreateLoadBalancer returns an existing one without a new id: queue the id only for a new one.
  if (existing === undefined) ids.push(lbId);
  const lb = existing ?? elbv2.createLoadBalancer({ Name: lbName, Subnets: ['subnet-local-a', 'subnet-local-b'], Scheme: 'internet-facing' }).LoadBalancers[0];

  const targetGroups = {} as Record<Colour, string>;
  for (const colour of COLOURS) {
    const [name, id] = parseArn(traffic.targetGroups[colour], /^targetgroup\/([^/]+)\/([^/]+)$/, scope);
    ids.push(id);
    // The sample's target group (ColorappServiceStack): Fargate tasks register by IP.
    const tg = elbv2.createTargetGroup({
      Name: name,
      Protocol: 'HTTP',
      Port: TARGET_PORT,
      TargetType: 'ip',
      HealthCheckPath: '/healthcheck',
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    }).TargetGroups[0];
    elbv2.modifyTargetGroupAttributes({
      TargetGroupArn: tg.TargetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(options.deregistrationDelaySeconds) }],
    });
    targetGroups[colour] = tg.TargetGroupArn!;
  }

  const weightedForward: Action = {
    Type: 'forward',
    ForwardConfig: { TargetGroups: [{ TargetGroupArn: targetGroups.blue, Weight: 100 }, { TargetGroupArn: targetGroups.green, Weight: 0 }] },
  };
  const byDefault = traffic.rule === LISTENER_DEFAULT_ACTION;
  ids.push(listenerId);
  elbv2.createListener({
    LoadBalancerArn: lb.LoadBalancerArn,
    Protocol: 'HTTP',
    Port: options.listenerPort ?? SAMPLE_LISTENER_PORT,
    DefaultActions: byDefault
      ? [weightedForward]
      : // As the CDK sample's listener: never reached while the weighted rule (every path) exists.
        [
          {
            Type: 'fixed-response',
            FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'colorapp: no release rule (the weighted listener rule is missing)' },
          },
        ],
  });

  const ruleId = (arn: string) => parseArn(arn, /^listener-rule\/app\/[^/]+\/[^/]+\/[^/]+\/([^/]+)$/, scope)[0];
  COLOURS.forEach((colour, i) => {
    if (traffic.testRules) ids.push(ruleId(traffic.testRules[colour]));
    elbv2.createRule({
      ListenerArn: traffic.listenerArn,
      Priority: i + 1,
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: options.testHeader, Values: [colour] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: targetGroups[colour] }],
    });
  });
  if (!byDefault) {
    ids.push(ruleId(traffic.rule));
    elbv2.createRule({
      ListenerArn: traffic.listenerArn,
      Priority: WEIGHTED_RULE_PRIORITY,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
      Actions: [weightedForward],
    });
  }
}

/** The resource part of an ELBv2 ARN matched against `pattern`, after checking its region and account. */
function parseArn(arn: string, pattern: RegExp, scope: AlbArnScope): string[] {
  const match = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):(.+)$/.exec(arn);
  const resource = match ? pattern.exec(match[3]) : null;
  if (!match || !resource) throw new Error(`The local world cannot build '${arn}': not an ARN of the expected shape`);
  if (match[1] !== scope.region || match[2] !== scope.account) {
    throw new Error(
      `'${arn}' is in ${match[1]}/${match[2]} but the local world runs in ${scope.region}/${scope.account}; ` +
        'build the traffic section with the world\'s region and account (localAlbTrafficOf)',
    );
  }
  return resource.slice(1);
}

/** 16 hex digits, stable for a name: the id part of a local ARN. */
function stableId(kind: string, name: string): string {
  return createHash('sha256').update(`${kind}/${name}`).digest('hex').slice(0, 16);
}
