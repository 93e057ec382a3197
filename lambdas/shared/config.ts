import * as z from 'zod';
import type { Colour } from './colours';
import { ValidationError } from './errors';

/**
 * The service configuration: `/ecs-release/<service>/config` in SSM, JSON validated by
 * {@link ServiceConfigSchema}. The CDK app writes it from the construct's props; the local
 * environment is seeded from the same document. Everything a release needs that the start
 * request does not say comes from here.
 */

const Name = z.string().min(1).max(255);
const Percent = z.number().int().min(1).max(100);

/** Canary: explicit idle-colour weights per step, strictly increasing, ending at 100. */
export const CanaryStrategySchema = z.object({
  type: z.literal('canary'),
  steps: z.array(Percent).min(1).max(20),
});
/** Linear: the idle colour gains `stepPercent` each step until 100. */
export const LinearStrategySchema = z.object({
  type: z.literal('linear'),
  stepPercent: Percent,
});
/** Blue/green: all traffic at once, one bake. */
export const BlueGreenStrategySchema = z.object({ type: z.literal('blue-green') });

/** How traffic moves from the live colour to the idle one. */
export const StrategySchema = z.discriminatedUnion('type', [
  CanaryStrategySchema,
  LinearStrategySchema,
  BlueGreenStrategySchema,
]);
/** A traffic strategy. */
export type Strategy = z.infer<typeof StrategySchema>;

/** App Mesh: one weighted route in a virtual router, one virtual node per colour. */
export const AppMeshTrafficSchema = z.object({
  kind: z.literal('appmesh'),
  meshName: Name,
  /** Account that owns a shared mesh; omit for your own. */
  meshOwner: z.string().regex(/^\d{12}$/).optional(),
  virtualRouterName: Name,
  routeName: Name,
  virtualNodes: z.object({ blue: Name, green: Name }),
});

/**
 * ARNs of Elastic Load Balancing v2 resources, as AWS spells them
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html):
 * `...:listener/app/<lb-name>/<lb-id>/<listener-id>`,
 * `...:listener-rule/app/<lb-name>/<lb-id>/<listener-id>/<rule-id>`,
 * `...:targetgroup/<tg-name>/<tg-id>`.
 */
const ELB_ARN_PREFIX = String.raw`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:`;
const ListenerArn = z
  .string()
  .regex(new RegExp(`${ELB_ARN_PREFIX}listener/app/[^/]+/[^/]+/[^/]+$`), 'must be an Application Load Balancer listener ARN');
const ListenerRuleArn = z
  .string()
  .regex(
    new RegExp(`${ELB_ARN_PREFIX}listener-rule/app/[^/]+/[^/]+/[^/]+/[^/]+$`),
    'must be an Application Load Balancer listener rule ARN',
  );
const TargetGroupArn = z
  .string()
  .regex(new RegExp(`${ELB_ARN_PREFIX}targetgroup/[^/]+/[^/]+$`), 'must be a target group ARN');

/** `rule` value that names the listener's default action instead of one of its rules. */
export const LISTENER_DEFAULT_ACTION = 'listener-default';

/**
 * The listener rule ARN's `<lb>/<lb-id>/<listener-id>` must be the listener's own, so a rule
 * of another listener is refused before any call is made.
 */
function ruleBelongsToListener(ruleArn: string, listenerArn: string): boolean {
  return ruleArn.replace(':listener-rule/', ':listener/').startsWith(`${listenerArn}/`);
}

/**
 * Application Load Balancer: one forward action (of a listener rule, or of the listener's
 * default action) with two weighted target groups, one per colour. The release rewrites only
 * the two weights. `testRules` are the optional rules that send test traffic to one colour
 * whatever the weights (for example on a header); the release checks that each still forwards
 * to its colour only.
 */
