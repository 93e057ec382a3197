// Headless Chromium for tests and docs, from npm alone: @sparticuz/chromium ships the binary inside
// its package and puppeteer-core drives it (Puppeteer's and Playwright's own browser downloads
// reach outside the npm registry, which these machines cannot). No fallback and no skip: a test
// that needs a browser fails when there is none, so a broken set-up is never a green run.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser } from 'puppeteer-core';

const PROJECT_ROOT = path.join(__dirname, '..', '..');

/**
 * The binary and flags @sparticuz/chromium gives. It is an ES module that finds its binary through
 * `import.meta.url`, which jest (running tests as CommonJS) cannot load; a short Node process asks
 * it instead. Its first call unpacks the binary to /tmp/chromium (about 2 s), later ones reuse it.
 */
async function chromiumSettings(): Promise<{ args: string[]; executablePath: string }> {
  const script =
    "const { default: chromium } = await import('@sparticuz/chromium');" +
    'process.stdout.write(JSON.stringify({ args: chromium.args, executablePath: await chromium.executablePath() }));';
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, timeout: 60_000 });
  return JSON.parse(stdout) as { args: string[]; executablePath: string };
}

/**
 * Launches headless Chromium with @sparticuz/chromium's binary and flags.
 *
 * @throws Error saying what to check when Chromium does not start.
 */
export async function launchChromium(viewport: { width: number; height: number } = { width: 1280, height: 900 }): Promise<Browser> {
  try {
    const { args, executablePath } = await chromiumSettings();
    return await puppeteer.launch({ args, executablePath, headless: true, defaultViewport: viewport });
  } catch (error) {
    throw new Error(
      `Headless Chromium from @sparticuz/chromium did not start (${(error as Error).message}). ` +
        'Run `npm ci` so @sparticuz/chromium and puppeteer-core are installed; the binary unpacks to /tmp/chromium on first use.',
      { cause: error },
    );
  }
}
