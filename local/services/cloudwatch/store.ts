/**
 * Metric storage at 1-second resolution and CloudWatch's statistics over it. Raw values are
 * kept (not pre-aggregated), so percentiles are exact over each period's samples.
 */

import type { MetricSample } from '../../contracts';

/** One metric: namespace, name and its full set of dimensions (CloudWatch matches all of them). */
export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The samples of one period. */
export interface PeriodValues {
  /** Start of the period, epoch milliseconds (a multiple of the period). */
  readonly start: number;
  readonly values: number[];
}

interface Series {
  readonly identity: MetricIdentity;
  /** Epoch second → the values recorded in it. */
  readonly seconds: Map<number, number[]>;
}

/** Samples by metric and second. */
export class MetricStore {
  private readonly series = new Map<string, Series>();

  /** Adds one sample to its metric's second. Non-finite values are dropped, as PutMetricData rejects them. */
  record(sample: MetricSample): void {
    if (!Number.isFinite(sample.value)) return;
    const key = metricKey(sample);
    let series = this.series.get(key);
    if (!series) {
      series = {
        identity: { namespace: sample.namespace, metricName: sample.metricName, dimensions: { ...sample.dimensions } },
        seconds: new Map(),
      };
      this.series.set(key, series);
    }
    const second = Math.floor(sample.timestamp.getTime() / 1000);
    const values = series.seconds.get(second);
    if (values) values.push(sample.value);
    else series.seconds.set(second, [sample.value]);
  }

  /**
   * The samples of `metric` grouped by period, for periods that start in `[startMs, endMs)` after
   * aligning `startMs` down to the period; periods without samples are left out.
   */
  periods(metric: MetricIdentity, startMs: number, endMs: number, periodSeconds: number): PeriodValues[] {
    const series = this.series.get(metricKey(metric));
    if (!series) return [];
    const periodMs = periodSeconds * 1000;
    const first = Math.floor(startMs / periodMs) * periodMs;
    const byPeriod = new Map<number, number[]>();
    for (const [second, values] of series.seconds) {
      const start = Math.floor((second * 1000) / periodMs) * periodMs;
      if (start < first || start >= endMs) continue;
      const bucket = byPeriod.get(start);
      if (bucket) bucket.push(...values);
      else byPeriod.set(start, [...values]);
    }
    return [...byPeriod.entries()].sort(([a], [b]) => a - b).map(([start, values]) => ({ start, values }));
  }

  /** Every metric that has samples. */
  metrics(): MetricIdentity[] {
    return [...this.series.values()].map((s) => s.identity);
  }

  /** Drops every second before `beforeMs`. */
  prune(beforeMs: number): void {
    const limit = Math.floor(beforeMs / 1000);
    for (const [key, series] of this.series) {
      for (const second of series.seconds.keys()) if (second < limit) series.seconds.delete(second);
      if (series.seconds.size === 0) this.series.delete(key);
    }
  }
}

/** A statistic over one period's values. */
export type Statistic = (values: readonly number[]) => number;

/**
 * The function for a CloudWatch statistic name: `Sum`, `SampleCount`, `Average`, `Minimum`,
 * `Maximum`, or a percentile `pNN` / `pNN.NN` (nearest rank over the raw samples).
 *
 * @returns `undefined` for a statistic the local CloudWatch does not compute (e.g. `TM99`, `IQM`).
 */
export function statisticFor(stat: string): Statistic | undefined {
  switch (stat) {
    case 'Sum':
      return (values) => values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return (values) => values.length;
    case 'Average':
      return (values) => values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return (values) => values.reduce((a, b) => Math.min(a, b));
    case 'Maximum':
      return (values) => values.reduce((a, b) => Math.max(a, b));
    default: {
      const match = /^p(\d{1,2}(?:\.\d{1,2})?|100)$/.exec(stat);
      if (!match) return undefined;
      const percentile = Number(match[1]);
      return (values) => percentileOf(values, percentile);
    }
  }
}

/** Nearest-rank percentile (0..100) of `values`; NaN for none. */
export function percentileOf(values: readonly number[], percentile: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((percentile / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function metricKey(metric: MetricIdentity): string {
  const dimensions = Object.entries(metric.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([metric.namespace, metric.metricName, dimensions]);
}
