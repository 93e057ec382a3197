/**
 * What the CloudWatch agent publishes for one StatsD sample it receives from Envoy's DogStatsD
 * sink: the metric name and the dimension sets, as a pure function, so the local gateway records
 * exactly the series the agent would put in CloudWatch, and a test can hold the metric contract
 * (`lambdas/shared/envoy-metrics.ts`) against it.
 *
 * Modelled on aws/amazon-cloudwatch-agent at commit ab55b8daa204e95c42c0267ee5aa49ec3b3a7317:
 * - `plugins/inputs/statsd/statsd.go`: DogStatsD tags (`|#k:v,k2`) are parsed in
 *   parseStatsdLine (lines 302-335): the key is everything before the first `:`, kept verbatim
 *   (dots stay), a tag without a value gets the value `<empty>` ("cloudwatch does not allow empty
 *   string"). parseName (line 461) reads `,k=v` tags from the bucket and applies the graphite
 *   template with the `metric_separator`, `_` by default (line 32, applied at line 226). The
 *   sample's type becomes a `metric_type` tag (`counter`, `gauge`, `set`, `timing`, `histogram`,
 *   lines 424-435) before the DogStatsD tags are copied over it (line 439).
 * - `plugins/inputs/statsd/graphite/parser.go`: with no templates the default template is
 *   `measurement*` (line 61): the name is split on `.` and every part joined with the separator
 *   (line 347). The field is `value`.
 * - `internal/metric/metric.go` line 146: a field named `value` adds nothing to the name.
 * - `plugins/outputs/cloudwatch/cloudwatch.go`: BuildDimensions (line 603) keeps at most 30
 *   dimensions, `host` first then sorted by name, skipping empty values; ProcessRollup (line 637)
 *   publishes the full set first, then each `aggregation_dimensions` set that is smaller than the
 *   full set and whose every key the sample has; GetUniqueRollupList (line 672) drops duplicate
 *   sets and sorts each set's keys.
 *
 * Not modelled: the agent sums counters and builds distributions of timings over its aggregation
 * interval before publishing; the local CloudWatch aggregates per query period instead, which
 * gives the same Sum and percentiles for any period that is a multiple of the interval.
 */

/** A StatsD metric type (the part after the value's `|`). */
export type StatsdType = 'c' | 'g' | 's' | 'ms' | 'h';

/** One StatsD sample as Envoy's DogStatsD sink sends it: `<name>:<value>|<type>|#<tags>`. */
export interface StatsdSample {
  /** The bucket: Envoy's tag-extracted stat name with the sink's prefix, e.g. `envoy.http.downstream_rq_xx`. */
  readonly name: string;
  readonly type: StatsdType;
  /** The DogStatsD tags, key to value; `''` for a tag sent without a value. */
  readonly tags: Readonly<Record<string, string>>;
}

/** The agent settings that shape names and dimensions (the `statsd` section and `aggregation_dimensions`). */
export interface AgentStatsdSettings {
  /** `metrics.metrics_collected.statsd.metric_separator`. @default '_' (the agent's default) */
  readonly metricSeparator?: string;
  /** `metrics.aggregation_dimensions`. @default - none: only the full dimension set is published */
  readonly aggregationDimensions?: readonly (readonly string[])[];
}

