/**
 * How an Application Load Balancer picks what answers a request, as pure functions: which rule's
 * conditions match, which action of the rule decides, and which target group a weighted forward
 * picks. {@link LocalElbv2.route} applies them to a listener's current rules.
 *
 * Sources (ALB user guide, "Listener rules for your Application Load Balancer" / "Condition types"):
 * - Rules are evaluated in priority order, lowest first; the default rule is evaluated last.
 * - All conditions of a rule must match (AND); a condition matches when any of its values matches (OR).
 * - `host-header` and `http-header` comparisons are not case-sensitive; `path-pattern` is
 *   case-sensitive; `*` matches 0 or more characters, `?` exactly one.
 * - `http-request-method` is case-sensitive. `query-string` keys and values are not.
 * - Actions run in `Order`, lowest first; the last one (forward, redirect or fixed-response) decides.
 * - A weighted forward sends each request to a target group with probability weight / total.
 */

import type { Action, RedirectActionConfig, RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';

/** The parts of an HTTP request that listener rules look at. */
export interface RoutableRequest {
  /** The request path without the query string, e.g. `/colors`. */
  readonly path: string;
  /** The HTTP method, e.g. `GET`. @default 'GET' */
  readonly method?: string;
  /** Header values by name (any case), as node's `IncomingMessage.headers` holds them. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The query string's parameters. @default none */
  readonly query?: URLSearchParams;
  /** The client's address, for `source-ip` conditions. @default - `source-ip` conditions never match */
  readonly sourceIp?: string;
}

/** What the load balancer does with a request. */
export type RouteDecision =
  | { readonly kind: 'forward'; readonly ruleArn: string; readonly targetGroupArn: string }
  | {
      readonly kind: 'fixed-response';
      readonly ruleArn: string;
      readonly statusCode: number;
      readonly contentType?: string;
      readonly messageBody?: string;
    }
  | { readonly kind: 'redirect'; readonly ruleArn: string; readonly redirect: RedirectActionConfig }
  /** A forward whose target groups all have weight 0: nothing can take the request (the gateway answers 503). */
  | { readonly kind: 'no-target'; readonly ruleArn: string };

/** True when every condition matches the request (a rule without conditions matches everything, as the default rule does). */
export function conditionsMatch(conditions: readonly RuleCondition[] | undefined, request: RoutableRequest): boolean {
  return (conditions ?? []).every((condition) => conditionMatches(condition, request));
}

function conditionMatches(condition: RuleCondition, request: RoutableRequest): boolean {
  switch (condition.Field) {
    case 'path-pattern': {
      const values = condition.PathPatternConfig?.Values ?? condition.Values ?? [];
      return values.some((pattern) => wildcard(pattern, false).test(request.path));
    }
    case 'host-header': {
      const host = (headerValues(request, 'host')[0] ?? '').replace(/:\d+$/, '');
      const values = condition.HostHeaderConfig?.Values ?? condition.Values ?? [];
      return values.some((pattern) => wildcard(pattern, true).test(host));
    }
    case 'http-header': {
      const name = condition.HttpHeaderConfig?.HttpHeaderName;
      if (name === undefined) return false;
      const sent = headerValues(request, name);
      const values = condition.HttpHeaderConfig?.Values ?? [];
      return sent.some((value) => values.some((pattern) => wildcard(pattern, true).test(value)));
    }
    case 'http-request-method': {
      const method = request.method ?? 'GET';
      return (condition.HttpRequestMethodConfig?.Values ?? []).includes(method);
    }
    case 'query-string': {
      const query = request.query ?? new URLSearchParams();
      return (condition.QueryStringConfig?.Values ?? []).some(({ Key, Value }) =>
        [...query].some(
          ([key, value]) => (Key === undefined || wildcard(Key, true).test(key)) && wildcard(Value ?? '*', true).test(value),
        ),
      );
    }
    case 'source-ip': {
      const ip = request.sourceIp;
      return ip !== undefined && (condition.SourceIpConfig?.Values ?? []).some((cidr) => inCidr(ip, cidr));
    }
    default:
      return false;
  }
}

function headerValues(request: RoutableRequest, name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [key, value] of Object.entries(request.headers ?? {})) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    if (typeof value === 'string') out.push(value);
    else out.push(...value);
  }
  return out;
}

