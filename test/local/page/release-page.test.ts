// The release page, used as a person uses it: headless Chromium opens the page `npm run local`
// serves, a release waits at an approval gate, the person sees the gate and its verdicts on the
// page and clicks Approve (the release is promoted) or Reject (it rolls back). One local world
// and one browser for both releases (canary 50/100, 3 s bakes, 50 client requests/s), so the
// file stays within its share of `npm test`'s budget.
import type { Browser, Page } from 'puppeteer-core';
import { startReleasePage, type ReleasePage } from '../../../local/page/server';
import { launchChromium } from '../../support/browser';
import { cli, startE2eWorld, V1, V2, type E2eWorld } from '../../e2e/support/local-release';

const WAIT_MS = { gate: 45_000, outcome: 20_000 };

// The callbacks given to waitForFunction and evaluate run in the page, not in Node. The project
// compiles without the DOM library, so the little of it they touch is declared here.
interface InPage {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): InPage | null;
  querySelectorAll(selector: string): Iterable<InPage>;
}
declare const document: InPage;
interface ChartInPage {
  getChart(canvasId: string): { data: { datasets: { label: string; data: unknown[] }[] } };
}

let env: E2eWorld | undefined;
let browser: Browser | undefined;
let server: ReleasePage | undefined;
let tab: Page;

