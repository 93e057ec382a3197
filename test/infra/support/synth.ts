import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../../infra/app';
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

/** The whole sample app, synthesized once (with cdk-nag, as `npm run synth` does). */
export function synthesizeSampleApp(options: { bundle: boolean }) {
  const app = newApp(options);
  const stacks = buildApp(app);
  const assembly = app.synth();
  return {
    app,
    assembly,
    ...stacks,
    serviceTemplate: Template.fromStack(stacks.service),
    releaseTemplate: Template.fromStack(stacks.release),
  };
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
