/**
 * colorapp's own request metrics in CloudWatch embedded metric format (EMF): per second, one JSON
 * line on stdout with how many requests it answered, how many with a 5xx, and each request's
 * latency, by `Service` and `Color`, at 1-second storage resolution. CloudWatch extracts them
 * from the log line (FireLens with `log_format json/emf`, or the CloudWatch agent, on ECS), which
 * gives the release's `application` health source judgements at 1 to 10-second periods instead
 * of the load balancer's 60.
 *
 * The names are the release pipeline's contract (`lambdas/shared/app-metrics.ts`); colorapp is
 * built on its own, so it repeats them, and a test holds the two together. Format:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

/** Names and units of the metrics, as `lambdas/shared/app-metrics.ts` defines them. */
export const EMF_METRICS = {
  requests: { name: 'Requests', unit: 'Count' },
  serverErrors: { name: 'ServerErrors', unit: 'Count' },
  latency: { name: 'Latency', unit: 'Milliseconds' },
} as const;
/** The dimension keys: the service and the colour this instance answers. */
export const EMF_DIMENSIONS = { service: 'Service', color: 'Color' } as const;
/** An EMF metric target holds at most 100 values; more latencies go in further lines. */
const MAX_VALUES_PER_METRIC = 100;

/** Who publishes: the namespace and the two dimension values. */
export interface MetricsIdentity {
  readonly namespace: string;
  readonly service: string;
  readonly color: string;
}

/** One second of answered requests. */
export interface SecondOfRequests {
  /** Start of the second, in epoch milliseconds. */
  readonly second: number;
  readonly requests: number;
  readonly serverErrors: number;
  readonly latenciesMs: readonly number[];
}

/**
 * The EMF lines for one second: the first carries the counts and up to 100 latencies, each
 * further line up to 100 more latencies (the specification's limit per metric).
 *
 * @example
 * emfLines({ namespace: 'ECSRelease/App', service: 'colorapp', color: 'green' },
 *   { second: 1700000000000, requests: 2, serverErrors: 0, latenciesMs: [3.2, 4.1] });
 */
export function emfLines(identity: MetricsIdentity, second: SecondOfRequests): string[] {
  const lines: string[] = [];
  const latencies = second.latenciesMs.map((ms) => Math.round(ms * 1000) / 1000);
  for (let i = 0; i === 0 || i < latencies.length; i += MAX_VALUES_PER_METRIC) {
    const chunk = latencies.slice(i, i + MAX_VALUES_PER_METRIC);
    const counts = i === 0;
    const metrics = [
      ...(counts ? [EMF_METRICS.requests, EMF_METRICS.serverErrors] : []),
      ...(chunk.length > 0 ? [EMF_METRICS.latency] : []),
    ];
    const document: Record<string, unknown> = {
      _aws: {
        Timestamp: second.second,
        CloudWatchMetrics: [
          {
            Namespace: identity.namespace,
            Dimensions: [[EMF_DIMENSIONS.service, EMF_DIMENSIONS.color]],
            Metrics: metrics.map(({ name, unit }) => ({ Name: name, Unit: unit, StorageResolution: 1 })),
          },
        ],
      },
      [EMF_DIMENSIONS.service]: identity.service,
      [EMF_DIMENSIONS.color]: identity.color,
    };
    if (counts) {
      document[EMF_METRICS.requests.name] = second.requests;
      document[EMF_METRICS.serverErrors.name] = second.serverErrors;
    }
    if (chunk.length > 0) document[EMF_METRICS.latency.name] = chunk;
    lines.push(JSON.stringify(document));
  }
  return lines;
}

/**
 * Counts answered requests per second and writes each finished second as EMF lines. A second
 * with no request writes nothing: no data is zero requests to the reader, never a healthy zero.
 *
 * @example
 * const metrics = new RequestMetrics(identity, (line) => process.stdout.write(`${line}\n`));
 * metrics.record(200, 3.5);
 * setInterval(() => metrics.flush(Date.now()), 1000).unref();
 */
export class RequestMetrics {
  private readonly seconds = new Map<number, { requests: number; serverErrors: number; latenciesMs: number[] }>();

  constructor(
    private readonly identity: MetricsIdentity,
    private readonly write: (line: string) => void,
  ) {}

  /** Counts one answered request in the second of `at` (epoch ms). */
  record(status: number, latencyMs: number, at: number = Date.now()): void {
    const second = Math.floor(at / 1000) * 1000;
    let bucket = this.seconds.get(second);
    if (!bucket) {
      bucket = { requests: 0, serverErrors: 0, latenciesMs: [] };
      this.seconds.set(second, bucket);
    }
    bucket.requests += 1;
    if (status >= 500) bucket.serverErrors += 1;
    bucket.latenciesMs.push(latencyMs);
  }

  /**
   * Writes every second that ended by `now` (epoch ms), oldest first; without `now`, every second
   * (at shutdown, so the last requests are not lost).
   */
  flush(now: number = Number.POSITIVE_INFINITY): void {
    const current = Math.floor(now / 1000) * 1000;
    for (const second of [...this.seconds.keys()].sort((a, b) => a - b)) {
      if (second >= current) break;
      const bucket = this.seconds.get(second);
      this.seconds.delete(second);
      if (!bucket) continue;
      for (const line of emfLines(this.identity, { second, ...bucket })) this.write(line);
    }
  }
}
