import type {
  Action,
  DescribeListenersCommandOutput,
  DescribeRulesCommandOutput,
  DescribeTargetHealthCommandOutput,
  Rule,
  TargetHealthReasonEnum,
  TargetHealthStateEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Colour } from '../../lambdas/shared/colours';
import type { AlbTrafficConfig } from '../../lambdas/shared/traffic/alb-router';

/**
 * Fixtures for ALB router tests: colorapp's listener, its weighted rule, one test rule and one
 * target group per colour. ARNs are spelled as AWS spells them (the service authorization
 * reference's resource types; the IDs are from the ELB API reference's examples).
 */

const PREFIX = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333';
const LB = 'app/colorapp/50dc6c495c0c9188';
const LISTENER_ID = 'f2f7dc8efc522ab2';

export const LISTENER_ARN = `${PREFIX}:listener/${LB}/${LISTENER_ID}`;
/** The rule whose forward the release weights. */
export const RULE_ARN = `${PREFIX}:listener-rule/${LB}/${LISTENER_ID}/9683b2d02a6cabee`;
/** The listener's default rule: its actions are the listener's DefaultActions. */
export const DEFAULT_RULE_ARN = `${PREFIX}:listener-rule/${LB}/${LISTENER_ID}/0aa1bb2cc3dd4ee5`;
export const TEST_RULE_ARNS: Record<Colour, string> = {
  blue: `${PREFIX}:listener-rule/${LB}/${LISTENER_ID}/1b1b1b1b1b1b1b1b`,
  green: `${PREFIX}:listener-rule/${LB}/${LISTENER_ID}/2c2c2c2c2c2c2c2c`,
};
export const TARGET_GROUP_ARNS: Record<Colour, string> = {
  blue: `${PREFIX}:targetgroup/colorapp-blue/73e2d6bc24d8a067`,
  green: `${PREFIX}:targetgroup/colorapp-green/8d4e1c1f0a2b3c4d`,
};
/** A target group that is neither colour's. */
export const OTHER_TARGET_GROUP_ARN = `${PREFIX}:targetgroup/colorapp-debug/9f9f9f9f9f9f9f9f`;

/** ALB traffic over the weighted rule, with test rules. */
export const albConfig: AlbTrafficConfig = {
  kind: 'alb',
  listenerArn: LISTENER_ARN,
  rule: RULE_ARN,
  targetGroups: { ...TARGET_GROUP_ARNS },
  testRules: { ...TEST_RULE_ARNS },
};

/**
 * An authenticate-oidc action performed before the forward (Order 1), as Describe reports it:
 * every field, but never the client secret. `asSent` adds what a modify must say to keep the
 * secret ELB holds (`UseExistingClientSecret: true`).
 */
export function oidcAction(asSent = false): Action {
  return {
    Type: 'authenticate-oidc',
    Order: 1,
    AuthenticateOidcConfig: {
      Issuer: 'https://idp.example.com',
      AuthorizationEndpoint: 'https://idp.example.com/authorize',
      TokenEndpoint: 'https://idp.example.com/token',
      UserInfoEndpoint: 'https://idp.example.com/userinfo',
      ClientId: 'colorapp',
      SessionCookieName: 'AWSELBAuthSessionCookie',
      Scope: 'openid email',
      SessionTimeout: 3600,
      AuthenticationRequestExtraParams: { prompt: 'login' },
      OnUnauthenticatedRequest: 'authenticate',
      ...(asSent ? { UseExistingClientSecret: true } : {}),
    },
  };
}

/**
 * A forward to the given target groups with the given weights, in that order, with
 * target-group stickiness on and Order 2 (after {@link oidcAction}).
 */
export function weightedForward(groups: ReadonlyArray<readonly [string, number | undefined]>, order = 2): Action {
  return {
    Type: 'forward',
    Order: order,
    ForwardConfig: {
      TargetGroups: groups.map(([TargetGroupArn, Weight]) => (Weight === undefined ? { TargetGroupArn } : { TargetGroupArn, Weight })),
      TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 },
    },
  };
}

/**
 * The production rule's actions: sign in first, then the weighted forward blue, green. As
 * described unless `asSent` (what a modify sends back, see {@link oidcAction}).
 */
export function productionActions(blue: number, green: number, asSent = false): Action[] {
  return [
    oidcAction(asSent),
    weightedForward([
      [TARGET_GROUP_ARNS.blue, blue],
      [TARGET_GROUP_ARNS.green, green],
    ]),
  ];
}

/** A rule with a header condition and a priority, so a test notices if an update sends them. */
export function rule(actions: Action[], overrides: Partial<Rule> = {}): Rule {
  return {
    RuleArn: RULE_ARN,
    Priority: '10',
    Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] }, Values: ['/*'] }],
    Actions: actions,
    IsDefault: false,
    ...overrides,
  };
}

/** A DescribeRules response with these rules. */
export function describeRulesOutput(...rules: Rule[]): DescribeRulesCommandOutput {
  return { $metadata: {}, Rules: rules };
}

/** A DescribeListeners response for the listener with these default actions. */
export function describeListenersOutput(defaultActions: Action[]): DescribeListenersCommandOutput {
  return {
    $metadata: {},
    Listeners: [
      {
        ListenerArn: LISTENER_ARN,
        LoadBalancerArn: `${PREFIX}:loadbalancer/${LB}`,
        Port: 443,
        Protocol: 'HTTPS',
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        Certificates: [{ CertificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/abc' }],
        DefaultActions: defaultActions,
      },
    ],
  };
}

/** The test rule of `colour`: a header condition, a forward to `forwardTo` only. */
export function testRule(colour: Colour, forwardTo: string[] = [TARGET_GROUP_ARNS[colour]]): Rule {
  return {
    RuleArn: TEST_RULE_ARNS[colour],
    Priority: colour === 'blue' ? '1' : '2',
    Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-release-color', Values: [colour] } }],
    Actions: [
      forwardTo.length === 1
        ? { Type: 'forward', TargetGroupArn: forwardTo[0], ForwardConfig: { TargetGroups: [{ TargetGroupArn: forwardTo[0], Weight: 1 }] } }
        : weightedForward(forwardTo.map((arn) => [arn, 1] as const), 1),
    ],
    IsDefault: false,
  };
}

/** A DescribeTargetHealth response with one target per entry: its state and reason code. */
export function targetHealthOutput(
  targets: ReadonlyArray<readonly [TargetHealthStateEnum, TargetHealthReasonEnum?]>,
): DescribeTargetHealthCommandOutput {
  return {
    $metadata: {},
    TargetHealthDescriptions: targets.map(([State, Reason], index) => ({
      Target: { Id: `10.0.1.${10 + index}`, Port: 8080, AvailabilityZone: 'eu-west-1a' },
      HealthCheckPort: '8080',
      TargetHealth: Reason === undefined ? { State } : { State, Reason, Description: `reason ${Reason}` },
    })),
  };
}

/** An ELB error as the SDK throws it: the exception's name, e.g. `RuleNotFoundException`. */
export function elbError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: {} });
}
