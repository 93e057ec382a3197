import type { Colour } from '../colours';
import type { Baseline, Verdict } from '../documents';

/** What a health check is asked to judge: one colour, over one window, against thresholds. */
export interface HealthQuery {
  readonly service: string;
  readonly colour: Colour;
  readonly stepIndex: number;
  readonly weight: number;
  readonly attempt: number;
  readonly windowStart: Date;
  readonly windowEnd: Date;
  /**
   * The live colour, for relative judgement: its weight at this step, and the figures an earlier
   * step measured for it (the newest), which a step that sends it no traffic (100%) compares with.
   */
  readonly live?: { readonly colour: Colour; readonly weight: number; readonly previous?: Baseline };
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
