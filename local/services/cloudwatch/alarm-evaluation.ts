/**
 * How CloudWatch decides an alarm's state from its datapoints (pure; the table tests follow the
 * tables in CloudWatch's "How alarm state is evaluated when data is missing"):
 *
 * - It looks at an evaluation range longer than `evaluationPeriods` (N) periods.
 * - With at least N real datapoints there, it judges the most recent N; missing data is ignored.
 * - With fewer, `breaching` / `notBreaching` fill the gaps as few times as possible; `missing`
 *   and `ignore` judge the real ones alone: ALARM with at least `datapointsToAlarm` (M)
 *   breaching, OK when a real one is not breaching, otherwise INSUFFICIENT_DATA (`missing`) or
 *   the current state (`ignore`).
 * - With none at all: `breaching` → ALARM, `notBreaching` → OK, `missing` → INSUFFICIENT_DATA,
 *   `ignore` → the current state.
 *
 * One case of AWS's table is not reproduced: with `missing`, a lone breaching datapoint at the
 * oldest end of the range (X - - - -) gives ALARM in AWS and INSUFFICIENT_DATA here.
 */

/** An alarm state. */
export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** How missing datapoints are treated. */
export type TreatMissingData = 'notBreaching' | 'breaching' | 'ignore' | 'missing';

/** One period's datapoint; `value` null when the period had no data. */
export interface AlarmDatapoint {
  /** Start of the period, epoch milliseconds. */
  readonly start: number;
  readonly value: number | null;
}

/** What decides the state. */
export interface AlarmRule {
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
  readonly threshold: number;
  readonly comparison: 'LessThanThreshold' | 'GreaterThanThreshold';
}

/** The decision and the datapoints it rests on. */
export interface AlarmDecision {
  /** `null` means "keep the current state" (`ignore` with nothing to judge). */
  readonly state: AlarmStateValue | null;
  /** The real datapoints judged, oldest first. */
  readonly judged: readonly AlarmDatapoint[];
  readonly breaching: number;
  /** Missing datapoints filled with the `treatMissingData` result. */
  readonly filled: number;
  readonly reason: string;
}

/** True when `value` breaches `rule`. */
export function breaches(rule: AlarmRule, value: number): boolean {
  return rule.comparison === 'LessThanThreshold' ? value < rule.threshold : value > rule.threshold;
}

/**
 * Decides an alarm's state from the datapoints of its evaluation range (oldest first, one per
 * period, missing ones with `value: null`).
 */
export function decideAlarmState(range: readonly AlarmDatapoint[], rule: AlarmRule): AlarmDecision {
  const { evaluationPeriods: n, datapointsToAlarm: m, treatMissingData } = rule;
  const present = range.filter((d) => d.value !== null);
  const isBreaching = (d: AlarmDatapoint) => breaches(rule, d.value as number);

  if (present.length >= n) {
    const judged = present.slice(-n);
    const breaching = judged.filter(isBreaching).length;
    return thresholdDecision(rule, judged, breaching, 0);
  }

  const missing = n - present.length;
  if (treatMissingData === 'breaching' || treatMissingData === 'notBreaching') {
    const breaching = present.filter(isBreaching).length + (treatMissingData === 'breaching' ? missing : 0);
    return thresholdDecision(rule, present, breaching, missing);
  }

  const breaching = present.filter(isBreaching).length;
  if (breaching >= m || present.some((d) => !isBreaching(d))) return thresholdDecision(rule, present, breaching, 0);
  const unknown = `${range.length - present.length} of the last ${range.length} datapoints were missing`;
  return treatMissingData === 'missing'
    ? { state: 'INSUFFICIENT_DATA', judged: present, breaching, filled: 0, reason: `Insufficient Data: ${unknown}.` }
    : { state: null, judged: present, breaching, filled: 0, reason: `Unchanged: ${unknown} and missing data is ignored.` };
}

function thresholdDecision(rule: AlarmRule, judged: readonly AlarmDatapoint[], breaching: number, filled: number): AlarmDecision {
  const m = rule.datapointsToAlarm;
  const state: AlarmStateValue = breaching >= m ? 'ALARM' : 'OK';
  const comparison = rule.comparison === 'LessThanThreshold' ? 'less than' : 'greater than';
  const points = judged.map((d) => `${formatValue(d.value as number)} (${formatReasonDate(d.start)})`).join(', ');
  const transition = state === 'ALARM' ? 'OK -> ALARM' : 'ALARM -> OK';
  const total = judged.length + filled;
  const treatedAs = rule.treatMissingData === 'breaching' ? 'Breaching' : 'NonBreaching';
  const reason =
    judged.length === 0
      ? `Threshold Crossed: no datapoints were received for ${filled} period${filled === 1 ? '' : 's'} and ${filled} missing datapoint${filled === 1 ? ' was' : 's were'} treated as [${treatedAs}].`
      : `Threshold Crossed: ${breaching} out of the last ${total} datapoint${total === 1 ? '' : 's'} [${points}] ` +
        `${breaching === 1 ? 'was' : 'were'} ${state === 'ALARM' ? '' : 'not '}${comparison} the threshold (${formatValue(rule.threshold)}) ` +
        `(minimum ${m} datapoint${m === 1 ? '' : 's'} for ${transition} transition).`;
  return { state, judged, breaching, filled, reason };
}

/** A number as CloudWatch writes it in reasons: always with a decimal point. */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** `dd/MM/yy HH:mm:ss` in UTC, as CloudWatch writes datapoint times in reasons. */
function formatReasonDate(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** `2019-10-02T17:04:40.989+0000`: how CloudWatch writes timestamps in alarm events and reason data. */
export function cloudWatchTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}
