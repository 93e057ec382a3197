/**
 * The local Step Functions service runs the real release.asl.json with tiny stub handlers
 * (the real ones need the whole local world) and answers the Step Functions API the way AWS
 * does: start, describe, list, history, task-token callbacks with real waiting, StopExecution
 * that ends a waiting task at once, the state machine timeout, a status-change event on the
 * bus for every transition of the execution's status, and the release events the definition's
 * PutEvents tasks send. Reached through a real SFNClient on the local endpoint where the wire
 * matters.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../../../infra/release-event-schema';
import type { BusEvent } from '../../../local/contracts';
import { AwsServiceError } from '../../../local/contracts';
import { RELEASE_ASL_PATH } from '../../../local/asl/definition';
import { LocalEventBus } from '../../../local/bus';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { EXECUTION_STATUS_CHANGE, LocalStepFunctions } from '../../../local/services/stepfunctions';

const REGION = 'eu-west-1';
const ACCOUNT = '000000000000';

type Stub = (event: Record<string, unknown>) => Promise<unknown>;

/** What PlanRelease returns: the release document the rest of the definition routes on. */
function planned(options: { beforeTraffic?: boolean; beforePromote?: boolean; bakeSeconds?: number; pollSeconds?: number } = {}) {
  return async (event: Record<string, unknown>) => ({
    release: {
      id: event.releaseId,
      executionArn: event.executionArn,
      service: 'colorapp',
      schedule: [100],
      bakeSeconds: options.bakeSeconds ?? 1,
      approvals: { beforeTraffic: options.beforeTraffic ?? false, beforePromote: options.beforePromote ?? false },
      config: {
        stabilization: { pollSeconds: options.pollSeconds ?? 1 },
        approvalTimeoutSeconds: 30,
        promotion: { keepOldColourWarm: false, scaleDownDelaySeconds: 0 },
      },
    },
    progress: { stepIndex: 0 },
  });
}

/** The healthy verdict the CheckHealth stub passes the only step with. */
const HEALTHY = {
  status: 'healthy',
  reasons: ['Success rate 100% (0 5xx in 400 requests) is at or above the minimum 99%.'],
  colour: 'green',
  stepIndex: 0,
  weight: 100,
  attempt: 0,
  window: { start: '2026-11-22T10:00:00.000Z', end: '2026-11-22T10:01:00.000Z' },
  evidence: { requests: 400, errors5xx: 0, successRate: 1, p99LatencyMs: 80, alarmsInAlarm: [] },
  thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
};