export const AlbTrafficSchema = z
  .object({
    kind: z.literal('alb'),
    /** The listener whose rule (or default action) carries the weighted forward. */
    listenerArn: ListenerArn,
    /** The rule whose forward action is weighted, or `listener-default` for the listener's default action. */
    rule: z.union([z.literal(LISTENER_DEFAULT_ACTION), ListenerRuleArn]),
    /** The target group each colour's ECS service is registered to. */
    targetGroups: z.object({ blue: TargetGroupArn, green: TargetGroupArn }),
    /** Rules of the same listener that forward to one colour only (test traffic). */
    testRules: z.object({ blue: ListenerRuleArn, green: ListenerRuleArn }).optional(),
  })
  .superRefine((alb, ctx) => {
    if (alb.targetGroups.blue === alb.targetGroups.green) {
      ctx.addIssue({ code: 'custom', path: ['targetGroups'], message: 'blue and green must use different target groups' });
    }
    const rules: [string[], string][] = [];
    if (alb.rule !== LISTENER_DEFAULT_ACTION) rules.push([['rule'], alb.rule]);
    if (alb.testRules) {
      rules.push([['testRules', 'blue'], alb.testRules.blue], [['testRules', 'green'], alb.testRules.green]);
    }
    for (const [path, arn] of rules) {
      if (!ruleBelongsToListener(arn, alb.listenerArn)) {
        ctx.addIssue({ code: 'custom', path, message: `rule ${arn} is not a rule of listener ${alb.listenerArn}` });
      }
    }
    if (alb.testRules && new Set([alb.rule, alb.testRules.blue, alb.testRules.green]).size !== 3) {
      ctx.addIssue({ code: 'custom', path: ['testRules'], message: 'the test rules must differ from each other and from the weighted rule' });
    }
  });

/** The traffic backend: a discriminated union so a new backend is one more member. */
export const TrafficConfigSchema = z.discriminatedUnion('kind', [AlbTrafficSchema, AppMeshTrafficSchema]);
/** Traffic backend configuration. */
export type TrafficConfig = z.infer<typeof TrafficConfigSchema>;

/**
 * The mesh identity a clone of the live colour's task definition must change: the App Mesh
 * virtual node its Envoy sidecar registers as, renamed from the live colour's to the idle one's.
 */
export interface MeshIdentityRewrite {
  /** The live colour's virtual node name. */
  readonly from: string;
  /** The idle colour's virtual node name. */
  readonly to: string;
}

/**
 * What must be renamed in a clone of the live colour's task definition so that the idle
 * colour's tasks join the traffic backend as themselves, or `undefined` for a backend that does
 * not name the colour inside the task definition. For App Mesh it is the virtual node: the
 * Envoy sidecar's `APPMESH_RESOURCE_ARN` names the node whose configuration it receives, so a
 * clone that kept the live node would run the idle colour's tasks as the live colour.
 *
 * @throws ValidationError for a traffic kind this function does not know.
 *
 * @example
 * const rewrite = meshIdentityRewrite(config.traffic, { live: 'blue', idle: 'green' });
 * // App Mesh: { from: 'colorapp-blue', to: 'colorapp-green' }
 */
export function meshIdentityRewrite(
  traffic: TrafficConfig,
  colours: { readonly live: Colour; readonly idle: Colour },
): MeshIdentityRewrite | undefined {
  const kind = traffic.kind;
  switch (kind) {
    case 'appmesh':
      return { from: traffic.virtualNodes[colours.live], to: traffic.virtualNodes[colours.idle] };
    case 'alb':
      // A target group registers the service's tasks; nothing in the task definition names it.
      return undefined;
    default: {
      // Adding a member to TrafficConfigSchema without a case here is a compile error.
      const unknownKind: never = kind;
      throw new ValidationError(
        `Unknown traffic kind '${String(unknownKind)}'; supported: alb, appmesh. Fix traffic.kind in the service configuration.`,
      );
    }
  }
}

/**
 * Relative judgement: the new colour judged against the live one over the same bake window,
 * instead of only against fixed thresholds (see `lambdas/shared/health/compare.ts` for the
 * statistics). The defaults keep false rollbacks of a release as good as live under 1 in 20
 * releases of a few steps, and catch a regression from 0% to 0.8% errors at a few hundred
 * requests per second in a canary of short bakes.
 */
