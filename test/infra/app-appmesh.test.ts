import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { sampleTrafficOf } from '../../infra/app';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import { ENVOY_METRICS } from '../../lambdas/shared/envoy-metrics';
import { alarmDefinitionsOf, appMeshTrafficOf, COLORAPP, serviceConfigOf } from '../../infra/colorapp-settings';
import { APP_MESH_END_OF_SUPPORT_WARNING } from '../../infra/stacks/colorapp-service-stack';
import { dashboardNameOf } from '../../lambdas/shared/console-links';
import { alarmMetrics, dashboardBody, graph, graphMetrics, withoutId } from './support/dashboard';
import { flattenIntrinsics, resolveNames, synthesizeSampleApp, type TemplateJson } from './support/synth';

/**
 * The App Mesh variant of the sample (`cdk synth -c traffic=appmesh`), kept for meshes that still
 * run although App Mesh was discontinued on 2026-09-30. Handler bundling is skipped: app.test.ts
 * bundles the default (ALB) variant for real, and the handlers are the same.
 */
let synth: ReturnType<typeof synthesizeSampleApp>;

/** The dimensions of a colour's Envoy ingress listener, as the metric contract names them. */
const ingressDimensions = (colour: string) => [
  { Name: ENVOY_METRICS.serviceDimension, Value: 'colorapp' },
  { Name: ENVOY_METRICS.colourDimension, Value: colour },
  { Name: ENVOY_METRICS.listenerDimension, Value: 'ingress' },
];
let release: Template;
let service: Template;

beforeAll(() => {
  // cdk-nag runs (an unacknowledged finding throws); CDK's CloudFormation validation does not:
  // it costs about 10 s of CPU per process, App Mesh resources can no longer be deployed since
  // the service's end of support, and the backend-neutral resources are validated on the default
  // (ALB) sample in app.test.ts.
  synth = synthesizeSampleApp({ bundle: false, traffic: 'appmesh' });
  release = synth.releaseTemplate;
  service = synth.serviceTemplate;
}, 240_000);

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;
type Resource = { Type: string; Properties: Record<string, Cfn> };
const resources = (template: Template, type?: string): Array<[string, Resource]> =>
  Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, r]) => !type || r.Type === type);
const logicalId = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as never);

describe('the traffic context', () => {
  it('defaults to the load balancer, and takes -c traffic=appmesh', () => {
    expect(sampleTrafficOf(new App())).toBe('alb');
    expect(sampleTrafficOf(new App({ context: { traffic: 'appmesh' } }))).toBe('appmesh');
  });

  it('refuses any other value, naming the allowed ones', () => {
    expect(() => sampleTrafficOf(new App({ context: { traffic: 'nlb' } }))).toThrow(/Unknown traffic 'nlb': use one of alb, appmesh/);
  });
});

describe('the App Mesh variant', () => {
  it('synthesizes with cdk-nag clean and warns that App Mesh was discontinued', () => {
    expect(synth.assembly.stacks.map((s) => s.stackName).sort()).toEqual(['ColorappRelease', 'ColorappService']);
    const warnings = synth.assembly
      .getStackByName('ColorappService')
      .messages.filter((m) => m.level === 'warning')
      .map((m) => String(m.entry.data));
    expect(warnings).toContainEqual(expect.stringContaining('AWS App Mesh was discontinued on 2026-09-30'));
    expect(warnings).toContain(APP_MESH_END_OF_SUPPORT_WARNING);
  });

  it('releases through the weighted route, with no load balancer API', () => {
    expect(synth.release.pipeline.trafficKind).toBe('appmesh');
    expect(synth.service.alb).toBeUndefined();
    // Per-service grants are in the engine's managed policies of each handler role.
    const actions = [...resources(release, 'AWS::IAM::Policy'), ...resources(release, 'AWS::IAM::ManagedPolicy')]
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[])
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[]);
    expect(actions).toContain('appmesh:UpdateRoute');
    expect(actions.filter((a) => a.startsWith('elasticloadbalancing:'))).toEqual([]);
  });

  it('writes serviceConfigOf(COLORAPP) with the App Mesh traffic section, and the alarms alarmDefinitionsOf(COLORAPP)', () => {
    const [, parameter] = resources(release, 'AWS::SSM::Parameter').find(([, p]) => p.Properties.Name === '/ecs-release/colorapp/config')!;
    const stacks = { ColorappService: service.toJSON() as TemplateJson, ColorappRelease: release.toJSON() as TemplateJson };
    const deployed = JSON.parse(String(resolveNames(parameter.Properties.Value, stacks, 'ColorappRelease')));
    const stateMachineArn = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:ecs-release-colorapp';
    expect(ServiceConfigSchema.parse(deployed)).toEqual(
      serviceConfigOf(COLORAPP, { traffic: appMeshTrafficOf(COLORAPP), releaseStateMachineArn: stateMachineArn }),
    );
    for (const definition of alarmDefinitionsOf(COLORAPP)) {
      const [, alarm] = resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === definition.alarmName)!;
      const period = alarm.Properties.Period ?? (alarm.Properties.Metrics as Cfn[]).find((m) => m.MetricStat)!.MetricStat.Period;
      expect({ name: definition.alarmName, period }).toEqual({ name: definition.alarmName, period: definition.periodSeconds });
    }
  });
});

