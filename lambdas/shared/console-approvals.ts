import {
  type ActionState,
  type CodePipelineClient,
  GetPipelineStateCommand,
  PutApprovalResultCommand,
} from '@aws-sdk/client-codepipeline';
import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { withThrottlingRetry } from './retry';

/**
 * The release's approval gates as manual approval actions in the CodePipeline console, and the
 * rules that keep the two in step: the console and `ecs-release approve|reject` (or the API)
 * answer the same gate, whichever is first wins, and the other is closed with a reason.
 *
 * The pipeline's `Release` stage runs the Step Functions action and one manual approval per
 * configured gate side by side (the same `runOrder`): the approvals are open from the moment the
 * release starts. CodePipeline names the release's execution `pipeline-<action execution id>` of
 * the Step Functions action ("AWS Step Functions invoke action reference": ExecutionNamePrefix),
 * so the pipeline's state says which release its approvals belong to.
 */

/** The gates a release can wait at. */
export type Gate = 'before-traffic' | 'before-promote';

/** The pipeline stage that releases, and the names of its actions. */
export const CONSOLE_APPROVAL_NAMES = {
  stage: 'Release',
  /** The Step Functions invoke action. */
  releaseAction: 'Release',
  /** Its ExecutionNamePrefix: the release id is `<prefix>-<action execution id>`. */
  executionNamePrefix: 'pipeline',
  /** The manual approval action of each gate. */
  gateActions: { 'before-traffic': 'ApproveTraffic', 'before-promote': 'ApprovePromotion' } as const satisfies Record<Gate, string>,
  /** The release state machine's state of each gate, as its history names it. */
  gateStates: { 'before-traffic': 'ApproveTraffic', 'before-promote': 'ApprovePromotion' } as const satisfies Record<Gate, string>,
} as const;

/** One gate's manual approval action, as GetPipelineState shows it. */
export interface ConsoleGate {
  readonly gate: Gate;
  readonly actionName: string;
  /** `InProgress` while it waits; `Succeeded` approved, `Failed` rejected; `Abandoned`; none before it ran. */
  readonly status: string | null;
  /** Present while it waits: what PutApprovalResult needs. */
  readonly token: string | null;
  /** The approver's comment. */
  readonly summary: string | null;
  /** Who answered it in the console (an IAM identity). */
  readonly lastUpdatedBy: string | null;
}

/** The pipeline's `Release` stage: which release it runs and its gates' approvals. */
export interface ReleaseStageState {
  readonly pipelineExecutionId: string | null;
  /** The release (execution name) the stage's Step Functions action started, when it has started one. */
  readonly releaseId: string | null;
  readonly gates: readonly ConsoleGate[];
}

/** How a gate was answered outside the console (from the release's history). */
export interface GateAnswer {
  readonly answer: 'approved' | 'rejected';
  /** Who: `approvedBy`, or the rejecter named in the cause. */
  readonly by: string;
  readonly reason: string | null;
}

/** What the sync found about the release itself. */
export interface ReleaseFacts {
  readonly releaseId: string;
  /** Step Functions' status; `null` when the execution is unknown (not started yet, or expired). */
  readonly status: string | null;
  readonly error: string | null;
  readonly cause: string | null;
  /** The gate the approval document says is waiting now, for this release. */
  readonly waitingGate: Gate | null;
  /** Gates already answered by the CLI or the API, read from the history while the release runs. */
  readonly answered: Readonly<Partial<Record<Gate, GateAnswer>>>;
}

/** One thing to do for one gate. */
export type SyncDecision =
  | { readonly kind: 'answer-gate'; readonly gate: Gate; readonly answer: 'approve' | 'reject'; readonly by: string; readonly reason: string }
  | { readonly kind: 'close-console'; readonly gate: Gate; readonly status: 'Approved' | 'Rejected'; readonly summary: string }
  | { readonly kind: 'none'; readonly gate: Gate; readonly reason: string };

/** CodePipeline caps an approval summary at 512 characters. */
const MAX_SUMMARY = 512;

