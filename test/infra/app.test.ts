import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { ServiceConfigSchema } from '../../lambdas/shared/config';
import { parameterNames, ReleaseStateSchema } from '../../lambdas/shared/documents';
import { SEED_UPDATED_AT } from '../../lambdas/shared/release-state';
import { ALB_METRICS } from '../../lambdas/shared/alb-metrics';
import { ReleaseRequestSchema } from '../../lambdas/shared/release';
import {
  API_HANDLERS,
  EVENT_HANDLERS,
  kebabCase,
  type ReleaseHandlerSpec,
  STEP_HANDLERS,
} from '../../infra/constructs/release-handlers';
import { definitionPlaceholders, RELEASE_DEFINITION_FILE } from '../../infra/constructs/release-pipeline';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../../infra/release-event-schema';
import { CLEANUP_EXECUTION_STATUSES } from '../../infra/release-rules';
import { alarmDefinitionsOf, COLORAPP, serviceConfigOf, settingsForTraffic } from '../../infra/colorapp-settings';
import { sampleServicesOf } from '../../infra/app';
import { App } from 'aws-cdk-lib';
import { matchesEventPattern } from '../../local/bus';
import type { BusEvent } from '../../local/contracts';
import { dashboardNameOf } from '../../lambdas/shared/console-links';
import { TRAFFIC_WEIGHT_METRIC } from '../../lambdas/shared/weight-metric';
import { RELEASE_STEP_LOG_MESSAGES } from '../../infra/constructs/release-dashboard';
import { alarmMetrics, dashboardBody, graph, graphExpressions, graphMetrics, withoutId } from './support/dashboard';
import { SdkCallScanner } from './support/sdk-calls';
import { flattenIntrinsics, newApp, PROJECT_ROOT, resolveNames, synthesizeSampleApp, type TemplateJson } from './support/synth';

/**
 * The sample app exactly as `npm run synth` builds it: real bundling of every handler, cdk-nag
 * on. Synthesized once for the whole file (about 20 s on two cores).
 */
let synth: ReturnType<typeof synthesizeSampleApp>;
let release: Template;
let service: Template;

beforeAll(() => {
  synth = synthesizeSampleApp({ bundle: true, validate: true });
  release = synth.releaseTemplate;
  service = synth.serviceTemplate;
}, 240_000);

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;
type Resource = { Type: string; Properties: Record<string, Cfn>; DependsOn?: string[]; DeletionPolicy?: string };
const resources = (template: Template, type?: string): Array<[string, Resource]> =>
  Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, r]) => !type || r.Type === type);
const logicalId = (construct: IConstruct) => Stack.of(construct).getLogicalId(construct.node.defaultChild as never);
const stateMachineRef = () => ({ Ref: logicalId(synth.release.pipeline.stateMachine) });

/** Every handler the pipeline creates: construct id → spec. */
const HANDLERS: Record<string, ReleaseHandlerSpec> = {
  ...STEP_HANDLERS,
  ...Object.fromEntries(Object.entries(EVENT_HANDLERS).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v])),
  ...Object.fromEntries(Object.entries(API_HANDLERS).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v])),
};

/** Inline and managed policies: an engine packs each handler's per-service grants into managed policies of its role. */
function rolePolicies(template: Template): Array<[string, Cfn]> {
  return [...resources(template, 'AWS::IAM::Policy'), ...resources(template, 'AWS::IAM::ManagedPolicy')];
}

describe('cdk-nag (AwsSolutions)', () => {
  it('synthesizes with no unacknowledged finding (a finding would have made app.synth() throw)', () => {
    expect(synth.assembly.stacks.map((s) => s.stackName).sort()).toEqual(['ColorappRelease', 'ColorappService']);
  });

  it('gives every acknowledgement a specific id and a real reason', () => {
    const acknowledgements: Array<{ path: string; id: string; reason: string }> = [];
    const visit = (construct: IConstruct) => {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
          const reason = typeof value === 'string' ? value : String((value as { reason?: string }).reason ?? '');
          acknowledgements.push({ path: construct.node.path, id, reason });
        }
      }
      construct.node.children.forEach(visit);
    };
    visit(synth.app);
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const { path: at, id, reason } of acknowledgements) {
      // No blanket suppression of the wildcard rule: each IAM5 finding is acknowledged by itself.
      expect({ at, id, blanket: id.replace(/^AwsSolutions::/, '') === 'AwsSolutions-IAM5' }).toEqual({ at, id, blanket: false });
      expect({ at, id, reasonLength: reason.length >= 50 }).toEqual({ at, id, reasonLength: true });
    }
  });
});

