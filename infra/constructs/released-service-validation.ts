import { Duration, type Stack, Token } from 'aws-cdk-lib';
import { ColourSchema } from '../../lambdas/shared/colours';
import { type MetricSource, type ServiceConfig, ServiceConfigSchema, type TrafficConfig } from '../../lambdas/shared/config';
import { versionOf } from '../../lambdas/shared/release';
import { worstCaseOf } from '../../lambdas/shared/release-budget';
import { computeSchedule } from '../../lambdas/shared/schedule';
import type { ReleasedServiceOptions } from './released-service';
import type { ReleaseTrafficBinding } from './release-options';

/*
 * What a registered service's props must satisfy, checked when the construct is built (each
 * message names the prop), and the small pure helpers the construct uses. Apart from the
 * construct so that it reads as what it builds.
 */

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Fails early with a message naming the prop. The configuration document is checked against
 * the same schema the handlers use, so what the construct writes is what they accept.
 */
export function validateProps(props: ReleasedServiceOptions, traffic: ReleaseTrafficBinding, metricSource: MetricSource, label: string): void {
  const { serviceName } = props;
  if (Token.isUnresolved(serviceName) || !/^[a-zA-Z0-9_.-]{1,60}$/.test(serviceName)) {
    throw new Error(
      `${label} serviceName must be a literal of 1 to 60 letters, digits, '_', '.' or '-' ` +
        `(it names SSM parameters, alarms and the state machine), got '${serviceName}'`,
    );
  }
  if (props.taskRoles.length === 0) {
    throw new Error(`${label} taskRoles must name the task and execution roles of the task definitions (iam:PassRole)`);
  }
  if (props.blueService === props.greenService) {
    throw new Error(`${label} blueService and greenService must be two different ECS services`);
  }
  for (const [name, fraction, example] of [['minSuccessRate', props.minSuccessRate, 0.99], ['floorSuccessRate', props.floorSuccessRate, 0.95]] as const) {
    if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) {
      throw new Error(`${label} ${name} is a fraction in (0, 1], e.g. ${example}; got ${fraction}`);
    }
  }
  const period = props.metricPeriod?.toSeconds();
  for (const [name, seconds] of [['metricPeriod', period], ['alarmPeriod', props.alarmPeriod?.toSeconds()]] as const) {
    if (seconds !== undefined && ![10, 30].includes(seconds) && seconds % 60 !== 0) {
      throw new Error(`${label} ${name} must be 10 or 30 seconds or a multiple of 60 seconds, got ${seconds} s`);
    }
    if (seconds !== undefined && metricSource === 'load-balancer' && (seconds < 60 || seconds % 60 !== 0)) {
      throw new Error(
        `${label} ${name} must be a multiple of 60 seconds with metricSource 'load-balancer': Elastic Load Balancing ` +
          `publishes AWS/ApplicationELB metrics every 60 seconds, so a shorter period only ever sees missing data; got ${seconds} s. ` +
          "For faster signals, publish high-resolution metrics from the application (metricSource 'application').",
      );
    }
  }
  if (metricSource === 'load-balancer' && !traffic.loadBalancerMetrics) {
    throw new Error(`${label} metricSource 'load-balancer' needs ReleaseTraffic.alb; this traffic is '${traffic.config.kind}'`);
  }
  if (metricSource === 'application') {
    if (props.metricNamespace === undefined) {
      throw new Error(`${label} metricSource 'application' needs metricNamespace: the namespace your application publishes its metrics to`);
    }
    if (props.createColourAlarms ?? true) {
      throw new Error(
        `${label} has no default colour alarms for metricSource 'application' yet: set createColourAlarms: false ` +
          'and add alarms on your metrics with addAlarm()',
      );
    }
  }
  const evaluationPeriods = props.alarmEvaluationPeriods ?? 6;
  const datapointsToAlarm = props.alarmDatapointsToAlarm ?? 3;
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) {
    throw new Error(`${label} alarmEvaluationPeriods must be a whole number of periods, at least 1; got ${evaluationPeriods}`);
  }
  if (!Number.isInteger(datapointsToAlarm) || datapointsToAlarm < 1 || datapointsToAlarm > evaluationPeriods) {
    throw new Error(
      `${label} alarmDatapointsToAlarm must be a whole number from 1 to alarmEvaluationPeriods (${evaluationPeriods}); got ${datapointsToAlarm}`,
    );
  }
  const alarmPeriod = props.alarmPeriod?.toSeconds() ?? period ?? defaultMetricPeriod(metricSource).toSeconds();
  if (evaluationPeriods * alarmPeriod > 86_400) {
    throw new Error(
      `${label} alarmEvaluationPeriods × alarm period must be at most one day (CloudWatch's limit); ` +
        `got ${evaluationPeriods} × ${alarmPeriod} s`,
    );
  }
  if (props.initialLiveColour !== undefined && !ColourSchema.safeParse(props.initialLiveColour).success) {
    throw new Error(`${label} initialLiveColour must be 'blue' or 'green', got '${String(props.initialLiveColour)}'`);
  }
  if (props.releaseOnPushTags !== undefined) {
    if (!props.repository) throw new Error(`${label} releaseOnPushTags needs repository: the tags are pushed to that repository`);
    const pipelineTag = props.pipelineImageTag ?? 'latest';
    if (!/^[A-Za-z0-9_.*-]{1,128}$/.test(props.releaseOnPushTags)) {
      throw new Error(`${label} releaseOnPushTags must be an image tag pattern (letters, digits, _ . - and *), got '${props.releaseOnPushTags}'`);
    }
    if (wildcardMatches(props.releaseOnPushTags, pipelineTag)) {
      throw new Error(
        `${label} releaseOnPushTags '${props.releaseOnPushTags}' matches the pipeline's tag '${pipelineTag}': ` +
          'one push would start two releases of one digest, one of them without the approval. Use a pattern that leaves it out.',
      );
    }
  }
  if (props.pipelineImageTag !== undefined && !props.repository) {
    throw new Error(`${label} pipelineImageTag needs repository: the pipeline watches a tag of that repository`);
  }
  // The rest of the document: parse it with placeholders for what only exists at deploy time.
  const placeholder = 'placeholder';
  const document = {
    service: serviceName,
    cluster: placeholder,
    ecsServices: { blue: placeholder, green: placeholder },
    taskDefinitionFamily: Token.isUnresolved(props.taskDefinitionFamily) ? placeholder : props.taskDefinitionFamily,
    containerName: Token.isUnresolved(props.containerName) ? placeholder : props.containerName,
    colourEnvironmentVariable: props.colourEnvironmentVariable,
    // The backend checked its own section when it was bound (its ARNs may be deploy-time values);
    // here it only has to be of the right kind for the metric source.
    traffic: placeholderTraffic(traffic.config.kind),
    health: {
      metricSource: props.metricSource,
      minSuccessRate: props.minSuccessRate,
      maxP99LatencyMs: props.maxP99Latency?.toMilliseconds(),
      minRequestsPerStep: props.minRequestsPerStep,
      maxInconclusiveBakes: props.maxInconclusiveBakes,
      metricNamespace: props.metricNamespace,
      metricPeriodSeconds: period ?? defaultMetricPeriod(metricSource).toSeconds(),
    },
    defaultStrategy: props.strategy?.config,
    bakeSeconds: props.bakeTime?.toSeconds(),
    approvals: { beforeTraffic: props.approveBeforeTraffic ?? false, beforePromote: props.approveBeforePromote ?? false },
    approvalTimeoutSeconds: props.approvalTimeout?.toSeconds(),
    stabilization: {
      pollSeconds: props.stabilizationPollInterval?.toSeconds(),
      timeoutSeconds: props.stabilizationTimeout?.toSeconds(),
    },
    promotion: { scaleDownDelaySeconds: props.scaleDownDelay?.toSeconds(), keepOldColourWarm: props.keepOldColourWarm },
    historyLength: props.historyLength,
  };
  const parsed = ServiceConfigSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`);
    throw new Error(`${label} props make an invalid service configuration: ${problems.join('; ')}`);
  }
  if (props.repository) assertPipelineReleaseFits(parsed.data, label);
}

/**
 * CodePipeline's Step Functions invoke action fails after one hour, and that timeout cannot be
 * configured (CodePipeline quotas: "all other actions: 1 hour"). A pipeline release that can
 * wait longer would fail the pipeline while the release goes on, so the pipeline would report a
 * release that may still promote as failed. Refuse the combination at synth time.
 */
function assertPipelineReleaseFits(config: ServiceConfig, label: string): void {
  const budget = worstCaseOf({
    schedule: computeSchedule(config.defaultStrategy),
    bakeSeconds: config.bakeSeconds,
    approvals: config.approvals,
    config,
  });
  const limit = PIPELINE_ACTION_TIMEOUT_SECONDS - PIPELINE_TASK_ALLOWANCE_SECONDS;
  if (budget.waitSeconds > limit) {
    throw new Error(
      `${label}: a release from the CodePipeline can wait ${budget.waitSeconds}s (${budget.parts.join('; ')}), ` +
        `but CodePipeline fails its Step Functions action after ${PIPELINE_ACTION_TIMEOUT_SECONDS}s, leaving the release running. ` +
        `Keep the pipeline's releases within ${limit}s (shorter bakes, fewer steps, no approval gates: the pipeline has its own ` +
        'approval), or leave out repository to create no pipeline.',
    );
  }
}

