import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Duration, Fn, Stack } from 'aws-cdk-lib';
import * as appmesh from 'aws-cdk-lib/aws-appmesh';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ServiceConfigSchema, type Strategy } from '../../lambdas/shared/config';
import { ReleaseStateSchema } from '../../lambdas/shared/documents';
import { ReleaseStrategy, ReleaseTraffic } from '../../infra/constructs/release-options';
import {
  definitionPlaceholders,
  ReleasePipeline,
  type ReleasePipelineProps,
  versionAtSynth,
} from '../../infra/constructs/release-pipeline';
import { envoyStatsConfigScript } from '../../infra/envoy-telemetry';
import { ColorappServiceStack } from '../../infra/stacks/colorapp-service-stack';
import { APP_METRICS } from '../../lambdas/shared/app-metrics';
import { dashboardNameOf } from '../../lambdas/shared/console-links';
import { dashboardBody, graph, graphMetrics, withoutId } from './support/dashboard';
import { CONSOLE_APPROVAL_HANDLERS } from '../../infra/constructs/release-handlers';
import { SdkCallScanner } from './support/sdk-calls';
import { flattenIntrinsics, newApp, PROJECT_ROOT } from './support/synth';

/**
 * The ReleasePipeline construct on its own: validation, alarms added later, grants, optional
 * parts. Handler bundling is skipped here (the app test bundles for real), so each synth is quick.
 */
const app = newApp({ bundle: false });
const service = new ColorappServiceStack(app, 'Service', { traffic: 'appmesh' });
let stackCount = 0;

function props(overrides: Partial<ReleasePipelineProps> = {}): ReleasePipelineProps {
  return {
    serviceName: 'colorapp',
    cluster: service.cluster,
    blueService: service.services.blue,
    greenService: service.services.green,
    initialTaskDefinitions: service.taskDefinitions,
    taskDefinitionFamily: service.taskDefinitionFamily,
    containerName: service.containerName,
    colourEnvironmentVariable: service.colourEnvironmentVariable,
    taskRoles: [service.taskRole, service.executionRole],
    traffic: ReleaseTraffic.appMesh({
      route: service.appMesh!.weightedRoute,
      blueVirtualNode: service.appMesh!.virtualNodes.blue,
      greenVirtualNode: service.appMesh!.virtualNodes.green,
    }),
    ...overrides,
  };
}

/** A stack that is removed again if building it throws, so a refused construct leaves nothing to synthesize. */
function throwaway<T>(id: string, build: (stack: Stack) => T): { stack: Stack; built: T } {
  const stack = new Stack(app, `${id}${++stackCount}`);
  try {
    return { stack, built: build(stack) };
  } catch (error) {
    app.node.tryRemoveChild(stack.node.id);
    throw error;
  }
}

function pipelineStack(overrides: Partial<ReleasePipelineProps> = {}) {
  const { stack, built: pipeline } = throwaway('Release', (s) => new ReleasePipeline(s, 'Pipeline', props(overrides)));
  return { stack, pipeline };
}

/**
 * A release stack in an app of its own, for tests that must synthesize after the shared app did:
 * `build` gets the stack and props pointing at that app's own sample service.
 */
function inOwnApp<T>(build: (stack: Stack, ownProps: ReleasePipelineProps) => T) {
  const ownApp = newApp({ bundle: false });
  const ownService = new ColorappServiceStack(ownApp, 'Service', { traffic: 'appmesh' });
  const stack = new Stack(ownApp, 'Release');
  const built = build(stack, {
    ...props(),
    cluster: ownService.cluster,
    blueService: ownService.services.blue,
    greenService: ownService.services.green,
    initialTaskDefinitions: ownService.taskDefinitions,
    taskRoles: [ownService.taskRole, ownService.executionRole],
    traffic: ReleaseTraffic.appMesh({
      route: ownService.appMesh!.weightedRoute,
      blueVirtualNode: ownService.appMesh!.virtualNodes.blue,
      greenVirtualNode: ownService.appMesh!.virtualNodes.green,
    }),
  });
  return { app: ownApp, stack, built };
}

