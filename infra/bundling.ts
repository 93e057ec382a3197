/**
 * How every Lambda handler is bundled, shared by the CDK construct and `npm run bench` so the
 * benchmark measures exactly what is deployed.
 */

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
