import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** How long colorapp keeps an idle keep-alive connection: longer than an ALB's 60 s idle timeout. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
import { performance } from 'node:perf_hooks';

/**
 * colorapp: the sample service the release pipeline deploys. It answers its colour and version,
 * and can be told to misbehave (a share of 500s, added latency) so a release has something to
 * roll back. Node's http module only: the image stays small and there is nothing to patch.
 */

/** How one colorapp instance behaves. */
export interface ColorAppOptions {
  /** The colour it answers (`blue`, `green`...). */
  readonly color: string;
  /** The version it answers, usually the image tag. */
  readonly version: string;
  /** Share of `GET /` requests answered 500, from 0 (none) to 1 (all). */
  readonly faultRate: number;
  /** Delay added to every `GET /` request, in milliseconds. */
  readonly latencyMs: number;
  /**
   * Source of randomness for the fault decision, returning [0, 1).
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * Called when a request has been answered, with its status and how long it took in
   * milliseconds (the request metrics). Not called for `/healthcheck`: health checks are not
   * traffic, as the load balancer's own metrics leave them out too.
   * @default - nothing
   */
  readonly onAnswered?: (status: number, latencyMs: number) => void;
}

/**
 * Creates a colorapp HTTP server (not yet listening).
 *
 * - `GET /` answers `{ "color", "version" }` after `latencyMs`, or 500 for a `faultRate` share.
 * - `GET /healthcheck` answers 200 `hi` at once and never faults, so health checks test
 *   liveness only; failure injection is judged by the release's metrics, as a bad version
 *   would be.
 * - Any other path is 404; another method on a known path is 405.
 *
 * @throws RangeError when `faultRate` is not within 0..1 or `latencyMs` is negative.
 *
 * @example
 * const server = createColorApp({ color: 'blue', version: 'v1', faultRate: 0, latencyMs: 0 });
 * server.listen(8080);
 */
export function createColorApp(options: ColorAppOptions): Server {
  const { color, version, faultRate, latencyMs } = options;
  if (!(faultRate >= 0 && faultRate <= 1)) throw new RangeError(`faultRate must be from 0 to 1, got ${faultRate}`);
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) throw new RangeError(`latencyMs must be 0 or more, got ${latencyMs}`);
  const random = options.random ?? Math.random;

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/healthcheck') {
      if (!allowGet(req, res)) return;
      send(server, res, 200, 'text/plain; charset=utf-8', 'hi');
      return;
    }
    if (options.onAnswered) {
      const { onAnswered } = options;
      const receivedAt = performance.now();
      // 'finish': the whole answer was handed to the socket; a request the client gave up on was not answered.
      res.once('finish', () => onAnswered(res.statusCode, performance.now() - receivedAt));
    }
    if (path !== '/') {
      send(server, res, 404, 'application/json', JSON.stringify({ error: 'not found', path }));
      return;
    }
    if (!allowGet(req, res)) return;
    const answer = () => {
      if (random() < faultRate) {
        send(server, res, 500, 'application/json', JSON.stringify({ error: 'injected fault', color, version }));
      } else {
        send(server, res, 200, 'application/json', JSON.stringify({ color, version }));
      }
    };
    if (latencyMs === 0) {
      answer();
      return;
    }
    const timer = setTimeout(answer, latencyMs);
    // A client that gives up (or a forced shutdown) must not leave a timer writing to a dead socket.
    res.on('close', () => clearTimeout(timer));
  });
  // Longer than the load balancer's idle timeout (60 s by default), as AWS recommends: the load
  // balancer, not colorapp, closes idle connections, so it never sends a request on a socket
  // colorapp is closing (which the client would see as a 502).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  return server;
}

function allowGet(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.setHeader('Allow', 'GET, HEAD');
  res.writeHead(405, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'method not allowed' }));
  return false;
}

function send(server: Server, res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.destroyed) return;
  // Once shutdown has begun, tell keep-alive clients to reconnect elsewhere; otherwise their
  // idle connection would hold the drain open until the keep-alive timeout.
  if (!server.listening) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/** How {@link closeGracefully} ended. */
export type ShutdownResult = 'drained' | 'forced';

/**
 * Stops accepting connections, lets in-flight requests finish, and resolves `'drained'` when the
 * last one is done. Connections still open after `timeoutMs` are cut and it resolves `'forced'`,
 * so a stuck client cannot outlive the orchestrator's stop timeout (ECS: 30 s by default).
 */
export function closeGracefully(server: Server, timeoutMs: number): Promise<ShutdownResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve('forced');
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve('drained');
    });
    server.closeIdleConnections();
  });
}
