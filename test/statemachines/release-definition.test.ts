/**
 * Static checks of statemachines/release.asl.json: the contract between the definition, the
 * error catalogue, the handlers and the release event schema. A name the ASL routes on that no
 * handler can throw, a placeholder with no handler behind it, or an event that cannot fail
 * quietly would only show up in production.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RELEASE_EVENT_SUBSTITUTIONS, RELEASE_EVENT_TYPES } from '../../infra/release-event-schema';
import { ERROR_CATALOGUE, SERVICE_ERROR_NAMES } from '../../lambdas/shared/errors';
import { PUT_EVENTS_RESOURCE } from '../../local/asl/definition';
import { ASL_PATH, handlerFileOf, placeholderOf } from '../support/release-harness';

interface Rule { ErrorEquals: string[]; Next?: string; ResultPath?: string | null }
interface Entry { EventBusName?: string; Source?: string; DetailType?: string; Detail?: Record<string, unknown> }
interface State {
  Type: string;
  Resource?: string;
  Parameters?: { FunctionName?: string; Entries?: Entry[] };
  ResultPath?: string | null;
  Retry?: Rule[];
  Catch?: Rule[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Error?: string;
  ErrorPath?: string;
  End?: boolean;
}
const definition = JSON.parse(readFileSync(ASL_PATH, 'utf8')) as { StartAt: string; States: Record<string, State> };
const states = Object.entries(definition.States);
const tasks = states.filter(([, s]) => s.Type === 'Task');
/** The Task states that publish release events: the one integration besides Lambda. */
const eventTasks = tasks.filter(([, s]) => s.Resource === PUT_EVENTS_RESOURCE);
const lambdaTasks = tasks.filter(([, s]) => s.Resource !== PUT_EVENTS_RESOURCE);
/** EventBridge errors worth retrying: throttling, its own faults, entries it could not take now. */
const EVENTBRIDGE_RETRYABLE = [
  'EventBridge.ThrottlingException',
  'EventBridge.InternalException',
  'EventBridge.AmazonEventBridgeException',
  'EventBridge.SdkClientException',
  'EventBridge.FailedEntry',
];

