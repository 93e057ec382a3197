import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../../infra/app';
import type { SampleTrafficKind } from '../../../infra/colorapp-settings';
import { SKIP_BUNDLING_CONTEXT } from '../../../infra/constructs/release-pipeline';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The context `cdk synth` runs with (feature flags from cdk.json), so tests see the same templates. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

/** A fresh App with cdk.json's context, writing to a temporary directory. */
export function newApp(options: { bundle: boolean }): App {
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'ecs-release-cdk-')),
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { [SKIP_BUNDLING_CONTEXT]: true }) },
  });
}

/**
 * The whole sample app, synthesized once (with cdk-nag, as `npm run synth` does).
 * `traffic` as `-c traffic=...` would set it; by default the app's own default (ALB).
 * `validate` runs CDK's built-in CloudFormation validation as `cdk synth` does (the test set-up
 * turns it off for every other synth: it costs seconds of CPU per app).
 */
export function synthesizeSampleApp(options: { bundle: boolean; traffic?: SampleTrafficKind; validate?: boolean; services?: number }) {
  const app = newApp(options);
  const stacks = buildApp(app, { traffic: options.traffic, services: options.services });
  const assembly = withCloudFormationValidation(options.validate ?? false, () => app.synth());
  return {
    app,
    assembly,
    ...stacks,
    serviceTemplate: Template.fromStack(stacks.service),
    releaseTemplate: Template.fromStack(stacks.release),
  };
}

/** Runs `synth` with CDK's built-in CloudFormation validation on or off (it reads the variable at synth). */
function withCloudFormationValidation<T>(on: boolean, synth: () => T): T {
  const before = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = on ? 'true' : 'false';
  try {
    return synth();
  } finally {
    if (before === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = before;
  }
}

type Json = unknown;

/**
 * Replaces CloudFormation intrinsics with readable stand-ins (`<Ref:Id>`, `<Import:Name>`…) and
 * joins `Fn::Join`, so a value the template builds at deploy time can be parsed and checked.
 */
export function flattenIntrinsics(value: Json): Json {
  if (Array.isArray(value)) return value.map(flattenIntrinsics);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, Json>);
    if (entries.length === 1) {
      const [key, arg] = entries[0];
      if (key === 'Ref') return `<Ref:${String(arg)}>`;
      if (key === 'Fn::GetAtt') return `<GetAtt:${(arg as string[]).join('.')}>`;
      if (key === 'Fn::ImportValue') return `<Import:${String(flattenIntrinsics(arg))}>`;
      if (key === 'Fn::GetStackOutput') {
        const { StackName, OutputName } = arg as { StackName: string; OutputName: string };
        return `<Output:${StackName}.${OutputName}>`;
      }
      if (key === 'Fn::Join') {
        const [sep, parts] = arg as [string, Json[]];
        return parts.map((p) => String(flattenIntrinsics(p))).join(sep);
      }
      if (key.startsWith('Fn::')) return `<${key}>`;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, flattenIntrinsics(v)]));
  }
  return value;
}

/** The property that holds a resource's physical name, by what returns it (`Ref` or a `Fn::GetAtt` attribute). */
const NAME_PROPERTY: Record<string, Record<string, string>> = {
  'AWS::ECS::Cluster': { Ref: 'ClusterName' },
  'AWS::ECS::Service': { Name: 'ServiceName' },
  'AWS::CloudWatch::Alarm': { Ref: 'AlarmName' },
  'AWS::AppMesh::Mesh': { MeshName: 'MeshName' },
  'AWS::AppMesh::VirtualRouter': { VirtualRouterName: 'VirtualRouterName' },
  'AWS::AppMesh::Route': { RouteName: 'RouteName' },
  'AWS::AppMesh::VirtualNode': { VirtualNodeName: 'VirtualNodeName' },
};

/** Resources whose `Ref` is an ARN CloudFormation makes up: it reads as `<Arn:Stack.LogicalId>`. */
const ARN_ONLY_REF = new Set([
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ElasticLoadBalancingV2::ListenerRule',
  'AWS::ElasticLoadBalancingV2::TargetGroup',
  // The weighted listener rule, created once by a custom resource: its physical id is the rule's ARN.
  'Custom::EcsReleaseWeightedListenerRule',
]);

export type TemplateJson = { Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>; Outputs?: Record<string, { Value: Json }> };

/**
 * Replaces each reference to a resource's name with the physical name the template gives that
 * resource, following cross-stack references (`Fn::GetStackOutput`) to the other stack's
 * output; pseudo parameters become `<AWS::Region>` and the like; `Fn::Join` is joined. A value
 * built this way reads as it will at deploy time, so it can be compared with literal settings.
 * A `Ref` to a load balancer listener, rule or target group (an ARN no setting can know) reads
 * as `<Arn:Stack.LogicalId>`. Throws for a reference to any other resource that has no literal physical name (CloudFormation would
 * generate one, which no setting can match) or to something else than a name.
 *
 * @param stacks every template of the app, by stack name
 */
export function resolveNames(value: Json, stacks: Readonly<Record<string, TemplateJson>>, stackName: string): Json {
  const nameOf = (id: string, by: string): Json => {
    const resource = stacks[stackName].Resources[id];
    if (!resource) throw new Error(`${stackName}: no resource ${id}`);
    if (by === 'Ref' && ARN_ONLY_REF.has(resource.Type)) return `<Arn:${stackName}.${id}>`;
    const property = NAME_PROPERTY[resource.Type]?.[by];
    if (!property) throw new Error(`${stackName}: ${by === 'Ref' ? 'Ref' : `Fn::GetAtt ${by}`} of ${id} (${resource.Type}) is not a name this helper knows`);
    const name = resource.Properties?.[property];
    if (typeof name !== 'string') throw new Error(`${stackName}: ${id} (${resource.Type}) has no literal ${property}: CloudFormation generates it`);
    return name;
  };
  if (Array.isArray(value)) return value.map((v) => resolveNames(v, stacks, stackName));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, Json>);
    if (entries.length === 1) {
      const [key, arg] = entries[0];
      if (key === 'Ref') return String(arg).startsWith('AWS::') ? `<${String(arg)}>` : nameOf(String(arg), 'Ref');
      if (key === 'Fn::GetAtt') return nameOf((arg as string[])[0], (arg as string[])[1]);
      if (key === 'Fn::GetStackOutput') {
        const { StackName, OutputName } = arg as { StackName: string; OutputName: string };
        const output = stacks[StackName]?.Outputs?.[OutputName];
        if (!output) throw new Error(`${stackName} reads output ${OutputName} of ${StackName}, which has none by that name`);
        return resolveNames(output.Value, stacks, StackName);
      }
      if (key === 'Fn::Join') {
        const [sep, parts] = arg as [string, Json[]];
        return parts.map((p) => String(resolveNames(p, stacks, stackName))).join(sep);
      }
      if (key.startsWith('Fn::')) throw new Error(`${stackName}: ${key} is not resolved by resolveNames`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolveNames(v, stacks, stackName)]));
  }
  return value;
}
