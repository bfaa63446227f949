/**
 * The console's Insights and AccessKeys tabs end to end. The stack is seeded through its real
 * path: ingest a day of steady baseline (past eventTimes) and a burst of DeleteInstance from a
 * new IP with one AccessKey (the account's own, whose user name is markup); the insights-cron
 * timer drains the analysis queue (insights and the AccessKey audit) and opens ApiCallRate, Ip
 * and Ak insights. Then, in headless Chromium: sign in, open Insights, see the three insights on
 * the timeline with each type's count, expand one to its statistics and attributions, follow
 * its link to Event history on its window filtered by its object; open AccessKeys, pick the key
 * and see its last use, products, events and IPs; a pasted unknown key says it has no recorded
 * use. Markup stays text, phone width turns the lists into cards, the secret never reaches a
 * URL, cookie or local storage, and no page error or CSP violation happens. Screenshots go to
 * .test-artifacts/console/ (analysis-*.png).
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM_PATH; TK_SKIP_BROWSER=1
 * runs only the browser-less seeding checks.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { launchConsoleBrowser, signIn } from '../helpers/console-browser.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countedRows } from '../helpers/insight-traffic.ts';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisInsightsStore } from '../../adapters/redis/insights-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const SKIP_BROWSER = process.env['TK_SKIP_BROWSER'] === '1';
const ARTIFACTS = path.join(repoRoot, '.test-artifacts', 'console');
const MIN = 60_000;
const HOUR = 60 * MIN;

const A = '5234567890123456';
const BURST_IP = '203.0.113.77';
const BURST_COUNT = 35;
/** Markup as the burst's user name, which the console must show as text. */
const XSS = '<img src=x onerror="window.__x=1">';

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let lookupUrl: string;
let burstMinute = 0;

