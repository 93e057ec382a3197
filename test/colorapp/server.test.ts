import { Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeGracefully, createColorApp, KEEP_ALIVE_TIMEOUT_MS, type ColorAppOptions } from '../../colorapp/src/server';
import { CLIENT_IDLE_TIMEOUT_MS } from '../../local/gateway/gateway';
import { call } from './http-client';

const servers: Server[] = [];

/** Starts a colorapp on a free loopback port. */
async function start(overrides: Partial<ColorAppOptions> = {}): Promise<number> {
  const server = createColorApp({ color: 'blue', version: 'v1', faultRate: 0, latencyMs: 0, ...overrides });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
          if (!server.listening) resolve();
        }),
    ),
  );
});

describe('colorapp', () => {
  it('keeps idle keep-alive connections 65 s, longer than the load balancer in front (60 s), so the load balancer closes them', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true });
    try {
      const reply = await call(port, '/', { agent });
      expect(reply.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
      expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(CLIENT_IDLE_TIMEOUT_MS);
    } finally {
      agent.destroy();
    }
  });

  it('answers its colour and version as JSON on GET /', async () => {
    const port = await start({ color: 'green', version: 'v2' });

    const reply = await call(port, '/');

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ color: 'green', version: 'v2' });
  });

  it('ignores the query string', async () => {
    const port = await start();

    expect((await call(port, '/?probe=1')).status).toBe(200);
  });

  it('answers 200 hi on GET /healthcheck', async () => {
    const port = await start();

    const reply = await call(port, '/healthcheck');

    expect(reply.status).toBe(200);
    expect(reply.body).toBe('hi');
  });

  it('answers every GET / with 500 when the fault rate is 1, but never the health check', async () => {
    const port = await start({ faultRate: 1 });

    const replies = await Promise.all(Array.from({ length: 20 }, () => call(port, '/')));

    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(500));
    expect(JSON.parse(replies[0].body)).toEqual({ error: 'injected fault', color: 'blue', version: 'v1' });
    expect((await call(port, '/healthcheck')).status).toBe(200);
  });

  it('answers no GET / with 500 when the fault rate is 0', async () => {
    const port = await start({ faultRate: 0 });

    const replies = await Promise.all(Array.from({ length: 20 }, () => call(port, '/')));

    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
  });

  it('faults the share of requests the fault rate says', async () => {
    const draws = [0.1, 0.9, 0.3, 0.7, 0.49, 0.5];
    const port = await start({ faultRate: 0.5, random: () => draws.shift() ?? 0.99 });

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(port, '/')).status);

    expect(statuses).toEqual([500, 200, 500, 200, 500, 200]);
  });

  it('adds the configured latency to GET /', async () => {
    const port = await start({ latencyMs: 200 });

    const started = performance.now();
    const reply = await call(port, '/');
    const elapsed = performance.now() - started;

    expect(reply.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(190);
  });

  it('never delays the health check, so it tests liveness only', async () => {
    const port = await start({ latencyMs: 5000 });

    const started = performance.now();
    const reply = await call(port, '/healthcheck', { timeoutMs: 2000 });

    expect(reply.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each(['/nope', '/healthcheck/', '/index.html'])('answers 404 for %s', async (path) => {
    const port = await start();

    const reply = await call(port, path);

    expect(reply.status).toBe(404);
  });

  it('answers 405 with Allow for a method other than GET or HEAD', async () => {
    const port = await start();

    const reply = await call(port, '/', { method: 'POST' });

    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD');
  });

  it('answers HEAD without a body', async () => {
    const port = await start();

    const reply = await call(port, '/healthcheck', { method: 'HEAD' });

    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
  });

  it.each([
    [{ faultRate: 1.5 }, /faultRate/],
    [{ faultRate: -0.1 }, /faultRate/],
    [{ faultRate: Number.NaN }, /faultRate/],
    [{ latencyMs: -1 }, /latencyMs/],
  ])('refuses options %p', (overrides, message) => {
    expect(() => createColorApp({ color: 'blue', version: 'v1', faultRate: 0, latencyMs: 0, ...overrides })).toThrow(message);
  });
});

describe('closeGracefully', () => {
  it('lets an in-flight request finish, refuses new connections, and resolves drained', async () => {
    const port = await start({ latencyMs: 300 });
    const inFlight = call(port, '/');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const closed = closeGracefully(servers[0], 5000);

    await expect(call(port, '/healthcheck', { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    await expect(closed).resolves.toBe('drained');
  });

  it('does not wait for idle keep-alive connections', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true });
    await call(port, '/', { agent });

    const started = performance.now();
    await expect(closeGracefully(servers[0], 5000)).resolves.toBe('drained');
    expect(performance.now() - started).toBeLessThan(1000);
    agent.destroy();
  });

  it('closes a keep-alive connection once its in-flight request is answered, instead of waiting for the keep-alive timeout', async () => {
    const port = await start({ latencyMs: 200 });
    const agent = new Agent({ keepAlive: true });
    const inFlight = call(port, '/', { agent });
    await new Promise((resolve) => setTimeout(resolve, 50));

    const started = performance.now();
    await expect(closeGracefully(servers[0], 10_000)).resolves.toBe('drained');

    expect(performance.now() - started).toBeLessThan(1500);
    expect((await inFlight).status).toBe(200);
    agent.destroy();
  });

  it('cuts requests still open at the deadline and resolves forced', async () => {
    const port = await start({ latencyMs: 10_000 });
    const stuck = call(port, '/', { timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 50));

    await expect(closeGracefully(servers[0], 100)).resolves.toBe('forced');
    await expect(stuck).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});
