import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CONFIG,
  CONFIG_WITH_ARN,
  entered,
  EXECUTION_ARN,
  executionData,
  exited,
  givenParameters,
  IDENTITY,
  IMAGE,
  lockDoc,
  NAMES,
  NOW,
  plainEvent,
  RELEASE_ID,
  releaseRecord,
  runCli,
  sdkErrors,
  STATE_MACHINE_ARN,
  stateDoc,
  verdict,
} from './support';

const ssmMock = mockClient(SSMClient);
const ecsMock = mockClient(ECSClient);
const sfnMock = mockClient(SFNClient);

const RELEASE_ID_PATTERN = /^colorapp-20250101120000-[0-9a-f]{6}$/;
const START = ['start', '--service', 'colorapp', '--image', IMAGE];

/** The name the CLI gave the execution it started. */
let startedName: string | undefined;

function executionArnOf(name: string): string {
  return `arn:aws:states:eu-west-1:111122223333:execution:ecs-release:${name}`;
}

beforeEach(() => {
  ssmMock.reset();
  ecsMock.reset();
  sfnMock.reset();
  startedName = undefined;
  givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN });
  ecsMock.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
    services: [{ serviceName: input.services[0], status: 'ACTIVE' }],
    failures: [],
  }));
  sfnMock.on(StartExecutionCommand).callsFake((input: { name: string }) => {
    startedName = input.name;
    return { executionArn: executionArnOf(input.name), startDate: NOW };
  });
  // The new execution has taken the lock (without --wait, start waits for that answer).
  sfnMock.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => ({ executionArn: input.executionArn, status: 'RUNNING', startDate: NOW }));
  sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [exited('AcquireLock', '{}')] });
});

