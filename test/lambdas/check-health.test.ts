import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/check-health';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import type { Verdict } from '../../lambdas/shared/documents';
import { ResourceNotFoundError, ValidationError } from '../../lambdas/shared/errors';
import type { ColourAssignment, PlannedRelease, Progress } from '../../lambdas/shared/release';

const cw = mockClient(CloudWatchClient);

const NOW = new Date('2025-01-01T12:10:00.000Z');

const config = ServiceConfigSchema.parse({
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
  health: {
    alarms: { common: ['colorapp-common'], blue: ['colorapp-blue-5xx'], green: ['colorapp-green-5xx'] },
    maxInconclusiveBakes: 1,
    // These tests are about the fixed thresholds; relative judgement has its own below.
    relative: { enabled: false },
  },
  bakeSeconds: 120,
});

const release: PlannedRelease = {
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
  config,
};
const greenIdle: ColourAssignment = { live: 'blue', idle: 'green', liveTaskDefinitionArn: 'arn:td/colorapp:1' };

function event(options: { progress?: Partial<Progress>; shiftedAt?: string; colours?: ColourAssignment; weight?: number } = {}) {
  const progress: Progress = { stepIndex: 0, attempt: 0, verdicts: [], decision: 'shift', failure: null, ...options.progress };
  const weight = options.weight ?? release.schedule[progress.stepIndex];
  // Through JSON, as the state machine delivers it.
  return JSON.parse(
    JSON.stringify({
      release,
      colours: options.colours ?? greenIdle,
      progress,
      shift: {
        stepIndex: progress.stepIndex,
        weight,
        weights: { live: 100 - weight, idle: weight },
        changed: true,
        shiftedAt: options.shiftedAt ?? '2025-01-01T12:08:33.000Z',
      },
    }),
  );
}

function metrics(ok: number, errors: number, p99: number | null) {
  return {
    MetricDataResults: [
      { Id: 'responses_2xx', Values: ok ? [ok] : [], StatusCode: 'Complete' as const },
      { Id: 'responses_5xx', Values: errors ? [errors] : [], StatusCode: 'Complete' as const },
      { Id: 'request_time_p99', Values: p99 === null ? [] : [p99], StatusCode: 'Complete' as const },
    ],
  };
}

function alarms(states: Record<string, 'OK' | 'ALARM'>) {
  return { MetricAlarms: Object.entries(states).map(([AlarmName, StateValue]) => ({ AlarmName, StateValue })) };
}

