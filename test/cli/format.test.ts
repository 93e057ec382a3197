import { formatVerdict, type AnyVerdict } from '../../cli/format';

const base: AnyVerdict = {
  stepIndex: 1,
  weight: 50,
  attempt: 0,
  status: 'healthy',
  reasons: ['ok'],
  colour: 'green',
  evidence: { requests: 600, errors5xx: 9, successRate: 0.985, p99LatencyMs: 20, alarmsInAlarm: [] },
  thresholds: { minSuccessRate: 0.95, maxP99LatencyMs: 1000, minRequests: 50 },
};
const summary = 'green 1.5% errors vs blue 1.5% over 600 / 5,400 requests: not shown worse beyond the 0.1 pp tolerance at 99%';
const comparison = {
  test: 'newcombe-hybrid-score' as const,
  errorRateDifference: 0,
  lowerBound: -0.009,
  errorsWorse: false,
  detectableDifference: 0.02,
  latencyWorse: false,
  summary,
};

describe('formatVerdict', () => {
  it('prints the comparison with the live colour of a healthy step (both colours, the test, its result)', () => {
    expect(formatVerdict({ ...base, evidence: { ...base.evidence, comparison } })).toBe(
      `step 2 at 50% green: healthy — success 98.5% (min 95.0%), 600 req (min 50), p99 20 ms (max 1000) — ${summary}`,
    );
  });

  it('prints it once when the reasons of a failed step already carry it', () => {
    const line = formatVerdict({ ...base, status: 'unhealthy', reasons: [`${summary}: unhealthy.`], evidence: { ...base.evidence, comparison } });
    expect(line.split(summary)).toHaveLength(2);
  });

  it('prints verdicts made without relative judgement as before', () => {
    expect(formatVerdict(base)).toBe('step 2 at 50% green: healthy — success 98.5% (min 95.0%), 600 req (min 50), p99 20 ms (max 1000)');
  });
});
