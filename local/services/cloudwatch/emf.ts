/**
 * CloudWatch embedded metric format (EMF): what CloudWatch Logs extracts as metrics from a JSON
 * log line, as a pure parser and validator, plus the hook that feeds a task's stdout to the local
 * CloudWatch (what FireLens with `log_format json/emf`, or the CloudWatch agent, does for an ECS
 * task in AWS).
 *
 * The rules are the specification's, "Specification: Embedded metric format"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
 * with its JSON schema:
 * - the log event is one JSON object with nothing before or after it; a document is EMF when its
 *   root has an `_aws` member;
 * - `_aws` is an object with `Timestamp` (an integer: milliseconds since the epoch) and
 *   `CloudWatchMetrics`, an array of MetricDirectives;
 * - a MetricDirective has `Namespace` (a string of 1 to 255 characters), `Dimensions` (an array
 *   of at least one DimensionSet) and `Metrics` (at most 100 MetricDefinitions);
 * - a DimensionSet is an array of at most 30 dimension keys (the specification's current limit;
 *   `MAX_DIMENSION_SET_SIZE = 30` in awslabs/aws-embedded-metrics-node `src/Constants.ts`), each a
 *   root member whose value MUST be a string; it MAY be empty; every DimensionSet makes its own
 *   metric;
 * - a MetricDefinition has `Name` (1 to 255 characters), naming a root member that MUST be a
 *   number or an array of at most 100 numbers, an optional `Unit` from CloudWatch's units, and an
 *   optional `StorageResolution`, 1 (high resolution) or 60 (the default);
 * - members the specification does not know are ignored.
 * A document that breaks a rule yields no metric at all (CloudWatch Logs keeps the event as a log
 * and counts an EMF validation error); the local world reports the problems instead of guessing.
 */

import type { MetricSample, MetricSink } from '../../contracts';

/** CloudWatch's units (the specification's `Unit` pattern, from MetricDatum). */
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);
const MAX_NAME_LENGTH = 255;
const MAX_DIMENSION_SET_SIZE = 30;
const MAX_METRICS_PER_DIRECTIVE = 100;
const MAX_VALUES_PER_METRIC = 100;

/** One metric an EMF document defines: a name, one dimension set's values, and its values. */
export interface EmfMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  /** @default 'None' */
  readonly unit: string;
  /** 1 (high resolution) or 60. */
  readonly storageResolution: 1 | 60;
  readonly timestamp: Date;
}

/** What one log line is to CloudWatch Logs' EMF extraction. */
export type EmfParse =
  /** Not JSON, or JSON without `_aws`: an ordinary log line. */
  | { readonly kind: 'log' }
  /** An EMF document that breaks the specification: no metric is extracted. */
  | { readonly kind: 'invalid'; readonly problems: readonly string[] }
  | { readonly kind: 'metrics'; readonly metrics: readonly EmfMetric[] };

/**
 * Reads one log line as CloudWatch Logs' EMF extraction would.
 *
 * @example
 * parseEmfLine('{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"App",' +
 *   '"Dimensions":[["Color"]],"Metrics":[{"Name":"Requests","Unit":"Count","StorageResolution":1}]}]},' +
 *   '"Color":"green","Requests":3}');
 * // { kind: 'metrics', metrics: [{ namespace: 'App', metricName: 'Requests', dimensions: { Color: 'green' },
 * //   values: [3], unit: 'Count', storageResolution: 1, timestamp: 2023-11-14T22:13:20.000Z }] }
 */
