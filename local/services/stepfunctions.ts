/**
 * Local AWS Step Functions: one state machine (the real `statemachines/release.asl.json`) run by
 * aws-local-stepfunctions 3.0.0 behind the JSON 1.0 protocol (`X-Amz-Target:
 * AWSStepFunctions.<Operation>`, as @aws-sdk/client-sfn and the AWS CLI send it).
 *
 * What the runner does not do, this service does, so the release behaves as in AWS:
 * - Task states invoke the real handlers in-process with Lambda semantics (JSON in and out, a
 *   thrown error becomes `Error` = its name and `Cause` = the runtime's error document).
 * - `events:putEvents` tasks publish their entries on the bus as EventBridge would (detail
 *   parsed, the execution and state machine ARNs appended to `resources`) and return PutEvents'
 *   response; a refused entry fails the task with `EventBridge.FailedEntry`.
 * - `$$.State.EnteredTime` resolves, in Task parameters, to when the state was entered.
 * - `.waitForTaskToken` tasks wait on a registered token until SendTaskSuccess/SendTaskFailure
 *   (the runner would take the handler's return value as the task's result).
 * - StopExecution ends the execution at once, a task waiting on a token included (the runner
 *   only notices an abort between states); the state machine's TimeoutSeconds gives TIMED_OUT.
 * - Wait states are timed here (`waitTimeScale`), since their `SecondsPath` is only known when
 *   the state is entered and the runner's override is fixed per run.
 * - Every status change is published as the EventBridge "Step Functions Execution Status Change"
 *   event, so the cleanup handler reacts to ABORTED and TIMED_OUT exactly as in AWS.
 * - GetExecutionHistory answers AWS-shaped events built from the runner's event log.
 */
import '../asl/polyfills';
import { randomUUID } from 'node:crypto';
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import { StateMachine, type RunOptions } from 'aws-local-stepfunctions';
import { AwsServiceError, type EventBus, type JsonProtocolService, type Operation } from '../contracts';
import {
  allStates,
  loadDefinition,
  MAX_LOCAL_TASK_SECONDS,
  withLocalWaits,
  type AslState,
  type LambdaTask,
  type LoadedDefinition,
  type LocalTask,
  type PutEventsTask,
} from '../asl/definition';
import { dataOf, ExecutionHistory, historyEventToWire } from '../asl/history';
import { invokeLambda, TerminalStateError, type LambdaHandler } from '../asl/lambda';
import { failedEntryError, putEventsOutcomes, putEventsResponse } from '../asl/put-events';
import { evaluateReferencePath, parseReferencePath } from '../asl/reference-path';
import { TaskCallbackFailure, TaskTokenRegistry } from '../asl/task-tokens';

/** An execution's status, as DescribeExecution reports it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** The EventBridge detail-type of execution status changes. */
export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';

/** Properties of {@link LocalStepFunctions}. */
export interface LocalStepFunctionsProps {
  /** The `.asl.json` file, with `${XFunctionArn}` placeholders for its Lambda functions. */
  readonly definitionPath: string;
  /** The state machine's name, e.g. `colorapp-release`. */
  readonly stateMachineName: string;
  /**
   * Resolves a placeholder (`ShiftTraffic` for `${ShiftTrafficFunctionArn}`) to the in-process
   * handler that plays that Lambda function. Called once per placeholder, in the constructor;
   * throwing or returning something else than a function fails the construction.
   */
  readonly handlers: (placeholder: string) => LambdaHandler;
  /** Where execution status changes, and the events of `events:putEvents` tasks, are published. */
  readonly bus: EventBus;
  readonly region: string;
  /** The twelve-digit account id in ARNs. */
  readonly account: string;
  /**
   * How long a Wait state really waits, given its name and the seconds the definition asks for.
   * @default - the seconds the definition asks for
   */
  readonly waitTimeScale?: (stateName: string, seconds: number) => number;
}

/** An execution as DescribeExecution describes it. */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly input: string;
  /** Only when SUCCEEDED. */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

