/**
 * Steady client traffic through the gateway, as users would send it, with what they saw:
 * every response's status and the colour that answered. A bounded loop: it stops by itself
 * after `maxDurationMs` even if nobody calls `stop()`.
 */
import * as http from 'node:http';

/** How long the generator keeps an idle keep-alive connection: under the gateway's 60 s. */
export const CLIENT_IDLE_SOCKET_MS = 30_000;

/** What one colour served, as the client saw it. */
export interface ClientColourCounts {
  requests: number;
  failed: number;
}

/** What the clients saw. */
export interface TrafficSummary {
  readonly requests: number;
  /** 5xx answers and connection errors. */
  readonly failed: number;
  readonly byColour: Readonly<Record<string, ClientColourCounts>>;
  /** Epoch ms of the first failed request answered by each colour. */
  readonly firstFailureAt: Readonly<Record<string, number>>;
  /** Failed requests by what went wrong: the status code (`503`) or the connection error (`ECONNRESET`, `timeout`). */
  readonly failures: Readonly<Record<string, number>>;
}

/** A running traffic generator. */
export interface TrafficGenerator {
  summary(): TrafficSummary;
  /** Stops sending and waits for the requests in flight (bounded). */
  stop(): Promise<TrafficSummary>;
}

/** Sends `requestsPerSecond` GET / to `url` until stopped or `maxDurationMs` passes. */
export function startTraffic(url: string, options: { requestsPerSecond: number; maxDurationMs: number }): TrafficGenerator {
  // An idle connection is closed by the client first (30 s), well before the gateway would close
  // it (60 s, an ALB's idle timeout): a request never races the server's close on a reused socket.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: CLIENT_IDLE_SOCKET_MS });
  const byColour: Record<string, ClientColourCounts> = {};
  const firstFailureAt: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let requests = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / options.requestsPerSecond;
  const startedAt = Date.now();
  let sent = 0;
  let stopped = false;

  const count = (colour: string, ok: boolean, why?: string) => {
    if (!ok) failures[why ?? 'unknown'] = (failures[why ?? 'unknown'] ?? 0) + 1;
    const c = (byColour[colour] ??= { requests: 0, failed: 0 });
    c.requests++;
    requests++;
    if (!ok) {
      c.failed++;
      failed++;
      firstFailureAt[colour] ??= Date.now();
    }
  };
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          count(colourOf(Buffer.concat(chunks).toString('utf8')), (res.statusCode ?? 500) < 500, String(res.statusCode));
          resolve();
        });
        res.on('error', (error: NodeJS.ErrnoException) => {
          count('unknown', false, error.code ?? error.message);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error: NodeJS.ErrnoException) => {
        count('unknown', false, error.code ?? error.message);
        resolve();
      });
    });

  // Paced by the clock, not by responses: a slow colour must not slow the offered load.
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - startedAt) / intervalMs);
    while (!stopped && sent < due) {
      sent++;
      const p = one();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    if (Date.now() - startedAt > options.maxDurationMs) stopped = true;
  }, Math.max(1, Math.floor(intervalMs / 2)));

  const summary = (): TrafficSummary => ({
    requests,
    failed,
    byColour: JSON.parse(JSON.stringify(byColour)) as Record<string, ClientColourCounts>,
    firstFailureAt: { ...firstFailureAt },
    failures: { ...failures },
  });
  return {
    summary,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // Bounded: a request stuck on a hung task must not hold shutdown for more than 5 s.
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...inFlight]), new Promise((r) => (bound = setTimeout(r, 5000)))]);
      clearTimeout(bound);
      agent.destroy();
      return summary();
    },
  };
}

/** colorapp answers `{ "color": "...", "version": "..." }`; a 5xx body names no colour. */
function colourOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { color?: unknown };
    return typeof parsed.color === 'string' ? parsed.color : 'unknown';
  } catch {
    return 'unknown';
  }
}
