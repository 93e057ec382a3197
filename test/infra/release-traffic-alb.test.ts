import { type App, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { ALB_METRICS } from '../../lambdas/shared/alb-metrics';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import { type AlbReleaseTrafficOptions, ReleaseTraffic } from '../../infra/constructs/release-options';
import { ReleaseEngine } from '../../infra/constructs/release-engine';
import { ReleasePipeline, type ReleasePipelineProps } from '../../infra/constructs/release-pipeline';
import { ReleasedService } from '../../infra/constructs/released-service';
import { flattenIntrinsics, newApp } from './support/synth';

/**
 * ReleasePipeline on the ALB backend (`ReleaseTraffic.alb`): the traffic section it writes, the
 * Elastic Load Balancing permissions each handler gets, the per-colour alarms on the load
 * balancer's metrics, and cdk-nag. The load balancer lives in a stack of its own, as in the
 * sample, so every ARN reaches the pipeline as a deploy-time value; a second set of tests imports
 * a load balancer by literal ARNs.
 */

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;
type Statement = { Action: string | string[]; Resource: Cfn; Effect: string };

const REGION_ACCOUNT = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333';
const LITERAL = {
  listenerArn: `${REGION_ACCOUNT}:listener/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2`,
  ruleArn: (id: string) => `${REGION_ACCOUNT}:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/${id}`,
  targetGroupArn: (colour: string) => `${REGION_ACCOUNT}:targetgroup/colorapp-${colour}/73e2d6bc24d8a06${colour === 'blue' ? '7' : '8'}`,
};

/** The sample's shape: an ALB, a target group per colour, a weighted rule and a header rule per colour. */
function albServiceStack(app: App) {
  const stack = new Stack(app, 'AlbService');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true });
  const targetGroup = (colour: string) =>
    new elbv2.ApplicationTargetGroup(stack, `${colour}TargetGroup`, {
      vpc,
      port: 8080,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
    });
  const blue = targetGroup('Blue');
  const green = targetGroup('Green');
  const weighted = () =>
    elbv2.ListenerAction.weightedForward([
      { targetGroup: blue, weight: 100 },
      { targetGroup: green, weight: 0 },
    ]);
  const listener = loadBalancer.addListener('Http', { port: 80, open: true, defaultAction: weighted() });
  const rule = new elbv2.ApplicationListenerRule(stack, 'WeightedRule', {
    listener,
    priority: 100,
    conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
    action: weighted(),
  });
  const testRule = (colour: 'blue' | 'green', tg: elbv2.ApplicationTargetGroup, priority: number) =>
    new elbv2.ApplicationListenerRule(stack, `${colour}TestRule`, {
      listener,
      priority,
      conditions: [elbv2.ListenerCondition.httpHeader('x-release-color', [colour])],
      action: elbv2.ListenerAction.forward([tg]),
    });
  return {
    stack,
    vpc,
    loadBalancer,
    listener,
    rule,
    blue,
    green,
    testRules: { blue: testRule('blue', blue, 1), green: testRule('green', green, 2) },
  };
}

/** A pipeline stack whose ECS side is imported by name: the traffic layer is what these tests are about. */
function pipelineProps(stack: Stack, vpc: ec2.IVpc, traffic: ReleaseTraffic, overrides: Partial<ReleasePipelineProps> = {}): ReleasePipelineProps {
  const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'colorapp', vpc });
  const service = (colour: string) =>
    ecs.FargateService.fromFargateServiceAttributes(stack, `${colour}Service`, { cluster, serviceName: `colorapp-${colour}` });
  return {
    serviceName: 'colorapp',
    cluster,
    blueService: service('blue'),
    greenService: service('green'),
    taskDefinitionFamily: 'colorapp',
    containerName: 'app',
    taskRoles: [iam.Role.fromRoleArn(stack, 'TaskRole', 'arn:aws:iam::111122223333:role/colorapp-task')],
    traffic,
    ...overrides,
  };
}

/** The configuration document as written, intrinsics flattened to `<Ref:…>`, `<Output:…>` and the like. */
function rawConfigOf(template: Template): Cfn {
  const [parameter] = Object.values(template.findResources('AWS::SSM::Parameter', { Properties: { Name: '/ecs-release/colorapp/config' } })) as Cfn[];
  return JSON.parse(String(flattenIntrinsics(parameter.Properties.Value)));
}

