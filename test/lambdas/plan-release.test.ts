import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/plan-release';
import { ServiceConfigSchema, type ServiceConfigInput } from '../../lambdas/shared/config';
import { ConfigNotFoundError, ValidationError } from '../../lambdas/shared/errors';
import { EXECUTION_ARN, NAMES, parameter, parameterNotFound, releaseState } from '../support/release-documents';
import { appMeshConfig } from '../support/traffic-fixtures';

const ssm = mockClient(SSMClient);

const RELEASE_ID = 'rel-20250101-abc123';
const STARTED_AT = '2025-01-01T12:00:00.000Z';
const IMAGE = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.4.0';

/** The configuration as written (defaults omitted), with overrides. */
function written(overrides: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return {
    service: 'colorapp',
    cluster: 'apps',
    ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
    taskDefinitionFamily: 'colorapp',
    containerName: 'app',
    traffic: appMeshConfig,
    ...overrides,
  };
}

/** The Plan task's input: the execution input plus the context fields the ASL passes. */
function event(request: Record<string, unknown>) {
  return { request, releaseId: RELEASE_ID, executionArn: EXECUTION_ARN, startedAt: STARTED_AT };
}

function givenConfig(config: ServiceConfigInput = written()) {
  ssm.on(GetParameterCommand).resolves(parameter(NAMES.config, config));
}

beforeEach(() => ssm.reset());

