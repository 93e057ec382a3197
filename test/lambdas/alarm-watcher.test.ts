import {
  InvalidToken,
  SFNClient,
  SendTaskFailureCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, GetParametersByPathCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/alarm-watcher';
import type { BakeDocument, LockDocument } from '../../lambdas/shared/documents';
import { AwsCallFailedError, ValidationError } from '../../lambdas/shared/errors';
import { REGISTRY_PATH_ENV } from '../../lambdas/shared/registry';

const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:colorapp-release:rel-20250101-1200';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd3bsfBRFqoGwAnaa+task-token';

const bake: BakeDocument = {
  releaseId: 'rel-20250101-1200',
  executionArn: EXECUTION,
  taskToken: TOKEN,
  stepIndex: 1,
  weight: 50,
  alarmNames: ['colorapp-common', 'colorapp-green-5xx'],
  startedAt: '2025-01-01T12:10:00.000Z',
};

const lock: LockDocument = {
  service: 'colorapp',
  releaseId: 'rel-20250101-1200',
  executionArn: EXECUTION,
  acquiredAt: '2025-01-01T12:00:00.000Z',
  image: 'registry.example/colorapp:v2',
  version: 'v2',
  strategy: { type: 'canary', steps: [10, 50, 100] },
  requestedBy: null,
  requestReason: null,
  status: 'held',
  reason: null,
  undo: null,
};

function alarmEvent(options: { alarmName?: string; value?: string; reason?: string } = {}) {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: '2025-01-01T12:11:05Z',
    region: 'eu-west-1',
    resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:colorapp-green-5xx'],
    detail: {
      alarmName: options.alarmName ?? 'colorapp-green-5xx',
      state: {
        value: options.value ?? 'ALARM',
        reason: options.reason ?? 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).',
        timestamp: '2025-01-01T12:11:04.123+0000',
      },
      previousState: { value: 'OK', timestamp: '2025-01-01T12:00:04.123+0000' },
      configuration: { metrics: [] },
    },
  };
}

const REGISTRY = '/ecs-release-registry/ecs-release';

/** Registers `services` (the registry entries the ReleasedService construct writes). */
function register(...services: string[]) {
  ssm.on(GetParametersByPathCommand, { Path: REGISTRY }).resolves({
    Parameters: services.map((service) => ({ Name: `${REGISTRY}/${service}`, Value: service })),
  });
}

function storeDocuments(documents: { bake?: BakeDocument | null; lock?: LockDocument | null }, service = 'colorapp') {
  for (const [name, doc] of [
    [`/ecs-release/${service}/bake`, documents.bake],
    [`/ecs-release/${service}/lock`, documents.lock],
  ] as const) {
    if (doc) {
      ssm.on(GetParameterCommand, { Name: name }).resolves({ Parameter: { Name: name, Value: JSON.stringify(doc) } });
    } else {
      ssm.on(GetParameterCommand, { Name: name }).rejects(new ParameterNotFound({ message: name, $metadata: {} }));
    }
  }
}

/** A second service's release, baking on its own alarms, with its own token and lock. */
const OTHER_EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:ecs-release:rel-orders-1';
const otherBake: BakeDocument = { ...bake, releaseId: 'rel-orders-1', executionArn: OTHER_EXECUTION, taskToken: 'orders-token', alarmNames: ['orders-green-5xx'] };
const otherLock: LockDocument = { ...lock, service: 'orders', releaseId: 'rel-orders-1', executionArn: OTHER_EXECUTION };

beforeEach(() => {
  sfn.reset();
  ssm.reset();
  process.env[REGISTRY_PATH_ENV] = REGISTRY;
  register('colorapp');
  sfn.on(SendTaskFailureCommand).resolves({});
});

afterAll(() => {
  delete process.env[REGISTRY_PATH_ENV];
});

const FAILED_COLORAPP =
  'Failed the bake of release rel-20250101-1200 of colorapp at step 2: alarm colorapp-green-5xx went to ALARM at 2025-01-01T12:11:04.123+0000.';

