import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { parameterNames, ReleaseStateSchema } from './shared/documents';
import { describeService } from './shared/ecs';
import { ScaleDownFailedError, StateConflictError, ThrottledError, ValidationError } from './shared/errors';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema } from './shared/release';
import { withThrottlingRetry } from './shared/retry';
import { SsmDocuments } from './shared/ssm-documents';
import { parseOrThrow } from './shared/validation';

/**
 * After promotion: scales the colour that was live before this release to zero. The one rule
 * that matters here is never to scale down the colour that serves traffic, so the release state
 * document must prove this release was promoted before anything is touched.
 */

const ecs = new ECSClient({});
const ssm = new SSMClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('scale-down-old-colour');

/** Input of the scale-down step. `colours` is the assignment this release started with. */
export const ScaleDownOldColourInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
});

/** Output of the scale-down step. */
export interface ScaleDownResult {
  readonly serviceName: string;
  readonly desiredCount: 0;
  /** False when the service was already at zero (a re-run). */
  readonly changed: boolean;
}

/**
 * Scales the previously live colour's service to zero once the release state shows this
 * release promoted.
 *
 * @throws ValidationError for invalid input, or a configuration that gives both colours one service.
 * @throws StateConflictError when the state document is missing or does not show this release
 *   promoted to `colours.idle`; nothing is touched.
 * @throws ScaleDownFailedError when SSM or ECS failed (other than throttling). The release itself
 *   stays promoted.
 * @throws ThrottledError when SSM or ECS kept throttling; the state machine retries the step.
 */
export async function handler(event: unknown): Promise<ScaleDownResult> {
  const { release, colours } = parseOrThrow(ScaleDownOldColourInputSchema, event, 'ScaleDown input');
  const { config } = release;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const oldName = config.ecsServices[colours.live];
    const newName = config.ecsServices[colours.idle];
    if (oldName === newName) {
      throw new ValidationError(
        `Service configuration of ${release.service} names the same ECS service (${oldName}) for blue and green; ` +
          'scaling down the old colour would stop the live one. Give each colour its own service.',
      );
    }

    const stateName = parameterNames(release.service).state;
    const state = await documents.get(stateName, ReleaseStateSchema).catch((error: unknown) => {
      // An unreadable document is a refusal (StateConflictError, as thrown); failing to reach SSM
      // at all is a failed scale-down of a promoted release, not a reason to roll it back.
      if (error instanceof StateConflictError || error instanceof ThrottledError) throw error;
      throw scaleDownFailed(release.id, config.cluster, oldName, `reading ${stateName}`, error);
    });
    const evidence = {
      stateParameter: stateName,
      stateLive: state?.live ?? null,
      stateLastReleaseId: state?.lastRelease?.id ?? null,
      stateLastReleaseOutcome: state?.lastRelease?.outcome ?? null,
      expectedLive: colours.idle,
      oldColour: colours.live,
      oldServiceName: oldName,
    };
    const promoted =
      state !== null &&
      state.live === colours.idle &&
      state.lastRelease?.id === release.id &&
      state.lastRelease.outcome === 'promoted';
    if (!promoted) {
      logger.error('Not scaling down: the state does not show this release promoted', evidence);
      throw new StateConflictError(
        `Refusing to scale down ${config.cluster}/${oldName} (${colours.live}): ${stateName} ` +
          (state === null
            ? 'does not exist'
            : `says live is ${state.live} and the last release is ${state.lastRelease?.id ?? 'none'} ` +
              `(${state.lastRelease?.outcome ?? 'no outcome'}), not ${release.id} promoted to ${colours.idle}`) +
          '. It may be serving traffic; check the state and the route before scaling it by hand.',
      );
    }

    try {
      const old = await describeService(ecs, config.cluster, oldName);
      if (old.desiredCount === 0) {
        logger.info('Old colour is already scaled to zero', { ...evidence, desiredCount: 0 });
        return { serviceName: oldName, desiredCount: 0, changed: false };
      }
      logger.info('Scaling the old colour to zero', { ...evidence, previousDesiredCount: old.desiredCount ?? null });
      await withThrottlingRetry(`UpdateService ${config.cluster}/${oldName}`, () =>
        ecs.send(new UpdateServiceCommand({ cluster: config.cluster, service: oldName, desiredCount: 0 })),
      );
      return { serviceName: oldName, desiredCount: 0, changed: true };
    } catch (error) {
      logger.error('Scaling down the old colour failed', { ...evidence, reason: reasonOf(error) });
      // The state machine retries ThrottledError on this step; anything else gets the manual fix.
      if (error instanceof ThrottledError) throw error;
      throw scaleDownFailed(release.id, config.cluster, oldName, 'scaling it to 0', error);
    }
  });
}

/**
 * This step runs after promotion: whatever went wrong must not look like a reason to roll back,
 * so it leaves as the one error that means "old colour still up, clean up by hand".
 */
function scaleDownFailed(releaseId: string, cluster: string, serviceName: string, doing: string, error: unknown) {
  return new ScaleDownFailedError(
    `Could not scale down the old colour ${cluster}/${serviceName} after release ${releaseId}: ${doing} failed ` +
      `(${reasonOf(error)}). It was left running and traffic is unaffected. Once the state shows the release ` +
      `promoted, scale it down by hand: aws ecs update-service --cluster ${cluster} --service ${serviceName} --desired-count 0`,
    { cause: error },
  );
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