describe('plan-release handler', () => {
  it("plans the request with the service's defaults: strategy, schedule, bake, gates, and the whole config", async () => {
    givenConfig();

    await expect(handler(event({ service: 'colorapp', image: IMAGE }))).resolves.toStrictEqual({
      release: {
        id: RELEASE_ID,
        executionArn: EXECUTION_ARN,
        service: 'colorapp',
        image: IMAGE,
        version: '1.4.0',
        strategy: { type: 'canary', steps: [10, 50, 100] },
        schedule: [10, 50, 100],
        bakeSeconds: 60,
        approvals: { beforeTraffic: false, beforePromote: false },
        requestedBy: null,
        reason: null,
        startedAt: STARTED_AT,
        config: ServiceConfigSchema.parse(written()),
      },
      progress: { stepIndex: 0, attempt: 0, verdicts: [], decision: 'shift', failure: null },
    });
    expect(ssm.commandCalls(GetParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.config }]);
  });

  it('lets the request override the strategy, bake time and gates, and records who asked and why', async () => {
    givenConfig(written({ approvals: { beforeTraffic: true, beforePromote: true }, bakeSeconds: 300 }));

    const { release } = await handler(
      event({
        service: 'colorapp',
        image: IMAGE,
        strategy: { type: 'linear', stepPercent: 40 },
        bakeSeconds: 30,
        approvals: { beforeTraffic: false },
        requestedBy: 'alice',
        reason: 'fix the colour',
      }),
    );

    expect(release).toMatchObject({
      strategy: { type: 'linear', stepPercent: 40 },
      schedule: [40, 80, 100],
      bakeSeconds: 30,
      // A gate the request does not mention keeps the configured default.
      approvals: { beforeTraffic: false, beforePromote: true },
      requestedBy: 'alice',
      reason: 'fix the colour',
    });
  });

  it("uses the configured default strategy when the request names none", async () => {
    givenConfig(written({ defaultStrategy: { type: 'blue-green' } }));

    const { release } = await handler(event({ service: 'colorapp', image: IMAGE }));

    expect(release).toMatchObject({ strategy: { type: 'blue-green' }, schedule: [100] });
  });

  it('labels an image pinned by digest with the start of its digest', async () => {
    givenConfig();
    const pinned = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp@sha256:${'ab12'.repeat(16)}`;

    const { release } = await handler(event({ service: 'colorapp', image: pinned }));

    expect(release.version).toBe('ab12ab12ab12');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an image without a tag or digest', { service: 'colorapp', image: 'colorapp' }, /^Invalid release request: image: /],
    ['a service name with a slash', { service: 'apps/colorapp', image: IMAGE }, /^Invalid release request: service: /],
    ['a canary step above 100', { service: 'colorapp', image: IMAGE, strategy: { type: 'canary', steps: [10, 150] } }, /^Invalid release request: strategy\.steps\.1: /],
    ['no image', { service: 'colorapp' }, /^Invalid release request: image: /],
  ])('is a ValidationError naming the field, reading nothing, for %s', async (_case, request, message) => {
    const error = await handler(event(request)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });

  it('is a ValidationError, reading nothing, when the state machine passes no release id', async () => {
    const input: Partial<ReturnType<typeof event>> = event({ service: 'colorapp', image: IMAGE });
    delete input.releaseId;

    await expect(handler(input)).rejects.toThrow(/^Invalid Plan input: releaseId: /);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });

  it('is a ValidationError from the schedule when canary steps do not increase', async () => {
    givenConfig();

    await expect(handler(event({ service: 'colorapp', image: IMAGE, strategy: { type: 'canary', steps: [50, 10] } }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Canary steps must increase strictly; step 2 (10) is not above step 1 (50)',
    });
  });

  it('is a ValidationError, before anything is written, when the release could outlive the execution timeout', async () => {
    givenConfig(written({ bakeSeconds: 86_400, health: { maxInconclusiveBakes: 2 } }));

    const error = await handler(event({ service: 'colorapp', image: IMAGE, strategy: { type: 'canary', steps: [10, 50, 100] } })).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'ValidationError' });
    expect((error as Error).message).toContain("longer than the release state machine's 691200s timeout");
    expect((error as Error).message).toContain('3 steps × up to 3 bakes of 86400s');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('is a ValidationError when stability polling could exceed the 25,000 history events of an execution', async () => {
    givenConfig(written({ stabilization: { pollSeconds: 1, timeoutSeconds: 86_400 } }));

    await expect(handler(event({ service: 'colorapp', image: IMAGE }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('more than the 25000 Step Functions allows (stability: up to 86401 polls every 1s'),
    });
  });

  it('is a ConfigNotFoundError when the service has no configuration', async () => {
    ssm.on(GetParameterCommand).rejects(parameterNotFound());

    await expect(handler(event({ service: 'colorapp', image: IMAGE }))).rejects.toThrow(ConfigNotFoundError);
  });

  describe('an image trigger releases a digest once', () => {
    const DIGEST = `sha256:${'ab'.repeat(32)}`;
    const BY_DIGEST = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp@${DIGEST}`;
    const OTHER_DIGEST = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp@sha256:${'cd'.repeat(32)}`;

    function givenLive(image: string) {
      const state = releaseState();
      const live = { ...state, colours: { ...state.colours, [state.live]: { ...state.colours[state.live], image } } };
      ssm.on(GetParameterCommand, { Name: NAMES.config }).resolves(parameter(NAMES.config, written()));
      ssm.on(GetParameterCommand, { Name: NAMES.state }).resolves(parameter(NAMES.state, live));
    }

    it.each(['ecr-push', 'codepipeline'])('refuses %s of the live digest with AlreadyReleasedError, writing nothing', async (requestedBy) => {
      givenLive(BY_DIGEST);

      const error = await handler(event({ service: 'colorapp', image: BY_DIGEST, requestedBy })).catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'AlreadyReleasedError' });
      expect((error as Error).message).toContain(`${DIGEST} is already live`);
      expect((error as Error).message).toContain(`ecs-release start --service colorapp --image ${BY_DIGEST}`);
      expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
    });

    it('plans a trigger of another digest', async () => {
      givenLive(OTHER_DIGEST);

      await expect(handler(event({ service: 'colorapp', image: BY_DIGEST, requestedBy: 'ecr-push' }))).resolves.toMatchObject({
        release: { image: BY_DIGEST, requestedBy: 'ecr-push' },
      });
    });

    it('plans a person re-releasing the live digest (a task definition template change rolls out that way)', async () => {
      givenLive(BY_DIGEST);

      await expect(handler(event({ service: 'colorapp', image: BY_DIGEST, requestedBy: 'alice' }))).resolves.toMatchObject({ release: { image: BY_DIGEST } });
      // A person's request does not even read the state.
      expect(ssm.commandCalls(GetParameterCommand, { Name: NAMES.state })).toHaveLength(0);
    });

    it('plans a trigger for a service that has no state yet (its first release)', async () => {
      ssm.on(GetParameterCommand, { Name: NAMES.config }).resolves(parameter(NAMES.config, written()));
      ssm.on(GetParameterCommand, { Name: NAMES.state }).rejects(parameterNotFound());

      await expect(handler(event({ service: 'colorapp', image: BY_DIGEST, requestedBy: 'codepipeline' }))).resolves.toMatchObject({ release: { image: BY_DIGEST } });
    });
  });
});
