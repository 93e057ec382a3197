import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type ModifyListenerInput,
  type ModifyRuleInput,
  type Rule,
  type TargetGroupTuple,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { z } from 'zod';
import { COLOURS, type Colour, type Weights } from '../colours';
import { LISTENER_DEFAULT_ACTION, type AlbTrafficSchema } from '../config';
import { NoHealthyTargetsError, ResourceNotFoundError, RouteDriftError, ValidationError } from '../errors';
import { withThrottlingRetry } from '../retry';
import type { TargetsCheck, TrafficRole, TrafficRouter } from './traffic-router';

/** ALB traffic configuration, as parsed from the service configuration. */
export type AlbTrafficConfig = z.infer<typeof AlbTrafficSchema>;

/** Highest weight ELB accepts for a target group of a forward action ("The range is 0 to 999"). */
const MAX_ALB_WEIGHT = 999;

/**
 * Error codes ELB answers when a resource is gone (API reference, "Errors" of DescribeRules,
 * DescribeListeners, DescribeTargetHealth, ModifyRule, ModifyListener). The SDK names the
 * exception `<code>Exception`; both spellings are matched so a client that keeps the wire code
 * (or a local endpoint) is understood the same way.
 */
const NOT_FOUND_CODES = new Set([
  'RuleNotFound',
  'RuleNotFoundException',
  'ListenerNotFound',
  'ListenerNotFoundException',
  'TargetGroupNotFound',
  'TargetGroupNotFoundException',
  'LoadBalancerNotFound',
  'LoadBalancerNotFoundException',
]);

/** The weighted forward as one read found it, reduced to what the router decides on. */
interface CurrentForward {
  /** Every action of the rule (or the listener's default actions), exactly as described. */
  readonly actions: readonly Action[];
  /** Index of the one `forward` action in {@link actions}. */
  readonly forwardIndex: number;
  /** Raw ALB weights (0..999, relative) of the live and idle colours' target groups. */
  readonly raw: Weights;
}

/**
 * A {@link TrafficRouter} over the weighted `forward` action of one Application Load Balancer
 * listener rule, or of the listener's default action, whose two target groups are the two
 * colours'. ModifyRule and ModifyListener replace the whole action list they are given ("to
 * update an item in a list, you must provide the entire list"), so every update sends the
 * actions exactly as described and changes nothing but the two weights: an authenticate-oidc
 * action ordered before the forward, target-group stickiness, action order all survive. Conditions,
 * priority and transforms of a rule are not sent, so ModifyRule leaves them as they are ("any
 * properties that you do not specify are unchanged").
 *
 * @example
 * const router = new AlbTrafficRouter(new ElasticLoadBalancingV2Client({}), config.traffic, { live: 'blue', idle: 'green' });
 * await router.checkTargets('idle'); // NoHealthyTargetsError if green's target group has no healthy target
 * await router.setWeights({ live: 90, idle: 10 }); // { changed: true }
 * await router.setWeights({ live: 90, idle: 10 }); // { changed: false }: nothing sent
 * await router.getWeights(); // { live: 90, idle: 10 }
 */
export class AlbTrafficRouter implements TrafficRouter {
  private readonly liveGroup: string;
  private readonly idleGroup: string;

  /**
   * @param elbv2 Elastic Load Balancing v2 client; every call goes through {@link withThrottlingRetry}.
   * @param config the listener, the rule (or `listener-default`), each colour's target group and the optional test rules.
   * @param colours which colour is live and which one the release moves traffic to.
   * @throws ValidationError when both roles are the same colour or both colours share a target
   *   group, because weights could then not be told apart.
   */
  constructor(
    private readonly elbv2: ElasticLoadBalancingV2Client,
    private readonly config: AlbTrafficConfig,
    private readonly colours: { live: Colour; idle: Colour },
  ) {
    if (colours.live === colours.idle) {
      throw new ValidationError(
        `Traffic router for ${this.describe()}: live and idle colour are both '${colours.live}'; they must differ`,
      );
    }
    if (config.targetGroups.blue === config.targetGroups.green) {
      throw new ValidationError(
        `Traffic router for ${this.describe()}: blue and green use the same target group ` +
          `'${config.targetGroups.blue}'; give each colour its own target group in the service configuration`,
      );
    }
    this.liveGroup = config.targetGroups[colours.live];
    this.idleGroup = config.targetGroups[colours.idle];
  }

