// The local load balancer's data plane with stand-in targets (HTTP servers in this process) in
// the local ELBv2: routing by the listener's rules in priority order (ALB user guide, "Listener
// rules"), no new requests to draining targets while in-flight ones finish ("Deregistration
// delay"), the load balancer's own 502/503 ("Troubleshoot your Application Load Balancers":
// 502 when the connection to the target fails, 503 when the target group has no registered
// targets), and the AWS/ApplicationELB metrics each request leaves.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COLORAPP } from '../../../infra/colorapp-settings';
import { loadBalancerDimension, targetGroupDimension } from '../../../lambdas/shared/alb-metrics';
import type { MetricSample } from '../../../local/contracts';
import { localAlbTrafficOf, seedAlb, type AlbTraffic } from '../../../local/alb-sample';
import { startAlbGateway } from '../../../local/gateway/alb-gateway';
import type { Gateway } from '../../../local/gateway/gateway';
import { LocalElbv2 } from '../../../local/services/elbv2';

const SCOPE = { region: 'eu-west-1', account: '000000000000' };
const servers: Server[] = [];
let gateway: Gateway | undefined;
let elbv2: LocalElbv2;
let traffic: AlbTraffic;
let samples: MetricSample[];

/** A target answering `{ color, port }` after `delayMs`, counting its requests. */
async function target(color: string, delayMs = 0): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    req.resume();
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ color, port: (server.address() as AddressInfo).port })), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Registers targets and makes them healthy (one passed check suffices from `initial`). */
async function register(colour: 'blue' | 'green', ports: number[]): Promise<void> {
  elbv2.registerTargets({ TargetGroupArn: traffic.targetGroups[colour], Targets: ports.map((Port) => ({ Id: '127.0.0.1', Port })) });
  await elbv2.checkHealthNow(traffic.targetGroups[colour]);
}

