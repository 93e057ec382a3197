import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as appmesh from 'aws-cdk-lib/aws-appmesh';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import {
  CreateOnlyFargateService,
  CreateOnlyWeightedListenerRule,
  CreateOnlyWeightedRoute,
} from '../../infra/constructs/runtime-owned';
import { cdkJsonContext, flattenIntrinsics } from './support/synth';

/**
 * The three things releases own, each created once: least privilege for the provider (each call
 * on the one resource it creates), and the constructor's checks. A small stack of its own, no app.
 */

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;

function build() {
  const stack = new Stack(new App({ context: cdkJsonContext() }), 'Owned');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, clusterName: 'shop' });
  const lb = new elbv2.ApplicationLoadBalancer(stack, 'Lb', { vpc });
  const targetGroups = {
    blue: new elbv2.ApplicationTargetGroup(stack, 'Blue', { vpc, port: 80, targetType: elbv2.TargetType.IP }),
    green: new elbv2.ApplicationTargetGroup(stack, 'Green', { vpc, port: 80, targetType: elbv2.TargetType.IP }),
  };
  const listener = lb.addListener('Http', { port: 80, open: false, defaultAction: elbv2.ListenerAction.fixedResponse(503) });
  const rule = new CreateOnlyWeightedListenerRule(stack, 'Weighted', { listener, priority: 10, targetGroups, live: 'green' });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Td');
  taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('app:1'), portMappings: [{ containerPort: 80 }] });
  const securityGroup = new ec2.SecurityGroup(stack, 'Tasks', { vpc });
  const service = new CreateOnlyFargateService(stack, 'BlueService', {
    cluster,
    serviceName: 'shop-blue',
    taskDefinition,
    desiredCount: 3,
    subnets: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
    securityGroups: [securityGroup],
    loadBalancer: { targetGroup: targetGroups.blue, containerName: 'app', containerPort: 80 },
    healthCheckGracePeriod: Duration.seconds(30),
    dependsOn: [rule],
  });
  const mesh = new appmesh.Mesh(stack, 'Mesh', { meshName: 'shop' });
  const router = mesh.addVirtualRouter('Router', { virtualRouterName: 'router', listeners: [appmesh.VirtualRouterListener.http(80)] });
  const node = (id: string) => mesh.addVirtualNode(id, { virtualNodeName: id.toLowerCase(), serviceDiscovery: appmesh.ServiceDiscovery.dns(`${id}.local`) });
  const route = new CreateOnlyWeightedRoute(stack, 'Route', {
    router,
    routeName: 'weighted',
    priority: 10,
    virtualNodes: { blue: node('BlueNode'), green: node('GreenNode') },
    perRequestTimeout: Duration.seconds(15),
  });
  return { stack, template: Template.fromStack(stack).toJSON() as Cfn, service, rule, route };
}

const built = build();
const logicalId = (construct: { node: { defaultChild?: unknown } }) => built.stack.getLogicalId(construct.node.defaultChild as never);
const policyOf = (owned: { resource: { resource: { node: { findChild(id: string): unknown } } } }) => {
  const policy = owned.resource.resource.node.findChild('CustomResourcePolicy') as { node: { defaultChild?: unknown } };
  return flattenIntrinsics(built.template.Resources[logicalId(policy)].Properties.PolicyDocument.Statement);
};
const callOf = (owned: { resource: { resource: { node: { defaultChild?: unknown } } } }, property: 'Create' | 'Delete') =>
  JSON.parse(String(flattenIntrinsics(built.template.Resources[logicalId(owned.resource.resource)].Properties[property])));

