/**
 * What the App Mesh sample's tasks ship to CloudWatch: Envoy's stats configuration (tags that
 * become dimensions) and the CloudWatch agent's StatsD configuration. Kept apart from the stack
 * so the metric contract (`lambdas/shared/envoy-metrics.ts`) and what publishes it are read
 * side by side.
 */
import { CONTRACT_DIMENSION_SETS, ENVOY_METRICS } from '../lambdas/shared/envoy-metrics';

/** The CloudWatch agent's StatsD port in the task (Envoy's DogStatsD sink sends to it). */
export const STATSD_PORT = 8125;

/**
 * The stats configuration Envoy loads (ENVOY_STATS_CONFIG_FILE): fixed `Service` and `Color`
 * tags from the container's environment, plus the three tags App Mesh's own configuration
 * extracts (a custom file replaces them, and without them listener names would stay inside the
 * metric names). Envoy's default tags stay on (`use_all_default_tags`, also Envoy's default):
 * the response class and the HTTP connection manager of the metric contract are among them.
 * The DogStatsD sink turns tags into dimensions at the CloudWatch agent.
 */
export function envoyStatsConfigScript(file: string): string {
  const lines = [
    'stats_config:',
    '  stats_tags:',
    `  - tag_name: ${ENVOY_METRICS.serviceDimension}`,
    '    fixed_value: "$SERVICE"',
    `  - tag_name: ${ENVOY_METRICS.colourDimension}`,
    '    fixed_value: "$COLOR"',
    '  - tag_name: appmesh.listener_protocol',
    "    regex: '.*?\\.ingress\\.((\\w+?)\\.)[0-9]+?\\.(.+?)\\$'",
    '  - tag_name: appmesh.listener_port',
    "    regex: '.*?\\.ingress\\.\\w+?\\.(([0-9]+?)\\.)(.+?)\\$'",
    '  - tag_name: envoy_rds_route_config',
    "    regex: '.*?\\.ingress\\.\\w+?\\.[0-9]+?\\.rds\\.((.*?)\\.)(.+?)\\$'",
    '  use_all_default_tags: true',
  ];
  return ['set -eu', `cat > ${file} <<EOF`, ...lines, 'EOF', `cat ${file}`].join('\n');
}

/** The parts of the CloudWatch agent's JSON configuration this app writes. */
export interface CloudWatchAgentConfig {
  readonly agent: { readonly omit_hostname: boolean };
  readonly metrics: {
    readonly namespace: string;
    readonly metrics_collected: {
      readonly statsd: {
        readonly service_address: string;
        readonly metrics_collection_interval: number;
        readonly metrics_aggregation_interval: number;
        readonly metric_separator: string;
      };
    };
    readonly aggregation_dimensions: string[][];
  };
}

/**
 * CloudWatch agent configuration: a StatsD listener for Envoy, published every 10 seconds (high
 * resolution). `metric_separator` is set explicitly (it is a setting of the agent's `statsd`
 * section, `translator/config/schema.json` in aws/amazon-cloudwatch-agent): the agent joins the
 * dot-separated parts of Envoy's stat names with it, and the metric contract's names
 * (`envoy_http_downstream_rq_xx`) must not rest on the agent's default. DogStatsD tag parsing
 * needs no setting: the agent always turns it on, and its schema refuses the key. Envoy's
 * DogStatsD tags become dimensions, names unchanged; the aggregations publish exactly the
 * dimension sets of the metric contract, which keep the HTTP connection manager so the ingress
 * listener's requests can be read apart from the admin listener's. Sets without it are not
 * published: they would mix Envoy's health-check polls into the colour's numbers.
 */
export function cloudWatchAgentConfig(namespace: string): CloudWatchAgentConfig {
  return {
    agent: { omit_hostname: true },
    metrics: {
      namespace,
      metrics_collected: {
        statsd: {
          service_address: `:${STATSD_PORT}`,
          metrics_collection_interval: 10,
          metrics_aggregation_interval: 10,
          metric_separator: ENVOY_METRICS.statsdMetricSeparator,
        },
      },
      aggregation_dimensions: CONTRACT_DIMENSION_SETS.map((set) => [...set]),
    },
  };
}

