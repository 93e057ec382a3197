import type { CfnResource } from 'aws-cdk-lib';
import type { SampleTrafficKind } from '../../infra/colorapp-settings';
import { flattenIntrinsics, synthesizeSampleApp, type TemplateJson } from './support/synth';

/**
 * Issue 7, item 4: a `cdk deploy` never undoes a release. What releases change at run time (each
 * colour's desired count and task definition revision, the traffic weights) must not be owned by
 * CloudFormation after the first deploy, in both variants of the sample.
 *
 * Each variant is synthesized once as first deployed; then a release is assumed to have happened
 * (it changed nothing in the templates: it changed what runs) and a developer changes the task
 * definition in CDK (memory and a variable); the same app is synthesized again. The diff between
 * the two templates is what a `cdk deploy` would send, and it must not be able to reach the
 * counts, the revisions or the weights. Bundling is skipped: the handlers do not matter here.
 */

/** Template JSON is untyped by nature; these tests read it and nothing else. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cfn = any;
type Templates = Record<string, TemplateJson>;

interface Variant {
  readonly before: Templates;
  readonly after: Templates;
  readonly colourServices: readonly string[];
}

const variants = {} as Record<SampleTrafficKind, Variant>;

/** What a developer changes in CDK after the first deploy: memory, and a new variable of the app. */
function changeTheTaskDefinitions(synth: ReturnType<typeof synthesizeSampleApp>): void {
  for (const colour of ['blue', 'green'] as const) {
    const cfn = synth.service.taskDefinitions[colour].node.defaultChild as CfnResource;
    cfn.addPropertyOverride('Memory', '2048');
    const containers = (synth.service.resolve((cfn as Cfn).containerDefinitions) as Cfn[]).map((c) => c.name ?? c.Name);
    const app = containers.indexOf(synth.service.containerName);
    cfn.addPropertyOverride(`ContainerDefinitions.${app}.Environment.2`, { Name: 'FEATURE', Value: 'on' });
  }
}

function templatesOf(assembly: ReturnType<ReturnType<typeof synthesizeSampleApp>['app']['synth']>): Templates {
  return Object.fromEntries(assembly.stacks.map((s) => [s.stackName, structuredClone(s.template) as TemplateJson]));
}

beforeAll(() => {
  for (const traffic of ['alb', 'appmesh'] as const) {
    const synth = synthesizeSampleApp({ bundle: false, traffic });
    const before = templatesOf(synth.assembly);
    changeTheTaskDefinitions(synth);
    // The same constructs synthesized again (cheaper than a second app): cdk-nag runs again too.
    const after = templatesOf(synth.app.synth({ force: true }));
    variants[traffic] = { before, after, colourServices: Object.values(synth.service.settings.ecsServices) };
  }
}, 240_000);

/** Logical ids a value refers to with Ref or Fn::GetAtt, and the other stacks' outputs it reads. */
function referencesOf(value: Cfn, found = { ids: new Set<string>(), outputs: [] as Array<[string, string]> }) {
  if (Array.isArray(value)) value.forEach((v) => referencesOf(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, arg] of Object.entries(value as Record<string, Cfn>)) {
      if (key === 'Ref' && typeof arg === 'string' && !arg.startsWith('AWS::')) found.ids.add(arg);
      else if (key === 'Fn::GetAtt') found.ids.add(Array.isArray(arg) ? arg[0] : String(arg).split('.')[0]);
      else if (key === 'Fn::GetStackOutput') found.outputs.push([arg.StackName, arg.OutputName]);
      else if (key === 'Fn::ImportValue') found.outputs.push(['*', JSON.stringify(arg)]);
      else referencesOf(arg, found);
    }
  }
  return found;
}

/**
 * Every resource whose deployed configuration the second deploy changes: those whose template
 * entry differs, and those whose properties refer (within the stack, or through another stack's
 * outputs) to one of those, since a replaced resource has a new id and ARN.
 */
function changedByTheDeploy({ before, after }: Variant): Array<{ stack: string; id: string; type: string; resource: Cfn }> {
  const key = (stack: string, id: string) => `${stack}/${id}`;
  const changed = new Set<string>();
  for (const [stack, template] of Object.entries(after)) {
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (JSON.stringify(resource) !== JSON.stringify(before[stack]?.Resources[id])) changed.add(key(stack, id));
    }
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const [stack, template] of Object.entries(after)) {
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (changed.has(key(stack, id))) continue;
        const { ids, outputs } = referencesOf(resource.Properties);
        const viaOutput = outputs.some(([otherStack, output]) => {
          const value = after[otherStack]?.Outputs?.[output]?.Value;
          return [...referencesOf(value).ids].some((ref) => changed.has(key(otherStack, ref)));
        });
        if ([...ids].some((ref) => changed.has(key(stack, ref))) || viaOutput) {
          changed.add(key(stack, id));
          grew = true;
        }
      }
    }
  }
  return [...changed].map((k) => {
    const [stack, id] = k.split('/');
    const resource = after[stack].Resources[id] as Cfn;
    return { stack, id, type: resource.Type, resource };
  });
}

const isCreateOnly = (resource: Cfn) =>
  String(resource.Type).startsWith('Custom::') && resource.Properties.Create !== undefined && resource.Properties.Update === undefined;