type RunnerExecution = ReturnType<StateMachine['run']>;
type RunnerEvent = RunnerExecution['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

/** One attempt of a Task state; `live` until its state moved on (exited, failed, timed out, stopped). */
interface TaskAttempt {
  live: boolean;
  readonly task: LocalTask;
  readonly tokens: string[];
}

interface ExecutionRecord {
  readonly arn: string;
  readonly name: string;
  readonly input: string;
  readonly inputValue: unknown;
  readonly startDate: Date;
  readonly history: ExecutionHistory;
  /** Aborted when the execution is stopped or times out: wakes Wait states. */
  readonly stopped: AbortController;
  /** What `$$.Task.Token` resolves to in Parameters; replaced by a fresh token per task. */
  readonly tokenPlaceholder: string;
  /** What `$$.State.EnteredTime` resolves to in Parameters; replaced by the state's entry time. */
  readonly enteredTimePlaceholder: string;
  readonly attempts: Map<string, TaskAttempt>;
  readonly settled: Promise<ExecutionDescription>;
  readonly resolveSettled: (description: ExecutionDescription) => void;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  transitions: number;
  lastEnteredState?: string;
  lastEnteredAt?: Date;
  publishOnEnd: boolean;
  runner?: RunnerExecution;
  timeout?: NodeJS.Timeout;
}

type Outcome = { status: 'SUCCEEDED'; output: string } | { status: 'FAILED'; error?: string; cause?: string };

const STATUSES: readonly string[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'PENDING_REDRIVE'];
/** Step Functions refuses names with whitespace, brackets, wildcards and these specials... */
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
/** ...and with control characters (U+0000-001F, U+007F-009F). */
const isControl = (code: number) => code <= 0x1f || (code >= 0x7f && code <= 0x9f);
const MAX_INPUT_BYTES = 256 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const LAMBDA = 'lambda';

/**
 * The local Step Functions service.
 *
 * @example
 * const sfn = new LocalStepFunctions({
 *   definitionPath: RELEASE_ASL_PATH,
 *   stateMachineName: 'colorapp-release',
 *   handlers: (placeholder) => require(`../../lambdas/${handlerFileOf(placeholder)}`).handler,
 *   bus,
 *   region: 'eu-west-1',
 *   account: '000000000000',
 * });
 * endpoint.register(sfn); // AWSStepFunctions.* over JSON 1.0
 */
export class LocalStepFunctions implements JsonProtocolService {
  readonly targetPrefix = 'AWSStepFunctions';
  readonly jsonVersion = '1.0' as const;
  readonly operations: Readonly<Record<string, Operation>>;
  readonly stateMachineArn: string;

  private readonly props: LocalStepFunctionsProps;
  private readonly loaded: LoadedDefinition;
  private readonly machine: StateMachine;
  private readonly waits: ReadonlyMap<string, AslState>;
  private readonly rawStates = new Map<string, AslState>();
  private readonly handlersByArn = new Map<string, LambdaHandler>();
  private readonly executionTimeoutSeconds?: number;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly tokens = new TaskTokenRegistry();
  private readonly createdAt = new Date();

  constructor(props: LocalStepFunctionsProps) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      throw new Error(`stateMachineName '${props.stateMachineName}' must be 1-80 letters, digits, '-' or '_'`);
    }
    if (!/^\d{12}$/.test(props.account)) throw new Error(`account '${props.account}' must be twelve digits`);
    if (!props.region) throw new Error('region is required: it is part of every ARN');
    this.props = props;
    this.stateMachineArn = `arn:aws:states:${props.region}:${props.account}:stateMachine:${props.stateMachineName}`;
    try {
      this.loaded = loadDefinition({ path: props.definitionPath, region: props.region, account: props.account });
    } catch (error) {
      throw new Error(`Cannot load state machine definition ${props.definitionPath}: ${(error as Error).message}`, { cause: error });
    }
    for (const [placeholder, arn] of this.loaded.functionArns) {
      let handler: unknown;
      try {
        handler = props.handlers(placeholder);
      } catch (error) {
        throw new Error(`No handler for \${${placeholder}FunctionArn}: ${(error as Error).message}`, { cause: error });
      }
      if (typeof handler !== 'function') throw new Error(`The handler for \${${placeholder}FunctionArn} is not a function`);
      this.handlersByArn.set(arn, handler as LambdaHandler);
    }
    for (const [name, state] of allStates(this.loaded.raw)) this.rawStates.set(name, state);

    const waitResource = `arn:aws:lambda:${props.region}:${props.account}:function:local-step-functions-wait`;
    const { definition, waits } = withLocalWaits(this.loaded.definition, waitResource);
    this.waits = waits;
    // The execution timeout is armed here, not by the runner: it must end the execution at once
    // (waiting tasks included) and report TIMED_OUT with the status-change event.
    const { TimeoutSeconds, ...untimed } = definition;
    this.executionTimeoutSeconds = TimeoutSeconds;
    // Constructing validates the definition (150-350 ms): once per service.
    this.machine = new StateMachine(untimed, { validationOptions: { checkArn: true, checkPaths: true } });

    this.operations = {
      StartExecution: async (input) => this.startExecution(input),
      DescribeExecution: async (input) => this.describeExecution(input),
      ListExecutions: async (input) => this.listExecutions(input),
      GetExecutionHistory: async (input) => this.getExecutionHistory(input),
      StopExecution: async (input) => this.stopExecution(input),
      SendTaskSuccess: async (input) => this.sendTaskSuccess(input),
      SendTaskFailure: async (input) => this.sendTaskFailure(input),
      SendTaskHeartbeat: async (input) => this.sendTaskHeartbeat(input),
      DescribeStateMachine: async (input) => this.describeStateMachine(input),
      ListStateMachines: async () => this.listStateMachines(),
    };
  }

  /** The execution, as DescribeExecution describes it. Throws `ExecutionDoesNotExist`. */
  describe(executionArn: string): ExecutionDescription {
    return this.describeRecord(this.find(executionArn));
  }

  /** The execution's history events, as GetExecutionHistory returns them (timestamps as Dates). */
  executionEvents(executionArn: string): HistoryEvent[] {
    return this.find(executionArn).history.list();
  }

  /**
   * The state transitions the execution has made, as Step Functions bills them: every state
   * entered, and every retry of a state.
   */
  transitions(executionArn: string): number {
    return this.find(executionArn).transitions;
  }

  /** Resolves when the execution has ended, its history is complete and its status event published. */
  settled(executionArn: string): Promise<ExecutionDescription> {
    return this.find(executionArn).settled;
  }

  /** The `.waitForTaskToken` tasks waiting now, with their tokens. */
  waitingTasks(): { token: string; executionArn: string; stateName: string }[] {
    return this.tokens.waiting().map(({ token, owner }) => ({ token, ...owner }));
  }

  /**
   * Shutdown: stops every running execution without publishing its status change (nothing is
   * left to react to it) and waits until they have ended. Handlers already running finish on
   * their own, as a Lambda invocation would.
   */
  async close(): Promise<void> {
    const running = [...this.executions.values()].filter((record) => record.status === 'RUNNING');
    for (const record of running) {
      this.terminate(record, 'ABORTED', 'LocalEnvironmentShutdown', 'The local environment shut down', false);
    }
    await Promise.all(running.map((record) => record.settled));
  }

  // --- Operations ------------------------------------------------------------------------------

  private startExecution(input: Record<string, unknown>): Record<string, unknown> {
    this.checkStateMachineArn(requiredString(input, 'stateMachineArn'));
    const name = optionalString(input, 'name') ?? randomUUID();
    if (name.length < 1 || name.length > 80 || INVALID_NAME.test(name) || [...name].some((c) => isControl(c.charCodeAt(0)))) {
      throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
    }
    const inputText = optionalString(input, 'input') ?? '{}';
    let inputValue: unknown;
    try {
      inputValue = JSON.parse(inputText);
    } catch (error) {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    if (Buffer.byteLength(inputText, 'utf8') > MAX_INPUT_BYTES) {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: 'larger than ${MAX_INPUT_BYTES} bytes'`);
    }
    const executionArn = `arn:aws:states:${this.props.region}:${this.props.account}:execution:${this.props.stateMachineName}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // StartExecution is idempotent for a running execution started with the same input.
      if (existing.status === 'RUNNING' && existing.input === inputText) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    let resolveSettled!: (description: ExecutionDescription) => void;
    const settled = new Promise<ExecutionDescription>((resolve) => (resolveSettled = resolve));
    const record: ExecutionRecord = {
      arn: executionArn,
      name,
      input: inputText,
      inputValue,
      startDate: new Date(),
      history: new ExecutionHistory(),
      stopped: new AbortController(),
      tokenPlaceholder: `local-task-token-placeholder-${randomUUID()}`,
      enteredTimePlaceholder: `local-state-entered-time-placeholder-${randomUUID()}`,
      attempts: new Map(),
      settled,
      resolveSettled,
      status: 'RUNNING',
      transitions: 0,
      publishOnEnd: true,
    };
    this.executions.set(executionArn, record);
    record.history.add(
      'ExecutionStarted',
      { executionStartedEventDetails: { input: inputText, inputDetails: { truncated: false }, roleArn: this.roleArn() } },
      record.startDate,
    );
    this.publishStatus(record);
    this.run(record);
    return { executionArn, startDate: epochSeconds(record.startDate) };
  }

  private describeExecution(input: Record<string, unknown>): Record<string, unknown> {
    const description = this.describe(requiredString(input, 'executionArn'));
    return {
      ...description,
      startDate: epochSeconds(description.startDate),
      stopDate: description.stopDate && epochSeconds(description.stopDate),
      inputDetails: { included: true },
      outputDetails: description.output === undefined ? undefined : { included: true },
    };
  }

  private listExecutions(input: Record<string, unknown>): Record<string, unknown> {
    this.checkStateMachineArn(requiredString(input, 'stateMachineArn'));
    const statusFilter = optionalString(input, 'statusFilter');
    if (statusFilter !== undefined && !STATUSES.includes(statusFilter)) {
      throw validation(`Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${STATUSES.join(', ')}]`);
    }
    // Newest first, as Step Functions lists them.
    const all = [...this.executions.values()].reverse().filter((record) => !statusFilter || record.status === statusFilter);
    const { page, nextToken } = paginate(all, input, `list:${statusFilter ?? ''}`);
    return {
      executions: page.map((record) => ({
        executionArn: record.arn,
        stateMachineArn: this.stateMachineArn,
        name: record.name,
        status: record.status,
        startDate: epochSeconds(record.startDate),
        stopDate: record.stopDate && epochSeconds(record.stopDate),
      })),
      nextToken,
    };
  }

  private getExecutionHistory(input: Record<string, unknown>): Record<string, unknown> {
    const record = this.find(requiredString(input, 'executionArn'));
    const reverseOrder = optionalBoolean(input, 'reverseOrder') ?? false;
    const includeExecutionData = optionalBoolean(input, 'includeExecutionData') ?? true;
    const events = record.history.list();
    if (reverseOrder) events.reverse();
    const { page, nextToken } = paginate(events, input, `history:${record.arn}:${reverseOrder}`);
    return { events: page.map((event) => historyEventToWire(event, includeExecutionData)), nextToken };
  }

  private stopExecution(input: Record<string, unknown>): Record<string, unknown> {
    const record = this.find(requiredString(input, 'executionArn'));
    const error = optionalString(input, 'error');
    const cause = optionalString(input, 'cause');
    if (error !== undefined && error.length > 256) throw validation("Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256");
    if (cause !== undefined && cause.length > 32768) throw validation("Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768");
    // An execution that has already ended is left as it is: no new status, no event.
    this.terminate(record, 'ABORTED', error, cause, true);
    return { stopDate: epochSeconds(record.stopDate!) };
  }

  private sendTaskSuccess(input: Record<string, unknown>): Record<string, unknown> {
    const token = requiredString(input, 'taskToken');
    const output = requiredString(input, 'output');
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch (error) {
      throw new AwsServiceError('InvalidOutput', `Invalid Output: '${(error as Error).message}'`);
    }
    this.tokens.succeed(token, value);
    return {};
  }

  private sendTaskFailure(input: Record<string, unknown>): Record<string, unknown> {
    this.tokens.fail(requiredString(input, 'taskToken'), optionalString(input, 'error'), optionalString(input, 'cause'));
    return {};
  }

  private sendTaskHeartbeat(input: Record<string, unknown>): Record<string, unknown> {
    this.tokens.heartbeat(requiredString(input, 'taskToken'));
    return {};
  }

  /** ListStateMachines: the one state machine, as a `StateMachineListItem` (name, ARN, type, creation date). */
  private listStateMachines(): Record<string, unknown> {
    return {
      stateMachines: [{ stateMachineArn: this.stateMachineArn, name: this.props.stateMachineName, type: 'STANDARD', creationDate: epochSeconds(this.createdAt) }],
    };
  }

  private describeStateMachine(input: Record<string, unknown>): Record<string, unknown> {
    this.checkStateMachineArn(requiredString(input, 'stateMachineArn'));
    return {
      stateMachineArn: this.stateMachineArn,
      name: this.props.stateMachineName,
      status: 'ACTIVE',
      definition: this.loaded.source,
      roleArn: this.roleArn(),
      type: 'STANDARD',
      creationDate: epochSeconds(this.createdAt),
    };
  }

  // --- Running an execution --------------------------------------------------------------------

  private run(record: ExecutionRecord): void {
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const task of [...this.loaded.tasks, ...this.loaded.putEventsTasks]) {
      overrides[task.stateName] = (input) => this.runTask(record, task, input);
    }
    for (const [name, wait] of this.waits) overrides[name] = (input) => this.runWait(record, name, wait, input);
    const runner = this.machine.run(record.inputValue as never, {
      overrides: { taskResourceLocalHandlers: overrides as unknown as TaskHandlers },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: record.arn, Name: record.name, RoleArn: this.roleArn(), StartTime: record.startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.props.stateMachineName },
        Task: { Token: record.tokenPlaceholder },
        State: { EnteredTime: record.enteredTimePlaceholder },
      },
    });
    record.runner = runner;
    if (this.executionTimeoutSeconds !== undefined) {
      const seconds = this.executionTimeoutSeconds;
      record.timeout = setTimeout(
        () => this.terminate(record, 'TIMED_OUT', 'States.Timeout', `The execution did not end within the state machine's TimeoutSeconds (${seconds}).`, true),
        Math.min(seconds, MAX_LOCAL_TASK_SECONDS) * 1000,
      );
      // The execution's own work keeps the process alive; its timeout alone must not.
      record.timeout.unref();
    }
    void this.drive(record, runner);
  }

  /** Waits for the runner's result and the end of its event log, then ends the execution. */
  private async drive(record: ExecutionRecord, runner: RunnerExecution): Promise<void> {
    const consuming = (async () => {
      for await (const event of runner.eventLogs) this.onRunnerEvent(record, event);
    })();
    let outcome: Outcome | null = null;
    try {
      const result = await runner.result;
      if (record.status === 'RUNNING') outcome = { status: 'SUCCEEDED', output: dataOf(result) };
    } catch (error) {
      if (record.status === 'RUNNING') outcome = { status: 'FAILED', ...this.failureOf(record, error) };
    }
    // The runner closes its log on every terminal event; the bound only guards against a runner bug.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([consuming, new Promise((resolve) => (bound = setTimeout(resolve, 1000)))]);
    clearTimeout(bound);
    this.finish(record, outcome);
  }

  private onRunnerEvent(record: ExecutionRecord, event: RunnerEvent): void {
    const timestamp = new Date(event.timestamp);
    switch (event.type) {
      case 'StateEntered': {
        record.transitions++;
        record.lastEnteredState = event.state.name;
        record.lastEnteredAt = timestamp;
        record.history.add(
          `${this.stateType(event.state.name)}StateEntered` as HistoryEventType,
          { stateEnteredEventDetails: { name: event.state.name, input: dataOf(event.state.input), inputDetails: { truncated: false } } },
          timestamp,
        );
        return;
      }
      case 'StateExited': {
        this.endAttempt(record, event.state.name);
        record.history.add(
          `${this.stateType(event.state.name)}StateExited` as HistoryEventType,
          { stateExitedEventDetails: { name: event.state.name, output: dataOf(event.state.output), outputDetails: { truncated: false } } },
          timestamp,
        );
        return;
      }
      case 'StateRetried':
        record.transitions++;
        return;
      case 'StateFailed':
        if (event.Error === 'States.Timeout') this.recordTimeout(record, event.state.name, timestamp);
        else this.endAttempt(record, event.state.name);
        return;
      default:
        // Execution events are recorded by this service itself (it knows stops and timeouts).
        return;
    }
  }

  private async runTask(record: ExecutionRecord, task: LocalTask, rawInput: unknown): Promise<unknown> {
    const attempt = await this.beginAttempt(record, task);
    // Retries enter no state again: the entry time is the first attempt's, as in AWS.
    const enteredAt = record.lastEnteredState === task.stateName && record.lastEnteredAt ? record.lastEnteredAt : new Date();
    const input = replaceString(rawInput, record.enteredTimePlaceholder, enteredAt.toISOString());
    switch (task.integration) {
      case 'function':
        return this.invokeFunction(record, attempt, task, input);
      case 'invoke':
        return this.invokeThroughIntegration(record, attempt, task, input);
      case 'invoke.waitForTaskToken':
        return this.invokeAndWaitForToken(record, attempt, task, input);
      case 'events:putEvents':
        return this.putEvents(record, attempt, task, input);
    }
  }

  /** `"Resource": "<function ARN>"`: the effective input goes to the function, its result comes back. */
  private async invokeFunction(record: ExecutionRecord, attempt: TaskAttempt, task: LambdaTask, input: unknown): Promise<unknown> {
    const functionArn = this.loaded.functionArns.get(task.placeholder)!;
    const history = record.history;
    history.add('LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: {
        resource: functionArn,
        input: dataOf(input),
        inputDetails: { truncated: false },
        timeoutInSeconds: this.timeoutSecondsOf(task.stateName),
      },
    });
    history.add('LambdaFunctionStarted');
    try {
      const output = await invokeLambda(this.handlerFor(functionArn), input);
      if (attempt.live) {
        history.add('LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: dataOf(output), outputDetails: { truncated: false } } });
      }
      return output;
    } catch (error) {
      if (attempt.live) history.add('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: errorDetails(error) });
      throw error;
    }
  }

  /** `arn:aws:states:::lambda:invoke`: `Payload` in, the Invoke response out. */
  private async invokeThroughIntegration(record: ExecutionRecord, attempt: TaskAttempt, task: LambdaTask, input: unknown): Promise<unknown> {
    const parameters = input as { FunctionName?: unknown; Payload?: unknown };
    const resource = resourceOf(task);
    this.recordTaskStart(record, task, parameters);
    try {
      const payload = await invokeLambda(this.handlerFor(parameters.FunctionName), parameters.Payload ?? {});
      const response = { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      if (attempt.live) {
        record.history.add('TaskSucceeded', { taskSucceededEventDetails: { ...resource, output: dataOf(response), outputDetails: { truncated: false } } });
      }
      return response;
    } catch (error) {
      if (attempt.live) record.history.add('TaskFailed', { taskFailedEventDetails: { ...resource, ...errorDetails(error) } });
      throw error;
    }
  }

  /**
   * `arn:aws:states:::lambda:invoke.waitForTaskToken`: the function gets the Payload with
   * `$$.Task.Token` replaced by a fresh registered token; the task then waits for that token.
   * A failing invocation fails the task at once.
   */
  private async invokeAndWaitForToken(record: ExecutionRecord, attempt: TaskAttempt, task: LambdaTask, input: unknown): Promise<unknown> {
    const { token, outcome } = this.tokens.issue({ executionArn: record.arn, stateName: task.stateName });
    attempt.tokens.push(token);
    const parameters = replaceString(input, record.tokenPlaceholder, token) as { FunctionName?: unknown; Payload?: unknown };
    const resource = resourceOf(task);
    this.recordTaskStart(record, task, parameters);
    try {
      const payload = await invokeLambda(this.handlerFor(parameters.FunctionName), parameters.Payload ?? {});
      if (attempt.live) {
        record.history.add('TaskSubmitted', {
          taskSubmittedEventDetails: {
            ...resource,
            output: dataOf({ ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 }),
            outputDetails: { truncated: false },
          },
        });
      }
    } catch (error) {
      this.tokens.close(token);
      if (attempt.live) record.history.add('TaskFailed', { taskFailedEventDetails: { ...resource, ...errorDetails(error) } });
      throw error;
    }
    try {
      const output = await outcome;
      if (attempt.live) {
        record.history.add('TaskSucceeded', { taskSucceededEventDetails: { ...resource, output: dataOf(output), outputDetails: { truncated: false } } });
      }
      return output;
    } catch (error) {
      if (attempt.live && error instanceof TaskCallbackFailure) {
        record.history.add('TaskFailed', { taskFailedEventDetails: { ...resource, error: error.error, cause: error.cause } });
      }
      throw error;
    }
  }

  /**
   * `arn:aws:states:::events:putEvents`: every entry EventBridge would accept goes on the bus
   * with the id the response reports; a refused entry fails the task with
   * `EventBridge.FailedEntry` after the others were published, as EventBridge does.
   */
  private async putEvents(record: ExecutionRecord, attempt: TaskAttempt, task: PutEventsTask, parameters: unknown): Promise<unknown> {
    const resource = resourceOf(task);
    this.recordTaskStart(record, task, parameters);
    try {
      const outcomes = putEventsOutcomes(parameters, {
        executionArn: record.arn,
        stateMachineArn: this.stateMachineArn,
        region: this.props.region,
        account: this.props.account,
      });
      const ids = outcomes.map((outcome) => {
        if (!outcome.accepted) return undefined;
        const id = randomUUID();
        this.props.bus.publish({ ...outcome.event, id });
        return id;
      });
      const response = putEventsResponse(outcomes, ids);
      const failure = failedEntryError(response);
      if (failure) throw failure;
      if (attempt.live) {
        record.history.add('TaskSucceeded', { taskSucceededEventDetails: { ...resource, output: dataOf(response), outputDetails: { truncated: false } } });
      }
      return response;
    } catch (error) {
      if (attempt.live) record.history.add('TaskFailed', { taskFailedEventDetails: { ...resource, ...errorDetails(error) } });
      throw error;
    }
  }

  /** A Wait state, timed here: `Seconds`, `SecondsPath`, `Timestamp` or `TimestampPath`, scaled. */
  private async runWait(record: ExecutionRecord, stateName: string, wait: AslState, input: unknown): Promise<unknown> {
    await this.beginStep(record);
    const context = {
      Execution: { Id: record.arn, Name: record.name, Input: record.inputValue, StartTime: record.startDate.toISOString() },
      StateMachine: { Id: this.stateMachineArn, Name: this.props.stateMachineName },
      State: { Name: stateName },
    };
    const select = (field: 'SecondsPath' | 'TimestampPath') => {
      const value = evaluateReferencePath(parseReferencePath(wait[field] as string), input, context);
      if (value === undefined) {
        throw new TerminalStateError('States.Runtime', `The ${field} '${wait[field]}' of state '${stateName}' does not point to a value`);
      }
      return value;
    };
    let seconds: number;
    if (typeof wait.Seconds === 'number') {
      seconds = wait.Seconds;
    } else if (typeof wait.SecondsPath === 'string') {
      const value = select('SecondsPath');
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new TerminalStateError('States.Runtime', `The SecondsPath '${wait.SecondsPath}' of state '${stateName}' gave ${JSON.stringify(value)}, not a non-negative integer`);
      }
      seconds = value;
    } else {
      const timestamp = typeof wait.Timestamp === 'string' ? wait.Timestamp : select('TimestampPath');
      const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
      if (Number.isNaN(at)) {
        throw new TerminalStateError('States.Runtime', `State '${stateName}' waits until ${JSON.stringify(timestamp)}, which is not a timestamp`);
      }
      seconds = Math.max(0, (at - Date.now()) / 1000);
    }
    const ms = this.props.waitTimeScale ? this.props.waitTimeScale(stateName, seconds) : seconds * 1000;
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`waitTimeScale gave ${ms} ms for state ${stateName} (${seconds} s)`);
    await abortableSleep(Math.min(ms, MAX_LOCAL_TASK_SECONDS * 1000), record.stopped.signal);
    if (record.status !== 'RUNNING') throw stoppedError();
    return input;
  }

  // --- Attempts, stops and the end ------------------------------------------------------------

  /**
   * Lets the runner's queued events reach the history first (so `TaskStateEntered` precedes
   * `LambdaFunctionScheduled`), and refuses to start anything for an execution that has ended.
   */
  private async beginStep(record: ExecutionRecord): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (record.status !== 'RUNNING') throw stoppedError();
  }

  private async beginAttempt(record: ExecutionRecord, task: LocalTask): Promise<TaskAttempt> {
    await this.beginStep(record);
    const attempt: TaskAttempt = { live: true, task, tokens: [] };
    record.attempts.set(task.stateName, attempt);
    return attempt;
  }

  private endAttempt(record: ExecutionRecord, stateName: string): void {
    const attempt = record.attempts.get(stateName);
    if (!attempt?.live) return;
    attempt.live = false;
    for (const token of attempt.tokens) this.tokens.close(token);
  }

  /** The runner timed a task out (`TimeoutSeconds`/`TimeoutSecondsPath`): close its token, record it. */
  private recordTimeout(record: ExecutionRecord, stateName: string, timestamp: Date): void {
    const attempt = record.attempts.get(stateName);
    if (!attempt?.live) return;
    this.endAttempt(record, stateName);
    if (attempt.task.integration === 'function') {
      record.history.add('LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout' } }, timestamp);
    } else {
      record.history.add('TaskTimedOut', { taskTimedOutEventDetails: { ...resourceOf(attempt.task), error: 'States.Timeout' } }, timestamp);
    }
  }

  /**
   * Ends a running execution from outside (StopExecution, the execution timeout, shutdown): the
   * status changes now, waiting tasks and waits end now, and the runner stops before the next state.
   */
  private terminate(
    record: ExecutionRecord,
    status: 'ABORTED' | 'TIMED_OUT',
    error: string | undefined,
    cause: string | undefined,
    publish: boolean,
  ): void {
    if (record.status !== 'RUNNING') return;
    record.status = status;
    record.stopDate = new Date();
    record.error = error;
    record.cause = cause;
    record.publishOnEnd = publish;
    record.stopped.abort();
    this.tokens.cancel((owner) => owner.executionArn === record.arn, stoppedError());
    record.runner?.abort();
  }

  private finish(record: ExecutionRecord, outcome: Outcome | null): void {
    if (outcome) {
      record.status = outcome.status;
      record.stopDate = new Date();
      if (outcome.status === 'SUCCEEDED') {
        record.output = outcome.output;
      } else {
        record.error = outcome.error;
        record.cause = outcome.cause;
      }
    } else if (record.status === 'RUNNING') {
      // The runner ended without a result and nobody stopped it: report it, never hang RUNNING.
      Object.assign(record, { status: 'FAILED', stopDate: new Date(), error: 'States.Runtime', cause: 'The local runner ended without a result' });
    }
    clearTimeout(record.timeout);
    for (const stateName of record.attempts.keys()) this.endAttempt(record, stateName);
    this.tokens.cancel((owner) => owner.executionArn === record.arn, stoppedError());
    const failure = { error: record.error, cause: record.cause };
    switch (record.status) {
      case 'SUCCEEDED':
        record.history.add(
          'ExecutionSucceeded',
          { executionSucceededEventDetails: { output: record.output, outputDetails: { truncated: false } } },
          record.stopDate,
        );
        break;
      case 'FAILED':
        record.history.add('ExecutionFailed', { executionFailedEventDetails: failure }, record.stopDate);
        break;
      case 'ABORTED':
        record.history.add('ExecutionAborted', { executionAbortedEventDetails: failure }, record.stopDate);
        break;
      case 'TIMED_OUT':
        record.history.add('ExecutionTimedOut', { executionTimedOutEventDetails: failure }, record.stopDate);
        break;
    }
    if (record.publishOnEnd) this.publishStatus(record);
    record.resolveSettled(this.describeRecord(record));
  }

  /** Error and cause of a failed run, as Step Functions reports them. */
  private failureOf(record: ExecutionRecord, thrown: unknown): { error?: string; cause?: string } {
    const inner = (thrown as { cause?: unknown }).cause;
    const error = inner instanceof Error ? inner : thrown instanceof Error ? thrown : new Error(String(thrown));
    // A Fail state without Error/Cause fails the execution without them (the runner fills defaults in).
    const last = record.lastEnteredState ? this.rawStates.get(record.lastEnteredState) : undefined;
    if (last?.Type === 'Fail') {
      return {
        error: last.Error === undefined && last.ErrorPath === undefined ? undefined : error.name,
        cause: last.Cause === undefined && last.CausePath === undefined ? undefined : error.message,
      };
    }
    return { error: error.name, cause: error.message };
  }

  /** The EventBridge event Step Functions sends on every status change of a standard workflow. */
  private publishStatus(record: ExecutionRecord): void {
    const failed = record.status === 'FAILED' || record.status === 'ABORTED' || record.status === 'TIMED_OUT';
    this.props.bus.publish({
      source: 'aws.states',
      'detail-type': EXECUTION_STATUS_CHANGE,
      resources: [record.arn],
      detail: {
        executionArn: record.arn,
        stateMachineArn: this.stateMachineArn,
        name: record.name,
        status: record.status,
        startDate: record.startDate.getTime(),
        stopDate: record.stopDate?.getTime() ?? null,
        input: record.input,
        output: record.output ?? null,
        inputDetails: { included: true },
        outputDetails: record.output === undefined ? null : { included: true },
        ...(failed && { error: record.error ?? null, cause: record.cause ?? null }),
      },
    });
  }

  // --- Helpers ---------------------------------------------------------------------------------

  private describeRecord(record: ExecutionRecord): ExecutionDescription {
    return {
      executionArn: record.arn,
      stateMachineArn: this.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate,
      input: record.input,
      output: record.output,
      error: record.error,
      cause: record.cause,
    };
  }

  private find(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (record) return record;
    if (!/^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:[^:]+:[^:]+$/.test(executionArn)) {
      throw new AwsServiceError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${executionArn}'`);
    }
    throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
  }

  private checkStateMachineArn(arn: string): void {
    if (arn === this.stateMachineArn) return;
    if (!/^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[^:]+$/.test(arn)) {
      throw new AwsServiceError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
    }
    throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  }

  private handlerFor(functionName: unknown): LambdaHandler {
    const handler = typeof functionName === 'string' ? this.handlersByArn.get(functionName) : undefined;
    if (!handler) {
      throw new TerminalStateError('Lambda.ResourceNotFoundException', `Function not found: ${String(functionName)}`);
    }
    return handler;
  }

  private recordTaskStart(record: ExecutionRecord, task: LocalTask, parameters: unknown): void {
    const resource = resourceOf(task);
    record.history.add('TaskScheduled', {
      taskScheduledEventDetails: {
        ...resource,
        region: this.props.region,
        parameters: dataOf(parameters),
        timeoutInSeconds: this.timeoutSecondsOf(task.stateName),
      },
    });
    record.history.add('TaskStarted', { taskStartedEventDetails: resource });
  }

  private timeoutSecondsOf(stateName: string): number | undefined {
    const timeout = this.rawStates.get(stateName)?.TimeoutSeconds;
    return typeof timeout === 'number' ? timeout : undefined;
  }

  private stateType(stateName: string): string {
    return this.rawStates.get(stateName)?.Type ?? 'Task';
  }

  private roleArn(): string {
    return `arn:aws:iam::${this.props.account}:role/${this.props.stateMachineName}-role`;
  }
}