/** Stubs for a release that promotes at once; the bake is answered by the "alarm watcher" right away. */
function promotingStubs(sfn: () => LocalStepFunctions): Record<string, Stub> {
  return {
    PlanRelease: planned(),
    CheckStability: async () => ({ stable: true }),
    ShiftTraffic: async () => ({ stepIndex: 0, weight: 100, weights: { live: 0, idle: 100 }, changed: true, shiftedAt: new Date().toISOString() }),
    StartBake: async (event) => {
      setImmediate(() => void sfn().operations.SendTaskSuccess({ taskToken: event.taskToken, output: '{"baked":true}' }));
      return { waiting: true };
    },
    CheckHealth: async () => ({ decision: 'promote', stepIndex: 0, attempt: 0, verdicts: [HEALTHY], failure: null }),
    RollbackRelease: async () => ({ outcome: 'rolled-back' }),
  };
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let names = 0;
const uniqueName = (label: string) => `${label}-${++names}-${Date.now()}`;

describe('LocalStepFunctions running release.asl.json', () => {
  let stubs: Record<string, Stub> = {};
  const calls: { placeholder: string; event: Record<string, unknown> }[] = [];
  const waitScale = jest.fn((_state: string, _seconds: number) => 0);
  const bus = new LocalEventBus({ region: REGION, retryDelaysMs: [1, 1], logger: { warn: jest.fn(), error: jest.fn() } });
  const statusEvents: BusEvent[] = [];
  const cleanupEvents: BusEvent[] = [];
  const stepEvents: BusEvent[] = [];
  bus.subscribe({ source: 'aws.states', detailType: EXECUTION_STATUS_CHANGE }, async (event) => void statusEvents.push(event));
  bus.subscribe({ source: RELEASE_EVENT_SOURCE, detailType: RELEASE_EVENT_TYPES.stepPassed }, async (event) => void stepEvents.push(event));
  // The cleanup rule's pattern, as infra/constructs/release-pipeline.ts writes it.
  bus.subscribe(
    { source: 'aws.states', detailType: EXECUTION_STATUS_CHANGE, detail: { status: ['ABORTED', 'TIMED_OUT'] } },
    async (event) => void cleanupEvents.push(event),
  );
  // Constructing validates the definition: once for the file.
  const sfn: LocalStepFunctions = new LocalStepFunctions({
    definitionPath: RELEASE_ASL_PATH,
    stateMachineName: 'colorapp-release',
    handlers: (placeholder) => async (event) => {
      calls.push({ placeholder, event: event as Record<string, unknown> });
      const stub = stubs[placeholder];
      return stub ? stub(event as Record<string, unknown>) : { done: placeholder };
    },
    bus,
    region: REGION,
    account: ACCOUNT,
    waitTimeScale: waitScale,
  });
  let endpoint: LocalEndpoint;
  let client: SFNClient;

  beforeAll(async () => {
    endpoint = await startLocalEndpoint({ jsonServices: [sfn], logger: { error: jest.fn() } });
    client = new SFNClient({ endpoint: endpoint.url, region: REGION, maxAttempts: 1 });
  });

  afterAll(async () => {
    await sfn.close();
    await bus.drain();
    client.destroy();
    await endpoint.close();
  });

  beforeEach(() => {
    stubs = promotingStubs(() => sfn);
    calls.length = 0;
  });

  async function start(input: Record<string, unknown> = { service: 'colorapp' }, name = uniqueName('release')) {
    const started = await client.send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name, input: JSON.stringify(input) }));
    return started.executionArn!;
  }

  it('runs a release to SUCCEEDED and describes, lists and shows it like Step Functions', async () => {
    const executionArn = await start();
    const ended = await sfn.settled(executionArn);

    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({
      executionArn,
      stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:colorapp-release`,
      status: 'SUCCEEDED',
      input: '{"service":"colorapp"}',
      startDate: expect.any(Date),
      stopDate: expect.any(Date),
    });
    expect(described.stopDate!.getTime()).toBe(ended.stopDate!.getTime());
    const output = JSON.parse(described.output!) as Record<string, unknown>;
    expect(output).toMatchObject({ bake: { baked: true }, promotion: { done: 'PromoteRelease' } });
    expect(described.error).toBeUndefined();

    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn, statusFilter: 'SUCCEEDED' }));
    expect(listed.executions).toContainEqual(expect.objectContaining({ executionArn, status: 'SUCCEEDED', startDate: expect.any(Date) }));

    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const types = events!.map((event) => event.type);
    expect(events!.map((event) => event.id)).toEqual(events!.map((_, index) => index + 1));
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(types.slice(1, 6)).toEqual(['TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded', 'TaskStateExited']);
    expect(events![1].stateEnteredEventDetails?.name).toBe('Plan');
    const bake = events!.findIndex((event) => event.stateEnteredEventDetails?.name === 'Bake');
    expect(types.slice(bake, bake + 6)).toEqual(['TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded', 'TaskStateExited']);
    expect(events![bake + 1].taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke.waitForTaskToken', region: REGION });
    expect(types).toEqual(expect.arrayContaining(['WaitStateEntered', 'ChoiceStateEntered', 'SucceedStateEntered']));

    const entered = types.filter((type) => type!.endsWith('StateEntered')).length;
    expect(sfn.transitions(executionArn)).toBe(entered);
    expect(sfn.executionEvents(executionArn)).toHaveLength(events!.length);

    await bus.drain();
    const mine = statusEvents.filter((event) => event.detail.executionArn === executionArn);
    expect(mine.map((event) => event.detail.status)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(mine[1]).toMatchObject({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      account: ACCOUNT,
      region: REGION,
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn: sfn.stateMachineArn,
        name: ended.name,
        status: 'SUCCEEDED',
        startDate: ended.startDate.getTime(),
        stopDate: ended.stopDate!.getTime(),
        input: '{"service":"colorapp"}',
        output: described.output,
      },
    });
    expect(cleanupEvents.filter((event) => event.detail.executionArn === executionArn)).toEqual([]);
  });

  it('hands handlers JSON with Lambda semantics and the execution context the definition asks for', async () => {
    const executionArn = await start({ service: 'colorapp', image: 'v2' });
    await sfn.settled(executionArn);

    const plan = calls.find((call) => call.placeholder === 'PlanRelease')!.event;
    expect(plan).toEqual({
      request: { service: 'colorapp', image: 'v2' },
      releaseId: executionArn.split(':').at(-1),
      executionArn,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const bake = calls.find((call) => call.placeholder === 'StartBake')!.event;
    expect(bake.taskToken).toEqual(expect.stringMatching(/^AQlocal/));
    expect(bake).toMatchObject({ release: expect.any(Object), progress: { stepIndex: 0 }, shift: { stepIndex: 0, weight: 100 } });
  });

  it('runs the PutEvents task: "Release Step Passed" on the bus, PutEvents\' response as its result, Task events in the history', async () => {
    const executionArn = await start();
    const ended = await sfn.settled(executionArn);
    await bus.drain();

    expect(ended.status).toBe('SUCCEEDED');
    const mine = stepEvents.filter((event) => event.detail.executionArn === executionArn);
    expect(mine).toHaveLength(1);
    const [event] = mine;
    expect(event).toMatchObject({
      version: '0',
      source: 'ecs-release',
      'detail-type': 'Release Step Passed',
      account: ACCOUNT,
      region: REGION,
      // What the optimized integration appends to every entry.
      resources: [executionArn, sfn.stateMachineArn],
      detail: {
        schemaVersion: 1,
        service: 'colorapp',
        releaseId: executionArn.split(':').at(-1),
        executionArn,
        outcome: 'step-passed',
        status: 'RUNNING',
        error: null,
        cause: null,
        step: 1,
        stepCount: 1,
        weight: 100,
        verdict: HEALTHY,
      },
    });
    // `$$.State.EnteredTime` is when the state was entered, as its history event says.
    const events = sfn.executionEvents(executionArn);
    const entered = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'LastStepPassed');
    expect(event.detail.at).toBe(events[entered].timestamp!.toISOString());
    expect(JSON.parse(ended.output!).stepEvent).toEqual({ Entries: [{ EventId: event.id }], FailedEntryCount: 0 });
    expect(events.slice(entered, entered + 5).map((e) => e.type)).toEqual([
      'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited',
    ]);
    expect(events[entered + 1].taskScheduledEventDetails).toMatchObject({ resourceType: 'events', resource: 'putEvents', region: REGION });
    expect(JSON.parse(events[entered + 1].taskScheduledEventDetails!.parameters!)).toMatchObject({
      Entries: [{ EventBusName: 'default', Source: 'ecs-release', DetailType: 'Release Step Passed' }],
    });
  });

  it('times Wait states from their SecondsPath through waitTimeScale', async () => {
    waitScale.mockClear();
    stubs.PlanRelease = planned({ pollSeconds: 7 });
    await sfn.settled(await start());

    expect(waitScale).toHaveBeenCalledWith('WaitForStability', 7);
    expect(waitScale).toHaveBeenCalledWith('WaitBeforeScaleDown', 0);
  });

  it('keeps an approval gate waiting until SendTaskSuccess, then continues with its output', async () => {
    stubs.PlanRelease = planned({ beforeTraffic: true });
    const executionArn = await start();
    const gate = await waitFor(() => calls.find((call) => call.placeholder === 'RequestApproval'), 'the approval request');
    const token = gate.event.taskToken as string;

    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sfn.describe(executionArn).status).toBe('RUNNING');
    expect(sfn.waitingTasks()).toContainEqual({ token, executionArn, stateName: 'ApproveTraffic' });
    expect(calls.some((call) => call.placeholder === 'ShiftTraffic')).toBe(false);

    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ approvedBy: 'alice' }) }));
    const ended = await sfn.settled(executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(JSON.parse(ended.output!)).toMatchObject({ approval: { approvedBy: 'alice' } });
    // The token is spent: a second answer is refused like AWS refuses it.
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toBeInstanceOf(TaskTimedOut);
  });

  it('fails a waiting approval with the error and cause SendTaskFailure gives, and the Catch rolls back', async () => {
    stubs.PlanRelease = planned({ beforeTraffic: true });
    const executionArn = await start();
    const gate = await waitFor(() => calls.find((call) => call.placeholder === 'RequestApproval'), 'the approval request');

    await client.send(
      new SendTaskFailureCommand({ taskToken: gate.event.taskToken as string, error: 'ReleaseRejectedError', cause: 'Rejected by bob: colours look off' }),
    );
    const ended = await sfn.settled(executionArn);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'ReleaseRejectedError', cause: 'Rejected by bob: colours look off' });
    const rollback = calls.find((call) => call.placeholder === 'RollbackRelease')!.event;
    expect(rollback.error).toEqual({ Error: 'ReleaseRejectedError', Cause: 'Rejected by bob: colours look off' });
    const types = sfn.executionEvents(executionArn).map((event) => event.type);
    expect(types).toContain('TaskFailed');
    expect(types.slice(-2)).toEqual(['FailStateEntered', 'ExecutionFailed']);
  });

  it("reports a handler's thrown error as Lambda does: its name is the Error, the runtime's error document the Cause", async () => {
    stubs.AcquireLock = async () => {
      throw Object.assign(new Error("Service 'colorapp' is locked by release r0"), { name: 'ReleaseInProgressError' });
    };
    const executionArn = await start();
    const ended = await sfn.settled(executionArn);

    expect(ended.status).toBe('FAILED');
    expect(ended.error).toBe('ReleaseInProgressError');
    expect(JSON.parse(ended.cause!)).toEqual({
      errorType: 'ReleaseInProgressError',
      errorMessage: "Service 'colorapp' is locked by release r0",
      trace: expect.any(Array),
    });
    const failed = sfn.executionEvents(executionArn).find((event) => event.type === 'LambdaFunctionFailed');
    expect(failed?.lambdaFunctionFailedEventDetails?.error).toBe('ReleaseInProgressError');
  });

  it('retries Lambda service errors as the Retry says, and bills each retry as a transition', async () => {
    let attempts = 0;
    stubs.LoadState = async () => {
      if (++attempts === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
      return { live: 'blue' };
    };
    const executionArn = await start();
    const ended = await sfn.settled(executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(attempts).toBe(2);
    const events = sfn.executionEvents(executionArn);
    const entered = events.filter((event) => event.type!.endsWith('StateEntered')).length;
    expect(sfn.transitions(executionArn)).toBe(entered + 1);
    expect(events.filter((event) => event.type === 'LambdaFunctionScheduled' && event.lambdaFunctionScheduledEventDetails?.resource?.endsWith(':load-state'))).toHaveLength(2);
  });

  it('ends a bake at its TimeoutSecondsPath with States.Timeout and closes its token', async () => {
    stubs.StartBake = async () => ({ waiting: true }); // nobody answers: the bake passes by timing out
    const executionArn = await start();
    const bake = await waitFor(() => calls.find((call) => call.placeholder === 'StartBake'), 'the bake');
    const ended = await sfn.settled(executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    const events = sfn.executionEvents(executionArn);
    expect(events.find((event) => event.type === 'TaskTimedOut')?.taskTimedOutEventDetails).toMatchObject({ error: 'States.Timeout' });
    expect(JSON.parse(ended.output!).bake).toEqual({ Error: 'States.Timeout', Cause: expect.any(String) });
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: bake.event.taskToken as string, output: '{}' }))).rejects.toBeInstanceOf(
      TaskTimedOut,
    );
  });

  it('StopExecution ends a release waiting on a token at once: ABORTED, no more handlers, and the event cleanup listens for', async () => {
    stubs.PlanRelease = planned({ beforeTraffic: true });
    const executionArn = await start();
    const gate = await waitFor(() => calls.find((call) => call.placeholder === 'RequestApproval'), 'the approval request');
    const handlersBefore = calls.length;

    const stopped = await client.send(new StopExecutionCommand({ executionArn, error: 'ExecutionAbortedError', cause: 'Aborted by carol' }));
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(described).toMatchObject({ status: 'ABORTED', error: 'ExecutionAbortedError', cause: 'Aborted by carol' });
    expect(described.stopDate!.getTime()).toBe(stopped.stopDate!.getTime());
    expect(sfn.waitingTasks().filter((task) => task.executionArn === executionArn)).toEqual([]);
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: gate.event.taskToken as string, output: '{}' }))).rejects.toBeInstanceOf(
      TaskTimedOut,
    );

    await sfn.settled(executionArn);
    await bus.drain();
    expect(calls.length).toBe(handlersBefore); // no Catch, no rollback: cleanup's job
    expect(sfn.executionEvents(executionArn).at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'ExecutionAbortedError', cause: 'Aborted by carol' },
    });
    const delivered = cleanupEvents.filter((event) => event.detail.executionArn === executionArn);
    expect(delivered).toHaveLength(1);
    expect(delivered[0].detail).toMatchObject({
      status: 'ABORTED',
      name: executionArn.split(':').at(-1),
      input: '{"service":"colorapp"}',
      output: null,
      error: 'ExecutionAbortedError',
      cause: 'Aborted by carol',
      stopDate: stopped.stopDate!.getTime(),
    });

    // Stopping an execution that has ended changes nothing and publishes nothing.
    await client.send(new StopExecutionCommand({ executionArn, error: 'Again' }));
    await bus.drain();
    expect(sfn.describe(executionArn).error).toBe('ExecutionAbortedError');
    expect(cleanupEvents.filter((event) => event.detail.executionArn === executionArn)).toHaveLength(1);
  });

  it('refuses a second execution with the same name, but answers a repeated identical start of a running one', async () => {
    stubs.PlanRelease = planned({ beforeTraffic: true });
    const name = uniqueName('dup');
    const executionArn = await start({ service: 'colorapp' }, name);

    expect(await start({ service: 'colorapp' }, name)).toBe(executionArn);
    await expect(start({ service: 'colorapp', image: 'other' }, name)).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    await client.send(new StopExecutionCommand({ executionArn }));
    await sfn.settled(executionArn);
    await expect(start({ service: 'colorapp' }, name)).rejects.toThrow(/Execution Already Exists/);
  });

  it('tells unknown, malformed and foreign names apart like Step Functions', async () => {
    const unknown = `arn:aws:states:${REGION}:${ACCOUNT}:execution:colorapp-release:nope`;
    await expect(client.send(new DescribeExecutionCommand({ executionArn: unknown }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(client.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' }))).rejects.toMatchObject({ name: 'InvalidArn' });
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other` })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(client.send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name: 'has space' }))).rejects.toMatchObject({
      name: 'InvalidName',
    });
    await expect(client.send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, input: '{nope' }))).rejects.toMatchObject({
      name: 'InvalidExecutionInput',
    });
  });

  it('answers TaskTimedOut for a finished token, TaskDoesNotExist for one it never issued, InvalidToken for garbage', async () => {
    const executionArn = await start();
    await sfn.settled(executionArn);
    const finished = calls.find((call) => call.placeholder === 'StartBake')!.event.taskToken as string;

    await expect(client.send(new SendTaskFailureCommand({ taskToken: finished, error: 'X' }))).rejects.toBeInstanceOf(TaskTimedOut);
    await expect(sfn.operations.SendTaskHeartbeat({ taskToken: finished })).rejects.toMatchObject({ code: 'TaskTimedOut' });
    await expect(sfn.operations.SendTaskSuccess({ taskToken: `AQlocal${'a'.repeat(64)}`, output: '{}' })).rejects.toMatchObject({
      code: 'TaskDoesNotExist',
    });
    await expect(sfn.operations.SendTaskSuccess({ taskToken: 'garbage', output: '{}' })).rejects.toMatchObject({ code: 'InvalidToken' });
    await expect(sfn.operations.SendTaskSuccess({ taskToken: finished, output: '{not json' })).rejects.toMatchObject({ code: 'InvalidOutput' });
  });

  it('pages ListExecutions and GetExecutionHistory with nextToken, newest execution first', async () => {
    const first = await start();
    const second = await start();
    await Promise.all([sfn.settled(first), sfn.settled(second)]);

    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn, maxResults: 1, nextToken }));
      expect(page.executions!.length).toBeLessThanOrEqual(1);
      seen.push(...page.executions!.map((execution) => execution.executionArn!));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen.indexOf(second)).toBeLessThan(seen.indexOf(first));

    const all = sfn.executionEvents(first);
    const firstPage = await client.send(new GetExecutionHistoryCommand({ executionArn: first, maxResults: 10, reverseOrder: true, includeExecutionData: false }));
    expect(firstPage.events!.map((event) => event.id)).toEqual(all.slice(-10).map((event) => event.id).reverse());
    expect(firstPage.events![0].executionSucceededEventDetails).toEqual({});
    const secondPage = await client.send(
      new GetExecutionHistoryCommand({ executionArn: first, maxResults: 10, reverseOrder: true, includeExecutionData: false, nextToken: firstPage.nextToken }),
    );
    expect(secondPage.events![0].id).toBe(all.length - 10);
    await expect(client.send(new GetExecutionHistoryCommand({ executionArn: second, nextToken: firstPage.nextToken }))).rejects.toMatchObject({
      name: 'InvalidToken',
    });
  });

  it('fails fast when a placeholder of the definition has no handler', () => {
    expect(
      () =>
        new LocalStepFunctions({
          definitionPath: RELEASE_ASL_PATH,
          stateMachineName: 'colorapp-release',
          handlers: (placeholder) => {
            if (placeholder === 'ShiftTraffic') throw new Error('unknown function');
            return async () => ({});
          },
          bus,
          region: REGION,
          account: ACCOUNT,
        }),
    ).toThrow(/No handler for \$\{ShiftTrafficFunctionArn\}: unknown function/);
  });
});

