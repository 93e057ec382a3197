// The local gateway with stand-in tasks (small HTTP servers in this process): weighted and
// header routing, round-robin, Envoy-like failures and retries, and the statistics it records.
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENVOY_METRICS } from '../../../lambdas/shared/envoy-metrics';
import type { MetricSample, TaskEndpoint } from '../../../local/contracts';
import { CLIENT_IDLE_TIMEOUT_MS, startGateway, type Gateway, type GatewayOptions } from '../../../local/gateway/gateway';
import { CLIENT_IDLE_SOCKET_MS } from '../../../local/traffic';

const MESH = { meshName: 'apps', virtualRouterName: 'colorapp-router', routeName: 'colorapp-route' };
const NODES = { blue: 'colorapp-blue-node', green: 'colorapp-green-node' };
const SERVICES = { blue: 'colorapp-blue', green: 'colorapp-green' };

interface StandIn {
  readonly endpoint: TaskEndpoint;
  readonly server: Server;
  hits: number;
}

const servers: Server[] = [];
let gateway: Gateway | undefined;
let weights: Record<string, number>;
let endpoints: Record<string, TaskEndpoint[]>;
let samples: MetricSample[];

/** A task stand-in answering `{ color, task }` with `status`, after `delayMs`; POST bodies are echoed. */
async function standIn(color: string, taskId: string, options: { status?: number; delayMs?: number } = {}): Promise<StandIn> {
  const stand = { hits: 0 } as StandIn;
  const server = createServer((req, res) => {
    stand.hits += 1;
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      setTimeout(() => {
        const text = JSON.stringify({ color, task: taskId, method: req.method, body, header: req.headers['x-test'] ?? null });
        res.writeHead(options.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      }, options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return Object.assign(stand, { server, endpoint: { taskId, host: '127.0.0.1', port: (server.address() as AddressInfo).port } });
}

/** A port nothing listens on. */
/**
 * The samples of the series the health check and the alarms read: the CloudWatch agent also
 * publishes each sample with all its tags (and `metric_type`) and a response-class-free rollup
 * of the responses, which no query reads (see local/gateway/cloudwatch-agent.ts).
 */
function contractSamples(metricName: string): MetricSample[] {
  const byClass = metricName === ENVOY_METRICS.responsesByClass;
  return samples.filter(
    (s) =>
      s.metricName === metricName &&
      !('metric_type' in s.dimensions) &&
      (ENVOY_METRICS.responseClassDimension in s.dimensions) === byClass,
  );
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Deterministic [0, 1) numbers (mulberry32), so the weighted split is reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function start(overrides: Partial<GatewayOptions> = {}): Promise<Gateway> {
  gateway = await startGateway({
    routes: { weights: () => weights },
    tasks: { healthyEndpoints: (service) => endpoints[service] ?? [] },
    mesh: MESH,
    nodes: NODES,
    services: SERVICES,
    serviceName: 'colorapp',
    metrics: { record: (sample) => samples.push(sample) },
    namespace: 'ECSRelease/Envoy',
    headerMatch: { header: 'x-release-color' },
    random: seeded(42),
    ...overrides,
  });
  return gateway;
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function send(url: string, options: { headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

async function sendMany(url: string, count: number, headers?: Record<string, string>): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < count; i += 10) {
    replies.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => send(url, { headers })))));
  }
  return replies;
}

const colourOf = (reply: Reply) => (JSON.parse(reply.body) as { color: string }).color;

beforeEach(() => {
  weights = { [NODES.blue]: 100, [NODES.green]: 0 };
  endpoints = {};
  samples = [];
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('local gateway', () => {
  it("keeps a client's idle keep-alive connection 60 s, an ALB's default idle timeout; the traffic generator lets go first", async () => {
    await start();
    const agent = new Agent({ keepAlive: true });
    try {
      const reply = await new Promise<unknown>((resolve, reject) => {
        const req = request(gateway!.url, { agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['keep-alive']));
        });
        req.on('error', reject);
        req.end();
      });
      expect(reply).toBe('timeout=60');
      expect(CLIENT_IDLE_SOCKET_MS).toBeLessThan(CLIENT_IDLE_TIMEOUT_MS);
    } finally {
      agent.destroy();
    }
  });

  it("splits 100 requests about 80/20 by the route weights and records Envoy's ingress statistics per colour", async () => {
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1')).endpoint], [SERVICES.green]: [(await standIn('green', 'g1')).endpoint] };
    weights = { [NODES.blue]: 80, [NODES.green]: 20 };
    const { url, stats } = await start();

    const replies = await sendMany(url, 100);

    const green = replies.filter((r) => colourOf(r) === 'green').length;
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(green).toBeGreaterThanOrEqual(10);
    expect(green).toBeLessThanOrEqual(30);
    expect(stats().byColour.green).toMatchObject({ requests: green, responses: { '2xx': green, '5xx': 0 }, successRate: 1 });
    expect(stats().byColour.blue.requests).toBe(100 - green);
    expect(stats().requests).toBe(100);

    const classSamples = contractSamples(ENVOY_METRICS.responsesByClass);
    const timeSamples = contractSamples(ENVOY_METRICS.requestTime);
    expect(classSamples).toHaveLength(100);
    expect(timeSamples).toHaveLength(100);
    expect(classSamples.filter((s) => s.dimensions.Color === 'green')).toHaveLength(green);
    expect(classSamples[0]).toEqual({
      namespace: 'ECSRelease/Envoy',
      // The CloudWatch agent's name for Envoy's `envoy.http.downstream_rq_xx` (metric_separator `_`).
      metricName: 'envoy_http_downstream_rq_xx',
      dimensions: {
        Service: 'colorapp',
        Color: expect.stringMatching(/^(blue|green)$/),
        'envoy.http_conn_manager_prefix': 'ingress',
        'envoy.response_code_class': '2',
      },
      value: 1,
      timestamp: expect.any(Date),
    });
    expect(timeSamples[0].dimensions).toEqual({
      Service: 'colorapp',
      Color: expect.stringMatching(/^(blue|green)$/),
      'envoy.http_conn_manager_prefix': 'ingress',
    });
    expect(timeSamples.every((s) => s.value >= 0 && s.value < 1000)).toBe(true);
  });

  it('sends nothing to the idle colour at 100/0', async () => {
    const green = await standIn('green', 'g1');
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1')).endpoint], [SERVICES.green]: [green.endpoint] };
    const { url, stats } = await start();

    const replies = await sendMany(url, 50);

    expect(replies.map(colourOf).every((c) => c === 'blue')).toBe(true);
    expect(green.hits).toBe(0);
    expect(stats().byColour.green.requests).toBe(0);
    expect(samples.some((s) => s.dimensions.Color === 'green')).toBe(false);
  });

  it('routes a request whose x-release-color header names a colour there, whatever the weights', async () => {
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1')).endpoint], [SERVICES.green]: [(await standIn('green', 'g1')).endpoint] };
    const { url } = await start();

    const named = await send(url, { headers: { 'x-release-color': 'green' } });
    const unknown = await send(url, { headers: { 'x-release-color': 'purple' } });

    expect(colourOf(named)).toBe('green');
    expect(colourOf(unknown)).toBe('blue');
    expect(contractSamples(ENVOY_METRICS.responsesByClass).map((s) => s.dimensions.Color)).toEqual(['green', 'blue']);
  });

  it('ignores the header when no header route is configured', async () => {
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1')).endpoint], [SERVICES.green]: [(await standIn('green', 'g1')).endpoint] };
    const { url } = await start({ headerMatch: undefined });

    expect(colourOf(await send(url, { headers: { 'x-release-color': 'green' } }))).toBe('blue');
  });

  it('reads the weights on every request', async () => {
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1')).endpoint], [SERVICES.green]: [(await standIn('green', 'g1')).endpoint] };
    const { url } = await start();

    const before = colourOf(await send(url));
    weights = { [NODES.blue]: 0, [NODES.green]: 100 };
    const after = colourOf(await send(url));

    expect([before, after]).toEqual(['blue', 'green']);
  });

  it('spreads a colour\'s requests round-robin over its healthy tasks and passes the request through', async () => {
    const [one, two] = [await standIn('blue', 'b1'), await standIn('blue', 'b2')];
    endpoints = { [SERVICES.blue]: [one.endpoint, two.endpoint] };
    const { url } = await start();

    const replies = [];
    for (let i = 0; i < 4; i += 1) replies.push(await send(url, { method: 'POST', body: `hello ${i}`, headers: { 'x-test': 'kept' } }));

    expect(replies.map((r) => (JSON.parse(r.body) as { task: string }).task)).toEqual(['b1', 'b2', 'b1', 'b2']);
    expect(JSON.parse(replies[3].body)).toMatchObject({ method: 'POST', body: 'hello 3', header: 'kept' });
    expect(replies[0].headers).toMatchObject({ server: 'envoy', 'x-envoy-upstream-service-time': expect.stringMatching(/^\d+$/) });
  });

  it('answers 503 "no healthy upstream" when the colour has no healthy task, outside the colour\'s metrics', async () => {
    const { url, stats } = await start();

    const reply = await send(url);

    expect(reply).toMatchObject({ status: 503, body: 'no healthy upstream' });
    expect(stats().byColour.blue).toMatchObject({ requests: 1, noHealthyUpstream: 1, responses: { '5xx': 1 }, successRate: 0 });
    expect(stats().byColour.blue.firstFailureAt).toEqual(expect.any(Number));
    expect(samples).toEqual([]);
  });

  it('retries a task it cannot connect to on another one, as App Mesh\'s default retry policy does', async () => {
    const live = await standIn('blue', 'b2');
    endpoints = { [SERVICES.blue]: [{ taskId: 'gone', host: '127.0.0.1', port: await deadPort() }, live.endpoint] };
    const { url } = await start();

    const replies = await Promise.all([send(url), send(url), send(url)]);

    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('answers 503 after the retries when no task of the colour can be reached, and counts it against the colour', async () => {
    endpoints = { [SERVICES.blue]: [{ taskId: 'gone', host: '127.0.0.1', port: await deadPort() }] };
    const { url } = await start();

    const reply = await send(url);

    expect(reply.status).toBe(503);
    expect(reply.body).toMatch(/^upstream connect error/);
    expect(samples.find((s) => s.metricName === ENVOY_METRICS.responsesByClass)?.dimensions['envoy.response_code_class']).toBe('5');
  });

  it('passes a task\'s 500 through and records it as a 5xx of that colour', async () => {
    endpoints = { [SERVICES.green]: [(await standIn('green', 'g1', { status: 500 })).endpoint] };
    weights = { [NODES.blue]: 0, [NODES.green]: 100 };
    const { url, stats } = await start();

    const replies = await sendMany(url, 3);

    expect(replies.map((r) => r.status)).toEqual([500, 500, 500]);
    expect(stats().byColour.green).toMatchObject({ requests: 3, responses: { '5xx': 3 }, successRate: 0 });
    expect(contractSamples(ENVOY_METRICS.responsesByClass).filter((s) => s.dimensions['envoy.response_code_class'] === '5')).toHaveLength(3);
  });

  it('answers 504 when the task does not answer within the upstream timeout', async () => {
    endpoints = { [SERVICES.blue]: [(await standIn('blue', 'b1', { delayMs: 1000 })).endpoint] };
    const { url, stats } = await start({ upstreamTimeoutMs: 100 });

    const reply = await send(url);

    expect(reply).toMatchObject({ status: 504, body: 'upstream request timeout' });
    // The client waited the timeout out. Node's timers run on libuv's cached loop time, so one may
    // fire a fraction of a millisecond early against performance.now(): 99.9 ms was seen.
    expect(stats().byColour.blue.latencyMs.max).toBeGreaterThanOrEqual(99);
  });

  it('answers 503 when the route has no weighted target', async () => {
    weights = {};
    const { url, stats } = await start();

    expect((await send(url)).status).toBe(503);
    expect(stats().noRoute).toBe(1);
  });

  it('stops listening on close', async () => {
    const { url, close } = await start();

    await close();

    await expect(send(url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