function expectedQueries(colour: 'blue' | 'green') {
  const dims = [
    { Name: 'Service', Value: 'colorapp' },
    { Name: 'Color', Value: colour },
    { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' },
  ];
  const responses = ['2', '3', '4', '5'].map((cls) => ({
    Id: `responses_${cls}xx`,
    MetricStat: {
      Metric: {
        Namespace: 'ECSRelease/Envoy',
        MetricName: 'envoy_http_downstream_rq_xx',
        Dimensions: [...dims, { Name: 'envoy.response_code_class', Value: cls }],
      },
      Period: 10,
      Stat: 'Sum',
    },
    ReturnData: true,
  }));
  return [
    ...responses,
    {
      Id: 'request_time_p99',
      MetricStat: {
        Metric: { Namespace: 'ECSRelease/Envoy', MetricName: 'envoy_http_downstream_rq_time', Dimensions: dims },
        Period: 10,
        Stat: 'p99',
      },
      ReturnData: true,
    },
  ];
}

const allOk = alarms({ 'colorapp-common': 'OK', 'colorapp-green-5xx': 'OK' });

beforeEach(() => {
  cw.reset();
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

describe('check-health handler', () => {
  it('judges the idle colour from the shift until now and moves to the next step when healthy', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(metrics(500, 0, 120));

    const next = await handler(event({ shiftedAt: '2025-01-01T12:08:33.000Z' }));

    expect(cw).toHaveReceivedCommandTimes(DescribeAlarmsCommand, 1);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toEqual({
      AlarmNames: ['colorapp-common', 'colorapp-green-5xx'],
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm', 'LogAlarm'],
      MaxRecords: 100,
    });
    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
    // The shift was 87 s ago, less than the 120 s bake: the window starts at the shift (aligned to 10 s).
    expect(cw.commandCalls(GetMetricDataCommand)[0].args[0].input).toEqual({
      MetricDataQueries: expectedQueries('green'),
      StartTime: new Date('2025-01-01T12:08:30.000Z'),
      EndTime: NOW,
      ScanBy: 'TimestampAscending',
    });

    const verdict: Verdict = {
      status: 'healthy',
      reasons: [expect.stringContaining('Success rate 100% (0 5xx in 500 requests)') as unknown as string],
      colour: 'green',
      stepIndex: 0,
      weight: 10,
      attempt: 0,
      window: { start: '2025-01-01T12:08:30.000Z', end: '2025-01-01T12:10:00.000Z' },
      evidence: { requests: 500, errors5xx: 0, successRate: 1, p99LatencyMs: 120, alarmsInAlarm: [] },
      thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
    };
    expect(next).toEqual({ stepIndex: 1, attempt: 0, verdicts: [verdict], decision: 'shift', failure: null });
  });

  it('judges only the last bakeSeconds on a re-bake, not traffic since the original shift', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(metrics(500, 0, 120));

    const next = await handler(event({ progress: { attempt: 1 }, shiftedAt: '2025-01-01T12:02:00.000Z' }));

    expect(cw.commandCalls(GetMetricDataCommand)[0].args[0].input.StartTime).toEqual(
      new Date('2025-01-01T12:08:00.000Z'),
    );
    expect(next.verdicts[0].attempt).toBe(1);
  });

  it('rolls back with UnhealthyReleaseError when the idle colour serves too many 5xx', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(metrics(90, 10, 120));

    const next = await handler(event());

    expect(next.decision).toBe('rollback');
    expect(next.failure).toEqual({
      Error: 'UnhealthyReleaseError',
      Cause: 'Success rate 90% (10 5xx in 100 requests) is below the minimum 99%.',
    });
  });

  it('rolls back when a watched alarm is in ALARM', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'ALARM', 'colorapp-green-5xx': 'OK' }));
    cw.on(GetMetricDataCommand).resolves(metrics(500, 0, 120));

    const next = await handler(event());

    expect(next.decision).toBe('rollback');
    expect(next.failure).toEqual({ Error: 'UnhealthyReleaseError', Cause: 'Alarm colorapp-common is in ALARM.' });
  });

  it('bakes again when there was no traffic, then rolls back once the re-bakes are used up', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(metrics(0, 0, null));

    const first = await handler(event());
    expect(first).toMatchObject({ stepIndex: 0, attempt: 1, decision: 'bake-again', failure: null });

    const second = await handler(event({ progress: first }));
    expect(second).toMatchObject({
      stepIndex: 0,
      attempt: 1,
      decision: 'rollback',
      failure: { Error: 'InconclusiveHealthError' },
    });
    expect(second.verdicts.map((v) => v.status)).toEqual(['inconclusive', 'inconclusive']);
  });

  it('promotes when the last step is healthy', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(metrics(5000, 1, 300));

    const next = await handler(event({ progress: { stepIndex: 2 } }));

    expect(next).toMatchObject({ stepIndex: 2, decision: 'promote', failure: null });
    expect(next.verdicts[0]).toMatchObject({ weight: 100, stepIndex: 2 });
  });

  it('watches the common alarms and the blue alarms when blue is the idle colour', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'OK', 'colorapp-blue-5xx': 'OK' }));
    cw.on(GetMetricDataCommand).resolves(metrics(500, 0, 120));

    const next = await handler(
      event({ colours: { live: 'green', idle: 'blue', liveTaskDefinitionArn: 'arn:td/colorapp:2' } }),
    );

    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['colorapp-common', 'colorapp-blue-5xx'] });
    expect(cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries).toEqual(expectedQueries('blue'));
    expect(next.verdicts[0].colour).toBe('blue');
  });

  it('fails with ResourceNotFoundError when a configured alarm does not exist', async () => {
    cw.on(DescribeAlarmsCommand).resolves(alarms({ 'colorapp-common': 'OK' }));

    await expect(handler(event())).rejects.toThrow(ResourceNotFoundError);
    expect(cw).not.toHaveReceivedCommand(GetMetricDataCommand);
  });

  it('rejects malformed input with a ValidationError before calling AWS', async () => {
    const bad = event();
    delete bad.shift;

    await expect(handler(bad)).rejects.toThrow(ValidationError);
    await expect(handler(bad)).rejects.toThrow(/Invalid CheckHealth input: shift/);
    expect(cw.calls()).toHaveLength(0);
  });

  it('rejects a shift for another step than the release is at', async () => {
    const bad = event({ progress: { stepIndex: 1 } });
    bad.shift.stepIndex = 0;

    await expect(handler(bad)).rejects.toThrow(ValidationError);
    expect(cw.calls()).toHaveLength(0);
  });
});

