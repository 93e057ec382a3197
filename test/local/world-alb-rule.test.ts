// The local world with the ALB variant whose weighted forward is a listener rule (traffic.rule
// names a rule ARN) instead of the listener's default action: the release's own router
// (lambdas/shared/traffic, ModifyRule through the endpoint) moves the weights, and the local load
// balancer routes by them from the next request on.
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLORAPP, alarmDefinitionsOf, localProfile, serviceConfigOf } from '../../infra/colorapp-settings';
import { createTrafficRouter } from '../../lambdas/shared/traffic/create-traffic-router';
import { localAlbTrafficOf } from '../../local/alb-sample';
import { LOCAL_SCOPE } from '../../local/backends';
import { buildColorApp } from '../../local/services/ecs';
import { startLocalWorld, type LocalWorld } from '../../local/world';

let world: LocalWorld;
let elbv2: ElasticLoadBalancingV2Client;

beforeAll(async () => {
  const settings = localProfile(COLORAPP);
  const entry = await buildColorApp();
  world = await startLocalWorld({
    config: serviceConfigOf(settings, { traffic: localAlbTrafficOf(settings.alb, LOCAL_SCOPE, 'rule') }),
    alarms: alarmDefinitionsOf(settings),
    images: { 'colorapp:v1': { entry } },
    liveImage: 'colorapp:v1',
    liveTasks: 1,
  });
  elbv2 = new ElasticLoadBalancingV2Client({ endpoint: world.endpoint.url, region: world.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
}, 30_000);

afterAll(async () => {
  elbv2?.destroy();
  await world?.close();
});

const colourOf = async () => {
  const response = await fetch(world.gateway.url, { signal: AbortSignal.timeout(5000) });
  return response.status === 200 ? ((await response.json()) as { color: string }).color : String(response.status);
};

describe('the local world with the weighted forward on a listener rule', () => {
  it("serves blue through the rule, and follows the release router's ModifyRule", async () => {
    if (world.config.traffic.kind !== 'alb' || world.config.traffic.rule === 'listener-default') throw new Error('expected a rule ARN');
    expect(await colourOf()).toBe('blue');
    const router = createTrafficRouter(world.config.traffic, { live: 'blue', idle: 'green' }, { elbv2 });
    expect(await router.getWeights()).toEqual({ live: 100, idle: 0 });
    await router.setWeights({ live: 0, idle: 100 });
    expect(world.weights()).toEqual({ blue: 0, green: 100 });
    // Green has no task yet: the load balancer answers 503 itself for its empty target group.
    expect(await colourOf()).toBe('503');
    await router.setWeights({ live: 100, idle: 0 });
    expect(await colourOf()).toBe('blue');
    expect(world.weightHistory().map((c) => c.weights.green)).toEqual([0, 100, 0]);
  });
});
