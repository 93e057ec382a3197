/**
 * What both local gateways (App Mesh's Envoy and the Application Load Balancer) do alike: pass a
 * request to one task and wait for its answer, count what each colour answered, and run the
 * listening server with a keep-alive timeout that clients can rely on.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TaskEndpoint } from '../contracts';
import type { GatewayColourStats } from './gateway';

/** Hop-by-hop headers: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How long a client's idle keep-alive connection stays open. An ALB closes it after its
 * connection idle timeout, 60 s by default ("Edit attributes for your Application Load
 * Balancer"); Envoy's HTTP connection manager after 1 h. The gateway keeps the shorter, not
 * Node's 5 s default, which would close connections clients still count on.
 */
export const CLIENT_IDLE_TIMEOUT_MS = 60_000;
const LATENCY_WINDOW = 1000;

/**
 * The gateway's side towards the tasks: its pooled connections and the requests in flight on
 * them. Connections are kept open between requests, as both real proxies do: an ALB reuses its
 * connections to targets (which is why colorapp's keep-alive timeout is above the ALB's 60 s
 * idle timeout, as AWS recommends) and Envoy pools upstream connections per host. An idle one
 * is closed by the gateway after {@link CLIENT_IDLE_TIMEOUT_MS}, before colorapp would close it.
 */
export class Upstream {
  /** Requests sent and not yet answered in full: a closing gateway cuts them. */
  readonly inFlight = new Set<{ destroy(): void }>();
  readonly agent = new Agent({ keepAlive: true, timeout: CLIENT_IDLE_TIMEOUT_MS });
  private isClosed = false;

  /** True once {@link close} ran: nothing more is sent (a destroyed Agent would still connect). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Cuts every request in flight and closes every pooled connection; sends nothing after. */
  close(): void {
    this.isClosed = true;
    for (const request of this.inFlight) request.destroy();
    this.agent.destroy();
  }
}

/** What one attempt to reach a task gave. */
export type Attempt =
  | { readonly kind: 'response'; readonly upstream: IncomingMessage; readonly serviceTimeMs: number }
  | { readonly kind: 'connect-failure'; readonly error: Error }
  | { readonly kind: 'timeout' };

/**
 * Sends `req` (with its already read `body`) to one task; resolves with its response head, a
 * connection failure, or a timeout after `timeoutMs`, over one of `upstream`'s connections. The
 * request is in `upstream.inFlight` until its response has been read, so a closing gateway can cut it.
 */
export function forwardRequest(
  endpoint: TaskEndpoint,
  req: IncomingMessage,
  body: Buffer,
  timeoutMs: number,
  upstream: Upstream,
): Promise<Attempt> {
  const { inFlight, agent } = upstream;
  // A closing gateway's retry must not open a new connection to another task.
  if (upstream.closed) return Promise.resolve({ kind: 'connect-failure', error: new Error('the gateway is closing') });
  return new Promise((resolve) => {
    const sentAt = performance.now();
    const request = httpRequest({
      host: endpoint.host,
      port: endpoint.port,
      method: req.method,
      path: req.url,
      headers: { ...forwardable(req.headers), 'content-length': String(body.length) },
      agent,
    });
    inFlight.add(request);
    const timer = setTimeout(() => {
      request.destroy();
      resolve({ kind: 'timeout' });
    }, timeoutMs);
    request.once('response', (res) => {
      clearTimeout(timer);
      res.once('close', () => inFlight.delete(request));
      resolve({ kind: 'response', upstream: res, serviceTimeMs: performance.now() - sentAt });
    });
    request.once('error', (error) => {
      clearTimeout(timer);
      inFlight.delete(request);
      resolve({ kind: 'connect-failure', error });
    });
    request.end(body);
  });
}

/** A listening proxy server. */
export interface ListeningServer {
  readonly url: string;
  /** Stops accepting, cuts open connections and in-flight upstream requests. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `handle` on 127.0.0.1:`port` with the {@link CLIENT_IDLE_TIMEOUT_MS} keep-alive timeout.
 * A request `handle` fails on is answered 500 by `server` (or cut when the answer had begun).
 *
 * @throws Error when the port is taken.
 */
export async function listen(
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  upstream: Upstream,
  server = 'envoy',
): Promise<ListeningServer> {
  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // handle() answers every request itself; this only fires if writing the answer failed.
      if (!res.headersSent) reply(res, 500, `gateway error: ${(error as Error).message}`, server);
      else res.destroy();
    });
  });
  http.keepAliveTimeout = CLIENT_IDLE_TIMEOUT_MS;
  const sockets = new Set<Socket>();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        http.close(() => resolve());
        upstream.close();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Counters of one colour, as {@link GatewayColourStats} reports them. */
export class ColourCounters {
  requests = 0;
  noHealthyUpstream = 0;
  private readonly responses = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  private latencyCount = 0;
  private latencyTotal = 0;
  private latencyMax = 0;
  private readonly recent: number[] = [];
  private firstFailureAt: number | null = null;
  private lastFailureAt: number | null = null;

  answered(status: number, latencyMs: number): void {
    const key = `${Math.min(5, Math.max(2, Math.floor(status / 100)))}xx` as keyof ColourCounters['responses'];
    this.responses[key] += 1;
    if (status >= 500) {
      const now = Date.now();
      this.firstFailureAt ??= now;
      this.lastFailureAt = now;
    }
    this.latencyCount += 1;
    this.latencyTotal += latencyMs;
    this.latencyMax = Math.max(this.latencyMax, latencyMs);
    this.recent.push(latencyMs);
    if (this.recent.length > LATENCY_WINDOW) this.recent.shift();
  }

  snapshot(): GatewayColourStats {
    const sorted = [...this.recent].sort((a, b) => a - b);
    const answered = Object.values(this.responses).reduce((a, b) => a + b, 0);
    return {
      requests: this.requests,
      responses: { ...this.responses },
      noHealthyUpstream: this.noHealthyUpstream,
      successRate: answered > 0 ? 1 - this.responses['5xx'] / answered : null,
      latencyMs: {
        count: this.latencyCount,
        mean: this.latencyCount > 0 ? this.latencyTotal / this.latencyCount : null,
        max: this.latencyCount > 0 ? this.latencyMax : null,
        p99: sorted.length > 0 ? sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)] : null,
      },
      firstFailureAt: this.firstFailureAt,
      lastFailureAt: this.lastFailureAt,
    };
  }
}

/** End-to-end headers only; `content-length` too unless `keepLength` (the body is passed through unchanged). */
export function forwardable(headers: IncomingHttpHeaders, keepLength = false): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && (keepLength || name !== 'content-length')) out[name] = value;
  }
  return out;
}

/** The whole request body, or `undefined` when it is larger than {@link MAX_BODY_BYTES}. */
export async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Answers a request the proxy itself generates (`server` names the proxy: `envoy`, `awselb/2.0`). */
export function reply(res: ServerResponse, status: number, text: string, server = 'envoy'): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), server }).end(text);
}
