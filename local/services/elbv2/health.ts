/**
 * Target health for the local Application Load Balancer: the health check itself (pluggable; by
 * default a real HTTP GET, as the load balancer node sends) and the state a target moves to after
 * each check, as the ALB user guide describes it ("Health checks for Application Load Balancer
 * target groups"):
 *
 * - A newly registered target is `initial` (`Elb.RegistrationInProgress`) and "must pass one
 *   health check to be considered healthy".
 * - A target goes out of service after `UnhealthyThresholdCount` consecutive failures and back
 *   into service after `HealthyThresholdCount` consecutive successes.
 * - Reason codes are the API reference's `TargetHealth.Reason` values.
 */

import { request } from 'node:http';
import type { TargetHealthReasonEnum, TargetHealthStateEnum } from '@aws-sdk/client-elastic-load-balancing-v2';

/** One health check to make, with the target group's health check settings. */
export interface HealthCheckRequest {
  readonly targetGroupArn: string;
  /** The target's id: an IP address for target type `ip`, an instance id for `instance`. */
  readonly id: string;
  /** The port to check (`HealthCheckPort`, or the target's port for `traffic-port`). */
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  /** e.g. `/healthcheck`. */
  readonly path: string;
  readonly timeoutMs: number;
  /** `Matcher.HttpCode`: `200`, `200,202` or `200-299`. */
  readonly matcher: string;
}

/** What one health check found. */
export type HealthCheckResult =
  | { readonly healthy: true }
  | {
      readonly healthy: false;
      readonly reason: 'Target.ResponseCodeMismatch' | 'Target.Timeout' | 'Target.FailedHealthChecks';
      readonly description: string;
    };

/** Makes one health check. Inject one in tests; the default is {@link httpHealthProbe}. */
export type HealthProbe = (check: HealthCheckRequest) => Promise<HealthCheckResult>;

/**
 * The default probe: `GET <path>` on `http://<id>:<port>` with the target group's timeout, healthy
 * when the status matches the matcher. HTTPS checks are made over plain HTTP: local tasks have no
 * certificates.
 */
export const httpHealthProbe: HealthProbe = (check) =>
  new Promise((resolve) => {
    const req = request(
      { host: check.id, port: check.port, path: check.path, method: 'GET', agent: false, timeout: check.timeoutMs },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(
          matchesHttpCode(check.matcher, status)
            ? { healthy: true }
            : { healthy: false, reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${status}]` },
        );
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ healthy: false, reason: 'Target.Timeout', description: 'Request timed out' });
    });
    req.on('error', () => resolve({ healthy: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }));
    req.end();
  });

/**
 * True when `status` satisfies a `Matcher.HttpCode` value: codes separated by commas, or a range.
 *
 * @example
 * matchesHttpCode('200-299', 204); // true
 * matchesHttpCode('200,202', 201); // false
 */
export function matchesHttpCode(matcher: string, status: number): boolean {
  return matcher.split(',').some((part) => {
    const [low, high] = part.trim().split('-').map(Number);
    return high === undefined ? status === low : status >= low && status <= high;
  });
}

/** Where one registered target stands between health checks. */
export interface TargetHealthState {
  readonly state: Extract<TargetHealthStateEnum, 'initial' | 'healthy' | 'unhealthy'>;
  readonly reason?: TargetHealthReasonEnum;
  readonly description?: string;
  /** Consecutive results of the same kind as the last one. */
  readonly streak: number;
  readonly lastHealthy: boolean | undefined;
}

/** The state of a target just registered. */
export const REGISTERED: TargetHealthState = {
  state: 'initial',
  reason: 'Elb.RegistrationInProgress',
  description: 'Target registration is in progress',
  streak: 0,
  lastHealthy: undefined,
};

/**
 * The state after one health check result, given the target group's thresholds.
 *
 * @example
 * nextHealth(REGISTERED, { healthy: true }, { healthyThreshold: 5, unhealthyThreshold: 2 }).state; // 'healthy'
 */
export function nextHealth(
  current: TargetHealthState,
  result: HealthCheckResult,
  thresholds: { readonly healthyThreshold: number; readonly unhealthyThreshold: number },
): TargetHealthState {
  const streak = current.lastHealthy === result.healthy ? current.streak + 1 : 1;
  if (result.healthy) {
    // From initial one pass is enough; an unhealthy target needs HealthyThresholdCount in a row.
    if (current.state === 'initial' || current.state === 'healthy' || streak >= thresholds.healthyThreshold) {
      return { state: 'healthy', streak, lastHealthy: true };
    }
    return { ...current, streak, lastHealthy: true };
  }
  if (streak >= thresholds.unhealthyThreshold || current.state === 'unhealthy') {
    return { state: 'unhealthy', reason: result.reason, description: result.description, streak, lastHealthy: false };
  }
  if (current.state === 'initial') {
    return {
      state: 'initial',
      reason: 'Elb.InitialHealthChecking',
      description: 'Initial health checks in progress',
      streak,
      lastHealthy: false,
    };
  }
  return { ...current, streak, lastHealthy: false };
}
