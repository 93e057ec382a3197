/**
 * Static checks of statemachines/release.asl.json: the contract between the definition, the
 * error catalogue and the handlers. A name the ASL routes on that no handler can throw, or a
 * placeholder with no handler behind it, would only show up in production.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ERROR_CATALOGUE, SERVICE_ERROR_NAMES } from '../../lambdas/shared/errors';
import { ASL_PATH, handlerFileOf, placeholderOf } from '../support/release-harness';

interface Rule { ErrorEquals: string[]; Next?: string }
interface State {
  Type: string;
  Resource?: string;
  Parameters?: { FunctionName?: string };
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

describe('release.asl.json', () => {
  it('routes only on error names that exist in the catalogue or are Step Functions\' own', () => {
    const known = new Set([...Object.keys(ERROR_CATALOGUE), ...SERVICE_ERROR_NAMES]);
    const used = states.flatMap(([, s]) => [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals));
    const fixedFailNames = states.map(([, s]) => s.Error).filter((e): e is string => Boolean(e));
    expect([...used, ...fixedFailNames].filter((name) => !known.has(name))).toEqual([]);
  });

  it('names, for every Task, a function placeholder backed by a handler file', () => {
    for (const [name, state] of tasks) {
      const placeholder = placeholderOf(state);
      expect({ name, placeholder }).toEqual({ name, placeholder: expect.any(String) });
      const file = path.join(__dirname, '../../lambdas', `${handlerFileOf(placeholder!)}.ts`);
      expect({ name, exists: existsSync(file) }).toEqual({ name, exists: true });
    }
  });

  it('ends every Catch list with States.ALL, so no error escapes rollback', () => {
    for (const [name, state] of tasks) {
      const last = state.Catch?.[state.Catch.length - 1];
      expect({ name, last: last?.ErrorEquals }).toEqual({ name, last: ['States.ALL'] });
    }
  });

  it('sends every catch after the lock is taken to Rollback or to a lock-releasing end', () => {
    const beforeLock = new Set(['Plan']);
    const allowed = new Set(['Rollback', 'MarkRollbackFailed', 'RollbackFailed', 'ReleaseLockAfterScaleDownFailure', 'LockReleaseFailed', 'CheckHealth', 'ApprovalTimedOut']);
    for (const [name, state] of tasks) {
      if (beforeLock.has(name)) continue;
      for (const c of state.Catch ?? []) {
        if (name === 'AcquireLock' && c.Next === 'Rejected') continue; // refused: the lock was never ours
        expect({ name, next: c.Next, allowed: allowed.has(c.Next!) }).toEqual({ name, next: c.Next, allowed: true });
      }
    }
  });

  it('retries the Lambda service exceptions on every Lambda task, and bounds every task in time', () => {
    for (const [name, state] of tasks) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect({ name, retriesLambda: retried.includes('Lambda.ServiceException') || retried.includes('States.ALL') }).toEqual({ name, retriesLambda: true });
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
