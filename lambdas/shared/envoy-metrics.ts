import type { Colour } from './colours';

/**
 * The metric contract between the Envoy sidecars (shipped to CloudWatch by the CloudWatch agent
 * over StatsD), the CloudWatch alarms the CDK app creates, the health check, and the local
 * environment. One module, so the four cannot drift apart.
 *
 * Envoy's ingress statistics of each colour's tasks are tagged with `Service` and `Color`
 * (ENVOY_STATS_TAGS); the response class tag is Envoy's own.
 */
export const ENVOY_METRICS = {
  /** Requests answered, tagged by response class (`2`, `3`, `4`, `5`). */
  responsesByClass: 'envoy.http.downstream_rq_xx',
  /** Request latency in milliseconds (a timer: use a percentile statistic). */
  requestTime: 'envoy.http.downstream_rq_time',
  /** The response-class dimension Envoy's tag extraction produces. */
  responseClassDimension: 'envoy.response_code_class',
  serviceDimension: 'Service',
  colourDimension: 'Color',
} as const;

/** Response classes Envoy reports. */
export const RESPONSE_CLASSES = ['2', '3', '4', '5'] as const;

/** The dimensions that pick one colour of one service. */
export function colourDimensions(service: string, colour: Colour): { Name: string; Value: string }[] {
  return [
    { Name: ENVOY_METRICS.serviceDimension, Value: service },
    { Name: ENVOY_METRICS.colourDimension, Value: colour },
  ];
}
