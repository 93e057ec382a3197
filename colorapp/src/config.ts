/**
 * colorapp's settings, from the environment. Every value is checked and every problem reported
 * at once: a typo in FAULT_RATE must stop the process, not quietly run a healthy (or a broken)
 * version that the release then judges.
 */

/** colorapp's settings. */
export interface ColorAppConfig {
  /** `COLOR` (required): the colour it answers. */
  readonly color: string;
  /** `VERSION`: the version it answers. @default 'unknown' */
  readonly version: string;
  /** `HOST`: the address to listen on. @default every interface (what a container needs) */
  readonly host: string | undefined;
  /** `PORT`: 0..65535, 0 picks a free port. @default 8080 */
  readonly port: number;
  /** `FAULT_RATE`: share of `GET /` answered 500, 0..1. @default 0 */
  readonly faultRate: number;
  /** `LATENCY_MS`: delay added to `GET /`, 0..600000. @default 0 */
  readonly latencyMs: number;
  /** `SHUTDOWN_TIMEOUT_MS`: how long SIGTERM waits for in-flight requests. @default 20000 */
  readonly shutdownTimeoutMs: number;
  /**
   * Request metrics in CloudWatch embedded metric format on stdout, once a second (`METRICS`:
   * `emf` or `off`), in namespace `METRICS_NAMESPACE` with the dimensions `Service`
   * (`SERVICE_NAME`) and `Color`; `null` when off.
   * @default { namespace: 'ECSRelease/App', service: 'colorapp' }
   */
  readonly metrics: { readonly namespace: string; readonly service: string } | null;
}

/** The environment held a value colorapp cannot run with. */
export class ColorAppConfigError extends Error {
  override readonly name = 'ColorAppConfigError' as const;
}

/** Where colorapp's EMF metrics go unless told otherwise (the release's `application` source reads them there). */
export const DEFAULT_METRICS_NAMESPACE = 'ECSRelease/App';
const DEFAULT_SERVICE_NAME = 'colorapp';
/** CloudWatch namespaces: 1 to 255 characters, letters, digits and `. - _ / # :` (PutMetricData). */
const NAMESPACE = /^[A-Za-z0-9.\-_/#:]{1,255}$/;

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;

/**
 * Reads colorapp's settings from `env`. An empty variable counts as unset.
 *
 * @throws ColorAppConfigError listing every invalid variable, its value and what is allowed.
 *
 * @example
 * parseColorAppConfig({ COLOR: 'blue', VERSION: 'v1', FAULT_RATE: '0.5' });
 */
export function parseColorAppConfig(env: Record<string, string | undefined>): ColorAppConfig {
  const problems: string[] = [];
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const number = (name: string, pattern: RegExp, min: number, max: number, fallback: number, allowed: string) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const parsed = pattern.test(raw) ? Number(raw) : NaN;
    if (parsed >= min && parsed <= max) return parsed;
    problems.push(`${name} must be ${allowed}, got '${raw}'`);
    return fallback;
  };

  const metricsMode = value('METRICS') ?? 'emf';
  if (metricsMode !== 'emf' && metricsMode !== 'off') problems.push(`METRICS must be emf or off, got '${metricsMode}'`);
  const namespace = value('METRICS_NAMESPACE') ?? DEFAULT_METRICS_NAMESPACE;
  if (!NAMESPACE.test(namespace) || namespace.startsWith('AWS/')) {
    problems.push(`METRICS_NAMESPACE must be a CloudWatch namespace (letters, digits, . - _ / # :; not AWS/...), got '${namespace}'`);
  }

  const color = value('COLOR');
  if (color === undefined) problems.push('COLOR is required (the colour this instance answers, e.g. blue)');
  const config: ColorAppConfig = {
    color: color ?? '',
    version: value('VERSION') ?? 'unknown',
    host: value('HOST'),
    port: number('PORT', INTEGER, 0, 65_535, 8080, 'an integer from 0 to 65535'),
    faultRate: number('FAULT_RATE', DECIMAL, 0, 1, 0, 'a number from 0 to 1 (the share of requests answered 500)'),
    latencyMs: number('LATENCY_MS', INTEGER, 0, 600_000, 0, 'an integer number of milliseconds from 0 to 600000'),
    shutdownTimeoutMs: number('SHUTDOWN_TIMEOUT_MS', INTEGER, 0, 600_000, 20_000, 'an integer number of milliseconds from 0 to 600000'),
    metrics: metricsMode === 'off' ? null : { namespace, service: value('SERVICE_NAME') ?? DEFAULT_SERVICE_NAME },
  };
  if (problems.length > 0) throw new ColorAppConfigError(`Invalid colorapp configuration: ${problems.join('; ')}`);
  return config;
}
