import type { ECSClient } from '@aws-sdk/client-ecs';
import { otherColour, type Colour, type Weights } from './colours';
import type { ServiceConfig } from './config';
import type { ReleaseState } from './documents';
import { describeService } from './ecs';
import { ResourceNotFoundError, RouteDriftError } from './errors';
import type { TrafficRouter } from './traffic/traffic-router';

/**
 * The drift metric: 1 when the last run found drift, 0 when it found none; nothing while a
 * release holds the lock (drift is judged only between releases). The pipeline's alarm and IAM
 * grant (`cloudwatch:namespace`) use the same names.
 */
export const DRIFT_METRIC = { namespace: 'ECSRelease', metricName: 'Drift', dimension: 'Service' } as const;

/** One way the service differs from its release state, as the reconciler found it. */
export interface DriftFinding {
  /**
   * `route`: the route is not 100/0 on the live colour (or cannot be read as a split of the two
   * colours); `idle-running`: the idle colour's service should have no tasks but does;
   * `live-revision`: the live colour's service runs another revision than the state records.
   */
  readonly kind: 'route' | 'idle-running' | 'live-revision';
  /** What was found and what was expected, in words an operator acts on. */
  readonly message: string;
}

/**
 * The `detail` of a `Release Drift Detected` event (source `ecs-release`). It is about a service,
 * not a release, so it has no release id or execution.
 */
export interface ReleaseDriftDetail {
  /** Bumped on any incompatible change. */
  readonly schemaVersion: 1;
  readonly service: string;
  readonly outcome: 'drift-detected';
  /** The colour the release state says is live. */
  readonly live: Colour;
  readonly findings: readonly DriftFinding[];
  /** When it was found (ISO 8601). */
  readonly at: string;
}

/** What the reconciler saw of a service while no release held its lock. */
export interface DriftObservation {
  readonly live: Colour;
  /** The split on the state's live colour, or why the route could not be read as one. */
  readonly route: { readonly weights: Weights; readonly describe: string } | { readonly problem: string };
  readonly idleService: { readonly name: string; readonly desiredCount: number };
  readonly keepOldColourWarm: boolean;
  readonly liveService: { readonly name: string; readonly taskDefinitionArn: string | undefined };
  /**
   * The live colour's revision as the state records it; `null` when the state does not know it
   * (an imported service before its first release) or only guessed it at synth time (a seeded
   * state, which the first release checks): neither is a record to hold the service to.
   */
  readonly recordedLiveTaskDefinitionArn: string | null;
}

/**
 * The differences between what runs and what the release state says should, with no release
 * running: a pure function of one observation, so each rule has a table test.
 */
export function findDrift(observed: DriftObservation): DriftFinding[] {
  const findings: DriftFinding[] = [];
  const idle = otherColour(observed.live);
  if ('problem' in observed.route) {
    findings.push({ kind: 'route', message: observed.route.problem });
  } else if (observed.route.weights.live !== 100 || observed.route.weights.idle !== 0) {
    const { weights, describe } = observed.route;
    findings.push({
      kind: 'route',
      message:
        `${describe} sends ${observed.live} ${weights.live} / ${idle} ${weights.idle} with no release running; ` +
        `the state says ${observed.live} is live, so it should be 100/0. Find out who changed it, then restore it or release again.`,
    });
  }
  if (!observed.keepOldColourWarm && observed.idleService.desiredCount > 0) {
    findings.push({
      kind: 'idle-running',
      message:
        `Idle service ${observed.idleService.name} (${idle}) wants ${observed.idleService.desiredCount} task(s); with ` +
        'keepOldColourWarm off it should be scaled to 0 after a release. Scale it down, or turn keepOldColourWarm on.',
    });
  }
  const recorded = observed.recordedLiveTaskDefinitionArn;
  if (recorded !== null && observed.liveService.taskDefinitionArn !== recorded) {
    findings.push({
      kind: 'live-revision',
      message:
        `Live service ${observed.liveService.name} (${observed.live}) runs ${observed.liveService.taskDefinitionArn ?? 'no task definition'}, ` +
        `but the release state records ${recorded}. A change outside the releases (a deploy, a console edit) reached production: release the intended image again.`,
    });
  }
  return findings;
}

/**
 * Reads what {@link findDrift} judges: the split through the traffic router (read only), and
 * both colours' services. A route that is not a split of the two colours, or is gone, is drift
 * to report, not an error; anything else (access denied, throttling after retries) throws.
 */
export async function observeDrift(
  ecs: ECSClient,
  config: ServiceConfig,
  state: ReleaseState,
  router: TrafficRouter,
): Promise<DriftObservation> {
  const live = state.live;
  const idle = otherColour(live);
  const route = await router.getWeights().then(
    (weights) => ({ weights, describe: router.describe() }),
    (error: unknown) => {
      if (error instanceof RouteDriftError || error instanceof ResourceNotFoundError) return { problem: error.message };
      throw error;
    },
  );
  const [liveService, idleService] = await Promise.all([
    describeService(ecs, config.cluster, config.ecsServices[live]),
    describeService(ecs, config.cluster, config.ecsServices[idle]),
  ]);
  return {
    live,
    route,
    idleService: { name: config.ecsServices[idle], desiredCount: idleService.desiredCount ?? 0 },
    keepOldColourWarm: config.promotion.keepOldColourWarm,
    liveService: { name: config.ecsServices[live], taskDefinitionArn: liveService.taskDefinition },
    recordedLiveTaskDefinitionArn: state.seededBy === 'cdk' ? null : state.colours[live].taskDefinitionArn,
  };
}
