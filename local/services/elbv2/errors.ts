/** Error codes and small validation helpers shared by the local ELBv2's modules. */

import { AwsServiceError } from '../../contracts';

/**
 * Error codes as they travel on the wire: each modelled exception's `awsQueryError` code in the
 * SDK (`RuleNotFoundException` travels as `RuleNotFound`), plus the common `ValidationError`.
 */
export const ELBV2_ERRORS = {
  validation: 'ValidationError',
  loadBalancerNotFound: 'LoadBalancerNotFound',
  listenerNotFound: 'ListenerNotFound',
  ruleNotFound: 'RuleNotFound',
  targetGroupNotFound: 'TargetGroupNotFound',
  duplicateLoadBalancerName: 'DuplicateLoadBalancerName',
  duplicateTargetGroupName: 'DuplicateTargetGroupName',
  duplicateListener: 'DuplicateListener',
  priorityInUse: 'PriorityInUse',
  invalidTarget: 'InvalidTarget',
  invalidLoadBalancerAction: 'InvalidLoadBalancerAction',
  targetGroupAssociationLimit: 'TargetGroupAssociationLimit',
  operationNotPermitted: 'OperationNotPermitted',
  throttling: 'Throttling',
} as const;

/** ELBv2's throttling error (HTTP 400, code `Throttling`), for {@link LocalElbv2.injectFailures}. */
export function elbThrottling(message = 'Rate exceeded'): AwsServiceError {
  return new AwsServiceError(ELBV2_ERRORS.throttling, message);
}

/** Refuses a missing required member, in the wording of AWS request validation. */
export function requireString(value: string | undefined, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

/** Refuses a number outside [min, max] or not an integer. */
export function checkRange(value: number, min: number, max: number, field: string): void {
  if (!isIntegerIn(value, min, max)) throw validation(`${field} must be an integer from ${min} to ${max}; got ${value}`);
}

/** True for an integer in [min, max]. */
export function isIntegerIn(value: number | undefined, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A `ValidationError` (ELBv2's common error for a request that breaks a constraint). */
export function validation(message: string): AwsServiceError {
  return new AwsServiceError(ELBV2_ERRORS.validation, message);
}