const utc = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function rpc(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callRpc(lookupUrl, key, params);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function event(n: number, time: number, over: Record<string, unknown>, identity: Record<string, unknown>): Record<string, unknown> {
  const e = sampleEvent(A, n, new Date(time));
  return { ...e, ...over, userIdentity: { ...(e['userIdentity'] as object), ...identity } };
}

/** Steady traffic over the last 25 hours (a write and a read every 10 minutes from two known IPs), as test/integration/insights.test.ts builds it. */
function baseline(): Record<string, unknown>[] {
  const now = Date.now();
  const out: Record<string, unknown>[] = [];
  for (let t = now - 25 * HOUR, n = 0; t < now - 5 * MIN; t += 10 * MIN, n++) {
    const identity = { accessKeyId: 'LTAI5tSteadyKey0001', userName: 'alice' };
    out.push(event(n, t, { eventName: 'StartInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: '10.0.0.1' }, identity));
    out.push(event(n + 1, t + 1000, { eventName: 'DescribeInstances', eventRW: 'Read', serviceName: 'Ecs', sourceIpAddress: '10.0.0.2' }, identity));
  }
  return out;
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  // Enabled in the store, not by EnableInsight: a call through lookup-http would be recorded as a use of the key (and an event of the account).
  const insights = new RedisInsightsStore(redis);
  for (const type of ['ApiCallRateInsight', 'IpInsight', 'AkInsight'] as const) await insights.setType(A, type, true);

  const base = baseline();
  // the burst in the minute that just completed, with the account's own key (so the AccessKeys tab lists it)
  burstMinute = Math.floor(Date.now() / MIN) * MIN - MIN;
  const burst = Array.from({ length: BURST_COUNT }, (_v, i) =>
    event(1000 + i, burstMinute + i * 1000, { eventName: 'DeleteInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: BURST_IP, referencedResources: { 'ACS::ECS::Instance': [`i-burst${i % 3}`, XSS] } }, { accessKeyId: key.accessKeyId, userName: XSS }),
  );
  const all = [...base, ...burst];
  const before = await countedRows(redis, A);
  for (let i = 0; i < all.length; i += 200) {
    const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(all.slice(i, i + 200)));
    expect(res.status).toBe(200);
  }
  await waitUntil(async () => (await countedRows(redis, A)) >= before + all.length, 30_000, `${all.length} rows counted`);
  await stack.emulator.fireTimer('insights-cron', 'every-minute');
  await waitUntil(async () => (((await rpc({ Action: 'LookupInsightEvents', MaxResults: '50' })).body['Events'] as unknown[] | undefined)?.length ?? 0) >= 3, 20_000, 'three insights');
  await waitUntil(async () => (await rpc({ Action: 'GetAccessKeyLastUsedInfo', AccessKey: key.accessKeyId })).status === 200, 20_000, 'the AccessKey audit');
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('the seeded stack', () => {
  it('has the three insights and the key’s last use the console will show', async () => {
    const events = (await rpc({ Action: 'LookupInsightEvents', MaxResults: '50' })).body['Events'] as { insightDetails: { insightType: string; insightObject: string } }[];
    expect(events.map((e) => [e.insightDetails.insightType, e.insightDetails.insightObject])).toEqual(
      expect.arrayContaining([['ApiCallRateInsight', 'Ecs:DeleteInstance'], ['IpInsight', BURST_IP], ['AkInsight', key.accessKeyId]]),
    );
    expect((await rpc({ Action: 'GetAccessKeyLastUsedInfo', AccessKey: key.accessKeyId })).body).toMatchObject({ UserName: XSS, ServiceName: 'Ecs' });
  });
});

describe.skipIf(SKIP_BROWSER)('the Insights and AccessKeys tabs in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requested: string[] = [];
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `analysis-${name}.png`), fullPage });
  const hashOf = () => new URLSearchParams(new URL(page.url()).hash.slice(1));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ browser, page } = await launchConsoleBrowser({ problems, requested }, {}));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('signs in and opens Insights: the insights of three types on the timeline, one lane per type with its count', async () => {
    await signIn(page, lookupUrl, key, A);
    await page.getByRole('tab', { name: 'Insights' }).click();
    expect(hashOf().get('tab')).toBe('insights');
    await page.locator('#insights-caption', { hasText: /^4 insights in the last day, 4 still open, newest first\.$/ }).waitFor();
    // the range presets are shown, the filter is not (insights have their own objects)
    expect(await page.locator('#query').isVisible()).toBe(true);
    expect(await page.locator('#filter').isVisible()).toBe(false);
    expect(await page.locator('svg.timeline .lane').count()).toBe(7);
    const bars = page.locator('svg.timeline .insight-bar');
    // the AccessKey opened two: its rate far above its (empty) baseline, and a network it never used
    expect(await bars.count()).toBe(4);
    for (const [type, label, count] of [
      ['ApiCallRateInsight', 'API call rate (1)', 1],
      ['IpInsight', 'New IP (1)', 1],
      ['AkInsight', 'AccessKey (2)', 2],
      ['PasswordChangeInsight', 'Password change (0)', 0],
    ] as const) {
      const lane = page.locator(`svg.timeline .lane[data-type="${type}"]`);
      expect(await lane.locator('.lane-label').textContent()).toContain(label);
      expect(await lane.locator('.insight-bar').count()).toBe(count);
    }
    // open insights are drawn to now: a bar of at least its minimum width, named for the keyboard
    expect(await page.locator('svg.timeline .lane[data-type="IpInsight"] .insight-bar').getAttribute('aria-label')).toMatch(new RegExp(`^Show IpInsight ${BURST_IP.replace(/\./g, '\\.')}, .* to now \\(open\\)$`));
    const rows = await page.locator('tbody.insight tr.insight-row').allInnerTexts();
    expect(rows).toHaveLength(4);
    expect(rows.join('\n')).toContain('Ecs:DeleteInstance');
    expect(rows.join('\n')).toContain(BURST_IP);
    expect(rows.join('\n')).toContain(key.accessKeyId);
    await shot('01-insights');
  });

  it('expands an insight from its bar (keyboard) to its statistics and attributions, markup shown as text', async () => {
    await page.locator('svg.timeline .lane[data-type="ApiCallRateInsight"] .insight-bar').focus();
    await page.keyboard.press('Enter');
    const body = page.locator('tbody.insight', { hasText: 'Ecs:DeleteInstance' });
    expect(await body.locator('button.expand').getAttribute('aria-expanded')).toBe('true');
    // the focus moved to the insight in the list
    expect(await page.evaluate<string | null>(`document.activeElement?.closest('tbody.insight')?.textContent ?? null`)).toContain('Ecs:DeleteInstance');
    const detail = body.locator('tr.insight-detail');
    await detail.waitFor();
    const textOf = await detail.innerText();
    for (const part of ['Insight value', 'Baseline', 'per minute', 'Insight duration', '1 min', 'Baseline duration', '24 h', 'Calls in the insight', String(BURST_COUNT), 'Top users', 'Top AccessKeys', key.accessKeyId, 'Top source IPs', BURST_IP, 'Top events', 'DeleteInstance', 'Top error codes']) {
      expect(textOf, part).toContain(part);
    }
    // the user name is markup: text, never an element, never run
    expect(textOf).toContain(XSS);
    expect(await page.locator('#panel-insights img').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__x')).toBeUndefined();
    await shot('02-insight-expanded');
  });

  it("links each insight to Event history on its window, filtered by its object", async () => {
    // the others' links: Source IP and AccessKey ID filters
    for (const [object, keyName] of [
      [BURST_IP, 'SourceIpAddress'],
      [key.accessKeyId, 'EventAccessKeyId'],
    ] as const) {
      const body = page.locator('tbody.insight', { has: page.locator('td[data-label="Object"]', { hasText: object }) }).first();
      await body.locator('button.expand').click();
      const href = (await body.getByRole('link', { name: /^Show events/ }).getAttribute('href')) ?? '';
      const p = new URLSearchParams(href.replace(/^#/, ''));
      expect([p.get('tab'), p.get('range'), p.get('from'), p.get('key'), p.get('value')]).toEqual(['events', 'custom', utc(burstMinute), keyName, object]);
    }
    const rate = page.locator('tbody.insight', { hasText: 'Ecs:DeleteInstance' });
    await rate.getByRole('link', { name: 'Show events (Event Name DeleteInstance)' }).click();
    await page.locator('#events-caption', { hasText: 'with Event Name DeleteInstance' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Event history' }).getAttribute('aria-selected')).toBe('true');
    const hash = hashOf();
    expect([hash.get('tab'), hash.get('range'), hash.get('from'), hash.get('key'), hash.get('value')]).toEqual(['events', 'custom', utc(burstMinute), 'EventName', 'DeleteInstance']);
    expect(await page.locator('input[name="range"]:checked').inputValue()).toBe('custom');
    expect(await page.locator('#filter').isVisible()).toBe(true);
    const rows = await page.locator('tbody.event tr.event-row').allInnerTexts();
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row).toContain('DeleteInstance');
    expect(await page.locator('#events-caption').innerText()).toMatch(/^Events 1–20 between .* with Event Name DeleteInstance, newest first\.$/);
    await shot('03-insight-events', false);
    // Back returns to the insights
    await page.goBack();
    await page.locator('#insights-caption', { hasText: '4 insights' }).waitFor();
  });

  it('opens AccessKeys: the account’s keys, and a picked key’s last use, products, events and IPs', async () => {
    await page.getByRole('tab', { name: 'AccessKeys' }).click();
    expect(await page.locator('#query').isVisible()).toBe(false);
    const row = page.locator(`#accesskeys-body tr[data-key="${key.accessKeyId}"]`);
    await row.waitFor();
    const rowText = await row.innerText();
    expect(rowText).toContain('Active');
    expect(rowText).toContain('Ecs');
    expect(rowText).toContain(XSS);
    expect(await row.locator('time').count()).toBe(1);
    await row.getByRole('button', { name: `Show the use of ${key.accessKeyId}` }).click();
    const detail = page.locator('#ak-detail');
    await detail.locator('#ak-detail-title', { hasText: `AccessKey ${key.accessKeyId}` }).waitFor();
    await detail.locator('dl.ak-info').waitFor();
    const info = await detail.locator('dl.ak-info').innerText();
    for (const part of ['Last used', 'User', XSS, 'RAM user', 'Service', 'Ecs', 'Event Name', 'DeleteInstance', 'Source IP', BURST_IP, 'Account', A]) expect(info, part).toContain(part);
    // the last use is the burst's last call (shown local, UTC on hover)
    expect(await detail.locator('dl.ak-info time').first().getAttribute('datetime')).toBe(utc(burstMinute + (BURST_COUNT - 1) * 1000));
    await detail.locator('table[data-list="Products"] tbody tr').first().waitFor();
    expect(await detail.locator('table[data-list="Products"] tbody').innerText()).toContain('Ecs');
    await detail.locator('table[data-list="Ips"] tbody tr').first().waitFor();
    expect(await detail.locator('table[data-list="Ips"] tbody').innerText()).toContain(BURST_IP);
    await detail.locator('table[data-list="Events"] tbody tr').first().waitFor();
    expect(await detail.locator('table[data-list="Events"] tbody').innerText()).toContain('DeleteInstance');
    await detail.locator('table[data-list="Resources"] tbody tr').first().waitFor();
    const resources = await detail.locator('table[data-list="Resources"] tbody').innerText();
    expect(resources).toContain('i-burst0');
    expect(resources).toContain(XSS);
    expect(await page.locator('#panel-accesskeys img').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__x')).toBeUndefined();
    await shot('04-accesskey');
  });

  it('says plainly that a pasted key has no recorded use', async () => {
    await page.getByLabel('AccessKey to look up').fill('LTAI5tNoSuchKey0000');
    await page.getByLabel('AccessKey to look up').press('Enter');
    await page.locator('#ak-state', { hasText: 'AccessKey LTAI5tNoSuchKey0000 has no recorded use in this account in the last 400 days' }).waitFor();
    expect(await page.locator('#ak-body').innerText()).toBe('');
    // the pasted id never reaches the page's URL (the form never submits)
    expect(page.url()).not.toContain('NoSuchKey');
    await shot('05-accesskey-not-found', false);
  });

  it('reads as cards on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('tab', { name: 'Insights' }).click();
    await page.locator('#insights-caption', { hasText: '4 insights' }).waitFor();
    await page.locator('svg.timeline .insight-bar').first().waitFor();
    expect((await page.locator('svg.timeline').boundingBox())?.width).toBeLessThanOrEqual(390);
    expect((await page.locator('#insights-table thead').boundingBox())?.width).toBeLessThanOrEqual(1);
    expect((await page.locator('tbody.insight').first().boundingBox())?.width).toBeGreaterThan(300);
    expect(await page.getByRole('table', { name: 'Insights' }).getByRole('cell', { name: new RegExp(`${BURST_IP.replace(/\./g, '\\.')}$`) }).count()).toBe(1);
    // nothing wider than the screen
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('06-phone-insights');
    await page.getByRole('tab', { name: 'AccessKeys' }).click();
    await page.locator(`#accesskeys-body tr[data-key="${key.accessKeyId}"]`).getByRole('button').click();
    await page.locator('table[data-list="Ips"] tbody tr').first().waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('07-phone-accesskey');
  });

  it('never put the secret in a URL, a cookie or local storage', async () => {
    expect(requested.length).toBeGreaterThan(10);
    for (const secret of [key.accessKeySecret, encodeURIComponent(key.accessKeySecret)]) expect(requested.filter((url) => url.includes(secret))).toEqual([]);
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
  });
});
