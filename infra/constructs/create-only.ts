import { type CustomResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Properties of {@link CreateOnlyResource}. */
export interface CreateOnlyResourceProps {
  /** The CloudFormation type of the custom resource: `Custom::<Name>`. */
  readonly resourceType: string;
  /**
   * The one call that creates the resource. Its `physicalResourceId` must be given, and should
   * come from the response (`PhysicalResourceId.fromResponse`): it is the resource's {@link ref},
   * the only value of the response that survives a stack update.
   */
  readonly onCreate: cr.AwsSdkCall;
  /**
   * The call that deletes the resource when the stack (or this resource) is deleted.
   * `new cr.PhysicalResourceIdReference()` in its parameters stands for the created resource's id.
   * @default - nothing is deleted: the resource outlives the stack
   */
  readonly onDelete?: cr.AwsSdkCall;
  /** Exactly what the two calls need: scope each statement to the resource it creates. */
  readonly policyStatements: readonly iam.PolicyStatement[];
  /**
   * What the provider function logs to, when this is the first custom resource of its stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A resource CloudFormation creates once and then leaves alone: a custom resource with a create
 * call and a delete call and no update call. Whatever changes in its create properties later (a
 * new task definition revision, new weights) is sent as an Update, which the provider answers
 * without calling anything, so a `cdk deploy` can never undo what runs in production after the
 * first deploy (a release's weights, counts and revisions). Deleting the stack still deletes it.
 *
 * Only {@link ref} (the physical id) may be read from it: the provider returns the response's
 * fields on Create only, so a `Fn::GetAtt` of a response field would fail on the first update.
 *
 * The provider function is CDK's one `AwsCustomResource` function per stack. The first custom
 * resource in a stack gives it a role and a log group of its own (nothing on `*`); every later one
 * adds its statements to that role.
 *
 * @example
 * const rule = new CreateOnlyResource(this, 'WeightedRule', {
 *   resourceType: 'Custom::WeightedListenerRule',
 *   onCreate: { service: 'ElasticLoadBalancingV2', action: 'CreateRule', parameters: { ... },
 *     physicalResourceId: cr.PhysicalResourceId.fromResponse('Rules.0.RuleArn') },
 *   onDelete: { service: 'ElasticLoadBalancingV2', action: 'DeleteRule',
 *     parameters: { RuleArn: new cr.PhysicalResourceIdReference() } },
 *   policyStatements: [createRule, deleteRule],
 * });
 * rule.ref; // the rule's ARN
 */
export class CreateOnlyResource extends Construct {
  /** The id of what was created (the rule's, service's or route's ARN): stable across updates. */
  readonly ref: string;
  /** The custom resource, for dependencies. */
  readonly resource: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: CreateOnlyResourceProps) {
    super(scope, id);
    if (!props.resourceType.startsWith('Custom::')) {
      throw new Error(`CreateOnlyResource ${this.node.path}: resourceType '${props.resourceType}' must start with Custom::`);
    }
    if (!props.onCreate.physicalResourceId) {
      throw new Error(
        `CreateOnlyResource ${this.node.path}: onCreate needs a physicalResourceId (PhysicalResourceId.fromResponse): ` +
          'it is the only value that can be read from the resource after an update.',
      );
    }
    if (props.policyStatements.length === 0) {
      throw new Error(`CreateOnlyResource ${this.node.path}: policyStatements must allow the create and delete calls`);
    }
    this.resource = new cr.AwsCustomResource(this, 'Resource', {
      resourceType: props.resourceType,
      onCreate: props.onCreate,
      // No onUpdate, on purpose: see the class documentation.
      onDelete: props.onDelete,
      policy: cr.AwsCustomResourcePolicy.fromStatements([...props.policyStatements]),
      // The Lambda runtime's SDK has every call used here: nothing is downloaded at deploy time.
      installLatestAwsSdk: false,
      ...providerOf(this, props.logRemovalPolicy ?? RemovalPolicy.DESTROY),
    });
    // CloudFormation's `Ref` of the custom resource is its physical id.
    this.ref = (this.resource.node.defaultChild as CustomResource).ref;
  }
}

/**
 * A role and a log group for the stack's custom resource provider, given by the first custom
 * resource of the stack only (a later one cannot change the singleton function's role).
 */
function providerOf(scope: Construct, removalPolicy: RemovalPolicy): Pick<cr.AwsCustomResourceProps, 'role' | 'logGroup'> {
  const stack = Stack.of(scope);
  const providerId = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`;
  if (stack.node.tryFindChild(providerId)) return {};
  const logGroup = new logs.LogGroup(stack, 'CreateOnlyProviderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
  const role = new iam.Role(stack, 'CreateOnlyProviderRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Custom resource provider of this stack: creates the resources releases own, once, and deletes them with the stack',
  });
  logGroup.grantWrite(role);
  return { role, logGroup };
}
