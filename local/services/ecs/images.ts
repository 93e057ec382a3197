/**
 * The local "container registry": which program an image reference runs and how that image
 * behaves. A faulty version is a property of its image (as it is in AWS, where the bug ships in
 * the image), never of the task definition, so the release path has no way to ask the local
 * world to behave.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** What one image does when a task runs it. */
export interface LocalImage {
  /** JavaScript file run with `node` (the process's `process.execPath`), e.g. the colorapp bundle from {@link buildColorApp}. */
  readonly entry: string;
  /**
   * Environment baked into the image (Dockerfile `ENV`), e.g. `{ FAULT_RATE: '0.5' }` for a faulty
   * version. The task definition's container environment overrides it, as in Docker.
   * @default - nothing beyond `NODE_ENV=production` and `VERSION=<image tag>`
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The image's process exits with status 1 shortly after starting (a version that crashes on
   * start-up). `entry` is not run.
   * @default false
   */
  readonly crash?: boolean;
}

/** Resolves image references (as a task definition names them) to what they run. */
export interface LocalImageCatalog {
  /** The image, or `undefined` when no such image exists (ECS: `CannotPullContainerError`). */
  resolve(image: string): LocalImage | undefined;
}

/**
 * A catalog of exactly the images listed, keyed by the full reference (`repo/name:tag`).
 *
 * @example
 * const entry = await buildColorApp();
 * const images = imageCatalog({
 *   'colorapp:v1': { entry },
 *   'colorapp:v2': { entry, env: { FAULT_RATE: '0.5' } },
 * });
 */
export function imageCatalog(images: Readonly<Record<string, LocalImage>>): LocalImageCatalog {
  const known = new Map(Object.entries(images));
  return { resolve: (image) => known.get(image) };
}

/** `images` as a catalog: a catalog stays as it is, a plain record becomes {@link imageCatalog}. */
export function toImageCatalog(images: LocalImageCatalog | Readonly<Record<string, LocalImage>>): LocalImageCatalog {
  return typeof (images as LocalImageCatalog).resolve === 'function'
    ? (images as LocalImageCatalog)
    : imageCatalog(images as Readonly<Record<string, LocalImage>>);
}

/** Files the local ECS writes once per process: the colorapp bundle and two tiny helpers. */
interface SupportFiles {
  readonly dir: string;
  /** Preloaded into every task process: exits when the parent (this process) goes away. */
  readonly guard: string;
  /** The program a `crash: true` image runs. */
  readonly crash: string;
}

let support: SupportFiles | undefined;

/**
 * A temporary directory (removed when this process exits) holding the helper scripts every task
 * process needs. Created on first use.
 */
export function supportFiles(): SupportFiles {
  if (support) return support;
  const dir = mkdtempSync(join(tmpdir(), 'ecs-release-local-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const guard = join(dir, 'parent-guard.js');
  // Tasks get an IPC channel only so they notice when the world that started them dies without
  // cleaning up (a SIGKILLed test runner): the channel disconnects and the task exits instead of
  // living on as an orphan holding a port. unref() so the channel never keeps a task alive.
  writeFileSync(
    guard,
    "'use strict';\nif (process.channel) {\n  process.channel.unref();\n  process.on('disconnect', () => process.exit(137));\n}\n",
  );
  const crash = join(dir, 'crash.js');
  writeFileSync(
    crash,
    "'use strict';\nsetTimeout(() => {\n  console.error(JSON.stringify({ level: 'error', msg: 'crashed on start-up (the image is built to crash)' }));\n  process.exit(1);\n}, 50);\n",
  );
  support = { dir, guard, crash };
  return support;
}

let colorApp: Promise<string> | undefined;

/**
 * Bundles `colorapp/src/main.ts` with esbuild (platform node) into a temporary directory, once per
 * process, and returns the bundle's path: the `entry` of colorapp images. Bundling is what the
 * Dockerfile does too, and running plain JavaScript keeps task start-up well under a second.
 *
 * @throws Error when esbuild fails (the message is esbuild's).
 */
export function buildColorApp(): Promise<string> {
  colorApp ??= (async () => {
    // Loaded lazily: only the local world needs esbuild, and it is a dev dependency.
    const { build } = await import('esbuild');
    const outfile = join(supportFiles().dir, 'colorapp', 'main.js');
    await build({
      entryPoints: [resolve(__dirname, '..', '..', '..', 'colorapp', 'src', 'main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      outfile,
      logLevel: 'silent',
      keepNames: true,
    });
    return outfile;
  })();
  colorApp.catch(() => (colorApp = undefined));
  return colorApp;
}