/** `*` = any run of characters, `?` = one character; everything else literal; whole-string match. */
function wildcard(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const toInt = (address: string) => address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) return ip === base;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const size = 2 ** (32 - bits);
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
}

/** Actions in the order the load balancer performs them: by `Order`, lowest first, in list order when equal or absent. */
export function actionsInOrder(actions: readonly Action[]): Action[] {
  return actions
    .map((action, index) => ({ action, index }))
    .sort((a, b) => (a.action.Order ?? Number.MAX_SAFE_INTEGER) - (b.action.Order ?? Number.MAX_SAFE_INTEGER) || a.index - b.index)
    .map(({ action }) => action);
}

/**
 * What a rule's actions do with a request. Authentication actions cannot run locally (there is no
 * identity provider on loopback) and are passed as if the user had signed in; the terminal action
 * decides. `random` is a number in [0, 1) that picks among weighted target groups.
 */
export function decide(ruleArn: string, actions: readonly Action[], random: number): RouteDecision {
  const ordered = actionsInOrder(actions);
  const terminal = ordered[ordered.length - 1];
  switch (terminal?.Type) {
    case 'forward': {
      const targetGroupArn = pickWeighted(forwardTargets(terminal), random);
      return targetGroupArn === undefined ? { kind: 'no-target', ruleArn } : { kind: 'forward', ruleArn, targetGroupArn };
    }
    case 'fixed-response': {
      const config = terminal.FixedResponseConfig;
      return {
        kind: 'fixed-response',
        ruleArn,
        statusCode: Number(config?.StatusCode ?? 503),
        ...(config?.ContentType !== undefined ? { contentType: config.ContentType } : {}),
        ...(config?.MessageBody !== undefined ? { messageBody: config.MessageBody } : {}),
      };
    }
    case 'redirect':
      return terminal.RedirectConfig === undefined ? { kind: 'no-target', ruleArn } : { kind: 'redirect', ruleArn, redirect: terminal.RedirectConfig };
    default:
      return { kind: 'no-target', ruleArn };
  }
}

/** The weighted target groups of a forward action (a bare `TargetGroupArn` counts as weight 1). */
export function forwardTargets(action: Action): { targetGroupArn: string; weight: number }[] {
  const tuples = action.ForwardConfig?.TargetGroups;
  if (tuples !== undefined && tuples.length > 0) {
    return tuples.map((t) => ({ targetGroupArn: t.TargetGroupArn ?? '', weight: t.Weight ?? 1 }));
  }
  return action.TargetGroupArn === undefined ? [] : [{ targetGroupArn: action.TargetGroupArn, weight: 1 }];
}

/**
 * Picks one of `targets` with probability weight / total, using `random` in [0, 1); `undefined`
 * when every weight is 0.
 *
 * @example
 * pickWeighted([{ targetGroupArn: 'blue', weight: 90 }, { targetGroupArn: 'green', weight: 10 }], 0.95); // 'green'
 */
export function pickWeighted(targets: readonly { targetGroupArn: string; weight: number }[], random: number): string | undefined {
  const total = targets.reduce((sum, t) => sum + Math.max(0, t.weight), 0);
  if (total <= 0) return undefined;
  let point = Math.min(Math.max(random, 0), 1 - Number.EPSILON) * total;
  for (const target of targets) {
    if (target.weight <= 0) continue;
    if (point < target.weight) return target.targetGroupArn;
    point -= target.weight;
  }
  return targets.filter((t) => t.weight > 0).at(-1)?.targetGroupArn;
}
