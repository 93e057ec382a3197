import { DescribeRouteCommand, UpdateRouteCommand, type AppMeshClient, type WeightedTarget } from '@aws-sdk/client-app-mesh';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { LockDocument, ReleaseRecord, ReleaseState, ReleaseSummary, UndoPlan, Verdict, VerdictSummary } from '../../lambdas/shared/documents';
import type { ServiceConfig } from '../../lambdas/shared/config';
import type { PlannedRelease } from '../../lambdas/shared/release';
import { IMAGE, LIVE_TASK_DEFINITION_ARN, plannedRelease, RELEASE_ID, serviceConfig, taskDefinitionArn } from './ecs-fixtures';
import { appMeshConfig, describeRouteOutput, routeSpecs } from './traffic-fixtures';

/**
 * Fixtures for the handlers that read and write the release documents (lock, state, bake,
 * approval): a release of `colorapp` from blue (live, revision 7) to green (idle, revision 6 at
 * zero tasks), whose traffic is the App Mesh route of traffic-fixtures.ts.
 */

/** Parameter names of colorapp. */
export const NAMES = {
  config: '/ecs-release/colorapp/config',
  state: '/ecs-release/colorapp/state',
  lock: '/ecs-release/colorapp/lock',
  bake: '/ecs-release/colorapp/bake',
  approval: '/ecs-release/colorapp/approval',
} as const;

/** The idle (green) revision before the release. */
export const IDLE_TASK_DEFINITION_ARN = taskDefinitionArn(6);
/** The revision the release registered for green. */
export const NEW_TASK_DEFINITION_ARN = taskDefinitionArn(8);
/** Execution of another release of the same service. */
export const OTHER_EXECUTION_ARN = 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:rel-other';
/** App Mesh route, as `router.describe()` names it. */
export const ROUTE = 'appmesh:colorapp-mesh/colorapp-router/colorapp-route';

/** colorapp's configuration with the traffic section of traffic-fixtures.ts. */
export function config(overrides: Partial<Parameters<typeof serviceConfig>[0]> = {}): ServiceConfig {
  return serviceConfig({ traffic: appMeshConfig, ...overrides });
}

/** The planned release, with the traffic section of traffic-fixtures.ts. */
export function release(overrides: Partial<PlannedRelease> = {}): PlannedRelease {
  return { ...plannedRelease(config()), ...overrides };
}

/** Execution of the release under test. */
export const EXECUTION_ARN = release().executionArn;

/** Undo plan for blue live, green idle at revision 6 x0. */
export function undoPlan(overrides: Partial<UndoPlan> = {}): UndoPlan {
  return {
    live: 'blue',
    idle: 'green',
    idleService: { serviceName: 'colorapp-green', taskDefinitionArn: IDLE_TASK_DEFINITION_ARN, desiredCount: 0 },
    ...overrides,
  };
}

/** The lock of the release under test, held, with the undo plan preflight writes. */
export function lockDocument(overrides: Partial<LockDocument> = {}): LockDocument {
  return {
    service: 'colorapp',
    releaseId: RELEASE_ID,
    executionArn: EXECUTION_ARN,
    acquiredAt: '2025-01-01T12:00:01.000Z',
    image: IMAGE,
    version: '1.4.0',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    requestedBy: 'alice',
    requestReason: null,
    status: 'held',
    reason: null,
    undo: undoPlan(),
    ...overrides,
  };
}

/** A healthy verdict at the first step. */
export function verdict(overrides: Partial<Verdict> = {}): Verdict {
  return {
    status: 'healthy',
    reasons: ['success rate 1 >= 0.99', 'p99 40 ms <= 1000 ms'],
    colour: 'green',
    stepIndex: 0,
    weight: 10,
    attempt: 0,
    window: { start: '2025-01-01T12:05:00.000Z', end: '2025-01-01T12:06:00.000Z' },
    evidence: { requests: 500, errors5xx: 0, successRate: 1, p99LatencyMs: 40, alarmsInAlarm: [] },
    thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
    ...overrides,
  };
}

