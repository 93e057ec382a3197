/**
 * The local gateway: what the App Mesh virtual gateway and the colours' Envoy sidecars do for a
 * request, on loopback. Each request goes to the colour a header-match route names, else to a
 * colour picked by the weighted route's current weights (read on every request: routes change
 * mid-release); then to a healthy task of that colour, round-robin. Every answer a colour gives
 * is recorded as the Envoy statistics the CloudWatch agent ships in AWS (names and dimensions
 * from `lambdas/shared/envoy-metrics.ts`), so the alarms and the health check judge the same
 * numbers they would in AWS.
 *
 * Envoy behaviour kept on purpose:
 * - App Mesh's default route retry policy (max 2 retries on connect-failure and on 503), so a
 *   task stopping between being picked and being connected to does not fail a request.
 * - `503 no healthy upstream` when a colour has no healthy task. No colour's sidecar saw that
 *   request, so, as in AWS, it is not in the colour's metrics; it is in {@link GatewayStats}.
 * - `503` when a task cannot be reached after the retries and `504` after the upstream timeout:
 *   in AWS the task's own sidecar answers those, so they count against the colour.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { COLOURS, type Colour } from '../../lambdas/shared/colours';
import { colourDimensionsMap, ENVOY_METRICS, ENVOY_STATSD_NAMES } from '../../lambdas/shared/envoy-metrics';
import { cloudWatchAgentConfig } from '../../infra/envoy-telemetry';
import { agentStatsdSettingsOf, cloudWatchAgentSeries, type StatsdSample } from './cloudwatch-agent';
import type { MetricSink, RouteWeights, TaskEndpoint, TaskEndpoints } from '../contracts';
import { ColourCounters, forwardable, forwardRequest, listen, readBody, reply, Upstream, type Attempt } from './proxy';

/** Options for {@link startGateway}. */
export interface GatewayOptions {
  /** The App Mesh route weights, read on every request. */
  readonly routes: RouteWeights;
  /** The healthy tasks of each colour's ECS service. */
  readonly tasks: TaskEndpoints;
  /** The weighted route. */
  readonly mesh: { readonly meshName: string; readonly virtualRouterName: string; readonly routeName: string };
  /** Virtual node of each colour: the route's weighted targets. */
  readonly nodes: Readonly<Record<Colour, string>>;
  /** ECS service of each colour. */
  readonly services: Readonly<Record<Colour, string>>;
  /** The `Service` dimension of the statistics (e.g. `colorapp`). */
  readonly serviceName: string;
  /** Where the statistics go (the local CloudWatch). */
  readonly metrics: MetricSink;
  /** CloudWatch namespace of the statistics (`health.metricNamespace`). */
  readonly namespace: string;
  /**
   * The header-match routes: a request whose `header` is exactly a colour's name goes to that
   * colour, whatever the weights (the CDK app's `x-release-color` routes).
   * @default - no header routes
   */
  readonly headerMatch?: { readonly header: string };
  /** Port on 127.0.0.1. @default 0 (a free port) */
  readonly port?: number;
  /** Per-attempt upstream timeout (App Mesh's default route timeout). @default 15000 */
  readonly upstreamTimeoutMs?: number;
  /** Source of randomness for the weighted pick, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** Counters of one colour. */
export interface GatewayColourStats {
  /** Requests routed to this colour, answered or not. */
  readonly requests: number;
  /** Responses by class, as the client saw them (`5xx` includes `noHealthyUpstream`). */
  readonly responses: { readonly '2xx': number; readonly '3xx': number; readonly '4xx': number; readonly '5xx': number };
  /** 503s because the colour had no healthy task (not in the colour's metrics, see the module doc). */
  readonly noHealthyUpstream: number;
  /** `1 - 5xx / requests`; `null` before the first request. */
  readonly successRate: number | null;
  /** Latency of the requests answered, over the last 1000 for the p99. */
  readonly latencyMs: { readonly count: number; readonly mean: number | null; readonly max: number | null; readonly p99: number | null };
  /** When the first and the latest 5xx was sent (epoch ms), for rollback timing. */
  readonly firstFailureAt: number | null;
  readonly lastFailureAt: number | null;
}

/** What the gateway has done since it started. */
export interface GatewayStats {
  readonly requests: number;
  /** Requests the route sent nowhere (no weights, or a target that is not a colour): 503. */
  readonly noRoute: number;
  readonly byColour: Readonly<Record<Colour, GatewayColourStats>>;
}

/** A running gateway. */
export interface Gateway {
  /** e.g. `http://127.0.0.1:49153`. */
  readonly url: string;
  /** A snapshot of the counters. */
  stats(): GatewayStats;
  /** Stops accepting, cuts open connections and in-flight upstream requests. Idempotent. */
  close(): Promise<void>;
}

/** App Mesh's default retry policy: 2 retries. */
const MAX_RETRIES = 2;
export { CLIENT_IDLE_TIMEOUT_MS } from './proxy';

/**
 * Starts the gateway on 127.0.0.1.
 *
 * @throws Error when the port is taken.
 *
 * @example
 * const gateway = await startGateway({
 *   routes: appMesh, tasks: ecs, metrics: cloudwatch, namespace: 'ECSRelease/Envoy', serviceName: 'colorapp',
 *   mesh: { meshName: 'apps', virtualRouterName: 'colorapp-router', routeName: 'colorapp-route' },
 *   nodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
 *   services: { blue: 'colorapp-blue', green: 'colorapp-green' },
 *   headerMatch: { header: 'x-release-color' },
 * });
 * // curl -H 'x-release-color: green' "$URL/"
 * await gateway.close();
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const random = options.random ?? Math.random;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
  const header = options.headerMatch?.header.toLowerCase();
  const counters = Object.fromEntries(COLOURS.map((c) => [c, new ColourCounters()])) as Record<Colour, ColourCounters>;
  const nextTask: Record<Colour, number> = { blue: 0, green: 0 };
  const toTasks = new Upstream();
  let requests = 0;
  let noRoute = 0;

  const pickColour = (req: IncomingMessage): Colour | undefined => {
    if (header !== undefined) {
      const value = req.headers[header];
      const named = COLOURS.find((c) => c === value);
      if (named) return named;
    }
    let weights: Record<string, number>;
    try {
      weights = options.routes.weights(options.mesh.meshName, options.mesh.virtualRouterName, options.mesh.routeName);
    } catch {
      return undefined;
    }
    const total = Object.values(weights).reduce((sum, w) => sum + Math.max(0, w), 0);
    if (!(total > 0)) return undefined;
    let point = random() * total;
    for (const colour of COLOURS) {
      const weight = Math.max(0, weights[options.nodes[colour]] ?? 0);
      if (point < weight) return colour;
      point -= weight;
    }
    return undefined; // a target that is neither colour's node
  };

  /** The next healthy task of `colour`, round-robin, skipping tasks this request already tried when it can. */
  const pickTask = (colour: Colour, tried: ReadonlySet<string>): TaskEndpoint | undefined => {
    const all = options.tasks.healthyEndpoints(options.services[colour]);
    const untried = all.filter((e) => !tried.has(e.taskId));
    const endpoints = untried.length > 0 ? untried : all;
    if (endpoints.length === 0) return undefined;
    const index = nextTask[colour] % endpoints.length;
    nextTask[colour] = (index + 1) % Math.max(1, all.length);
    return endpoints[index];
  };

