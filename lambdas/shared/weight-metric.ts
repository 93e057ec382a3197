import type { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { Colour, Weights } from './colours';
import { describeError } from './errors';
import { withThrottlingRetry } from './retry';
import type { TargetsCheck, TrafficRole, TrafficRouter } from './traffic/traffic-router';

/**
 * The traffic weight metric: each colour's share of the service's traffic, in percent, published
 * whenever a release sets the weights (each step, a rollback, the undo of a late shift). The
 * release dashboard draws it on the same time axis as the colours' requests and errors, so each
 * step is visible where the numbers move. Same namespace as the drift metric, so one IAM
 * condition (`cloudwatch:namespace`) covers every metric the release publishes.
 */
export const TRAFFIC_WEIGHT_METRIC = {
  namespace: 'ECSRelease',
  metricName: 'TrafficWeight',
  serviceDimension: 'Service',
  colourDimension: 'Colour',
} as const;

/** The logging {@link publishTrafficWeights} needs; a Powertools `Logger` fits. */
export type WeightMetricLogger = Pick<Logger, 'info' | 'warn'>;

/**
 * The two data points of one split: the live colour at `weights.live`, the idle one at
 * `weights.idle`, both at `at`. High resolution (1 s), so a 10-second graph places a step
 * where it happened.
 */
export function weightDatums(service: string, colours: { live: Colour; idle: Colour }, weights: Weights, at: Date): MetricDatum[] {
  return (['live', 'idle'] as const).map((role) => ({
    MetricName: TRAFFIC_WEIGHT_METRIC.metricName,
    Dimensions: [
      { Name: TRAFFIC_WEIGHT_METRIC.serviceDimension, Value: service },
      { Name: TRAFFIC_WEIGHT_METRIC.colourDimension, Value: colours[role] },
    ],
    Timestamp: at,
    Value: weights[role],
    Unit: 'Percent',
    StorageResolution: 1,
  }));
}

// Created on first use, so a function that never sets weights never builds it.
let defaultCloudWatch: CloudWatchClient | undefined;

/**
 * Publishes the split that was just set. Best effort: the weights are already in force, and a
 * graph must never fail a step or a rollback, so a failure (after the throttling retries) is
 * logged and swallowed. Returns whether the data points were sent.
 */
export async function publishTrafficWeights(
  service: string,
  colours: { live: Colour; idle: Colour },
  weights: Weights,
  logger: WeightMetricLogger,
  cloudwatch: CloudWatchClient = (defaultCloudWatch ??= new CloudWatchClient({})),
): Promise<boolean> {
  const what = `PutMetricData ${TRAFFIC_WEIGHT_METRIC.namespace}/${TRAFFIC_WEIGHT_METRIC.metricName} ${service}`;
  try {
    await withThrottlingRetry(what, () =>
      cloudwatch.send(
        new PutMetricDataCommand({ Namespace: TRAFFIC_WEIGHT_METRIC.namespace, MetricData: weightDatums(service, colours, weights, new Date()) }),
      ),
    );
    return true;
  } catch (error) {
    logger.warn('Could not publish the traffic weight metric; the weights are set, only the dashboard misses this change', {
      weights,
      error: describeError(error),
    });
    return false;
  }
}

/**
 * A {@link TrafficRouter} that publishes {@link TRAFFIC_WEIGHT_METRIC} after every successful
 * `setWeights`, and otherwise is the router it wraps. A decorator rather than a change to each
 * backend: the metric is about the release, not about ALB or App Mesh, and every path that sets
 * weights (ShiftTraffic, the rollback shared by Rollback, cleanup and the reconciler) wraps its
 * router the same way.
 *
 * @example
 * const router = new WeightMetricRouter(createTrafficRouter(config.traffic, colours), config.service, colours, logger);
 * await router.setWeights({ live: 90, idle: 10 }); // sets the route, then publishes blue 90, green 10
 */
export class WeightMetricRouter implements TrafficRouter {
  constructor(
    private readonly inner: TrafficRouter,
    private readonly service: string,
    private readonly colours: { live: Colour; idle: Colour },
    private readonly logger: WeightMetricLogger,
    private readonly cloudwatch?: CloudWatchClient,
  ) {}

  getWeights(): Promise<Weights> {
    return this.inner.getWeights();
  }

  async setWeights(weights: Weights): Promise<{ changed: boolean }> {
    const result = await this.inner.setWeights(weights);
    // Also when nothing changed: a retried step's point is harmless, and a missed one is not.
    await publishTrafficWeights(this.service, this.colours, weights, this.logger, this.cloudwatch);
    return result;
  }

  checkTargets(role: TrafficRole): Promise<TargetsCheck> {
    return this.inner.checkTargets(role);
  }

  checkTestRoutes(): Promise<readonly string[]> {
    return this.inner.checkTestRoutes();
  }

  describe(): string {
    return this.inner.describe();
  }
}