describe('alarm-watcher handler', () => {
  it("fails the running bake's task token when a watched alarm goes to ALARM", async () => {
    storeDocuments({ bake, lock });

    const result = await handler(alarmEvent());

    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 1);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input).toEqual({
      taskToken: TOKEN,
      error: 'AlarmTriggeredError',
      cause:
        'Alarm colorapp-green-5xx went to ALARM at 2025-01-01T12:11:04.123+0000: ' +
        'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).',
    });
    expect(result).toEqual({
      action: 'failed-bake',
      reason: FAILED_COLORAPP,
      releases: [{ service: 'colorapp', releaseId: 'rel-20250101-1200', action: 'failed-bake', reason: FAILED_COLORAPP }],
    });
  });

  it.each(['OK', 'INSUFFICIENT_DATA'])('ignores a change to %s without reading anything', async (value) => {
    const result = await handler(alarmEvent({ value }));

    expect(result).toEqual({ action: 'ignored', reason: `Alarm colorapp-green-5xx went to ${value}, not ALARM.` });
    expect(ssm.calls()).toHaveLength(0);
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('ignores an alarm when no bake is running', async () => {
    storeDocuments({ bake: null, lock });

    const result = await handler(alarmEvent());

    expect(result).toEqual({ action: 'ignored', reason: 'No running bake of the 1 registered services watches alarm colorapp-green-5xx.' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('ignores an alarm the running bake does not watch, without reading the lock', async () => {
    storeDocuments({ bake, lock });

    const result = await handler(alarmEvent({ alarmName: 'colorapp-blue-5xx' }));

    expect(result).toEqual({ action: 'ignored', reason: 'No running bake of the 1 registered services watches alarm colorapp-blue-5xx.' });
    expect(ssm).not.toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ecs-release/colorapp/lock' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it.each([
    {
      behaviour: 'held by another execution (a stale bake document of a finished release)',
      lock: { ...lock, executionArn: `${EXECUTION}-other` } as LockDocument | null,
      reason: `The lock of colorapp (held, execution ${EXECUTION}-other) is not held by the bake's execution ${EXECUTION}.`,
    },
    {
      behaviour: 'already rolling back',
      lock: { ...lock, status: 'rolling-back' } as LockDocument | null,
      reason: `The lock of colorapp (rolling-back, execution ${EXECUTION}) is not held by the bake's execution ${EXECUTION}.`,
    },
    {
      behaviour: 'absent',
      lock: null,
      reason: 'No lock is held for colorapp, so the bake of release rel-20250101-1200 is not running.',
    },
  ])('ignores the alarm when the lock is $behaviour', async ({ lock: currentLock, reason }) => {
    storeDocuments({ bake, lock: currentLock });

    const result = await handler(alarmEvent());

    expect(result).toMatchObject({ action: 'ignored', reason });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it.each([
    new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }),
    new TaskDoesNotExist({ message: 'Task does not exist', $metadata: {} }),
    new InvalidToken({ message: 'Invalid token', $metadata: {} }),
  ])('ignores $name: the bake already ended', async (error) => {
    storeDocuments({ bake, lock });
    sfn.on(SendTaskFailureCommand).rejects(error);

    const result = await handler(alarmEvent());

    expect(result).toMatchObject({
      action: 'ignored',
      reason: `The bake of release rel-20250101-1200 of colorapp already ended (${error.name}).`,
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 1);
  });

  it('lets any other SendTaskFailure error through, so EventBridge retries the event', async () => {
    storeDocuments({ bake, lock });
    sfn.on(SendTaskFailureCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    await expect(handler(alarmEvent())).rejects.toThrow('denied');
  });

  it('truncates the cause to the 32768 characters Step Functions accepts', async () => {
    storeDocuments({ bake, lock });

    await handler(alarmEvent({ reason: 'x'.repeat(40_000) }));

    const { cause } = sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input;
    expect(cause).toHaveLength(32768);
    expect(cause?.startsWith('Alarm colorapp-green-5xx went to ALARM at 2025-01-01T12:11:04.123+0000: xxx')).toBe(true);
  });

  it("routes an alarm to the one registered service whose bake watches it, never another's", async () => {
    register('colorapp', 'orders');
    storeDocuments({ bake, lock });
    storeDocuments({ bake: otherBake, lock: otherLock }, 'orders');

    const result = await handler(alarmEvent({ alarmName: 'orders-green-5xx' }));

    expect(result.releases).toEqual([expect.objectContaining({ service: 'orders', action: 'failed-bake' })]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'orders-token' });
    expect(ssm).not.toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ecs-release/colorapp/lock' });
  });

  it("fails every bake that watches a shared alarm, and does not depend on the alarm's name", async () => {
    register('colorapp', 'orders');
    storeDocuments({ bake: { ...bake, alarmNames: ['cluster-cpu'] }, lock });
    storeDocuments({ bake: { ...otherBake, alarmNames: ['cluster-cpu'] }, lock: otherLock }, 'orders');

    const result = await handler(alarmEvent({ alarmName: 'cluster-cpu' }));

    expect(result.action).toBe('failed-bake');
    expect(result.releases?.map((r) => r.service)).toEqual(['colorapp', 'orders']);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 2);
  });

  it("still fails a service's bake when another service's documents cannot be read, then throws so Lambda retries", async () => {
    register('broken', 'orders');
    ssm.on(GetParameterCommand, { Name: '/ecs-release/broken/bake' }).resolves({ Parameter: { Name: 'x', Value: '{not json' } });
    storeDocuments({ bake: otherBake, lock: otherLock }, 'orders');

    await expect(handler(alarmEvent({ alarmName: 'orders-green-5xx' }))).rejects.toThrow(AwsCallFailedError);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'orders-token' });
  });

  it('ignores a registry entry whose value is not its service, and reads nothing of it', async () => {
    ssm.on(GetParametersByPathCommand, { Path: REGISTRY }).resolves({
      Parameters: [{ Name: `${REGISTRY}/colorapp`, Value: 'someone-else' }],
    });

    const result = await handler(alarmEvent());

    expect(result.action).toBe('ignored');
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
  });

  it('fails with a ValidationError when RELEASE_REGISTRY_PATH is not set', async () => {
    delete process.env[REGISTRY_PATH_ENV];

    await expect(handler(alarmEvent())).rejects.toThrow(ValidationError);
    expect(ssm.calls()).toHaveLength(0);
  });

  it('rejects an event that is not an alarm state change', async () => {
    await expect(handler({ source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail: {} })).rejects.toThrow(
      ValidationError,
    );
    expect(ssm.calls()).toHaveLength(0);
  });
});
