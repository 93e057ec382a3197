import type { Template } from 'aws-cdk-lib/assertions';
import { flattenIntrinsics } from './synth';

/**
 * Reads a synthesized CloudWatch dashboard the way CloudWatch does: its `DashboardBody` JSON, each
 * graph's metric lines (`[namespace, name, dim, value, ..., { options }]` or `[{ expression }]`),
 * and the metrics an alarm watches, in one normal form, so a test can hold the dashboard's graphs
 * against the alarms they are meant to show.
 */

/** One metric a graph or an alarm reads: namespace, name, dimensions (sorted), statistic, period. */
export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: string;
  readonly period: number;
  /** The id metric math refers to it by (graphs and alarm math only). */
  readonly id?: string;
}

/** One dashboard widget, as the body spells it. */
export interface Widget {
  readonly type: 'metric' | 'text' | 'alarm' | 'log';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly properties: Record<string, any>;
}

/** The body of the one dashboard named `name` in `template`, intrinsics flattened. */
export function dashboardBody(template: Template, name: string): { widgets: Widget[] } {
  const found = Object.values(template.findResources('AWS::CloudWatch::Dashboard')).filter(
    (r) => (r as { Properties: { DashboardName: string } }).Properties.DashboardName === name,
  );
  if (found.length !== 1) throw new Error(`expected one dashboard named ${name}, found ${found.length}`);
  return JSON.parse(String(flattenIntrinsics((found[0] as { Properties: { DashboardBody: unknown } }).Properties.DashboardBody)));
}

/** The graph widget titled `title`. */
export function graph(body: { widgets: Widget[] }, title: string): Widget {
  const widget = body.widgets.find((w) => w.type === 'metric' && w.properties.title === title);
  if (!widget) throw new Error(`no graph titled '${title}' (graphs: ${body.widgets.filter((w) => w.type === 'metric').map((w) => w.properties.title).join(', ')})`);
  return widget;
}

/** A graph's metric lines (not its expressions). */
export function graphMetrics(widget: Widget): MetricRef[] {
  return (widget.properties.metrics as unknown[][])
    .filter((line) => typeof line[0] === 'string')
    .map((line) => {
      const options = (typeof line[line.length - 1] === 'object' ? line[line.length - 1] : {}) as { id?: string; stat?: string; period?: number };
      const parts = line.filter((part) => typeof part === 'string') as string[];
      const [namespace, metricName, ...dims] = parts;
      const dimensions: Record<string, string> = {};
      for (let i = 0; i < dims.length; i += 2) dimensions[dims[i]] = dims[i + 1];
      return {
        namespace,
        metricName,
        dimensions: sorted(dimensions),
        stat: options.stat ?? widget.properties.stat ?? 'Average',
        period: options.period ?? widget.properties.period,
        ...(options.id ? { id: options.id } : {}),
      };
    });
}

/** A graph's metric math expressions with their labels. */
export function graphExpressions(widget: Widget): Array<{ expression: string; label?: string }> {
  return (widget.properties.metrics as unknown[][])
    .filter((line) => line.length === 1 && typeof line[0] === 'object' && 'expression' in (line[0] as object))
    .map((line) => line[0] as { expression: string; label?: string });
}

/** What a CloudWatch alarm resource watches: its single metric, or each metric of its math. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function alarmMetrics(alarm: { Properties: Record<string, any> }): MetricRef[] {
  const p = flattenIntrinsics(alarm.Properties) as Record<string, never>;
  const dims = (list: Array<{ Name: string; Value: string }> = []) => sorted(Object.fromEntries(list.map((d) => [d.Name, d.Value])));
  if (p.MetricName) {
    return [{ namespace: p.Namespace, metricName: p.MetricName, dimensions: dims(p.Dimensions), stat: p.ExtendedStatistic ?? p.Statistic, period: p.Period }];
  }
  return (p.Metrics as Array<{ Id: string; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: [] }; Period: number; Stat: string } }>)
    .filter((m) => m.MetricStat)
    .map(({ Id, MetricStat }) => ({
      namespace: MetricStat!.Metric.Namespace,
      metricName: MetricStat!.Metric.MetricName,
      dimensions: dims(MetricStat!.Metric.Dimensions),
      stat: MetricStat!.Stat,
      period: MetricStat!.Period,
      id: Id,
    }));
}

/** A metric without its id, for comparing what is read regardless of what it is called. */
export function withoutId({ id: _id, ...rest }: MetricRef): Omit<MetricRef, 'id'> {
  return rest;
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