/**
 * What to do for each console approval of the release's stage: pure, so every rule has a row in
 * a table test.
 *
 * - answered in the console (Succeeded/Failed) while the release waits at that gate: answer the
 *   gate the same way (approve, or reject, which rolls back), naming the console's approver. An
 *   answer given before the release reached the gate is applied when it gets there (the gate
 *   opening runs the sync again).
 * - waiting in the console, but the gate was answered by `ecs-release approve|reject` or the
 *   API: close it the same way, naming who answered.
 * - waiting in the console, and the release has ended: close it, approved if the release
 *   promoted (it never stopped at this gate), else rejected with the release's end and error,
 *   so the pipeline finishes and says why.
 * - anything else: nothing yet.
 */
export function decideConsoleSync(stage: ReleaseStageState, release: ReleaseFacts): SyncDecision[] {
  return stage.gates.map((console): SyncDecision => {
    const { gate } = console;
    if (stage.releaseId !== release.releaseId) {
      return { kind: 'none', gate, reason: `the stage runs ${stage.releaseId ?? 'no release'}, not ${release.releaseId}` };
    }
    if (console.status === 'Succeeded' || console.status === 'Failed') {
      if (release.status === 'RUNNING' && release.waitingGate === gate) {
        const by = `${console.lastUpdatedBy ?? 'an unknown identity'} in the CodePipeline console`;
        return console.status === 'Succeeded'
          ? { kind: 'answer-gate', gate, answer: 'approve', by, reason: console.summary ?? '' }
          : { kind: 'answer-gate', gate, answer: 'reject', by, reason: console.summary || 'rejected in the CodePipeline console' };
      }
      return { kind: 'none', gate, reason: 'answered in the console; the release is not waiting at this gate now' };
    }
    if (console.status !== 'InProgress' || !console.token) {
      return { kind: 'none', gate, reason: `the console approval is ${console.status ?? 'not started'}` };
    }
    const answered = release.answered[gate];
    if (answered) {
      return answered.answer === 'approved'
        ? { kind: 'close-console', gate, status: 'Approved', summary: cut(`Answered outside the console: approved by ${answered.by} (ecs-release approve or the API).`) }
        : {
            kind: 'close-console',
            gate,
            status: 'Rejected',
            summary: cut(`Answered outside the console: rejected by ${answered.by}${answered.reason ? `: ${answered.reason}` : ''} (ecs-release reject or the API).`),
          };
    }
    if (release.status !== null && release.status !== 'RUNNING') {
      if (release.status === 'SUCCEEDED') {
        return { kind: 'close-console', gate, status: 'Approved', summary: cut(`Release ${release.releaseId} promoted without stopping at this gate.`) };
      }
      if (release.error === 'ApprovalRejectedError') {
        return { kind: 'close-console', gate, status: 'Rejected', summary: cut(`Release ${release.releaseId} was rejected outside the console and rolled back: ${release.cause ?? ''}`) };
      }
      return {
        kind: 'close-console',
        gate,
        status: 'Rejected',
        summary: cut(
          `Release ${release.releaseId} ended ${release.status}${release.error ? ` (${release.error})` : ''} before this gate was answered; ` +
            'it was rolled back. See its Step Functions execution.',
        ),
      };
    }
    return { kind: 'none', gate, reason: 'waiting in the console; the release has not answered this gate yet' };
  });
}

function cut(summary: string): string {
  return summary.length <= MAX_SUMMARY ? summary : `${summary.slice(0, MAX_SUMMARY - 1)}…`;
}

/**
 * The `Release` stage of `pipelineName` from GetPipelineState, with the approvals of `gates`.
 * `null` when the stage has not run yet.
 */
