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
 *
 * Names as CloudWatch stores them: Envoy's DogStatsD sink sends the tag-extracted stat name with
 * its `envoy.` prefix (`envoy.http.downstream_rq_xx`, {@link ENVOY_STATSD_NAMES}) and the tags
 * after `|#`. The CloudWatch agent's StatsD input splits the name on `.` and joins the parts with
 * its `metric_separator` (`_` unless configured; the agent config sets it explicitly to
 * {@link ENVOY_METRICS.statsdMetricSeparator}), so CloudWatch holds `envoy_http_downstream_rq_xx`.
 * DogStatsD tag keys are kept verbatim, dots included, so the dimensions are
 * `envoy.response_code_class` and `envoy.http_conn_manager_prefix`. Sources, in
 * aws/amazon-cloudwatch-agent at ab55b8daa204e95c42c0267ee5aa49ec3b3a7317:
 * `plugins/inputs/statsd/statsd.go` (defaultSeparator `_` line 32, applied line 226; DogStatsD tag
 * keys copied as is in the block at lines 302-335; parseName line 461), `plugins/inputs/statsd/graphite/parser.go`
 * (default template `measurement*` line 61, parts joined with the separator line 347),
 * `internal/metric/metric.go` line 146 (the StatsD field `value` adds no suffix), and
 * `translator/config/schema.json` line 423 (`metric_separator` is a setting of the agent's
 * `statsd` section). `local/gateway/cloudwatch-agent.ts` models that transform and a test
 * checks this contract against it.
 */
export const ENVOY_METRICS = {
  /** Requests answered, tagged by response class (`2`, `3`, `4`, `5`), as CloudWatch names it. */
  responsesByClass: 'envoy_http_downstream_rq_xx',
  /** Request latency in milliseconds (a timer: use a percentile statistic), as CloudWatch names it. */
  requestTime: 'envoy_http_downstream_rq_time',
  /**
   * The CloudWatch agent's StatsD `metric_separator` the names above assume. The agent config
   * sets it explicitly, so the contract does not rest on the agent's default.
   */
  statsdMetricSeparator: '_',
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

/**
 * The names Envoy's DogStatsD sink sends for {@link ENVOY_METRICS.responsesByClass} and
 * {@link ENVOY_METRICS.requestTime}: the tag-extracted stat names (`http.<prefix>.downstream_rq_xx`
 * without the connection manager's prefix, which became a tag) behind the sink's default
 * `envoy.` prefix.
 */
export const ENVOY_STATSD_NAMES = {
  responsesByClass: 'envoy.http.downstream_rq_xx',
  requestTime: 'envoy.http.downstream_rq_time',
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
