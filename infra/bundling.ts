/**
 * How every Lambda handler is bundled, shared by the CDK construct and `npm run bench` so the
 * benchmark measures exactly what is deployed.
 */
import * as path from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';

/**
 * Modules left to the Lambda runtime. Node.js runtimes ship the AWS SDK v3; bundling it would
 * make every handler about five times larger (~500 KB more), and cold starts are part of
 * rollback latency. The SDK calls the handlers make are long-standing, stable APIs.
 */
export const RUNTIME_PROVIDED_MODULES = ['@aws-sdk/*'];

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

/**
 * Bundles one handler into `outdir/index.js` (+ `index.js.map`), in this process. The CDK
 * construct bundles through this at synth time (one in-process build per handler is a fraction
 * of a second, where a spawned esbuild per function cost about a second each), and the benchmark
 * measures what it produces, so what is measured is what is deployed.
 */
export function bundleHandler(entry: string, outdir: string): void {
  buildSync({ ...handlerBuildOptions(entry), outfile: path.join(outdir, 'index.js') });
}
