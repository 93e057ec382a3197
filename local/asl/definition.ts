/**
 * The release state machine as the local runner (aws-local-stepfunctions 3.0.0) executes it: the
 * real `statemachines/release.asl.json`, its `${...}` placeholders substituted the way CDK's
 * `definitionSubstitutions` does, and the runner's known deviations corrected so what runs
 * locally behaves as Step Functions would. Shared by the path-test harness and the local Step
 * Functions service, so both run the same definition the same way.
 */
import './polyfills';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { RELEASE_EVENT_SUBSTITUTIONS } from '../../infra/release-event-schema';
import { parseReferencePath } from './reference-path';

/** The release state machine definition in the repository. */
export const RELEASE_ASL_PATH = path.join(__dirname, '../../statemachines/release.asl.json');

/** One state as written in an ASL file. */
export type AslState = Record<string, unknown> & { readonly Type: string };

/** An ASL definition as written in the file. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly TimeoutSeconds?: number;
  readonly [field: string]: unknown;
}

/** How a Task state reaches its Lambda function. */
export type LambdaIntegration =
  /** `"Resource": "${XFunctionArn}"`: the function is invoked with the state's effective input. */
  | 'function'
  /** `arn:aws:states:::lambda:invoke`: `Parameters.Payload` in, `{ Payload, StatusCode... }` out. */
  | 'invoke'
  /** `arn:aws:states:::lambda:invoke.waitForTaskToken`: the task waits for SendTaskSuccess/Failure. */
  | 'invoke.waitForTaskToken';

/** A Task state that invokes one of the release's Lambda functions. */
export interface LambdaTask {
  readonly stateName: string;
  /** The placeholder naming the function, e.g. `ShiftTraffic` for `${ShiftTrafficFunctionArn}`. */
  readonly placeholder: string;
  readonly integration: LambdaIntegration;
}

/** The EventBridge PutEvents integration (request-response). */
export const PUT_EVENTS_RESOURCE = 'arn:aws:states:::events:putEvents';

/** A Task state that sends events with `arn:aws:states:::events:putEvents` (`Parameters.Entries`). */
export interface PutEventsTask {
  readonly stateName: string;
  readonly integration: 'events:putEvents';
}

/** A Task state the local runner can run. */
export type LocalTask = LambdaTask | PutEventsTask;

/** The default substitutions besides the function ARNs: those ReleasePipeline always provides. */
export const DEFAULT_SUBSTITUTIONS: Readonly<Record<string, string>> = RELEASE_EVENT_SUBSTITUTIONS;

const PLACEHOLDER = /\$\{(\w+)FunctionArn\}/g;
const WHOLE_PLACEHOLDER = /^\$\{(\w+)FunctionArn\}$/;
const ANY_PLACEHOLDER = /\$\{(\w+)\}/g;
const INTEGRATIONS: Readonly<Record<string, LambdaIntegration>> = {
  'arn:aws:states:::lambda:invoke': 'invoke',
  'arn:aws:states:::lambda:invoke.waitForTaskToken': 'invoke.waitForTaskToken',
};

/** The placeholder of a Task state (`${ShiftTrafficFunctionArn}` -> `ShiftTraffic`), or null. */
export function placeholderOf(state: { readonly Resource?: unknown; readonly Parameters?: unknown; readonly Type?: unknown }): string | null {
  const parameters = state.Parameters as { FunctionName?: unknown } | undefined;
  const ref = parameters?.FunctionName ?? state.Resource ?? '';
  return typeof ref === 'string' ? (WHOLE_PLACEHOLDER.exec(ref)?.[1] ?? null) : null;
}

