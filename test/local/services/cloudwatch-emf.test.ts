import type { MetricSample } from '../../../local/contracts';
import { emfSamples, emfTaskOutputHandler, parseEmfLine } from '../../../local/services/cloudwatch/emf';

// Every rule cites "Specification: Embedded metric format",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
// (sections Root node, Metadata object, MetricDirective, DimensionSet, MetricDefinition, Target members).

const T = 1574109732004;
/** The specification's own valid example. */
const SPEC_EXAMPLE = {
  _aws: {
    Timestamp: T,
    CloudWatchMetrics: [
      { Namespace: 'lambda-function-metrics', Dimensions: [['functionVersion']], Metrics: [{ Name: 'time', Unit: 'Milliseconds' }] },
    ],
  },
  functionVersion: '$LATEST',
  time: 100,
  requestId: '989ffbf8-9ace-4817-a57c-e4dd734019ee',
};

/** A copy of the example to break one rule in: loosely typed, as a producer's mistakes are. */
interface Directive {
  Namespace?: unknown;
  Dimensions: unknown[];
  Metrics: { Name: string; Unit?: unknown; StorageResolution?: unknown }[];
}
type Doc = { _aws: { Timestamp?: unknown; CloudWatchMetrics: Directive[]; LogGroupName?: unknown } } & Record<string, unknown>;

function doc(change: (d: Doc) => void): string {
  const d = JSON.parse(JSON.stringify(SPEC_EXAMPLE)) as Doc;
  change(d);
  return JSON.stringify(d);
}

describe('EMF extraction (local CloudWatch Logs)', () => {
  it("extracts the specification's example: namespace, dimension set, unit; StorageResolution defaults to 60", () => {
    expect(parseEmfLine(JSON.stringify(SPEC_EXAMPLE))).toEqual({
      kind: 'metrics',
      metrics: [
        {
          namespace: 'lambda-function-metrics',
          metricName: 'time',
          dimensions: { functionVersion: '$LATEST' },
          values: [100],
          unit: 'Milliseconds',
          storageResolution: 60,
          timestamp: new Date(T),
        },
      ],
    });
  });

  it('treats a line that is not JSON, or JSON without _aws, as an ordinary log line (Root node)', () => {
    expect(parseEmfLine('listening on 8080')).toEqual({ kind: 'log' });
    expect(parseEmfLine('{"msg":"listening"}')).toEqual({ kind: 'log' });
    expect(parseEmfLine(`prefix ${JSON.stringify(SPEC_EXAMPLE)}`)).toEqual({ kind: 'log' });
  });

  it('makes one metric per dimension set, an empty set included (DimensionSet: "Every DimensionSet used creates a new metric")', () => {
    const parsed = parseEmfLine(doc((d) => (d._aws.CloudWatchMetrics[0].Dimensions = [['functionVersion'], []])));
    expect(parsed.kind === 'metrics' && parsed.metrics.map((m) => m.dimensions)).toEqual([{ functionVersion: '$LATEST' }, {}]);
  });

  it('reads an array target as several values and StorageResolution 1 as high resolution (MetricDefinition, Target members)', () => {
    const parsed = parseEmfLine(
      doc((d) => {
        d.time = [1, 2.5, 3];
        d._aws.CloudWatchMetrics[0].Metrics[0].StorageResolution = 1;
      }),
    );
    expect(parsed).toMatchObject({ kind: 'metrics', metrics: [{ values: [1, 2.5, 3], storageResolution: 1 }] });
    expect(parsed.kind === 'metrics' && emfSamples(parsed.metrics).map((s) => s.value)).toEqual([1, 2.5, 3]);
  });

  it.each([
    ['no Timestamp (Metadata object: MUST contain Timestamp)', (d: Doc) => delete d._aws.Timestamp, /Timestamp/],
    ['a Timestamp that is not milliseconds', (d: Doc) => (d._aws.Timestamp = '2025-01-01'), /Timestamp/],
    ['no CloudWatchMetrics', (d: Doc) => Reflect.deleteProperty(d._aws, 'CloudWatchMetrics'), /CloudWatchMetrics/],
    ['a dimension whose target is not a string (A dimension target MUST have a string value)', (d: Doc) => (d.functionVersion = 7), /dimension functionVersion/],
    ['a dimension with no target on the root', (d: Doc) => delete d.functionVersion, /dimension functionVersion/],
    ['more than 30 dimension keys in a set', (d: Doc) => {
      const keys = Array.from({ length: 31 }, (_, i) => `k${i}`);
      for (const k of keys) d[k] = 'v';
      d._aws.CloudWatchMetrics[0].Dimensions = [keys];
    }, /more than 30/],
    ['a metric target that is not a number (MUST be a numeric value or an array of numeric values)', (d: Doc) => (d.time = '100'), /metric time/],
    ['a nested target (Target members cannot be nested)', (d: Doc) => {
      d._aws.CloudWatchMetrics[0].Metrics[0].Name = 'a.b';
      d.a = { b: 1 };
    }, /metric a\.b/],
    ['more than 100 values (MUST NOT have more than 100 members)', (d: Doc) => (d.time = Array.from({ length: 101 }, () => 1)), /more than 100/],
    ['more than 100 metric definitions', (d: Doc) => {
      d._aws.CloudWatchMetrics[0].Metrics = Array.from({ length: 101 }, () => ({ Name: 'time' }));
    }, /more than 100/],
    ['a unit CloudWatch does not know', (d: Doc) => (d._aws.CloudWatchMetrics[0].Metrics[0].Unit = 'ms'), /Unit/],
    ['a StorageResolution other than 1 or 60', (d: Doc) => (d._aws.CloudWatchMetrics[0].Metrics[0].StorageResolution = 10), /StorageResolution/],
    ['no Namespace', (d: Doc) => delete d._aws.CloudWatchMetrics[0].Namespace, /Namespace/],
    ['no dimension set at all (Dimensions minItems 1)', (d: Doc) => (d._aws.CloudWatchMetrics[0].Dimensions = []), /DimensionSet/],
  ])('extracts nothing from a document with %s', (_, change, problem) => {
    const parsed = parseEmfLine(doc(change));
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.problems.join('; ')).toMatch(problem);
  });

  it('ignores members it does not know (Members not recognized MUST be ignored)', () => {
    const parsed = parseEmfLine(doc((d) => (d._aws.LogGroupName = 'x')));
    expect(parsed.kind).toBe('metrics');
  });
});

describe('emfTaskOutputHandler', () => {
  it("records the EMF documents a task writes to stdout in the local CloudWatch, and nothing else", () => {
    const recorded: MetricSample[] = [];
    const invalid: string[] = [];
    const handle = emfTaskOutputHandler<{ stream: 'stdout' | 'stderr'; line: string; taskId: string }>(
      { record: (s) => recorded.push(s) },
      (output, problems) => invalid.push(`${output.taskId}: ${problems.join(', ')}`),
    );

    handle({ stream: 'stdout', line: JSON.stringify(SPEC_EXAMPLE), taskId: 't1' });
    handle({ stream: 'stderr', line: JSON.stringify(SPEC_EXAMPLE), taskId: 't1' });
    handle({ stream: 'stdout', line: '{"msg":"listening"}', taskId: 't1' });
    handle({ stream: 'stdout', line: doc((d) => (d.time = 'slow')), taskId: 't2' });

    expect(recorded).toEqual([
      { namespace: 'lambda-function-metrics', metricName: 'time', dimensions: { functionVersion: '$LATEST' }, value: 100, timestamp: new Date(T) },
    ]);
    expect(invalid).toEqual([expect.stringMatching(/^t2: metric time/)]);
  });
});
