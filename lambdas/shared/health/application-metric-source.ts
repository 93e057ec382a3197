import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { APP_METRICS, appColourDimensionsMap } from '../app-metrics';
import { ValidationError } from '../errors';
import { maxOf, sumOf, type HealthMetricSource, type QueryOptions, type SourceTarget, type TrafficMeasure } from './metric-source';

const REQUESTS_ID = 'requests';
const SERVER_ERRORS_ID = 'server_errors';
const P99_ID = 'latency_p99';
const P50_ID = 'latency_p50';

/**
 * The `application` source: the high-resolution metrics the service publishes itself in
 * CloudWatch embedded metric format (`lambdas/shared/app-metrics.ts`), dimensions `Service` and
 * `Color`: `Requests` (Sum), `ServerErrors` (Sum) and `Latency` (p99, milliseconds). Stored at
 * 1-second resolution, so any period CloudWatch allows (1, 5, 10, 30, multiples of 60) works.
 * It counts only requests the application answered: connection failures in front of it are for
 * the backend's alarms.
 *
 * @example
 * new ApplicationMetricSource('ECSRelease/App').queries({ service: 'colorapp', colour: 'green' }, 10);
 */
export class ApplicationMetricSource implements HealthMetricSource {
  readonly kind = 'application' as const;

  /** @throws ValidationError when `namespace` is empty. */
  constructor(private readonly namespace: string) {
    if (!namespace) throw new ValidationError('ApplicationMetricSource: namespace must not be empty.');
  }

  queries({ service, colour }: SourceTarget, periodSeconds: number, options: QueryOptions = {}): MetricDataQuery[] {
    const dimensions = Object.entries(appColourDimensionsMap(service, colour)).map(([Name, Value]) => ({ Name, Value }));
    const query = (Id: string, MetricName: string, Stat: string): MetricDataQuery => ({
      Id,
      MetricStat: { Metric: { Namespace: this.namespace, MetricName, Dimensions: dimensions }, Period: periodSeconds, Stat },
      ReturnData: true,
    });
    return [
      query(REQUESTS_ID, APP_METRICS.requests, 'Sum'),
      query(SERVER_ERRORS_ID, APP_METRICS.serverErrors, 'Sum'),
      query(P99_ID, APP_METRICS.latency, 'p99'),
      ...(options.p50 ? [query(P50_ID, APP_METRICS.latency, 'p50')] : []),
    ];
  }

  measure(values: ReadonlyMap<string, readonly number[]>): TrafficMeasure {
    return {
      requests: sumOf(values, REQUESTS_ID),
      errors5xx: sumOf(values, SERVER_ERRORS_ID),
      p99LatencyMs: maxOf(values, P99_ID),
      p50LatencyMs: maxOf(values, P50_ID),
    };
  }
}
