import { Fn, Token } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { z } from 'zod';
import { loadBalancerDimension, targetGroupDimension } from '../../lambdas/shared/alb-metrics';
import type { Colour } from '../../lambdas/shared/colours';
import { AlbTrafficSchema } from '../../lambdas/shared/config';

/** The `traffic` section of an ALB service configuration, as the handlers read it. */
export type AlbTrafficConfig = z.input<typeof AlbTrafficSchema>;

/**
 * Checks an ALB traffic section written at synth time with the handlers' own schema
 * (`AlbTrafficSchema`), as far as synth time can know it. ARNs that are CloudFormation tokens are
 * only known at deploy time, so each distinct token stands in as a placeholder ARN of the right
 * shape (the same token twice is the same placeholder, so a target group given for both colours
 * is still caught), placed on the listener the literal ARNs name. What can be checked is then
 * checked exactly as the handlers will: literal ARN formats, a rule of another listener, one
 * target group for both colours, a test rule that is the weighted rule.
 *
 * @returns the problems, each `path: message`, with placeholders named back as deploy-time values;
 *   empty when the section is valid as far as synth time can tell.
 */
export function albTrafficProblemsAtSynth(traffic: AlbTrafficConfig): string[] {
  const placeholders = new Map<string, string>();
  const described = new Map<string, string>();
  const stand = (token: string, placeholder: (n: number) => string, what: string): string => {
    const known = placeholders.get(token);
    if (known) return known;
    const value = placeholder(placeholders.size);
    placeholders.set(token, value);
    described.set(value, `<${what} known at deploy time>`);
    return value;
  };
  const literal = (arn: string) => !Token.isUnresolved(arn);

  // The listener: its own ARN, else the one a literal rule ARN names, else a placeholder.
  const literalRules = [traffic.rule, traffic.testRules?.blue, traffic.testRules?.green].filter(
    (arn): arn is string => arn !== undefined && arn !== 'listener-default' && literal(arn),
  );
  const listenerArn = literal(traffic.listenerArn)
    ? traffic.listenerArn
    : stand(
        traffic.listenerArn,
        () =>
          literalRules.length > 0
            ? literalRules[0].replace(':listener-rule/', ':listener/').replace(/\/[^/]*$/, '')
            : 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/deploy-time/0000000000000000/0000000000000000',
        'listener ARN',
      );
  const rule = (arn: string) =>
    literal(arn) ? arn : stand(arn, (n) => `${listenerArn.replace(':listener/', ':listener-rule/')}/deploy-time-${n}`, 'rule ARN');
  const targetGroup = (arn: string) =>
    literal(arn)
      ? arn
      : stand(arn, (n) => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/deploy-time-${n}/0000000000000000`, 'target group ARN');

  const atSynth = {
    ...traffic,
    listenerArn,
    rule: traffic.rule === 'listener-default' ? traffic.rule : rule(traffic.rule),
    targetGroups: { blue: targetGroup(traffic.targetGroups.blue), green: targetGroup(traffic.targetGroups.green) },
    ...(traffic.testRules ? { testRules: { blue: rule(traffic.testRules.blue), green: rule(traffic.testRules.green) } } : {}),
  };
  const parsed = AlbTrafficSchema.safeParse(atSynth);
  if (parsed.success) return [];
  const nameBack = (message: string) => [...described].reduce((m, [value, what]) => m.split(value).join(what), message);
  return parsed.error.issues.map((issue) => `${issue.path.join('.') || 'traffic'}: ${nameBack(issue.message)}`);
}

/**
 * The `LoadBalancer` dimension value (`app/<name>/<id>`) of the load balancer a listener belongs
 * to: the load balancer's own `LoadBalancerFullName` attribute when the app created it, else cut
 * from the listener's ARN (`...:listener/app/<name>/<id>/<listener-id>`), at synth time when the
 * ARN is literal, with `Fn::Split`/`Fn::Select` when it is only known at deploy time.
 */
export function loadBalancerFullNameOf(listenerArn: string, loadBalancer?: elbv2.IApplicationLoadBalancer): string {
  if (loadBalancer instanceof elbv2.ApplicationLoadBalancer) return loadBalancer.loadBalancerFullName;
  if (!Token.isUnresolved(listenerArn)) return loadBalancerDimension(listenerArn);
  const parts = Fn.split('/', listenerArn);
  return Fn.join('/', [Fn.select(1, parts), Fn.select(2, parts), Fn.select(3, parts)]);
}

/**
 * The `TargetGroup` dimension value (`targetgroup/<name>/<id>`) of a target group: its own
 * `TargetGroupFullName` attribute when the app created it, else cut from its ARN
 * (`...:targetgroup/<name>/<id>`, the sixth `:`-separated part).
 */
export function targetGroupFullNameOf(targetGroup: elbv2.IApplicationTargetGroup): string {
  if (targetGroup instanceof elbv2.ApplicationTargetGroup) return targetGroup.targetGroupFullName;
  const arn = targetGroup.targetGroupArn;
  if (!Token.isUnresolved(arn)) return targetGroupDimension(arn);
  return Fn.select(5, Fn.split(':', arn));
}

/** The dimension values of one backend's `AWS/ApplicationELB` metrics: the load balancer, and a target group per colour. */
export interface LoadBalancerMetricDimensions {
  /** `LoadBalancer` dimension value: `app/<name>/<id>`. */
  readonly loadBalancer: string;
  /** `TargetGroup` dimension value per colour: `targetgroup/<name>/<id>`. */
  readonly targetGroups: Readonly<Record<Colour, string>>;
}
