/**
 * Runs the real `statemachines/release.asl.json` with aws-local-stepfunctions, every Task
 * state mapped to the real handler its placeholder names, against the {@link FakeAws} world.
 * `.waitForTaskToken` tasks get a real token from the world; they finish when something calls
 * SendTaskSuccess/SendTaskFailure (the alarm-watcher, the approve/reject API) or time out.
 * `events:putEvents` tasks are judged by EventBridge's rules (local/asl/put-events) and the
 * events they send are recorded in the run's result.
 */
import './polyfills';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { parameterNames } from '../../lambdas/shared/documents';
import { REGISTRY_PATH_ENV, registryEntryOf, registryPathOf } from '../../lambdas/shared/registry';
import type { ServiceConfigInput } from '../../lambdas/shared/config';
import { allStates, handlerFileOf, loadDefinition, RELEASE_ASL_PATH } from '../../local/asl/definition';
import { failedEntryError, putEventsOutcomes, putEventsResponse, type AcceptedEvent } from '../../local/asl/put-events';
import {
  LISTENER_ARN,
  RULE_ARN,
  rule as listenerRule,
  TARGET_GROUP_ARNS,
  TEST_RULE_ARNS,
  testRule,
  weightedForward,
} from './alb-fixtures';
import { FakeAws } from './fake-aws';

export { handlerFileOf, placeholderOf } from '../../local/asl/definition';