describe('the release state machine', () => {
  it('has every placeholder of statemachines/release.asl.json substituted', () => {
    const [, machine] = resources(release, 'AWS::StepFunctions::StateMachine').find(([, r]) =>
      String(r.Properties.StateMachineName).startsWith('ecs-release-'),
    )!;
    const placeholders = definitionPlaceholders(readFileSync(RELEASE_DEFINITION_FILE, 'utf8'));
    expect(placeholders.length).toBeGreaterThan(0);
    expect(Object.keys(machine.Properties.DefinitionSubstitutions)).toEqual(expect.arrayContaining(placeholders));
    // What CloudFormation does with the substitutions, done here: nothing may be left over.
    let definition = machine.Properties.DefinitionString as string;
    for (const [key, value] of Object.entries(machine.Properties.DefinitionSubstitutions)) {
      definition = definition.split(`\${${key}}`).join(JSON.stringify(flattenIntrinsics(value)).slice(1, -1));
    }
    expect(definition).not.toContain('${');
    expect(() => JSON.parse(definition)).not.toThrow();
  });

  it('maps every <Name>FunctionArn placeholder to lambdas/<kebab-case name>.ts exporting handler', () => {
    const names = definitionPlaceholders(readFileSync(RELEASE_DEFINITION_FILE, 'utf8'))
      .map((p) => /^(\w+)FunctionArn$/.exec(p)?.[1])
      .filter((n): n is string => n !== undefined);
    for (const name of names) {
      expect(STEP_HANDLERS[name]?.entry).toBe(`${kebabCase(name)}.ts`);
      const source = readFileSync(path.join(PROJECT_ROOT, 'lambdas', `${kebabCase(name)}.ts`), 'utf8');
      expect(source).toMatch(/export (async )?function handler\b|export const handler\b/);
    }
  });

  it('logs ALL to its own log group without execution data (no task token in the log), and traces with X-Ray', () => {
    release.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'ecs-release-colorapp',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('may invoke exactly its step functions, by unqualified ARN', () => {
    const role = synth.release.pipeline.stateMachine.role;
    const [, policy] = resources(release, 'AWS::IAM::Policy').find(([, p]) =>
      (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)),
    )!;
    const invoke = (policy.Properties.PolicyDocument.Statement as Cfn[]).find((s) => s.Action === 'lambda:InvokeFunction');
    const expected = Object.keys(STEP_HANDLERS).map((id) => ({
      'Fn::GetAtt': [logicalId(synth.release.pipeline.node.findChild(id)), 'Arn'],
    }));
    expect(invoke.Resource).toEqual(expect.arrayContaining(expected));
    expect(invoke.Resource).toHaveLength(expected.length);
  });

  it('may PutEvents on the default event bus only, and sends its step events there as ecs-release', () => {
    const role = synth.release.pipeline.stateMachine.role;
    const statements = resources(release, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
    const list = (value: unknown) => (Array.isArray(value) ? value : [value]);
    const putEvents = statements.filter((s) => list(s.Action).some((a: string) => a.startsWith('events:')));
    expect(putEvents).toHaveLength(1);
    expect(putEvents[0]).toMatchObject({ Effect: 'Allow', Action: 'events:PutEvents' });
    expect(putEvents[0].Condition).toBeUndefined();
    expect(list(putEvents[0].Resource).map((r) => String(flattenIntrinsics(r)))).toEqual([
      'arn:<Ref:AWS::Partition>:events:<Ref:AWS::Region>:<Ref:AWS::AccountId>:event-bus/default',
    ]);

    // The definition as CloudFormation substitutes it: every PutEvents entry names that bus and the source.
    const [, machine] = resources(release, 'AWS::StepFunctions::StateMachine').find(([, r]) =>
      String(r.Properties.StateMachineName).startsWith('ecs-release-'),
    )!;
    let text = machine.Properties.DefinitionString as string;
    for (const [key, value] of Object.entries(machine.Properties.DefinitionSubstitutions)) {
      text = text.split(`\${${key}}`).join(JSON.stringify(flattenIntrinsics(value)).slice(1, -1));
    }
    expect(text).not.toContain('${');
    const entries = Object.values(JSON.parse(text).States as Record<string, Cfn>)
      .filter((state) => state.Resource === 'arn:aws:states:::events:putEvents')
      .flatMap((state) => state.Parameters.Entries as Cfn[]);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(entry).toMatchObject({ EventBusName: 'default', Source: RELEASE_EVENT_SOURCE, DetailType: RELEASE_EVENT_TYPES.stepPassed });
    }
  });
});

describe('handlers', () => {
  const functions = () => resources(release, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Colorapp'));

  it('run on a current Node runtime, arm64, with source maps and a Powertools service name', () => {
    const handlerFunctions = functions().filter(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME);
    expect(handlerFunctions).toHaveLength(Object.keys(HANDLERS).length);
    for (const [, fn] of handlerFunctions) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
  });

  it('stop before the state machine task that calls them times out', () => {
    const definition = JSON.parse(readFileSync(RELEASE_DEFINITION_FILE, 'utf8'));
    const tasks: Array<{ placeholder: string; timeout?: number }> = [];
    const walk = (states: Record<string, Cfn>) => {
      for (const state of Object.values(states)) {
        const ref = String(state.Parameters?.FunctionName ?? state.Resource ?? '');
        const m = /\$\{(\w+)FunctionArn\}/.exec(ref);
        if (state.Type === 'Task' && m) tasks.push({ placeholder: m[1], timeout: state.TimeoutSeconds });
        for (const branch of state.Branches ?? []) walk(branch.States);
        if (state.ItemProcessor) walk(state.ItemProcessor.States);
      }
    };
    walk(definition.States);
    for (const { placeholder, timeout } of tasks) {
      if (timeout === undefined) continue; // waitForTaskToken tasks time out on the gate, not the function
      expect({ placeholder, fits: STEP_HANDLERS[placeholder].timeout.toSeconds() < timeout }).toEqual({ placeholder, fits: true });
    }
  });

  it('bundle each handler with its own pinned AWS SDK (no require of the runtime\'s), minified under 1 MB', () => {
    const manifest = JSON.parse(readFileSync(path.join(synth.assembly.directory, 'ColorappRelease.assets.json'), 'utf8'));
    // The handlers' code, not CDK's own custom resource provider (the initial release state's).
    const handlerAssets = new Set(functions().map(([, f]) => String(f.Properties.Code?.S3Key).replace(/\.zip$/, '')));
    const sizes = Object.entries(manifest.files as Record<string, { source: { path: string } }>)
      .filter(([hash]) => handlerAssets.has(hash))
      .map(([, f]) => path.join(synth.assembly.directory, f.source.path, 'index.js'))
      .filter((file) => {
        try {
          return statSync(file).isFile();
        } catch {
          return false;
        }
      })
      .map((file) => ({ file, size: statSync(file).size, requiresRuntimeSdk: /require\(["']@aws-sdk\/client-/.test(readFileSync(file, 'utf8')) }));
    expect(sizes).toHaveLength(Object.keys(HANDLERS).length);
    for (const { file, size, requiresRuntimeSdk } of sizes) {
      // The SDK clients package-lock.json pins, not the runtime's (whose models may be older). The
      // SDK's optional SigV4a signers stay lazy requires, as in any bundle.
      expect({ file, requiresRuntimeSdk }).toEqual({ file, requiresRuntimeSdk: false });
      // Small bundles start fast, and cold starts are part of rollback latency (npm run bench measures them).
      expect({ file, size: size < 1024 * 1024 }).toEqual({ file, size: true });
    }
  });

  /**
   * Least privilege, checked against the code: each handler's role allows every AWS API call its
   * code can make, and nothing the code never calls. "Can make" is what the handler can reach
   * (support/sdk-calls.ts follows the calls, not the imports): a handler that only reads the
   * documents is not a writer because the module it reads through can also write, and a
   * read-only handler that starts writing is missing ssm:PutParameter here.
   */
  describe('IAM matches the code', () => {
    /** Granted because an API call needs it, although the code never names it. */
    const IMPLIED = new Set(['ecs:TagResource', 'iam:PassRole', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    /** Used by Lambda itself, with the function's role, to deliver a failed asynchronous event to the dead-letter queue. */
    const ON_FAILURE_DESTINATION = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
    const ASYNC_EVENT_HANDLERS = new Set(['AlarmWatcher', 'Cleanup', 'Reconcile']);

    let scanner: SdkCallScanner;
    beforeAll(() => {
      scanner = new SdkCallScanner(Object.values(HANDLERS).map((spec) => path.join(PROJECT_ROOT, 'lambdas', spec.entry)));
    }, 60_000);

    const grantedActions = (id: string): Set<string> => {
      const role = synth.release.pipeline.node.findChild(`${id}Role`);
      const statements = rolePolicies(release)
        .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Effect: string }>);
      return new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
    };

    /**
     * A handler's code can reach both traffic routers, but the pipeline grants only the
     * configured backend's API: the other backend's calls are unreachable with this config.
     */
    const otherBackendPrefix = () => (synth.release.pipeline.trafficKind === 'alb' ? 'appmesh:' : 'elasticloadbalancing:');
    /**
     * The sample's weighted forward is a listener rule (created once, so that a deploy never resets
     * its weights), so the router reads and modifies that rule and never the listener:
     * DescribeListeners and ModifyListener are granted only to a pipeline whose forward is the
     * listener's default action.
     */
    const UNREACHABLE_WITH_A_RULE = new Set(['elasticloadbalancing:DescribeListeners', 'elasticloadbalancing:ModifyListener']);

    it.each(Object.entries(HANDLERS))('%s', (id, spec) => {
      const called = [...scanner.actionsOf(path.join(PROJECT_ROOT, 'lambdas', spec.entry))]
        .filter((action) => !action.startsWith(otherBackendPrefix()) && !UNREACHABLE_WITH_A_RULE.has(action))
        .sort();
      const granted = grantedActions(id);
      expect({ handler: spec.entry, missing: called.filter((a) => !granted.has(a)) }).toEqual({ handler: spec.entry, missing: [] });
      const platform = ASYNC_EVENT_HANDLERS.has(id) ? ON_FAILURE_DESTINATION : [];
      const unused = [...granted].filter((a) => !IMPLIED.has(a) && !platform.includes(a) && !called.includes(a));
      expect({ handler: spec.entry, unused }).toEqual({ handler: spec.entry, unused: [] });
    });

    it('gives the read-only handlers ssm:GetParameter and no other SSM action', () => {
      const readOnly = ['PlanRelease', 'ShiftTraffic', 'ScaleDownOldColour', 'StartRelease', 'GetRelease', 'AbortRelease', 'DeployIdle'];
      for (const id of readOnly) {
        expect({ id, ssm: [...grantedActions(id)].filter((a) => a.startsWith('ssm:')) }).toEqual({ id, ssm: ['ssm:GetParameter'] });
      }
      // The alarm-watcher also lists the registered services (a path of names only).
      expect([...grantedActions('AlarmWatcher')].filter((a) => a.startsWith('ssm:')).sort()).toEqual(['ssm:GetParameter', 'ssm:GetParametersByPath']);
    });
  });
});

describe('IAM', () => {
  it('has no statement allowing every action', () => {
    for (const template of [release, service]) {
      for (const [id, policy] of [...resources(template, 'AWS::IAM::Policy'), ...resources(template, 'AWS::IAM::Role')]) {
        const documents = [
          policy.Properties.PolicyDocument,
          ...((policy.Properties.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []).map((p) => p.PolicyDocument),
        ].filter(Boolean) as Array<{ Statement: Array<{ Action?: string | string[]; Effect: string }> }>;
        for (const statement of documents.flatMap((d) => d.Statement)) {
          const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
          expect({ id, actions }).not.toEqual({ id, actions: expect.arrayContaining(['*']) });
          for (const action of actions) expect({ id, action }).not.toEqual({ id, action: expect.stringMatching(/^[a-z0-9-]+:\*$/) });
        }
      }
    }
  });

  it('scopes SSM to the named release documents (writes never the config), the route to the weighted route, services to the two colours', () => {
    const statements = rolePolicies(release).flatMap(
      ([, p]) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
    const resourcesFor = (action: string) =>
      statements
        .filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action))
        .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
        .map((r) => JSON.stringify(flattenIntrinsics(r)));
    for (const action of ['ssm:PutParameter', 'ssm:DeleteParameter']) {
      // The run-time documents by name: never the CloudFormation-owned config, never a wildcard.
      expect(new Set(resourcesFor(action).map((r) => r.replace(/^.*:parameter\/ecs-release\/colorapp\//, '').replace(/"$/, '')))).toEqual(
        new Set(['state', 'lock', 'bake', 'approval']),
      );
    }
    // Reads: the service's own prefix, which holds exactly its five documents (one ARN per service
    // keeps a fleet within IAM's policy quotas); the event publisher reads the approval document.
    expect(new Set(resourcesFor('ssm:GetParameter').map((r) => r.replace(/^.*:parameter\/ecs-release\/colorapp\//, '').replace(/"$/, '')))).toEqual(
      new Set(['*', 'approval']),
    );
    // Cross-stack references read the service stack's outputs (weak references, cdk.json).
    // The ALB sample's weighted forward is the listener rule created once by a custom resource:
    // only that rule may be modified, and never the listener.
    expect(resourcesFor('appmesh:UpdateRoute')).toEqual([]);
    expect(resourcesFor('elasticloadbalancing:ModifyListener')).toEqual([]);
    const ruleWrites = resourcesFor('elasticloadbalancing:ModifyRule');
    expect(ruleWrites.length).toBeGreaterThan(0);
    for (const resource of ruleWrites) expect(resource).toMatch(/^"<Output:ColorappService\.PublishOutputRefWeightedRule\w+>"$/);
    const serviceWrites = resourcesFor('ecs:UpdateService');
    expect(serviceWrites.length).toBeGreaterThan(0);
    for (const resource of serviceWrites) {
      expect(resource).toMatch(/:ecs:<Ref:AWS::Region>:<Ref:AWS::AccountId>:service\/<Output:ColorappService\.PublishOutputRefCluster\w+>\/colorapp-(blue|green)"$/);
    }
    for (const resource of resourcesFor('iam:PassRole')) {
      expect(resource).toMatch(/Output:ColorappService\.PublishOutputFnGetAtt(TaskRole|ExecutionRole)/);
    }
  });
});

describe('triggers', () => {
  it('every API method uses AWS_IAM authorization', () => {
    const methods = resources(release, 'AWS::ApiGateway::Method');
    // POST /releases, POST /releases/{service} (IAM per service), approve, reject, abort; two GETs.
    expect(methods.map(([, m]) => `${m.Properties.HttpMethod}`).sort()).toEqual(['GET', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST']);
    for (const [, method] of methods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('validates the body of a start request against the release request schema', () => {
    release.hasResourceProperties('AWS::ApiGateway::Model', {
      Name: 'ReleaseRequest',
      Schema: Match.objectLike({ required: ['service', 'image'], additionalProperties: false }),
    });
    // The model allows exactly what the handlers' schema allows.
    const [, model] = resources(release, 'AWS::ApiGateway::Model')[0];
    expect(Object.keys(model.Properties.Schema.properties).sort()).toEqual(Object.keys(ReleaseRequestSchema.shape).sort());
  });

  it('the API starts the state machine', () => {
    const startRelease = synth.release.pipeline.node.findChild('StartRelease');
    release.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STATE_MACHINE_ARN: stateMachineRef() }) },
    });
    expect(resources(release, 'AWS::Lambda::Function').find(([id]) => id === logicalId(startRelease))![1].Properties.Environment
      .Variables.STATE_MACHINE_ARN).toEqual(stateMachineRef());
  });

  describe('a "Release Requested" event', () => {
    const rule = () =>
      resources(release, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern?.['detail-type']?.[0] === 'Release Requested')![1];
    /** An event as EventBridge delivers it (the envelope of AWS's documented sample events). */
    const event = (source: string, detailType: string, detail: Record<string, unknown>): BusEvent => ({
      version: '0',
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      source,
      'detail-type': detailType,
      account: '111122223333',
      region: 'eu-west-1',
      time: '2026-12-03T12:00:00Z',
      resources: [],
      detail,
    });
    const request = { service: 'colorapp', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2' };

    it('starts the state machine with the event detail as input', () => {
      expect(rule().Properties.Targets).toEqual([expect.objectContaining({ Arn: stateMachineRef(), InputPath: '$.detail' })]);
    });

    it('fires only for source ecs-release, not for any other sender of the same detail-type', () => {
      const pattern = rule().Properties.EventPattern;
      // Any service of the engine: Plan refuses one that is not registered (ConfigNotFoundError, Release Rejected).
      expect(pattern).toEqual({ source: ['ecs-release'], 'detail-type': ['Release Requested'] });
      expect(matchesEventPattern(pattern, event('ecs-release', 'Release Requested', request))).toBe(true);
      expect(matchesEventPattern(pattern, event('my.ci', 'Release Requested', request))).toBe(false);
      // AWS's documented ECR push sample: an aws.* event with the service's name in it is not a request.
      const ecrPush = { 'action-type': 'PUSH', result: 'SUCCESS', 'repository-name': 'colorapp', 'image-digest': 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234', 'image-tag': 'v2', service: 'colorapp' };
      expect(matchesEventPattern(pattern, event('aws.ecr', 'ECR Image Action', ecrPush))).toBe(false);
    });

    it('may be sent by a grantee of grantRequestRelease only with that source and detail-type', () => {
      const stack = new Stack(newApp({ bundle: false }), 'Requester');
      const role = new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
      synth.release.pipeline.grantRequestRelease(role);
      const statements = Template.fromStack(stack).findResources('AWS::IAM::Policy');
      expect(Object.values(statements).flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
        expect.objectContaining({
          Action: 'events:PutEvents',
          Condition: { StringEquals: { 'events:source': 'ecs-release', 'events:detail-type': 'Release Requested' } },
        }),
      ]);
    });
  });

  it('starts no release straight from an image push: every push goes through the pipeline and its approval', () => {
    const pushRules = resources(release, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.EventPattern?.['detail-type']?.[0] === 'ECR Image Action' && r.Properties.Targets[0].Arn.Ref === stateMachineRef().Ref,
    );
    expect(pushRules).toEqual([]);
  });

  it('empties the pipeline artifacts bucket when the sample is destroyed, so cdk destroy can delete it', () => {
    const [[bucketId, bucket]] = resources(release, 'AWS::S3::Bucket').filter(([id]) => id.includes('PipelineArtifacts'));
    expect(bucket.DeletionPolicy).toBe('Delete');
    const autoDelete = resources(release, 'Custom::S3AutoDeleteObjects');
    expect(autoDelete.map(([, r]) => r.Properties.BucketName)).toEqual([{ Ref: bucketId }]);
  });

  it('the CodePipeline (V2) goes source (ECR) → manual approval → Step Functions invoke', () => {
    release.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      Stages: [
        Match.objectLike({ Name: 'Source', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'ECR' }) })] }),
        Match.objectLike({ Name: 'Approve', Actions: [Match.objectLike({ ActionTypeId: Match.objectLike({ Provider: 'Manual' }) })] }),
        Match.objectLike({
          Name: 'Release',
          Actions: [
            Match.objectLike({
              ActionTypeId: Match.objectLike({ Provider: 'StepFunctions' }),
              Configuration: Match.objectLike({ StateMachineArn: stateMachineRef(), InputType: 'Literal' }),
            }),
          ],
        }),
      ],
    });
  });

  it('the pipeline starts a release with a valid request (pinned by digest)', () => {
    const [, pipeline] = resources(release, 'AWS::CodePipeline::Pipeline')[0];
    const input = JSON.parse(String(flattenIntrinsics(pipeline.Properties.Stages[2].Actions[0].Configuration.Input)));
    expect(input.image).toMatch(/@#\{Source\.ImageDigest\}$/);
    const realistic = { ...input, image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/colorapp@sha256:${'a'.repeat(64)}` };
    expect(ReleaseRequestSchema.safeParse(realistic).success).toBe(true);
  });

  it('a release alarm going to ALARM invokes the alarm-watcher', () => {
    const alarmWatcher = synth.release.pipeline.node.findChild('AlarmWatcher');
    release.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: Match.arrayWith([]), state: { value: ['ALARM'] } },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(alarmWatcher), 'Arn'] } })],
    });
    const [, rule] = resources(release, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.cloudwatch')!;
    expect(rule.Properties.EventPattern.detail.alarmName).toHaveLength(4);
  });

  it('an aborted, timed-out or failed execution invokes the cleanup handler (which acts only while that execution holds the lock)', () => {
    const cleanup = synth.release.pipeline.node.findChild('Cleanup');
    // FAILED too: an execution can fail with an error no Catch catches (States.Runtime,
    // States.DataLimitExceeded) while it holds the lock and traffic is split.
    release.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'TIMED_OUT', 'FAILED'], stateMachineArn: [stateMachineRef()] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(cleanup), 'Arn'] } })],
    });
    // The local world subscribes cleanup with the same statuses.
    expect([...CLEANUP_EXECUTION_STATUSES]).toEqual(['ABORTED', 'TIMED_OUT', 'FAILED']);
  });

  it.each(['Cleanup', 'AlarmWatcher', 'Reconcile'])(
    '%s never fails silently: an event it failed on after its retries goes to the dead-letter queue',
    (id) => {
      const fn = synth.release.pipeline.node.findChild(id);
      const dlq = { 'Fn::GetAtt': [logicalId(synth.release.pipeline.deadLetterQueue), 'Arn'] };
      const configs = resources(release, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) => c.Properties.FunctionName.Ref === logicalId(fn));
      expect(configs).toHaveLength(1);
      expect(configs[0][1].Properties).toMatchObject({
        DestinationConfig: { OnFailure: { Destination: dlq } },
        MaximumRetryAttempts: 2,
      });
      // Lambda delivers it with the function's own role.
      const role = synth.release.pipeline.node.findChild(`${id}Role`);
      const statements = resources(release, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
      expect(statements).toContainEqual(expect.objectContaining({ Action: expect.arrayContaining(['sqs:SendMessage']), Resource: dlq }));
    },
  );

  it('an alarm notifies the release topic as soon as the dead-letter queue holds a message', () => {
    const queue = logicalId(synth.release.pipeline.deadLetterQueue);
    const topic = logicalId(synth.release.pipeline.notificationTopic);
    const alarm = logicalId(synth.release.pipeline.deadLetterAlarm);
    const [, resource] = resources(release, 'AWS::CloudWatch::Alarm').find(([id]) => id === alarm)!;
    expect(resource.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topic }],
    });
    expect(resource.Properties.AlarmDescription).toMatch(/aborted, timed-out or failed release could not be cleaned up: traffic may be split/);
    // The topic is KMS-encrypted: CloudWatch may publish to it for this alarm, and use its key.
    release.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [alarm, 'Arn'] } } },
          }),
        ]),
      },
    });
    const [, key] = resources(release, 'AWS::KMS::Key').find(([id]) => id.startsWith('ColorappNotificationKey'))!;
    // Every service principal in the key policy acts only for this account (aws:SourceAccount).
    const servicePrincipals = (key.Properties.KeyPolicy.Statement as Array<{ Principal: { Service?: string }; Condition?: unknown }>).filter(
      (s) => s.Principal.Service !== undefined,
    );
    expect(servicePrincipals).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  });

  it('every EventBridge target has a dead-letter queue and retries', () => {
    for (const [id, rule] of resources(release, 'AWS::Events::Rule')) {
      if (id.includes('PipelineSourceImage')) continue; // CodePipeline's own source rule
      for (const target of rule.Properties.Targets) {
        expect({ id, dlq: target.DeadLetterConfig?.Arn !== undefined }).toEqual({ id, dlq: true });
        expect({ id, retries: target.RetryPolicy?.MaximumRetryAttempts > 0 }).toEqual({ id, retries: true });
      }
    }
  });
});

describe('service configuration', () => {
  const configParameter = () => resources(release, 'AWS::SSM::Parameter').find(([, p]) => p.Properties.Name === '/ecs-release/colorapp/config')![1];
  /**
   * ARNs of the right shape for the load balancer's listener, rules and target groups, which only
   * CloudFormation knows: the schema checks their format, so the template's stand-ins are swapped
   * for these before it parses the document.
   */
  const LB = 'app/colorapp/50dc6c495c0c9188';
  const ELB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012';
  const LISTENER = `${ELB}:listener/${LB}/f2f7dc8efc522ab2`;
  const REALISTIC_TRAFFIC = {
    kind: 'alb' as const,
    listenerArn: LISTENER,
    rule: `${LISTENER.replace(':listener/', ':listener-rule/')}/0b1c2d3e4f5a6b7c`,
    targetGroups: { blue: `${ELB}:targetgroup/colorapp-blue/6d0ecf831eec9f09`, green: `${ELB}:targetgroup/colorapp-green/7e1fdf942ffd0a1a` },
    testRules: {
      blue: `${LISTENER.replace(':listener/', ':listener-rule/')}/9683b2d02a6cabee`,
      green: `${LISTENER.replace(':listener/', ':listener-rule/')}/a794c3e13b7dbcff`,
    },
  };
  /** The document as the handlers parse it, its traffic section's deploy-time ARNs swapped for realistic ones. */
  const parsedConfig = () => {
    const document = JSON.parse(String(flattenIntrinsics(configParameter().Properties.Value)));
    // The weighted rule, by the physical id of the custom resource that created it.
    expect(document.traffic).toMatchObject({ kind: 'alb', rule: expect.stringMatching(/^<Output:ColorappService\.PublishOutputRefWeightedRule\w+>$/) });
    return ServiceConfigSchema.parse({ ...document, traffic: REALISTIC_TRAFFIC });
  };

  it('is written to /ecs-release/colorapp/config and is what the handlers accept', () => {
    const config = parsedConfig();
    expect(config.service).toBe('colorapp');
    // The alarms the release watches are the ones the pipeline created, per colour.
    const names = (colour: string) =>
      resources(release, 'AWS::CloudWatch::Alarm')
        .filter(([, a]) => String(a.Properties.AlarmName).startsWith(`colorapp-${colour}-`))
        .map(([id]) => `<Ref:${id}>`)
        .sort();
    expect([...config.health.alarms.blue].sort()).toEqual(names('blue'));
    expect([...config.health.alarms.green].sort()).toEqual(names('green'));
  });

  it('is serviceConfigOf(COLORAPP) with the ALB sample\'s 60-second periods, once CloudFormation fills in the names', () => {
    const stacks = { ColorappService: service.toJSON() as TemplateJson, ColorappRelease: release.toJSON() as TemplateJson };
    const resolved = JSON.parse(String(resolveNames(configParameter().Properties.Value, stacks, 'ColorappRelease')));
    const stateMachineArn = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:ecs-release-colorapp';
    // The load balancer's ARNs are CloudFormation's to make: they read as <Arn:ColorappService.LogicalId>.
    const arn = (construct: IConstruct) => `<Arn:ColorappService.${logicalId(construct)}>`;
    const { listener, weightedRule, targetGroups, testRules } = synth.service.alb!;
    const traffic = {
      kind: 'alb' as const,
      listenerArn: arn(listener),
      rule: `<Arn:ColorappService.${Stack.of(weightedRule).getLogicalId(weightedRule.resource.resource.node.defaultChild as never)}>`,
      targetGroups: { blue: arn(targetGroups.blue), green: arn(targetGroups.green) },
      testRules: { blue: arn(testRules.blue), green: arn(testRules.green) },
    };
    expect(resolved.traffic).toEqual(traffic);
    const deployed = ServiceConfigSchema.parse({ ...resolved, traffic: REALISTIC_TRAFFIC });
    expect(deployed).toEqual(
      serviceConfigOf(settingsForTraffic(COLORAPP, 'alb'), { traffic: REALISTIC_TRAFFIC, releaseStateMachineArn: stateMachineArn }),
    );
  });

  it('names the release state machine, for the CLI, without depending on it', () => {
    const config = parsedConfig();
    expect(config.releaseStateMachineArn).toBe(
      'arn:<Ref:AWS::Partition>:states:<Ref:AWS::Region>:<Ref:AWS::AccountId>:stateMachine:ecs-release-colorapp',
    );
    release.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'ecs-release-colorapp' });
    expect(JSON.stringify(configParameter())).not.toContain(logicalId(synth.release.pipeline.stateMachine));
  });
});

describe('initial release state', () => {
  const STATE = parameterNames('colorapp').state;
  const initialState = () => synth.release.pipeline.service.node.findChild('InitialState');
  const customResource = (): [string, Resource] => {
    const found = resources(release, 'Custom::EcsReleaseInitialState');
    expect(found).toHaveLength(1);
    return found[0];
  };
  /** The SDK call the custom resource makes on create, as CloudFormation hands it to the provider. */
  const createCall = () => JSON.parse(String(flattenIntrinsics(customResource()[1].Properties.Create)));
  /** Parts of the Create call CloudFormation fills in at deploy time. */
  const deployTimeParts = (): Cfn[] => (customResource()[1].Properties.Create['Fn::Join'][1] as Cfn[]).filter((p) => typeof p !== 'string');

  it('is created once by a custom resource that only creates: create-if-absent, never updated, never deleted', () => {
    const [, resource] = customResource();
    expect(Object.keys(resource.Properties).sort()).toEqual(['Create', 'InstallLatestAwsSdk', 'ServiceToken']);
    expect(resource.Properties.InstallLatestAwsSdk).toBe(false);
    const call = createCall();
    expect(call).toMatchObject({
      service: 'SSM',
      action: 'PutParameter',
      parameters: { Name: STATE, Type: 'String', Overwrite: false, Tier: 'Intelligent-Tiering' },
      physicalResourceId: { id: STATE },
      ignoreErrorCodesMatching: 'ParameterAlreadyExists',
    });
  });

  it('is not a CloudFormation parameter: no AWS::SSM::Parameter in either stack manages the state', () => {
    for (const template of [release, service]) {
      const names = resources(template, 'AWS::SSM::Parameter').map(([, p]) => JSON.stringify(p.Properties.Name));
      expect(names.filter((name) => name.includes('/state'))).toEqual([]);
    }
  });

  it('is a valid release state: blue live, each slot what its service was deployed with, no history, a fixed time', () => {
    const state = ReleaseStateSchema.parse(JSON.parse(createCall().parameters.Value));
    const taskDefinitionOutput = (colour: 'blue' | 'green') =>
      `<Output:ColorappService.PublishOutputRef${logicalId(synth.service.taskDefinitions[colour])}`;
    const assetTag = /:([a-f0-9]{64})"?$/.exec(JSON.stringify(deployTimeParts().find((p) => p['Fn::Sub'])['Fn::Sub']))![1];
    expect(state).toStrictEqual({
      schemaVersion: 1,
      service: 'colorapp',
      live: 'blue',
      colours: {
        blue: { taskDefinitionArn: expect.stringContaining(taskDefinitionOutput('blue')), image: '<Fn::Sub>', version: assetTag },
        green: { taskDefinitionArn: expect.stringContaining(taskDefinitionOutput('green')), image: '<Fn::Sub>', version: assetTag },
      },
      lastRelease: null,
      history: [],
      updatedAt: SEED_UPDATED_AT,
      seededBy: 'cdk',
    });
  });

  it('takes each image from the app container of its colour\'s task definition in the service stack', () => {
    for (const colour of ['blue', 'green'] as const) {
      const [, td] = resources(service, 'AWS::ECS::TaskDefinition').find(([id]) => id === logicalId(synth.service.taskDefinitions[colour]))!;
      const app = (td.Properties.ContainerDefinitions as Cfn[]).find((c) => c.Name === 'app');
      expect(deployTimeParts()).toContainEqual(app.Image);
    }
  });

  it('may be written by the provider with ssm:PutParameter on exactly that parameter, and nothing else', () => {
    const policy = initialState().node.findChild('CustomResourcePolicy');
    const [, document] = resources(release, 'AWS::IAM::Policy').find(([id]) => id === logicalId(policy))!;
    expect(document.Properties.PolicyDocument.Statement).toHaveLength(1);
    const [statement] = document.Properties.PolicyDocument.Statement as Cfn[];
    expect(statement).toMatchObject({ Effect: 'Allow', Action: 'ssm:PutParameter' });
    expect(statement.Condition).toBeUndefined();
    expect(flattenIntrinsics(statement.Resource)).toBe(
      'arn:<Ref:AWS::Partition>:ssm:<Ref:AWS::Region>:<Ref:AWS::AccountId>:parameter/ecs-release/colorapp/state',
    );
    // The write waits for the permission.
    expect(customResource()[1].DependsOn).toContain(logicalId(policy));
  });

  it('runs its provider with its own role, which otherwise may only write to its own log group', () => {
    const role = synth.release.pipeline.service.node.findChild('InitialStateProviderRole');
    const logGroup = synth.release.pipeline.service.node.findChild('InitialStateProviderLogs');
    const [, provider] = resources(release, 'AWS::Lambda::Function').find(([id]) => id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'))!;
    expect(provider.Properties.Role).toEqual({ 'Fn::GetAtt': [logicalId(role), 'Arn'] });
    expect(provider.Properties.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(logGroup) });
    const [, roleResource] = resources(release, 'AWS::IAM::Role').find(([id]) => id === logicalId(role))!;
    expect(roleResource.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = resources(release, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
    expect(statements.map((s) => [s.Action, flattenIntrinsics(s.Resource)])).toEqual(
      expect.arrayContaining([
        [['logs:CreateLogStream', 'logs:PutLogEvents'], `<GetAtt:${logicalId(logGroup)}.Arn>`],
        ['ssm:PutParameter', expect.stringMatching(/:parameter\/ecs-release\/colorapp\/state$/)],
      ]),
    );
    expect(statements).toHaveLength(2);
  });
});

describe('alarms', () => {
  it('are the ones the settings define for the ALB sample: alarmDefinitionsOf(settingsForTraffic(COLORAPP, \'alb\'))', () => {
    const definitions = alarmDefinitionsOf(settingsForTraffic(COLORAPP, 'alb'));
    expect(definitions).toHaveLength(4);
    for (const definition of definitions) {
      const [, alarm] = resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === definition.alarmName)!;
      const period = alarm.Properties.Period ?? (alarm.Properties.Metrics as Cfn[]).find((m) => m.MetricStat)!.MetricStat.Period;
      expect({
        alarmName: alarm.Properties.AlarmName,
        periodSeconds: period,
        evaluationPeriods: alarm.Properties.EvaluationPeriods,
        datapointsToAlarm: alarm.Properties.DatapointsToAlarm,
        treatMissingData: alarm.Properties.TreatMissingData,
        // The success-rate alarm's metric math is in percent; the settings' threshold is a fraction.
        // The latency alarm reads TargetResponseTime, which ELB publishes in seconds; the settings' threshold is in ms.
        threshold: definition.kind === 'success-rate' ? alarm.Properties.Threshold / 100 : alarm.Properties.Threshold * 1000,
      }).toEqual({
        alarmName: definition.alarmName,
        periodSeconds: definition.periodSeconds,
        evaluationPeriods: definition.evaluationPeriods,
        datapointsToAlarm: definition.datapointsToAlarm,
        treatMissingData: definition.treatMissingData,
        threshold: definition.threshold,
      });
    }
  });

  it.each(['blue', 'green'] as const)('%s has a success-rate alarm on the load balancer\'s metrics of its target group', (colour) => {
    const [, alarm] = resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === `colorapp-${colour}-success-rate`)!;
    expect(alarm.Properties.TreatMissingData).toBe('notBreaching');
    expect(alarm.Properties.ComparisonOperator).toBe('LessThanThreshold');
    // Relative judgement is on: the alarm fires below the disaster floor (95 %), the comparison judges the rest.
    expect(alarm.Properties.Threshold).toBe(95);
    const metrics = alarm.Properties.Metrics as Cfn[];
    expect(metrics.find((m) => m.Expression).Expression).toContain('requests');
    const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat);
    expect(stats).toHaveLength(4);
    const targetGroup = synth.service.alb!.targetGroups[colour];
    for (const stat of stats) {
      expect(stat.Metric.Namespace).toBe(ALB_METRICS.namespace);
      // ELB publishes every 60 seconds: a shorter period would only ever see missing data.
      expect(stat.Period).toBe(60);
      expect(flattenIntrinsics(stat.Metric.Dimensions)).toEqual(
        expect.arrayContaining([
          { Name: ALB_METRICS.targetGroupDimension, Value: expect.stringContaining(`${logicalId(targetGroup)}TargetGroupFullName`) },
          { Name: ALB_METRICS.loadBalancerDimension, Value: expect.stringContaining('LoadBalancerFullName') },
        ]),
      );
    }
  });

  it.each(['blue', 'green'])('%s has a p99 latency alarm on TargetResponseTime (seconds)', (colour) => {
    release.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `colorapp-${colour}-p99-latency`,
      Namespace: ALB_METRICS.namespace,
      MetricName: ALB_METRICS.targetResponseTime,
      ExtendedStatistic: 'p99',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });
});

describe('the reconciler', () => {
  const policyStatementsOf = (id: string): Cfn[] => {
    const role = synth.release.pipeline.node.findChild(`${id}Role`);
    return rolePolicies(release)
      .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
  };

  it('runs every 5 minutes by default, whatever happened to the execution status events', () => {
    const reconcile = synth.release.pipeline.node.findChild('Reconcile');
    release.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(reconcile), 'Arn'] } })],
    });
    const [, fn] = resources(release, 'AWS::Lambda::Function').find(([id]) => id === logicalId(reconcile))!;
    expect(fn.Properties.Environment.Variables.RELEASE_REGISTRY_PATH).toBe('/ecs-release-registry/ecs-release-colorapp');
  });

  it('publishes its Drift metric in the ECSRelease namespace only', () => {
    const putMetric = policyStatementsOf('Reconcile').filter((s) => s.Action === 'cloudwatch:PutMetricData');
    expect(putMetric).toEqual([
      expect.objectContaining({ Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'ECSRelease' } } }),
    ]);
  });

  it('announces drift only through its publisher, whose one state puts a Release Drift Detected event of source ecs-release on the default bus', () => {
    const publisher = synth.release.pipeline.node.findChild('DriftEvents').node.findChild('StateMachine');
    const startSync = policyStatementsOf('Reconcile').filter((s) => String(s.Action).startsWith('states:Start'));
    expect(startSync).toEqual([expect.objectContaining({ Action: 'states:StartSyncExecution', Resource: { Ref: logicalId(publisher) } })]);
    expect(policyStatementsOf('Reconcile').filter((s) => String(s.Action).startsWith('events:'))).toEqual([]);
    const [, machine] = resources(release, 'AWS::StepFunctions::StateMachine').find(([id]) => id === logicalId(publisher))!;
    expect(machine.Properties.StateMachineType).toBe('EXPRESS');
    const definition = JSON.stringify(flattenIntrinsics(machine.Properties.DefinitionString));
    expect(definition).toContain(RELEASE_EVENT_TYPES.driftDetected);
    expect(definition).toContain(`\\"Source\\":\\"${RELEASE_EVENT_SOURCE}\\"`);
  });

  it('alarms on drift to the release topic: one run that finds drift is enough, and no data (a release running) is not drift', () => {
    const alarm = logicalId(synth.release.pipeline.driftAlarm);
    const [, resource] = resources(release, 'AWS::CloudWatch::Alarm').find(([id]) => id === alarm)!;
    expect(resource.Properties).toMatchObject({
      AlarmName: 'ecs-release-colorapp-drift',
      Namespace: 'ECSRelease',
      MetricName: 'Drift',
      Dimensions: [{ Name: 'Service', Value: 'colorapp' }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: logicalId(synth.release.pipeline.notificationTopic) }],
    });
    release.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sns:Publish', Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [alarm, 'Arn'] } } } }),
        ]),
      },
    });
  });
});

describe('the release dashboard', () => {
  const body = () => dashboardBody(release, dashboardNameOf('colorapp'));
  const alarmNamed = (name: string) => resources(release, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === name)![1];
  const ofColour = (colour: string) => (m: { id?: string }) => m.id?.startsWith(`${colour}_`);

  it('is named from the service alone (ecs-release-colorapp), as the CLI and the events link to it', () => {
    expect(synth.release.pipeline.dashboard).toBeDefined();
    expect(body().widgets.length).toBeGreaterThan(0);
    expect(dashboardNameOf('colorapp')).toBe('ecs-release-colorapp');
  });

  it.each(['blue', 'green'] as const)(
    'graphs %s from its own target group\'s AWS/ApplicationELB metrics: requests/s, success rate and p99, each colour one line',
    (colour) => {
      const targetGroup = `${logicalId(synth.service.alb!.targetGroups[colour])}TargetGroupFullName`;
      const requests = graphMetrics(graph(body(), 'Requests per second')).filter(ofColour(colour));
      const success = graphMetrics(graph(body(), 'Success rate (%)')).filter(ofColour(colour));
      const p99 = graphMetrics(graph(body(), 'p99 latency')).filter((m) => m.dimensions.TargetGroup?.includes(targetGroup));
      expect(requests.map((m) => [m.namespace, m.metricName, m.stat])).toEqual([[ALB_METRICS.namespace, ALB_METRICS.requestCount, 'Sum']]);
      expect(success.map((m) => m.metricName).sort()).toEqual(
        [ALB_METRICS.requestCount, ...(['2', '3', '4'] as const).map((c) => ALB_METRICS.targetResponsesByClass[c])].sort(),
      );
      expect(p99.map((m) => [m.namespace, m.metricName, m.stat, m.period])).toEqual([[ALB_METRICS.namespace, ALB_METRICS.targetResponseTime, 'p99', 60]]);
      for (const m of [...requests, ...success]) {
        expect(Object.keys(m.dimensions)).toEqual([ALB_METRICS.loadBalancerDimension, ALB_METRICS.targetGroupDimension]);
        expect(m.dimensions.TargetGroup).toContain(targetGroup);
        expect(m.period).toBe(60);
      }
    },
  );

  it.each(['blue', 'green'] as const)('shows exactly what the %s alarms watch (both are built by one function)', (colour) => {
    const success = graphMetrics(graph(body(), 'Success rate (%)')).filter(ofColour(colour)).map(withoutId);
    expect(success).toEqual(expect.arrayContaining(alarmMetrics(alarmNamed(`colorapp-${colour}-success-rate`)).map(withoutId)));
    expect(success).toHaveLength(alarmMetrics(alarmNamed(`colorapp-${colour}-success-rate`)).length);
    const [alarmExpression] = (alarmNamed(`colorapp-${colour}-success-rate`).Properties.Metrics as Cfn[]).filter((m) => m.Expression);
    // The same formula, with the colour's ids so both colours fit in one graph.
    const graphed = graphExpressions(graph(body(), 'Success rate (%)')).find((e) => e.label === `${colour} success rate (%)`)!;
    expect(graphed.expression).toBe(alarmExpression.Expression.replace(/\b(requests|target\dxx)\b/g, `${colour}_$1`));
    expect(graphMetrics(graph(body(), 'p99 latency')).map(withoutId)).toContainEqual(alarmMetrics(alarmNamed(`colorapp-${colour}-p99-latency`))[0]);
  });

  it('draws each colour\'s traffic weight (ECSRelease/TrafficWeight by Service and Colour), carried forward between changes', () => {
    const weights = graph(body(), 'Traffic weight per colour (%)');
    expect(graphMetrics(weights).map((m) => [m.namespace, m.metricName, m.dimensions, m.stat])).toEqual(
      (['blue', 'green'] as const).map((colour) => [
        TRAFFIC_WEIGHT_METRIC.namespace,
        TRAFFIC_WEIGHT_METRIC.metricName,
        { [TRAFFIC_WEIGHT_METRIC.colourDimension]: colour, [TRAFFIC_WEIGHT_METRIC.serviceDimension]: 'colorapp' },
        'Maximum',
      ]),
    );
    expect(graphExpressions(weights).map((e) => e.expression)).toEqual(['FILL(blue_weight, REPEAT)', 'FILL(green_weight, REPEAT)']);
    expect(weights.properties.yAxis.left).toMatchObject({ min: 0, max: 100 });
  });

  it('shows the state of the colour alarms, the drift alarm and the dead-letter alarm', () => {
    const [widget] = body().widgets.filter((w) => w.type === 'alarm');
    const alarmIds = resources(release, 'AWS::CloudWatch::Alarm')
      .filter(([, a]) => /^colorapp-(blue|green)-|^ecs-release-colorapp-/.test(a.Properties.AlarmName))
      .map(([id]) => `<GetAtt:${id}.Arn>`);
    expect(alarmIds).toHaveLength(6);
    expect([...widget.properties.alarms].sort()).toEqual(alarmIds.sort());
  });

  it('lists the latest steps and verdicts from the handlers\' logs, by messages the handlers really write', () => {
    const [widget] = body().widgets.filter((w) => w.type === 'log');
    for (const id of ['ShiftTraffic', 'CheckHealth', 'PromoteRelease', 'RollbackRelease', 'RequestApproval']) {
      const logGroup = synth.release.pipeline.node.findChild(`${id}Logs`);
      expect(widget.properties.query).toContain(`SOURCE '<Ref:${logicalId(logGroup)}>'`);
    }
    const code = ['shift-traffic', 'check-health', 'request-approval', 'promote-release', 'rollback-release', 'alarm-watcher', 'api/approvals', 'shared/rollback']
      .map((f) => readFileSync(path.join(PROJECT_ROOT, 'lambdas', `${f}.ts`), 'utf8'))
      .join('\n');
    for (const message of RELEASE_STEP_LOG_MESSAGES) {
      expect({ message, logged: code.includes(`'${message}'`) }).toEqual({ message, logged: true });
      expect(widget.properties.query).toContain(JSON.stringify(message));
    }
  });

  it('gives every handler that sets weights PutMetricData in the ECSRelease namespace only', () => {
    for (const id of ['ShiftTraffic', 'RollbackRelease', 'Cleanup', 'Reconcile']) {
      const role = synth.release.pipeline.node.findChild(`${id}Role`);
      const statements = rolePolicies(release)
        .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === logicalId(role)))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[])
        .filter((s) => s.Action === 'cloudwatch:PutMetricData');
      expect({ id, statements }).toEqual({
        id,
        statements: [expect.objectContaining({ Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': TRAFFIC_WEIGHT_METRIC.namespace } } })],
      });
    }
  });
});

describe('release events out', () => {
  it('an encrypted SNS topic announces approvals and failures', () => {
    release.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    release.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('an Express state machine publishes them from the execution status and approval document changes', () => {
    release.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'EXPRESS', TracingConfiguration: { Enabled: true } });
    release.hasResourceProperties('AWS::Events::Rule', {
      // One rule for every service's gate: the approval documents are the only parameters named so.
      EventPattern: { source: ['aws.ssm'], detail: { name: [{ wildcard: '/ecs-release/*/approval' }], operation: ['Create', 'Update'] } },
    });
    release.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.states'], detail: { stateMachineArn: [stateMachineRef()] } },
    });
  });
});

describe('the sample service', () => {
  /** The CreateService parameters of a colour's create-only service. */
  const createService = (colour: 'blue' | 'green'): Cfn => {
    const calls = resources(service, 'Custom::EcsReleaseService').map(([, r]) => JSON.parse(String(flattenIntrinsics(r.Properties.Create))));
    return calls.find((c) => c.parameters.serviceName === `colorapp-${colour}`).parameters;
  };

  it('runs no App Mesh resource at all (App Mesh was discontinued on 2026-09-30)', () => {
    const meshTypes = resources(service).map(([, r]) => r.Type).filter((type) => type.startsWith('AWS::AppMesh::'));
    expect(meshTypes).toEqual([]);
    expect(synth.service.appMesh).toBeUndefined();
    expect(synth.release.pipeline.trafficKind).toBe('alb');
  });

  it('puts the colours behind one internet-facing Application Load Balancer', () => {
    service.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    service.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'application', Scheme: 'internet-facing' });
  });

  it('gives each colour its own IP target group, checked on /healthcheck, with a short deregistration delay', () => {
    const groups = resources(service, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups).toHaveLength(2);
    for (const colour of ['blue', 'green'] as const) {
      const [, group] = groups.find(([id]) => id === logicalId(synth.service.alb!.targetGroups[colour]))!;
      expect(group.Properties).toMatchObject({
        Name: COLORAPP.alb.targetGroupNames[colour],
        TargetType: 'ip',
        Port: 8080,
        Protocol: 'HTTP',
        HealthCheckPath: '/healthcheck',
      });
      expect(group.Properties.TargetGroupAttributes).toContainEqual({
        Key: 'deregistration_delay.timeout_seconds',
        Value: String(COLORAPP.alb.deregistrationDelaySeconds),
      });
      // The colour's ECS service registers its tasks there.
      expect(createService(colour).loadBalancers).toEqual([
        { containerName: 'app', containerPort: 8080, targetGroupArn: `<Ref:${logicalId(synth.service.alb!.targetGroups[colour])}>` },
      ]);
    }
  });

  it('answers 503 in the production listener\'s default action, which releases never change', () => {
    const [, listener] = resources(service, 'AWS::ElasticLoadBalancingV2::Listener')[0];
    expect(listener.Properties).toMatchObject({ Port: 80, Protocol: 'HTTP' });
    expect(listener.Properties.DefaultActions).toEqual([
      { Type: 'fixed-response', FixedResponseConfig: expect.objectContaining({ StatusCode: '503', ContentType: 'text/plain' }) },
    ]);
  });

  it('starts the weighted rule (every path) at blue 100 / green 0, after the header rules, created once', () => {
    const [[, rule]] = resources(service, 'Custom::EcsReleaseWeightedListenerRule');
    expect(rule.Properties.Update).toBeUndefined();
    const call = JSON.parse(String(flattenIntrinsics(rule.Properties.Create)));
    const tg = (colour: 'blue' | 'green') => `<Ref:${logicalId(synth.service.alb!.targetGroups[colour])}>`;
    expect(call).toEqual({
      service: 'ElasticLoadBalancingV2',
      action: 'CreateRule',
      parameters: {
        ListenerArn: `<Ref:${logicalId(synth.service.alb!.listener)}>`,
        Priority: 10,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
        Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: tg('blue'), Weight: 100 }, { TargetGroupArn: tg('green'), Weight: 0 }] } }],
      },
      physicalResourceId: { responsePath: 'Rules.0.RuleArn' },
    });
    // The header rules win first.
    for (const [, headerRule] of resources(service, 'AWS::ElasticLoadBalancingV2::ListenerRule')) expect(headerRule.Properties.Priority).toBeLessThan(10);
  });

  it.each(['blue', 'green'] as const)('reaches %s on purpose with the x-release-color header, ahead of the weights', (colour) => {
    const rules = resources(service, 'AWS::ElasticLoadBalancingV2::ListenerRule');
    expect(rules).toHaveLength(2);
    const [, rule] = rules.find(([id]) => id === logicalId(synth.service.alb!.testRules[colour]))!;
    expect(rule.Properties.Conditions).toEqual([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-release-color', Values: [colour] } }]);
    expect(rule.Properties.Actions).toEqual([
      expect.objectContaining({ Type: 'forward', TargetGroupArn: { Ref: logicalId(synth.service.alb!.targetGroups[colour]) } }),
    ]);
  });

  it.each(['blue', 'green'] as const)('runs %s as the app container alone: no Envoy, no agent, no proxy configuration', (colour) => {
    const [, td] = resources(service, 'AWS::ECS::TaskDefinition').find(([id]) => id === logicalId(synth.service.taskDefinitions[colour]))!;
    const containers = td.Properties.ContainerDefinitions as Cfn[];
    expect(containers.map((c) => c.Name)).toEqual(['app']);
    expect(Object.fromEntries((containers[0].Environment as Cfn[]).map((e) => [e.Name, e.Value]))).toEqual({ PORT: '8080', COLOR: colour });
    expect(containers[0].HealthCheck.Command).toEqual(['CMD', 'node', '/app/healthcheck.js']);
    expect(td.Properties.ProxyConfiguration).toBeUndefined();
  });

  it('surfaces failed deployments as FAILED and leaves the rollback to the release engine', () => {
    for (const colour of ['blue', 'green'] as const) {
      expect(createService(colour)).toMatchObject({
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false }, minimumHealthyPercent: 100, maximumPercent: 200 },
        desiredCount: colour === 'blue' ? 2 : 0,
        launchType: 'FARGATE',
        healthCheckGracePeriodSeconds: 30,
      });
    }
  });

  it.each(['blue', 'green'] as const)('creates %s once from its template task definition, in the private subnets, behind the tasks security group', (colour) => {
    const call = createService(colour);
    expect(call.taskDefinition).toBe(`<Ref:${logicalId(synth.service.taskDefinitions[colour])}>`);
    expect(call.networkConfiguration.awsvpcConfiguration).toMatchObject({ assignPublicIp: 'DISABLED', subnets: [expect.any(String), expect.any(String)] });
    expect(resources(service, 'AWS::ECS::Service')).toEqual([]);
  });

  it('builds colorapp from colorapp/ as a container image asset', () => {
    const manifest = JSON.parse(readFileSync(path.join(synth.assembly.directory, 'ColorappService.assets.json'), 'utf8'));
    const images = Object.values(manifest.dockerImages as Record<string, { source: { directory: string } }>);
    expect(images).toHaveLength(1);
    const staged = path.join(synth.assembly.directory, images[0].source.directory);
    expect(readFileSync(path.join(staged, 'Dockerfile'), 'utf8')).toEqual(readFileSync(path.join(PROJECT_ROOT, 'colorapp', 'Dockerfile'), 'utf8'));
  });
});

/**
 * The fleet sample (`cdk synth -c services=N`): copies of colorapp behind the sample's load
 * balancer, each in a stack of its own, all registered with colorapp's one engine. One extra
 * synth, without bundling, with services=2.
 */
describe('the fleet sample', () => {
  let fleet: ReturnType<typeof synthesizeSampleApp>;
  beforeAll(() => {
    fleet = synthesizeSampleApp({ bundle: false, services: 2 });
  }, 120_000);
  const count = (template: Template, type: string) => resources(template, type).length;

  it('registers colorapp-2 with the one engine: no function, state machine or API more than the single-service sample', () => {
    for (const type of ['AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine', 'AWS::ApiGateway::RestApi']) {
      expect({ type, count: count(fleet.releaseTemplate, type) }).toEqual({ type, count: count(release, type) });
    }
    const added = resources(fleet.releaseTemplate).length - resources(release).length;
    expect(added).toBeLessThanOrEqual(15);
    const configs = resources(fleet.releaseTemplate, 'AWS::SSM::Parameter')
      .filter(([, p]) => String(p.Properties.Name).endsWith('/config'))
      .map(([, p]) => JSON.parse(String(flattenIntrinsics(p.Properties.Value))));
    expect(configs.map((c) => c.service).sort()).toEqual(['colorapp', 'colorapp-2']);
    expect(new Set(configs.map((c) => c.releaseStateMachineArn)).size).toBe(1);
  });

  it("runs colorapp-2 behind the sample's load balancer on its own listener, with its own create-only services and weighted rule", () => {
    const [copy] = fleet.copies;
    const template = Template.fromStack(copy);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 8002 });
    const created = resources(template, 'Custom::EcsReleaseService').map(([, r]) => JSON.parse(String(flattenIntrinsics(r.Properties.Create))).parameters.serviceName);
    expect(created.sort()).toEqual(['colorapp-2-blue', 'colorapp-2-green']);
    expect(resources(template, 'Custom::EcsReleaseWeightedListenerRule')).toHaveLength(1);
    // colorapp's own stack is the single-service sample's.
    expect(resources(fleet.serviceTemplate).length).toBe(resources(service).length);
  });

  it.each([0, 51, 'many', 2.5])('refuses services=%p, naming the allowed range', (value) => {
    expect(() => sampleServicesOf(new App({ context: { services: value } }), 'alb')).toThrow(/a whole number from 1 to 50/);
  });

  it('refuses more than one service on App Mesh', () => {
    expect(() => sampleServicesOf(new App(), 'appmesh', { services: 2 })).toThrow(/App Mesh .* runs one service only/);
  });
});