describe('LocalStepFunctions running PutEvents tasks of other definitions', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'local-sfn-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, definition: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(definition));
    return file;
  };
  const machine = (definitionPath: string, bus: LocalEventBus) =>
    new LocalStepFunctions({ definitionPath, stateMachineName: 'events', handlers: () => async () => ({}), bus, region: REGION, account: ACCOUNT });

  it('publishes what EventBridge accepts, then fails the task with EventBridge.FailedEntry for what it refuses', async () => {
    const definitionPath = write('announce.asl.json', {
      StartAt: 'Announce',
      States: {
        Announce: {
          Type: 'Task',
          Resource: 'arn:aws:states:::events:putEvents',
          Parameters: {
            Entries: [
              // A Detail string is parsed, as EventBridge parses PutEvents' Detail.
              { EventBusName: '${ReleaseEventBusName}', Source: '${ReleaseEventSource}', DetailType: 'Said', 'Detail.$': 'States.JsonToString($.payload)', Resources: ['arn:aws:ecs:eu-west-1:000000000000:service/c/s'] },
              { EventBusName: 'elsewhere', Source: 'ecs-release', DetailType: 'Lost', Detail: {} },
            ],
          },
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.announceError', Next: 'Done' }],
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    });
    const bus = new LocalEventBus({ region: REGION, account: ACCOUNT });
    const said: BusEvent[] = [];
    bus.subscribe({ source: 'ecs-release', detailType: 'Said' }, async (event) => void said.push(event));
    const sfn = machine(definitionPath, bus);

    const { executionArn } = (await sfn.operations.StartExecution({
      stateMachineArn: sfn.stateMachineArn,
      name: 'announce',
      input: '{"payload":{"said":"hello"}}',
    })) as { executionArn: string };
    const ended = await sfn.settled(executionArn);
    await bus.drain();

    expect(said.map((event) => [event.detail, event.resources])).toEqual([
      [{ said: 'hello' }, ['arn:aws:ecs:eu-west-1:000000000000:service/c/s', executionArn, sfn.stateMachineArn]],
    ]);
    expect(ended.status).toBe('SUCCEEDED');
    const caught = JSON.parse(ended.output!).announceError as { Error: string; Cause: string };
    expect(caught.Error).toBe('EventBridge.FailedEntry');
    expect(caught.Cause).toMatch(/refused 1 of 2 entries: entry 2: ResourceNotFoundException \(Event bus elsewhere does not exist/);
    expect(sfn.executionEvents(executionArn).find((event) => event.type === 'TaskFailed')?.taskFailedEventDetails).toMatchObject({
      resourceType: 'events',
      resource: 'putEvents',
      error: 'EventBridge.FailedEntry',
    });
    await sfn.close();
  });

  it('refuses to load a definition it cannot run, or one with a placeholder nobody fills', () => {
    const bus = new LocalEventBus({ region: REGION });
    const sns = write('sns.asl.json', {
      StartAt: 'Notify',
      States: { Notify: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', Parameters: { Message: 'hi' }, End: true } },
    });
    expect(() => machine(sns, bus)).toThrow(/Task Notify uses resource arn:aws:states:::sns:publish, which the local runner cannot run/);
    const unknown = write('unknown.asl.json', {
      StartAt: 'Announce',
      States: {
        Announce: {
          Type: 'Task',
          Resource: 'arn:aws:states:::events:putEvents',
          Parameters: { Entries: [{ EventBusName: '${SomeOtherBus}', Source: 's', DetailType: 'd', Detail: {} }] },
          End: true,
        },
      },
    });
    expect(() => machine(unknown, bus)).toThrow(/uses \$\{SomeOtherBus\}, which has no substitution/);
  });
});

describe('LocalStepFunctions with a state machine TimeoutSeconds', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'local-sfn-'));
  const definitionPath = path.join(dir, 'gate.asl.json');
  writeFileSync(
    definitionPath,
    JSON.stringify({
      StartAt: 'Gate',
      TimeoutSeconds: 1,
      States: {
        Gate: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: { FunctionName: '${RequestApprovalFunctionArn}', Payload: { 'taskToken.$': '$$.Task.Token' } },
          End: true,
        },
      },
    }),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('times the execution out as TIMED_OUT, ends its waiting task and publishes the event cleanup listens for', async () => {
    const bus = new LocalEventBus({ region: REGION });
    const cleanup: BusEvent[] = [];
    bus.subscribe(
      { source: 'aws.states', detailType: EXECUTION_STATUS_CHANGE, detail: { status: ['ABORTED', 'TIMED_OUT'] } },
      async (event) => void cleanup.push(event),
    );
    let token = '';
    const sfn = new LocalStepFunctions({
      definitionPath,
      stateMachineName: 'gate',
      handlers: () => async (event) => {
        token = (event as { taskToken: string }).taskToken;
        return {};
      },
      bus,
      region: REGION,
      account: ACCOUNT,
    });

    const { executionArn } = (await sfn.operations.StartExecution({ stateMachineArn: sfn.stateMachineArn, name: 'slow' })) as { executionArn: string };
    const ended = await sfn.settled(executionArn);
    await bus.drain();

    expect(ended).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(ended.stopDate!.getTime() - ended.startDate.getTime()).toBeGreaterThanOrEqual(990);
    expect(sfn.executionEvents(executionArn).at(-1)?.type).toBe('ExecutionTimedOut');
    expect(cleanup.map((event) => event.detail.status)).toEqual(['TIMED_OUT']);
    await expect(sfn.operations.SendTaskSuccess({ taskToken: token, output: '{}' })).rejects.toEqual(
      new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'"),
    );
  });
});