  /**
   * `alb:<rule resource>` for a rule, `alb:<listener resource> default action` for the listener's
   * default action (the resource is the ARN's part after the account), for logs and errors.
   */
  describe(): string {
    return this.usesDefaultAction()
      ? `alb:${arnResource(this.config.listenerArn)} default action`
      : `alb:${arnResource(this.config.rule)}`;
  }

  /**
   * The current split, normalised to integers summing to 100 (ALB weights are relative, 0..999).
   *
   * @throws RouteDriftError when the forward action is not exactly the two colour target groups.
   * @throws ResourceNotFoundError when the listener or rule does not exist.
   * @throws ValidationError when `rule` names the listener's default rule (use `listener-default`).
   */
  async getWeights(): Promise<Weights> {
    const { raw } = await this.read();
    const total = raw.live + raw.idle;
    if (total === 100) return { live: raw.live, idle: raw.idle };
    // Relative weights (e.g. 1:1, or 999:0) are legal in ELB; report them as the percentages they mean.
    const idle = Math.round((raw.idle * 100) / total);
    return { live: 100 - idle, idle };
  }

  /**
   * Sets the forward to exactly `live target group: live, idle target group: idle`, changing
   * nothing else. A no-op (nothing sent) when the forward already has these weights.
   *
   * @throws ValidationError when the weights are not integers 0..100 summing to 100 (nothing is sent).
   * @throws RouteDriftError when the forward action is not exactly the two colour target groups:
   *   a change made outside the release is never overwritten silently.
   * @throws ResourceNotFoundError when the listener, rule or a target group does not exist.
   */
  async setWeights(weights: Weights): Promise<{ changed: boolean }> {
    validateWeights(weights, this.describe());
    const current = await this.read();
    // Compare raw values, not normalised ones: 2:1 is not 67/33, and must be rewritten.
    if (current.raw.live === weights.live && current.raw.idle === weights.idle) {
      return { changed: false };
    }
    const actions = this.actionsWith(current, weights);
    // Each input is built once, so every throttled attempt sends the same request; setting the
    // same actions twice leaves the same rule, so a retry after a lost answer is harmless.
    if (this.usesDefaultAction()) {
      const input: ModifyListenerInput = { ListenerArn: this.config.listenerArn, DefaultActions: actions };
      await this.call(`ModifyListener ${this.describe()}`, () => this.elbv2.send(new ModifyListenerCommand(input)));
    } else {
      const input: ModifyRuleInput = { RuleArn: this.config.rule, Actions: actions };
      await this.call(`ModifyRule ${this.describe()}`, () => this.elbv2.send(new ModifyRuleCommand(input)));
    }
    return { changed: true };
  }