beforeAll(async () => {
  // Independent and each a few seconds: side by side.
  const [world, chromium] = await Promise.allSettled([
    startE2eWorld({ strategy: { type: 'canary', steps: [50, 100] }, bakeSeconds: 3, requestsPerSecond: 50 }),
    launchChromium(),
  ]);
  if (world.status === 'fulfilled') env = world.value;
  if (chromium.status === 'fulfilled') browser = chromium.value;
  if (world.status === 'rejected') throw world.reason;
  if (chromium.status === 'rejected') throw chromium.reason;
  server = await startReleasePage({ endpointUrl: env!.endpointUrl, region: 'eu-west-1', service: 'colorapp', identity: 'page-user@test' });
  tab = await browser!.newPage();
  // Polls every 250 ms instead of every second: the test sees each change sooner.
  await tab.goto(`${server.url}?refresh=250`);
  await tab.waitForFunction(() => document.querySelector('#service')?.textContent === 'colorapp', { timeout: 10_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await env?.close();
}, 30_000);

/** Starts a release with the CLI (no --wait) and returns its id. */
async function startRelease(image: string, gate: '--approve-before-promote' | '--approve-before-traffic'): Promise<string> {
  const started = await cli(env!.endpointUrl, ['start', '--service', 'colorapp', '--image', image, gate]);
  expect({ code: started.code, stderr: started.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  return started.stdout.trim();
}

/** Waits until the page shows the gate `releaseId` waits at. */
async function gateShown(releaseId: string, gate: string): Promise<void> {
  await tab.waitForSelector(`#approval[data-gate="${gate}"][data-release-id="${releaseId}"]`, { visible: true, timeout: WAIT_MS.gate });
}

/** Waits until the page's history has `releaseId` on top with `outcome`, and no release runs any more. */
async function outcomeShown(releaseId: string, outcome: string): Promise<void> {
  await tab.waitForFunction(
    (id, expected) => {
      const cells = [...document.querySelectorAll('#history tbody tr:first-child td')].map((td) => td.textContent);
      return cells[0] === id && cells[2] === expected && document.querySelector('#release')?.getAttribute('data-state') === 'idle';
    },
    { timeout: WAIT_MS.outcome },
    releaseId,
    outcome,
  );
}

const text = (selector: string) => tab.$eval(selector, (element) => element.textContent?.trim() ?? '');
const weightsOnPage = () =>
  tab.$$eval('[data-colour]', (cards) => Object.fromEntries(cards.map((c) => [c.getAttribute('data-colour'), c.querySelector('[data-field="weight"]')?.textContent])));
const stepRows = () => tab.$$eval('#steps tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));

describe('the release page in the local world', () => {
  it('shows a gate before promotion with each step’s verdict and both colours charted; Approve promotes the release', async () => {
    const releaseId = await startRelease(V2, '--approve-before-promote');
    await gateShown(releaseId, 'before-promote');

    // What the person sees at the gate: every step judged, all traffic on green, green charted from CloudWatch.
    expect(await weightsOnPage()).toEqual({ blue: '0', green: '100' });
    // One healthy verdict per step; on a loaded machine a bake may first come out inconclusive
    // (too few requests) and be baked again, which the page shows as a row of its own.
    const steps = (await stepRows()).map((row) => [row[1], row[2]]);
    expect(steps.filter(([, verdict]) => verdict === 'healthy')).toEqual([
      ['50 %', 'healthy'],
      ['100 %', 'healthy'],
    ]);
    expect(steps.every(([, verdict]) => verdict === 'healthy' || verdict === 'inconclusive')).toBe(true);
    const charted = await tab.evaluate(() => {
      const chart = (globalThis as unknown as { Chart: ChartInPage }).Chart.getChart('chart-success');
      return Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data.length]));
    });
    expect(charted.blue).toBeGreaterThan(0);
    expect(charted.green).toBeGreaterThan(0);
    expect(await text('#release-summary')).toContain(`${releaseId}`);

    await tab.click('#approve');
    await outcomeShown(releaseId, 'promoted');

    expect(await text('#approval-message')).toBe(`Approved ${releaseId} at before-promote as page-user@test; it continues.`);
    expect(await tab.$eval('#approval', (el) => el.hasAttribute('hidden'))).toBe(true);
    expect(await weightsOnPage()).toEqual({ blue: '0', green: '100' });
    expect(await text('[data-colour="green"] [data-field="role"]')).toBe('live');
    // The page's history is the state document's, read through the endpoint.
    const state = await env!.state();
    expect(state?.live).toBe('green');
    expect(state?.history[0]).toMatchObject({ id: releaseId, outcome: 'promoted', version: 'v2' });
  }, 75_000);

  it('refuses a Reject without a reason and touches nothing; Reject with one rolls the release back', async () => {
    // Green (v2) is live now: release v1 to blue, held before any traffic moves.
    const releaseId = await startRelease(V1, '--approve-before-traffic');
    await gateShown(releaseId, 'before-traffic');

    await tab.click('#reject');
    await tab.waitForSelector('#approval-message.error', { timeout: 5000 });
    expect(await text('#approval-message')).toMatch(/^Invalid reject request: reason: /);
    // Nothing was touched: the gate still waits, the buttons are usable again.
    expect((await env!.approval())?.releaseId).toBe(releaseId);
    expect(await tab.$eval('#reject', (b) => b.hasAttribute('disabled'))).toBe(false);

    await tab.type('#reject-reason', 'colours look wrong on the page');
    await tab.click('#reject');
    await outcomeShown(releaseId, 'rolled-back');

    expect(await text('#approval-message')).toBe(`Rejected ${releaseId} at before-traffic as page-user@test; it is rolling back.`);
    const failure = await tab.$eval('#history tbody tr:first-child td:last-child', (td) => td.textContent);
    expect(failure).toBe('ApprovalRejectedError: Rejected by page-user@test: colours look wrong on the page');
    expect(await weightsOnPage()).toEqual({ blue: '0', green: '100' });
    const state = await env!.state();
    expect(state?.live).toBe('green');
    expect(state?.history.map((r) => [r.id, r.outcome])).toEqual([
      [releaseId, 'rolled-back'],
      [expect.any(String), 'promoted'],
    ]);
  }, 60_000);

  it('answers bad API requests with a 4xx that says what is wrong, and changes nothing', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(new URL(path, server!.url), { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } }));
    const before = await env!.state();

    expect(await post('/api/approve', '{"releaseId":"colorapp-20990101000000-abcdef"}')).toMatchObject({ status: 404, body: { error: 'ResourceNotFoundError' } });
    expect(await post('/api/approve', '{not json')).toMatchObject({ status: 400, body: { error: 'ValidationError' } });
    expect(await post('/api/approve', '{"releaseId":"../../etc"}')).toMatchObject({ status: 400, body: { error: 'ValidationError' } });
    expect(await post('/api/reject', '{"releaseId":"x","reason":"  "}')).toMatchObject({ status: 400, body: { error: 'ValidationError' } });
    expect(await post('/api/approve', 'releaseId=x', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ status: 415 });
    expect(await post('/api/approve', '{"releaseId":"x"}', { 'content-type': 'application/json', origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    expect((await fetch(new URL('/api/metrics?window=5', server!.url))).status).toBe(400);
    expect((await fetch(new URL('/api/approve', server!.url))).status).toBe(405);
    expect((await fetch(new URL('/../package.json', server!.url))).status).toBe(404);

    expect(await env!.state()).toEqual(before);
  });
});
