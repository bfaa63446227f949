/**
 * The console's Query tab end to end (advanced query, docs/design.md §3.13): events ingested
 * through the real path, then in headless Chromium: sign in, open Query, run the worked query of
 * the issue from its example (a table of AccessKeys by count), a search whose rows expand to the
 * event's details, a per-hour select drawn as a chart, an invalid query whose error points at its
 * position, save as template (it then appears among the templates), the history, and an export to
 * CSV (the downloaded file holds every event). No page error or CSP violation happens.
 * Screenshots go to .test-artifacts/console/ (query-*.png).
 *
 * Needs /usr/bin/chromium or CHROMIUM_PATH; TK_SKIP_BROWSER=1 skips the browser part.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { launchConsoleBrowser, signIn } from '../helpers/console-browser.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const SKIP_BROWSER = process.env['TK_SKIP_BROWSER'] === '1';
const ARTIFACTS = path.join(repoRoot, '.test-artifacts', 'console');
const A = '6234567890123459';
const COUNT = 60;

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let lookupUrl: string;

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  const base = Date.now() - 3 * 3_600_000;
  // every 3rd event failed with Forbidden.RAM; odd ones came from outside 10.*; keys by n % 3 … 2 keys among the failures
  const events = Array.from({ length: COUNT }, (_v, n) =>
    syntheticEvent(
      A,
      {
        eventName: n % 2 === 0 ? 'DescribeInstances' : 'StopInstance',
        ...(n % 3 === 0 ? { errorCode: 'Forbidden.RAM', errorMessage: 'denied' } : {}),
        sourceIpAddress: n % 2 === 0 ? '10.0.0.5' : '203.0.113.5',
        userIdentity: { type: 'ram-user', principalId: '2001', accountId: A, accessKeyId: n % 4 === 1 ? 'LTAI5tOutsideOne' : 'LTAI5tOutsideTwo', userName: 'alice' },
      },
      base + n * 150_000,
    ),
  );
  expect((await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events))).status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(A, events.map((e) => String(e.eventId)))).every(Boolean), 30_000, 'events in history');
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe.skipIf(SKIP_BROWSER)('the Query tab in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `query-${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ browser, page } = await launchConsoleBrowser({ problems }, { viewport: { width: 1366, height: 900 }, timezoneId: 'UTC', acceptDownloads: true, timeoutMs: 20_000 }));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('signs in, opens Query and runs the worked query from its example', async () => {
    await signIn(page, lookupUrl, key, A);
    await page.getByRole('tab', { name: 'Query' }).click();
    expect(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('tab')).toBe('query');
    // the time range stays, the one-condition filter does not
    expect(await page.locator('#filter').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Failed calls by AccessKey from outside 10.*' }).click();
    await page.locator('#aq-caption', { hasText: 'row' }).waitFor();
    // failures: n % 3 === 0; outside 10.*: n odd → n = 3, 9, …, 57 (10); n % 4 === 1 → 9, 21, 33, 45, 57 (5)
    expect(await page.locator('#aq-table thead th').allInnerTexts()).toEqual(['event.userIdentity.accessKeyId', 'n']);
    expect(await page.locator('#aq-table tbody tr').allInnerTexts()).toEqual(['LTAI5tOutsideOne\t5', 'LTAI5tOutsideTwo\t5']);
    await shot('01-worked-query');
  });

  it('runs a search whose rows expand to the event’s details', async () => {
    await page.getByRole('textbox', { name: /^Query/ }).fill('event.errorCode: Forbidden* and event.eventName: StopInstance');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#aq-caption', { hasText: /^10 events, newest first\.$/ }).waitFor();
    const first = page.locator('#aq-table tbody.event').first();
    await first.locator('button.expand').click();
    const detail = first.locator('tr.event-detail');
    await detail.waitFor();
    expect(await detail.innerText()).toContain('Forbidden.RAM');
    await shot('02-search');
  });

  it('draws a per-hour select as a chart', async () => {
    // the seeded events only: the console's own write calls (saved history, templates) are events of the account too
    await page.getByRole('textbox', { name: /^Query/ }).fill("event.userIdentity.principalId: 2001 | select date_trunc('hour', event.eventTime) as hour, count(*) as calls group by hour order by hour");
    await page.getByRole('textbox', { name: /^Query/ }).press('Control+Enter');
    await page.locator('#aq-chart svg rect.bar').first().waitFor();
    const total = (await page.locator('#aq-table tbody tr td.num').allInnerTexts()).reduce((sum, n) => sum + Number(n), 0);
    expect(total).toBe(COUNT);
    await shot('03-chart');
  });

  it('shows an invalid query’s error under the position it points at', async () => {
    await page.getByRole('textbox', { name: /^Query/ }).fill('event.eventName: X and (event.errorCode: *');
    await page.getByRole('button', { name: 'Run' }).click();
    const error = page.locator('#aq-error');
    await error.waitFor();
    expect(await error.innerText()).toContain('InvalidQuery');
    expect(await error.locator('pre.caret').innerText()).toBe(`event.eventName: X and (event.errorCode: *\n${' '.repeat(23)}^`);
    await shot('04-error');
  });

  it('saves a template, lists it, keeps the history and exports a search to CSV', async () => {
    await page.getByRole('textbox', { name: /^Query/ }).fill('event.eventName: StopInstance');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#aq-caption', { hasText: /^30 events, newest first\.$/ }).waitFor();
    await page.getByLabel('Template name').fill('stops');
    await page.getByRole('button', { name: 'Save as template' }).click();
    await page.locator('#aq-save-status', { hasText: 'Saved as a template.' }).waitFor();
    await page.locator('#aq-template option', { hasText: 'stops' }).waitFor({ state: 'attached' });
    expect(await page.locator('#aq-template optgroup[label="Built-in"] option').count()).toBeGreaterThanOrEqual(10);

    await page.locator('#aq-history-box summary').click();
    await page.locator('#aq-history li', { hasText: 'event.eventName: StopInstance' }).first().waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const file = await download.path();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    expect(lines[0]).toContain('eventTime,eventName');
    expect(lines.length).toBe(31);
    expect(lines.slice(1).every((l) => l.includes('StopInstance'))).toBe(true);
    await shot('05-saved');
  });
});