  // The agent configuration the CDK app gives the tasks: its separator and aggregation sets decide what CloudWatch holds.
  const agent = agentStatsdSettingsOf(cloudWatchAgentConfig(options.namespace));
  const record = (colour: Colour, status: number, latencyMs: number) => {
    const timestamp = new Date();
    // What the colour's Envoy sends the agent for its ingress listener (the only one the gateway
    // stands in for), turned into the series the agent publishes.
    const tags = colourDimensionsMap(options.serviceName, colour);
    const samples: [StatsdSample, number][] = [
      [{ name: ENVOY_STATSD_NAMES.responsesByClass, type: 'c', tags: { ...tags, [ENVOY_METRICS.responseClassDimension]: String(Math.floor(status / 100)) } }, 1],
      [{ name: ENVOY_STATSD_NAMES.requestTime, type: 'ms', tags }, latencyMs],
    ];
    for (const [sample, value] of samples) {
      for (const series of cloudWatchAgentSeries(sample, agent)) {
        options.metrics.record({ namespace: options.namespace, metricName: series.metricName, dimensions: { ...series.dimensions }, value, timestamp });
      }
    }
  };

  const forward = (endpoint: TaskEndpoint, req: IncomingMessage, body: Buffer): Promise<Attempt> =>
    forwardRequest(endpoint, req, body, upstreamTimeoutMs, toTasks);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const receivedAt = performance.now();
    requests += 1;
    const colour = pickColour(req);
    if (colour === undefined) {
      noRoute += 1;
      reply(res, 503, 'no route: the route has no weighted target to send this request to');
      return;
    }
    const stats = counters[colour];
    stats.requests += 1;
    const body = await readBody(req);
    if (body === undefined) {
      reply(res, 413, 'payload too large');
      stats.answered(413, performance.now() - receivedAt);
      return;
    }