/** A pipeline in an app of its own, for tests that must synthesize after the shared app did. */
function pipelineInOwnApp(overrides: Partial<ReleasePipelineProps>) {
  const { app: ownApp, stack, built: pipeline } = inOwnApp((s, ownProps) => new ReleasePipeline(s, 'Pipeline', { ...ownProps, ...overrides }));
  return { app: ownApp, stack, pipeline };
}

function configOf(template: Template) {
  const parameters = template.findResources('AWS::SSM::Parameter', { Properties: { Name: '/ecs-release/colorapp/config' } });
  const [parameter] = Object.values(parameters) as Array<{ Properties: { Value: unknown } }>;
  return ServiceConfigSchema.parse(JSON.parse(String(flattenIntrinsics(parameter.Properties.Value))));
}

/** The Create call of the initial-state custom resource, as the provider receives it. */
function initialStateCall(template: Template) {
  const [resource] = Object.values(template.findResources('Custom::EcsReleaseInitialState')) as Array<{ Properties: { Create: unknown } }>;
  return JSON.parse(String(flattenIntrinsics(resource.Properties.Create)));
}

/** The initial release state the custom resource writes, checked against the handlers' schema. */
function initialStateOf(template: Template) {
  return ReleaseStateSchema.parse(JSON.parse(initialStateCall(template).parameters.Value));
}

describe('ReleaseStrategy', () => {
  it.each([
    [[10, 50, 100], { type: 'canary', steps: [10, 50, 100] }],
    [[100], { type: 'canary', steps: [100] }],
  ])('canary(%j) is %j', (steps, expected) => {
    expect(ReleaseStrategy.canary(steps).config).toEqual(expected);
  });

  it.each([
    [[], /1 to 20 steps/],
    [[10, 50], /must end at 100/],
    [[50, 10, 100], /increase strictly: step 2 \(10\) follows 50/],
    [[0, 100], /step 1 is 0/],
    [[10.5, 100], /step 1 is 10.5/],
  ])('canary(%j) is refused', (steps, message) => {
    expect(() => ReleaseStrategy.canary(steps)).toThrow(message);
  });

  it.each<[Strategy]>([
    [{ type: 'canary', steps: [10, 50, 100] }],
    [{ type: 'linear', stepPercent: 25 }],
    [{ type: 'blue-green' }],
  ])('fromConfig(%j) is the strategy the document spells', (config) => {
    expect(ReleaseStrategy.fromConfig(config).config).toEqual(config);
  });

  it('fromConfig checks the strategy as its factory does', () => {
    expect(() => ReleaseStrategy.fromConfig({ type: 'canary', steps: [10, 50] })).toThrow(/must end at 100/);
  });

  it('linear and blue/green', () => {
    expect(ReleaseStrategy.linear(25).config).toEqual({ type: 'linear', stepPercent: 25 });
    expect(() => ReleaseStrategy.linear(0)).toThrow(/integer from 1 to 100, got 0/);
    expect(ReleaseStrategy.blueGreen().config).toEqual({ type: 'blue-green' });
  });
});

