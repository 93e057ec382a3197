/**
 * The local Application Load Balancer's data plane: what the ALB does for a request, on
 * loopback. The listener's rules, in priority order, decide (a header rule sends
 * `x-release-color: green` to green; else the weighted forward picks a target group by its
 * weights), read from the local ELBv2 on every request, so a ModifyRule or ModifyListener from
 * the router or the AWS CLI takes effect at once. The request goes to a target of the chosen
 * group that may take new requests (healthy; never a draining one), round-robin, and what
 * happened is published as the `AWS/ApplicationELB` metrics (`./alb-metrics`).
 *
 * ALB behaviour kept on purpose (ALB user guide, "Troubleshoot your Application Load Balancers"):
 * - no retries: a failed connection to a target is a 502 to the client, a target that does not
 *   answer within the idle timeout a 504, a target group with no target to send to a 503; the
 *   load balancer answers those itself (`Server: awselb/2.0`).
 * - a target's answer is passed through as it is, whatever its status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { loadBalancerDimension, targetGroupDimension } from '../../lambdas/shared/alb-metrics';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import type { MetricSink } from '../contracts';
import type { LocalElbv2 } from '../services/elbv2';
import type { Gateway, GatewayColourStats } from './gateway';
import { albHostCountSeries, albRequestSeries, ELB_GENERATED_STATUS, type AlbRequestOutcome } from './alb-metrics';
import { ColourCounters, forwardable, forwardRequest, listen, readBody, reply, Upstream } from './proxy';

/** What the load balancer answers with when it generates the response. */
const ELB_SERVER = 'awselb/2.0';
const NAMESPACE = 'AWS/ApplicationELB';