export const RelativeHealthSchema = z.object({
  /**
   * Judge against the live colour. Off: only the fixed thresholds (`minSuccessRate`,
   * `maxP99LatencyMs`) decide.
   * @default true
   */
  enabled: z.boolean().default(true),
  /**
   * How much higher the new colour's error rate may be than the live colour's, as a share
   * (0.001 = 0.1 percentage points), before it counts as worse.
   * @default 0.001
   */
  errorRateTolerance: z.number().min(0).max(1).default(0.001),
  /**
   * Confidence of the one-sided test that the new error rate is worse beyond the tolerance: a
   * difference the data cannot show at this confidence is not a failure. Each step is one test,
   * so a release of k steps as good as live rolls back falsely in at most about k × (1 - confidence).
   * @default 0.99
   */
  confidence: z.number().min(0.5).max(0.9999).default(0.99),
  /**
   * The new colour's p99 and p50 latency may be at most this many times the live colour's ...
   * @default 1.5
   */
  latencyRatio: z.number().min(1).max(100).default(1.5),
  /**
   * ... plus this many milliseconds, so scheduling jitter (a worst period's p99 of 150 ms
   * against 60 ms on a busy host) is not a regression. Lower it (10) to catch 40 ms becoming 80 ms.
   * @default 100
   */
  latencyAllowanceMs: z.number().min(0).max(60_000).default(100),
  /**
   * With relative judgement, the fixed success-rate minimum: below it the new colour is
   * unhealthy whatever the live colour does (a disaster floor). `minSuccessRate` then applies
   * only when there are no live figures to compare with.
   * @default 0.95
   */
  floorSuccessRate: z.number().min(0).max(1).default(0.95),
});
/** Relative judgement settings, defaulted. */
export type RelativeHealthConfig = z.infer<typeof RelativeHealthSchema>;

/** What "healthy" means for the new colour, and where its numbers come from. */
export const HealthConfigSchema = z.object({
  /** Alarms that must not be in ALARM: `common` always, plus the idle colour's own. */
  alarms: z
    .object({
      common: z.array(Name).default([]),
      blue: z.array(Name).default([]),
      green: z.array(Name).default([]),
    })
    .default({ common: [], blue: [], green: [] }),
  /** Lowest acceptable share of non-5xx responses, 0..1. */
  minSuccessRate: z.number().min(0).max(1).default(0.99),
  /** Highest acceptable p99 latency in milliseconds. */
  maxP99LatencyMs: z.number().positive().default(1000),
  /** Fewer requests than this in a bake window is "inconclusive", never "healthy". */
  minRequestsPerStep: z.number().int().min(1).default(50),
  /** Inconclusive bakes allowed per step before the release is rolled back. */
  maxInconclusiveBakes: z.number().int().min(0).max(10).default(2),
  /**
   * Where the new colour's request counts, errors and latency come from:
   * - `load-balancer`: the ALB's `AWS/ApplicationELB` metrics of the colour's target group
   *   (60-second resolution; needs `traffic.kind: alb`);
   * - `envoy`: the Envoy sidecars' statistics shipped by the CloudWatch agent (App Mesh);
   * - `application`: high-resolution metrics the application publishes itself (CloudWatch
   *   embedded metric format) with `Service` and `Color` dimensions, for any backend.
   * @default - `load-balancer` for ALB traffic, `envoy` for App Mesh (see {@link metricSourceOf})
   */
  metricSource: z.enum(['load-balancer', 'envoy', 'application']).optional(),
  /** CloudWatch namespace of the `envoy` and `application` metrics (the load balancer's is `AWS/ApplicationELB`). */
  metricNamespace: Name.default('ECSRelease/Envoy'),
  /** Metric period in seconds (1, 5, 10, 30 or a multiple of 60). */
  metricPeriodSeconds: z
    .number()
    .int()
    .refine((p) => [1, 5, 10, 30].includes(p) || p % 60 === 0, 'must be 1, 5, 10, 30 or a multiple of 60')
    .default(10),
  /** Judge the new colour against the live one (on unless `enabled: false`). */
  relative: RelativeHealthSchema.default(RelativeHealthSchema.parse({})),
});

