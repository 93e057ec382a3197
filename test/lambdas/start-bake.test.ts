import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/start-bake';
import { ServiceConfigSchema, type ServiceConfigInput } from '../../lambdas/shared/config';
import { AlarmTriggeredError, ResourceNotFoundError, ValidationError } from '../../lambdas/shared/errors';
import type { ColourAssignment, PlannedRelease } from '../../lambdas/shared/release';

const cw = mockClient(CloudWatchClient);
const ssm = mockClient(SSMClient);

const NOW = new Date('2025-01-01T12:10:00.000Z');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd3bsfBRFqoGwAnaa+task-token';

function configInput(alarms: { common: string[]; blue: string[]; green: string[] }): ServiceConfigInput {
  return {
    service: 'colorapp',
    cluster: 'demo',
    ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
    taskDefinitionFamily: 'colorapp',
    containerName: 'app',
    traffic: {
      kind: 'appmesh',
      meshName: 'demo-mesh',
      virtualRouterName: 'colorapp-router',
      routeName: 'colorapp-route',
      virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
    },
    health: { alarms },
    bakeSeconds: 120,
  };
}

function release(alarms = { common: ['colorapp-common'], blue: ['colorapp-blue-5xx'], green: ['colorapp-green-5xx'] }): PlannedRelease {
  return {
    id: 'rel-20250101-1200',
    executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:colorapp-release:rel-20250101-1200',
    service: 'colorapp',
    image: 'registry.example/colorapp:v2',
    version: 'v2',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    schedule: [10, 50, 100],
    bakeSeconds: 120,
    approvals: { beforeTraffic: false, beforePromote: false },
    requestedBy: null,
    reason: null,
    startedAt: '2025-01-01T12:00:00.000Z',
    config: ServiceConfigSchema.parse(configInput(alarms)),
  };
}

const greenIdle: ColourAssignment = { live: 'blue', idle: 'green', liveTaskDefinitionArn: 'arn:td/colorapp:1' };

function event(options: { release?: PlannedRelease; colours?: ColourAssignment } = {}) {
  return JSON.parse(
    JSON.stringify({
      taskToken: TOKEN,
      release: options.release ?? release(),
      colours: options.colours ?? greenIdle,
      progress: { stepIndex: 1, attempt: 0, verdicts: [], decision: 'shift', failure: null },
      shift: {
        stepIndex: 1,
        weight: 50,
        weights: { live: 50, idle: 50 },
        changed: true,
        shiftedAt: '2025-01-01T12:09:58.000Z',
      },
    }),
  );
}

function alarms(states: Record<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>) {
  return { MetricAlarms: Object.entries(states).map(([AlarmName, StateValue]) => ({ AlarmName, StateValue })) };
}

beforeEach(() => {
  cw.reset();
  ssm.reset();
  ssm.on(PutParameterCommand).resolves({ Version: 1 });
  // Only Date is faked: the SDK mock and the retry backoff keep real timers.
  jest.useFakeTimers({
    now: NOW,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
});

afterEach(() => {
  jest.useRealTimers();
});

describe('start-bake handler', () => {
  it('publishes the task token in the bake document and checks the watched alarms', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'OK', 'colorapp-green-5xx': 'INSUFFICIENT_DATA' }));

    const result = await handler(event());

    expect(result).toEqual({ bakeStartedAt: '2025-01-01T12:10:00.000Z' });
    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    const put = ssm.commandCalls(PutParameterCommand)[0].args[0].input;
    expect(put).toEqual({
      Name: '/ecs-release/colorapp/bake',
      Value: expect.any(String),
      Type: 'String',
      Overwrite: true,
      Tier: 'Intelligent-Tiering',
      Description: 'Running bake of release rel-20250101-1200',
    });
    expect(JSON.parse(put.Value ?? '')).toEqual({
      releaseId: 'rel-20250101-1200',
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:colorapp-release:rel-20250101-1200',
      taskToken: TOKEN,
      stepIndex: 1,
      weight: 50,
      alarmNames: ['colorapp-common', 'colorapp-green-5xx'],
      startedAt: '2025-01-01T12:10:00.000Z',
    });
    expect(cw).toHaveReceivedCommandTimes(DescribeAlarmsCommand, 1);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toEqual({
      AlarmNames: ['colorapp-common', 'colorapp-green-5xx'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'],
      MaxRecords: 100,
    });
  });

  it('fails with AlarmTriggeredError naming an alarm already in ALARM, after publishing the token', async () => {
    const order: string[] = [];
    ssm.on(PutParameterCommand).callsFake(() => {
      order.push('PutParameter');
      return { Version: 1 };
    });
    cw.on(DescribeAlarmsCommand).callsFake(() => {
      order.push('DescribeAlarms');
      return alarms({ 'colorapp-common': 'OK', 'colorapp-green-5xx': 'ALARM' });
    });

    const bake = handler(event());

    await expect(bake).rejects.toThrow(AlarmTriggeredError);
    await expect(bake).rejects.toThrow(
      'Alarm colorapp-green-5xx was already in ALARM when the bake of step 2 (50% on green) started; ' +
        'rolling back release rel-20250101-1200.',
    );
    // Token first: an alarm that fires between the two calls then finds the token.
    expect(order).toEqual(['PutParameter', 'DescribeAlarms']);
  });

  it('watches the common alarms and the blue alarms when blue is the idle colour', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'OK', 'colorapp-blue-5xx': 'OK' }));

    await handler(event({ colours: { live: 'green', idle: 'blue', liveTaskDefinitionArn: 'arn:td/colorapp:2' } }));

    const doc = JSON.parse(ssm.commandCalls(PutParameterCommand)[0].args[0].input.Value ?? '');
    expect(doc.alarmNames).toEqual(['colorapp-common', 'colorapp-blue-5xx']);
    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['colorapp-common', 'colorapp-blue-5xx'] });
  });

  it('writes the bake document but reads no alarms when none are configured', async () => {
    const result = await handler(event({ release: release({ common: [], blue: [], green: [] }) }));

    expect(result).toEqual({ bakeStartedAt: '2025-01-01T12:10:00.000Z' });
    const doc = JSON.parse(ssm.commandCalls(PutParameterCommand)[0].args[0].input.Value ?? '');
    expect(doc.alarmNames).toEqual([]);
    expect(cw).not.toHaveReceivedCommand(DescribeAlarmsCommand);
  });

  it('fails with ResourceNotFoundError when a watched alarm does not exist, as no event could ever fail the bake', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'OK' }));

    await expect(handler(event())).rejects.toThrow(ResourceNotFoundError);
  });

  it('rejects input without a task token with a ValidationError and writes nothing', async () => {
    const bad = event();
    delete bad.taskToken;

    await expect(handler(bad)).rejects.toThrow(ValidationError);
    await expect(handler(bad)).rejects.toThrow(/Invalid StartBake input: taskToken/);
    expect(ssm.calls()).toHaveLength(0);
    expect(cw.calls()).toHaveLength(0);
  });
});
