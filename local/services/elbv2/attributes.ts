/**
 * Target group attributes of an Application Load Balancer target group: the ones the local
 * ELBv2 keeps, their defaults and their valid values (ALB user guide, "Target group attributes").
 */

import { validation } from './errors';

/** `deregistration_delay.timeout_seconds`: 0 to 3600 seconds. */
export const MAX_DEREGISTRATION_DELAY = 3600;
/** Stickiness durations: 1 second to 7 days. */
export const MAX_STICKINESS_SECONDS = 604_800;

/** The attributes of a new ALB target group, with AWS's defaults (the delay is the caller's: 300 s on AWS). */
export function defaultTargetGroupAttributes(deregistrationDelaySeconds: number): Map<string, string> {
  return new Map([
    ['deregistration_delay.timeout_seconds', String(deregistrationDelaySeconds)],
    ['stickiness.enabled', 'false'],
    ['stickiness.type', 'lb_cookie'],
    ['stickiness.lb_cookie.duration_seconds', '86400'],
    ['slow_start.duration_seconds', '0'],
    ['load_balancing.algorithm.type', 'round_robin'],
  ]);
}

/**
 * Refuses a value the attribute cannot take.
 *
 * @throws AwsServiceError `ValidationError` naming the attribute and its valid values.
 */
export function validateAttribute(key: string, value: string): void {
  const integer = (min: number, max: number) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw validation(`Target group attribute '${key}' must be an integer from ${min} to ${max}; got '${value}'`);
    }
  };
  switch (key) {
    case 'deregistration_delay.timeout_seconds':
      return integer(0, MAX_DEREGISTRATION_DELAY);
    case 'stickiness.lb_cookie.duration_seconds':
      return integer(1, MAX_STICKINESS_SECONDS);
    case 'slow_start.duration_seconds':
      if (value !== '0') integer(30, 900);
      return;
    case 'stickiness.enabled':
      if (value !== 'true' && value !== 'false') throw validation(`Target group attribute '${key}' must be true or false; got '${value}'`);
      return;
    case 'stickiness.type':
      if (value !== 'lb_cookie' && value !== 'app_cookie') throw validation(`Target group attribute '${key}' must be lb_cookie or app_cookie`);
      return;
    case 'load_balancing.algorithm.type':
      if (!['round_robin', 'least_outstanding_requests', 'weighted_random'].includes(value)) {
        throw validation(`Target group attribute '${key}' must be round_robin, least_outstanding_requests or weighted_random`);
      }
      return;
  }
}
