import { ReleaseStateSchema, summariseVerdict, VerdictSummarySchema } from '../../../lambdas/shared/documents';
import { previousRecord, releaseState, summaryOf, verdict, verdictSummary } from '../../support/release-documents';

describe('summariseVerdict', () => {
  it('keeps the decision, the step and the numbers, and drops the colour, window and thresholds', () => {
    const summary = summariseVerdict(verdict({ status: 'unhealthy', stepIndex: 2, weight: 100, attempt: 1 }));

    expect(summary).toStrictEqual(verdictSummary({ status: 'unhealthy', stepIndex: 2, weight: 100, attempt: 1 }));
    expect(VerdictSummarySchema.strict().parse(summary)).toStrictEqual(summary);
  });

  it('keeps the evidence of an inconclusive verdict with no data as null, not zero', () => {
    const evidence = { requests: 3, errors5xx: 0, successRate: null, p99LatencyMs: null, alarmsInAlarm: ['colorapp-green-p99'] };

    expect(summariseVerdict(verdict({ status: 'inconclusive', evidence })).evidence).toStrictEqual(evidence);
  });

  it.each<[string, string, string]>([
    ['keeps a reason of 300 characters as it is', 'r'.repeat(300), 'r'.repeat(300)],
    ['cuts a longer reason to 300 characters, ending in an ellipsis', 'r'.repeat(301), `${'r'.repeat(299)}…`],
    ['keeps a short reason as it is', 'p99 40 ms <= 1000 ms', 'p99 40 ms <= 1000 ms'],
  ])('%s', (_case, reason, kept) => {
    const summary = summariseVerdict(verdict({ reasons: [reason, 'second'] }));

    expect(summary.reasons).toStrictEqual([kept, 'second']);
    expect(summary.reasons[0]).toHaveLength(Math.min(reason.length, 300));
  });

  it('leaves a summary unchanged, so summarising twice changes nothing', () => {
    const summary = verdictSummary({ reasons: ['r'.repeat(300)] });

    expect(summariseVerdict(summary)).toStrictEqual(summary);
  });

  it('shares no array with the verdict it summarises', () => {
    const full = verdict({ evidence: { requests: 500, errors5xx: 0, successRate: 1, p99LatencyMs: 40, alarmsInAlarm: ['a'] } });

    const summary = summariseVerdict(full);

    expect(summary.reasons).not.toBe(full.reasons);
    expect(summary.evidence.alarmsInAlarm).not.toBe(full.evidence.alarmsInAlarm);
  });
});

describe('ReleaseStateSchema', () => {
  it('reads a state written before summaries: history entries lose their verdicts, verdicts their window and thresholds', () => {
    const older = previousRecord({ verdicts: [verdict()] });
    const written = { ...releaseState({ lastRelease: older }), history: [older] };

    expect(ReleaseStateSchema.parse(JSON.parse(JSON.stringify(written)))).toStrictEqual(
      releaseState({ lastRelease: { ...older, verdicts: [verdictSummary()] }, history: [summaryOf(older)] }),
    );
  });
});