/** Every IAM statement of one handler's role. */
function statementsOf(template: Template, pipeline: ReleasePipeline, handlerId: string): Statement[] {
  const role = pipeline.node.findChild(`${handlerId}Role`);
  const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as never);
  return Object.values({ ...template.findResources('AWS::IAM::Policy'), ...template.findResources('AWS::IAM::ManagedPolicy') } as Record<string, Cfn>)
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (statement: Statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]);
const resourcesOf = (statement: Statement) => (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]);

/** The resources one handler may call `action` on. */
function resourcesFor(template: Template, pipeline: ReleasePipeline, handlerId: string, action: string): Cfn[] {
  return statementsOf(template, pipeline, handlerId)
    .filter((s) => actionsOf(s).includes(action))
    .flatMap(resourcesOf);
}

/** `{ Ref: <logical id> }` of a construct's resource, as the template spells it. */
const logicalId = (construct: { node: { defaultChild?: unknown } }) => Stack.of(construct as never).getLogicalId(construct.node.defaultChild as never);

describe('ReleasePipeline on ALB weighted target groups of a listener rule', () => {
  let template: Template;
  let pipeline: ReleasePipeline;
  let pipelineStack: Stack;
  let alb: ReturnType<typeof albServiceStack>;

  beforeAll(() => {
    const app = newApp({ bundle: false });
    alb = albServiceStack(app);
    pipelineStack = new Stack(app, 'AlbRelease');
    pipeline = new ReleasePipeline(
      pipelineStack,
      'Pipeline',
      pipelineProps(
        pipelineStack,
        alb.vpc,
        ReleaseTraffic.alb({
          listener: alb.listener,
          rule: alb.rule,
          blueTargetGroup: alb.blue,
          greenTargetGroup: alb.green,
          testRules: alb.testRules,
        }),
        { maxP99Latency: Duration.millis(750) },
      ),
    );
    template = Template.fromStack(pipelineStack);
  }, 120_000);

  it('writes traffic kind alb with the listener, rule, target group and test rule ARNs as references to the ALB stack', () => {
    const { traffic, health } = rawConfigOf(template);
    // Weak cross-stack references: each value is an output of the ALB stack that refers to the resource.
    const outputOf = (construct: { node: { defaultChild?: unknown } }) =>
      expect.stringMatching(new RegExp(`^<Output:AlbService\\.PublishOutputRef${logicalId(construct)}[0-9A-F]*>$`));
    expect(traffic).toEqual({
      kind: 'alb',
      listenerArn: outputOf(alb.listener),
      rule: outputOf(alb.rule),
      targetGroups: { blue: outputOf(alb.blue), green: outputOf(alb.green) },
      testRules: { blue: outputOf(alb.testRules.blue), green: outputOf(alb.testRules.green) },
    });
    // The handlers choose the load balancer's metrics on their own (metricSourceOf): not written.
    expect(health.metricSource).toBeUndefined();
    // ELB publishes every 60 seconds: the health check's default period follows.
    expect(health.metricPeriodSeconds).toBe(60);
  });

  it('lets only the handlers that move traffic call ModifyRule, on the weighted rule alone, and nobody ModifyListener', () => {
    for (const handler of ['ShiftTraffic', 'RollbackRelease', 'Cleanup', 'Reconcile']) {
      const resources = resourcesFor(template, pipeline, handler, 'elasticloadbalancing:ModifyRule');
      expect({ handler, resources: resources.map((r) => flattenIntrinsics(r)) }).toEqual({
        handler,
        resources: [expect.stringMatching(new RegExp(`^<Output:AlbService\\.PublishOutputRef${logicalId(alb.rule)}[0-9A-F]*>$`))],
      });
    }
    const everyStatement = Object.values({ ...template.findResources('AWS::IAM::Policy'), ...template.findResources('AWS::IAM::ManagedPolicy') } as Record<string, Cfn>).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const modifiers = everyStatement.filter((s) => actionsOf(s).some((a) => a.startsWith('elasticloadbalancing:Modify')));
    expect(modifiers.flatMap(actionsOf).filter((a) => a.startsWith('elasticloadbalancing:Modify'))).toEqual([
      'elasticloadbalancing:ModifyRule',
      'elasticloadbalancing:ModifyRule',
      'elasticloadbalancing:ModifyRule',
      'elasticloadbalancing:ModifyRule',
    ]);
    for (const handler of ['LoadState', 'Preflight', 'PlanRelease', 'CheckHealth']) {
      expect({ handler, modify: resourcesFor(template, pipeline, handler, 'elasticloadbalancing:ModifyRule') }).toEqual({ handler, modify: [] });
    }
  });

  it('lets the route readers DescribeRules on * (no resource-level permissions), and only Preflight and ShiftTraffic DescribeTargetHealth', () => {
    for (const handler of ['LoadState', 'Preflight', 'ShiftTraffic', 'RollbackRelease', 'Cleanup']) {
      expect({ handler, resources: resourcesFor(template, pipeline, handler, 'elasticloadbalancing:DescribeRules') }).toEqual({
        handler,
        resources: expect.arrayContaining(['*']),
      });
      // The weighted forward is a rule's, so the listener itself is never read.
      expect(resourcesFor(template, pipeline, handler, 'elasticloadbalancing:DescribeListeners')).toEqual([]);
    }
    const healthReaders = ['LoadState', 'Preflight', 'ShiftTraffic', 'RollbackRelease', 'Cleanup', 'CheckHealth'].filter(
      (handler) => resourcesFor(template, pipeline, handler, 'elasticloadbalancing:DescribeTargetHealth').length > 0,
    );
    expect(healthReaders).toEqual(['Preflight', 'ShiftTraffic']);
  });

  it('grants no App Mesh action at all', () => {
    expect(JSON.stringify([template.findResources('AWS::IAM::Policy'), template.findResources('AWS::IAM::ManagedPolicy')])).not.toMatch(/appmesh:/);
  });

  it('alarms per colour on the target group: 1 - (target 5xx + connection errors) / requests, at 60 s', () => {
    for (const [colour, targetGroup] of [['blue', alb.blue], ['green', alb.green]] as const) {
      // CDK writes dimensions sorted by name. Both are the resources' own full-name attributes.
      const output = (name: string) => ({ 'Fn::GetStackOutput': Match.objectLike({ OutputName: Match.stringLikeRegexp(`^PublishOutputFnGetAtt${name}[0-9A-F]*$`) }) });
      const dimensions = [
        { Name: ALB_METRICS.loadBalancerDimension, Value: output(`${logicalId(alb.loadBalancer)}LoadBalancerFullName`) },
        { Name: ALB_METRICS.targetGroupDimension, Value: output(`${logicalId(targetGroup)}TargetGroupFullName`) },
      ];
      const metric = (id: string, metricName: string) =>
        Match.objectLike({
          Id: id,
          MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: metricName, Dimensions: dimensions }, Period: 60, Stat: 'Sum' },
          ReturnData: false,
        });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `colorapp-${colour}-success-rate`,
        ComparisonOperator: 'LessThanThreshold',
        // The disaster floor of relative judgement (on by default), not the fixed 99 % minimum.
        Threshold: 95,
        TreatMissingData: 'notBreaching',
        Metrics: Match.arrayWith([
          Match.objectLike({
            // What the targets answered without a 5xx, over what was routed to them: a 504 the load
            // balancer answers for a hanging target is a failure too (see colour-alarm-metrics.ts).
            Expression: 'IF(FILL(requests, 0) > 0, 100 * (FILL(target2xx, 0) + FILL(target3xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0))',
            ReturnData: true,
          }),
          metric('requests', 'RequestCount'),
          metric('target2xx', 'HTTPCode_Target_2XX_Count'),
          metric('target3xx', 'HTTPCode_Target_3XX_Count'),
          metric('target4xx', 'HTTPCode_Target_4XX_Count'),
        ]),
      });
    }
  });

  it('alarms per colour on p99 TargetResponseTime, in seconds (750 ms is 0.75)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'colorapp-green-p99-latency',
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'TargetResponseTime',
      ExtendedStatistic: 'p99',
      Period: 60,
      Threshold: 0.75,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Dimensions: [Match.objectLike({ Name: 'LoadBalancer' }), Match.objectLike({ Name: 'TargetGroup' })],
    });
    // The same four alarm names as on App Mesh: the configuration names them per colour.
    const { health } = rawConfigOf(template);
    expect(health.alarms.blue).toHaveLength(2);
    expect(health.alarms.green).toHaveLength(2);
    expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => (a as Cfn).Properties.AlarmName).sort()).toEqual([
      'colorapp-blue-p99-latency',
      'colorapp-blue-success-rate',
      'colorapp-green-p99-latency',
      'colorapp-green-success-rate',
      'ecs-release-colorapp-dead-letters',
      'ecs-release-colorapp-drift',
    ]);
  });

  it('is cdk-nag (AwsSolutions) clean, every wildcard acknowledged with its reason', () => {
    const report = new AwsSolutionsChecks().validateScope(pipelineStack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('ReleasePipeline on the default action of an imported listener (literal ARNs)', () => {
  let template: Template;
  let pipeline: ReleasePipeline;

  beforeAll(() => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Imported');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    pipeline = new ReleasePipeline(stack, 'Pipeline', pipelineProps(stack, vpc, importedTraffic(stack)));
    template = Template.fromStack(stack);
  }, 120_000);

  it('writes the literal ARNs, rule listener-default, in a document the handlers accept', () => {
    const config = ServiceConfigSchema.parse(rawConfigOf(template));
    expect(config.traffic).toEqual({
      kind: 'alb',
      listenerArn: LITERAL.listenerArn,
      rule: 'listener-default',
      targetGroups: { blue: LITERAL.targetGroupArn('blue'), green: LITERAL.targetGroupArn('green') },
    });
  });

  it('lets the shifting handlers ModifyListener on that listener only, read it with DescribeListeners, and never ModifyRule', () => {
    for (const handler of ['ShiftTraffic', 'RollbackRelease', 'Cleanup', 'Reconcile']) {
      expect(resourcesFor(template, pipeline, handler, 'elasticloadbalancing:ModifyListener')).toEqual([LITERAL.listenerArn]);
      expect(resourcesFor(template, pipeline, handler, 'elasticloadbalancing:DescribeListeners')).toEqual(['*']);
    }
    expect(JSON.stringify([template.findResources('AWS::IAM::Policy'), template.findResources('AWS::IAM::ManagedPolicy')])).not.toMatch(/ModifyRule|DescribeRules/);
  });

  it('cuts the alarm dimensions out of the literal ARNs', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'colorapp-blue-p99-latency',
      Dimensions: [
        { Name: 'LoadBalancer', Value: 'app/colorapp/50dc6c495c0c9188' },
        { Name: 'TargetGroup', Value: 'targetgroup/colorapp-blue/73e2d6bc24d8a067' },
      ],
    });
  });
});