export async function readReleaseStage(codepipeline: CodePipelineClient, pipelineName: string, gates: readonly Gate[]): Promise<ReleaseStageState | null> {
  const state = await withThrottlingRetry(`GetPipelineState ${pipelineName}`, () =>
    codepipeline.send(new GetPipelineStateCommand({ name: pipelineName })),
  );
  const stage = state.stageStates?.find((s) => s.stageName === CONSOLE_APPROVAL_NAMES.stage);
  if (!stage?.latestExecution) return null;
  const action = (name: string): ActionState | undefined => stage.actionStates?.find((a) => a.actionName === name);
  const releaseExecution = action(CONSOLE_APPROVAL_NAMES.releaseAction)?.latestExecution;
  return {
    pipelineExecutionId: stage.latestExecution.pipelineExecutionId ?? null,
    releaseId: releaseExecution?.actionExecutionId ? `${CONSOLE_APPROVAL_NAMES.executionNamePrefix}-${releaseExecution.actionExecutionId}` : null,
    gates: gates.map((gate) => {
      const actionName = CONSOLE_APPROVAL_NAMES.gateActions[gate];
      const latest = action(actionName)?.latestExecution;
      return {
        gate,
        actionName,
        status: latest?.status ?? null,
        token: latest?.token ?? null,
        summary: latest?.summary ?? null,
        lastUpdatedBy: latest?.lastUpdatedBy ?? null,
      };
    }),
  };
}

/** PutApprovalResult errors that mean the approval no longer waits (answered, or superseded). */
const ALREADY_ANSWERED = new Set(['ApprovalAlreadyCompletedException', 'InvalidApprovalTokenException']);

/**
 * Answers a waiting console approval. Guarded: an approval someone answered a moment earlier
 * (`ApprovalAlreadyCompletedException`) or whose token went stale (`InvalidApprovalTokenException`)
 * is `already-answered`, not an error, so two syncs racing each other both succeed.
 */
export async function closeConsoleApproval(
  codepipeline: CodePipelineClient,
  pipelineName: string,
  gate: ConsoleGate,
  status: 'Approved' | 'Rejected',
  summary: string,
): Promise<'closed' | 'already-answered'> {
  if (!gate.token) return 'already-answered';
  try {
    await withThrottlingRetry(`PutApprovalResult ${pipelineName}/${gate.actionName}`, () =>
      codepipeline.send(
        new PutApprovalResultCommand({
          pipelineName,
          stageName: CONSOLE_APPROVAL_NAMES.stage,
          actionName: gate.actionName,
          token: gate.token!,
          result: { status, summary: cut(summary) },
        }),
      ),
    );
    return 'closed';
  } catch (error) {
    if (error instanceof Error && ALREADY_ANSWERED.has(error.name)) return 'already-answered';
    throw error;
  }
}

/** How many history pages (of 1000 events, newest first) are searched for a gate's answer. */
const HISTORY_PAGES = 3;

/**
 * The gates of a running release that were answered outside the console, from its execution
 * history: a gate state that exited carries `{ approval: { approvedBy } }` in its output (the
 * approve output of `approveGate`). A rejection ends the release, whose error says so, so it is
 * read from DescribeExecution instead. Newest first, a few pages: the sync runs right after an
 * answer, so the answer is recent.
 */
export async function gatesAnsweredInHistory(sfn: SFNClient, executionArn: string): Promise<Partial<Record<Gate, GateAnswer>>> {
  const answered: Partial<Record<Gate, GateAnswer>> = {};
  let nextToken: string | undefined;
  for (let page = 0; page < HISTORY_PAGES; page++) {
    const out = await withThrottlingRetry(`GetExecutionHistory ${executionArn}`, () =>
      sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1000, nextToken, includeExecutionData: true })),
    );
    for (const event of out.events ?? []) collectAnswer(event, answered);
    nextToken = out.nextToken;
    if (!nextToken) break;
  }
  return answered;
}

function collectAnswer(event: HistoryEvent, answered: Partial<Record<Gate, GateAnswer>>): void {
  if (event.type !== 'TaskStateExited' || !event.stateExitedEventDetails) return;
  const { name, output } = event.stateExitedEventDetails;
  const gate = (Object.keys(CONSOLE_APPROVAL_NAMES.gateStates) as Gate[]).find((g) => CONSOLE_APPROVAL_NAMES.gateStates[g] === name);
  if (!gate || answered[gate]) return;
  try {
    const by = (JSON.parse(output ?? '{}') as { approval?: { approvedBy?: unknown } }).approval?.approvedBy;
    answered[gate] = { answer: 'approved', by: typeof by === 'string' ? by : 'someone', reason: null };
  } catch {
    answered[gate] = { answer: 'approved', by: 'someone', reason: null };
  }
}
