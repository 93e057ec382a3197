import type { Colour } from './colours';

/**
 * The metric contract between the Envoy sidecars (shipped to CloudWatch by the CloudWatch agent
 * over StatsD), the CloudWatch alarms the CDK app creates, the health check, and the local
 * environment. One module, so the four cannot drift apart.
 *
 * Envoy's statistics of each colour's tasks are tagged with `Service` and `Color`
 * (ENVOY_STATS_TAGS); the response class and the HTTP connection manager are Envoy's own tags.
 * Every query pins the connection manager to the ingress listener: Envoy counts the requests of
 * its admin listener (the container health check polls it every few seconds) and of the egress
 * listener under the same metric names, and without the pin they would inflate the colour's
 * request count and success rate.
 */
export const ENVOY_METRICS = {
  /** Requests answered, tagged by response class (`2`, `3`, `4`, `5`). */
  responsesByClass: 'envoy.http.downstream_rq_xx',
  /** Request latency in milliseconds (a timer: use a percentile statistic). */
  requestTime: 'envoy.http.downstream_rq_time',
  /** The response-class dimension Envoy's tag extraction produces. */
  responseClassDimension: 'envoy.response_code_class',
  /**
   * The HTTP connection manager (listener) dimension Envoy's tag extraction produces from the
   * manager's stat prefix: `ingress`, `egress` or `admin` in an App Mesh Envoy.
   */
  listenerDimension: 'envoy.http_conn_manager_prefix',
  /** The {@link ENVOY_METRICS.listenerDimension} value of the listener the colour's traffic arrives on. */
  ingressListener: 'ingress',
  serviceDimension: 'Service',
  colourDimension: 'Color',
} as const;

/** Response classes Envoy reports. */
export const RESPONSE_CLASSES = ['2', '3', '4', '5'] as const;

/**
 * The dimension sets the contract's metrics are read with, which the CloudWatch agent must
 * therefore publish (its `aggregation_dimensions`): request time by colour, and responses by
 * colour and class, both on the ingress listener only.
 */
export const CONTRACT_DIMENSION_SETS: readonly (readonly string[])[] = [
  [ENVOY_METRICS.serviceDimension, ENVOY_METRICS.colourDimension, ENVOY_METRICS.listenerDimension],
  [
    ENVOY_METRICS.serviceDimension,
    ENVOY_METRICS.colourDimension,
    ENVOY_METRICS.listenerDimension,
    ENVOY_METRICS.responseClassDimension,
  ],
];

/**
 * The dimensions that pick the ingress traffic of one colour of one service, as a name-to-value
 * map (CDK's `dimensionsMap`, the local environment's samples). Add
 * {@link ENVOY_METRICS.responseClassDimension} for {@link ENVOY_METRICS.responsesByClass}.
 *
 * @example
 * new cloudwatch.Metric({ namespace, metricName: ENVOY_METRICS.requestTime,
 *   dimensionsMap: colourDimensionsMap('colorapp', 'green'), statistic: 'p99' });
 */
export function colourDimensionsMap(service: string, colour: Colour): Record<string, string> {
  return {
    [ENVOY_METRICS.serviceDimension]: service,
    [ENVOY_METRICS.colourDimension]: colour,
    [ENVOY_METRICS.listenerDimension]: ENVOY_METRICS.ingressListener,
  };
}

/** {@link colourDimensionsMap} as the CloudWatch API's dimension list, in the same order. */
export function colourDimensions(service: string, colour: Colour): { Name: string; Value: string }[] {
  return Object.entries(colourDimensionsMap(service, colour)).map(([Name, Value]) => ({ Name, Value }));
}
