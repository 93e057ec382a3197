import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DRIFT_METRIC } from '../../../lambdas/shared/drift';
import { publishTrafficWeights, TRAFFIC_WEIGHT_METRIC, weightDatums } from '../../../lambdas/shared/weight-metric';

const cloudwatch = mockClient(CloudWatchClient);
const logger = { info: jest.fn(), warn: jest.fn() };

beforeEach(() => {
  cloudwatch.reset();
  logger.warn.mockReset();
});

describe('the traffic weight metric', () => {
  it('shares the drift metric\'s namespace, so one cloudwatch:namespace condition covers both', () => {
    expect(TRAFFIC_WEIGHT_METRIC.namespace).toBe(DRIFT_METRIC.namespace);
  });

  it.each([
    [{ live: 'blue', idle: 'green' }, { live: 90, idle: 10 }, { blue: 90, green: 10 }],
    [{ live: 'green', idle: 'blue' }, { live: 50, idle: 50 }, { green: 50, blue: 50 }],
    [{ live: 'green', idle: 'blue' }, { live: 100, idle: 0 }, { green: 100, blue: 0 }],
  ] as const)('gives each colour its own weight: %j at %j', (colours, weights, expected) => {
    const at = new Date('2026-01-01T00:00:00Z');
    const datums = weightDatums('colorapp', colours, weights, at);
    expect(Object.fromEntries(datums.map((d) => [d.Dimensions![1].Value, d.Value]))).toEqual(expected);
    for (const d of datums) {
      expect(d).toMatchObject({ MetricName: 'TrafficWeight', Unit: 'Percent', Timestamp: at, StorageResolution: 1 });
      expect(d.Dimensions![0]).toEqual({ Name: 'Service', Value: 'colorapp' });
    }
  });

  it('is best effort: a failure is logged and reported, never thrown', async () => {
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));

    await expect(publishTrafficWeights('colorapp', { live: 'blue', idle: 'green' }, { live: 100, idle: 0 }, logger)).resolves.toBe(false);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('gives up on throttling only after its retries', async () => {
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));

    await expect(publishTrafficWeights('colorapp', { live: 'blue', idle: 'green' }, { live: 100, idle: 0 }, logger)).resolves.toBe(false);
    expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 6);
  });
});