function importedTraffic(stack: Stack, options: Partial<AlbReleaseTrafficOptions> = {}): ReleaseTraffic {
  const securityGroup = ec2.SecurityGroup.fromSecurityGroupId(stack, `ListenerSg${stack.node.children.length}`, 'sg-12345678');
  const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, `Listener${stack.node.children.length}`, {
    listenerArn: LITERAL.listenerArn,
    securityGroup,
  });
  const targetGroup = (colour: string) =>
    elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, `${colour}Tg${stack.node.children.length}`, { targetGroupArn: LITERAL.targetGroupArn(colour) });
  return ReleaseTraffic.alb({ listener, blueTargetGroup: targetGroup('blue'), greenTargetGroup: targetGroup('green'), ...options });
}

describe('ReleasePipeline on a listener known only at deploy time', () => {
  it('derives the LoadBalancer dimension from the listener ARN with Fn::Split and Fn::Select', () => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Deploytime');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
      listenerArn: Fn.importValue('ColorappListenerArn'),
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345678'),
    });
    const targetGroup = (colour: string) =>
      elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, `${colour}Tg`, { targetGroupArn: Fn.importValue(`Colorapp${colour}TargetGroupArn`) });
    new ReleasePipeline(
      stack,
      'Pipeline',
      pipelineProps(stack, vpc, ReleaseTraffic.alb({ listener, blueTargetGroup: targetGroup('Blue'), greenTargetGroup: targetGroup('Green') })),
    );
    const split = { 'Fn::Split': ['/', { 'Fn::ImportValue': 'ColorappListenerArn' }] };
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'colorapp-green-p99-latency',
      Dimensions: [
        { Name: 'LoadBalancer', Value: { 'Fn::Join': ['/', [1, 2, 3].map((i) => ({ 'Fn::Select': [i, split] }))] } },
        { Name: 'TargetGroup', Value: { 'Fn::Select': [5, { 'Fn::Split': [':', { 'Fn::ImportValue': 'ColorappGreenTargetGroupArn' }] }] } },
      ],
    });
  }, 120_000);
});

