import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { Colour } from '../colours';
import type { MetricSource } from '../config';

/** What a health metric source measured for one colour over one window. */
export interface TrafficMeasure {
  /** Requests the colour was sent (the success rate's denominator). */
  readonly requests: number;
  /** Of those, the ones that failed as a server error (the success rate's numerator). */
  readonly errors5xx: number;
  /** The worst period's p99 latency in milliseconds, `null` without latency data. */
  readonly p99LatencyMs: number | null;
  /** The worst period's p50 latency in milliseconds, when it was queried (`{ p50: true }`). */
  readonly p50LatencyMs?: number | null;
}

/** What else to query besides requests, errors and p99. */
export interface QueryOptions {
  /** Also the median latency (relative judgement compares it with the live colour's). */
  readonly p50?: boolean;
}

/** Which traffic to query: one colour of one service. */
export interface SourceTarget {
  readonly service: string;
  readonly colour: Colour;
}

/**
 * Where a colour's request counts, errors and latency come from: the GetMetricData queries, and
 * how their datapoints become a {@link TrafficMeasure}. `CloudWatchHealthCheck` runs the queries
 * over the window, reads the alarms, and judges with the one set of verdict rules
 * (`verdict.ts`), whatever the source.
 *
 * Missing datapoints are zero, never a pass: CloudWatch (and Elastic Load Balancing, which
 * publishes only while requests flow) reports nothing when nothing happened, so no data is
 * zero requests and the verdict inconclusive.
 *
 * @example
 * const source = new LoadBalancerMetricSource(config.traffic);
 * const queries = source.queries({ service: 'colorapp', colour: 'green' }, 60);
 * // ... GetMetricData, datapoints by query Id ...
 * const measure = source.measure(valuesById); // { requests, errors5xx, p99LatencyMs }
 */
export interface HealthMetricSource {
  /** The configured source this is (`health.metricSource`). */
  readonly kind: MetricSource;
  /**
   * The queries for one colour at `periodSeconds`; Ids are unique and start with a lower-case
   * letter. The p50 query, when asked for, is the p99 query's metric with the `p50` statistic.
   */
  queries(target: SourceTarget, periodSeconds: number, options?: QueryOptions): MetricDataQuery[];
  /** The measure from every datapoint returned per query Id (an Id with no datapoints may be absent). */
  measure(values: ReadonlyMap<string, readonly number[]>): TrafficMeasure;
}

/** The sum of a query's datapoints; none is 0. */
export function sumOf(values: ReadonlyMap<string, readonly number[]>, id: string): number {
  return (values.get(id) ?? []).reduce((a, b) => a + b, 0);
}

/**
 * The largest of a query's datapoints, `null` for none. reduce() because a day-long bake at a
 * 1 s period has more datapoints than Math.max(...spread) accepts as arguments.
 */
export function maxOf(values: ReadonlyMap<string, readonly number[]>, id: string): number | null {
  const list = values.get(id) ?? [];
  return list.length > 0 ? list.reduce((a, b) => Math.max(a, b)) : null;
}