  /**
   * Counts the targets of the `role` colour's target group by state (DescribeTargetHealth) and
   * refuses a group with no `healthy` target: the load balancer would answer its share of the
   * traffic with 503s. Targets still `initial` (health checks in progress), `unhealthy`,
   * `draining` or `unused` do not count.
   *
   * @throws NoHealthyTargetsError when no target of the group is `healthy`.
   * @throws ResourceNotFoundError when the target group does not exist.
   */
  async checkTargets(role: TrafficRole): Promise<TargetsCheck> {
    const colour = this.colours[role];
    const group = this.config.targetGroups[colour];
    const out = await this.call(`DescribeTargetHealth ${targetGroupName(group)}`, () =>
      this.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group })),
    );
    const descriptions = out.TargetHealthDescriptions ?? [];
    const states: Record<string, number> = {};
    const reasons: Record<string, Set<string>> = {};
    for (const description of descriptions) {
      const state = description.TargetHealth?.State ?? 'unknown';
      states[state] = (states[state] ?? 0) + 1;
      const reason = description.TargetHealth?.Reason;
      if (reason) (reasons[state] ??= new Set()).add(reason);
    }
    const healthy = states.healthy ?? 0;
    if (healthy === 0) {
      const found =
        descriptions.length === 0
          ? 'no target is registered'
          : `${descriptions.length} target(s): ` +
            Object.entries(states)
              .map(([state, count]) => `${count} ${state}${reasons[state] ? ` (${[...reasons[state]].join(', ')})` : ''}`)
              .join(', ');
      throw new NoHealthyTargetsError(
        `Target group ${targetGroupName(group)} of the ${role} colour (${colour}) has no healthy target: ${found}. ` +
          (role === 'idle'
            ? `No traffic was moved to it. Check why ${colour}'s tasks fail the target group's health check, then release again.`
            : `The live colour cannot serve; fix ${colour}'s tasks or the target group's health check before releasing.`),
      );
    }
    return { checked: true, role, colour, target: group, healthy, total: descriptions.length, states };
  }

  /**
   * Checks that each configured test rule forwards to its own colour's target group only, so a
   * request for one colour (e.g. `x-release-color: green`) reaches that colour whatever the
   * weights. Returns the rules checked; none when the configuration has no test rules.
   *
   * @throws RouteDriftError when a test rule forwards anywhere else, or has no single forward.
   * @throws ResourceNotFoundError when a test rule does not exist.
   */
  async checkTestRoutes(): Promise<readonly string[]> {
    const testRules = this.config.testRules;
    if (testRules === undefined) return [];
    const out = await this.call(`DescribeRules test rules of ${this.describe()}`, () =>
      this.elbv2.send(new DescribeRulesCommand({ RuleArns: [testRules.blue, testRules.green] })),
    );
    const checked: string[] = [];
    for (const colour of COLOURS) {
      const ruleArn = testRules[colour];
      const rule = out.Rules?.find((r) => r.RuleArn === ruleArn);
      if (!rule) {
        throw new ResourceNotFoundError(
          `Test rule ${arnResource(ruleArn)} for ${colour} is missing from the DescribeRules response. ` +
            'Recreate it or fix traffic.testRules in the service configuration.',
        );
      }
      const forwards = (rule.Actions ?? []).filter((action) => action.Type === 'forward');
      const groups = [...new Set(forwards.flatMap((action) => forwardTuples(action).map((t) => t.TargetGroupArn)))];
      const expected = this.config.targetGroups[colour];
      if (forwards.length !== 1 || groups.length !== 1 || groups[0] !== expected) {
        throw new RouteDriftError(
          `Test rule ${arnResource(ruleArn)} for ${colour} ${describeForwards(forwards)}; it must forward to ` +
            `${colour}'s target group ${targetGroupName(expected)} only, so ${colour}'s test traffic reaches ${colour} ` +
            'whatever the weights. Someone changed it outside a release: restore it, or fix traffic.testRules.',
        );
      }
      checked.push(`alb:${arnResource(ruleArn)} -> ${colour}`);
    }
    return checked;
  }

  private usesDefaultAction(): boolean {
    return this.config.rule === LISTENER_DEFAULT_ACTION;
  }

  /** Describes the rule (or listener) and reduces its forward to the live/idle weights, rejecting anything else. */
  private async read(): Promise<CurrentForward> {
    const actions = await this.readActions();
    const forwardIndexes = actions.flatMap((action, index) => (action.Type === 'forward' ? [index] : []));
    const expected =
      `exactly the two colour target groups (${this.colours.live}: ${targetGroupName(this.liveGroup)}, ` +
      `${this.colours.idle}: ${targetGroupName(this.idleGroup)})`;
    const restore =
      'Someone changed it outside a release: restore a forward to those two groups with all weight on the live colour, ' +
      'or fix traffic.targetGroups in the service configuration.';
    if (forwardIndexes.length !== 1) {
      const types = actions.map((action) => action.Type ?? 'unknown').join(', ') || 'none';
      throw new RouteDriftError(
        `${this.describe()} has ${forwardIndexes.length === 0 ? 'no forward action' : `${forwardIndexes.length} forward actions`} ` +
          `(actions: ${types}); a release needs one forward to ${expected}. ${restore}`,
      );
    }
    const forwardIndex = forwardIndexes[0];
    const tuples = forwardTuples(actions[forwardIndex]);
    const arns = tuples.map((t) => t.TargetGroupArn);
    const exact =
      tuples.length === 2 && arns.includes(this.liveGroup) && arns.includes(this.idleGroup);
    if (!exact) {
      throw new RouteDriftError(`${this.describe()} ${describeForwards([actions[forwardIndex]])}; a release needs ${expected}. ${restore}`);
    }
    const weightOf = (group: string): number => {
      const weight = tuples.find((t) => t.TargetGroupArn === group)?.Weight;
      if (weight === undefined || !Number.isInteger(weight) || weight < 0 || weight > MAX_ALB_WEIGHT) {
        throw new RouteDriftError(
          `${this.describe()} gives target group ${targetGroupName(group)} the weight ${String(weight)}; ` +
            `ELB weights are integers 0..${MAX_ALB_WEIGHT}. ${restore}`,
        );
      }
      return weight;
    };
    const raw = { live: weightOf(this.liveGroup), idle: weightOf(this.idleGroup) };
    if (raw.live + raw.idle === 0) {
      throw new RouteDriftError(
        `${this.describe()} gives both colour target groups weight 0, so it sends no traffic; ` +
          `set ${targetGroupName(this.liveGroup)} to 100 by hand before releasing`,
      );
    }
    return { actions, forwardIndex, raw };
  }

  /** The rule's actions, or the listener's default actions. */
  private async readActions(): Promise<Action[]> {
    if (this.usesDefaultAction()) {
      const out = await this.call(`DescribeListeners ${this.describe()}`, () =>
        this.elbv2.send(new DescribeListenersCommand({ ListenerArns: [this.config.listenerArn] })),
      );
      const listener = out.Listeners?.find((l) => l.ListenerArn === this.config.listenerArn);
      if (!listener) {
        throw new ResourceNotFoundError(
          `Listener ${arnResource(this.config.listenerArn)} is missing from the DescribeListeners response. ` +
            'Recreate it or fix traffic.listenerArn in the service configuration.',
        );
      }
      return listener.DefaultActions ?? [];
    }
    const out = await this.call(`DescribeRules ${this.describe()}`, () =>
      this.elbv2.send(new DescribeRulesCommand({ RuleArns: [this.config.rule] })),
    );
    const rule: Rule | undefined = out.Rules?.find((r) => r.RuleArn === this.config.rule);
    if (!rule) {
      throw new ResourceNotFoundError(
        `Listener rule ${arnResource(this.config.rule)} is missing from the DescribeRules response. ` +
          'Recreate it or fix traffic.rule in the service configuration.',
      );
    }
    if (rule.IsDefault === true) {
      // "To modify the actions for the default rule, use ModifyListener" (ModifyRule, API reference).
      throw new ValidationError(
        `Listener rule ${arnResource(this.config.rule)} is the listener's default rule, which ModifyRule cannot change; ` +
          `set traffic.rule to '${LISTENER_DEFAULT_ACTION}' in the service configuration.`,
      );
    }
    return rule.Actions ?? [];
  }

  /**
   * A copy of the described actions with only the two weights of the forward changed. The copy
   * keeps every other action, every field, the target groups' order and the stickiness config;
   * an authenticate-oidc action whose secret Describe withheld says to keep the existing one.
   * `TargetGroupArn` is dropped from the forward: with two groups the forward can only be said
   * through `ForwardConfig`, and ELB allows both only for a single, identical group.
   */
  private actionsWith(current: CurrentForward, weights: Weights): Action[] {
    // Actions are plain JSON (strings, numbers, booleans, nested objects; no dates), so a JSON
    // round trip is an exact deep copy that never shares objects with the response we compared against.
    const actions = JSON.parse(JSON.stringify(current.actions)) as Action[];
    for (const action of actions) {
      // Describe never reports an OIDC client secret, and ModifyRule/ModifyListener need either
      // the secret or UseExistingClientSecret ("If you are modifying a rule, you can omit this
      // parameter if you set UseExistingClientSecret to true"): keep the secret ELB has.
      const oidc = action.AuthenticateOidcConfig;
      if (action.Type === 'authenticate-oidc' && oidc && oidc.ClientSecret === undefined) oidc.UseExistingClientSecret = true;
    }
    const forward = actions[current.forwardIndex];
    delete forward.TargetGroupArn;
    const tuples = forward.ForwardConfig?.TargetGroups ?? [];
    actions[current.forwardIndex] = {
      ...forward,
      ForwardConfig: {
        ...forward.ForwardConfig,
        TargetGroups: tuples.map((tuple) => ({
          ...tuple,
          Weight: tuple.TargetGroupArn === this.liveGroup ? weights.live : weights.idle,
        })),
      },
    };
    return actions;
  }

  /** Retries throttling and turns ELB's not-found errors into our catalogue error. */
  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await withThrottlingRetry(what, send);
    } catch (error) {
      if (error instanceof Error && NOT_FOUND_CODES.has(error.name)) {
        throw new ResourceNotFoundError(
          `${what} failed: ${error.name}: ${error.message}. Check the traffic section of the service configuration ` +
            '(listenerArn, rule, targetGroups, testRules).',
          { cause: error },
        );
      }
      throw error;
    }
  }
}