export function parseEmfLine(line: string): EmfParse {
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch {
    return { kind: 'log' };
  }
  if (!isObject(root) || !('_aws' in root)) return { kind: 'log' };

  const problems: string[] = [];
  const metrics: EmfMetric[] = [];
  const aws = root._aws;
  if (!isObject(aws)) return { kind: 'invalid', problems: ['_aws must be an object'] };
  const timestamp = aws.Timestamp;
  if (typeof timestamp !== 'number' || !Number.isInteger(timestamp) || timestamp < 0) {
    problems.push('_aws.Timestamp must be an integer number of milliseconds since the epoch');
  }
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives)) {
    problems.push('_aws.CloudWatchMetrics must be an array of MetricDirectives');
    return { kind: 'invalid', problems };
  }

  directives.forEach((directive: unknown, d) => {
    const at = `_aws.CloudWatchMetrics[${d}]`;
    if (!isObject(directive)) {
      problems.push(`${at} must be an object`);
      return;
    }
    const namespace = directive.Namespace;
    if (typeof namespace !== 'string' || namespace.length < 1 || namespace.length > MAX_NAME_LENGTH) {
      problems.push(`${at}.Namespace must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
    }
    const dimensionSets = readDimensionSets(root, directive.Dimensions, `${at}.Dimensions`, problems);
    const definitions = readMetricDefinitions(root, directive.Metrics, `${at}.Metrics`, problems);
    if (typeof namespace !== 'string' || typeof timestamp !== 'number') return;
    for (const dimensions of dimensionSets) {
      for (const definition of definitions) {
        metrics.push({ namespace, dimensions, ...definition, timestamp: new Date(timestamp) });
      }
    }
  });

  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'metrics', metrics };
}

/** The samples an EMF metric becomes in the local CloudWatch: one per value. */
export function emfSamples(metrics: readonly EmfMetric[]): MetricSample[] {
  return metrics.flatMap((metric) =>
    metric.values.map((value) => ({
      namespace: metric.namespace,
      metricName: metric.metricName,
      dimensions: { ...metric.dimensions },
      value,
      timestamp: metric.timestamp,
    })),
  );
}

/** One line a task wrote (the shape of `LocalEcsOptions.onTaskOutput`'s argument). */
export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/**
 * A task-output handler that extracts the EMF documents a task writes to stdout into `metrics`
 * (the local CloudWatch), for `LocalEcsOptions.onTaskOutput`. Other lines are ignored; an EMF
 * document that breaks the specification extracts nothing and is passed to `onInvalid`.
 *
 * @example
 * const ecs = new LocalEcs({ ..., onTaskOutput: emfTaskOutputHandler(cloudwatch) });
 */
export function emfTaskOutputHandler<T extends OutputLine>(
  metrics: MetricSink,
  onInvalid?: (output: T, problems: readonly string[]) => void,
): (output: T) => void {
  return (output) => {
    if (output.stream !== 'stdout') return;
    const parsed = parseEmfLine(output.line);
    if (parsed.kind === 'invalid') onInvalid?.(output, parsed.problems);
    if (parsed.kind !== 'metrics') return;
    for (const sample of emfSamples(parsed.metrics)) metrics.record(sample);
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readDimensionSets(
  root: Record<string, unknown>,
  value: unknown,
  at: string,
  problems: string[],
): Record<string, string>[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${at} must be an array of at least one DimensionSet`);
    return [];
  }
  const sets: Record<string, string>[] = [];
  value.forEach((set: unknown, i) => {
    if (!Array.isArray(set) || set.some((key) => typeof key !== 'string' || key.length === 0 || key.length > MAX_NAME_LENGTH)) {
      problems.push(`${at}[${i}] must be an array of dimension keys`);
      return;
    }
    if (set.length > MAX_DIMENSION_SET_SIZE) {
      problems.push(`${at}[${i}] has ${set.length} dimension keys, more than ${MAX_DIMENSION_SET_SIZE}`);
      return;
    }
    const dimensions: Record<string, string> = {};
    for (const key of set as string[]) {
      const target = root[key];
      if (typeof target !== 'string') {
        problems.push(`dimension ${key} (${at}[${i}]) must be a string member of the root`);
        return;
      }
      dimensions[key] = target;
    }
    sets.push(dimensions);
  });
  return sets;
}

function readMetricDefinitions(
  root: Record<string, unknown>,
  value: unknown,
  at: string,
  problems: string[],
): Pick<EmfMetric, 'metricName' | 'values' | 'unit' | 'storageResolution'>[] {
  if (!Array.isArray(value)) {
    problems.push(`${at} must be an array of MetricDefinitions`);
    return [];
  }
  if (value.length > MAX_METRICS_PER_DIRECTIVE) {
    problems.push(`${at} has ${value.length} MetricDefinitions, more than ${MAX_METRICS_PER_DIRECTIVE}`);
    return [];
  }
  const definitions: Pick<EmfMetric, 'metricName' | 'values' | 'unit' | 'storageResolution'>[] = [];
  value.forEach((definition: unknown, i) => {
    const where = `${at}[${i}]`;
    if (!isObject(definition)) {
      problems.push(`${where} must be an object`);
      return;
    }
    const name = definition.Name;
    if (typeof name !== 'string' || name.length < 1 || name.length > MAX_NAME_LENGTH) {
      problems.push(`${where}.Name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
      return;
    }
    const unit = definition.Unit ?? 'None';
    if (typeof unit !== 'string' || !UNITS.has(unit)) problems.push(`${where}.Unit ${JSON.stringify(unit)} is not a CloudWatch unit`);
    const resolution = definition.StorageResolution ?? 60;
    if (resolution !== 1 && resolution !== 60) problems.push(`${where}.StorageResolution must be 1 or 60, got ${JSON.stringify(resolution)}`);
    const target = root[name];
    const values = typeof target === 'number' ? [target] : Array.isArray(target) ? (target as unknown[]) : undefined;
    if (values === undefined || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      problems.push(`metric ${name} (${where}) must be a number or an array of numbers on the root`);
      return;
    }
    if (values.length > MAX_VALUES_PER_METRIC) {
      problems.push(`metric ${name} (${where}) has ${values.length} values, more than ${MAX_VALUES_PER_METRIC}`);
      return;
    }
    definitions.push({ metricName: name, values: values as number[], unit: unit as string, storageResolution: resolution as 1 | 60 });
  });
  return definitions;
}
