import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { CreateOnlyResource, type CreateOnlyResourceProps } from '../../infra/constructs/create-only';

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;

const RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/lb/1/2/*';
const LISTENER_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/lb/1/2';

function ruleProps(overrides: Partial<CreateOnlyResourceProps> = {}): CreateOnlyResourceProps {
  return {
    resourceType: 'Custom::WeightedListenerRule',
    onCreate: {
      service: 'ElasticLoadBalancingV2',
      action: 'CreateRule',
      parameters: { ListenerArn: LISTENER_ARN, Priority: 10 },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('Rules.0.RuleArn'),
    },
    onDelete: {
      service: 'ElasticLoadBalancingV2',
      action: 'DeleteRule',
      parameters: { RuleArn: new cr.PhysicalResourceIdReference() },
    },
    policyStatements: [
      new iam.PolicyStatement({ actions: ['elasticloadbalancing:CreateRule'], resources: [LISTENER_ARN] }),
      new iam.PolicyStatement({ actions: ['elasticloadbalancing:DeleteRule'], resources: [RULE_ARN] }),
    ],
    ...overrides,
  };
}

function synth(build: (stack: Stack) => void): { stack: Stack; template: Cfn } {
  const stack = new Stack(new App(), 'Test');
  build(stack);
  return { stack, template: Template.fromStack(stack).toJSON() };
}

const ofType = (template: Cfn, type: string): Array<[string, Cfn]> =>
  Object.entries(template.Resources as Record<string, Cfn>).filter(([, r]) => r.Type === type);

describe('CreateOnlyResource', () => {
  const { stack, template } = synth((s) => {
    const rule = new CreateOnlyResource(s, 'Rule', ruleProps());
    new CreateOnlyResource(s, 'Other', ruleProps({ resourceType: 'Custom::Other' }));
    s.exportValue(rule.ref, { name: 'RuleArn' });
  });
  const [[ruleId, rule]] = ofType(template, 'Custom::WeightedListenerRule');

  it('makes the create call on Create and the delete call on Delete, and has no Update call at all', () => {
    // The provider calls ResourceProperties[RequestType]: with no Update, an update calls nothing.
    expect(Object.keys(rule.Properties).sort()).toEqual(['Create', 'Delete', 'InstallLatestAwsSdk', 'ServiceToken']);
    expect(JSON.parse(rule.Properties.Create)).toEqual({
      service: 'ElasticLoadBalancingV2',
      action: 'CreateRule',
      parameters: { ListenerArn: LISTENER_ARN, Priority: 10 },
      physicalResourceId: { responsePath: 'Rules.0.RuleArn' },
    });
    expect(JSON.parse(rule.Properties.Delete)).toEqual({
      service: 'ElasticLoadBalancingV2',
      action: 'DeleteRule',
      parameters: { RuleArn: 'PHYSICAL:RESOURCEID:' },
    });
    expect(rule.Properties.InstallLatestAwsSdk).toBe(false);
  });

  it('is read through its physical id (Ref), never a response field that an update would not return', () => {
    expect(template.Outputs.ExportRuleArn.Value).toEqual({ Ref: ruleId });
  });

  it('allows the provider exactly the statements given, and waits for them', () => {
    const policy = ofType(template, 'AWS::IAM::Policy').find(([id]) => rule.DependsOn.includes(id))!;
    expect(policy[1].Properties.PolicyDocument.Statement).toEqual([
      { Action: 'elasticloadbalancing:CreateRule', Effect: 'Allow', Resource: LISTENER_ARN },
      { Action: 'elasticloadbalancing:DeleteRule', Effect: 'Allow', Resource: RULE_ARN },
    ]);
  });

  it('gives the stack\'s one provider function its own role and log group, once, however many resources use it', () => {
    expect(ofType(template, 'AWS::Lambda::Function')).toHaveLength(1);
    const [, provider] = ofType(template, 'AWS::Lambda::Function')[0];
    const role = stack.node.findChild('CreateOnlyProviderRole') as iam.Role;
    expect(provider.Properties.Role).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(role.node.defaultChild as never), 'Arn'] });
    expect(provider.Properties.LoggingConfig.LogGroup).toBeDefined();
    expect(ofType(template, 'AWS::IAM::Role')).toHaveLength(1);
    expect(ofType(template, 'AWS::IAM::Role')[0][1].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('refuses a create call without a physical id, a type outside Custom::, and no statements', () => {
    const stackFor = () => new Stack(new App(), 'Bad');
    const withoutId = { ...ruleProps().onCreate, physicalResourceId: undefined };
    expect(() => new CreateOnlyResource(stackFor(), 'R', ruleProps({ onCreate: withoutId }))).toThrow(/onCreate needs a physicalResourceId/);
    expect(() => new CreateOnlyResource(stackFor(), 'R', ruleProps({ resourceType: 'AWS::X' }))).toThrow(/must start with Custom::/);
    expect(() => new CreateOnlyResource(stackFor(), 'R', ruleProps({ policyStatements: [] }))).toThrow(/policyStatements/);
  });
});

/**
 * CDK's own provider handler (the code the custom resource runs), driven with the Update event
 * CloudFormation sends when the create properties change: it must call nothing and answer
 * SUCCESS with the physical id unchanged, so CloudFormation neither touches nor replaces what
 * was created. Its response goes to the pre-signed ResponseURL over https, captured here.
 */
describe('the provider, on an update of a create-only resource', () => {
  // Not in aws-cdk-lib's package exports: required by path.
  const HANDLER = path.join(
    path.dirname(require.resolve('aws-cdk-lib/package.json')),
    'custom-resource-handlers/dist/custom-resources/aws-custom-resource-handler/index.js',
  );

  it('calls no AWS API and keeps the physical id, whatever the new create properties say', async () => {
    const { template } = synth((s) => void new CreateOnlyResource(s, 'Rule', ruleProps()));
    const [[logicalId, rule]] = ofType(template, 'Custom::WeightedListenerRule');
    const bodies: string[] = [];
    jest.resetModules();
    jest.doMock('https', () => ({
      request: (_options: unknown, callback: (res: { on: () => void }) => void) => ({
        on: () => undefined,
        write: (body: string) => bodies.push(body),
        end: () => callback({ on: () => undefined }),
      }),
    }));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require(HANDLER) as { handler: (event: unknown, context: unknown) => Promise<void> };
      const changed = JSON.parse(rule.Properties.Create);
      changed.parameters.Priority = 99;
      await handler(
        {
          RequestType: 'Update',
          ResponseURL: 'https://cloudformation-custom-resource-response.example/response',
          StackId: 'stack',
          RequestId: 'request',
          LogicalResourceId: logicalId,
          PhysicalResourceId: RULE_ARN,
          ResourceType: rule.Type,
          ResourceProperties: { ...rule.Properties, Create: JSON.stringify(changed) },
          OldResourceProperties: rule.Properties,
        },
        { logStreamName: 'log' },
      );
    } finally {
      log.mockRestore();
      jest.dontMock('https');
    }
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0])).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: RULE_ARN, Data: {} });
  });
});