/** Options for {@link startAlbGateway}. */
export interface AlbGatewayOptions {
  /** The local ELBv2: rules, weights and targets, read on every request. */
  readonly elbv2: LocalElbv2;
  /** The listener clients reach. */
  readonly listenerArn: string;
  /** Target group of each colour, for the per-colour counters. */
  readonly targetGroups: Readonly<Record<Colour, string>>;
  /** Where the `AWS/ApplicationELB` metrics go (the local CloudWatch). */
  readonly metrics: MetricSink;
  /** Port on 127.0.0.1. @default 0 (a free port) */
  readonly port?: number;
  /** How long a target may take to answer before the load balancer answers 504 (its idle timeout). @default 60000 */
  readonly targetTimeoutMs?: number;
  /**
   * How often `HealthyHostCount`/`UnHealthyHostCount` are published. Local-only: AWS publishes
   * every 60 s. @default 1000 (0 turns them off)
   */
  readonly hostCountIntervalMs?: number;
  /** Source of randomness for the weighted pick, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Starts the local ALB's listener on 127.0.0.1.
 *
 * @throws Error when the port is taken.
 *
 * @example
 * const gateway = await startAlbGateway({ elbv2, listenerArn, targetGroups: config.traffic.targetGroups, metrics: cloudwatch });
 * // curl -H 'x-release-color: green' "$URL/"
 * await gateway.close();
 */
export async function startAlbGateway(options: AlbGatewayOptions): Promise<Gateway> {
  const { elbv2, listenerArn } = options;
  const random = options.random ?? Math.random;
  const timeoutMs = options.targetTimeoutMs ?? 60_000;
  const loadBalancer = loadBalancerDimension(listenerArn);
  const counters = Object.fromEntries(COLOURS.map((c) => [c, new ColourCounters()])) as Record<Colour, ColourCounters>;
  const colourOf = (targetGroupArn: string) => COLOURS.find((c) => options.targetGroups[c] === targetGroupArn);
  const next = new Map<string, number>();
  const toTasks = new Upstream();
  let requests = 0;
  let noRoute = 0;

  const publish = (outcome: AlbRequestOutcome, targetGroupArn?: string) => {
    const timestamp = new Date();
    const where = { loadBalancer, ...(targetGroupArn !== undefined ? { targetGroup: targetGroupDimension(targetGroupArn) } : {}) };
    for (const series of albRequestSeries(outcome, where)) {
      options.metrics.record({ namespace: NAMESPACE, metricName: series.metricName, dimensions: series.dimensions, value: series.value, timestamp });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const receivedAt = performance.now();
    requests += 1;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const decision = elbv2.route(
      listenerArn,
      { path: url.pathname, method: req.method, headers: req.headers, query: url.searchParams, sourceIp: req.socket.remoteAddress },
      random,
    );
    if (decision.kind === 'fixed-response') {
      reply(res, decision.statusCode, decision.messageBody ?? '', ELB_SERVER);
      return;
    }
    if (decision.kind === 'redirect') {
      // Redirect actions (ALB user guide, "Redirect actions"): #{protocol}, #{host}, #{port},
      // #{path} and #{query} stand for the request's own; HTTP_301 or HTTP_302.
      const r = decision.redirect;
      const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
      const port = (req.headers.host ?? '').match(/:(\d+)$/)?.[1] ?? '80';
      const fill = (value: string) =>
        value
          .replace(/#\{protocol\}/g, 'http')
          .replace(/#\{host\}/g, host)
          .replace(/#\{port\}/g, port)
          .replace(/#\{path\}/g, url.pathname.replace(/^\//, ''))
          .replace(/#\{query\}/g, url.search.replace(/^\?/, ''));
      const query = fill(r.Query ?? '#{query}');
      const location = `${fill(r.Protocol ?? '#{protocol}').toLowerCase()}://${fill(r.Host ?? '#{host}')}:${fill(r.Port ?? '#{port}')}/${fill(r.Path ?? '/#{path}').replace(/^\//, '')}${query ? `?${query}` : ''}`;
      if (!res.headersSent) res.writeHead(r.StatusCode === 'HTTP_301' ? 301 : 302, { location, server: ELB_SERVER, 'content-length': 0 }).end();
      return;
    }
    if (decision.kind !== 'forward') {
      noRoute += 1;
      publish({ kind: 'no-target' });
      reply(res, ELB_GENERATED_STATUS['no-target'], '503 Service Temporarily Unavailable', ELB_SERVER);
      return;
    }
    const colour = colourOf(decision.targetGroupArn);
    const stats = colour === undefined ? undefined : counters[colour];
    if (stats) stats.requests += 1;
    const answered = (status: number) => stats?.answered(status, performance.now() - receivedAt);

    // Read on every request: targets come, go healthy, and drain as tasks start and stop.
    const targets = elbv2.routableTargets(decision.targetGroupArn);
    if (targets.length === 0) {
      if (stats) stats.noHealthyUpstream += 1;
      publish({ kind: 'no-target' });
      reply(res, ELB_GENERATED_STATUS['no-target'], '503 Service Temporarily Unavailable', ELB_SERVER);
      answered(503);
      return;
    }
    const index = (next.get(decision.targetGroupArn) ?? 0) % targets.length;
    next.set(decision.targetGroupArn, index + 1);
    const target = targets[index];

    const body = await readBody(req);
    if (body === undefined) {
      reply(res, 413, '413 Request Entity Too Large', ELB_SERVER);
      answered(413);
      return;
    }
    const attempt = await forwardRequest({ taskId: `${target.id}:${target.port}`, host: target.id, port: target.port }, req, body, timeoutMs, toTasks);
    if (attempt.kind !== 'response') {
      const kind = attempt.kind === 'timeout' ? 'target-timeout' : 'target-connection-error';
      publish({ kind }, decision.targetGroupArn);
      const status = ELB_GENERATED_STATUS[kind];
      reply(res, status, status === 504 ? '504 Gateway Time-out' : '502 Bad Gateway', ELB_SERVER);
      answered(status);
      return;
    }
    const { upstream, serviceTimeMs } = attempt;
    const status = upstream.statusCode ?? 502;
    if (res.destroyed) {
      upstream.destroy();
      return;
    }
    res.writeHead(status, forwardable(upstream.headers, true));
    upstream.pipe(res);
    upstream.once('error', () => res.destroy());
    res.once('close', () => {
      if (!upstream.complete) upstream.destroy();
      answered(status);
      publish({ kind: 'target-response', status, responseTimeMs: serviceTimeMs }, decision.targetGroupArn);
    });
  };

  const server = await listen(options.port ?? 0, handle, toTasks, ELB_SERVER);

  // HealthyHostCount / UnHealthyHostCount of each colour's target group, every interval.
  const hostCountInterval = options.hostCountIntervalMs ?? 1000;
  const hostCounts =
    hostCountInterval > 0
      ? setInterval(() => {
          const timestamp = new Date();
          for (const colour of COLOURS) {
            const arn = options.targetGroups[colour];
            const states = elbv2.describeTargetHealth({ TargetGroupArn: arn }).TargetHealthDescriptions.map((d) => d.TargetHealth?.State);
            const counts = { healthy: states.filter((s) => s === 'healthy').length, unhealthy: states.filter((s) => s === 'unhealthy').length };
            for (const series of albHostCountSeries(counts, { loadBalancer, targetGroup: targetGroupDimension(arn) })) {
              options.metrics.record({ namespace: NAMESPACE, metricName: series.metricName, dimensions: series.dimensions, value: series.value, timestamp });
            }
          }
        }, hostCountInterval)
      : undefined;
  hostCounts?.unref();

  return {
    url: server.url,
    stats: () => ({
      requests,
      noRoute,
      byColour: Object.fromEntries(COLOURS.map((c) => [c, counters[c].snapshot()])) as Record<Colour, GatewayColourStats>,
    }),
    close: () => {
      clearInterval(hostCounts);
      return server.close();
    },
  };
}