describe('ReleaseTraffic.alb and ReleasePipeline refuse what cannot work, naming the problem', () => {
  const app = newApp({ bundle: false });
  let count = 0;
  const attempt = (build: (stack: Stack, vpc: ec2.IVpc) => void) => {
    const stack = new Stack(app, `Refused${++count}`);
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    return () => build(stack, vpc);
  };
  const pipelineWith = (options: Partial<AlbReleaseTrafficOptions>, overrides: Partial<ReleasePipelineProps> = {}) =>
    attempt((stack, vpc) => new ReleasePipeline(stack, 'Pipeline', pipelineProps(stack, vpc, importedTraffic(stack, options), overrides)));

  it.each<[string, Partial<AlbReleaseTrafficOptions>, RegExp]>([
    ['a weighted rule of another listener', { rule: LITERAL.ruleArn('9683b2d02a6cabee').replace('f2f7dc8efc522ab2', '0000000000000000') }, /ReleaseTraffic\.alb: rule: rule .* is not a rule of listener/],
    ['a rule ARN that is no rule ARN', { rule: LITERAL.targetGroupArn('blue') }, /ReleaseTraffic\.alb: rule: .*listener rule ARN/],
    ['a test rule that is the weighted rule', { rule: LITERAL.ruleArn('1111111111111111'), testRules: { blue: LITERAL.ruleArn('1111111111111111'), green: LITERAL.ruleArn('2222222222222222') } }, /testRules: the test rules must differ/],
  ])('%s', (_name, options, message) => {
    expect(pipelineWith(options)).toThrow(message);
  });

  it('one target group for both colours', () => {
    expect(
      attempt((stack, vpc) => {
        const tg = elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, 'Tg', { targetGroupArn: LITERAL.targetGroupArn('blue') });
        const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'L', {
          listenerArn: LITERAL.listenerArn,
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345678'),
        });
        new ReleasePipeline(stack, 'Pipeline', pipelineProps(stack, vpc, ReleaseTraffic.alb({ listener, blueTargetGroup: tg, greenTargetGroup: tg })));
      }),
    ).toThrow(/blueTargetGroup and greenTargetGroup must be two different target groups/);
  });

  it('the same deploy-time target group ARN for both colours, caught through its placeholder', () => {
    expect(
      attempt((stack, vpc) => {
        const arn = Fn.importValue('SharedTargetGroupArn');
        const tg = (id: string) => elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, id, { targetGroupArn: arn });
        const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'L', {
          listenerArn: LITERAL.listenerArn,
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345678'),
        });
        new ReleasePipeline(stack, 'Pipeline', pipelineProps(stack, vpc, ReleaseTraffic.alb({ listener, blueTargetGroup: tg('A'), greenTargetGroup: tg('B') })));
      }),
    ).toThrow(/targetGroups: blue and green must use different target groups/);
  });

  it.each<[string, Partial<ReleasePipelineProps>, RegExp]>([
    ['a 10 s metric period on the load balancer\'s metrics', { metricPeriod: Duration.seconds(10) }, /metricPeriod must be a multiple of 60 seconds with metricSource 'load-balancer'.*got 10 s/],
    ['a 30 s alarm period on the load balancer\'s metrics', { alarmPeriod: Duration.seconds(30) }, /alarmPeriod must be a multiple of 60 seconds with metricSource 'load-balancer'.*got 30 s/],
    ['Envoy metrics behind a load balancer', { metricSource: 'envoy' }, /health\.metricSource: metricSource 'envoy' needs traffic\.kind 'appmesh', got 'alb'/],
    ['application metrics without their namespace', { metricSource: 'application', createColourAlarms: false }, /metricSource 'application' needs metricNamespace/],
    ['application metrics with the default colour alarms', { metricSource: 'application', metricNamespace: 'Colorapp' }, /no default colour alarms for metricSource 'application' yet: set createColourAlarms: false/],
  ])('%s', (_name, overrides, message) => {
    expect(pipelineWith({}, overrides)).toThrow(message);
  });

  it('a loadBalancer that is not the listener\'s', () => {
    expect(
      attempt((stack) => {
        const vpc = new ec2.Vpc(stack, 'OwnVpc', { maxAzs: 2, natGateways: 0 });
        const first = new elbv2.ApplicationLoadBalancer(stack, 'First', { vpc });
        const second = new elbv2.ApplicationLoadBalancer(stack, 'Second', { vpc });
        const tg = (id: string) => new elbv2.ApplicationTargetGroup(stack, id, { vpc, port: 80, targetType: elbv2.TargetType.IP });
        const blue = tg('Blue');
        const listener = first.addListener('Http', { port: 80, defaultTargetGroups: [blue] });
        ReleaseTraffic.alb({ listener, loadBalancer: second, blueTargetGroup: blue, greenTargetGroup: tg('Green') }).bind(stack);
      }),
    ).toThrow(/the listener .* belongs to .*First, not to the loadBalancer given .*Second/);
  });
});