/** How history events name a task's integration: `lambda`/`invoke`, `events`/`putEvents`. */
function resourceOf(task: LocalTask): { resourceType: string; resource: string } {
  return task.integration === 'events:putEvents'
    ? { resourceType: 'events', resource: 'putEvents' }
    : { resourceType: LAMBDA, resource: task.integration };
}

/** The error every step of an ended execution throws: neither retried nor caught. */
function stoppedError(): TerminalStateError {
  return new TerminalStateError('States.ExecutionEnded', 'The execution has ended (stopped or timed out)');
}

function errorDetails(error: unknown): { error: string; cause: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  return { error: e.name, cause: e.message };
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError('ValidationException', `1 validation error detected: ${message}`);
}

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw validation(`Value ${value === undefined ? 'null' : JSON.stringify(value)} at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`Value at '${field}' failed to satisfy constraint: Member must be a string`);
  return value;
}

function optionalBoolean(input: Record<string, unknown>, field: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw validation(`Value at '${field}' failed to satisfy constraint: Member must be a boolean`);
  return value;
}

/** One page of `items` per `maxResults`/`nextToken`; a token only fits the listing that issued it. */
function paginate<T>(items: readonly T[], input: Record<string, unknown>, listing: string): { page: T[]; nextToken?: string } {
  const requested = input.maxResults;
  if (requested !== undefined && (typeof requested !== 'number' || !Number.isInteger(requested) || requested < 0 || requested > MAX_PAGE)) {
    throw validation(`Value '${String(requested)}' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and ${MAX_PAGE}`);
  }
  const size = !requested ? DEFAULT_PAGE : requested;
  let offset = 0;
  const token = optionalString(input, 'nextToken');
  if (token !== undefined) {
    const decoded = decodeToken(token);
    if (!decoded || decoded.listing !== listing) throw new AwsServiceError('InvalidToken', `Invalid Token: '${token}'`);
    offset = decoded.offset;
  }
  const page = items.slice(offset, offset + size);
  const next = offset + size;
  return { page, nextToken: next < items.length ? Buffer.from(JSON.stringify({ listing, offset: next })).toString('base64url') : undefined };
}

function decodeToken(token: string): { listing: string; offset: number } | null {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { listing?: unknown; offset?: unknown };
    return typeof value.listing === 'string' && typeof value.offset === 'number' ? { listing: value.listing, offset: value.offset } : null;
  } catch {
    return null;
  }
}

/** A copy of `value` with every string equal to `from` replaced by `to`. */
function replaceString(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((item) => replaceString(item, from, to));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceString(item, from, to)]));
  }
  return value;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
