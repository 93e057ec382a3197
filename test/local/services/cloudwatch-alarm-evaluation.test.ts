// The alarm state rule, checked against the tables in CloudWatch's "How alarm state is evaluated
// when data is missing" (evaluation range of 5 datapoints; 0 = not breaching, X = breaching, - = missing).
import {
  cloudWatchTimestamp,
  decideAlarmState,
  type AlarmRule,
  type TreatMissingData,
} from '../../../local/services/cloudwatch/alarm-evaluation';

const rule = (m: number, n: number, treatMissingData: TreatMissingData): AlarmRule => ({
  evaluationPeriods: n,
  datapointsToAlarm: m,
  treatMissingData,
  threshold: 99,
  comparison: 'LessThanThreshold',
});

/** `'0 - X - X'` as datapoints: 100 is fine, 50 breaches `< 99`, `-` is missing. */
function points(pattern: string) {
  return pattern.split(' ').map((c, i) => ({ start: i * 1000, value: c === '-' ? null : c === 'X' ? 50 : 100 }));
}

const RETAIN = null;

describe('decideAlarmState', () => {
  // Columns: MISSING, IGNORE, BREACHING, NOT BREACHING.
  it.each([
    ['0 - X - X', ['OK', 'OK', 'OK', 'OK']],
    ['0 - - - -', ['OK', 'OK', 'OK', 'OK']],
    ['- - - - -', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    ['0 X X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['- - - - X', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
  ])('3 of 3: %s gives AWS\'s states', (pattern, expected) => {
    const states = (['missing', 'ignore', 'breaching', 'notBreaching'] as const).map(
      (treat) => decideAlarmState(points(pattern), rule(3, 3, treat)).state,
    );
    expect(states).toEqual(expected);
  });

  it.each([
    ['0 - X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 0 X 0 X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 - X - -', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - - 0', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - - X', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
  ])('2 of 3: %s gives AWS\'s states', (pattern, expected) => {
    const states = (['missing', 'ignore', 'breaching', 'notBreaching'] as const).map(
      (treat) => decideAlarmState(points(pattern), rule(2, 3, treat)).state,
    );
    expect(states).toEqual(expected);
  });

  it('judges only the most recent N real datapoints when there are enough', () => {
    const decision = decideAlarmState(points('X X 0 0 0'), rule(1, 3, 'notBreaching'));

    expect(decision.state).toBe('OK');
    expect(decision.judged.map((d) => d.value)).toEqual([100, 100, 100]);
  });

  it('explains an ALARM in CloudWatch\'s words, with the datapoints and the threshold', () => {
    const decision = decideAlarmState(points('0 X X X 0'), rule(3, 6, 'notBreaching'));

    expect(decision.state).toBe('ALARM');
    expect(decision.reason).toBe(
      'Threshold Crossed: 3 out of the last 6 datapoints [100.0 (01/01/70 00:00:00), 50.0 (01/01/70 00:00:01), ' +
        '50.0 (01/01/70 00:00:02), 50.0 (01/01/70 00:00:03), 100.0 (01/01/70 00:00:04)] ' +
        'were less than the threshold (99.0) (minimum 3 datapoints for OK -> ALARM transition).',
    );
  });

  it('writes event timestamps as CloudWatch does (+0000, milliseconds)', () => {
    expect(cloudWatchTimestamp(new Date('2019-10-02T17:04:40.989Z'))).toBe('2019-10-02T17:04:40.989+0000');
  });
});
