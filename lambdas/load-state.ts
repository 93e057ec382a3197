import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { COLOURS, otherColour, type Colour } from './shared/colours';
import { ReleaseStateSchema, parameterNames, type ColourSlot, type ReleaseState } from './shared/documents';
import { describeService } from './shared/ecs';
import { RouteDriftError, StateConflictError } from './shared/errors';
import { createLogger, withReleaseKeys } from './shared/logger';
import { PlannedReleaseSchema, versionOf, type ColourAssignment, type PlannedRelease } from './shared/release';
import { bootstrapState, confirmSeed } from './shared/release-state';
import { withThrottlingRetry } from './shared/retry';
import { SsmDocuments } from './shared/ssm-documents';
import { createTrafficRouter } from './shared/traffic/create-traffic-router';
import { parseOrThrow } from './shared/validation';

const ssm = new SSMClient({});
const ecs = new ECSClient({});
const docs = new SsmDocuments(ssm);
const logger = createLogger('load-state');

const InputSchema = z.object({ release: PlannedReleaseSchema });

/**
 * LoadState step: reads `/ecs-release/<service>/state` and says which colour is live and which
 * one this release deploys to. The first release of a service has no state: it is bootstrapped
 * from what runs (the colour the route sends all traffic to is live) and written once.
 *
 * A state the CDK app seeded (`seededBy`) holds what was known at synth time: a slot may be
 * empty, and a stack update since may have changed what runs. Before the first release relies on
 * it, it is checked the same way: bootstrapped from what runs and written over the seed (the lock
 * is held, so nobody else writes it), keeping any release it recorded meanwhile.
 */
export async function handler(event: unknown): Promise<ColourAssignment> {
  const { release } = parseOrThrow(InputSchema, event, 'LoadState input');
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    const name = parameterNames(release.service).state;
    let state = await docs.get(name, ReleaseStateSchema);
    if (!state) {
      state = await bootstrap(release);
      const created = await docs.put(name, state, { overwrite: false, description: `Release state of ${release.service}` });
      if (!created) state = await docs.get(name, ReleaseStateSchema);
      if (!state) throw new StateConflictError(`State ${name} appeared and vanished while bootstrapping; try again`);
      logger.info('Bootstrapped release state from what runs', { live: state.live });
    } else if (state.seededBy) {
      const seed = state;
      const observed = await bootstrap(release);
      state = confirmSeed(seed, observed, new Date());
      await docs.put(name, state, { overwrite: true, description: `Release state of ${release.service}` });
      logger.info('Checked the seeded release state against what runs and replaced the seed', {
        seeded: { live: seed.live, colours: seed.colours },
        observed: { live: state.live, colours: state.colours },
        changed: seed.live !== state.live || JSON.stringify(seed.colours) !== JSON.stringify(state.colours),
      });
    }
    const liveTaskDefinitionArn = state.colours[state.live].taskDefinitionArn;
    if (!liveTaskDefinitionArn) {
      throw new StateConflictError(`State ${name} says ${state.live} is live but records no task definition for it`);
    }
    const assignment = { live: state.live, idle: otherColour(state.live), liveTaskDefinitionArn };
    logger.info('Loaded release state', assignment);
    return assignment;
  });
}

async function bootstrap(release: PlannedRelease): Promise<ReleaseState> {
  const { config } = release;
  // Read the route as if blue were live: whichever colour has 100 is the live one.
  const weights = await createTrafficRouter(config.traffic, { live: 'blue', idle: 'green' }).getWeights();
  let live: Colour;
  if (weights.live === 100) live = 'blue';
  else if (weights.idle === 100) live = 'green';
  else {
    throw new RouteDriftError(
      `Cannot bootstrap the state of '${release.service}': the route splits traffic blue ${weights.live} / green ${weights.idle}. ` +
        'Send all traffic to the colour that should be live, then release again.',
    );
  }
  const slots = {} as Record<Colour, ColourSlot>;
  for (const colour of COLOURS) {
    const service = await describeService(ecs, config.cluster, config.ecsServices[colour]);
    const taskDefinitionArn = service.taskDefinition ?? null;
    const image = taskDefinitionArn ? await imageOf(taskDefinitionArn, config.containerName) : null;
    slots[colour] = { taskDefinitionArn, image, version: image ? versionOf(image) : null };
  }
  // Checked before the state is written: a state with no live revision is refused on every later
  // read, so writing it would block the service until someone deleted the parameter by hand.
  if (!slots[live].taskDefinitionArn) {
    throw new StateConflictError(
      `Cannot bootstrap the state of '${release.service}': the live service ${config.ecsServices[live]} (${live}) reports no task definition. ` +
        'Check that it exists and uses the ECS deployment controller, then release again.',
    );
  }
  return bootstrapState(release.service, live, slots, new Date());
}

async function imageOf(taskDefinitionArn: string, containerName: string): Promise<string | null> {
  const out = await withThrottlingRetry(`DescribeTaskDefinition ${taskDefinitionArn}`, () =>
    ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn })),
  );
  return out.taskDefinition?.containerDefinitions?.find((c) => c.name === containerName)?.image ?? null;
}
