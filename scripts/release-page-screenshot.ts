/**
 * Takes the README's picture of the release page, docs/local-release-page.png:
 * `npx tsx scripts/release-page-screenshot.ts [FILE]`. A fresh local world with 100 client
 * requests/s, a canary 10/50/100 of colorapp v2 (6 s bakes, as `npm start`) that waits at the
 * before-promote gate; the picture is taken there, with every step's verdict, both colours on the
 * charts and the Approve and Reject buttons showing. About 40 seconds.
 */
import * as path from 'node:path';
import { startReleasePage } from '../local/page/server';
import { cli, startE2eWorld, V2, waitFor } from '../test/e2e/support/local-release';
import { launchChromium } from '../test/support/browser';

const OUT = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'docs', 'local-release-page.png'));

async function main(): Promise<void> {
  const [env, browser] = await Promise.all([
    startE2eWorld({ strategy: { type: 'canary', steps: [10, 50, 100] }, bakeSeconds: 6, requestsPerSecond: 100 }),
    launchChromium({ width: 1280, height: 1000 }),
  ]);
  const page = await startReleasePage({ endpointUrl: env.endpointUrl, region: 'eu-west-1', service: 'colorapp', identity: 'you@localhost' });
  try {
    const tab = await browser.newPage();
    await tab.goto(page.url);
    // A few seconds of blue alone first, so the charts show where the canary started from.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const started = await cli(env.endpointUrl, ['start', '--service', 'colorapp', '--image', V2, '--approve-before-promote', '--reason', 'new colour palette', '--requested-by', 'you@localhost']);
    if (started.code !== 0) throw new Error(`ecs-release start failed: ${started.stderr}`);
    await waitFor('the before-promote gate', () => env.approval().then((a) => (a?.gate === 'before-promote' ? a : undefined)), { timeoutMs: 90_000 });
    await tab.waitForSelector('#approval[data-gate="before-promote"]', { visible: true, timeout: 10_000 });
    // Let the charts take the last whole metric period in.
    await new Promise((resolve) => setTimeout(resolve, 5500));
    await tab.screenshot({ path: OUT as `${string}.png`, fullPage: true });
    console.log(`wrote ${OUT}`);
  } finally {
    await browser.close();
    await page.close();
    await env.close();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? String(error));
  process.exit(1);
});