    let attempt: Attempt | undefined;
    const tried = new Set<string>();
    for (let tries = 0; tries <= MAX_RETRIES; tries += 1) {
      const task = pickTask(colour, tried);
      if (!task) break;
      tried.add(task.taskId);
      attempt = await forward(task, req, body);
      const retry = tries < MAX_RETRIES && (attempt.kind === 'connect-failure' || (attempt.kind === 'response' && attempt.upstream.statusCode === 503));
      if (!retry) break;
      if (attempt.kind === 'response') attempt.upstream.resume();
    }

    if (attempt === undefined) {
      // No healthy task: no sidecar of this colour saw the request, so no metric.
      stats.noHealthyUpstream += 1;
      reply(res, 503, 'no healthy upstream');
      stats.answered(503, performance.now() - receivedAt);
      return;
    }
    if (attempt.kind !== 'response') {
      const status = attempt.kind === 'timeout' ? 504 : 503;
      reply(
        res,
        status,
        attempt.kind === 'timeout'
          ? 'upstream request timeout'
          : `upstream connect error or disconnect/reset before headers. reset reason: connection failure (${attempt.error.message})`,
      );
      const latencyMs = performance.now() - receivedAt;
      stats.answered(status, latencyMs);
      record(colour, status, latencyMs);
      return;
    }

    const { upstream, serviceTimeMs } = attempt;
    const status = upstream.statusCode ?? 502;
    if (res.destroyed) {
      // The client went away while the task was answering: nothing to pass on.
      upstream.destroy();
      return;
    }
    res.writeHead(status, {
      ...forwardable(upstream.headers, true),
      'x-envoy-upstream-service-time': String(Math.round(serviceTimeMs)),
      server: 'envoy',
    });
    upstream.pipe(res);
    upstream.once('error', () => res.destroy());
    res.once('close', () => {
      if (!upstream.complete) upstream.destroy();
      const latencyMs = performance.now() - receivedAt;
      stats.answered(status, latencyMs);
      record(colour, status, latencyMs);
    });
  };

  const server = await listen(options.port ?? 0, handle, toTasks);
  return {
    url: server.url,
    stats: () => ({
      requests,
      noRoute,
      byColour: Object.fromEntries(COLOURS.map((c) => [c, counters[c].snapshot()])) as Record<Colour, GatewayColourStats>,
    }),
    close: () => server.close(),
  };
}