describe('ReleasePipeline refuses props that make no sense, naming the prop', () => {
  it.each<[string, Partial<ReleasePipelineProps>, RegExp]>([
    ['a service name with a slash', { serviceName: 'color/app' }, /serviceName must be a literal .* got 'color\/app'/],
    ['no task roles', { taskRoles: [] }, /taskRoles must name the task and execution roles/],
    ['the same service twice', { greenService: service.services.blue }, /two different ECS services/],
    ['a success rate in percent', { minSuccessRate: 99 }, /minSuccessRate is a fraction .* got 99/],
    ['a 45 s metric period', { metricPeriod: Duration.seconds(45) }, /metricPeriod must be 10 or 30 seconds .* got 45 s/],
    ['a 45 s alarm period', { alarmPeriod: Duration.seconds(45) }, /alarmPeriod must be 10 or 30 seconds .* got 45 s/],
    ['alarms that evaluate no period', { alarmEvaluationPeriods: 0 }, /alarmEvaluationPeriods must be a whole number of periods, at least 1; got 0/],
    ['more datapoints to alarm than evaluated periods', { alarmDatapointsToAlarm: 7 }, /alarmDatapointsToAlarm must be a whole number from 1 to alarmEvaluationPeriods \(6\); got 7/],
    ['an alarm that evaluates more than a day', { alarmPeriod: Duration.minutes(10), alarmEvaluationPeriods: 145, alarmDatapointsToAlarm: 3 }, /at most one day .* got 145 × 600 s/],
    ['a reconciler that runs every 30 seconds', { reconcileInterval: Duration.seconds(30) }, /reconcileInterval must be a whole number of minutes, at least 1; got 30 s/],
    ['a pipeline tag without a repository', { pipelineImageTag: 'release' }, /pipelineImageTag needs repository/],
    ['push tags without a repository', { releaseOnPushTags: 'hotfix-*' }, /releaseOnPushTags needs repository/],
    [
      'push tags that match the pipeline tag',
      { repository: service.repository, releaseOnPushTags: 'l*' },
      /releaseOnPushTags 'l\*' matches the pipeline's tag 'latest': one push would start two releases/,
    ],
    ['push tags that are no tag pattern', { repository: service.repository, releaseOnPushTags: 'a b' }, /must be an image tag pattern/],
    ['a history of zero releases', { historyLength: 0 }, /invalid service configuration: historyLength/],
    ['a bake of zero seconds', { bakeTime: Duration.seconds(0) }, /invalid service configuration: bakeSeconds/],
    ['an initial live colour that is no colour', { initialLiveColour: 'red' as never }, /initialLiveColour must be 'blue' or 'green', got 'red'/],
    [
      // 61 polls of 15 s, 3 steps × 3 bakes of 5 min, 300 s: 3915 s, over CodePipeline's hour.
      'a pipeline whose releases can outlast its one-hour Step Functions action',
      { repository: service.repository, bakeTime: Duration.minutes(5) },
      /a release from the CodePipeline can wait 3915s .* CodePipeline fails its Step Functions action after 3600s/,
    ],
    [
      'a pipeline whose releases wait at an approval gate for an hour',
      { repository: service.repository, approveBeforePromote: true },
      /can wait \d+s .*1 approval gate of up to 3600s/,
    ],
  ])('%s', (_name, overrides, message) => {
    expect(() => pipelineStack(overrides)).toThrow(message);
  });

  it('a virtual node from another mesh', () => {
    expect(() =>
      throwaway('Foreign', (stack) => {
        const stranger = new appmesh.Mesh(stack, 'OtherMesh').addVirtualNode('Stranger');
        return new ReleasePipeline(stack, 'Pipeline', {
          ...props(),
          traffic: ReleaseTraffic.appMesh({
            route: service.appMesh!.weightedRoute,
            blueVirtualNode: service.appMesh!.virtualNodes.blue,
            greenVirtualNode: stranger,
          }),
        });
      }),
    ).toThrow(/green virtual node .* is not in the route's mesh/);
  });
});

describe('ReleasePipeline', () => {
  let template: Template;
  let pipeline: ReleasePipeline;
  let operator: iam.Role;
  let ci: iam.Role;
  let ordersCi: iam.Role;

  beforeAll(() => {
    const built = pipelineStack({ strategy: ReleaseStrategy.linear(20), approveBeforePromote: true });
    pipeline = built.pipeline;
    // Added after construction: the config, the alarm-watcher's rule and IAM must all see it.
    const errors = new cloudwatch.Alarm(built.stack, 'Errors', {
      alarmName: 'colorapp-5xx-at-the-edge',
      metric: new cloudwatch.Metric({ namespace: 'Edge', metricName: 'Errors' }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    pipeline.addAlarm(errors);
    operator = new iam.Role(built.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    ci = new iam.Role(built.stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    ordersCi = new iam.Role(built.stack, 'OrdersCi', { assumedBy: new iam.AccountRootPrincipal() });
    pipeline.grantApproveRelease(operator);
    pipeline.grantReadReleases(operator);
    pipeline.grantStartRelease(ci);
    pipeline.grantStartRelease(ordersCi, 'colorapp');
    template = Template.fromStack(built.stack);
  }, 120_000);

  it('writes the props into the service configuration', () => {
    const config = configOf(template);
    expect(config.defaultStrategy).toEqual({ type: 'linear', stepPercent: 20 });
    expect(config.approvals).toEqual({ beforeTraffic: false, beforePromote: true });
    // Relative judgement on by default, written explicitly, and the success-rate alarms at its floor.
    expect(config.health.relative).toMatchObject({ enabled: true, floorSuccessRate: 0.95 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'colorapp-green-success-rate', Threshold: 95 });
  });

  it('names its state machine in the service configuration, from the name alone (the CLI starts releases with it)', () => {
    expect(configOf(template).releaseStateMachineArn).toBe(
      'arn:<Ref:AWS::Partition>:states:<Ref:AWS::Region>:<Ref:AWS::AccountId>:stateMachine:ecs-release-colorapp',
    );
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'ecs-release-colorapp' });
    // Written out, not a reference: the document does not depend on the state machine.
    const stateMachineId = Stack.of(pipeline).getLogicalId(pipeline.stateMachine.node.defaultChild as never);
    expect(JSON.stringify(template.findResources('AWS::SSM::Parameter'))).not.toContain(stateMachineId);
  });

  it('alarms on three bad periods in six by default', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) =>
      /^colorapp-(blue|green)-/.test(String((a as { Properties: { AlarmName?: string } }).Properties.AlarmName)),
    );
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) expect(alarm).toMatchObject({ Properties: { EvaluationPeriods: 6, DatapointsToAlarm: 3 } });
  });

  it('watches an alarm added after construction: config, alarm rule and DescribeAlarms', () => {
    expect(configOf(template).health.alarms.common).toEqual([expect.stringMatching(/^<Ref:Errors/)]);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: Match.objectLike({ alarmName: Match.arrayWith([{ Ref: Match.stringLikeRegexp('^Errors') }]) }) }),
    });
    // Per-service grants live in the engine's managed policies of each handler role.
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'cloudwatch:DescribeAlarms',
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Errors'), 'Arn'] }]),
          }),
        ]),
      },
    });
    const [alarmWidget] = dashboardBody(template, dashboardNameOf('colorapp')).widgets.filter((w) => w.type === 'alarm');
    expect(alarmWidget.properties.alarms).toContainEqual(expect.stringMatching(/^<GetAtt:Errors.*\.Arn>$/));
  });

  it('grants API routes to callers: start to CI, read and approve/reject to operators', () => {
    const invokeResources = (role: iam.Role) => {
      const policies = template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: Stack.of(role).getLogicalId(role.node.defaultChild as never) }] },
      }) as Record<string, { Properties: { PolicyDocument: { Statement: Array<{ Action: string; Resource: unknown }> } } }>;
      return Object.values(policies)
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((s) => s.Action === 'execute-api:Invoke')
        .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
        .map((r) => String(flattenIntrinsics(r)));
    };
    // Every service of the engine (the body names it), and one named service's route.
    expect(invokeResources(ci)).toEqual([
      expect.stringMatching(/:execute-api:.*\/POST\/releases$/),
      expect.stringMatching(/:execute-api:.*\/POST\/releases\/\*$/),
    ]);
    expect(invokeResources(ordersCi)).toEqual([expect.stringMatching(/:execute-api:.*\/POST\/releases\/colorapp$/)]);
    const operatorRoutes = invokeResources(operator);
    expect(operatorRoutes).toHaveLength(3);
    expect(operatorRoutes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\/POST\/releases\/\*\/approve$/),
        expect.stringMatching(/\/POST\/releases\/\*\/reject$/),
        expect.stringMatching(/\/GET\/releases\/\*$/),
      ]),
    );
  });

  it('has no CodePipeline and no image-push rule without a repository', () => {
    expect(pipeline.pipeline).toBeUndefined();
    template.resourceCountIs('AWS::CodePipeline::Pipeline', 0);
    expect(JSON.stringify(template.findResources('AWS::Events::Rule'))).not.toContain('ECR Image Action');
  });
});

