import { AppMeshClient, DescribeRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, UpdateServiceCommand, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/load-state';
import type { ReleaseState } from '../../lambdas/shared/documents';
import { seedState } from '../../lambdas/shared/release-state';
import { ResourceNotFoundError, RouteDriftError, StateConflictError, ValidationError } from '../../lambdas/shared/errors';
import { CLUSTER, ecsService, LIVE_TASK_DEFINITION_ARN, liveTaskDefinition } from '../support/ecs-fixtures';
import {
  fakeDateOnly,
  IDLE_TASK_DEFINITION_ARN,
  NAMES,
  parameter,
  parameterAlreadyExists,
  parameterNotFound,
  previousRecord,
  release,
  releaseState,
  sentPuts,
  summaryOf,
  targets,
  timeline,
} from '../support/release-documents';
import { describeRouteOutput, routeSpecs } from '../support/traffic-fixtures';

const ssm = mockClient(SSMClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);

const NOW = new Date('2025-01-01T12:00:02.000Z');
fakeDateOnly(NOW);

const IMAGE_1_3 = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.3.0';
const IMAGE_1_2 = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.2.0';

/** The state bootstrapped from the running services, with `live` live. */
function bootstrapped(live: 'blue' | 'green'): ReleaseState {
  return {
    schemaVersion: 1,
    service: 'colorapp',
    live,
    colours: {
      blue: { taskDefinitionArn: LIVE_TASK_DEFINITION_ARN, image: IMAGE_1_3, version: '1.3.0' },
      green: { taskDefinitionArn: IDLE_TASK_DEFINITION_ARN, image: IMAGE_1_2, version: '1.2.0' },
    },
    lastRelease: null,
    history: [],
    updatedAt: NOW.toISOString(),
  };
}

function givenNoState() {
  ssm.on(GetParameterCommand).rejects(parameterNotFound());
  ssm.on(PutParameterCommand).resolves({ Version: 1, $metadata: {} });
}

function givenRoute(blue: number, green: number) {
  appmesh.on(DescribeRouteCommand).resolves(describeRouteOutput(routeSpecs(targets(blue, green)).httpRoute));
}

function givenServices(blue: Partial<Service> = {}, green: Partial<Service> = {}) {
  ecs.on(DescribeServicesCommand, { services: ['colorapp-blue'] }).resolves({
    services: [ecsService('colorapp-blue', { taskDefinition: LIVE_TASK_DEFINITION_ARN, ...blue })],
  });
  ecs.on(DescribeServicesCommand, { services: ['colorapp-green'] }).resolves({
    services: [ecsService('colorapp-green', { taskDefinition: IDLE_TASK_DEFINITION_ARN, desiredCount: 0, runningCount: 0, ...green })],
  });
  const withApp = (arn: string, image: string): TaskDefinition => {
    const td = liveTaskDefinition();
    return { ...td, taskDefinitionArn: arn, containerDefinitions: td.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)) };
  };
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: LIVE_TASK_DEFINITION_ARN }).resolves({ taskDefinition: withApp(LIVE_TASK_DEFINITION_ARN, IMAGE_1_3) });
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: IDLE_TASK_DEFINITION_ARN }).resolves({ taskDefinition: withApp(IDLE_TASK_DEFINITION_ARN, IMAGE_1_2) });
}

function expectNothingWritten() {
  expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
  expect(appmesh).not.toHaveReceivedCommand(UpdateRouteCommand);
  expect(ecs).not.toHaveReceivedCommand(UpdateServiceCommand);
}

beforeEach(() => {
  ssm.reset();
  ecs.reset();
  appmesh.reset();
});

describe('load-state handler: a state exists', () => {
  it.each([
    ['blue', 'green'],
    ['green', 'blue'],
  ] as const)('reads the state and deploys to the idle colour when %s is live, reading nothing else', async (live, idle) => {
    const state = releaseState({ live });
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.state, state));

    await expect(handler({ release: release() })).resolves.toStrictEqual({
      live,
      idle,
      liveTaskDefinitionArn: state.colours[live].taskDefinitionArn,
    });
    expect(timeline(ssm, ecs, appmesh)).toEqual([`GetParameter ${NAMES.state}`]);
  });

  it('is a StateConflictError when the state records no revision for the live colour', async () => {
    const state = releaseState();
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.state, { ...state, colours: { ...state.colours, blue: { taskDefinitionArn: null, image: null, version: null } } }));

    await expect(handler({ release: release() })).rejects.toMatchObject({
      name: 'StateConflictError',
      message: `State ${NAMES.state} says blue is live but records no task definition for it`,
    });
    expectNothingWritten();
  });

  it('is a StateConflictError, never a fresh bootstrap, when the state cannot be read', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.state, { schemaVersion: 2 }));

    await expect(handler({ release: release() })).rejects.toThrow(StateConflictError);
    expect(appmesh).not.toHaveReceivedAnyCommand();
    expectNothingWritten();
  });
});

