// The local world on its default backend, the ALB sample: each colour's ECS tasks are targets
// of that colour's target group, read through the ELBv2 API as a user would; a stopped task
// is deregistered and stays `draining` for the deregistration delay, still running, and only
// then gets its stop signal (Amazon ECS developer guide, "Optimize load balancer connection
// draining parameters": ECS waits for the target to reach `unused` before it stops the task).
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { targetGroupDimension } from '../../lambdas/shared/alb-metrics';
import { COLORAPP, alarmDefinitionsOf, localProfile, serviceConfigOf } from '../../infra/colorapp-settings';
import { localTrafficOf } from '../../local/backends';
import { buildColorApp } from '../../local/services/ecs';
import { LOCAL_DEREGISTRATION_DELAY_SECONDS, startLocalWorld, type LocalWorld } from '../../local/world';
import { aws } from './endpoint/harness';

let world: LocalWorld;
let elbv2: ElasticLoadBalancingV2Client;

beforeAll(async () => {
  const settings = localProfile(COLORAPP);
  const entry = await buildColorApp();
  world = await startLocalWorld({
    config: serviceConfigOf(settings, { traffic: localTrafficOf(settings, 'alb') }),
    alarms: alarmDefinitionsOf(settings),
    images: { 'colorapp:v1': { entry } },
    liveImage: 'colorapp:v1',
  });
  elbv2 = new ElasticLoadBalancingV2Client({ endpoint: world.endpoint.url, region: world.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}, 30_000);

afterAll(async () => {
  elbv2?.destroy();
  await world?.close();
});

const traffic = () => {
  if (world.config.traffic.kind !== 'alb') throw new Error('the default backend is alb');
  return world.config.traffic;
};
const health = async (colour: 'blue' | 'green') =>
  (await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: traffic().targetGroups[colour] }))).TargetHealthDescriptions ?? [];

