import type { AddressInfo } from 'node:net';
import { ColorAppConfigError, parseColorAppConfig, type ColorAppConfig } from './config';
import { RequestMetrics } from './metrics';
import { closeGracefully, createColorApp } from './server';

/**
 * colorapp's entry point: reads the environment (COLOR, VERSION, HOST, PORT, FAULT_RATE,
 * LATENCY_MS, SHUTDOWN_TIMEOUT_MS, METRICS, METRICS_NAMESPACE, SERVICE_NAME), listens, and shuts
 * down gracefully on SIGTERM or SIGINT: stop accepting, finish in-flight requests, write the last
 * request metrics, exit 0 (1 if requests had to be cut). Logs are one JSON object per line on
 * stdout, which is what the container log drivers expect; the request metrics are EMF lines
 * among them, once a second.
 */

function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}

function configOrExit(): ColorAppConfig {
  try {
    return parseColorAppConfig(process.env);
  } catch (error) {
    if (!(error instanceof ColorAppConfigError)) throw error;
    log('error', error.message);
    process.exit(1);
  }
}

function main(): void {
  const config = configOrExit();
  const metrics = config.metrics
    ? new RequestMetrics({ ...config.metrics, color: config.color }, (line) => console.log(line))
    : undefined;
  const server = createColorApp({ ...config, onAnswered: metrics ? (status, ms) => metrics.record(status, ms) : undefined });
  // unref: the timer alone must not keep a stopping process alive.
  if (metrics) setInterval(() => metrics.flush(Date.now()), 1000).unref();
  server.on('error', (error) => {
    log('error', `Cannot listen on port ${config.port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    log('info', 'listening', { port, color: config.color, version: config.version, faultRate: config.faultRate, latencyMs: config.latencyMs });
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal while draining changes nothing: the drain already has its deadline.
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { signal, timeoutMs: config.shutdownTimeoutMs });
    void closeGracefully(server, config.shutdownTimeoutMs).then((result) => {
      metrics?.flush();
      log('info', result === 'drained' ? 'stopped' : 'stopped, cutting requests still open', { result });
      process.exit(result === 'drained' ? 0 : 1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