describe('its alarms', () => {
  it.each(['blue', 'green'])('%s has a success-rate alarm (metric math over the Envoy response classes)', (colour) => {
    const [, alarm] = resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === `colorapp-${colour}-success-rate`)!;
    expect(alarm.Properties.TreatMissingData).toBe('notBreaching');
    expect(alarm.Properties.ComparisonOperator).toBe('LessThanThreshold');
    expect(alarm.Properties.Threshold).toBe(95);
    const metrics = alarm.Properties.Metrics as Cfn[];
    const expression = metrics.find((m) => m.Expression);
    expect(expression.Expression).toContain('r5xx');
    const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat);
    expect(stats).toHaveLength(4);
    for (const stat of stats) {
      expect(stat.Metric.MetricName).toBe(ENVOY_METRICS.responsesByClass);
      expect(stat.Metric.Namespace).toBe('ECSRelease/Envoy');
      expect(stat.Period).toBe(10);
      // Exactly the contract's dimensions (in any order): the colour's ingress listener, one response class.
      expect(stat.Metric.Dimensions).toHaveLength(4);
      expect(stat.Metric.Dimensions).toEqual(
        expect.arrayContaining([...ingressDimensions(colour), { Name: ENVOY_METRICS.responseClassDimension, Value: expect.stringMatching(/^[2-5]$/) }]),
      );
    }
  });

  it.each(['blue', 'green'])('%s has a p99 latency alarm', (colour) => {
    release.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `colorapp-${colour}-p99-latency`,
      MetricName: ENVOY_METRICS.requestTime,
      ExtendedStatistic: 'p99',
      Threshold: 1000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    const [, alarm] = resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === `colorapp-${colour}-p99-latency`)!;
    // Exactly the contract's dimensions (in any order): the colour's ingress listener.
    expect(alarm.Properties.Dimensions).toHaveLength(3);
    expect(alarm.Properties.Dimensions).toEqual(
      expect.arrayContaining(ingressDimensions(colour)),
    );
  });
});

describe('its release dashboard', () => {
  const body = () => dashboardBody(release, dashboardNameOf('colorapp'));
  const alarmNamed = (name: string) => resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === name)![1];
  const dimensionsOf = (colour: string) => Object.fromEntries(ingressDimensions(colour).map((d) => [d.Name, d.Value]));

  it.each(['blue', 'green'])('graphs %s from the Envoy statistics of its ingress listener (the contract\'s names and dimensions)', (colour) => {
    const requests = graphMetrics(graph(body(), 'Requests per second')).filter((m) => m.id?.startsWith(`${colour}_`));
    const success = graphMetrics(graph(body(), 'Success rate (%)')).filter((m) => m.id?.startsWith(`${colour}_`));
    const p99 = graphMetrics(graph(body(), 'p99 latency')).filter((m) => m.dimensions[ENVOY_METRICS.colourDimension] === colour);
    for (const m of [...requests, ...success]) {
      expect(m).toMatchObject({ namespace: 'ECSRelease/Envoy', metricName: ENVOY_METRICS.responsesByClass, stat: 'Sum', period: 10 });
      expect(m.dimensions).toEqual({ ...dimensionsOf(colour), [ENVOY_METRICS.responseClassDimension]: expect.stringMatching(/^[2-5]$/) });
    }
    expect(success.map((m) => m.dimensions[ENVOY_METRICS.responseClassDimension]).sort()).toEqual(['2', '3', '4', '5']);
    expect(p99.map(withoutId)).toEqual([
      { namespace: 'ECSRelease/Envoy', metricName: ENVOY_METRICS.requestTime, dimensions: dimensionsOf(colour), stat: 'p99', period: 10 },
    ]);
  });

  it.each(['blue', 'green'])('shows exactly what the %s alarms watch', (colour) => {
    const success = graphMetrics(graph(body(), 'Success rate (%)')).filter((m) => m.id?.startsWith(`${colour}_`)).map(withoutId);
    const alarmed = alarmMetrics(alarmNamed(`colorapp-${colour}-success-rate`)).map(withoutId);
    expect(success).toHaveLength(alarmed.length);
    expect(success).toEqual(expect.arrayContaining(alarmed));
    expect(graphMetrics(graph(body(), 'p99 latency')).map(withoutId)).toContainEqual(alarmMetrics(alarmNamed(`colorapp-${colour}-p99-latency`))[0]);
  });

  it('says the weights are the App Mesh route\'s', () => {
    const [text] = body().widgets.filter((w) => w.type === 'text');
    expect(text.properties.markdown).toContain('App Mesh weighted route, health from the envoy metrics');
  });
});