describe('load-state handler: the first release bootstraps the state', () => {
  it('makes the colour with all the traffic live, records what each colour runs, and creates the state once', async () => {
    givenNoState();
    givenRoute(100, 0);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({ live: 'blue', idle: 'green', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN });

    expect(sentPuts(ssm)).toStrictEqual([
      { Name: NAMES.state, Value: bootstrapped('blue'), Type: 'String', Overwrite: false, Tier: 'Intelligent-Tiering', Description: 'Release state of colorapp' },
    ]);
    expect(timeline(ssm, ecs, appmesh)).toEqual([
      `GetParameter ${NAMES.state}`,
      'DescribeRoute colorapp-route',
      'DescribeServices colorapp-blue',
      `DescribeTaskDefinition ${LIVE_TASK_DEFINITION_ARN}`,
      'DescribeServices colorapp-green',
      `DescribeTaskDefinition ${IDLE_TASK_DEFINITION_ARN}`,
      `PutParameter ${NAMES.state}`,
    ]);
    expect(ecs.commandCalls(DescribeServicesCommand)[0].args[0].input).toStrictEqual({ cluster: CLUSTER, services: ['colorapp-blue'] });
  });

  it('makes green live when the route sends all traffic to green', async () => {
    givenNoState();
    givenRoute(0, 100);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({ live: 'green', idle: 'blue', liveTaskDefinitionArn: IDLE_TASK_DEFINITION_ARN });
    expect(sentPuts(ssm, NAMES.state)[0].Value).toStrictEqual(bootstrapped('green'));
  });

  it('records an empty slot for an idle service that has no revision', async () => {
    givenNoState();
    givenRoute(100, 0);
    givenServices({}, { taskDefinition: undefined });

    await handler({ release: release() });

    expect(sentPuts(ssm, NAMES.state)[0].Value).toMatchObject({ colours: { green: { taskDefinitionArn: null, image: null, version: null } } });
    expect(ecs).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 1);
  });

  it('uses the state another release created first when it loses the create race', async () => {
    const winner = releaseState({ live: 'green' });
    ssm.on(GetParameterCommand).rejectsOnce(parameterNotFound()).resolves(parameter(NAMES.state, winner));
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());
    givenRoute(100, 0);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({
      live: 'green',
      idle: 'blue',
      liveTaskDefinitionArn: winner.colours.green.taskDefinitionArn,
    });
    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 2);
  });

  it('is a StateConflictError when the state appears and vanishes during the race', async () => {
    ssm.on(GetParameterCommand).rejects(parameterNotFound());
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());
    givenRoute(100, 0);
    givenServices();

    await expect(handler({ release: release() })).rejects.toMatchObject({
      name: 'StateConflictError',
      message: `State ${NAMES.state} appeared and vanished while bootstrapping; try again`,
    });
  });

  it.each([
    [90, 10],
    [50, 50],
    [1, 99],
  ])('refuses to bootstrap from a split route (blue %i / green %i) with a RouteDriftError, writing nothing', async (blue, green) => {
    givenNoState();
    givenRoute(blue, green);
    givenServices();

    const error = await handler({ release: release() }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RouteDriftError);
    expect((error as Error).message).toBe(
      `Cannot bootstrap the state of 'colorapp': the route splits traffic blue ${blue} / green ${green}. ` +
        'Send all traffic to the colour that should be live, then release again.',
    );
    expect(ecs).not.toHaveReceivedAnyCommand();
    expectNothingWritten();
  });

  it('writes no state when the live service reports no revision, so later releases are not blocked by it', async () => {
    givenNoState();
    givenRoute(100, 0);
    givenServices({ taskDefinition: undefined });

    await expect(handler({ release: release() })).rejects.toMatchObject({
      name: 'StateConflictError',
      message:
        "Cannot bootstrap the state of 'colorapp': the live service colorapp-blue (blue) reports no task definition. " +
        'Check that it exists and uses the ECS deployment controller, then release again.',
    });
    expectNothingWritten();
  });

  it('is a ResourceNotFoundError, writing nothing, when a colour has no ECS service', async () => {
    givenNoState();
    givenRoute(100, 0);
    givenServices();
    ecs.on(DescribeServicesCommand, { services: ['colorapp-green'] }).resolves({
      services: [],
      failures: [{ arn: 'arn:aws:ecs:eu-west-1:111122223333:service/apps/colorapp-green', reason: 'MISSING' }],
    });

    await expect(handler({ release: release() })).rejects.toThrow(ResourceNotFoundError);
    expectNothingWritten();
  });
});