describe('ecs-release start', () => {
  it('checks config, ECS services and lock, starts the configured state machine and prints only the release id', async () => {
    const result = await runCli([
      ...START,
      '--strategy',
      'canary:10,50,100',
      '--bake-seconds',
      '30',
      '--approve-before-promote',
      '--reason',
      'new colours',
    ]);

    expect(result.code).toBe(0);
    expect(result.io.stdout).toEqual([expect.stringMatching(RELEASE_ID_PATTERN)]);
    const releaseId = result.io.stdout[0];
    expect(result.stderr).toContain(`Started release ${releaseId} of colorapp: ${IMAGE}, canary 10,50,100.`);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.config });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.lock });
    expect(ecsMock).toHaveReceivedCommandWith(DescribeServicesCommand, { cluster: 'colorapp-cluster', services: ['colorapp-blue'] });
    expect(ecsMock).toHaveReceivedCommandWith(DescribeServicesCommand, { cluster: 'colorapp-cluster', services: ['colorapp-green'] });
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: releaseId,
      input: JSON.stringify({
        service: 'colorapp',
        image: IMAGE,
        strategy: { type: 'canary', steps: [10, 50, 100] },
        bakeSeconds: 30,
        approvals: { beforePromote: true },
        requestedBy: IDENTITY,
        reason: 'new colours',
      }),
    });
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: executionArnOf(startedName!) });
  });

  it('without --wait still reports a start the lock step refused (a concurrent start won): exit 3, not a release id', async () => {
    sfnMock.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => ({
      executionArn: input.executionArn,
      status: 'FAILED',
      startDate: NOW,
      stopDate: NOW,
      error: 'ReleaseInProgressError',
      cause: JSON.stringify({
        errorType: 'ReleaseInProgressError',
        errorMessage: `Service 'colorapp' is already being released by ${RELEASE_ID} (execution ${EXECUTION_ARN}). Wait for it to finish, or abort it, then start again.`,
      }),
    }));

    const result = await runCli(START);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`release in progress: ${RELEASE_ID} (execution ${EXECUTION_ARN})`);
    expect(result.stdout).toBe('');
  });

  it('without --wait waits for the lock step while it has not answered, then prints the release id', async () => {
    let polls = 0;
    sfnMock.on(GetExecutionHistoryCommand).callsFake(() => ({ events: ++polls < 3 ? [entered('AcquireLock', '{}')] : [entered('LoadState', '{}')] }));

    const result = await runCli(START);

    expect(result.code).toBe(0);
    expect(polls).toBe(3);
    expect(result.io.stdout).toEqual([expect.stringMatching(RELEASE_ID_PATTERN)]);
  });

  it('sends only what was asked for, so the service defaults apply, and keeps an explicit --requested-by', async () => {
    const result = await runCli([...START, '--requested-by', 'ci-pipeline']);

    expect(result.code).toBe(0);
    const input = JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.input as string);
    expect(input).toEqual({ service: 'colorapp', image: IMAGE, requestedBy: 'ci-pipeline' });
    expect(result.stderr).toContain('canary 10,50,100 (service default)');
  });

  it('parses linear and blue-green strategies', async () => {
    await runCli([...START, '--strategy', 'linear:25']);
    await runCli([...START, '--strategy', 'blue-green']);

    const inputs = sfnMock.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input as string));
    expect(inputs.map((i) => i.strategy)).toEqual([{ type: 'linear', stepPercent: 25 }, { type: 'blue-green' }]);
  });

  it('uses --state-machine-arn over the config, and works with a config that names none', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG });
    const other = 'arn:aws:states:eu-west-1:111122223333:stateMachine:other';

    const result = await runCli([...START, '--state-machine-arn', other]);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: other });
  });

  it('prints the release as JSON with --output json', async () => {
    const result = await runCli([...START, '--output', 'json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      service: 'colorapp',
      releaseId: startedName,
      executionArn: executionArnOf(startedName!),
      stateMachineArn: STATE_MACHINE_ARN,
      image: IMAGE,
      strategy: { type: 'canary', steps: [10, 50, 100] },
      lock: 'acquired',
    });
  });

  it('refuses with "release in progress" and exit 3 when a running execution holds the lock', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({ status: 'RUNNING' });

    const result = await runCli(START);

    expect(result.code).toBe(3);
    expect(result.io.stderr).toEqual([
      `ecs-release: release in progress: ${RELEASE_ID} (execution ${EXECUTION_ARN}) — wait for it to finish ` +
        `(ecs-release status --service colorapp) or stop it (ecs-release abort --service colorapp), then start again`,
    ]);
    expect(result.stdout).toBe('');
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('refuses with exit 3 and says how to clear a stale lock whose execution has ended', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG_WITH_ARN, [NAMES.lock]: lockDoc() });
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' });

    const result = await runCli(START);

    expect(result.code).toBe(3);
    expect(result.io.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(/^ecs-release: stale release lock — Service 'colorapp' is locked by release .*execution is FAILED.*clear-lock/);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it.each([
    [['start', '--image', IMAGE], "ecs-release: missing --service — see 'ecs-release start --help'"],
    [['start', '--service', 'colorapp'], "ecs-release: missing --image — see 'ecs-release start --help'"],
    [
      ['start', '--service', 'colour app', '--image', IMAGE],
      "ecs-release: invalid --service 'colour app': letters, digits, _ . - only — see 'ecs-release start --help'",
    ],
    [
      ['start', '--service', 'colorapp', '--image', 'not an image'],
      "ecs-release: invalid --image 'not an image': must be <repository>:<tag> or <repository>@sha256:<digest> — see 'ecs-release start --help'",
    ],
    [
      [...START, '--strategy', 'canary:50,10'],
      "ecs-release: invalid --strategy 'canary:50,10': Canary steps must increase strictly; step 2 (10) is not above step 1 (50); " +
        "use canary:10,50,100, linear:25 or blue-green — see 'ecs-release start --help'",
    ],
    [
      [...START, '--strategy', 'rainbow'],
      "ecs-release: invalid --strategy 'rainbow': unknown strategy 'rainbow'; use canary:10,50,100, linear:25 or blue-green — see 'ecs-release start --help'",
    ],
    [
      [...START, '--bake-seconds', '10s'],
      "ecs-release: invalid --bake-seconds '10s': use a whole number from 1 to 86400 — see 'ecs-release start --help'",
    ],
    [[...START, '--wiat'], "ecs-release: unknown option '--wiat' for 'start' — see 'ecs-release start --help'"],
    [[...START, '--reason', '  '], "ecs-release: invalid --reason '  ': Too small: expected string to have >=1 characters — see 'ecs-release start --help'"],
  ])('rejects bad input %j with exit 2 before any AWS call', async (argv, message) => {
    const result = await runCli(argv);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toEqual([message]);
    expect(ssmMock.calls()).toHaveLength(0);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  /** Shell and path injection, control characters and oversized values in every free-text option. */
  const HOSTILE = ['; rm -rf /', '$(id)', '`id`', 'a\nb', '../../etc/passwd', '\u0000', '\u202e', 'x'.repeat(2000)];
  it.each([
    ...HOSTILE.map((bad) => ['--service', `colorapp${bad}`] as const),
    ...HOSTILE.map((bad) => ['--image', `${IMAGE}${bad}`] as const),
    ...HOSTILE.map((bad) => ['--strategy', `canary:10,${bad}`] as const),
    ...HOSTILE.map((bad) => ['--bake-seconds', `60${bad}`] as const),
  ])('refuses %s %j with exit 2, naming the option, before any AWS call', async (option, value) => {
    const argv = [...START.filter((_, i, all) => all[i] !== option && all[i - 1] !== option), option, value];
    const result = await runCli(argv);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toHaveLength(1);
    expect(result.io.stderr[0]).toMatch(new RegExp(`^ecs-release: invalid ${option} `));
    expect(ssmMock.calls()).toHaveLength(0);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('says the service is not configured (exit 2) when its config parameter is missing', async () => {
    givenParameters(ssmMock, {});

    const result = await runCli(START);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toEqual([
      "ecs-release: service not configured: Service 'colorapp' has no configuration at /ecs-release/colorapp/config. " +
        'Deploy its ReleasePipeline construct (or write the parameter) first — check --service, --region and --endpoint-url, ' +
        "or deploy the service with its ReleasePipeline construct",
    ]);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('exits 2 naming the ECS service the configuration points at when it does not exist', async () => {
    ecsMock.on(DescribeServicesCommand, { services: ['colorapp-green'] }).resolves({
      services: [],
      failures: [{ arn: 'arn:aws:ecs:eu-west-1:111122223333:service/colorapp-cluster/colorapp-green', reason: 'MISSING' }],
    });

    const result = await runCli(START);

    expect(result.code).toBe(2);
    expect(result.io.stderr).toEqual([
      'ecs-release: ECS service colorapp-green in cluster colorapp-cluster: MISSING — fix ecsServices/cluster in ' +
        '/ecs-release/colorapp/config, or create the missing ECS service',
    ]);
  });

  it('exits 2 when neither the config nor --state-machine-arn names the state machine', async () => {
    givenParameters(ssmMock, { [NAMES.config]: CONFIG });

    const result = await runCli(START);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no release state machine is known for 'colorapp'");
    expect(result.stderr).toContain('pass --state-machine-arn ARN');
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('exits 3 when the execution name is already taken', async () => {
    sfnMock.on(StartExecutionCommand).rejects(sdkErrors.executionAlreadyExists());

    const result = await runCli(START);

    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^ecs-release: an execution named colorapp-\d{14}-[0-9a-f]{6} already exists; nothing was started — run the command again/);
  });

  it('prints a stack only with --debug', async () => {
    givenParameters(ssmMock, {});

    const quiet = await runCli(START);
    const debug = await runCli([...START, '--debug']);

    expect(quiet.io.stderr).toHaveLength(1);
    expect(debug.io.stderr.length).toBeGreaterThan(1);
    expect(debug.io.stderr[1]).toContain('ConfigNotFoundError');
  });
});

describe('ecs-release start --wait', () => {
  const running = (): DescribeExecutionCommandOutput => ({
    executionArn: executionArnOf(startedName!),
    stateMachineArn: STATE_MACHINE_ARN,
    status: 'RUNNING',
    startDate: new Date(NOW.getTime() - 42_000),
    $metadata: {},
  });
  const healthy = [verdict(), verdict({ stepIndex: 1, weight: 50 }), verdict({ stepIndex: 2, weight: 100 })];

  /** The state document once the release ended, recording it under the id the CLI gave it. */
  function givenStateAfterwards(record: Parameters<typeof releaseRecord>[0], live: 'blue' | 'green') {
    ssmMock.on(GetParameterCommand, { Name: NAMES.state }).callsFake(() => {
      const last = releaseRecord({ id: startedName, executionArn: executionArnOf(startedName!), ...record });
      const state = stateDoc({
        live,
        colours: {
          blue: { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:7', image: 'registry/colorapp:v1', version: 'v1' },
          green: { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:8', image: IMAGE, version: 'v2' },
        },
        lastRelease: last,
        history: [last],
      });
      return { Parameter: { Name: NAMES.state, Value: JSON.stringify(state) } };
    });
  }

  it('polls until the execution succeeds, shows each change of progress, and exits 0 with a promoted summary', async () => {
    sfnMock
      .on(DescribeExecutionCommand)
      .callsFakeOnce(() => running())
      .callsFakeOnce(() => running())
      .callsFakeOnce(() => running())
      .callsFake(() => ({ ...running(), status: 'SUCCEEDED', stopDate: new Date(NOW.getTime() + 30_000) }));
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [entered('DeployIdle', executionData())] })
      .resolvesOnce({
        events: [plainEvent('TaskScheduled'), entered('Bake', executionData({ shiftedTo: 10 })), exited('ShiftTraffic', executionData({ shiftedTo: 10 }))],
      })
      .resolvesOnce({ events: [entered('Bake', executionData({ stepIndex: 1, shiftedTo: 50, verdicts: healthy.slice(0, 1) }))] })
      .resolves({
        events: [plainEvent('ExecutionSucceeded'), entered('Released', executionData({ stepIndex: 2, shiftedTo: 100, verdicts: healthy }), 'SucceedStateEntered')],
      });
    givenStateAfterwards({ outcome: 'promoted', fromColour: 'blue', toColour: 'green', image: IMAGE, version: 'v2', verdicts: [] }, 'green');

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(0);
    expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 4);
    expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, {
      executionArn: executionArnOf(startedName!),
      reverseOrder: true,
      maxResults: 25,
      includeExecutionData: true,
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.approval });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: NAMES.state });
    expect(result.io.stderr.filter((l) => l.startsWith('['))).toEqual([
      '[00:42] step 0/3 · blue 100 / green 0 · deploying green · no verdict yet',
      '[00:42] step 1/3 · blue 90 / green 10 · baking · no verdict yet',
      '[00:42] step 2/3 · blue 50 / green 50 · baking · last verdict: healthy (99.92%, 1234 req)',
      '[00:42] step 3/3 · blue 0 / green 100 · releasing the lock · last verdict: healthy (99.92%, 1234 req)',
    ]);
    expect(result.io.stdout[0]).toBe(startedName);
    expect(result.io.stdout.slice(1)).toEqual([
      `Release ${startedName} of colorapp: PROMOTED in 1m 12s`,
      `  green is live with v2 (${IMAGE})`,
      '  step 1 at 10% green: healthy — success 99.92% (min 99.0%), 1234 req (min 50), p99 120 ms (max 1000)',
      '  step 2 at 50% green: healthy — success 99.92% (min 99.0%), 1234 req (min 50), p99 120 ms (max 1000)',
      '  step 3 at 100% green: healthy — success 99.92% (min 99.0%), 1234 req (min 50), p99 120 ms (max 1000)',
    ]);
  });

  it('exits 1 with the reason when the release is rolled back', async () => {
    const unhealthy = verdict({
      status: 'unhealthy',
      reasons: ['Success rate 50.0% is below 99.0%.'],
      evidence: { requests: 300, errors5xx: 150, successRate: 0.5, p99LatencyMs: 90, alarmsInAlarm: [] },
    });
    sfnMock
      .on(DescribeExecutionCommand)
      .callsFakeOnce(() => running())
      .callsFake(() => ({
        ...running(),
        status: 'FAILED',
        stopDate: NOW,
        error: 'UnhealthyReleaseError',
        cause: 'Success rate 50.0% is below 99.0%.',
      }));
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [entered('Bake', executionData({ shiftedTo: 10 }))] })
      .resolves({
        events: [
          entered(
            'RolledBack',
            executionData({ shiftedTo: 10, verdicts: [unhealthy], error: { Error: 'UnhealthyReleaseError', Cause: 'Success rate 50.0% is below 99.0%.' } }),
            'FailStateEntered',
          ),
        ],
      });
    givenStateAfterwards(
      {
        outcome: 'rolled-back',
        fromColour: 'blue',
        toColour: 'green',
        image: IMAGE,
        version: 'v2',
        failure: { error: 'UnhealthyReleaseError', cause: 'Success rate 50.0% is below 99.0%.' },
      },
      'blue',
    );

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(1);
    expect(result.io.stderr.filter((l) => l.startsWith('['))).toEqual([
      '[00:42] step 1/3 · blue 90 / green 10 · baking · no verdict yet',
      '[00:42] step 1/3 · blue 90 / green 10 · rolling back: UnhealthyReleaseError · last verdict: unhealthy (50.0%, 300 req)',
    ]);
    expect(result.io.stdout.slice(1)).toEqual([
      `Release ${startedName} of colorapp: ROLLED BACK after 42s`,
      '  why: UnhealthyReleaseError: Success rate 50.0% is below 99.0%.',
      '  blue is live with v1 (registry/colorapp:v1)',
      '  step 1 at 10% green: unhealthy — success 50.0% (min 99.0%), 300 req (min 50), p99 90 ms (max 1000) — Success rate 50.0% is below 99.0%.',
    ]);
  });

  /**
   * Every way a followed release can end, and the exit code a CI job sees. A job must never read
   * a failed rollback as success, nor a clean rollback as "page someone".
   */
  it.each([
    ['promoted', 'SUCCEEDED', 0, 'PROMOTED'],
    ['rolled-back', 'FAILED', 1, 'ROLLED BACK'],
    ['failed', 'FAILED', 1, 'FAILED'],
    ['rollback-failed', 'FAILED', 5, 'ROLLBACK FAILED'],
  ] as const)('exits with the code of its recorded outcome: %s (execution %s) exits %i', async (outcome, status, code, headline) => {
    sfnMock.on(DescribeExecutionCommand).callsFake(() => ({ ...running(), status, stopDate: NOW }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
    givenStateAfterwards({ outcome, failure: outcome === 'promoted' ? null : { error: 'SomeError', cause: 'why' } }, outcome === 'promoted' ? 'green' : 'blue');

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(code);
    expect(result.io.stdout[1]).toContain(`of colorapp: ${headline}`);
  });

  it('exits 5 when the execution failed, no outcome was recorded and the lock is still held: not known to be clean', async () => {
    sfnMock.on(DescribeExecutionCommand).callsFake(() => ({ ...running(), status: 'FAILED', stopDate: NOW, error: 'States.Runtime' }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
    let reads = 0;
    ssmMock.on(GetParameterCommand, { Name: NAMES.lock }).callsFake(() => {
      // Read 1 is the start pre-check (no lock); afterwards this release's lock stays.
      if (++reads === 1) throw sdkParameterNotFound();
      const lock = lockDoc({ executionArn: executionArnOf(startedName!), releaseId: startedName });
      return { Parameter: { Name: NAMES.lock, Value: JSON.stringify(lock) } };
    });

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(5);
    expect(result.io.stdout[1]).toContain('execution FAILED; the cleanup had not recorded the rollback yet');
  });

  it('waits for the cleanup after an abort, then reports the recorded rollback', async () => {
    sfnMock.on(DescribeExecutionCommand).callsFake(() => ({ ...running(), status: 'ABORTED', stopDate: NOW, error: 'ExecutionAbortedError' }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [entered('Bake', executionData({ shiftedTo: 10 }))] });
    // Read 1 is the start pre-check (no lock). The cleanup handler runs outside the execution:
    // reads 2-4 still see this release's lock rolling back, then it is released.
    let reads = 0;
    ssmMock.on(GetParameterCommand, { Name: NAMES.lock }).callsFake(() => {
      reads += 1;
      if (reads === 1 || reads > 4) throw sdkParameterNotFound();
      const lock = lockDoc({ executionArn: executionArnOf(startedName!), releaseId: startedName, status: 'rolling-back' });
      return { Parameter: { Name: NAMES.lock, Value: JSON.stringify(lock) } };
    });
    givenStateAfterwards({ outcome: 'rolled-back', failure: { error: 'ExecutionAbortedError', cause: 'Aborted by bob' } }, 'blue');

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ecs-release: note: Execution ABORTED; waiting for the cleanup to roll the release back');
    expect(result.io.stdout[1]).toBe(`Release ${startedName} of colorapp: ROLLED BACK after 42s`);
    expect(result.io.stdout[2]).toBe('  why: ExecutionAbortedError: Aborted by bob');
    expect(reads).toBe(5);
    expect(result.io.stderr.filter((l) => l.startsWith('['))).toEqual([
      '[00:42] step 1/3 · blue 90 / green 10 · rolling back · no verdict yet',
    ]);
  });

  it('reports "release in progress" (exit 3) when another start won the race to the lock', async () => {
    const holder = 'colorapp-20250101115959-000001';
    sfnMock.on(DescribeExecutionCommand).callsFake(() => ({
      ...running(),
      status: 'FAILED',
      stopDate: NOW,
      error: 'ReleaseInProgressError',
      cause: `Service 'colorapp' is already being released by ${holder} (execution ${executionArnOf(holder)}). Wait for it to finish, or abort it, then start again.`,
    }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [entered('Rejected', JSON.stringify({ service: 'colorapp' }), 'FailStateEntered')] });

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(3);
    expect(result.io.stderr.at(-1)).toBe(
      `ecs-release: release in progress: ${holder} (execution ${executionArnOf(holder)}) — wait for it to finish ` +
        `(ecs-release status --service colorapp) or stop it (ecs-release abort --service colorapp), then start again`,
    );
    expect(result.io.stdout).toEqual([startedName]);
  });

  it('stops waiting on interrupt with exit 130 and says the release goes on', async () => {
    const interrupt = new AbortController();
    sfnMock.on(DescribeExecutionCommand).callsFake(() => {
      interrupt.abort();
      return running();
    });
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });

    const result = await runCli([...START, '--wait'], { signal: interrupt.signal });

    expect(result.code).toBe(130);
    expect(result.io.stderr.at(-1)).toBe(
      `ecs-release: stopped waiting for release ${startedName} — the release goes on: follow it with ` +
        `'ecs-release status --service colorapp --release-id ${startedName}', or stop it with 'ecs-release abort --service colorapp'`,
    );
    expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 1);
  });

  it('gives up with exit 4 after repeated failed polls, saying the release goes on', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(new Error('socket hang up'));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });

    const result = await runCli([...START, '--wait']);

    expect(result.code).toBe(4);
    expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 5);
    expect(result.io.stderr.at(-1)).toMatch(/^ecs-release: lost track of release colorapp-\S+ after 5 failed polls: socket hang up — the release goes on/);
  });

  it('draws a progress bar in place on a terminal', async () => {
    sfnMock
      .on(DescribeExecutionCommand)
      .callsFakeOnce(() => running())
      .callsFake(() => ({ ...running(), status: 'SUCCEEDED', stopDate: NOW }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [entered('Bake', executionData({ shiftedTo: 50, stepIndex: 1 }))] });
    givenStateAfterwards({ outcome: 'promoted' }, 'green');

    const result = await runCli([...START, '--wait'], { interactive: true });

    expect(result.code).toBe(0);
    expect(result.io.rewrites[0]).toBe('[██████████░░░░░░░░░░] green 50% · step 2/3 · baking · no verdict yet · 00:42');
    expect(result.io.stderr.filter((l) => l.startsWith('['))).toEqual([]);
  });

  it('prints one JSON summary with --output json', async () => {
    sfnMock.on(DescribeExecutionCommand).callsFake(() => ({ ...running(), status: 'SUCCEEDED', stopDate: NOW }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
    givenStateAfterwards({ outcome: 'promoted' }, 'green');

    const result = await runCli([...START, '--wait', '--output', 'json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      service: 'colorapp',
      releaseId: startedName,
      outcome: 'promoted',
      executionStatus: 'SUCCEEDED',
      durationMs: 42_000,
      live: { colour: 'green', version: 'v2' },
    });
  });
});

function sdkParameterNotFound(): Error {
  const error = new Error('ParameterNotFound');
  error.name = 'ParameterNotFound';
  return error;
}