describe('ReleasePipeline with a repository: releaseOnPushTags, and the gates as console approvals', () => {
  let stack: Stack;
  let pipeline: ReleasePipeline;
  let template: Template;
  beforeAll(() => {
    // Both gates, short enough for CodePipeline's one-hour Step Functions action.
    ({ stack, built: pipeline } = inOwnApp((s, ownProps) => {
      const repository = (ownProps.blueService.stack as ColorappServiceStack).repository;
      return new ReleasePipeline(s, 'Pipeline', {
        ...ownProps,
        repository,
        releaseOnPushTags: 'hotfix-*',
        approveBeforeTraffic: true,
        approveBeforePromote: true,
        approvalTimeout: Duration.minutes(5),
      });
    }));
    template = Template.fromStack(stack);
  }, 120_000);
  // The sync belongs to the service (a child of the pipeline, 'Default'), not to the engine.
  const logicalIdOf = (id: string) =>
    stack.getLogicalId((pipeline.node.tryFindChild(id) ?? pipeline.service.node.findChild(id)).node.defaultChild as never);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const releaseStage = () => (Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0] as any).Properties.Stages[2];

  it('puts one manual approval per gate beside the Step Functions action, all at runOrder 1 (they run in parallel)', () => {
    const stage = releaseStage();
    expect(stage.Name).toBe('Release');
    expect(stage.Actions.map((a: { Name: string; ActionTypeId: { Provider: string }; RunOrder: number }) => [a.Name, a.ActionTypeId.Provider, a.RunOrder])).toEqual([
      ['Release', 'StepFunctions', 1],
      ['ApproveTraffic', 'Manual', 1],
      ['ApprovePromotion', 'Manual', 1],
    ]);
    // The release's execution is named pipeline-<action execution id>: how the sync finds it.
    expect(stage.Actions[0].Configuration.ExecutionNamePrefix).toBe('pipeline');
    const approval = stage.Actions[2].Configuration;
    expect(flattenIntrinsics(approval.ExternalEntityLink)).toMatch(/cloudwatch\/home\?region=<Ref:AWS::Region>#dashboards\/dashboard\/ecs-release-colorapp$/);
    expect(String(flattenIntrinsics(approval.CustomData))).toMatch(/Gate before-promote .* reject rolls it back, as ecs-release approve\|reject --service colorapp/);
    expect(approval.NotificationArn).toBeDefined();
  });

  it('runs the sync on a gate\'s console answer, on the approval document, and when a pipeline release ends', () => {
    const target = { 'Fn::GetAtt': [logicalIdOf('SyncConsoleApprovals'), 'Arn'] };
    const pipelineRef = { Ref: logicalIdOf('Pipeline') };
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codepipeline'],
        'detail-type': ['CodePipeline Action Execution State Change'],
        detail: { pipeline: [pipelineRef], stage: ['Release'], action: ['ApproveTraffic', 'ApprovePromotion'], state: ['SUCCEEDED', 'FAILED'] },
      },
      Targets: [Match.objectLike({ Arn: target, DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ssm'], detail: { name: ['/ecs-release/colorapp/approval'], operation: ['Create', 'Update', 'Delete'] } },
      Targets: [Match.objectLike({ Arn: target })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.states'],
        detail: Match.objectLike({ status: ['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'], name: [{ prefix: 'pipeline-' }] }),
      }),
      Targets: [Match.objectLike({ Arn: target })],
    });
    const [, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id === logicalIdOf('SyncConsoleApprovals'))!;
    expect(fn.Properties.Environment.Variables).toMatchObject({ SERVICE_NAME: 'colorapp', PIPELINE_NAME: pipelineRef, CONSOLE_GATES: 'before-traffic,before-promote' });
  });

  it('may read that pipeline\'s state and answer only its gates\' approvals', () => {
    const role = logicalIdOf('SyncConsoleApprovalsRole');
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string; Resource: unknown }>)
      .filter((st) => String(st.Action).startsWith('codepipeline:'));
    const pipelineArn = `arn:<Ref:AWS::Partition>:codepipeline:<Ref:AWS::Region>:<Ref:AWS::AccountId>:<Ref:${logicalIdOf('Pipeline')}>`;
    expect(flattenIntrinsics(statements)).toEqual([
      expect.objectContaining({ Action: 'codepipeline:GetPipelineState', Resource: pipelineArn }),
      expect.objectContaining({
        Action: 'codepipeline:PutApprovalResult',
        // CDK sorts the resources.
        Resource: [`${pipelineArn}/Release/ApprovePromotion`, `${pipelineArn}/Release/ApproveTraffic`],
      }),
    ]);
  });

  it('grants the sync exactly the AWS calls its code can reach (as app.test.ts checks for every other handler)', () => {
    const entry = path.join(PROJECT_ROOT, 'lambdas', CONSOLE_APPROVAL_HANDLERS.syncConsoleApprovals.entry);
    const called = [...new SdkCallScanner([entry]).actionsOf(entry)].sort();
    const role = logicalIdOf('SyncConsoleApprovalsRole');
    const granted = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>)
      .flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]))
      // Its own logs, and Lambda's delivery of a failed event to the dead-letter queue.
      .filter((a) => !a.startsWith('logs:') && !a.startsWith('sqs:'));
    expect([...new Set(granted)].sort()).toEqual(called);
  }, 60_000);

  it('starts a release, by digest, for a push whose tag matches the pattern, and only for that', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter(
      (r) => r.Properties.EventPattern?.['detail-type']?.[0] === 'ECR Image Action' && r.Properties.Targets[0].Arn.Ref !== undefined,
    );
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule.Properties.EventPattern.detail['image-tag']).toEqual([{ wildcard: 'hotfix-*' }]);
    expect(JSON.stringify(rule.Properties.Targets[0].InputTransformer)).toContain('@<detail-image-digest>');
    expect(pipeline.pipeline).toBeDefined();
  });
});