describe('its service', () => {
  it('runs a mesh that drops egress to unknown destinations', () => {
    service.hasResourceProperties('AWS::AppMesh::Mesh', { Spec: { EgressFilter: { Type: 'DROP_ALL' } } });
  });

  it('starts the weighted route at blue 100 / green 0, created once by a custom resource (no AWS::AppMesh::Route)', () => {
    expect(resources(service, 'AWS::AppMesh::Route').map(([, r]) => r.Properties.RouteName)).not.toContain('weighted');
    const [[, route]] = resources(service, 'Custom::EcsReleaseWeightedRoute');
    expect(route.Properties.Update).toBeUndefined();
    const create = JSON.parse(String(flattenIntrinsics(route.Properties.Create)));
    const node = (colour: 'blue' | 'green') => `<GetAtt:${logicalId(synth.service.appMesh!.virtualNodes[colour])}.VirtualNodeName>`;
    expect(create).toMatchObject({
      service: 'AppMesh',
      action: 'CreateRoute',
      parameters: {
        routeName: 'weighted',
        spec: {
          priority: 10,
          httpRoute: {
            match: { prefix: '/' },
            action: { weightedTargets: [{ virtualNode: node('blue'), weight: 100 }, { virtualNode: node('green'), weight: 0 }] },
          },
        },
      },
    });
  });

  it.each(['blue', 'green'])('reaches %s on purpose with the x-release-color header, ahead of the weights', (colour) => {
    const [, route] = resources(service, 'AWS::AppMesh::Route').find(([, r]) => r.Properties.RouteName === `${colour}-by-header`)!;
    expect(route.Properties.Spec.Priority).toBeLessThan(10);
    expect(route.Properties.Spec.HttpRoute.Match.Headers).toEqual([{ Name: 'x-release-color', Match: { Exact: colour }, Invert: false }]);
  });

  it('puts a virtual gateway behind an internet-facing Network Load Balancer', () => {
    service.resourceCountIs('AWS::AppMesh::VirtualGateway', 1);
    service.resourceCountIs('AWS::AppMesh::GatewayRoute', 1);
    service.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
  });

  it.each(['blue', 'green'])('tags the %s Envoy statistics with Service and Color and ships them over StatsD', (colour) => {
    const taskDefinition = synth.service.taskDefinitions[colour as 'blue'];
    const [, td] = resources(service, 'AWS::ECS::TaskDefinition').find(([id]) => id === logicalId(taskDefinition))!;
    const containers = Object.fromEntries((td.Properties.ContainerDefinitions as Cfn[]).map((c) => [c.Name, c]));
    expect(Object.keys(containers).sort()).toEqual(['app', 'cloudwatch-agent', 'envoy', 'envoy-stats-config']);
    const env = (name: string) => Object.fromEntries((containers[name].Environment as Cfn[]).map((e) => [e.Name, e.Value]));
    expect(env('app')).toEqual({ PORT: '8080', COLOR: colour });
    expect(env('envoy')).toMatchObject({ ENABLE_ENVOY_DOG_STATSD: '1', STATSD_PORT: '8125', ENVOY_STATS_CONFIG_FILE: '/etc/envoy-release/stats.yaml' });
    expect(env('envoy-stats-config')).toEqual({ SERVICE: 'colorapp', COLOR: colour });
    // The release clone renames this node for the other colour (see cloneTaskDefinition).
    expect(env('envoy').APPMESH_RESOURCE_ARN).toEqual({ Ref: logicalId(synth.service.appMesh!.virtualNodes[colour as 'blue']) });
    expect(containers.envoy.DependsOn).toEqual(
      expect.arrayContaining([{ ContainerName: 'envoy-stats-config', Condition: 'SUCCESS' }]),
    );
    expect(containers.app.DependsOn).toEqual([{ ContainerName: 'envoy', Condition: 'HEALTHY' }]);
    expect(containers.app.HealthCheck.Command).toEqual(['CMD', 'node', '/app/healthcheck.js']);
    expect(td.Properties.ProxyConfiguration).toMatchObject({ ContainerName: 'envoy', Type: 'APPMESH' });
    const agent = JSON.parse(env('cloudwatch-agent').CW_CONFIG_CONTENT);
    expect(agent.metrics.namespace).toBe('ECSRelease/Envoy');
    // The agent publishes exactly the dimension sets the alarms and the health check read, each
    // keeping the listener, and no set that would mix the admin listener's requests in.
    expect(agent.metrics.aggregation_dimensions).toEqual([
      [ENVOY_METRICS.serviceDimension, ENVOY_METRICS.colourDimension, 'envoy.http_conn_manager_prefix'],
      [ENVOY_METRICS.serviceDimension, ENVOY_METRICS.colourDimension, 'envoy.http_conn_manager_prefix', ENVOY_METRICS.responseClassDimension],
    ]);
    expect(agent.metrics.metrics_collected.statsd).toEqual({
      service_address: ':8125',
      metrics_collection_interval: 10,
      metrics_aggregation_interval: 10,
      // Pinned, not left to the agent's default: the metric contract's names depend on it.
      metric_separator: '_',
    });
  });
});
