import type { Colour } from '../colours';
import type { Verdict } from '../documents';

/** What a health check is asked to judge: one colour, over one window, against thresholds. */
export interface HealthQuery {
  readonly service: string;
  readonly colour: Colour;
  readonly stepIndex: number;
  readonly weight: number;
  readonly attempt: number;
  readonly windowStart: Date;
  readonly windowEnd: Date;
}

/**
 * The seam between the release engine and a metrics backend. It returns a verdict with its
 * evidence (`healthy | unhealthy | inconclusive`, the numbers, the thresholds, the window), so
 * every decision can be explained later. No data is `inconclusive`, never `healthy`.
 *
 * @example
 * const verdict = await healthCheck.judge({ service: 'colorapp', colour: 'green', stepIndex: 0,
 *   weight: 10, attempt: 1, windowStart, windowEnd: new Date() });
 * if (verdict.status === 'unhealthy') console.log(verdict.reasons);
 */
export interface HealthCheck {
  judge(query: HealthQuery): Promise<Verdict>;
}
