import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ReleaseEngine, SKIP_BUNDLING_CONTEXT } from './constructs/release-engine';
import { ReleasedService } from './constructs/released-service';
import { ReleaseTraffic } from './constructs/release-options';

/** Services per stack of registered services: about 13 resources each, within CloudFormation's 500 per stack. */
export const SERVICES_PER_STACK = 20;

/** What one synthesized fleet holds. */
export interface FleetResources {
  /** Services registered with the one engine. */
  readonly services: number;
  /** CloudFormation resources in all stacks (the engine's and the services'). */
  readonly resources: number;
  /** CloudFormation resources of the engine's stack (with the first services). */
  readonly engineStackResources: number;
  /** Stacks the services were spread over. */
  readonly stacks: number;
  readonly functions: number;
  readonly stateMachines: number;
  readonly apis: number;
  /** The most managed policies of per-service grants on one handler role (IAM allows 10 by default, 20 at most). */
  readonly maxManagedPoliciesPerRole: number;
}

const REGION_ACCOUNT = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333';
const LISTENER = `${REGION_ACCOUNT}:listener/app/fleet/50dc6c495c0c9188/f2f7dc8efc522ab2`;

/**
 * Synthesizes one release engine with `count` registered services, each imported by literal ARNs
 * behind one ALB listener (its own ECS services, weighted rule, target groups, family and task
 * role; the sample's default colour alarms), without bundling the handlers, and counts what the
 * release stack holds. The per-service cost is what `npm run bench` reports.
 */
export function synthesizeFleet(count: number): FleetResources {
  const app = new App({ context: { [SKIP_BUNDLING_CONTEXT]: true } });
  const env = { account: '111122223333', region: 'eu-west-1' };
  const stack = new Stack(app, `Fleet${count}`, { env });
  const stacks = [stack];
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
  const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'fleet', vpc });
  const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
    listenerArn: LISTENER,
    securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345678'),
  });
  const engine = new ReleaseEngine(stack, 'Engine', {});
  for (let i = 1; i <= count; i++) {
    const name = i === 1 ? 'colorapp' : `colorapp-${i}`;
    // The first services beside the engine, then stacks of their own.
    const stackIndex = Math.floor((i - 1) / SERVICES_PER_STACK);
    const serviceStack = stacks[stackIndex] ?? new Stack(app, `Fleet${count}Services${stackIndex}`, { env });
    stacks[stackIndex] = serviceStack;
    const scope = new Construct(serviceStack, `${name}Imports`);
    const id = (colour: string) => `${i.toString(16)}${colour === 'blue' ? 'b' : 'c'}`.padStart(16, '0');
    const targetGroup = (colour: string) =>
      elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(scope, `${colour}Tg`, { targetGroupArn: `${REGION_ACCOUNT}:targetgroup/${name}-${colour}/${id(colour)}` });
    const service = (colour: string) => ecs.FargateService.fromFargateServiceAttributes(scope, `${colour}Service`, { cluster, serviceName: `${name}-${colour}` });
    new ReleasedService(serviceStack, name, {
      engine,
      serviceName: name,
      cluster,
      blueService: service('blue'),
      greenService: service('green'),
      taskDefinitionFamily: name,
      containerName: 'app',
      taskRoles: [iam.Role.fromRoleArn(scope, 'TaskRole', `arn:aws:iam::111122223333:role/${name}-task`)],
      traffic: ReleaseTraffic.alb({
        listener,
        rule: `${REGION_ACCOUNT}:listener-rule/app/fleet/50dc6c495c0c9188/f2f7dc8efc522ab2/${id('a')}`,
        blueTargetGroup: targetGroup('blue'),
        greenTargetGroup: targetGroup('green'),
      }),
    });
  }
  const assembly = app.synth();
  const resourcesOf = (s: Stack) => Object.values(assembly.getStackByName(s.stackName).template.Resources as Record<string, { Type: string; Properties?: { Roles?: unknown[] } }>);
  const resources = stacks.flatMap(resourcesOf);
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const policiesPerRole = new Map<string, number>();
  for (const policy of ofType('AWS::IAM::ManagedPolicy')) {
    for (const role of policy.Properties?.Roles ?? []) policiesPerRole.set(JSON.stringify(role), (policiesPerRole.get(JSON.stringify(role)) ?? 0) + 1);
  }
  return {
    services: count,
    resources: resources.length,
    engineStackResources: resourcesOf(stack).length,
    stacks: stacks.length,
    functions: ofType('AWS::Lambda::Function').length,
    stateMachines: ofType('AWS::StepFunctions::StateMachine').length,
    apis: ofType('AWS::ApiGateway::RestApi').length,
    maxManagedPoliciesPerRole: Math.max(0, ...policiesPerRole.values()),
  };
}

if (require.main === module) {
  const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
  for (const count of counts.length > 0 ? counts : [1, 10, 40]) console.log(JSON.stringify(synthesizeFleet(count)));
}
