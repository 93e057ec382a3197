import { type App, CfnOutput, Duration, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ReleasePipeline } from '../constructs/release-pipeline';
import { ReleasedService, type ReleasedServiceOptions } from '../constructs/released-service';
import type { ReleaseSettings } from '../colorapp-settings';
import type { ColorappCopyStack } from './colorapp-copy-stack';
import { ReleaseStrategy, ReleaseTraffic } from '../constructs/release-options';
import type { ColorappServiceStack } from './colorapp-service-stack';

/** Properties of {@link ColorappReleaseStack}. */
export interface ColorappReleaseStackProps extends StackProps {
  /** The sample service the pipeline releases. */
  readonly service: ColorappServiceStack;
  /**
   * What happens to log groups, the notification key and the artifact bucket on deletion.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The release pipeline of colorapp, in its own stack so the pipeline can be changed (or torn
 * down) without touching the running service. Everything it is told comes from the settings the
 * service stack was built from (`infra/colorapp-settings.ts`), the same the local environment
 * runs with. Adding your own service is the same: one `ReleasePipeline` pointed at your cluster,
 * services, route and roles.
 */
export class ColorappReleaseStack extends Stack {
  readonly pipeline: ReleasePipeline;
  /** The sample service stack it releases. */
  readonly service: ColorappServiceStack;

  constructor(scope: Construct, id: string, props: ColorappReleaseStackProps) {
    super(scope, id, props);
    const { service } = props;
    const { settings } = service;
    this.service = service;
    this.pipeline = new ReleasePipeline(this, 'Colorapp', {
      ...releaseOptionsOf(settings, service),
      repository: service.repository,
      removalPolicy: props.removalPolicy,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.pipeline.api.url, description: 'Release API (SigV4-signed requests only)' });
    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: this.pipeline.notificationTopic.topicArn,
      description: 'Subscribe to hear about approvals and failed releases',
    });
    new CfnOutput(this, 'ClearLockFunctionName', {
      value: this.pipeline.clearLockFunction.functionName,
      description: 'Admin: clears a stale lock after you have checked it',
    });
    if (this.pipeline.pipeline) {
      new CfnOutput(this, 'PipelineName', { value: this.pipeline.pipeline.pipelineName });
    }
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.pipeline.deadLetterQueue.queueUrl,
      description: 'Release events that were not handled (the DeadLettersAlarm notifies the topic when one lands here)',
    });
    new CfnOutput(this, 'RepositoryUri', { value: service.repository.repositoryUri, description: 'Push release images here' });
  }
}

/**
 * The traffic backend the service stack was built with: the ALB listener's weighted rule with the
 * colours' target groups and header rules, or the App Mesh weighted route between the virtual
 * nodes.
 */
function releaseTrafficOf(service: ColorappServiceStack): ReleaseTraffic {
  if (service.alb) {
    const { listener, loadBalancer, weightedRule, targetGroups, testRules } = service.alb;
    return ReleaseTraffic.alb({
      listener,
      loadBalancer,
      // The rule a custom resource created once: CloudFormation never resets its weights.
      rule: weightedRule.ruleArn,
      blueTargetGroup: targetGroups.blue,
      greenTargetGroup: targetGroups.green,
      testRules: { blue: testRules.blue, green: testRules.green },
    });
  }
  if (service.appMesh) {
    const { weightedRoute, virtualNodes } = service.appMesh;
    return ReleaseTraffic.appMesh({ route: weightedRoute, blueVirtualNode: virtualNodes.blue, greenVirtualNode: virtualNodes.green });
  }
  throw new Error(`ColorappReleaseStack: the service stack ${service.node.path} has neither a load balancer nor a mesh`);
}

