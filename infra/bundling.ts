/**
 * How every Lambda handler is bundled, shared by the CDK construct and `npm run bench` so the
 * benchmark measures exactly what is deployed.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';

/**
 * Modules left to the Lambda runtime: none. Each handler bundles the AWS SDK version
 * package-lock.json pins. The runtime's SDK can be older than the one the code is typed and
 * tested against, and an SDK's deserializers keep only the fields its model knows: a task
 * definition cloned through an older SDK would silently lose its newer fields. The price is
 * bundle size (about 600 KB minified instead of 150 KB); `npm run bench` measures what that
 * costs at cold start.
 */
export const RUNTIME_PROVIDED_MODULES: string[] = [];

/**
 * Prefer packages' ES module builds: esbuild can tree-shake them (zod, Powertools), where their
 * CommonJS builds come whole.
 */
export const MAIN_FIELDS = ['module', 'main'];

/** esbuild's target for the handlers (the runtime is newer; this is the floor the code needs). */
export const BUNDLE_TARGET = 'node22';

/**
 * esbuild's options for one handler, as deployed: minified with names kept (the state machine's
 * Catch clauses match error names), CommonJS, source maps without sources (file:line is enough for
 * a stack trace and keeps the asset small), the runtime's SDK left out.
 */
export function handlerBuildOptions(entry: string): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    minify: true,
    keepNames: true,
    sourcemap: true,
    sourcesContent: false,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    mainFields: MAIN_FIELDS,
    external: RUNTIME_PROVIDED_MODULES,
    logLevel: 'warning',
  };
}

/** Bundles already built in this process, by the set of entries they were built for. */
const builtSets = new Map<string, string>();

/**
 * Bundles one handler into `outdir/index.js` (+ `index.js.map`), in this process, as part of one
 * esbuild build of every handler in `allEntries` (all paths under `root`). One build parses the
 * shared code and the AWS SDK once for all handlers (about 6 s for 25 handlers here, where a
 * build per handler took 16 s); each handler's output is still self-contained, with exactly
 * {@link handlerBuildOptions}. The CDK construct bundles through this at synth time, and the
 * benchmark measures what those options produce, so what is measured is what is deployed.
 */
export function bundleHandler(entry: string, outdir: string, allEntries: readonly string[], root: string): void {
  if (!allEntries.includes(entry)) throw new Error(`bundleHandler: ${entry} is not one of the entries to build`);
  const key = JSON.stringify([root, ...[...allEntries].sort()]);
  let built = builtSets.get(key);
  if (built === undefined) {
    built = mkdtempSync(path.join(tmpdir(), 'ecs-release-handlers-'));
    // `[dir]/[name]/index`: every handler's bundle is an index.js whose source map keeps its name.
    buildSync({ ...handlerBuildOptions(entry), entryPoints: [...allEntries], outbase: root, outdir: built, entryNames: '[dir]/[name]/index' });
    builtSets.set(key, built);
  }
  cpSync(path.join(built, path.relative(root, entry).replace(/\.ts$/, '')), outdir, { recursive: true });
}