describe('ReleasePipeline alarm props', () => {
  it('give the colour alarms their period, evaluation periods and datapoints to alarm', () => {
    const { stack } = pipelineInOwnApp({ alarmPeriod: Duration.seconds(30), alarmEvaluationPeriods: 4, alarmDatapointsToAlarm: 2, relativeJudgement: false, minSuccessRate: 0.98 });
    const template = Template.fromStack(stack);
    // Without relative judgement the success-rate alarm is the fixed minimum again, and the
    // config says the comparison is off (it is written explicitly either way).
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'colorapp-green-success-rate', Threshold: 98 });
    expect(configOf(template).health.relative).toMatchObject({ enabled: false });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'colorapp-green-p99-latency',
      Period: 30,
      EvaluationPeriods: 4,
      DatapointsToAlarm: 2,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'colorapp-blue-success-rate',
      EvaluationPeriods: 4,
      DatapointsToAlarm: 2,
      Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Period: 30 }) })]),
    });
    // The health check keeps its own period.
    expect(configOf(template).health.metricPeriodSeconds).toBe(10);
  }, 120_000);
});

describe('ReleasePipeline without the default colour alarms (the application metric source)', () => {
  it('watches only the alarms it is given, and graphs the application\'s own metrics', () => {
    const { stack, pipeline } = pipelineInOwnApp({ createColourAlarms: false, metricSource: 'application', metricNamespace: APP_METRICS.defaultNamespace });
    const latency = new cloudwatch.Alarm(stack, 'Latency', {
      alarmName: 'colorapp-green-latency',
      metric: new cloudwatch.Metric({ namespace: 'X', metricName: 'Y' }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    pipeline.addAlarm(latency, 'green');
    const template = Template.fromStack(stack);
    const config = configOf(template);
    expect(config.health.alarms).toEqual({ common: [], blue: [], green: [expect.stringMatching(/^<Ref:Latency/)] });
    // No colour alarm: the one given, and the pipeline's own alarms on its dead-letter queue and on drift.
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).sort();
    expect(alarmIds).toEqual([
      expect.stringMatching(/^Latency/),
      expect.stringMatching(/^PipelineDeadLettersAlarm/),
      expect.stringMatching(/^PipelineReconcilerDriftAlarm/),
    ]);
    // The dashboard reads what the health check reads for this source (lambdas/shared/app-metrics.ts).
    const body = dashboardBody(template, dashboardNameOf('colorapp'));
    for (const colour of ['blue', 'green']) {
      const dimensions = { [APP_METRICS.colourDimension]: colour, [APP_METRICS.serviceDimension]: 'colorapp' };
      const success = graphMetrics(graph(body, 'Success rate (%)')).filter((m) => m.id?.startsWith(`${colour}_`)).map(withoutId);
      expect(success).toEqual([
        { namespace: APP_METRICS.defaultNamespace, metricName: APP_METRICS.requests, dimensions, stat: 'Sum', period: 10 },
        { namespace: APP_METRICS.defaultNamespace, metricName: APP_METRICS.serverErrors, dimensions, stat: 'Sum', period: 10 },
      ]);
      expect(graphMetrics(graph(body, 'p99 latency')).map(withoutId)).toContainEqual(
        { namespace: APP_METRICS.defaultNamespace, metricName: APP_METRICS.latency, dimensions, stat: 'p99', period: 10 },
      );
    }
  }, 120_000);
});

describe('ReleasePipeline with no alarm at all', () => {
  it('fails synthesis with a message saying what to do', () => {
    const { app: ownApp } = pipelineInOwnApp({ createColourAlarms: false });
    expect(() => ownApp.synth()).toThrow(/watches no alarm: keep createColourAlarms, or call addAlarm\(\)/);
  }, 120_000);
});

describe('the initial release state', () => {
  it('says the initial live colour is live, as the initialLiveColour prop says', () => {
    const { stack } = pipelineInOwnApp({ initialLiveColour: 'green' });
    expect(initialStateOf(Template.fromStack(stack)).live).toBe('green');
  }, 120_000);

  it('has empty slots, which the schema allows, for imported services: LoadState fills them from what runs', () => {
    const { stack } = inOwnApp((s, ownProps) => {
      const imported = (colour: string) =>
        ecs.FargateService.fromFargateServiceAttributes(s, `${colour}Service`, { cluster: ownProps.cluster, serviceName: `colorapp-${colour}` });
      return new ReleasePipeline(s, 'Pipeline', {
        ...ownProps,
        blueService: imported('blue'),
        greenService: imported('green'),
        initialTaskDefinitions: undefined,
      });
    });
    const empty = { taskDefinitionArn: null, image: null, version: null };
    expect(initialStateOf(Template.fromStack(stack))).toMatchObject({ live: 'blue', colours: { blue: empty, green: empty }, seededBy: 'cdk' });
  }, 120_000);

  it('is the same on every synth (no time or random part), so a redeploy changes nothing', () => {
    const first = initialStateCall(Template.fromStack(pipelineInOwnApp({}).stack));
    const second = initialStateCall(Template.fromStack(pipelineInOwnApp({}).stack));
    expect(second).toStrictEqual(first);
  }, 120_000);

  it('shares the stack\'s one provider function between two pipelines: one role, each statement on its own parameter', () => {
    const { stack } = inOwnApp((s, ownProps) => {
      new ReleasePipeline(s, 'First', ownProps);
      return new ReleasePipeline(s, 'Second', { ...ownProps, serviceName: 'colorapp-two' });
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::EcsReleaseInitialState', 2);
    const providers = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'));
    expect(providers).toHaveLength(1);
    const roles = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.includes('InitialStateProviderRole'));
    expect(roles).toEqual([expect.stringMatching(/^FirstInitialStateProviderRole/)]);
    for (const service of ['colorapp', 'colorapp-two']) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: roles[0] }],
        PolicyDocument: {
          Statement: [
            Match.objectLike({
              Action: 'ssm:PutParameter',
              Resource: { 'Fn::Join': ['', Match.arrayWith([`:parameter/ecs-release/${service}/state`])] },
            }),
          ],
        },
      });
    }
  }, 120_000);

  it('fails synthesis, naming the prop, when a colour\'s task definition has no container called containerName', () => {
    const { app: ownApp } = pipelineInOwnApp({ containerName: 'web' });
    expect(() => ownApp.synth()).toThrow(/the blue service's task definition .* has no container 'web' \(containerName\)/);
  }, 120_000);
});