describe('check-health handler: the metric source follows the service configuration', () => {
  const LB = 'app/colorapp/50dc6c495c0c9188';
  const albTraffic = {
    kind: 'alb' as const,
    listenerArn: `arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/${LB}/f2f7dc8efc522ab2`,
    rule: 'listener-default',
    targetGroups: {
      blue: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/colorapp-blue/73e2d6bc24d8a067',
      green: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/colorapp-green/4c1a8c2b9d0e7f36',
    },
  };
  function eventWith(configChange: Record<string, unknown>) {
    const changed = ServiceConfigSchema.parse({ ...config, ...configChange });
    const e = event();
    e.release.config = JSON.parse(JSON.stringify(changed));
    return e;
  }

  it("reads the idle colour's target group in AWS/ApplicationELB for ALB traffic, at a 60 s period", async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'requests', Values: [300, 200], StatusCode: 'Complete' },
        { Id: 'target_2xx', Values: [300, 200], StatusCode: 'Complete' },
        { Id: 'target_response_time_p99', Values: [0.08], StatusCode: 'Complete' },
      ],
    });

    const next = await handler(eventWith({ traffic: albTraffic, health: { ...config.health, metricPeriodSeconds: 60 } }));

    const dims = [
      { Name: 'TargetGroup', Value: 'targetgroup/colorapp-green/4c1a8c2b9d0e7f36' },
      { Name: 'LoadBalancer', Value: LB },
    ];
    const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input.MetricDataQueries?.map((q) => [q.MetricStat?.Metric?.Namespace, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat, q.MetricStat?.Period])).toEqual([
      ['AWS/ApplicationELB', 'RequestCount', 'Sum', 60],
      ['AWS/ApplicationELB', 'HTTPCode_Target_2XX_Count', 'Sum', 60],
      ['AWS/ApplicationELB', 'HTTPCode_Target_3XX_Count', 'Sum', 60],
      ['AWS/ApplicationELB', 'HTTPCode_Target_4XX_Count', 'Sum', 60],
      ['AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 'Sum', 60],
      ['AWS/ApplicationELB', 'TargetConnectionErrorCount', 'Sum', 60],
      ['AWS/ApplicationELB', 'TargetResponseTime', 'p99', 60],
    ]);
    expect(input.MetricDataQueries?.every((q) => JSON.stringify(q.MetricStat?.Metric?.Dimensions) === JSON.stringify(dims))).toBe(true);
    // Aligned down to the minute: 12:08:33 -> 12:08:00.
    expect(input.StartTime).toEqual(new Date('2025-01-01T12:08:00.000Z'));
    expect(next.verdicts[0].evidence).toMatchObject({ requests: 500, errors5xx: 0, p99LatencyMs: 80 });
    expect(next.decision).toBe('shift');
  });

  it("reads the application's own EMF metrics when health.metricSource is 'application'", async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

    const next = await handler(
      eventWith({ traffic: albTraffic, health: { ...config.health, metricSource: 'application', metricNamespace: 'ECSRelease/App' } }),
    );

    const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input.MetricDataQueries?.map((q) => q.MetricStat?.Metric?.MetricName)).toEqual(['Requests', 'ServerErrors', 'Latency']);
    expect(input.MetricDataQueries?.[0].MetricStat?.Metric).toMatchObject({
      Namespace: 'ECSRelease/App',
      Dimensions: [
        { Name: 'Service', Value: 'colorapp' },
        { Name: 'Color', Value: 'green' },
      ],
    });
    // No data from the application is zero requests: inconclusive, never healthy.
    expect(next.verdicts[0].status).toBe('inconclusive');
  });
});

