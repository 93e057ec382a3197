// Shared fixtures for the CLI tests: run the whole CLI in-process with captured output, a fixed
// clock, no real waiting, and SDK clients that aws-sdk-client-mock intercepts.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { Verdict } from '../../lambdas/shared/documents';
import { run, type RunDependencies } from '../../cli/main';
import { captureIo, type CapturedIo } from '../../cli/io';
import { CONFIG, STATE_MACHINE_ARN } from '../lambdas/api/fixtures';

export {
  approvalDoc,
  CONFIG,
  EXECUTION_ARN,
  givenParameters,
  lockDoc,
  NAMES,
  RELEASE_ID,
  releaseRecord,
  sdkErrors,
  SERVICE,
  STATE_MACHINE_ARN,
  stateDoc,
  TASK_TOKEN,
} from '../lambdas/api/fixtures';

/** Who the CLI acts as in tests. */
export const IDENTITY = 'alice@laptop';
/** The tests' clock. */
export const NOW = new Date('2025-01-01T12:00:00.000Z');
/** The service configuration as the CDK construct writes it: it names the release state machine. */
export const CONFIG_WITH_ARN = { ...CONFIG, releaseStateMachineArn: STATE_MACHINE_ARN };
export const IMAGE = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2';

/** What a CLI run produced. */
export interface CliRun {
  readonly code: number;
  readonly io: CapturedIo;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ecs-release <argv>` in-process. Polls are instant; the clock stands still unless `now` is given. */
export async function runCli(
  argv: string[],
  options: Partial<RunDependencies> & { interactive?: boolean } = {},
): Promise<CliRun> {
  const io = captureIo({ interactive: options.interactive });
  const code = await run(argv, {
    io,
    identity: IDENTITY,
    now: () => NOW,
    sleep: async () => undefined,
    pollIntervalMs: 0,
    cleanupTimeoutMs: 1000,
    ...options,
  });
  return { code, io, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

/** A full verdict, as CheckHealth returns it. */
export function verdict(overrides: Partial<Verdict> = {}): Verdict {
  return {
    status: 'healthy',
    reasons: [],
    colour: 'green',
    stepIndex: 0,
    weight: 10,
    attempt: 0,
    window: { start: '2025-01-01T12:01:00.000Z', end: '2025-01-01T12:02:00.000Z' },
    evidence: { requests: 1234, errors5xx: 1, successRate: 0.9992, p99LatencyMs: 120, alarmsInAlarm: [] },
    thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
    ...overrides,
  };
}

/** The execution's state JSON (`$`) at some point of a canary 10,50,100 from blue to green. */
export function executionData(options: {
  stepIndex?: number;
  shiftedTo?: number | null;
  verdicts?: Verdict[];
  error?: { Error: string; Cause: string };
} = {}): string {
  const stepIndex = options.stepIndex ?? 0;
  const shifted = options.shiftedTo ?? null;
  return JSON.stringify({
    release: { id: 'x', service: 'colorapp', schedule: [10, 50, 100] },
    colours: { live: 'blue', idle: 'green', liveTaskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:7' },
    ...(shifted === null
      ? {}
      : {
          shift: {
            stepIndex: [10, 50, 100].indexOf(shifted),
            weight: shifted,
            weights: { live: 100 - shifted, idle: shifted },
            changed: true,
            shiftedAt: '2025-01-01T12:01:00.000Z',
          },
        }),
    progress: { stepIndex, attempt: 0, verdicts: options.verdicts ?? [], decision: 'shift', failure: null },
    ...(options.error ? { error: options.error } : {}),
  });
}

let nextEventId = 1;

/** A `<Type>StateEntered` history event for `name` with `input`. */
export function entered(name: string, input: string, type: HistoryEvent['type'] = 'TaskStateEntered'): HistoryEvent {
  return { id: nextEventId++, type, timestamp: NOW, stateEnteredEventDetails: { name, input } };
}

/** A `TaskStateExited` history event for `name` with `output`. */
export function exited(name: string, output: string): HistoryEvent {
  return { id: nextEventId++, type: 'TaskStateExited', timestamp: NOW, stateExitedEventDetails: { name, output } };
}

/** An event without state data (a Lambda scheduled, a task succeeded...). */
export function plainEvent(type: HistoryEvent['type']): HistoryEvent {
  return { id: nextEventId++, type, timestamp: NOW };
}