/** `ShiftTraffic` -> `shift-traffic`: the handler file a placeholder names. */
export function handlerFileOf(placeholder: string): string {
  return placeholder.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Every state of a definition, nested Parallel branches and Map processors included. */
export function* allStates(definition: { States: Record<string, AslState> }): Generator<[string, AslState]> {
  for (const [name, state] of Object.entries(definition.States)) {
    yield [name, state];
    const nested = [
      ...((state.Branches as { States: Record<string, AslState> }[] | undefined) ?? []),
      ...[state.ItemProcessor, state.Iterator].filter(Boolean),
    ] as { States: Record<string, AslState> }[];
    for (const child of nested) yield* allStates(child);
  }
}

/**
 * Every Task state of a definition as written (placeholders not yet substituted), with how the
 * local runner runs it. Throws for a Task state it cannot run: a Lambda task that names no
 * `${...FunctionArn}` placeholder, or an integration other than a Lambda invoke or
 * `events:putEvents`.
 */
export function localTasksOf(definition: AslDefinition): LocalTask[] {
  const tasks: LocalTask[] = [];
  for (const [stateName, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource);
    if (resource === PUT_EVENTS_RESOURCE) {
      const entries = (state.Parameters as { Entries?: unknown } | undefined)?.Entries;
      if (!Array.isArray(entries) && typeof (state.Parameters as Record<string, unknown> | undefined)?.['Entries.$'] !== 'string') {
        throw new Error(`Task ${stateName} uses ${PUT_EVENTS_RESOURCE} without Parameters.Entries`);
      }
      tasks.push({ stateName, integration: 'events:putEvents' });
      continue;
    }
    const integration = WHOLE_PLACEHOLDER.test(resource) ? 'function' : INTEGRATIONS[resource];
    if (!integration) {
      throw new Error(
        `Task ${stateName} uses resource ${resource}, which the local runner cannot run ` +
          `(only \${...FunctionArn}, Lambda invokes and ${PUT_EVENTS_RESOURCE})`,
      );
    }
    const placeholder = placeholderOf(state);
    if (!placeholder) throw new Error(`Task ${stateName} names no function placeholder`);
    tasks.push({ stateName, placeholder, integration });
  }
  return tasks;
}

/** True for an `events:putEvents` task. */
export function isPutEventsTask(task: LocalTask): task is PutEventsTask {
  return task.integration === 'events:putEvents';
}

/** The Lambda tasks of a definition as written; throws as {@link localTasksOf} does. */
export function lambdaTasksOf(definition: AslDefinition): LambdaTask[] {
  return localTasksOf(definition).filter((task): task is LambdaTask => !isPutEventsTask(task));
}

/** Where to load a definition from and how to name its functions. */
export interface LoadDefinitionOptions {
  /** The `.asl.json` file. */
  readonly path: string;
  readonly region: string;
  readonly account: string;
  /**
   * The Lambda function name a placeholder stands for.
   * @default - the handler file name, e.g. `shift-traffic`
   */
  readonly functionName?: (placeholder: string) => string;
  /**
   * What every other `${Name}` of the definition stands for. A placeholder with no value fails
   * the load, as it would fail the deployment.
   * @default - {@link DEFAULT_SUBSTITUTIONS}: the event bus and source ReleasePipeline provides
   */
  readonly substitutions?: Readonly<Record<string, string>>;
}

/** A definition ready for the local runner, and what it was made from. */
export interface LoadedDefinition {
  /** The definition as written in the file. */
  readonly raw: AslDefinition;
  /** Substituted and corrected: what `new StateMachine(...)` takes. */
  readonly definition: StateMachineDefinition;
  /** The Lambda tasks, by state. */
  readonly tasks: readonly LambdaTask[];
  /** The `events:putEvents` tasks, by state. */
  readonly putEventsTasks: readonly PutEventsTask[];
  /** The function ARN each placeholder was substituted with. */
  readonly functionArns: ReadonlyMap<string, string>;
  /** The file's text with the placeholders substituted: the definition as deployed. */
  readonly source: string;
}

/**
 * Loads an ASL file for the local runner: every `${...FunctionArn}` substituted by a Lambda ARN
 * and every other `${Name}` by its value in `substitutions`, as CDK does, and one known deviation
 * of aws-local-stepfunctions 3.0.0 corrected: it resolves `TimeoutSecondsPath` against the
 * task's `Parameters` output, while Step Functions resolves it against the state input. For the
 * Lambda-invoke tasks the state input is under `Payload`, so the path is re-rooted there; what it
 * selects is the same value AWS would select.
 *
 * @example
 * const { definition } = loadDefinition({ path: RELEASE_ASL_PATH, region: 'eu-west-1', account: '000000000000' });
 * const machine = new StateMachine(definition); // once: validation costs 150-350 ms
 */
export function loadDefinition(options: LoadDefinitionOptions): LoadedDefinition {
  const text = readFileSync(options.path, 'utf8');
  const raw = JSON.parse(text) as AslDefinition;
  const localTasks = localTasksOf(raw);
  const functionName = options.functionName ?? handlerFileOf;
  const substitutions = options.substitutions ?? DEFAULT_SUBSTITUTIONS;
  const functionArns = new Map<string, string>();
  const substituted = text
    .replace(PLACEHOLDER, (_match, placeholder: string) => {
      const arn = `arn:aws:lambda:${options.region}:${options.account}:function:${functionName(placeholder)}`;
      functionArns.set(placeholder, arn);
      return arn;
    })
    .replace(ANY_PLACEHOLDER, (_match, name: string) => {
      const value = substitutions[name];
      if (value === undefined) {
        throw new Error(`The definition uses \${${name}}, which has no substitution (known: ${Object.keys(substitutions).join(', ') || 'none'})`);
      }
      // Substituted inside JSON strings: escaped as a JSON string's content.
      return JSON.stringify(value).slice(1, -1);
    });
  const definition = JSON.parse(substituted) as AslDefinition;
  for (const [, state] of allStates(definition)) {
    const payload = (state.Parameters as { Payload?: Record<string, unknown> } | undefined)?.Payload;
    const timeoutPath = state.TimeoutSecondsPath;
    if (payload && typeof timeoutPath === 'string') {
      const root = timeoutPath.split('.')[1];
      if (payload[`${root}.$`] !== `$.${root}`) {
        throw new Error(`TimeoutSecondsPath ${timeoutPath} is not reachable through the Payload; cannot run locally`);
      }
      state.TimeoutSecondsPath = timeoutPath.replace(/^\$\./, '$.Payload.');
    }
  }
  return {
    raw,
    definition: definition as unknown as StateMachineDefinition,
    tasks: localTasks.filter((task): task is LambdaTask => !isPutEventsTask(task)),
    putEventsTasks: localTasks.filter(isPutEventsTask),
    functionArns,
    source: substituted,
  };
}

/** The longest Task timeout the runner can arm: `setTimeout` fires at once beyond 2^31-1 ms. */
export const MAX_LOCAL_TASK_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * Replaces every Wait state by a Task state calling `resource`, with the same `InputPath`,
 * `OutputPath` and transition, so the local service times waits itself. The runner's own Wait
 * only takes a fixed per-state override chosen before the run, while the release's waits are
 * `SecondsPath` values known only when the state is entered; the service evaluates them and can
 * scale them. A Task with no `Parameters`/`ResultPath` whose function returns its input has the
 * same data flow as a Wait. Returns the converted definition and the original Wait states.
 */
export function withLocalWaits(
  definition: StateMachineDefinition,
  resource: string,
): { definition: StateMachineDefinition; waits: ReadonlyMap<string, AslState> } {
  const copy = JSON.parse(JSON.stringify(definition)) as AslDefinition;
  const waits = new Map<string, AslState>();
  for (const [name, state] of allStates(copy)) {
    if (state.Type !== 'Wait') continue;
    for (const field of ['SecondsPath', 'TimestampPath'] as const) {
      if (typeof state[field] === 'string') parseReferencePath(state[field]);
    }
    waits.set(name, { ...state });
    const { InputPath, OutputPath, Next, End, Comment } = state;
    for (const key of Object.keys(state)) delete state[key];
    Object.assign(state, {
      Type: 'Task',
      Resource: resource,
      TimeoutSeconds: MAX_LOCAL_TASK_SECONDS,
      ...(Comment !== undefined && { Comment }),
      ...(InputPath !== undefined && { InputPath }),
      ...(OutputPath !== undefined && { OutputPath }),
      ...(Next !== undefined && { Next }),
      ...(End !== undefined && { End }),
    });
  }
  return { definition: copy as unknown as StateMachineDefinition, waits };
}