/** CodePipeline quotas: the Step Functions invoke action times out after one hour, not configurable. */
const PIPELINE_ACTION_TIMEOUT_SECONDS = 3_600;
/** Left for the release's tasks themselves within the pipeline action's hour. */
const PIPELINE_TASK_ALLOWANCE_SECONDS = 600;

/**
 * The finest period alarms can use on a metric source: ELB publishes `AWS/ApplicationELB` every
 * 60 seconds; Envoy's and the application's metrics are high resolution (10 seconds is the
 * finest alarm period on those).
 */
export function defaultMetricPeriod(source: MetricSource): Duration {
  return source === 'load-balancer' ? Duration.seconds(60) : Duration.seconds(10);
}

/** A valid `traffic` section of each kind, for checking the rest of the document at synth time. */
function placeholderTraffic(kind: TrafficConfig['kind']): TrafficConfig {
  const placeholder = 'placeholder';
  switch (kind) {
    case 'alb': {
      const prefix = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:';
      return {
        kind,
        listenerArn: `${prefix}listener/app/placeholder/0/0`,
        rule: 'listener-default',
        targetGroups: { blue: `${prefix}targetgroup/blue/0`, green: `${prefix}targetgroup/green/0` },
      };
    }
    case 'appmesh':
      return { kind, meshName: placeholder, virtualRouterName: placeholder, routeName: placeholder, virtualNodes: { blue: placeholder, green: placeholder } };
    default: {
      const unknown: never = kind;
      throw new Error(`ReleasedService: unknown traffic kind '${String(unknown)}'`);
    }
  }
}