describe('ReleasePipeline with the application\'s own metrics on ALB', () => {
  it('writes metricSource application, its namespace and a 10 s period, and alarms only on what it is given', () => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Application');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    const pipeline = new ReleasePipeline(
      stack,
      'Pipeline',
      pipelineProps(stack, vpc, importedTraffic(stack), { metricSource: 'application', metricNamespace: 'Colorapp/App', createColourAlarms: false }),
    );
    pipeline.addAlarm(
      new cloudwatch.Alarm(stack, 'Errors', {
        alarmName: 'colorapp-green-errors',
        metric: new cloudwatch.Metric({ namespace: 'Colorapp/App', metricName: 'Errors' }),
        threshold: 1,
        evaluationPeriods: 1,
      }),
      'green',
    );
    const template = Template.fromStack(stack);
    const config = ServiceConfigSchema.parse(rawConfigOf(template));
    expect(config.health).toMatchObject({ metricSource: 'application', metricNamespace: 'Colorapp/App', metricPeriodSeconds: 10 });
    expect(config.health.alarms).toEqual({ common: [], blue: [], green: [expect.stringMatching(/^<Ref:Errors/)] });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3); // the one given, the dead-letter alarm and the drift alarm
  }, 120_000);
});

/**
 * One engine, several registered services, all imported by literal ARNs (a service of its own,
 * weighted rule, target groups, task role and family each). What it protects: adding a service
 * adds no function, state machine or API and at most 15 resources, and each service's grants
 * name that service's resources only.
 */
