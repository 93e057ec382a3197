import {
  InvalidToken,
  SFNClient,
  SendTaskFailureCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/alarm-watcher';
import type { BakeDocument, LockDocument } from '../../lambdas/shared/documents';
import { ValidationError } from '../../lambdas/shared/errors';

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

function storeDocuments(documents: { bake?: BakeDocument | null; lock?: LockDocument | null }) {
  for (const [name, doc] of [
    ['/ecs-release/colorapp/bake', documents.bake],
    ['/ecs-release/colorapp/lock', documents.lock],
  ] as const) {
    if (doc) {
      ssm.on(GetParameterCommand, { Name: name }).resolves({ Parameter: { Name: name, Value: JSON.stringify(doc) } });
    } else {
      ssm.on(GetParameterCommand, { Name: name }).rejects(new ParameterNotFound({ message: name, $metadata: {} }));
    }
  }
}

beforeEach(() => {
  sfn.reset();
  ssm.reset();
  process.env.SERVICE_NAME = 'colorapp';
  sfn.on(SendTaskFailureCommand).resolves({});
});

afterAll(() => {
  delete process.env.SERVICE_NAME;
});

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
      reason:
        'Failed the bake of release rel-20250101-1200 at step 2: alarm colorapp-green-5xx went to ALARM at ' +
        '2025-01-01T12:11:04.123+0000.',
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

    expect(result).toEqual({
      action: 'ignored',
      reason: 'No bake is running for colorapp (no /ecs-release/colorapp/bake).',
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it('ignores an alarm the running bake does not watch', async () => {
    storeDocuments({ bake, lock });

    const result = await handler(alarmEvent({ alarmName: 'colorapp-blue-5xx' }));

    expect(result).toEqual({
      action: 'ignored',
      reason: 'Alarm colorapp-blue-5xx is not watched by the bake of release rel-20250101-1200.',
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });

  it.each([
    {
      behaviour: 'held by another execution (a stale bake document of a finished release)',
      lock: { ...lock, executionArn: `${EXECUTION}-other` } as LockDocument | null,
      reason: `The lock (held, execution ${EXECUTION}-other) is not held by the bake's execution ${EXECUTION}.`,
    },
    {
      behaviour: 'already rolling back',
      lock: { ...lock, status: 'rolling-back' } as LockDocument | null,
      reason: `The lock (rolling-back, execution ${EXECUTION}) is not held by the bake's execution ${EXECUTION}.`,
    },
    {
      behaviour: 'absent',
      lock: null,
      reason: 'No lock is held for colorapp, so the bake of release rel-20250101-1200 is not running.',
    },
  ])('ignores the alarm when the lock is $behaviour', async ({ lock: currentLock, reason }) => {
    storeDocuments({ bake, lock: currentLock });

    const result = await handler(alarmEvent());

    expect(result).toEqual({ action: 'ignored', reason });
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

    expect(result).toEqual({
      action: 'ignored',
      reason: `The bake of release rel-20250101-1200 already ended (${error.name}).`,
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

  it('reads the service from SERVICE_NAME at call time', async () => {
    process.env.SERVICE_NAME = 'other-service';
    ssm
      .on(GetParameterCommand)
      .rejects(new ParameterNotFound({ message: 'missing', $metadata: {} }));

    const result = await handler(alarmEvent());

    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ecs-release/other-service/bake' });
    expect(result.action).toBe('ignored');
  });

  it('fails with a ValidationError when SERVICE_NAME is not set', async () => {
    delete process.env.SERVICE_NAME;

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
