/**
 * Prints a mermaid flowchart of statemachines/release.asl.json, for the README:
 * `npx tsx scripts/asl-to-mermaid.ts`. Catches are drawn dotted; the generic "any error ->
 * Rollback" catch that every task after the lock has is left out (the README says so in
 * words), and so is a catch-all that carries on to the state's own Next (the step events'),
 * so the happy path stays readable.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

interface State {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: { Next: string; Variable?: string; StringEquals?: string; BooleanEquals?: boolean }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
}

/** Renders the definition at `file` as mermaid `flowchart TD` text. */
export function aslToMermaid(file: string): string {
  const definition = JSON.parse(readFileSync(file, 'utf8')) as { StartAt: string; States: Record<string, State> };
  const id = (name: string) => name.replace(/[^A-Za-z0-9]/g, '');
  const lines = ['flowchart TD', `  start((start)) --> ${id(definition.StartAt)}`];
  for (const [name, state] of Object.entries(definition.States)) {
    const shape =
      state.Type === 'Choice' ? `{${name}}` : state.Type === 'Fail' || state.Type === 'Succeed' ? `([${name}])` : state.Type === 'Wait' ? `[/${name}/]` : `[${name}]`;
    lines.push(`  ${id(name)}${shape}`);
    if (state.Next) lines.push(`  ${id(name)} --> ${id(state.Next)}`);
    for (const choice of state.Choices ?? []) {
      const label = choice.StringEquals ?? String(choice.BooleanEquals);
      lines.push(`  ${id(name)} -- ${label} --> ${id(choice.Next)}`);
    }
    if (state.Default) lines.push(`  ${id(name)} -- otherwise --> ${id(state.Default)}`);
    const catchTargets = new Map<string, string[]>();
    for (const c of state.Catch ?? []) catchTargets.set(c.Next, [...(catchTargets.get(c.Next) ?? []), ...c.ErrorEquals]);
    for (const [target, errors] of catchTargets) {
      if ((target === 'Rollback' || target === state.Next) && errors.includes('States.ALL')) continue;
      const label = errors.includes('States.ALL') ? 'error' : errors.join(', ').replace('States.', '');
      lines.push(`  ${id(name)} -. ${label} .-> ${id(target)}`);
    }
  }
  return lines.join('\n');
}

if (require.main === module) {
  console.log(aslToMermaid(path.join(__dirname, '../statemachines/release.asl.json')));
}