describe('ReleaseEngine with registered services (a fleet)', () => {
  const NAMES = ['orders', 'payments', 'search'];
  const hex = (index: number, colour: string) => `${index}${colour === 'blue' ? 'b' : 'c'}`.padStart(16, 'a');

  function fleet(count: number) {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, `Fleet${count}`, { env: { account: '111122223333', region: 'eu-west-1' } });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'fleet', vpc });
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
      listenerArn: LITERAL.listenerArn,
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-12345678'),
    });
    const engine = new ReleaseEngine(stack, 'Engine', {});
    const services = NAMES.slice(0, count).map((name, index) => {
      const scope = new Construct(stack, `${name}Imports`);
      const tg = (colour: string) =>
        elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(scope, `${colour}Tg`, {
          targetGroupArn: `${REGION_ACCOUNT}:targetgroup/${name}-${colour}/${hex(index, colour)}`,
        });
      const service = (colour: string) => ecs.FargateService.fromFargateServiceAttributes(scope, `${colour}Service`, { cluster, serviceName: `${name}-${colour}` });
      return new ReleasedService(stack, name, {
        engine,
        serviceName: name,
        cluster,
        blueService: service('blue'),
        greenService: service('green'),
        taskDefinitionFamily: name,
        containerName: 'app',
        taskRoles: [iam.Role.fromRoleArn(scope, 'TaskRole', `arn:aws:iam::111122223333:role/${name}-task`)],
        traffic: ReleaseTraffic.alb({ listener, rule: LITERAL.ruleArn(`${index + 1}`.padStart(16, 'e')), blueTargetGroup: tg('blue'), greenTargetGroup: tg('green') }),
      });
    });
    return { engine, services, template: Template.fromStack(stack) };
  }

  let one: ReturnType<typeof fleet>;
  let three: ReturnType<typeof fleet>;
  beforeAll(() => {
    one = fleet(1);
    three = fleet(3);
  }, 60_000);

  const count = (template: Template, type?: string) =>
    Object.values(template.toJSON().Resources as Record<string, { Type: string }>).filter((r) => type === undefined || r.Type === type).length;

  it('adds no function, state machine or API per service, and at most 15 resources each', () => {
    for (const type of ['AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine', 'AWS::ApiGateway::RestApi', 'AWS::Events::Rule'].slice(0, 3)) {
      expect({ type, count: count(three.template, type) }).toEqual({ type, count: count(one.template, type) });
    }
    const perService = (count(three.template) - count(one.template)) / 2;
    expect(perService).toBeLessThanOrEqual(15);
  });

  it("grants each service's resources in statements that name no other service's", () => {
    const policies = Object.values(three.template.findResources('AWS::IAM::ManagedPolicy')) as Cfn[];
    expect(policies.length).toBeGreaterThan(0);
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const named = (statement: Statement) => {
      const text = JSON.stringify(flattenIntrinsics(statement.Resource));
      // A service's documents, ECS services, family and role carry its name; its alarms are its
      // construct's (logical ids start with it); its weighted rule, its index.
      return NAMES.filter(
        (name, index) =>
          new RegExp(`[/:]${name}[-/:]`).test(text) || text.includes(`<GetAtt:${name}`) || text.includes(`/${`${index + 1}`.padStart(16, 'e')}`),
      );
    };
    const servicesPerStatement = statements.map((statement) => ({ actions: statement.Action, services: named(statement) }));
    // Every statement of a per-service policy is about exactly one service (alarm ARNs included).
    for (const entry of servicesPerStatement) expect({ ...entry, count: entry.services.length }).toEqual({ ...entry, count: 1 });
    // ...and every service has its own.
    expect(new Set(servicesPerStatement.flatMap((e) => e.services))).toEqual(new Set(NAMES));
  });

  it("lets the shifting handler modify each service's weighted rule, and only those", () => {
    const role = three.engine.node.findChild('ShiftTrafficRole');
    const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as never);
    const modifyRule = Object.values(three.template.findResources('AWS::IAM::ManagedPolicy') as Record<string, Cfn>)
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => actionsOf(s).includes('elasticloadbalancing:ModifyRule'))
      .flatMap(resourcesOf);
    expect(modifyRule.sort()).toEqual([1, 2, 3].map((i) => LITERAL.ruleArn(`${i}`.padStart(16, 'e'))).sort());
  });

  it('takes a service registered from another stack, with no reference back from the engine stack (no dependency cycle)', () => {
    const app = newApp({ bundle: false });
    const env = { account: '111122223333', region: 'eu-west-1' };
    const engineStack = new Stack(app, 'EngineStack', { env });
    const engine = new ReleaseEngine(engineStack, 'Engine', { engineName: 'fleet' });
    const servicesStack = new Stack(app, 'ServicesStack', { env });
    const vpc = ec2.Vpc.fromVpcAttributes(servicesStack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    const service = new ReleasedService(servicesStack, 'Orders', { ...pipelineProps(servicesStack, vpc, importedTraffic(servicesStack)), engine });
    const assembly = app.synth();
    expect(servicesStack.dependencies).toContain(engineStack);
    expect(engineStack.dependencies).toEqual([]);
    // Its grants live beside it: the engine's stack does not grow with the fleet.
    expect(JSON.stringify(assembly.getStackByName('ServicesStack').template)).toContain('AWS::IAM::ManagedPolicy');
    expect(JSON.stringify(assembly.getStackByName('EngineStack').template)).not.toContain('AWS::IAM::ManagedPolicy');
    expect(service.driftAlarm).toBeDefined();
  });

  it('refuses a service registered twice, naming it', () => {
    const app = newApp({ bundle: false });
    const stack = new Stack(app, 'Twice');
    const engine = new ReleaseEngine(stack, 'Engine', {});
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-12345678', availabilityZones: ['eu-west-1a'] });
    const props = pipelineProps(stack, vpc, importedTraffic(stack));
    new ReleasedService(stack, 'First', { ...props, engine });
    expect(() => new ReleasedService(stack, 'Second', { ...props, engine, traffic: importedTraffic(stack) })).toThrow(/service 'colorapp' is already registered/);
  });
});
