import type { Strategy } from '../lambdas/shared/config';
import type { ReleaseSummary, Verdict, VerdictSummary } from '../lambdas/shared/documents';

/** Text formatting shared by the commands: durations, strategies, verdicts, release records, tables. */

/** `1h 02m`, `3m 07s`, `42s` (`words`), or `01:02:03` / `03:07` (`clock`). */
export function formatDuration(ms: number, style: 'words' | 'clock' = 'words'): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (style === 'clock') return h > 0 ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** `canary 10,50,100`, `linear 25%`, `blue-green`. */
export function formatStrategy(strategy: Strategy): string {
  switch (strategy.type) {
    case 'canary':
      return `canary ${strategy.steps.join(',')}`;
    case 'linear':
      return `linear ${strategy.stepPercent}%`;
    case 'blue-green':
      return 'blue-green';
    default: {
      const unknown: never = strategy;
      return String((unknown as { type: string }).type);
    }
  }
}

function percent(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(rate >= 0.999 && rate < 1 ? 2 : 1)}%`;
}

/**
 * A verdict as the CLI sees it: the full one from the execution (with colour and thresholds), or
 * the summary the state document keeps.
 */
export type AnyVerdict = VerdictSummary & Partial<Pick<Verdict, 'colour' | 'thresholds'>>;

/** `healthy (99.9%, 1234 req)`. */
export function formatVerdictShort(verdict: AnyVerdict): string {
  return `${verdict.status} (${percent(verdict.evidence.successRate)}, ${verdict.evidence.requests} req)`;
}

/**
 * One verdict with its evidence (and the thresholds, when known) and, when it did not pass, why:
 * `step 1 at 10% green: healthy — success 99.9% (min 99.0%), 1234 req (min 50), p99 120 ms (max 1000)`.
 */
export function formatVerdict(verdict: AnyVerdict): string {
  const { evidence: e, thresholds: t } = verdict;
  const p99 = e.p99LatencyMs === null ? 'p99 n/a' : `p99 ${Math.round(e.p99LatencyMs)} ms${t ? ` (max ${t.maxP99LatencyMs})` : ''}`;
  const alarms = e.alarmsInAlarm.length ? `, alarms: ${e.alarmsInAlarm.join(', ')}` : '';
  const attempt = verdict.attempt > 0 ? `, bake ${verdict.attempt + 1}` : '';
  const head = `step ${verdict.stepIndex + 1}${attempt} at ${verdict.weight}%${verdict.colour ? ` ${verdict.colour}` : ''}: ${verdict.status}`;
  const success = `success ${percent(e.successRate)}${t ? ` (min ${percent(t.minSuccessRate)})` : ''}`;
  const numbers = `${success}, ${e.requests} req${t ? ` (min ${t.minRequests})` : ''}, ${p99}${alarms}`;
  const why = verdict.status !== 'healthy' && verdict.reasons.length ? ` — ${verdict.reasons.join(' ')}` : '';
  // Relative judgement: both colours' numbers and the test, unless a reason already says it.
  const compared = e.comparison && !why.includes(e.comparison.summary) ? ` — ${e.comparison.summary}` : '';
  return `${head} — ${numbers}${compared}${why}`;
}

/** The failure of a release that did not promote, `error: cause`; `-` for none. */
export function formatFailure(record: Pick<ReleaseSummary, 'failure'>): string {
  return record.failure ? `${record.failure.error}: ${record.failure.cause}` : '-';
}

/**
 * A plain table: a header row and rows, columns padded to their widest cell, the last column
 * left unpadded so long text (a failure cause) does not push every line wide.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A JSON document for `--output json`. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