describe('check-health handler: relative judgement (the new colour against the live one)', () => {
  const relativeConfig = ServiceConfigSchema.parse({ ...config, health: { ...config.health, relative: {} } });
  function relativeEvent(options: Parameters<typeof event>[0] = {}) {
    const e = event(options);
    e.release.config = JSON.parse(JSON.stringify(relativeConfig));
    return e;
  }
  /** Both colours' datapoints, Ids prefixed with the colour as the check asks for them. */
  function bothColours(numbers: Partial<Record<'blue' | 'green', { ok: number; errors: number; p99: number; p50: number }>>) {
    return {
      MetricDataResults: Object.entries(numbers).flatMap(([colour, n]) => [
        { Id: `${colour}_responses_2xx`, Values: n.ok ? [n.ok] : [], StatusCode: 'Complete' as const },
        { Id: `${colour}_responses_5xx`, Values: n.errors ? [n.errors] : [], StatusCode: 'Complete' as const },
        { Id: `${colour}_request_time_p99`, Values: [n.p99], StatusCode: 'Complete' as const },
        { Id: `${colour}_request_time_p50`, Values: [n.p50], StatusCode: 'Complete' as const },
      ]),
    };
  }

  it('reads both colours in ONE GetMetricData request over the same window, p50 included', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 500, errors: 0, p99: 20, p50: 5 }, blue: { ok: 4500, errors: 0, p99: 20, p50: 5 } }));

    await handler(relativeEvent());

    expect(cw).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
    const ids = cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.map((q) => [q.Id, q.MetricStat?.Stat]);
    expect(ids).toEqual(
      (['green', 'blue'] as const).flatMap((colour) => [
        ...['2', '3', '4', '5'].map((cls) => [`${colour}_responses_${cls}xx`, 'Sum']),
        [`${colour}_request_time_p99`, 'p99'],
        [`${colour}_request_time_p50`, 'p50'],
      ]),
    );
    const blueDims = cw.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.[6].MetricStat?.Metric?.Dimensions;
    expect(blueDims).toContainEqual({ Name: 'Color', Value: 'blue' });
  });

  it('rolls back a new colour worse than live although above the 99% threshold (0.83% errors against none)', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 1190, errors: 10, p99: 20, p50: 5 }, blue: { ok: 1200, errors: 0, p99: 20, p50: 5 } }));

    const next = await handler(relativeEvent({ progress: { stepIndex: 1 } }));

    expect(next.decision).toBe('rollback');
    expect(next.failure?.Error).toBe('UnhealthyReleaseError');
    expect(next.failure?.Cause).toContain(
      'green 0.833% errors vs blue 0% over 1,200 / 1,200 requests: worse beyond the 0.1 pp tolerance at 99% (lower bound +0.21 pp)',
    );
    const [verdict] = next.verdicts;
    expect(verdict.evidence.baseline).toMatchObject({ colour: 'blue', requests: 1200, errors5xx: 0, successRate: 1, from: 'same-window', window: verdict.window });
    expect(verdict.evidence.comparison).toMatchObject({ test: 'newcombe-hybrid-score', errorsWorse: true, latencyWorse: false });
    expect(verdict.thresholds).toEqual({
      minSuccessRate: 0.95,
      maxP99LatencyMs: 1000,
      minRequests: 50,
      relative: { errorRateTolerance: 0.001, confidence: 0.99, latencyRatio: 1.5, latencyAllowanceMs: 100 },
    });
  });

  it('passes a new colour as good as live although below the 99% threshold (1.5% errors on both)', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 591, errors: 9, p99: 20, p50: 5 }, blue: { ok: 5319, errors: 81, p99: 20, p50: 5 } }));

    const next = await handler(relativeEvent());

    expect(next.decision).toBe('shift');
    const [verdict] = next.verdicts;
    expect(verdict.status).toBe('healthy');
    expect(verdict.reasons[0]).toMatch(
      /^green 1.5% errors vs blue 1.5% over 600 \/ 5,400 requests: not shown worse beyond the 0.1 pp tolerance at 99% \(lower bound -[\d.]+ pp; this window detects a rise of [\d.]+ pp or more at 80% power\)/,
    );
    expect(verdict.reasons[0]).toContain('not shown below the floor 95%');
  });

  it('rolls back a new colour whose p99 is above 1.5 × live + 100 ms although far below the 1 s maximum', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    // 14,000 requests over a 2-minute bake of 10 s periods: over 1,000 in each period's p99.
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 14000, errors: 0, p99: 290, p50: 30 }, blue: { ok: 60000, errors: 0, p99: 100, p50: 20 } }));

    const next = await handler(relativeEvent());

    expect(next.decision).toBe('rollback');
    expect(next.failure?.Cause).toContain('p99 290 ms vs 100 ms above the limit 250 ms (1.5 × live + 100 ms)');
    expect(next.verdicts[0].evidence.comparison?.latencyWorse).toBe(true);
  });

  it("does not judge a p99 that stands on fewer than 1,000 requests a period (1,200 over the bake's 10 s periods), and says so", async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 1200, errors: 0, p99: 290, p50: 30 }, blue: { ok: 60000, errors: 0, p99: 100, p50: 20 } }));

    const next = await handler(relativeEvent());

    expect(next.decision).toBe('shift');
    expect(next.verdicts[0].evidence.comparison?.latencyWorse).toBe(false);
    expect(next.verdicts[0].reasons[0]).toContain('p99 290 ms vs 100 ms not compared (fewer than 1,000 requests per period a side)');
  });

  it("judges the 100% step against the live figures of the previous step's window, and says so", async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 1200, errors: 0, p99: 20, p50: 5 }, blue: { ok: 1200, errors: 0, p99: 20, p50: 5 } }));
    const earlier = await handler(relativeEvent({ progress: { stepIndex: 1 } }));
    expect(earlier.decision).toBe('shift');
    cw.reset();
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    // Only green is asked for: blue has no traffic at 100%.
    cw.on(GetMetricDataCommand).resolves(metrics(2381, 19, 20));

    const next = await handler(relativeEvent({ progress: earlier }));

    const input = cw.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input.MetricDataQueries?.map((q) => q.Id)).toEqual(['responses_2xx', 'responses_3xx', 'responses_4xx', 'responses_5xx', 'request_time_p99', 'request_time_p50']);
    const verdict = next.verdicts[1];
    expect(verdict.weight).toBe(100);
    expect(verdict.evidence.baseline).toMatchObject({ colour: 'blue', requests: 1200, errors5xx: 0, from: 'previous-step', window: earlier.verdicts[0].window });
    expect(next.decision).toBe('rollback');
    expect(next.failure?.Cause).toContain("vs blue 0% in the previous step's window (it has no traffic at this step) over 2,400 / 1,200 requests: worse beyond");
  });

  it('judges on the fixed thresholds, and says so, when the live colour had no traffic to compare with', async () => {
    cw.on(DescribeAlarmsCommand).resolves(allOk);
    cw.on(GetMetricDataCommand).resolves(bothColours({ green: { ok: 495, errors: 5, p99: 20, p50: 5 } }));

    const next = await handler(relativeEvent());

    const [verdict] = next.verdicts;
    expect(verdict.evidence.baseline).toMatchObject({ colour: 'blue', requests: 0 });
    expect(verdict.evidence.comparison).toBeUndefined();
    expect(verdict.thresholds.minSuccessRate).toBe(0.99);
    expect(verdict.status).toBe('healthy');
    expect(verdict.reasons[1]).toMatch(/^No live figures to compare with .*judged on the fixed thresholds only\.$/);
  });
});