describe('the local world on ALB', () => {
  it("registers blue's running tasks as healthy targets of blue's target group, and green has none", async () => {
    expect(world.backend).toBe('alb');
    const tasks = world.ecs.tasks('colorapp-blue').filter((t) => t.lastStatus === 'RUNNING');
    expect(tasks).toHaveLength(2);
    const blue = await health('blue');
    expect(blue.map((d) => [d.Target?.Id, d.Target?.Port, d.TargetHealth?.State]).sort()).toEqual(
      tasks.map((t) => ['127.0.0.1', t.port, 'healthy']).sort(),
    );
    expect(await health('green')).toEqual([]);
    expect(world.weights()).toEqual({ blue: 100, green: 0 });
    // DescribeServices shows each colour's service attached to its colour's target group.
    const described = (await world.ecs.operations.DescribeServices({ cluster: world.config.cluster, services: ['colorapp-blue', 'colorapp-green'] })) as {
      services: { loadBalancers: unknown[] }[];
    };
    expect(described.services.map((s) => s.loadBalancers)).toEqual([
      [{ targetGroupArn: traffic().targetGroups.blue, containerName: 'app', containerPort: 8080 }],
      [{ targetGroupArn: traffic().targetGroups.green, containerName: 'app', containerPort: 8080 }],
    ]);
  });

  it("answers through the load balancer: blue by default, 503 from the load balancer for green's empty target group", async () => {
    const plain = await fetch(world.gateway.url, { signal: AbortSignal.timeout(5000) });
    expect(((await plain.json()) as { color: string }).color).toBe('blue');
    const green = await fetch(world.gateway.url, { headers: { 'x-release-color': 'green' }, signal: AbortSignal.timeout(5000) });
    expect(green.status).toBe(503);
    expect(green.headers.get('server')).toBe('awselb/2.0');
  });

  it('drains a task that ECS stops for the deregistration delay before it stops the process', async () => {
    const stoppedAt = Date.now();
    await world.ecs.operations.UpdateService({ cluster: world.config.cluster, service: 'colorapp-blue', desiredCount: 1 });
    // Scale-in stops one task: find it, draining, its process still alive.
    const draining = (await health('blue')).filter((d) => d.TargetHealth?.State === 'draining');
    expect(draining).toHaveLength(1);
    const stopping = world.ecs.tasks('colorapp-blue').find((t) => t.port === draining[0].Target?.Port)!;
    expect(stopping.lastStatus).toBe('DEACTIVATING');
    expect(() => process.kill(stopping.pid!, 0)).not.toThrow();
    // Then, after the delay, the target is gone and the task has stopped.
    for (;;) {
      const task = world.ecs.tasks('colorapp-blue').find((t) => t.taskId === stopping.taskId)!;
      if (task.lastStatus === 'STOPPED') break;
      if (Date.now() - stoppedAt > 10_000) throw new Error(`task still ${task.lastStatus} after 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(LOCAL_DEREGISTRATION_DELAY_SECONDS * 1000);
    expect((await health('blue')).map((d) => d.TargetHealth?.State)).toEqual(['healthy']);
  });
});

describe('the AWS CLI reads a newcomer tries first, against the world on ALB', () => {
  // Answers as AWS shapes them (API references of DescribeLoadBalancers, DescribeTargetGroups,
  // DescribeTargetHealth, DescribeRules, ListClusters, DescribeClusters, ListStateMachines,
  // ListMetrics), parsed by the real CLI (botocore).
  it('lists and describes the load balancer, target groups, targets, rules, cluster, state machine and metrics', async () => {
    await fetch(world.gateway.url, { signal: AbortSignal.timeout(5000) }); // one request, so ELB has metrics to list
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { listenerArn, targetGroups } = traffic();
    const url = world.endpoint.url;
    const commands = [
      ['elbv2', 'describe-load-balancers'],
      ['elbv2', 'describe-target-groups'],
      ['elbv2', 'describe-target-health', '--target-group-arn', targetGroups.blue],
      ['elbv2', 'describe-rules', '--listener-arn', listenerArn],
      ['ecs', 'list-clusters'],
      ['ecs', 'describe-clusters', '--clusters', world.config.cluster, 'nope'],
      ['stepfunctions', 'list-state-machines'],
      ['cloudwatch', 'list-metrics', '--namespace', 'AWS/ApplicationELB', '--metric-name', 'RequestCount'],
    ];
    // Two at a time (one per core): each CLI run has its own 15 s bound, which a busy machine
    // must not eat up with eight Python start-ups at once.
    const results: Awaited<ReturnType<typeof aws>>[] = [];
    for (let i = 0; i < commands.length; i += 2) {
      results.push(...(await Promise.all(commands.slice(i, i + 2).map((args) => aws(url, args)))));
    }
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const [lbs, tgs, health, rules, clusters, described, machines, metrics] = results.map(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, asserted field by field below
      (r) => JSON.parse(r.stdout) as Record<string, any>,
    );
    expect(lbs.LoadBalancers).toEqual([expect.objectContaining({ LoadBalancerName: 'colorapp', Type: 'application', State: { Code: 'active' } })]);
    expect(tgs.TargetGroups.map((g: { TargetGroupName: string }) => g.TargetGroupName)).toEqual(['colorapp-blue', 'colorapp-green']);
    expect(health.TargetHealthDescriptions).toHaveLength(1); // one blue task left after the scale-in above
    expect(health.TargetHealthDescriptions[0].TargetHealth).toEqual({ State: 'healthy' });
    // As the CDK sample: header rules 1 and 2, the weighted rule 10 on every path, a fixed 503 by default.
    expect(rules.Rules.map((r: { Priority: string }) => r.Priority)).toEqual(['1', '2', '10', 'default']);
    expect(rules.Rules[3].Actions[0]).toMatchObject({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } });
    expect(rules.Rules[2].Actions[0].ForwardConfig.TargetGroups).toEqual([
      expect.objectContaining({ TargetGroupArn: targetGroups.blue, Weight: 100 }),
      expect.objectContaining({ TargetGroupArn: targetGroups.green, Weight: 0 }),
    ]);
    expect(clusters.clusterArns).toEqual([`arn:aws:ecs:eu-west-1:000000000000:cluster/${world.config.cluster}`]);
    expect(described.clusters).toEqual([expect.objectContaining({ clusterName: world.config.cluster, status: 'ACTIVE', activeServicesCount: 2, runningTasksCount: 1 })]);
    expect(described.failures).toEqual([{ arn: 'arn:aws:ecs:eu-west-1:000000000000:cluster/nope', reason: 'MISSING' }]);
    expect(machines.stateMachines).toEqual([expect.objectContaining({ stateMachineArn: world.stateMachineArn, name: 'colorapp-release', type: 'STANDARD' })]);
    expect(metrics.Metrics).toContainEqual({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'RequestCount',
      Dimensions: expect.arrayContaining([{ Name: 'TargetGroup', Value: targetGroupDimension(targetGroups.blue) }]),
    });
  }, 60_000);
});

// The reconciler as the world runs it (its schedule rule, or on demand): with no release running it
// reads the route and both services, publishes the Drift metric, and announces drift through the
// drift-event publisher (StartSyncExecution, over the SDK's `sync-` host prefix). README, "The reconciler".
describe('the reconciler in the local world', () => {
  it('finds the seeded world clean, and reports a route changed by hand as drift with a Release Drift Detected event', async () => {
    // One engine-wide run: a result per registered service.
    expect(await world.reconcile()).toMatchObject({ services: [{ service: 'colorapp', action: 'clean' }] });
    const forward = (blue: number, green: number) =>
      elbv2.send(
        new ModifyRuleCommand({
          RuleArn: traffic().rule,
          Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: traffic().targetGroups.blue, Weight: blue }, { TargetGroupArn: traffic().targetGroups.green, Weight: green }] } }],
        }),
      );
    await forward(90, 10);
    try {
      expect(await world.reconcile()).toMatchObject({
        services: [{ service: 'colorapp', action: 'drift-reported', findings: [expect.objectContaining({ kind: 'route' })] }],
      });
      const drift = world.bus.published().filter((e) => e['detail-type'] === 'Release Drift Detected');
      expect(drift).toEqual([expect.objectContaining({ source: 'ecs-release', resources: [expect.any(String), world.driftEventsStateMachineArn] })]);
      expect(drift[0].detail).toMatchObject({ service: 'colorapp', outcome: 'drift-detected', live: 'blue' });
    } finally {
      await forward(100, 0);
    }
  });
});
