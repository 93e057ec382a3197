import { ColorAppConfigError, parseColorAppConfig } from '../../colorapp/src/config';

describe('parseColorAppConfig', () => {
  it('reads every variable', () => {
    expect(
      parseColorAppConfig({
        COLOR: 'green',
        VERSION: 'v2',
        HOST: '127.0.0.1',
        PORT: '9000',
        FAULT_RATE: '0.25',
        LATENCY_MS: '150',
        SHUTDOWN_TIMEOUT_MS: '5000',
        METRICS_NAMESPACE: 'Shop/Checkout',
        SERVICE_NAME: 'checkout',
      }),
    ).toEqual({
      color: 'green',
      version: 'v2',
      host: '127.0.0.1',
      port: 9000,
      faultRate: 0.25,
      latencyMs: 150,
      shutdownTimeoutMs: 5000,
      metrics: { namespace: 'Shop/Checkout', service: 'checkout' },
    });
  });

  it('defaults to every interface, port 8080, no faults, no latency, a 20 s drain and EMF metrics in ECSRelease/App', () => {
    expect(parseColorAppConfig({ COLOR: 'blue' })).toEqual({
      color: 'blue',
      version: 'unknown',
      host: undefined,
      port: 8080,
      faultRate: 0,
      latencyMs: 0,
      shutdownTimeoutMs: 20_000,
      metrics: { namespace: 'ECSRelease/App', service: 'colorapp' },
    });
  });

  it('turns the request metrics off with METRICS=off', () => {
    expect(parseColorAppConfig({ COLOR: 'blue', METRICS: 'off' }).metrics).toBeNull();
  });

  it.each([
    ['METRICS', 'statsd', /METRICS must be emf or off, got 'statsd'/],
    ['METRICS_NAMESPACE', 'AWS/ApplicationELB', /METRICS_NAMESPACE must be a CloudWatch namespace.*got 'AWS\/ApplicationELB'/],
    ['METRICS_NAMESPACE', 'has space', /METRICS_NAMESPACE must be a CloudWatch namespace/],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => parseColorAppConfig({ COLOR: 'blue', [name]: value })).toThrow(message);
  });

  it('treats an empty variable as unset', () => {
    expect(parseColorAppConfig({ COLOR: 'blue', FAULT_RATE: '', PORT: ' ' })).toMatchObject({ faultRate: 0, port: 8080 });
  });

  it.each(['0', '1', '0.5', '.5', '1.0', '0.05'])('accepts FAULT_RATE %s', (value) => {
    expect(parseColorAppConfig({ COLOR: 'blue', FAULT_RATE: value }).faultRate).toBe(Number(value));
  });

  it.each(['abc', '1.5', '-0.1', '50%', '0x1', '1e-1', 'NaN', 'Infinity'])('rejects FAULT_RATE %s, naming it and its value', (value) => {
    expect(() => parseColorAppConfig({ COLOR: 'blue', FAULT_RATE: value })).toThrow(ColorAppConfigError);
    expect(() => parseColorAppConfig({ COLOR: 'blue', FAULT_RATE: value })).toThrow(
      `FAULT_RATE must be a number from 0 to 1 (the share of requests answered 500), got '${value}'`,
    );
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['LATENCY_MS', '-5'],
    ['LATENCY_MS', 'slow'],
    ['SHUTDOWN_TIMEOUT_MS', '1s'],
  ])('rejects %s=%s', (name, value) => {
    expect(() => parseColorAppConfig({ COLOR: 'blue', [name]: value })).toThrow(new RegExp(`${name} must be .*got '${value}'`));
  });

  it('requires COLOR', () => {
    expect(() => parseColorAppConfig({})).toThrow(/COLOR is required/);
  });

  it('reports every problem at once', () => {
    expect(() => parseColorAppConfig({ FAULT_RATE: '2', PORT: 'x' })).toThrow(/COLOR is required.*PORT must be.*FAULT_RATE must be/);
  });
});