export const ASL_PATH = RELEASE_ASL_PATH;
export const ACCOUNT = '111122223333';
export const REGION = 'eu-west-1';
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:colorapp-release`;
/** The engine the path tests register their services with; the engine-wide handlers read its registry. */
export const ENGINE = 'ecs-release';
process.env[REGISTRY_PATH_ENV] = registryPathOf(ENGINE);

/** Registers `service` with the engine, as the ReleasedService construct does (its registry entry). */
export function registerService(world: FakeAws, service: string): void {
  world.parameters.set(registryEntryOf(ENGINE, service), { value: service, version: 1 });
}

type Handler = (event: unknown) => Promise<unknown>;

// The definition as the local runner runs it (placeholders substituted, known deviations
// corrected): the same loader the local Step Functions service uses.
const loaded = loadDefinition({
  path: ASL_PATH,
  region: REGION,
  account: ACCOUNT,
  functionName: (placeholder) => `colorapp-${handlerFileOf(placeholder)}`,
});
// Constructing validates the definition (150-350 ms): once per test file.
const machine = new StateMachine(loaded.definition, { validationOptions: { checkArn: true, checkPaths: true } });

/**
 * Real milliseconds per second of a token task's `TimeoutSeconds`. A bake ends when its task
 * times out; the runner's own timer would spend a whole real second per bake second, so the
 * harness ends the task first, with the `States.Timeout` error the runner would raise (Catch
 * matches on the name), on a clock 20 times faster.
 */
const TOKEN_TASK_MS_PER_SECOND = 50;

/** The TimeoutSecondsPath of each token task, as the loader rewrote it (read from the task's input). */
const tokenTaskTimeoutPaths = new Map(
  [...allStates(loaded.definition as never)]
    .filter(([, state]) => typeof state.TimeoutSecondsPath === 'string')
    .map(([name, state]) => [name, String(state.TimeoutSecondsPath)]),
);

/** Rejects with `States.Timeout` when the token task's timeout, on the harness clock, has passed. */
function tokenTaskTimeout(stateName: string, taskInput: unknown): Promise<never> {
  const timeoutPath = tokenTaskTimeoutPaths.get(stateName);
  if (!timeoutPath) return new Promise<never>(() => undefined);
  const seconds = timeoutPath
    .replace(/^\$\./, '')
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], taskInput);
  if (typeof seconds !== 'number') throw new Error(`${stateName}: ${timeoutPath} is not a number in the task input`);
  return new Promise<never>((_resolve, reject) => {
    const timer = setTimeout(
      () => reject(Object.assign(new Error('Task timed out'), { name: 'States.Timeout' })),
      seconds * TOKEN_TASK_MS_PER_SECOND,
    );
    timer.unref();
  });
}

/** The colorapp service configuration the tests seed (small bakes and fast polls). */
export function colorappConfig(overrides: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return {
    service: 'colorapp',
    cluster: 'colorapp-cluster',
    ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
    taskDefinitionFamily: 'colorapp',
    containerName: 'app',
    colourEnvironmentVariable: 'COLOR',
    traffic: {
      kind: 'appmesh',
      meshName: 'colorapp-mesh',
      virtualRouterName: 'colorapp-router',
      routeName: 'colorapp-route',
      virtualNodes: { blue: 'colorapp-blue-node', green: 'colorapp-green-node' },
    },
    health: {
      alarms: { common: ['colorapp-5xx'], blue: ['colorapp-blue-p99'], green: ['colorapp-green-p99'] },
      minSuccessRate: 0.99,
      maxP99LatencyMs: 500,
      minRequestsPerStep: 20,
      maxInconclusiveBakes: 1,
    },
    defaultStrategy: { type: 'canary', steps: [10, 50, 100] },
    bakeSeconds: 1,
    approvalTimeoutSeconds: 60,
    stabilization: { pollSeconds: 1, timeoutSeconds: 60 },
    promotion: { scaleDownDelaySeconds: 0, keepOldColourWarm: false },
    ...overrides,
  };
}

/** The ARN of a virtual node of the seeded mesh, as the Envoy sidecar's `APPMESH_RESOURCE_ARN` names it. */
export function virtualNodeArn(meshName: string, node: string): string {
  return `arn:aws:appmesh:${REGION}:${ACCOUNT}:mesh/${meshName}/virtualNode/${node}`;
}

/**
 * Seeds colorapp: blue v1 live at 100% with 2 tasks, green idle at 0 on an older revision. Each
 * revision is colour-specific as the CDK app builds it: the app's colour variable, the Envoy
 * sidecar registered as the colour's virtual node, and the stats init container's colour tag.
 */
export function seedColorapp(world: FakeAws, config: ServiceConfigInput = colorappConfig()): { blueTd: string; greenTd: string } {
  world.putJson(parameterNames('colorapp').config, config);
  registerService(world, 'colorapp');
  if (config.traffic.kind !== 'appmesh') throw new Error('seedColorapp seeds App Mesh traffic only');
  const { meshName, virtualNodes } = config.traffic;
  const definition = (colour: 'blue' | 'green', image: string) => ({
    family: 'colorapp',
    networkMode: 'awsvpc' as const,
    requiresCompatibilities: ['FARGATE' as const],
    cpu: '256',
    memory: '512',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-exec`,
    proxyConfiguration: {
      type: 'APPMESH' as const,
      containerName: 'envoy',
      properties: [{ name: 'AppPorts', value: '8080' }],
    },
    containerDefinitions: [
      { name: 'app', image, essential: true, environment: [{ name: 'COLOR', value: colour }], portMappings: [{ containerPort: 8080 }] },
      {
        name: 'envoy',
        image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod',
        essential: true,
        user: '1337',
        environment: [
          { name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn(meshName, virtualNodes[colour]) },
          { name: 'ENABLE_ENVOY_DOG_STATSD', value: '1' },
        ],
      },
      {
        name: 'envoy-stats-config',
        image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod',
        essential: false,
        environment: [
          { name: 'SERVICE', value: 'colorapp' },
          { name: 'COLOR', value: colour },
        ],
      },
    ],
  });
  const greenTd = world.seedTaskDefinition(definition('green', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v0'));
  const blueTd = world.seedTaskDefinition(definition('blue', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v1'));
  world.seedService('colorapp-blue', blueTd, 2);
  world.seedService('colorapp-green', greenTd, 0);
  world.seedRoute('colorapp-mesh', 'colorapp-router', 'colorapp-route', { 'colorapp-blue-node': 100, 'colorapp-green-node': 0 });
  for (const alarm of ['colorapp-5xx', 'colorapp-blue-p99', 'colorapp-green-p99']) world.alarms.set(alarm, 'OK');
  world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
  world.traffic.set('blue', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
  return { blueTd, greenTd };
}

/**
 * colorapp behind an Application Load Balancer: the production listener's weighted rule (or its
 * default action, with `rule: 'listener-default'`), a header test rule per colour, one target
 * group per colour. The health metric source is left to its default (the load balancer's).
 */
export function colorappAlbConfig(overrides: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return colorappConfig({
    traffic: {
      kind: 'alb',
      listenerArn: LISTENER_ARN,
      rule: RULE_ARN,
      targetGroups: { ...TARGET_GROUP_ARNS },
      testRules: { ...TEST_RULE_ARNS },
    },
    ...overrides,
  });
}

/**
 * Seeds colorapp on ALB: blue v1 live with 2 tasks behind its target group, green idle at 0
 * tasks on an older revision, the weighted forward at blue 100 / green 0 (target-group
 * stickiness on), a header test rule per colour, alarms OK and traffic on both colours.
 * Each revision carries only the app container and its colour: ECS registers the tasks in the
 * target group, nothing in the task definition names it.
 */
export function seedColorappAlb(world: FakeAws, config: ServiceConfigInput = colorappAlbConfig()): { blueTd: string; greenTd: string } {
  world.putJson(parameterNames('colorapp').config, config);
  registerService(world, 'colorapp');
  if (config.traffic.kind !== 'alb') throw new Error('seedColorappAlb seeds ALB traffic only');
  const definition = (colour: 'blue' | 'green', image: string) => ({
    family: 'colorapp',
    networkMode: 'awsvpc' as const,
    requiresCompatibilities: ['FARGATE' as const],
    cpu: '256',
    memory: '512',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-exec`,
    containerDefinitions: [
      { name: 'app', image, essential: true, environment: [{ name: 'COLOR', value: colour }], portMappings: [{ containerPort: 8080 }] },
    ],
  });
  const greenTd = world.seedTaskDefinition(definition('green', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v0'));
  const blueTd = world.seedTaskDefinition(definition('blue', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v1'));
  world.seedService('colorapp-blue', blueTd, 2);
  world.seedService('colorapp-green', greenTd, 0);
  world.targetGroups.set(TARGET_GROUP_ARNS.blue, { colour: 'blue', serviceName: 'colorapp-blue' });
  world.targetGroups.set(TARGET_GROUP_ARNS.green, { colour: 'green', serviceName: 'colorapp-green' });
  const weighted = weightedForward([
    [TARGET_GROUP_ARNS.blue, 100],
    [TARGET_GROUP_ARNS.green, 0],
  ]);
  const onDefault = config.traffic.rule === 'listener-default';
  world.seedListener({
    ListenerArn: LISTENER_ARN,
    LoadBalancerArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/colorapp/50dc6c495c0c9188`,
    Port: 80,
    Protocol: 'HTTP',
    DefaultActions: onDefault
      ? [weighted]
      : [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'no route' } }],
  });
  if (!onDefault) world.seedRule(listenerRule([weighted]));
  world.seedRule(testRule('blue'));
  world.seedRule(testRule('green'));
  world.weightedForwardOf = onDefault ? { listener: LISTENER_ARN } : { rule: RULE_ARN };
  for (const alarm of ['colorapp-5xx', 'colorapp-blue-p99', 'colorapp-green-p99']) world.alarms.set(alarm, 'OK');
  world.traffic.set('green', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
  world.traffic.set('blue', { requests: 1000, errors5xx: 0, p99LatencyMs: 40 });
  return { blueTd, greenTd };
}

/** Hooks a test uses to act during a run, as a person or an event would. */
export interface RunHooks {
  /** A bake started (its token is stored): fire an alarm, abort, ... */
  onBakeStarted?: (info: { token: string; stepIndex: number; abort: () => void }) => void | Promise<void>;
  /** An approval gate is waiting: approve or reject through the API. */
  onApprovalRequested?: (info: { token: string; gate: string; abort: () => void }) => void | Promise<void>;
  /** A state finished (after its handler ran): inject failures, abort, ... */
  onStateDone?: (name: string, output: unknown, abort: () => void) => void | Promise<void>;
  /**
   * A PutEvents task is about to send these events (each attempt, retries included): throw an
   * error named as Step Functions names it (`EventBridge.ThrottlingException`, ...) to fail
   * the call; nothing is recorded then.
   */
  onPutEvents?: (stateName: string, events: readonly AcceptedEvent[]) => void | Promise<void>;
}

/** An event a PutEvents task sent, with the state that sent it. */
export interface SentEvent extends AcceptedEvent {
  readonly stateName: string;
  readonly eventBusName: string;
}

/** The outcome of one run. */
export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output: Record<string, unknown> | null;
  readonly error: { Error: string; Cause: string } | null;
  /** States entered, in order. */
  readonly path: string[];
  /** State transitions, as Step Functions bills them (states entered). */
  readonly transitions: number;
  /** Every event the execution's PutEvents tasks sent, in order. */
  readonly events: SentEvent[];
  readonly executionArn: string;
  readonly releaseId: string;
  readonly input: Record<string, unknown>;
}

let runCounter = 0;

/** Runs one release to its end. */
export async function runRelease(world: FakeAws, input: Record<string, unknown>, hooks: RunHooks = {}): Promise<RunResult> {
  const releaseId = `colorapp-test-${++runCounter}-${Date.now()}`;
  const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:colorapp-release:${releaseId}`;
  let abort: () => void = () => undefined;
  // StopExecution ends a waiting task at once in AWS; the local runner only notices an abort
  // between states, so a waiting token task also listens for it.
  let aborted: (error: Error) => void = () => undefined;
  const abortSignal = new Promise<never>((_resolve, reject) => (aborted = reject));
  abortSignal.catch(() => undefined);
  const abortLater = () =>
    setImmediate(() => {
      abort();
      aborted(Object.assign(new Error('Execution aborted'), { name: 'States.Aborted' }));
    });
  const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
  const events: SentEvent[] = [];
  // `$$.State.EnteredTime` resolves to this in Parameters; the override puts the time in.
  const enteredTime = `entered-time-${randomUUID()}`;
  for (const { stateName: name } of loaded.putEventsTasks) {
    overrides[name] = async (taskInput: unknown) => {
      world.expireTokens(releaseId);
      const parameters = withValue(taskInput, enteredTime, new Date().toISOString()) as { Entries: Array<{ EventBusName?: string }> };
      const outcomes = putEventsOutcomes(parameters, { executionArn, stateMachineArn: STATE_MACHINE_ARN, region: REGION, account: ACCOUNT });
      const accepted = outcomes.flatMap((outcome) => (outcome.accepted ? [outcome.event] : []));
      await hooks.onPutEvents?.(name, accepted);
      const busNames = parameters.Entries.map((entry) => entry.EventBusName ?? 'default');
      const ids = outcomes.map((outcome, index) => {
        if (!outcome.accepted) return undefined;
        events.push({ stateName: name, eventBusName: busNames[index], ...outcome.event });
        return randomUUID();
      });
      const response = putEventsResponse(outcomes, ids);
      const failure = failedEntryError(response);
      if (failure) throw failure;
      await hooks.onStateDone?.(name, response, abortLater);
      return response;
    };
  }
  for (const { stateName: name, placeholder, integration } of loaded.tasks) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const handler = require(`../../lambdas/${handlerFileOf(placeholder)}`).handler as Handler;
    const waitsForToken = integration === 'invoke.waitForTaskToken';
    overrides[name] = async (taskInput: unknown) => {
      // One task of a run runs at a time: a token task of this run still waiting when the run's
      // next task starts has timed out, so its token is dead, as in AWS. Other runs' tokens live on.
      world.expireTokens(releaseId);
      if (!waitsForToken) {
        const output = await handler(taskInput);
        await hooks.onStateDone?.(name, output, abortLater);
        return output;
      }
      const payload = (taskInput as { Payload: Record<string, unknown> }).Payload;
      const { token, done } = world.createToken(releaseId);
      await handler({ ...payload, taskToken: token });
      if (name === 'Bake') {
        const progress = payload.progress as { stepIndex: number };
        await hooks.onBakeStarted?.({ token, stepIndex: progress.stepIndex, abort: abortLater });
      } else {
        await hooks.onApprovalRequested?.({ token, gate: String(payload.gate), abort: abortLater });
      }
      return Promise.race([done, abortSignal, tokenTaskTimeout(name, taskInput)]);
    };
  }
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: overrides as never,
      waitTimeOverrides: { WaitForStability: 10, WaitBeforeScaleDown: 0 },
      retryIntervalOverrides: {
        Rollback: 0,
        MarkRollbackFailed: 0,
        ScaleDownOldColour: 0,
        ReleaseLock: 0,
        ReleaseLockAfterScaleDownFailure: 0,
        ...Object.fromEntries(loaded.putEventsTasks.map((task) => [task.stateName, 0])),
      },
    },
    noThrowOnAbort: true,
    context: {
      Execution: { Id: executionArn, Name: releaseId, StartTime: new Date().toISOString(), Input: input as never },
      Task: { Token: 'replaced-per-task' },
      State: { EnteredTime: enteredTime },
    },
  });
  abort = execution.abort;
  const path: string[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') path.push(event.state.name);
    }
  })();
  let status: RunResult['status'] = 'SUCCEEDED';
  let output: Record<string, unknown> | null = null;
  let error: RunResult['error'] = null;
  try {
    output = (await execution.result) as Record<string, unknown> | null;
    if (output === null) status = 'ABORTED';
  } catch (e) {
    status = 'FAILED';
    const cause = (e as { cause?: { name?: string; message?: string } }).cause;
    error = { Error: cause?.name ?? (e as Error).name, Cause: cause?.message ?? (e as Error).message };
  }
  await Promise.race([collecting, new Promise((r) => setTimeout(r, 200))]);
  world.executions.set(executionArn, status);
  return { status, output, error, path, transitions: path.length, events, executionArn, releaseId, input };
}

/** A JSON copy of `value` with every string equal to `placeholder` replaced by `actual`. */
function withValue(value: unknown, placeholder: string, actual: string): unknown {
  return JSON.parse(JSON.stringify(value), (_key, item: unknown) => (item === placeholder ? actual : item));
}

/** The standard start request for colorapp v2. */
export function v2Request(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { service: 'colorapp', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2', requestedBy: 'test', reason: 'path test', ...extra };
}
