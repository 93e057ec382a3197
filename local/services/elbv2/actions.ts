/**
 * Listener rule actions and conditions: validated as ELBv2 validates them, and stored as ELBv2
 * describes them. Sources: the API reference's Action, ForwardActionConfig, TargetGroupTuple and
 * RuleCondition; the error codes are the SDK model's.
 */

import type { Action, RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsServiceError } from '../../contracts';
import { MAX_STICKINESS_SECONDS } from './attributes';
import { ELBV2_ERRORS, isIntegerIn, validation } from './errors';
import { forwardTargets } from './routing';

/** Rule priorities and action orders: 1 to 50000. */
export const MAX_PRIORITY = 50_000;
/** A forward action names at most 5 target groups. */
const MAX_TARGET_GROUPS_PER_FORWARD = 5;
/** TargetGroupTuple.Weight: "The range is 0 to 999." */
const MAX_WEIGHT = 999;
const TERMINAL_ACTIONS = new Set(['forward', 'redirect', 'fixed-response']);
const ACTION_TYPES = new Set(['forward', 'redirect', 'fixed-response', 'authenticate-oidc', 'authenticate-cognito', 'jwt-validation']);

/** What validating a forward needs to know about the world. */
export interface ActionContext {
  /** The load balancer whose listener the actions are for. */
  readonly loadBalancerArn: string;
  /** @throws AwsServiceError `TargetGroupNotFound` when the target group does not exist. */
  requireTargetGroup(targetGroupArn: string): void;
  /** The load balancers whose rules forward to the target group. */
  loadBalancersOf(targetGroupArn: string): string[];
}

/**
 * Validates actions as AWS does and returns them as AWS stores them (see {@link asStored}).
 * Forwarded target groups must exist, and each may belong to this load balancer only.
 */
export function validateActions(actions: readonly Action[] | undefined, field: string, context: ActionContext): Action[] {
  if (actions === undefined || actions.length === 0) {
    throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  if (actions.length > 1 && actions.some((a) => a.Order === undefined)) {
    throw validation('An action order must be specified for each action when a rule has more than one action');
  }
  const orders = new Set<number>();
  for (const action of actions) {
    if (action.Type === undefined || !ACTION_TYPES.has(action.Type)) {
      throw validation(`Action type '${String(action.Type)}' must be one of ${[...ACTION_TYPES].join(', ')}`);
    }
    if (action.Order !== undefined) {
      if (!isIntegerIn(action.Order, 1, MAX_PRIORITY)) throw validation(`Action order must be from 1 to ${MAX_PRIORITY}; got ${action.Order}`);
      if (orders.has(action.Order)) throw new AwsServiceError(ELBV2_ERRORS.invalidLoadBalancerAction, `Action order '${action.Order}' is used more than once`);
      orders.add(action.Order);
    }
  }
  const ordered = [...actions].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0));
  const terminals = ordered.filter((a) => TERMINAL_ACTIONS.has(a.Type!));
  if (terminals.length !== 1 || ordered[ordered.length - 1] !== terminals[0]) {
    throw new AwsServiceError(
      ELBV2_ERRORS.invalidLoadBalancerAction,
      'A rule must end with exactly one forward, redirect or fixed-response action, performed last',
    );
  }
  for (const action of actions) validateAction(action, context);
  return actions.map(asStored);
}