describe.each(['alb', 'appmesh'] as const)('a cdk deploy after a release (%s)', (traffic) => {
  const variant = () => variants[traffic];
  const resourcesOf = (template: TemplateJson, type: string): Array<[string, Cfn]> =>
    Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  it('changes the template task definitions (a new revision in each template family) and nothing that runs', () => {
    const changed = changedByTheDeploy(variant());
    const taskDefinitions = changed.filter((c) => c.type === 'AWS::ECS::TaskDefinition');
    expect(taskDefinitions.map((c) => c.resource.Properties.Family).sort()).toEqual(['colorapp-blue-template', 'colorapp-green-template']);
    // Everything else it reaches is created once and never updated: the services, the initial release state.
    const rest = changed.filter((c) => c.type !== 'AWS::ECS::TaskDefinition');
    expect(rest.length).toBeGreaterThan(0);
    for (const { stack, id, type, resource } of rest) {
      expect({ stack, id, type, createOnly: isCreateOnly(resource) }).toEqual({ stack, id, type, createOnly: true });
    }
    expect(rest.map((c) => c.type).sort()).toEqual(['Custom::EcsReleaseInitialState', 'Custom::EcsReleaseService', 'Custom::EcsReleaseService']);
  });

  it('keeps a replaced template revision ACTIVE (a service may run it) and deregisters the current one with the stack', () => {
    for (const [, td] of resourcesOf(variant().after.ColorappService, 'AWS::ECS::TaskDefinition')) {
      if (!String(td.Properties.Family).endsWith('-template')) continue;
      expect(td.UpdateReplacePolicy).toBe('Retain');
      expect(td.DeletionPolicy ?? 'Delete').toBe('Delete');
    }
  });

  it('has no CloudFormation-owned ECS service for either colour: each is created once, with the template revision', () => {
    for (const template of [variant().before.ColorappService, variant().after.ColorappService]) {
      const names = resourcesOf(template, 'AWS::ECS::Service').map(([, s]) => s.Properties.ServiceName);
      for (const name of variant().colourServices) expect(names).not.toContain(name);
      const created = resourcesOf(template, 'Custom::EcsReleaseService').map(([, r]) => ({ resource: r, call: JSON.parse(String(flattenIntrinsics(r.Properties.Create))) }));
      expect(created.map((c) => c.call.parameters.serviceName).sort()).toEqual([...variant().colourServices].sort());
      for (const { resource, call } of created) {
        expect(isCreateOnly(resource)).toBe(true);
        expect(call.action).toBe('CreateService');
        expect(call.parameters.desiredCount).toBe(call.parameters.serviceName.endsWith('blue') ? 2 : 0);
        expect(call.parameters.taskDefinition).toMatch(/^<Ref:(Blue|Green)TaskDefinition/);
        expect(JSON.parse(String(flattenIntrinsics(resource.Properties.Delete)))).toMatchObject({
          action: 'DeleteService',
          parameters: { force: true },
        });
      }
    }
  });

  it('has no weights that CloudFormation owns: the weighted forward or route is created once', () => {
    for (const template of [variant().before.ColorappService, variant().after.ColorappService]) {
      for (const [, listener] of resourcesOf(template, 'AWS::ElasticLoadBalancingV2::Listener')) {
        expect((listener.Properties.DefaultActions as Cfn[]).filter((a) => (a.ForwardConfig?.TargetGroups?.length ?? 0) > 1)).toEqual([]);
      }
      for (const [, rule] of resourcesOf(template, 'AWS::ElasticLoadBalancingV2::ListenerRule')) {
        expect((rule.Properties.Actions as Cfn[]).filter((a) => (a.ForwardConfig?.TargetGroups?.length ?? 0) > 1)).toEqual([]);
      }
      for (const [, route] of resourcesOf(template, 'AWS::AppMesh::Route')) {
        const spec = route.Properties.Spec;
        const targets = (spec.HttpRoute ?? spec.Http2Route ?? spec.GrpcRoute ?? spec.TcpRoute).Action.WeightedTargets as Cfn[];
        expect({ route: route.Properties.RouteName, targets: targets.length }).toEqual({ route: route.Properties.RouteName, targets: 1 });
      }
      const weighted = traffic === 'alb' ? 'Custom::EcsReleaseWeightedListenerRule' : 'Custom::EcsReleaseWeightedRoute';
      const [[, resource]] = resourcesOf(template, weighted);
      expect(isCreateOnly(resource)).toBe(true);
      const { parameters } = JSON.parse(String(flattenIntrinsics(resource.Properties.Create)));
      const weights =
        traffic === 'alb'
          ? (parameters.Actions[0].ForwardConfig.TargetGroups as Cfn[]).map((t) => t.Weight)
          : (parameters.spec.httpRoute.action.weightedTargets as Cfn[]).map((t) => t.weight);
      expect(weights).toEqual([100, 0]);
    }
  });

  it('leaves the weighted rule or route untouched: the second deploy does not even send it an update', () => {
    const changed = changedByTheDeploy(variant()).map((c) => c.type);
    expect(changed).not.toContain('Custom::EcsReleaseWeightedListenerRule');
    expect(changed).not.toContain('Custom::EcsReleaseWeightedRoute');
  });

  it('points the release at the created rule or route, read by its physical id (Ref), never a response field', () => {
    const { after } = variant();
    for (const template of Object.values(after)) {
      expect(JSON.stringify(template)).not.toMatch(/"Fn::GetAtt":\["\w*(WeightedRule|WeightedRoute|Service)\w*","(Rules|route|service)\./);
    }
    if (traffic === 'alb') {
      const [[ruleId]] = resourcesOf(after.ColorappService, 'Custom::EcsReleaseWeightedListenerRule');
      const exported = Object.values(after.ColorappService.Outputs ?? {}).filter((o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: ruleId }));
      expect(exported).toHaveLength(1);
    }
  });
});