describe('CreateOnlyFargateService', () => {
  it('may create and delete that one service of the cluster, and nothing else', () => {
    expect(policyOf(built.service)).toEqual([
      {
        Effect: 'Allow',
        Action: ['ecs:CreateService', 'ecs:DeleteService'],
        Resource: expect.stringMatching(/^arn:<Ref:AWS::Partition>:ecs:<Ref:AWS::Region>:<Ref:AWS::AccountId>:service\/<Ref:Cluster\w+>\/shop-blue$/),
      },
    ]);
  });

  it('creates the service with its count, template revision, network and target group, and deletes it forced', () => {
    expect(callOf(built.service, 'Create')).toMatchObject({
      service: 'ECS',
      action: 'CreateService',
      parameters: {
        cluster: expect.stringMatching(/^<Ref:Cluster/),
        serviceName: 'shop-blue',
        desiredCount: 3,
        taskDefinition: expect.stringMatching(/^<Ref:Td/),
        launchType: 'FARGATE',
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } },
        networkConfiguration: { awsvpcConfiguration: { assignPublicIp: 'DISABLED', securityGroups: [expect.stringMatching(/^<GetAtt:Tasks/)] } },
        loadBalancers: [{ containerName: 'app', containerPort: 80, targetGroupArn: expect.stringMatching(/^<Ref:Blue/) }],
        healthCheckGracePeriodSeconds: 30,
      },
      physicalResourceId: { responsePath: 'service.serviceArn' },
    });
    expect(callOf(built.service, 'Delete')).toMatchObject({ action: 'DeleteService', parameters: { service: 'shop-blue', force: true } });
  });

  it('is created after the rules that attach its target group to the load balancer', () => {
    const resource = built.template.Resources[logicalId(built.service.resource.resource)];
    expect(resource.DependsOn).toEqual(expect.arrayContaining([logicalId(built.rule.resource.resource)]));
  });

  it('is exposed as a service of the cluster, by its name', () => {
    expect(built.service.service.serviceName).toBe('shop-blue');
  });

  it('refuses a negative count and a grace period without a load balancer', () => {
    const stack = new Stack(new App(), 'Bad');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Td');
    const base = { cluster, serviceName: 's', taskDefinition, subnets: vpc.selectSubnets(), securityGroups: [] };
    expect(() => new CreateOnlyFargateService(stack, 'A', { ...base, desiredCount: -1 })).toThrow(/desiredCount must be a whole number/);
    expect(() => new CreateOnlyFargateService(stack, 'B', { ...base, desiredCount: 1, healthCheckGracePeriod: Duration.seconds(5) })).toThrow(
      /healthCheckGracePeriod needs a loadBalancer/,
    );
  });
});

describe('CreateOnlyWeightedListenerRule', () => {
  it('creates the rule on the listener (live colour 100), deletes it by its ARN, and may touch only that listener\'s rules', () => {
    expect(callOf(built.rule, 'Create').parameters.Actions[0].ForwardConfig.TargetGroups.map((t: Cfn) => t.Weight)).toEqual([0, 100]);
    expect(callOf(built.rule, 'Delete')).toEqual({
      service: 'ElasticLoadBalancingV2',
      action: 'DeleteRule',
      parameters: { RuleArn: 'PHYSICAL:RESOURCEID:' },
    });
    expect(policyOf(built.rule)).toEqual([
      { Effect: 'Allow', Action: 'elasticloadbalancing:CreateRule', Resource: expect.stringMatching(/^<Ref:LbHttp/) },
      { Effect: 'Allow', Action: 'elasticloadbalancing:DeleteRule', Resource: '<Fn::Select>:listener-rule/<Fn::Select>/*' },
    ]);
    expect(built.rule.ruleArn).toBeDefined();
  });

  it('refuses a priority ALB does not allow', () => {
    const stack = new Stack(new App(), 'Bad');
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'L', {
      listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/lb/1/2',
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
    });
    const tg = (id: string) => elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, id, { targetGroupArn: `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${id}/1` });
    expect(() => new CreateOnlyWeightedListenerRule(stack, 'R', { listener, priority: 0, targetGroups: { blue: tg('b'), green: tg('g') } })).toThrow(
      /priority must be 1-50000/,
    );
  });
});

describe('CreateOnlyWeightedRoute', () => {
  it('creates the route (blue 100) and deletes it by name, with rights on that route only', () => {
    const create = callOf(built.route, 'Create');
    expect(create.parameters).toMatchObject({ meshName: expect.any(String), routeName: 'weighted', spec: { priority: 10 } });
    expect(create.parameters.spec.httpRoute.timeout).toEqual({ perRequest: { unit: 'ms', value: 15000 } });
    expect(create.parameters.spec.httpRoute.action.weightedTargets.map((t: Cfn) => t.weight)).toEqual([100, 0]);
    expect(callOf(built.route, 'Delete')).toMatchObject({ action: 'DeleteRoute', parameters: { routeName: 'weighted' } });
    expect(policyOf(built.route)).toEqual([
      {
        Effect: 'Allow',
        Action: ['appmesh:CreateRoute', 'appmesh:DeleteRoute'],
        Resource: expect.stringMatching(/:appmesh:<Ref:AWS::Region>:<Ref:AWS::AccountId>:mesh\/.+\/virtualRouter\/.+\/route\/weighted$/),
      },
    ]);
    expect(built.route.route.routeName).toBe('weighted');
  });
});
