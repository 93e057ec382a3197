import type { AddressInfo } from 'node:net';
import { APP_DIMENSION_SET, APP_METRIC_UNITS, APP_METRICS } from '../../lambdas/shared/app-metrics';
import { DEFAULT_METRICS_NAMESPACE } from '../../colorapp/src/config';
import { EMF_DIMENSIONS, EMF_METRICS, RequestMetrics, emfLines } from '../../colorapp/src/metrics';
import { createColorApp } from '../../colorapp/src/server';
import { parseEmfLine, type EmfMetric } from '../../local/services/cloudwatch/emf';
import { call } from './http-client';

const identity = { namespace: 'ECSRelease/App', service: 'colorapp', color: 'green' };
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** Every metric CloudWatch would extract from `lines`, by the EMF specification (local/services/cloudwatch/emf.ts). */
function extracted(lines: string[]): EmfMetric[] {
  return lines.flatMap((line) => {
    const parsed = parseEmfLine(line);
    if (parsed.kind !== 'metrics') throw new Error(`not valid EMF (${JSON.stringify(parsed)}): ${line}`);
    return parsed.metrics;
  });
}

describe("colorapp's request metrics (CloudWatch embedded metric format)", () => {
  it("uses the release pipeline's application metric contract: names, units, dimensions, high resolution, default namespace", () => {
    expect(Object.fromEntries(Object.values(EMF_METRICS).map((m) => [m.name, m.unit]))).toEqual(APP_METRIC_UNITS);
    expect([EMF_METRICS.requests.name, EMF_METRICS.serverErrors.name, EMF_METRICS.latency.name]).toEqual([
      APP_METRICS.requests,
      APP_METRICS.serverErrors,
      APP_METRICS.latency,
    ]);
    expect([EMF_DIMENSIONS.service, EMF_DIMENSIONS.color]).toEqual(APP_DIMENSION_SET);
    expect(DEFAULT_METRICS_NAMESPACE).toBe(APP_METRICS.defaultNamespace);
  });

  it('writes one valid EMF document per second that CloudWatch extracts as Requests, ServerErrors and Latency by Service and Color', () => {
    const lines = emfLines(identity, { second: T0, requests: 3, serverErrors: 1, latenciesMs: [2.5, 4.0004, 120] });

    expect(lines).toHaveLength(1);
    const common = { namespace: 'ECSRelease/App', dimensions: { Service: 'colorapp', Color: 'green' }, storageResolution: 1, timestamp: new Date(T0) };
    expect(extracted(lines)).toEqual([
      { ...common, metricName: 'Requests', unit: 'Count', values: [3] },
      { ...common, metricName: 'ServerErrors', unit: 'Count', values: [1] },
      { ...common, metricName: 'Latency', unit: 'Milliseconds', values: [2.5, 4, 120] },
    ]);
  });

  it('splits more than 100 latencies over several documents, counting the requests once', () => {
    const latenciesMs = Array.from({ length: 250 }, (_, i) => i);
    const lines = emfLines(identity, { second: T0, requests: 250, serverErrors: 0, latenciesMs });

    const metrics = extracted(lines);
    expect(lines).toHaveLength(3);
    expect(metrics.filter((m) => m.metricName === 'Requests').map((m) => m.values)).toEqual([[250]]);
    expect(metrics.filter((m) => m.metricName === 'Latency').map((m) => m.values.length)).toEqual([100, 100, 50]);
    expect(metrics.filter((m) => m.metricName === 'Latency').flatMap((m) => m.values)).toEqual(latenciesMs);
  });

  it('counts per second, writes only seconds that have ended, nothing for a quiet second, and everything at shutdown', () => {
    const written: string[] = [];
    const metrics = new RequestMetrics(identity, (line) => written.push(line));
    metrics.record(200, 5, T0 + 100);
    metrics.record(500, 7, T0 + 900);
    metrics.record(200, 9, T0 + 2500);

    metrics.flush(T0 + 1999);
    expect(extracted(written).filter((m) => m.metricName !== 'Latency').map((m) => [m.metricName, m.values, m.timestamp.getTime()])).toEqual([
      ['Requests', [2], T0],
      ['ServerErrors', [1], T0],
    ]);

    metrics.flush(T0 + 2999); // the second T0+2000 is still open
    expect(written).toHaveLength(1);
    metrics.flush();
    expect(written).toHaveLength(2);
    expect(extracted([written[1]])[0]).toMatchObject({ metricName: 'Requests', values: [1], timestamp: new Date(T0 + 2000) });
    metrics.flush();
    expect(written).toHaveLength(2);
  });

  it('reports every answered request to the metrics but not the container health checks', async () => {
    const answered: [number, number][] = [];
    const server = createColorApp({
      color: 'green',
      version: 'v2',
      faultRate: 1,
      latencyMs: 20,
      onAnswered: (status, ms) => answered.push([status, ms]),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await call(port, '/healthcheck');
      await call(port, '/');
      await call(port, '/nope');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    expect(answered.map(([status]) => status)).toEqual([500, 404]);
    expect(answered[0][1]).toBeGreaterThanOrEqual(19);
  });
});
