import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** IAM service prefix of each SDK client the handlers use. */
const IAM_PREFIX: Record<string, string> = {
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-ecs': 'ecs',
  '@aws-sdk/client-app-mesh': 'appmesh',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
};

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/**
 * The IAM actions a handler's code can call: every `new XCommand(` in the handler file and in the
 * files it imports (relative imports, transitively; `import type` brings no code). Module-level,
 * so it over-approximates: importing a module counts every command in it.
 */
export function sdkActionsOf(entry: string): Set<string> {
  const actions = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = stripComments(readFileSync(file, 'utf8'));
    // Which client each command class is imported from.
    const clientOf = new Map<string, string>();
    for (const m of source.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
      const [, typeOnly, names, from] = m;
      if (typeOnly) continue;
      if (from.startsWith('.')) {
        const base = path.resolve(path.dirname(file), from);
        const resolved = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
        if (resolved) visit(resolved);
        continue;
      }
      const prefix = IAM_PREFIX[from];
      if (!prefix) continue;
      for (const raw of names.split(',')) {
        const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0];
        if (name.endsWith('Command')) clientOf.set(name, prefix);
      }
    }
    for (const m of source.matchAll(/new\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g)) {
      const prefix = clientOf.get(`${m[1]}Command`);
      if (!prefix) throw new Error(`${file}: cannot tell which SDK client ${m[1]}Command comes from`);
      actions.add(`${prefix}:${m[1]}`);
    }
  };
  visit(entry);
  return actions;
}
