import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { parameterNames, ReleaseStateSchema } from './shared/documents';
import { assertNotAlreadyLive, IMAGE_TRIGGERS } from './shared/image-triggers';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ReleaseRequestSchema, versionOf, type PlannedRelease, type Progress } from './shared/release';
import { assertCanFinish } from './shared/release-budget';
import { computeSchedule } from './shared/schedule';
import { loadServiceConfig } from './shared/service-config';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

const ssm = new SSMClient({});
const logger = createLogger('plan-release');

const PlanInputSchema = z.object({
  request: z.unknown(),
  releaseId: z.string().min(1),
  executionArn: z.string().min(1),
  startedAt: z.string().min(1),
});

/** What Plan returns: the whole state the rest of the state machine works on. */
export interface PlanOutput {
  readonly release: PlannedRelease;
  readonly progress: Progress;
}

/**
 * Plan step: validates the request and the service configuration and computes the step
 * schedule, and refuses a release that could not finish inside one execution (its timeout, its
 * history quota), and an image trigger's release of the digest already live. It reads SSM
 * parameters and writes nothing, so a `ValidationError`, `ConfigNotFoundError` or
 * `AlreadyReleasedError` here leaves the world untouched.
 */
export async function handler(event: unknown): Promise<PlanOutput> {
  const input = parseOrThrow(PlanInputSchema, event, 'Plan input');
  const request = parseOrThrow(ReleaseRequestSchema, input.request, 'release request');
  return withReleaseKeys(logger, { releaseId: input.releaseId, service: request.service }, async () => {
    const config = await loadServiceConfig(ssm, request.service);
    const strategy = request.strategy ?? config.defaultStrategy;
    const schedule = computeSchedule(strategy);
    const release: PlannedRelease = {
      id: input.releaseId,
      executionArn: input.executionArn,
      service: request.service,
      image: request.image,
      version: versionOf(request.image),
      strategy,
      schedule,
      bakeSeconds: request.bakeSeconds ?? config.bakeSeconds,
      approvals: {
        beforeTraffic: request.approvals?.beforeTraffic ?? config.approvals.beforeTraffic,
        beforePromote: request.approvals?.beforePromote ?? config.approvals.beforePromote,
      },
      requestedBy: request.requestedBy ?? null,
      reason: request.reason ?? null,
      startedAt: input.startedAt,
      config,
    };
    // Before anything is touched: a release that would be stopped half-way must not start.
    assertCanFinish(release);
    // Only image triggers are refused, so only they pay for reading the state.
    if (release.requestedBy !== null && IMAGE_TRIGGERS.includes(release.requestedBy)) {
      assertNotAlreadyLive(release, await new SsmDocuments(ssm).get(parameterNames(release.service).state, ReleaseStateSchema));
    }
    logger.info('Planned release', { image: release.image, strategy, schedule, bakeSeconds: release.bakeSeconds });
    return { release, progress: { stepIndex: 0, attempt: 0, verdicts: [], decision: 'shift', failure: null } };
  });
}