/**
 * The target groups of a forward action with their weights: `ForwardConfig.TargetGroups` when
 * present, else the single `TargetGroupArn` (an action may carry either or both).
 */
function forwardTuples(action: Action): TargetGroupTuple[] {
  const tuples = action.ForwardConfig?.TargetGroups ?? [];
  if (tuples.length > 0) return tuples;
  return action.TargetGroupArn !== undefined ? [{ TargetGroupArn: action.TargetGroupArn }] : [];
}

/** "forwards to colorapp-blue (weight 100), other (weight 5)", for drift messages. */
function describeForwards(forwards: readonly Action[]): string {
  const tuples = forwards.flatMap(forwardTuples);
  if (tuples.length === 0) return forwards.length === 0 ? 'has no forward action' : 'forwards to no target group';
  const parts = tuples.map(
    (t) => `${targetGroupName(t.TargetGroupArn ?? 'unknown')}${t.Weight !== undefined ? ` (weight ${t.Weight})` : ''}`,
  );
  return `${forwards.length > 1 ? `has ${forwards.length} forward actions, to` : 'forwards to'} ${parts.join(', ')}`;
}

/** The resource part of an ARN (after `region:account:`), or the string itself if it is not one. */
function arnResource(arn: string): string {
  const parts = arn.split(':');
  return parts.length >= 6 ? parts.slice(5).join(':') : arn;
}

/** `targetgroup/<name>/<id>` → `<name>`; anything else unchanged. */
function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\/[^/]+$/.exec(arn)?.[1] ?? arn;
}

/** Throws a {@link ValidationError} unless both weights are integers 0..100 summing to 100. */
function validateWeights(weights: Weights, route: string): void {
  const valid = (w: number) => Number.isInteger(w) && w >= 0 && w <= 100;
  if (!valid(weights.live) || !valid(weights.idle) || weights.live + weights.idle !== 100) {
    throw new ValidationError(
      `Weights for ${route} must be integers 0..100 summing to 100; got live=${weights.live}, idle=${weights.idle}`,
    );
  }
}