/** Defaults for the approval gates; a start request may turn a gate on or off. */
export const ApprovalsSchema = z.object({
  beforeTraffic: z.boolean().default(false),
  beforePromote: z.boolean().default(false),
});

/** The whole service configuration document. */
export const ServiceConfigSchema = z.object({
  service: Name.regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . - only'),
  cluster: Name,
  /** ECS service name per colour. */
  ecsServices: z.object({ blue: Name, green: Name }),
  /** Task definition family new revisions are registered in. */
  taskDefinitionFamily: Name,
  /** Container whose image a release replaces. */
  containerName: Name,
  /** If set, this container environment variable is set to the colour in each new revision. */
  colourEnvironmentVariable: Name.optional(),
  traffic: TrafficConfigSchema,
  health: HealthConfigSchema.default(HealthConfigSchema.parse({})),
  defaultStrategy: StrategySchema.default({ type: 'canary', steps: [10, 50, 100] }),
  bakeSeconds: z.number().int().min(1).max(86_400).default(60),
  approvals: ApprovalsSchema.default({ beforeTraffic: false, beforePromote: false }),
  approvalTimeoutSeconds: z.number().int().min(1).max(7 * 86_400).default(3600),
  stabilization: z
    .object({
      pollSeconds: z.number().int().min(1).max(300).default(15),
      timeoutSeconds: z.number().int().min(1).max(86_400).default(900),
    })
    .default({ pollSeconds: 15, timeoutSeconds: 900 }),
  promotion: z
    .object({
      /** Wait before scaling the old colour to zero, so a quick manual roll-back stays cheap. */
      scaleDownDelaySeconds: z.number().int().min(0).max(86_400).default(300),
      /** Keep the old colour running at full size after promotion (faster next rollback, more cost). */
      keepOldColourWarm: z.boolean().default(false),
    })
    .default({ scaleDownDelaySeconds: 300, keepOldColourWarm: false }),
  /**
   * ARN of the release state machine for this service, written by the CDK construct, so the CLI
   * and other tools can start a release knowing only the service name.
   */
  releaseStateMachineArn: z.string().startsWith('arn:').optional(),
  /** How many past releases the state keeps. */
  historyLength: z.number().int().min(1).max(50).default(20),
}).superRefine((config, ctx) => {
  // A source that cannot see the backend's traffic would judge no data, and every release would
  // roll back as inconclusive: refuse the combination when the document is read.
  const source = config.health.metricSource;
  if (source === 'load-balancer' && config.traffic.kind !== 'alb') {
    ctx.addIssue({
      code: 'custom',
      path: ['health', 'metricSource'],
      message: `metricSource 'load-balancer' needs traffic.kind 'alb', got '${config.traffic.kind}'`,
    });
  }
  if (source === 'envoy' && config.traffic.kind !== 'appmesh') {
    ctx.addIssue({
      code: 'custom',
      path: ['health', 'metricSource'],
      message: `metricSource 'envoy' needs traffic.kind 'appmesh', got '${config.traffic.kind}'`,
    });
  }
});

/** Where a service's health metrics come from. */
export type MetricSource = NonNullable<z.infer<typeof HealthConfigSchema>['metricSource']>;

/**
 * The health metric source of a service: the configured one, else the natural one of its
 * traffic backend (the load balancer's own metrics for ALB, Envoy's for App Mesh).
 */
export function metricSourceOf(config: { readonly traffic: TrafficConfig; readonly health: { readonly metricSource?: MetricSource } }): MetricSource {
  if (config.health.metricSource !== undefined) return config.health.metricSource;
  return config.traffic.kind === 'alb' ? 'load-balancer' : 'envoy';
}

/** A parsed, defaulted service configuration. */
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
/** A service configuration as written (defaults may be omitted). */
export type ServiceConfigInput = z.input<typeof ServiceConfigSchema>;