describe('load-state handler: a state the CDK app seeded is checked against what runs first', () => {
  /** What `ReleasePipeline` writes: synth-time knowledge, marked as a seed. */
  function seed(overrides: Partial<ReleaseState> = {}): ReleaseState {
    const seeded = seedState('colorapp', 'blue', {
      blue: { taskDefinitionArn: LIVE_TASK_DEFINITION_ARN, image: IMAGE_1_3, version: '1.3.0' },
      green: { taskDefinitionArn: null, image: null, version: null },
    });
    return { ...seeded, ...overrides };
  }

  function givenSeed(state: ReleaseState) {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.state, state));
    ssm.on(PutParameterCommand).resolves({ Version: 2, $metadata: {} });
  }

  it('replaces the seed with what runs (as a bootstrap would), overwriting it once, so no slot stays empty', async () => {
    givenSeed(seed());
    givenRoute(100, 0);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({ live: 'blue', idle: 'green', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN });

    // No seed mark any more: later releases trust the document, as they trust a bootstrapped one.
    expect(sentPuts(ssm)).toStrictEqual([
      { Name: NAMES.state, Value: bootstrapped('blue'), Type: 'String', Overwrite: true, Tier: 'Intelligent-Tiering', Description: 'Release state of colorapp' },
    ]);
    expect(timeline(ssm, ecs, appmesh)).toEqual([
      `GetParameter ${NAMES.state}`,
      'DescribeRoute colorapp-route',
      'DescribeServices colorapp-blue',
      `DescribeTaskDefinition ${LIVE_TASK_DEFINITION_ARN}`,
      'DescribeServices colorapp-green',
      `DescribeTaskDefinition ${IDLE_TASK_DEFINITION_ARN}`,
      `PutParameter ${NAMES.state}`,
    ]);
  });

  it('follows the route and the running revisions when the seed is out of date (a stack update since, another live colour)', async () => {
    const stale = 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:1';
    givenSeed(seed({ colours: { blue: { taskDefinitionArn: stale, image: null, version: null }, green: { taskDefinitionArn: stale, image: null, version: null } } }));
    givenRoute(0, 100);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({ live: 'green', idle: 'blue', liveTaskDefinitionArn: IDLE_TASK_DEFINITION_ARN });
    expect(sentPuts(ssm, NAMES.state)[0].Value).toStrictEqual(bootstrapped('green'));
  });

  it('uses what runs even when the seed has no revision for the live colour (an imported service)', async () => {
    givenSeed(seed({ colours: { blue: { taskDefinitionArn: null, image: null, version: null }, green: { taskDefinitionArn: null, image: null, version: null } } }));
    givenRoute(100, 0);
    givenServices();

    await expect(handler({ release: release() })).resolves.toStrictEqual({ live: 'blue', idle: 'green', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN });
  });

  it('keeps a release the seed recorded before it was checked (one that failed in its own LoadState)', async () => {
    const failed = previousRecord({ outcome: 'failed', failure: { error: 'RouteDriftError', cause: 'split route' } });
    givenSeed(seed({ lastRelease: failed, history: [summaryOf(failed)], updatedAt: '2025-01-01T11:00:00.000Z' }));
    givenRoute(100, 0);
    givenServices();

    await handler({ release: release() });

    expect(sentPuts(ssm, NAMES.state)[0].Value).toStrictEqual({ ...bootstrapped('blue'), lastRelease: failed, history: [summaryOf(failed)] });
  });

  it('refuses a split route with a RouteDriftError and leaves the seed as it is', async () => {
    givenSeed(seed());
    givenRoute(50, 50);
    givenServices();

    await expect(handler({ release: release() })).rejects.toThrow(RouteDriftError);
    expectNothingWritten();
  });

  it('leaves the seed as it is when the live service reports no revision', async () => {
    givenSeed(seed());
    givenRoute(100, 0);
    givenServices({ taskDefinition: undefined });

    await expect(handler({ release: release() })).rejects.toThrow(/the live service colorapp-blue \(blue\) reports no task definition/);
    expectNothingWritten();
  });
});

describe('load-state handler: input', () => {
  it('is a ValidationError, sending nothing, when the release is malformed', async () => {
    const withoutService: Partial<ReturnType<typeof release>> = release();
    delete withoutService.service;

    await expect(handler({ release: withoutService })).rejects.toThrow(ValidationError);
    await expect(handler({ release: withoutService })).rejects.toThrow(/^Invalid LoadState input: release\.service: /);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
