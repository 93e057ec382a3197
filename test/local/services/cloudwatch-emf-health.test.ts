// The `application` health source end to end on one machine: colorapp's own EMF lines, extracted
// from a task's stdout into the local CloudWatch, read back over the SDK by the real health check.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { RequestMetrics } from '../../../colorapp/src/metrics';
import { APP_METRICS } from '../../../lambdas/shared/app-metrics';
import { ApplicationMetricSource } from '../../../lambdas/shared/health/application-metric-source';
import { CloudWatchHealthCheck } from '../../../lambdas/shared/health/cloudwatch-health-check';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalCloudWatch } from '../../../local/services/cloudwatch';
import { emfTaskOutputHandler } from '../../../local/services/cloudwatch/emf';

let cloudwatch: LocalCloudWatch;
let endpoint: LocalEndpoint;
let client: CloudWatchClient;

beforeAll(async () => {
  cloudwatch = new LocalCloudWatch({ namespace: APP_METRICS.defaultNamespace, evaluationIntervalMs: 0 });
  endpoint = await startLocalEndpoint({ jsonServices: [cloudwatch] });
  client = new CloudWatchClient({ endpoint: endpoint.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  client?.destroy();
  cloudwatch?.close();
  await endpoint?.close();
});

it("judges a colour from the EMF metrics colorapp writes to stdout, at 1-second periods", async () => {
  const toCloudWatch = emfTaskOutputHandler(cloudwatch);
  const metrics = new RequestMetrics({ namespace: APP_METRICS.defaultNamespace, service: 'colorapp', color: 'green' }, (line) =>
    toCloudWatch({ stream: 'stdout', line }),
  );
  const now = Date.now();
  // Three seconds of green's traffic: 180 requests, 9 of them 500s (95%), latencies 10..189 ms.
  for (let i = 0; i < 180; i += 1) metrics.record(i % 20 === 0 ? 500 : 200, 10 + i, now - 4000 + Math.floor(i / 60) * 1000);
  metrics.flush(now);

  const check = new CloudWatchHealthCheck(client, {
    source: new ApplicationMetricSource(APP_METRICS.defaultNamespace),
    periodSeconds: 1,
    alarmNames: [],
    thresholds: { minSuccessRate: 0.99, maxP99LatencyMs: 1000, minRequests: 50 },
  });
  const verdict = await check.judge({
    service: 'colorapp',
    colour: 'green',
    stepIndex: 0,
    weight: 10,
    attempt: 0,
    windowStart: new Date(now - 10_000),
    windowEnd: new Date(now),
  });

  expect(verdict.evidence).toMatchObject({ requests: 180, errors5xx: 9, successRate: 0.95 });
  expect(verdict.evidence.p99LatencyMs).toBeGreaterThan(120);
  expect(verdict.status).toBe('unhealthy');

  const blue = await check.judge({ service: 'colorapp', colour: 'blue', stepIndex: 0, weight: 10, attempt: 0, windowStart: new Date(now - 10_000), windowEnd: new Date(now) });
  expect(blue.status).toBe('inconclusive');
});
