/**
 * The metric contract of the `application` health source: high-resolution metrics a service
 * publishes itself in CloudWatch embedded metric format (EMF), one log line per colour per
 * second, which the health check reads and the local world extracts from the tasks' stdout.
 * One module, so the publisher (colorapp), the reader and the local world cannot drift apart;
 * colorapp is built on its own (its image context is `colorapp/`) and repeats these names, which
 * a test holds against this module.
 *
 * The EMF document (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * `{"_aws":{"Timestamp":<ms>,"CloudWatchMetrics":[{"Namespace":"<health.metricNamespace>",
 * "Dimensions":[["Service","Color"]],"Metrics":[{"Name":"Requests","Unit":"Count","StorageResolution":1}, ...]}]},
 * "Service":"colorapp","Color":"green","Requests":120,"ServerErrors":1,"Latency":[12.5, ...]}`.
 * `StorageResolution: 1` makes each a high-resolution metric, so the health check and the alarms
 * can use periods of 1, 5, 10 or 30 seconds, where the load balancer's own metrics are 60 s.
 *
 * What this source cannot see: requests that never reached the application (a refused
 * connection, a load balancer or proxy timeout). Keep the backend's per-colour alarms for those.
 */
import type { Colour } from './colours';

/** Names of the application metrics. */
export const APP_METRICS = {
  /**
   * The namespace colorapp publishes in by default (`METRICS_NAMESPACE`); a service using the
   * `application` source sets `health.metricNamespace` to the namespace it publishes in.
   */
  defaultNamespace: 'ECSRelease/App',
  /** Requests answered in the second (Count; read as Sum). */
  requests: 'Requests',
  /** Of those, answered with a status of 500 or more (Count; read as Sum). */
  serverErrors: 'ServerErrors',
  /** Time to answer each request, in milliseconds (up to 100 values per line; read as p99). */
  latency: 'Latency',
  serviceDimension: 'Service',
  colourDimension: 'Color',
  /** EMF `StorageResolution`: 1 is high resolution (1-second granularity). */
  storageResolution: 1,
} as const;

/** Units of each metric, as EMF `Unit` (CloudWatch's StandardUnit names). */
export const APP_METRIC_UNITS = {
  [APP_METRICS.requests]: 'Count',
  [APP_METRICS.serverErrors]: 'Count',
  [APP_METRICS.latency]: 'Milliseconds',
} as const;

/** The one EMF dimension set every metric is published with. */
export const APP_DIMENSION_SET: readonly string[] = [APP_METRICS.serviceDimension, APP_METRICS.colourDimension];

/**
 * The dimensions of one colour of one service, as a name-to-value map (CDK's `dimensionsMap`,
 * the local environment's samples).
 *
 * @example
 * new cloudwatch.Metric({ namespace, metricName: APP_METRICS.latency,
 *   dimensionsMap: appColourDimensionsMap('colorapp', 'green'), statistic: 'p99', period: Duration.seconds(10) });
 */
export function appColourDimensionsMap(service: string, colour: Colour): Record<string, string> {
  return { [APP_METRICS.serviceDimension]: service, [APP_METRICS.colourDimension]: colour };
}