describe('release.asl.json', () => {
  it('routes only on error names that exist in the catalogue or are Step Functions\' own', () => {
    const known = new Set([...Object.keys(ERROR_CATALOGUE), ...SERVICE_ERROR_NAMES]);
    const used = states.flatMap(([, s]) => [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals));
    const fixedFailNames = states.map(([, s]) => s.Error).filter((e): e is string => Boolean(e));
    expect([...used, ...fixedFailNames].filter((name) => !known.has(name))).toEqual([]);
  });

  it('names, for every Task but the PutEvents ones, a function placeholder backed by a handler file', () => {
    expect(lambdaTasks.length + eventTasks.length).toBe(tasks.length);
    for (const [name, state] of lambdaTasks) {
      const placeholder = placeholderOf(state);
      expect({ name, placeholder }).toEqual({ name, placeholder: expect.any(String) });
      const file = path.join(__dirname, '../../lambdas', `${handlerFileOf(placeholder!)}.ts`);
      expect({ name, exists: existsSync(file) }).toEqual({ name, exists: true });
    }
  });

  it('allows exactly one other integration, events:putEvents, for the release events on the pipeline\'s bus', () => {
    const resources = new Set(tasks.map(([, s]) => s.Resource!).filter((r) => r.startsWith('arn:aws:states:::')));
    expect([...resources].sort()).toEqual(
      ['arn:aws:states:::events:putEvents', 'arn:aws:states:::lambda:invoke.waitForTaskToken'].sort(),
    );
    expect(eventTasks.map(([name]) => name)).toEqual(['StepPassed', 'LastStepPassed']);
    for (const [name, state] of eventTasks) {
      const entries = state.Parameters?.Entries ?? [];
      expect({ name, entries: entries.length }).toEqual({ name, entries: 1 });
      // The bus and the source come from the pipeline's substitutions, never from the file.
      expect({ name, bus: entries[0].EventBusName, source: entries[0].Source, detailType: entries[0].DetailType }).toEqual({
        name,
        bus: '${ReleaseEventBusName}',
        source: '${ReleaseEventSource}',
        detailType: RELEASE_EVENT_TYPES.stepPassed,
      });
    }
    expect(Object.keys(RELEASE_EVENT_SUBSTITUTIONS).sort()).toEqual(['ReleaseEventBusName', 'ReleaseEventSource']);
  });

  it('publishes a step event exactly once per passed step: after HealthDecision chose shift or promote, and from nowhere else', () => {
    const choices = definition.States.HealthDecision.Choices as Array<{ StringEquals?: string; Next: string }>;
    const next = Object.fromEntries(choices.map((c) => [c.StringEquals, c.Next]));
    expect(next).toMatchObject({ shift: 'StepPassed', promote: 'LastStepPassed', 'bake-again': 'Bake' });
    expect(definition.States.StepPassed.Next).toBe('ShiftTraffic');
    expect(definition.States.LastStepPassed.Next).toBe('ApprovalBeforePromote?');
    const into = (target: string) =>
      states.flatMap(([from, s]) =>
        [s.Next, s.Default, ...(s.Choices ?? []).map((c) => c.Next), ...(s.Catch ?? []).map((c) => c.Next)]
          .filter((n) => n === target && from !== target)
          .map(() => from),
      );
    expect(into('StepPassed')).toEqual(['HealthDecision']);
    expect(into('LastStepPassed')).toEqual(['HealthDecision']);
  });

  it('sends the same entry from both step event states, with the detail every release event has', () => {
    const { StepPassed, LastStepPassed } = definition.States;
    expect(LastStepPassed.Parameters).toEqual(StepPassed.Parameters);
    expect(LastStepPassed.Retry).toEqual(StepPassed.Retry);
    const detail = StepPassed.Parameters!.Entries![0].Detail!;
    const fields = Object.keys(detail).map((key) => key.replace(/\.\$$/, ''));
    expect(fields.sort()).toEqual(
      ['schemaVersion', 'service', 'releaseId', 'executionArn', 'outcome', 'status', 'error', 'cause', 'step', 'stepCount', 'weight', 'verdict', 'at'].sort(),
    );
    expect(detail).toMatchObject({ schemaVersion: 1, outcome: 'step-passed', status: 'RUNNING', error: null, cause: null });
    // Only what the handlers' schemas guarantee: a path that selects nothing is States.Runtime,
    // which no Catch catches, and would fail the release half-way.
    const paths = Object.entries(detail)
      .filter(([key]) => key.endsWith('.$'))
      .flatMap(([, value]) => String(value).match(/\$\$?[\w.]+/g) ?? []);
    expect(paths.filter((p) => !/^\$\.(release|progress|shift)\.|^\$\$\.State\.EnteredTime$/.test(p))).toEqual([]);
  });

  it('never lets a step event fail or roll back a release: retried on throttling and EventBridge faults, then caught and carried on', () => {
    for (const [name, state] of eventTasks) {
      expect({ name, retried: (state.Retry ?? []).flatMap((r) => r.ErrorEquals).sort() }).toEqual({ name, retried: [...EVENTBRIDGE_RETRYABLE].sort() });
      expect({ name, catch: state.Catch }).toEqual({ name, catch: [{ ErrorEquals: ['States.ALL'], Next: state.Next, ResultPath: '$.stepEvent' }] });
      // Neither the result nor the error may land where the release keeps its own error.
      expect({ name, resultPath: state.ResultPath }).toEqual({ name, resultPath: '$.stepEvent' });
    }
  });

  it('ends every Catch list with States.ALL, so no error escapes rollback', () => {
    for (const [name, state] of tasks) {
      const last = state.Catch?.[state.Catch.length - 1];
      expect({ name, last: last?.ErrorEquals }).toEqual({ name, last: ['States.ALL'] });
    }
  });

  /**
   * Where each task's Catch may go. Before the lock is ours, a failure is a refusal (Rejected);
   * from then on it is Rollback, except where the release is already promoted (the lock must still
   * be released before the execution fails) and inside the rollback itself. A task catching
   * straight into a Fail state its row does not list would skip one of those.
   */
  const CATCH_TARGETS: Record<string, readonly string[]> = {
    Plan: ['Rejected'],
    AcquireLock: ['Rejected', 'Rollback'],
    LoadState: ['Rollback'],
    Preflight: ['Rollback'],
    RegisterTaskDefinition: ['Rollback'],
    DeployIdle: ['Rollback'],
    CheckStability: ['Rollback'],
    ApproveTraffic: ['ApprovalTimedOut', 'Rollback'],
    ShiftTraffic: ['Rollback'],
    Bake: ['CheckHealth', 'Rollback'],
    CheckHealth: ['Rollback'],
    StepPassed: ['ShiftTraffic'],
    LastStepPassed: ['ApprovalBeforePromote?'],
    ApprovePromotion: ['ApprovalTimedOut', 'Rollback'],
    Promote: ['Rollback'],
    ScaleDownOldColour: ['ReleaseLockAfterScaleDownFailure'],
    ReleaseLock: ['LockNotReleased'],
    ReleaseLockAfterScaleDownFailure: ['LockNotReleased'],
    Rollback: ['MarkRollbackFailed'],
    MarkRollbackFailed: ['RollbackFailed'],
  };

  it('sends every Catch only to a target its state may use, and lists every task', () => {
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(CATCH_TARGETS).sort());
    for (const [name, state] of tasks) {
      for (const c of state.Catch ?? []) {
        expect({ name, next: c.Next, allowed: CATCH_TARGETS[name].includes(c.Next!) }).toEqual({ name, next: c.Next, allowed: true });
      }
    }
  });

  it('puts every caught error where Rollback reads it, and keeps the release input beside it', () => {
    const rollbackReads = (definition.States.Rollback as State & { Parameters: Record<string, string> }).Parameters['error.$'];
    expect(rollbackReads).toBe('$.error');
    for (const [name, state] of tasks) {
      for (const c of state.Catch ?? []) {
        // `$` or null would replace the input or drop the error: Rollback could not read $.release.
        expect({ name, next: c.Next, resultPath: c.ResultPath }).toEqual({ name, next: c.Next, resultPath: expect.stringMatching(/^\$\.[A-Za-z]+$/) });
        if (c.Next === 'Rollback') expect({ name, resultPath: c.ResultPath }).toEqual({ name, resultPath: rollbackReads });
      }
    }
  });

  it('rejects at AcquireLock only the refusals that leave the lock not ours, and rolls back anything else', () => {
    expect(definition.States.AcquireLock.Catch).toEqual([
      {
        ErrorEquals: ['ReleaseInProgressError', 'StaleLockError', 'ValidationError', 'ConfigNotFoundError', 'ThrottledError', 'StateConflictError'],
        Next: 'Rejected',
        ResultPath: '$.error',
      },
      { ErrorEquals: ['States.ALL'], Next: 'Rollback', ResultPath: '$.error' },
    ]);
  });

  it('retries both lock releases alike, and fails a lock left behind with a cause naming the service', () => {
    const { ReleaseLock, ReleaseLockAfterScaleDownFailure, LockNotReleased, LockReleaseFailed } = definition.States as Record<string, State & { Parameters?: Record<string, string>; CausePath?: string }>;
    expect(ReleaseLockAfterScaleDownFailure.Retry).toEqual(ReleaseLock.Retry);
    expect(ReleaseLock.Retry!.flatMap((r) => r.ErrorEquals)).toContain('ThrottledError');
    // Both keep the lock error in one place, where the Pass state reads it.
    expect([ReleaseLock.Catch, ReleaseLockAfterScaleDownFailure.Catch]).toEqual([
      [{ ErrorEquals: ['States.ALL'], Next: 'LockNotReleased', ResultPath: '$.lockError' }],
      [{ ErrorEquals: ['States.ALL'], Next: 'LockNotReleased', ResultPath: '$.lockError' }],
    ]);
    expect(LockNotReleased).toMatchObject({ Type: 'Pass', Next: 'LockReleaseFailed', ResultPath: '$.lockReleaseFailure' });
    expect(LockNotReleased.Parameters!['Cause.$']).toMatch(/^States\.Format\(.*\$\.release\.service/);
    expect(LockReleaseFailed).toMatchObject({ Type: 'Fail', Error: 'LockReleaseFailedError', CausePath: '$.lockReleaseFailure.Cause' });
  });

  /**
   * The transient Lambda errors AWS recommends retrying on every Lambda task (Step Functions
   * developer guide, "Handle Lambda service exceptions",
   * https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
   */
  const TRANSIENT_LAMBDA_ERRORS = [
    'Lambda.ClientExecutionTimeoutException',
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
  ];

  it('retries the transient Lambda errors AWS lists on every Lambda task, and bounds every task in time', () => {
    for (const [name, state] of lambdaTasks) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      const missing = retried.includes('States.ALL') ? [] : TRANSIENT_LAMBDA_ERRORS.filter((e) => !retried.includes(e));
      expect({ name, missing }).toEqual({ name, missing: [] });
    }
    for (const [name, state] of tasks) {
      expect({ name, bounded: Boolean(state.TimeoutSeconds ?? state.TimeoutSecondsPath) }).toEqual({ name, bounded: true });
    }
  });

  it('has every Next reachable and no dangling target', () => {
    const names = new Set(Object.keys(definition.States));
    const reached = new Set<string>([definition.StartAt]);
    for (const [, s] of states) {
      for (const next of [s.Next, s.Default, ...(s.Choices ?? []).map((c) => c.Next), ...(s.Catch ?? []).map((c) => c.Next)]) {
        if (!next) continue;
        expect(names.has(next)).toBe(true);
        reached.add(next);
      }
    }
    expect([...names].filter((n) => !reached.has(n))).toEqual([]);
  });

  it('uses JSONPath only (the local runner ignores JSONata and Assign)', () => {
    const text = readFileSync(ASL_PATH, 'utf8');
    expect(text).not.toMatch(/"QueryLanguage":\s*"JSONata"|"Assign"|\{%/);
  });
});