/**
 * {@link verdict} as the state document keeps it: the decision, the step and the numbers,
 * without the colour, window and thresholds. Spelled out, not computed, so a test of what the
 * state holds does not reuse the code under test.
 */
export function verdictSummary(overrides: Partial<VerdictSummary> = {}): VerdictSummary {
  return {
    stepIndex: 0,
    weight: 10,
    attempt: 0,
    status: 'healthy',
    reasons: ['success rate 1 >= 0.99', 'p99 40 ms <= 1000 ms'],
    evidence: { requests: 500, errors5xx: 0, successRate: 1, p99LatencyMs: 40, alarmsInAlarm: [] },
    ...overrides,
  };
}

/** `record` as the history keeps it: everything but its verdicts. */
export function summaryOf(record: ReleaseRecord): ReleaseSummary {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { verdicts, ...summary } = record;
  return summary;
}

/** A release of an earlier version that promoted blue. */
export function previousRecord(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: 'rel-previous',
    executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:rel-previous',
    image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.3.0',
    version: '1.3.0',
    fromColour: 'green',
    toColour: 'blue',
    strategy: { type: 'blue-green' },
    outcome: 'promoted',
    startedAt: '2024-12-01T10:00:00.000Z',
    finishedAt: '2024-12-01T10:20:00.000Z',
    requestedBy: 'bob',
    reason: null,
    failure: null,
    verdicts: [],
    ...overrides,
  };
}

/** Blue live on revision 7, green on revision 6, one earlier release (its summary heads the history). */
export function releaseState(overrides: Partial<ReleaseState> = {}): ReleaseState {
  return {
    schemaVersion: 1,
    service: 'colorapp',
    live: 'blue',
    colours: {
      blue: { taskDefinitionArn: LIVE_TASK_DEFINITION_ARN, image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.3.0', version: '1.3.0' },
      green: { taskDefinitionArn: IDLE_TASK_DEFINITION_ARN, image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.2.0', version: '1.2.0' },
    },
    lastRelease: previousRecord(),
    history: [summaryOf(previousRecord())],
    updatedAt: '2024-12-01T10:20:00.000Z',
    ...overrides,
  };
}

/** A GetParameter response holding `value` (JSON unless it is a string already). */
export function parameter(name: string, value: unknown) {
  return { Parameter: { Name: name, Type: 'String' as const, Value: typeof value === 'string' ? value : JSON.stringify(value), Version: 1 }, $metadata: {} };
}

/** SSM's error for a missing parameter. */
export function parameterNotFound(): ParameterNotFound {
  return new ParameterNotFound({ message: 'Parameter not found.', $metadata: {} });
}

/** SSM's error for a create-if-absent write that lost. */
export function parameterAlreadyExists(): ParameterAlreadyExists {
  return new ParameterAlreadyExists({
    message: 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
    $metadata: {},
  });
}

/** An AWS-shaped error: the SDK's exceptions carry the error code as `name`. */
export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name });
}

/** An in-memory SSM Parameter Store behind the mock, with SSM's create and not-found semantics. */
export interface FakeParameters {
  /** The parsed document at `name`, or undefined. */
  json<T = unknown>(name: string): T | undefined;
  has(name: string): boolean;
  set(name: string, value: unknown): void;
}

/** Wires `ssm` to an in-memory parameter store seeded with `initial` (values stored as JSON). */
export function fakeParameters(ssm: AwsClientStub<SSMClient>, initial: Record<string, unknown> = {}): FakeParameters {
  const store = new Map<string, string>();
  const set = (name: string, value: unknown) => store.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  for (const [name, value] of Object.entries(initial)) set(name, value);
  ssm.on(GetParameterCommand).callsFake(async (input: { Name: string }) => {
    const value = store.get(input.Name);
    if (value === undefined) throw parameterNotFound();
    return parameter(input.Name, value);
  });
  ssm.on(PutParameterCommand).callsFake(async (input: { Name: string; Value: string; Overwrite?: boolean }) => {
    if (store.has(input.Name) && !input.Overwrite) throw parameterAlreadyExists();
    store.set(input.Name, input.Value);
    return { Version: 2, Tier: 'Standard', $metadata: {} };
  });
  ssm.on(DeleteParameterCommand).callsFake(async (input: { Name: string }) => {
    if (!store.delete(input.Name)) throw parameterNotFound();
    return { $metadata: {} };
  });
  // One page, not recursive: what the engine-wide handlers ask of a service registry.
  ssm.on(GetParametersByPathCommand).callsFake(async (input: { Path: string }) => {
    const prefix = `${input.Path.replace(/\/$/, '')}/`;
    const names = [...store.keys()].filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/')).sort();
    return { Parameters: names.map((name) => parameter(name, store.get(name)!).Parameter), $metadata: {} };
  });
  return {
    json: <T>(name: string) => (store.has(name) ? (JSON.parse(store.get(name)!) as T) : undefined),
    has: (name) => store.has(name),
    set,
  };
}

