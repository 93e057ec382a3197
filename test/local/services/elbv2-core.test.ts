import { matchesHttpCode, nextHealth, REGISTERED, type HealthCheckResult, type TargetHealthState } from '../../../local/services/elbv2/health';
import { actionsInOrder, conditionsMatch, pickWeighted } from '../../../local/services/elbv2/routing';

// The pure core of the local ELBv2: health transitions (ALB user guide, "Health checks for
// Application Load Balancer target groups"), matcher codes (API reference, Matcher.HttpCode),
// weighted picks and condition matching (ALB user guide, "Listener rules", "Condition types").

const PASS: HealthCheckResult = { healthy: true };
const FAIL: HealthCheckResult = { healthy: false, reason: 'Target.Timeout', description: 'Request timed out' };
const thresholds = { healthyThreshold: 3, unhealthyThreshold: 2 };

function run(results: HealthCheckResult[], from: TargetHealthState = REGISTERED): string[] {
  const states: string[] = [];
  let state = from;
  for (const result of results) {
    state = nextHealth(state, result, thresholds);
    states.push(state.reason === undefined ? state.state : `${state.state}:${state.reason}`);
  }
  return states;
}

describe('target health transitions', () => {
  it.each([
    ['one pass makes a new target healthy ("must pass one health check")', [PASS], ['healthy']],
    ['one failure keeps a new target initial, checking', [FAIL], ['initial:Elb.InitialHealthChecking']],
    ['UnhealthyThresholdCount failures make a new target unhealthy', [FAIL, FAIL], ['initial:Elb.InitialHealthChecking', 'unhealthy:Target.Timeout']],
    ['a healthy target survives fewer failures than the threshold', [PASS, FAIL, PASS], ['healthy', 'healthy', 'healthy']],
    [
      'an unhealthy target needs HealthyThresholdCount passes in a row',
      [FAIL, FAIL, PASS, PASS, FAIL, PASS, PASS, PASS],
      [
        'initial:Elb.InitialHealthChecking',
        'unhealthy:Target.Timeout',
        'unhealthy:Target.Timeout',
        'unhealthy:Target.Timeout',
        'unhealthy:Target.Timeout',
        'unhealthy:Target.Timeout',
        'unhealthy:Target.Timeout',
        'healthy',
      ],
    ],
  ])('%s', (_name, results, expected) => {
    expect(run(results)).toEqual(expected);
  });
});

describe('Matcher.HttpCode', () => {
  it.each([
    ['200', 200, true],
    ['200', 204, false],
    ['200,202', 202, true],
    ['200-299', 299, true],
    ['200-299', 300, false],
  ])('%s matches %i: %s', (matcher, status, expected) => {
    expect(matchesHttpCode(matcher, status)).toBe(expected);
  });
});

describe('weighted pick', () => {
  const groups = [
    { targetGroupArn: 'blue', weight: 3 },
    { targetGroupArn: 'green', weight: 1 },
  ];
  it.each([
    [0, 'blue'],
    [0.74, 'blue'],
    [0.75, 'green'],
    [0.9999, 'green'],
  ])('random %f picks %s (probability weight / total)', (random, expected) => {
    expect(pickWeighted(groups, random)).toBe(expected);
  });

  it('never picks a target group of weight 0, and picks nothing when all are 0', () => {
    expect(pickWeighted([{ targetGroupArn: 'blue', weight: 0 }, { targetGroupArn: 'green', weight: 5 }], 0)).toBe('green');
    expect(pickWeighted([{ targetGroupArn: 'blue', weight: 0 }], 0.5)).toBeUndefined();
  });
});

describe('conditions', () => {
  const request = { path: '/api/v1/Colors', method: 'GET', headers: { host: 'shop.example.com', 'x-release-color': ['blue', 'green'] }, query: new URLSearchParams('debug=On') };
  it.each([
    ['path-pattern with * (case-sensitive)', { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*/Colors'] } }, true],
    ['path-pattern of another case', { Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*/colors'] } }, false],
    ['path-pattern with ?', { Field: 'path-pattern', Values: ['/api/v?/Colors'] }, true],
    ['host-header (case-insensitive)', { Field: 'host-header', HostHeaderConfig: { Values: ['*.EXAMPLE.com'] } }, true],
    ['http-header, any of its values', { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Release-Color', Values: ['GREEN'] } }, true],
    ['http-header not sent', { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-other', Values: ['*'] } }, false],
    ['http-request-method', { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST', 'GET'] } }, true],
    ['query-string (case-insensitive)', { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'debug', Value: 'on' }] } }, true],
    ['source-ip without a client address', { Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8'] } }, false],
  ])('%s', (_name, condition, expected) => {
    expect(conditionsMatch([condition], request)).toBe(expected);
  });

  it('needs every condition of a rule to match', () => {
    const path = { Field: 'path-pattern', Values: ['/api/*'] };
    const otherHost = { Field: 'host-header', Values: ['admin.example.com'] };
    expect(conditionsMatch([path], request)).toBe(true);
    expect(conditionsMatch([path, otherHost], request)).toBe(false);
  });
});

describe('action order', () => {
  it('performs actions by Order, lowest first', () => {
    const ordered = actionsInOrder([
      { Type: 'forward', Order: 5 },
      { Type: 'authenticate-oidc', Order: 1 },
    ]);
    expect(ordered.map((a) => a.Type)).toEqual(['authenticate-oidc', 'forward']);
  });
});