async function get(path = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: string; server: string | null }> {
  const response = await fetch(`${gateway!.url}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text(), server: response.headers.get('server') };
}

const colourOf = (body: string) => (JSON.parse(body) as { color: string }).color;
const named = (metricName: string) => samples.filter((s) => s.metricName === metricName);

beforeEach(async () => {
  // The weighted forward as the listener's default action (what ModifyListener changes); the
  // rule shape is covered by world-alb-rule.test.ts.
  traffic = localAlbTrafficOf(COLORAPP.alb, SCOPE, 'listener-default');
  const nextIds: string[] = [];
  // Every target is healthy unless the test says otherwise: routing, not health checks, is under test.
  elbv2 = new LocalElbv2({ accountId: SCOPE.account, region: SCOPE.region, healthProbe: async () => ({ healthy: true }), newId: () => nextIds.shift() ?? randomBytes(8).toString('hex') });
  seedAlb(elbv2, traffic, SCOPE, { testHeader: 'x-release-color', deregistrationDelaySeconds: 1, nextIds });
  samples = [];
  let n = 0;
  gateway = await startAlbGateway({
    elbv2,
    listenerArn: traffic.listenerArn,
    targetGroups: traffic.targetGroups,
    metrics: { record: (s) => samples.push(s) },
    hostCountIntervalMs: 0,
    random: () => ((n++ * 0.37) % 1), // spreads over [0, 1)
  });
});

afterEach(async () => {
  await gateway?.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('the local Application Load Balancer', () => {
  it('sends x-release-color: green to green while the weights are 100/0, and everything else to blue', async () => {
    await register('blue', [(await target('blue')).port]);
    await register('green', [(await target('green')).port]);
    const plain = await Promise.all(Array.from({ length: 10 }, () => get()));
    expect(plain.map((r) => colourOf(r.body))).toEqual(Array(10).fill('blue'));
    expect(colourOf((await get('/', { 'x-release-color': 'green' })).body)).toBe('green');
    expect(gateway!.stats().byColour.green.requests).toBe(1);
  });

  it('follows the weights ModifyListener sets, from the next request on', async () => {
    await register('blue', [(await target('blue')).port]);
    await register('green', [(await target('green')).port]);
    elbv2.modifyListener({
      ListenerArn: traffic.listenerArn,
      DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: traffic.targetGroups.blue, Weight: 0 }, { TargetGroupArn: traffic.targetGroups.green, Weight: 100 }] } }],
    });
    const answers = await Promise.all(Array.from({ length: 10 }, () => get()));
    expect(answers.map((r) => colourOf(r.body))).toEqual(Array(10).fill('green'));
  });

  it('sends no new request to a draining target and lets its in-flight request finish', async () => {
    const slow = await target('blue', 400);
    const other = await target('blue');
    await register('blue', [slow.port, other.port]);
    // Round-robin: the first request goes to the first healthy target.
    const inFlight = get();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(slow.hits()).toBe(1);
    elbv2.deregisterTargets({ TargetGroupArn: traffic.targetGroups.blue, Targets: [{ Id: '127.0.0.1', Port: slow.port }] });
    const after = await Promise.all(Array.from({ length: 6 }, () => get()));
    expect(after.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(slow.hits()).toBe(1);
    expect(other.hits()).toBe(6);
    expect((await inFlight).status).toBe(200);
  });

  it('answers 503 itself when the chosen target group has no target, counted as the load balancer\'s 5xx only', async () => {
    const answer = await get('/', { 'x-release-color': 'green' });
    expect(answer).toMatchObject({ status: 503, server: 'awselb/2.0' });
    const lb = loadBalancerDimension(traffic.listenerArn);
    expect(named('HTTPCode_ELB_5XX_Count').map((s) => s.dimensions)).toEqual([{ LoadBalancer: lb }]);
    expect(named('RequestCount')).toEqual([]);
  });

  it('answers 502 when the connection to the target fails, counted in TargetConnectionErrorCount of its target group', async () => {
    await register('blue', [await deadPort()]);
    expect(await get()).toMatchObject({ status: 502, server: 'awselb/2.0' });
    const dims = { LoadBalancer: loadBalancerDimension(traffic.listenerArn), TargetGroup: targetGroupDimension(traffic.targetGroups.blue) };
    expect(named('TargetConnectionErrorCount').map((s) => s.dimensions)).toContainEqual(dims);
    expect(named('RequestCount').map((s) => s.dimensions)).toContainEqual(dims);
    expect(named('HTTPCode_ELB_502_Count')).toHaveLength(1);
  });

  it("publishes each answered request in the colour's target group: RequestCount, HTTPCode_Target_2XX_Count, TargetResponseTime in seconds", async () => {
    await register('green', [(await target('green', 50)).port]);
    await get('/', { 'x-release-color': 'green' });
    await new Promise((resolve) => setTimeout(resolve, 50)); // metrics are recorded when the response closes
    const dims = { LoadBalancer: loadBalancerDimension(traffic.listenerArn), TargetGroup: targetGroupDimension(traffic.targetGroups.green) };
    const inGroup = (name: string) => named(name).filter((s) => JSON.stringify(s.dimensions) === JSON.stringify(dims));
    expect(inGroup('RequestCount').map((s) => s.value)).toEqual([1]);
    expect(inGroup('HTTPCode_Target_2XX_Count').map((s) => s.value)).toEqual([1]);
    const [seconds] = inGroup('TargetResponseTime').map((s) => s.value);
    expect(seconds).toBeGreaterThanOrEqual(0.04);
    expect(seconds).toBeLessThan(2);
    expect(samples.every((s) => s.namespace === 'AWS/ApplicationELB')).toBe(true);
  });
});

describe('listener actions other than forward', () => {
  it('answers a redirect rule with its status and Location, the request\'s own parts filled in', async () => {
    elbv2.createRule({
      ListenerArn: traffic.listenerArn,
      Priority: 5,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/old/*'] } }],
      Actions: [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301', Path: '/new/#{path}', Host: '#{host}', Port: '#{port}', Protocol: '#{protocol}' } }],
    });
    const response = await fetch(`${gateway!.url}/old/page?x=1`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
    const port = new URL(gateway!.url).port;
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe(`http://127.0.0.1:${port}/new/old/page?x=1`);
  });
});