describe('versionAtSynth', () => {
  const stack = new Stack();

  it.each([
    ['a literal tag', 'public.ecr.aws/org/colorapp:1.3.0', '1.3.0'],
    ['a literal digest', `colorapp@sha256:${'ab'.repeat(32)}`, 'ab'.repeat(6)],
    ['no tag at all (Docker\'s latest)', 'colorapp', 'latest'],
  ])('reads %s', (_name, image, version) => {
    expect(versionAtSynth(image, stack)).toBe(version);
  });

  it('reads a literal tag after deploy-time parts (account, region, repository)', () => {
    expect(versionAtSynth(`${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/colorapp:v7`, stack)).toBe('v7');
    expect(versionAtSynth(Fn.sub('${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/colorapp:v8'), stack)).toBe('v8');
  });

  it('is null when the tag itself is only known at deploy time', () => {
    expect(versionAtSynth(`colorapp:${Fn.importValue('ImageTag')}`, stack)).toBeNull();
    expect(versionAtSynth(`${stack.account}.dkr.ecr.${stack.region}.amazonaws.com/colorapp`, stack)).toBeNull();
  });
});

describe('definitionPlaceholders', () => {
  it('lists each ${Name} once, in order', () => {
    expect(definitionPlaceholders('{"a":"${AFunctionArn}","b":"${B}","c":"${AFunctionArn}"}')).toEqual(['AFunctionArn', 'B']);
  });
});

describe('the Envoy stats configuration script', () => {
  it('writes the Service and Color tags from the environment and keeps the App Mesh tag regexes intact', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'envoy-stats-'));
    const file = path.join(dir, 'stats.yaml');
    execFileSync('sh', ['-c', envoyStatsConfigScript(file)], { env: { SERVICE: 'colorapp', COLOR: 'green', PATH: process.env.PATH } });
    const written = readFileSync(file, 'utf8');
    expect(written).toContain('  - tag_name: Service\n    fixed_value: "colorapp"');
    expect(written).toContain('  - tag_name: Color\n    fixed_value: "green"');
    expect(written).toContain("regex: '.*?\\.ingress\\.((\\w+?)\\.)[0-9]+?\\.(.+?)$'");
    expect(written.startsWith('stats_config:\n  stats_tags:\n')).toBe(true);
    // Envoy's default tags carry the response class and the listener of the metric contract.
    expect(written).toContain('\n  use_all_default_tags: true\n');
  });
});
