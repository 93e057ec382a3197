import { cloudWatchAgentConfig } from '../../../infra/envoy-telemetry';
import {
  colourDimensionsMap,
  CONTRACT_DIMENSION_SETS,
  ENVOY_METRICS,
  ENVOY_STATSD_NAMES,
} from '../../../lambdas/shared/envoy-metrics';
import { agentStatsdSettingsOf, cloudWatchAgentSeries } from '../../../local/gateway/cloudwatch-agent';

// Every rule cites aws/amazon-cloudwatch-agent at ab55b8daa204e95c42c0267ee5aa49ec3b3a7317.
const INGRESS_GREEN = { Service: 'colorapp', Color: 'green', 'envoy.http_conn_manager_prefix': 'ingress' };

describe("the CloudWatch agent's StatsD transform", () => {
  it('joins the parts of the name with "_" when metric_separator is not set (plugins/inputs/statsd/statsd.go line 32, graphite/parser.go lines 61 and 347)', () => {
    const [series] = cloudWatchAgentSeries({ name: 'envoy.http.downstream_rq_xx', type: 'c', tags: {} });
    expect(series.metricName).toBe('envoy_http_downstream_rq_xx');
  });

  it('joins them with the configured metric_separator (translator/translate/metrics/metrics_collect/statsd/ruleMetricSeparator.go)', () => {
    const [series] = cloudWatchAgentSeries({ name: 'envoy.http.downstream_rq_xx', type: 'c', tags: {} }, { metricSeparator: '.' });
    expect(series.metricName).toBe('envoy.http.downstream_rq_xx');
  });

  it('keeps DogStatsD tag keys verbatim, dots included, and adds metric_type (statsd.go lines 302-335 and 424-439)', () => {
    const [counter] = cloudWatchAgentSeries({ name: 'a.b', type: 'c', tags: { 'envoy.response_code_class': '5', flag: '' } });
    expect(counter.dimensions).toStrictEqual({ 'envoy.response_code_class': '5', flag: '<empty>', metric_type: 'counter' });
    const [timing] = cloudWatchAgentSeries({ name: 'a.b', type: 'ms', tags: {} });
    expect(timing.dimensions).toStrictEqual({ metric_type: 'timing' });
  });

  it('lets a DogStatsD tag override metric_type, and reads ",k=v" tags from the bucket (statsd.go parseName line 461, line 439)', () => {
    const [series] = cloudWatchAgentSeries({ name: 'a.b,region=eu', type: 'g', tags: { metric_type: 'custom' } });
    expect(series).toStrictEqual({ metricName: 'a_b', dimensions: { metric_type: 'custom', region: 'eu' } });
  });

  it('publishes the full set, then each aggregation set smaller than it whose keys the sample has (plugins/outputs/cloudwatch/cloudwatch.go ProcessRollup line 637)', () => {
    const series = cloudWatchAgentSeries(
      { name: 'x', type: 'c', tags: { A: '1', B: '2' } },
      { aggregationDimensions: [['B', 'A'], ['A', 'B', 'metric_type'], ['A', 'C'], ['A'], ['A'], []] },
    );
    expect(series.map((s) => s.dimensions)).toStrictEqual([
      { A: '1', B: '2', metric_type: 'counter' },
      { A: '1', B: '2' },
      // ['A', 'B', 'metric_type'] is as large as the full set: skipped. ['A', 'C']: no C. ['A'] once (GetUniqueRollupList line 672).
      { A: '1' },
      {},
    ]);
  });

  it('keeps at most 30 dimensions, host first (BuildDimensions line 603)', () => {
    const tags = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${String(i).padStart(2, '0')}`, 'v']));
    const [series] = cloudWatchAgentSeries({ name: 'x', type: 'c', tags: { ...tags, host: 'h' } });
    const keys = Object.keys(series.dimensions);
    expect(keys).toHaveLength(30);
    expect(keys[0]).toBe('host');
  });
});

describe('the Envoy metric contract against the agent', () => {
  const agent = agentStatsdSettingsOf(cloudWatchAgentConfig('ECSRelease/Envoy'));

  it('names the metrics exactly as the agent publishes what Envoy sends', () => {
    expect(cloudWatchAgentSeries({ name: ENVOY_STATSD_NAMES.responsesByClass, type: 'c', tags: {} }, agent)[0].metricName).toBe(
      ENVOY_METRICS.responsesByClass,
    );
    expect(cloudWatchAgentSeries({ name: ENVOY_STATSD_NAMES.requestTime, type: 'ms', tags: {} }, agent)[0].metricName).toBe(
      ENVOY_METRICS.requestTime,
    );
    // The names the issue found queried (`envoy.http.downstream_rq_xx`) never reach CloudWatch.
    expect(ENVOY_METRICS.responsesByClass).not.toContain('.');
  });

  it('publishes the series the health check and the alarms read, for responses and for request time', () => {
    const responses = cloudWatchAgentSeries(
      { name: ENVOY_STATSD_NAMES.responsesByClass, type: 'c', tags: { ...INGRESS_GREEN, [ENVOY_METRICS.responseClassDimension]: '5' } },
      agent,
    ).map((s) => s.dimensions);
    expect(responses).toContainEqual({ ...colourDimensionsMap('colorapp', 'green'), [ENVOY_METRICS.responseClassDimension]: '5' });
    const time = cloudWatchAgentSeries({ name: ENVOY_STATSD_NAMES.requestTime, type: 'ms', tags: INGRESS_GREEN }, agent).map((s) => s.dimensions);
    expect(time).toContainEqual(colourDimensionsMap('colorapp', 'green'));
    expect(agent.aggregationDimensions).toEqual(CONTRACT_DIMENSION_SETS);
  });
});