/** One series the agent publishes: a metric name and its dimensions. */
export interface PublishedSeries {
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The agent's default `metric_separator` (statsd.go line 32). */
export const AGENT_DEFAULT_METRIC_SEPARATOR = '_';
/** CloudWatch's limit on dimensions per metric, which the agent enforces (cloudwatch.go `MaxDimensions`). */
const MAX_DIMENSIONS = 30;
/** The value the agent gives a DogStatsD tag sent without one. */
const EMPTY_TAG_VALUE = '<empty>';
const METRIC_TYPE_TAG: Record<StatsdType, string> = { c: 'counter', g: 'gauge', s: 'set', ms: 'timing', h: 'histogram' };

/**
 * The series the CloudWatch agent publishes for one StatsD sample: the full dimension set first,
 * then one per applicable `aggregation_dimensions` set (see the module doc for the agent source
 * of each rule).
 *
 * @example
 * cloudWatchAgentSeries(
 *   { name: 'envoy.http.downstream_rq_xx', type: 'c',
 *     tags: { Service: 'colorapp', Color: 'green', 'envoy.http_conn_manager_prefix': 'ingress', 'envoy.response_code_class': '2' } },
 *   { metricSeparator: '_', aggregationDimensions: [['Service', 'Color', 'envoy.http_conn_manager_prefix']] },
 * );
 * // [{ metricName: 'envoy_http_downstream_rq_xx', dimensions: { Color, Service, 'envoy.http_conn_manager_prefix',
 * //    'envoy.response_code_class', metric_type: 'counter' } },
 * //  { metricName: 'envoy_http_downstream_rq_xx', dimensions: { Color, Service, 'envoy.http_conn_manager_prefix' } }]
 */
export function cloudWatchAgentSeries(sample: StatsdSample, settings: AgentStatsdSettings = {}): PublishedSeries[] {
  const separator = settings.metricSeparator || AGENT_DEFAULT_METRIC_SEPARATOR;
  const [bucketName, ...bucketTags] = sample.name.split(',');
  const tags: Record<string, string> = {};
  for (const pair of bucketTags) {
    const parts = pair.split('=');
    if (parts.length === 2 && parts[0] !== '') tags[parts[0]] = parts[1];
  }
  tags.metric_type = METRIC_TYPE_TAG[sample.type];
  for (const [key, value] of Object.entries(sample.tags)) {
    if (key !== '') tags[key] = value === '' ? EMPTY_TAG_VALUE : value;
  }
  const metricName = bucketName.split('.').join(separator);

  const full = buildDimensions(tags);
  const series: PublishedSeries[] = [{ metricName, dimensions: full }];
  const fullKeys = Object.keys(full);
  for (const set of uniqueRollupSets(settings.aggregationDimensions ?? [])) {
    if (set.length >= fullKeys.length || !set.every((key) => key in full)) continue;
    series.push({ metricName, dimensions: Object.fromEntries(set.map((key) => [key, full[key]])) });
  }
  return series;
}

/** BuildDimensions: `host` first, then by name; empty values skipped; at most 30. */
function buildDimensions(tags: Readonly<Record<string, string>>): Record<string, string> {
  const keys = Object.keys(tags)
    .filter((key) => key !== 'host' && tags[key] !== '')
    .sort();
  if (tags.host) keys.unshift('host');
  return Object.fromEntries(keys.slice(0, MAX_DIMENSIONS).map((key) => [key, tags[key]]));
}

/** GetUniqueRollupList: duplicate keys and duplicate sets dropped, each set's keys sorted. */
function uniqueRollupSets(sets: readonly (readonly string[])[]): string[][] {
  const seen = new Set<string>();
  const unique: string[][] = [];
  for (const set of sets) {
    const keys = [...new Set(set)].sort();
    const id = JSON.stringify(keys);
    if (seen.has(id)) continue;
    seen.add(id);
    unique.push(keys);
  }
  return unique;
}

/**
 * The settings {@link cloudWatchAgentSeries} needs, read from the agent's JSON configuration
 * (the document the CDK app passes in `CW_CONFIG_CONTENT`), so the local world uses the very
 * configuration the tasks run with.
 */
export function agentStatsdSettingsOf(config: {
  readonly metrics: {
    readonly metrics_collected: { readonly statsd?: { readonly metric_separator?: string } };
    readonly aggregation_dimensions?: readonly (readonly string[])[];
  };
}): AgentStatsdSettings {
  return {
    metricSeparator: config.metrics.metrics_collected.statsd?.metric_separator,
    aggregationDimensions: config.metrics.aggregation_dimensions,
  };
}