/**
 * The version of `image` as the handlers would label it ({@link versionOf}), when the app spells
 * it out: a literal image, or one whose deploy-time parts (account, region, repository) come
 * before a literal tag or digest, as in a container image asset's URI. `null` when the tag itself
 * is only known at deploy time.
 */
export function versionAtSynth(image: string, stack: Stack): string | null {
  if (!Token.isUnresolved(image)) return versionOf(image);
  const tail = literalTail(stack.resolve(image));
  const version = /(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$/.exec(tail);
  return version ? versionOf(version[0]) : null;
}

/** The literal text a resolved CloudFormation string value ends with ('' when it ends in an intrinsic). */
function literalTail(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const [[fn, arg]] = Object.entries(value as Record<string, unknown>);
    if (fn === 'Fn::Join' && Array.isArray(arg) && Array.isArray(arg[1]) && arg[1].length > 0) {
      return literalTail(arg[1][arg[1].length - 1]);
    }
    const template = fn === 'Fn::Sub' ? (Array.isArray(arg) ? arg[0] : arg) : undefined;
    // Fn::Sub: what follows the last ${...} is literal.
    if (typeof template === 'string') return template.slice(template.lastIndexOf('}') + 1);
  }
  return '';
}

/** True when EventBridge's wildcard filter `pattern` (`*` = any characters) matches `value`. */
function wildcardMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}
