import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod';
import { ValidationError } from './shared/errors';
import { CloudWatchHealthCheck } from './shared/health/cloudwatch-health-check';
import { healthMetricSourceOf, periodWarning } from './shared/health/metric-sources';
import { ShiftResultSchema, nextProgress } from './shared/health/progress';
import { createLogger, withReleaseKeys } from './shared/logger';
import type { Baseline } from './shared/documents';
import { ColourAssignmentSchema, PlannedReleaseSchema, ProgressSchema, type Progress } from './shared/release';
import { parseOrThrow } from './shared/validation';

const logger = createLogger('check-health');
const cloudwatch = new CloudWatchClient({});

/** Input of the CheckHealth step: the release, its colours, where it is, and the shift just baked. */
export const CheckHealthInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
  progress: ProgressSchema,
  shift: ShiftResultSchema,
});
/** Input of the CheckHealth step. */
export type CheckHealthInput = z.infer<typeof CheckHealthInputSchema>;

/**
 * CheckHealth: judges the idle colour over the bake that just ended and returns the next
 * {@link Progress}; the state machine routes on its `decision` (`shift`, `bake-again`,
 * `promote`, `rollback`).
 *
 * The window ends now and starts at the later of the shift and `now - bakeSeconds`, so a re-bake
 * judges only its own bake and never traffic from before the shift. Alarms judged are
 * `health.alarms.common` plus the idle colour's own. The numbers come from the service's health
 * metric source (`health.metricSource`, else the traffic backend's own: the load balancer for
 * ALB, Envoy for App Mesh); the verdict rules are the same for every source.
 *
 * With `health.relative.enabled` the idle colour is also judged against the live one over the
 * same window (read in the same GetMetricData request); at a step where the live colour has no
 * traffic (100%), against the live figures the previous step's verdict recorded, which the
 * execution carries in `progress.verdicts`.
 *
 * @throws ValidationError for malformed input, a shift for another step, or a metric source the
 *   traffic backend cannot serve.
 * @throws ResourceNotFoundError when a configured alarm does not exist.
 */
export async function handler(event: unknown): Promise<Progress> {
  const input = parseOrThrow(CheckHealthInputSchema, event, 'CheckHealth input');
  const { release, colours, progress, shift } = input;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    if (shift.stepIndex !== progress.stepIndex) {
      throw new ValidationError(
        `CheckHealth got a shift for step index ${shift.stepIndex}, but the release is at step index ${progress.stepIndex}.`,
      );
    }
    const health = release.config.health;
    const idle = colours.idle;
    const alarmNames = [...new Set([...health.alarms.common, ...health.alarms[idle]])];

    const now = new Date();
    const shiftedAt = new Date(shift.shiftedAt);
    const bakeStart = new Date(now.getTime() - release.bakeSeconds * 1000);
    // Never after now: a shift stamped a few ms ahead (another Lambda's clock) must not invert the window.
    const windowStart = new Date(Math.min(Math.max(shiftedAt.getTime(), bakeStart.getTime()), now.getTime()));

    const source = healthMetricSourceOf(release.config);
    const warning = periodWarning(source.kind, health.metricPeriodSeconds);
    if (warning) logger.warn('Metric period finer than the source publishes', { metricSource: source.kind, warning });
    const check = new CloudWatchHealthCheck(cloudwatch, {
      source,
      periodSeconds: health.metricPeriodSeconds,
      alarmNames,
      thresholds: {
        minSuccessRate: health.minSuccessRate,
        maxP99LatencyMs: health.maxP99LatencyMs,
        minRequests: health.minRequestsPerStep,
      },
      relative: health.relative.enabled ? health.relative : undefined,
    });
    const previous = previousBaseline(progress);
    const verdict = await check.judge({
      service: release.service,
      colour: idle,
      stepIndex: shift.stepIndex,
      weight: shift.weight,
      attempt: progress.attempt,
      windowStart,
      windowEnd: now,
      live: { colour: colours.live, weight: shift.weights.live, ...(previous ? { previous } : {}) },
    });
    logger.info('Health verdict', {
      status: verdict.status,
      reasons: verdict.reasons,
      colour: idle,
      stepIndex: verdict.stepIndex,
      weight: verdict.weight,
      attempt: verdict.attempt,
      window: verdict.window,
      shiftedAt: shift.shiftedAt,
      bakeSeconds: release.bakeSeconds,
      evidence: verdict.evidence,
      thresholds: verdict.thresholds,
      comparedWith: verdict.evidence.baseline?.from ?? null,
      alarmNames,
      metricSource: source.kind,
    });

    const next = nextProgress(progress, verdict, release.schedule.length, health.maxInconclusiveBakes);
    logger.info('Next step decided', {
      decision: next.decision,
      verdict: verdict.status,
      stepIndex: progress.stepIndex,
      nextStepIndex: next.stepIndex,
      attempt: progress.attempt,
      nextAttempt: next.attempt,
      scheduleLength: release.schedule.length,
      maxInconclusiveBakes: health.maxInconclusiveBakes,
      failure: next.failure,
    });
    return next;
  });
}

/**
 * The live colour's figures an earlier step measured in its own window (the newest such step):
 * what a step that leaves the live colour no traffic compares with. Read from the verdicts the
 * execution already carries, so the state machine data grows by nothing.
 */
export function previousBaseline(progress: Progress): Baseline | undefined {
  for (let i = progress.verdicts.length - 1; i >= 0; i--) {
    const verdict = progress.verdicts[i];
    const baseline = verdict.evidence.baseline;
    if (verdict.stepIndex < progress.stepIndex && baseline?.from === 'same-window') return baseline;
  }
  return undefined;
}
