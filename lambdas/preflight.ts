import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { UndoPlan } from './shared/documents';
import { assertRollingUpdate, describeService, isSteady } from './shared/ecs';
import { AlarmTriggeredError, RouteDriftError, ServiceNotSteadyError, StateConflictError } from './shared/errors';
import { describeAlarmStates } from './shared/health/cloudwatch-health-check';
import { ReleaseLock } from './shared/lock';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema } from './shared/release';
import { createTrafficRouter } from './shared/traffic/create-traffic-router';
import { parseOrThrow } from './shared/validation';

const ecs = new ECSClient({});
const cloudwatch = new CloudWatchClient({});
const lock = new ReleaseLock(new SSMClient({}), new SFNClient({}));
const logger = createLogger('preflight');

const InputSchema = z.object({ release: PlannedReleaseSchema, colours: ColourAssignmentSchema });

/** What preflight found, and the undo plan it wrote into the lock. */
export interface PreflightOutput {
  readonly weights: { live: number; idle: number };
  readonly undo: UndoPlan;
}

/**
 * Preflight step: the route must send 100/0 to the live colour, test routes (if any) must send
 * each colour's test traffic to that colour, and the live service must be steady, run what the
 * state says and (where the backend can tell) have healthy targets. Drift is refused, never
 * "fixed": a release that starts from an unknown split cannot promise to restore it. On success the undo plan (the idle
 * service as it is now) is written into the lock, so any rollback, even one run by the cleanup
 * handler after an abort, knows exactly what to restore.
 *
 * The alarms the bakes will watch (common and the idle colour's) must not be in ALARM already:
 * after a bad release is rolled back its colour's alarms stay in ALARM for a few periods, and a
 * release started meanwhile would deploy only to be rolled back by the first bake, whatever its
 * own health. Refused here, nothing has been deployed.
 */
export async function handler(event: unknown): Promise<PreflightOutput> {
  const { release, colours } = parseOrThrow(InputSchema, event, 'Preflight input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const { config } = release;
    const router = createTrafficRouter(config.traffic, colours);
    const weights = await router.getWeights();
    if (weights.live !== 100 || weights.idle !== 0) {
      throw new RouteDriftError(
        `Route ${router.describe()} sends ${colours.live} ${weights.live} / ${colours.idle} ${weights.idle}; a release needs 100/0 to the live colour (${colours.live}). ` +
          'Someone changed traffic outside a release: restore 100/0 by hand after checking why, then release again.',
      );
    }
    const watched = [...new Set([...config.health.alarms.common, ...config.health.alarms[colours.idle]])];
    if (watched.length > 0) {
      const { inAlarm } = await describeAlarmStates(cloudwatch, watched);
      if (inAlarm.length > 0) {
        throw new AlarmTriggeredError(
          `Alarm${inAlarm.length === 1 ? '' : 's'} ${inAlarm.join(', ')} ${inAlarm.length === 1 ? 'is' : 'are'} in ALARM before anything ` +
            `was deployed to ${colours.idle} (left from an earlier release, or firing now): the first bake would roll this release back ` +
            'whatever its health. Nothing was deployed; start the release again once the alarms are OK.',
        );
      }
    }
    // Test routes (e.g. a header rule per colour) are how a person reaches the idle colour before
    // traffic moves; one that points at the wrong colour would show them the live version instead.
    const testRoutes = await router.checkTestRoutes();
    const liveName = config.ecsServices[colours.live];
    const live = await describeService(ecs, config.cluster, liveName);
    assertRollingUpdate(live, config.cluster);
    if (!isSteady(live) || (live.runningCount ?? 0) < 1) {
      throw new ServiceNotSteadyError(
        `Live service ${liveName} is not steady (running ${live.runningCount}/${live.desiredCount}, ${live.deployments?.length ?? 0} deployments). Wait for it to settle, then release again.`,
      );
    }
    // Only the live colour can be checked here: the idle service usually runs no task until
    // DeployIdle. ShiftTraffic checks the idle colour's targets before it moves any weight.
    // A live colour with no healthy target is also what a rollback would return traffic to.
    const liveTargets = await router.checkTargets('live');
    if (live.taskDefinition !== colours.liveTaskDefinitionArn) {
      throw new StateConflictError(
        `Live service ${liveName} runs ${live.taskDefinition}, but the release state says ${colours.liveTaskDefinitionArn}. ` +
          'It was changed outside a release; update the state document or redeploy the recorded revision first.',
      );
    }
    const idleName = config.ecsServices[colours.idle];
    const idle = await describeService(ecs, config.cluster, idleName);
    assertRollingUpdate(idle, config.cluster);
    const undo: UndoPlan = {
      live: colours.live,
      idle: colours.idle,
      idleService: {
        serviceName: idleName,
        taskDefinitionArn: idle.taskDefinition ?? '',
        desiredCount: idle.desiredCount ?? 0,
      },
    };
    if (!undo.idleService.taskDefinitionArn) {
      throw new StateConflictError(`Idle service ${idleName} has no task definition to roll back to`);
    }
    await lock.update(release.service, release.executionArn, (held) => ({ ...held, undo }));
    logger.info('Preflight passed; undo plan recorded in the lock', { weights, testRoutes, liveTargets, undo });
    return { weights, undo };
  });
}