/** The release options of a sample service, from the settings it was built with. */
function releaseOptionsOf(
  settings: ReleaseSettings,
  service: Pick<ColorappServiceStack, 'cluster' | 'taskRole' | 'executionRole' | 'colourEnvironmentVariable'> & {
    readonly services: ColorappServiceStack['services'];
    readonly taskDefinitions: ColorappServiceStack['taskDefinitions'];
  },
  traffic: ReleaseTraffic = releaseTrafficOf(service as ColorappServiceStack),
): ReleasedServiceOptions {
  return {
    serviceName: settings.serviceName,
    cluster: service.cluster,
    blueService: service.services.blue,
    greenService: service.services.green,
    // The services are created once by custom resources: these are what they start with.
    initialTaskDefinitions: service.taskDefinitions,
    taskDefinitionFamily: settings.taskDefinitionFamily,
    containerName: settings.containerName,
    colourEnvironmentVariable: settings.colourEnvironmentVariable,
    taskRoles: [service.taskRole, service.executionRole],
    traffic,
    strategy: ReleaseStrategy.fromConfig(settings.strategy),
    bakeTime: Duration.seconds(settings.bakeSeconds),
    minSuccessRate: settings.health.minSuccessRate,
    floorSuccessRate: settings.health.floorSuccessRate,
    maxP99Latency: Duration.millis(settings.health.maxP99LatencyMs),
    minRequestsPerStep: settings.health.minRequestsPerStep,
    maxInconclusiveBakes: settings.health.maxInconclusiveBakes,
    // Not read with the ALB (its metrics are AWS/ApplicationELB), but written to the config
    // document either way, so the document is the settings' (serviceConfigOf) in both variants.
    metricNamespace: settings.health.metricNamespace,
    metricPeriod: Duration.seconds(settings.health.metricPeriodSeconds),
    alarmPeriod: Duration.seconds(settings.alarms.periodSeconds),
    alarmEvaluationPeriods: settings.alarms.evaluationPeriods,
    alarmDatapointsToAlarm: settings.alarms.datapointsToAlarm,
    approvalTimeout: Duration.seconds(settings.approvalTimeoutSeconds),
    stabilizationPollInterval: Duration.seconds(settings.stabilization.pollSeconds),
    stabilizationTimeout: Duration.seconds(settings.stabilization.timeoutSeconds),
    scaleDownDelay: Duration.seconds(settings.promotion.scaleDownDelaySeconds),
    keepOldColourWarm: settings.promotion.keepOldColourWarm,
  };
}

/** Copies registered beside the engine; the rest go to stacks of their own (CloudFormation's 500 resources per stack). */
const COPIES_IN_RELEASE_STACK = 19;
const COPIES_PER_EXTRA_STACK = 30;

/**
 * Registers each copy of colorapp (the fleet sample, `cdk synth -c services=N`) with colorapp's
 * engine: one `ReleasedService` each, the first ones in the release stack, the others in stacks
 * of their own. No copy adds a function, state machine or API.
 */
export function registerSampleCopies(app: App, release: ColorappReleaseStack, copies: readonly ColorappCopyStack[], props: StackProps = {}): ReleasedService[] {
  const extraStacks: Stack[] = [];
  return copies.map((copy, i) => {
    const extra = Math.floor((i - COPIES_IN_RELEASE_STACK) / COPIES_PER_EXTRA_STACK);
    const stack =
      i < COPIES_IN_RELEASE_STACK
        ? release
        : (extraStacks[extra] ??= new Stack(app, `ColorappReleaseServices${extra + 1}`, {
            ...props,
            description: 'Copies of colorapp registered with the colorapp release engine (fleet sample)',
          }));
    const traffic = ReleaseTraffic.alb({
      listener: copy.listener,
      loadBalancer: release.service.alb!.loadBalancer,
      rule: copy.weightedRule.ruleArn,
      blueTargetGroup: copy.targetGroups.blue,
      greenTargetGroup: copy.targetGroups.green,
    });
    return new ReleasedService(stack, `Service${copy.settings.serviceName.replace(/[^A-Za-z0-9]/g, '')}`, {
      ...releaseOptionsOf(copy.settings, { ...release.service, services: copy.services, taskDefinitions: copy.taskDefinitions }, traffic),
      engine: release.pipeline,
    });
  });
}