/** The documents written to `name`, parsed, in order. */
export function putDocuments<T = unknown>(ssm: AwsClientStub<SSMClient>, name: string): T[] {
  return ssm.commandCalls(PutParameterCommand, { Name: name }).map((call) => JSON.parse(call.args[0].input.Value!) as T);
}

/** Targets of the route fixture: live node first, as the router writes them. */
export function targets(blue: number, green: number, order: 'blue-first' | 'green-first' = 'blue-first'): WeightedTarget[] {
  const b = { virtualNode: 'colorapp-blue', weight: blue };
  const g = { virtualNode: 'colorapp-green', weight: green };
  return order === 'blue-first' ? [b, g] : [g, b];
}

/** A stateful App Mesh route: DescribeRoute shows what the last UpdateRoute set. */
export function fakeRoute(appmesh: AwsClientStub<AppMeshClient>, initial: WeightedTarget[]): { targets(): WeightedTarget[] } {
  let current = initial;
  let version = 1;
  appmesh.on(DescribeRouteCommand).callsFake(async () => describeRouteOutput(routeSpecs(current).httpRoute, { version }));
  appmesh.on(UpdateRouteCommand).callsFake(async (input: { spec: { httpRoute: { action: { weightedTargets: WeightedTarget[] } } } }) => {
    current = input.spec.httpRoute.action.weightedTargets;
    version++;
    return describeRouteOutput(routeSpecs(current).httpRoute, { version });
  });
  return { targets: () => current };
}

/** Anything aws-sdk-client-mock recorded calls on. */
interface RecordedCalls {
  calls(): { args: unknown[]; calledBefore(other: never): boolean }[];
}

/**
 * Every command sent to `mocks`, in the order sent, as `"<Command> <subject>"`: the parameter
 * name, the ECS service, the route or the execution. Tests assert the exact sequence.
 */
export function timeline(...mocks: RecordedCalls[]): string[] {
  const calls = mocks.flatMap((mock) => mock.calls());
  calls.sort((a, b) => (a.calledBefore(b as never) ? -1 : 1));
  return calls.map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: Record<string, unknown> };
    const input = command.input;
    const subject = input.Name ?? input.service ?? (input.services as string[] | undefined)?.join(',') ?? input.routeName ?? input.taskDefinition ?? input.executionArn;
    return `${command.constructor.name.replace(/Command$/, '')} ${String(subject)}`;
  });
}

/**
 * Fakes only `Date` (at `now`) for the tests of the calling file: the retry backoff and the SDK
 * mocks keep real timers. Call at the top level of a test file.
 */
export function fakeDateOnly(now: Date): void {
  beforeAll(() => {
    jest.useFakeTimers({
      now,
      doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'nextTick', 'queueMicrotask'],
    });
  });
  afterAll(() => jest.useRealTimers());
}

/** Every PutParameter input sent to `name` (all names when omitted), its Value parsed from JSON. */
export function sentPuts(ssm: AwsClientStub<SSMClient>, name?: string): Record<string, unknown>[] {
  return ssm
    .commandCalls(PutParameterCommand, name === undefined ? undefined : { Name: name })
    .map((call) => ({ ...call.args[0].input, Value: JSON.parse(call.args[0].input.Value!) as unknown }));
}
