import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { colourDimensions, ENVOY_METRICS, RESPONSE_CLASSES } from '../envoy-metrics';
import { ValidationError } from '../errors';
import { maxOf, sumOf, type HealthMetricSource, type QueryOptions, type SourceTarget, type TrafficMeasure } from './metric-source';

const P99_ID = 'request_time_p99';
const P50_ID = 'request_time_p50';

/** Query ids must start with a lower-case letter; one per response class. */
function responsesId(cls: (typeof RESPONSE_CLASSES)[number]): string {
  return `responses_${cls}xx`;
}

/**
 * The `envoy` source (App Mesh): the colour's Envoy ingress statistics as the CloudWatch agent
 * publishes them (`lambdas/shared/envoy-metrics.ts`): responses per class (Sum) and request time
 * (p99, already in milliseconds). Requests are the responses of every class; errors the `5` class.
 *
 * @example
 * new EnvoyMetricSource('ECSRelease/Envoy').queries({ service: 'colorapp', colour: 'green' }, 10);
 */
export class EnvoyMetricSource implements HealthMetricSource {
  readonly kind = 'envoy' as const;

  /** @throws ValidationError when `namespace` is empty. */
  constructor(private readonly namespace: string) {
    if (!namespace) throw new ValidationError('EnvoyMetricSource: namespace must not be empty.');
  }

  queries({ service, colour }: SourceTarget, periodSeconds: number, options: QueryOptions = {}): MetricDataQuery[] {
    const dimensions = colourDimensions(service, colour);
    const responses: MetricDataQuery[] = RESPONSE_CLASSES.map((cls) => ({
      Id: responsesId(cls),
      MetricStat: {
        Metric: {
          Namespace: this.namespace,
          MetricName: ENVOY_METRICS.responsesByClass,
          Dimensions: [...dimensions, { Name: ENVOY_METRICS.responseClassDimension, Value: cls }],
        },
        Period: periodSeconds,
        Stat: 'Sum',
      },
      ReturnData: true,
    }));
    const requestTime = (Id: string, Stat: string): MetricDataQuery => ({
      Id,
      MetricStat: {
        Metric: { Namespace: this.namespace, MetricName: ENVOY_METRICS.requestTime, Dimensions: dimensions },
        Period: periodSeconds,
        Stat,
      },
      ReturnData: true,
    });
    return [...responses, requestTime(P99_ID, 'p99'), ...(options.p50 ? [requestTime(P50_ID, 'p50')] : [])];
  }

  measure(values: ReadonlyMap<string, readonly number[]>): TrafficMeasure {
    return {
      requests: RESPONSE_CLASSES.reduce((total, cls) => total + sumOf(values, responsesId(cls)), 0),
      errors5xx: sumOf(values, responsesId('5')),
      p99LatencyMs: maxOf(values, P99_ID),
      p50LatencyMs: maxOf(values, P50_ID),
    };
  }
}