function validateAction(action: Action, context: ActionContext): void {
  switch (action.Type) {
    case 'forward': {
      const tuples = action.ForwardConfig?.TargetGroups ?? [];
      if (action.TargetGroupArn === undefined && tuples.length === 0) {
        throw validation('A target group ARN must be specified for a forward action');
      }
      if (action.TargetGroupArn !== undefined && tuples.length > 0) {
        // API reference, Action.ForwardConfig: with both, one target group, the same one.
        if (tuples.length !== 1 || tuples[0].TargetGroupArn !== action.TargetGroupArn) {
          throw validation('If you specify both TargetGroupArn and ForwardConfig, ForwardConfig must name only that target group');
        }
      }
      if (tuples.length > MAX_TARGET_GROUPS_PER_FORWARD) {
        throw validation(`A forward action can have at most ${MAX_TARGET_GROUPS_PER_FORWARD} target groups; got ${tuples.length}`);
      }
      const seen = new Set<string>();
      for (const tuple of tuples) {
        if (tuple.TargetGroupArn === undefined) throw validation('Each target group of a forward action needs a TargetGroupArn');
        if (seen.has(tuple.TargetGroupArn)) throw validation(`Target group '${tuple.TargetGroupArn}' appears more than once in a forward action`);
        seen.add(tuple.TargetGroupArn);
        // TargetGroupTuple.Weight: "The range is 0 to 999."
        if (tuple.Weight !== undefined && !isIntegerIn(tuple.Weight, 0, MAX_WEIGHT)) {
          throw validation(`Weight must be an integer from 0 to ${MAX_WEIGHT}; got ${tuple.Weight} for ${tuple.TargetGroupArn}`);
        }
      }
      const stickiness = action.ForwardConfig?.TargetGroupStickinessConfig;
      if (stickiness?.Enabled === true && !isIntegerIn(stickiness.DurationSeconds, 1, MAX_STICKINESS_SECONDS)) {
        throw validation(`Target group stickiness needs DurationSeconds from 1 to ${MAX_STICKINESS_SECONDS} when enabled`);
      }
      for (const { targetGroupArn } of forwardTargets(action)) {
        context.requireTargetGroup(targetGroupArn);
        const others = context.loadBalancersOf(targetGroupArn).filter((arn) => arn !== context.loadBalancerArn);
        if (others.length > 0) {
          // An ALB target group serves one load balancer (TargetGroupAssociationLimitException).
          throw new AwsServiceError(
            ELBV2_ERRORS.targetGroupAssociationLimit,
            `The following target groups cannot be associated with more than one load balancer: ${targetGroupArn}`,
          );
        }
      }
      return;
    }
    case 'fixed-response': {
      const code = action.FixedResponseConfig?.StatusCode;
      if (code === undefined || !/^(2|4|5)\d\d$/.test(code)) throw validation(`A fixed response needs a StatusCode of 2XX, 4XX or 5XX; got ${String(code)}`);
      return;
    }
    case 'redirect': {
      const code = action.RedirectConfig?.StatusCode;
      if (code !== 'HTTP_301' && code !== 'HTTP_302') throw validation(`A redirect needs StatusCode HTTP_301 or HTTP_302; got ${String(code)}`);
      return;
    }
    case 'authenticate-oidc': {
      const c = action.AuthenticateOidcConfig;
      if (!c?.Issuer || !c.AuthorizationEndpoint || !c.TokenEndpoint || !c.UserInfoEndpoint || !c.ClientId) {
        throw validation('An authenticate-oidc action needs Issuer, AuthorizationEndpoint, TokenEndpoint, UserInfoEndpoint and ClientId');
      }
      return;
    }
    case 'authenticate-cognito': {
      const c = action.AuthenticateCognitoConfig;
      if (!c?.UserPoolArn || !c.UserPoolClientId || !c.UserPoolDomain) {
        throw validation('An authenticate-cognito action needs UserPoolArn, UserPoolClientId and UserPoolDomain');
      }
      return;
    }
    default:
      return;
  }
}

/**
 * An action as AWS stores and describes it: a forward names its target groups in `ForwardConfig`
 * (a bare `TargetGroupArn` becomes one tuple of weight 1) with `TargetGroupStickinessConfig`
 * (`Enabled: false` unless sent), and keeps `TargetGroupArn` when it forwards to exactly one
 * target group. Every other action is kept verbatim.
 */
export function asStored(action: Action): Action {
  const copy = structuredClone(action);
  if (copy.Type !== 'forward') return copy;
  const targets = forwardTargets(copy);
  copy.ForwardConfig = {
    TargetGroups: targets.map((t) => ({ TargetGroupArn: t.targetGroupArn, Weight: t.weight })),
    TargetGroupStickinessConfig: copy.ForwardConfig?.TargetGroupStickinessConfig ?? { Enabled: false },
  };
  if (targets.length === 1) copy.TargetGroupArn = targets[0].targetGroupArn;
  else delete copy.TargetGroupArn;
  return copy;
}

/** The forward weights of a rule's actions by target group ARN; empty when it does not forward. */
export function weightsOf(actions: readonly Action[]): Record<string, number> {
  const forward = actions.find((a) => a.Type === 'forward');
  if (forward === undefined) return {};
  return Object.fromEntries(forwardTargets(forward).map((t) => [t.targetGroupArn, t.weight]));
}

/**
 * Validates a rule's conditions (at least one; known fields).
 *
 * @throws AwsServiceError `ValidationError`.
 */
export function validateConditions(conditions: readonly RuleCondition[] | undefined): RuleCondition[] {
  if (conditions === undefined || conditions.length === 0) {
    throw validation("1 validation error detected: Value null at 'conditions' failed to satisfy constraint: Member must not be null");
  }
  const fields = new Set(['http-header', 'http-request-method', 'host-header', 'path-pattern', 'query-string', 'source-ip']);
  for (const condition of conditions) {
    if (condition.Field === undefined || !fields.has(condition.Field)) {
      throw validation(`Condition field '${String(condition.Field)}' must be one of ${[...fields].join(', ')}`);
    }
    if (condition.Field === 'http-header' && !condition.HttpHeaderConfig?.HttpHeaderName) {
      throw validation('An http-header condition needs HttpHeaderConfig.HttpHeaderName');
    }
  }
  return structuredClone([...conditions]);
}
