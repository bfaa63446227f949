/**
 * The console end to end: lookup-http serves it from its bundle (CSP and the other security
 * headers on every answer, 404s, no path traversal), and a person in headless Chromium
 * (Debian's `chromium`, driven by playwright-core) signs in and answers "who stopped this
 * instance, from which IP, when?" on seeded events — 1h, filter by Event Name, expand the row,
 * open the JSON, copy a link to the event and open it in a fresh tab — then pages forward,
 * opens the summaries chart, drills down from a bar to its window's events, and stops
 * (confirming) and starts a trail. Along the way: markup in event fields stays text, the secret never reaches a
 * URL, cookies or local storage, a slow older answer never overwrites a newer one, and no page
 * error or CSP violation happens in any step. Screenshots of each step go to
 * .test-artifacts/console/ (git-ignored).
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM_PATH; TK_SKIP_BROWSER=1
 * runs only the browser-less checks.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SKIP_BROWSER = process.env['TK_SKIP_BROWSER'] === '1';
const ARTIFACTS = path.join(repoRoot, '.test-artifacts', 'console');
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const MINUTE = 60_000;

const A = '1234567890123456';
const TRAIL = 'console-trail';
const STOP = { eventId: 'console-stopinstance-0001', ip: '203.0.113.45', instance: 'i-bp1fadfadf0007' };
/** Markup in event fields, which the console must show as text. */
const XSS = '<img src=x onerror="window.__x=1">';

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let lookupUrl: string;
/** Events seeded: in the last hour, and in all. */
let recent = 0;
let total = 0;
/** The trail API write calls beforeAll makes, each recorded as an event of the caller's account. */
const SETUP_WRITE_CALLS = 2;

async function rpc(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callRpc(lookupUrl, key, params);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function fixture(name: string, changes: Record<string, unknown>): Record<string, unknown> {
  return { ...(JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>), ...changes };
}

const utc = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Sample events without StopInstance (sampleEvent's call 0), so the seeded one is the only one. */
function samples(count: number, time: (i: number) => number, seed: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let n = seed; out.length < count; n += 1) if (n % 10 !== 0) out.push(sampleEvent(A, n, new Date(time(out.length))));
  return out;
}

/** Events in a window by LookupEvents, or by LookupEventSummaries' window totals. */
async function countEvents(params: Record<string, string>, action: 'LookupEvents' | 'LookupEventSummaries' = 'LookupEvents'): Promise<number> {
  let events = 0;
  const windows = new Map<string, number>();
  let token: string | undefined;
  do {
    const { body } = await rpc({ Action: action, MaxResults: action === 'LookupEvents' ? '50' : '100', ...params, ...(token ? { NextToken: token } : {}) });
    events += (body['Events'] as unknown[] | undefined)?.length ?? 0;
    for (const w of (body['Windows'] as { WindowStart: string; Total: number }[] | undefined) ?? []) windows.set(w.WindowStart, w.Total);
    token = body['NextToken'] as string | undefined;
  } while (token);
  return events + [...windows.values()].reduce((sum, n) => sum + n, 0);
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  expect((await rpc({ Action: 'CreateTrail', Name: TRAIL, OssBucketName: 'trailkeeper-archive', EventRW: 'All' })).status).toBe(200);
  expect((await rpc({ Action: 'StartLogging', Name: TRAIL })).status).toBe(200);

  const now = Date.now();
  const lastHour = [
    ...samples(120, (i) => now - 45 * MINUTE + i * 20_000, 1),
    fixture('ecs-stopinstance-both-resources', { eventId: STOP.eventId, requestId: STOP.eventId.toUpperCase(), eventTime: utc(now - 7 * MINUTE), sourceIpAddress: STOP.ip }),
    fixture('console-signin-root', { eventId: 'console-signin-root-0001', requestId: 'console-signin-root-0001', eventTime: utc(now - 20 * MINUTE) }),
    fixture('ecs-stopinstance-both-resources', {
      eventId: 'console-xss-0001',
      requestId: 'console-xss-0001',
      eventTime: utc(now - 30 * MINUTE),
      eventName: XSS,
      errorCode: 'Forbidden',
      errorMessage: XSS,
      referencedResources: { 'ACS::ECS::Instance': [XSS] },
      userIdentity: { type: 'ram-user', principalId: '287345123456780099', accountId: A, accessKeyId: 'LTAI5tXss0099', userName: XSS },
    }),
    // After StartLogging (to the second, rounded up), so the trail delivers them.
    ...samples(2, () => Math.ceil(now / 1000) * 1000, 900),
  ];
  const earlier = samples(40, (i) => now - 2 * 60 * MINUTE - i * 30 * MINUTE, 500);
  // CreateTrail and StartLogging above are recorded as events of A too (shared/trails/api-events.ts).
  recent = lastHour.length + SETUP_WRITE_CALLS;
  total = recent + earlier.length;
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify([...lastHour, ...earlier]));
  expect(res.status).toBe(200);
  const window = { StartTime: utc(now - 24 * 60 * MINUTE), EndTime: utc(now + MINUTE) };
  await waitUntil(async () => (await countEvents(window)) === total, 30_000, `${total} events in history`);
  await waitUntil(
    async () => {
      await stack.emulator.fireTimer('summarize-cron', 'every-minute');
      return (await countEvents(window, 'LookupEventSummaries')) === total;
    },
    30_000,
    'the summaries of every event',
  );
  // The archive deliverer's flush timer writes the trail's file, so the console shows a delivery.
  await waitUntil(
    async () => {
      await stack.emulator.fireTimer('deliver-oss', 'flush');
      return (await rpc({ Action: 'GetTrailStatus', Name: TRAIL })).body['LatestDeliveryTime'];
    },
    30_000,
    'a delivery to the archive',
  );
}, 90_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('lookup-http serves the console from its bundle', () => {
  /** The headers every console answer carries, whatever its status. */
  function expectSecurityHeaders(res: Response, what: string): void {
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const part of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "require-trusted-types-for 'script'", "trusted-types 'none'"]) {
      expect(csp, what).toContain(part);
    }
    expect(csp, what).not.toContain('unsafe-');
    expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
    expect(res.headers.get('x-frame-options'), what).toBe('DENY');
    expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
  }

  it('answers /console with the page, a strict CSP and nosniff, and its files with their types', async () => {
    for (const url of [`${lookupUrl}/console`, `${lookupUrl}/console/`]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expectSecurityHeaders(res, url);
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/console/app.js"></script>');
      expect(html).not.toMatch(/<script>|style=/);
    }
    const js = await fetch(`${lookupUrl}/console/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await fetch(`${lookupUrl}/console/console.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const etag = css.headers.get('etag') ?? '';
    expect(css.headers.get('cache-control')).toBe('no-cache');
    const revalidated = await fetch(`${lookupUrl}/console/console.css`, { headers: { 'if-none-match': etag } });
    expect(revalidated.status).toBe(304);
    expectSecurityHeaders(revalidated, '304');
    const notFound = await fetch(`${lookupUrl}/console/nope`);
    expect(notFound.status).toBe(404);
    expectSecurityHeaders(notFound, '404');
    const posted = await fetch(`${lookupUrl}/console`, { method: 'POST' });
    expect(posted.status).toBe(405);
    expectSecurityHeaders(posted, '405');
    // The API's JSON answers are never sniffed either.
    expect((await fetch(`${lookupUrl}/?Action=DescribeTrails`)).headers.get('x-content-type-options')).toBe('nosniff');
  });

  /** GET with the path sent exactly as written (fetch and URL would resolve the dots first). */
  function rawGet(rawPath: string): Promise<{ status: number; body: string }> {
    const { hostname, port } = new URL(lookupUrl);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: hostname, port, path: rawPath, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('404s unknown console paths, never leaves its folder, and sends browsers at / to the console', async () => {
    for (const p of ['/console/nope', '/console/index.js.map', '/consolex']) {
      const res = await fetch(`${lookupUrl}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.json()).toMatchObject({ Code: 'NotFound' });
    }
    for (const p of ['/console/..%2Findex.js', '/console/%2e%2e/index.js', '/console/../index.js', '/console/..%2f..%2fpackage.json', '/console/%2e%2e%2fapp.js']) {
      const res = await rawGet(p);
      expect(res.status, p).toBe(404);
      expect(JSON.parse(res.body), p).toMatchObject({ Code: 'NotFound' });
    }
    const res = await fetch(`${lookupUrl}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console');
  });

  it("tells a signed caller whose key it is (GetCallerIdentity, the console's sign-in check)", async () => {
    const { status, body } = await rpc({ Action: 'GetCallerIdentity' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ AccountId: A, AccessKeyId: key.accessKeyId, IdentityType: 'Account' });
  });
});

describe.skipIf(SKIP_BROWSER)('the console in Chromium', () => {
  let browser: Browser;
  let page: Page;
  /** Page errors, console errors and CSP violations: none may happen in any step. */
  const problems: string[] = [];
  /** Every URL the page asked for. */
  const requested: string[] = [];
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
  const rowTexts = () => page.locator('tbody.event tr.event-row').allInnerTexts();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM}. Install it with: apt-get install -y chromium (or set CHROMIUM_PATH; TK_SKIP_BROWSER=1 skips the browser test).`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1366, height: 800 }, timezoneId: 'Asia/Shanghai' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lookupUrl });
    // Report CSP (and Trusted Types) violations as console errors (init scripts run outside the CSP).
    await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`);
    page = await context.newPage();
    watch(page);
  }, 30_000);

  /** Records a page's requests and problems. */
  function watch(p: Page): void {
    p.setDefaultTimeout(15_000);
    p.on('request', (request) => requested.push(request.url()));
    p.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    p.on('console', (message) => {
      // A refused sign-in (or an event not found) is an HTTP error the browser logs as a failed load; that one is expected.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
    });
  }

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('refuses a wrong secret with a message that says what is wrong', async () => {
    await page.goto(`${lookupUrl}/console`);
    await page.getByLabel('AccessKey ID').fill(key.accessKeyId);
    await page.getByLabel('AccessKey secret').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error').filter({ hasText: 'The AccessKey ID or secret is wrong' }).waitFor();
    expect(await page.locator('#signin-error').innerText()).toContain('SignatureDoesNotMatch');
    await shot('01-sign-in-wrong-key');
  });

  it('signs in, shows the account and keeps the pair in session storage only', async () => {
    await page.getByLabel('AccessKey secret').fill(key.accessKeySecret);
    await page.getByLabel('AccessKey secret').press('Enter');
    await page.locator('#session-account', { hasText: A }).waitFor();
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.locator('#signin-secret').inputValue()).toBe('');
    expect(await page.evaluate<string>("sessionStorage.getItem('trailkeeper.console.session')")).toContain(key.accessKeyId);
    // The key fields have no name (no form can send them) and the secret is not autocompleted.
    expect(await page.locator('#signin-form [name]').count()).toBe(0);
    expect(await page.locator('#signin-secret').getAttribute('autocomplete')).toBe('off');
  });

  it('labels the presets with their visible text first', async () => {
    await page.getByRole('radio', { name: '1h (last hour)', exact: true }).waitFor({ state: 'attached' });
    await page.getByRole('radio', { name: '30d (last 30 days)', exact: true }).waitFor({ state: 'attached' });
    await page.getByRole('radio', { name: 'Custom range', exact: true }).waitFor({ state: 'attached' });
  });

  it('answers who stopped the instance, from which IP, and when: last hour, Event Name StopInstance', async () => {
    await page.getByRole('radio', { name: 'Last hour' }).check();
    await page.locator('#events-caption', { hasText: `Events 1–20 in the last hour` }).waitFor();
    await page.getByLabel('Filter', { exact: true }).selectOption('EventName');
    await page.locator('#filter-value').fill('StopInstance');
    await page.locator('#filter-value').press('Enter');
    await page.locator('#events-caption', { hasText: 'with Event Name StopInstance' }).waitFor();
    const rows = await rowTexts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('bob (RAM user)');
    expect(rows[0]).toContain('StopInstance');
    expect(rows[0]).toContain('ACS::ECS::Instance');
    expect(rows[0]).toContain(STOP.instance);
    // The time is local (the context runs in Asia/Shanghai) with the UTC instant on hover.
    const time = page.locator('tbody.event time').first();
    expect(await time.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)$/);
    expect(page.url()).toContain('key=EventName&value=StopInstance');
  });

  it('expands the row with the keyboard to the details: source IP, AccessKey, request', async () => {
    const toggle = page.locator('button.expand').first();
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const details = page.locator('tr.event-detail').first();
    await details.waitFor();
    const text = await details.innerText();
    for (const part of ['Source IP', STOP.ip, 'AccessKey', 'LTAI5tBob0006', 'Event Source', 'ecs.aliyuncs.com', 'Region', 'cn-hangzhou', 'Error Code', 'Request ID', 'Event ID', STOP.eventId, 'Read/Write', 'Write']) {
      expect(text).toContain(part);
    }
    await shot('02-events-stopinstance');
  });

  it('opens the event as JSON and copies it', async () => {
    await page.getByRole('button', { name: 'View event' }).click();
    const dialog = page.locator('#event-dialog');
    await dialog.waitFor();
    expect(await page.locator('#event-json').innerText()).toContain(`"eventId": "${STOP.eventId}"`);
    await page.getByRole('button', { name: 'Copy JSON' }).click();
    await page.locator('#copy-status', { hasText: 'Copied' }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toContain(STOP.ip);
    await shot('03-event-json');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('copies a link to the event, which shows it alone in a fresh tab once signed in; a bogus id is not found', async () => {
    const copy = page.getByRole('button', { name: `Copy link to event ${STOP.eventId}` });
    await copy.click();
    await page.locator('tr.event-detail .copy-link-status', { hasText: 'Link copied' }).waitFor();
    const link = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(await copy.getAttribute('data-link')).toBe(link);
    // The event, and the search it was found in (to go back to); never the key.
    expect(link).toBe(`${lookupUrl}/console#tab=events&event=${STOP.eventId}&range=1h&key=EventName&value=StopInstance`);
    expect(link).not.toContain(key.accessKeyId);

    const fresh = await page.context().newPage();
    watch(fresh);
    try {
      await fresh.goto(link);
      await fresh.getByLabel('AccessKey ID').fill(key.accessKeyId);
      await fresh.getByLabel('AccessKey secret').fill(key.accessKeySecret);
      await fresh.getByRole('button', { name: 'Sign in' }).click();
      await fresh.locator('#events-caption', { hasText: `Event ${STOP.eventId}` }).waitFor();
      const detail = fresh.locator('tr.event-detail');
      await detail.waitFor();
      expect(await fresh.locator('tbody.event').count()).toBe(1);
      expect(await fresh.locator('button.expand').getAttribute('aria-expanded')).toBe('true');
      expect(await detail.innerText()).toContain(STOP.ip);
      expect(await fresh.locator('#events-pager').isHidden()).toBe(true);
      await fresh.getByRole('button', { name: 'View event' }).click();
      expect(await fresh.locator('#event-json').innerText()).toContain(`"eventId": "${STOP.eventId}"`);
      await fresh.keyboard.press('Escape');
      await fresh.locator('#event-dialog').waitFor({ state: 'hidden' });
      await fresh.screenshot({ path: path.join(ARTIFACTS, '03-event-link.png'), fullPage: true });
      // Back to the list of the search in the link.
      await fresh.locator('#events-back').click();
      await fresh.locator('#events-caption', { hasText: '1 event in the last hour with Event Name StopInstance' }).waitFor();
      expect(await fresh.locator('#events-back').isHidden()).toBe(true);
      expect(fresh.url()).not.toContain('event=');

      // A link to an event that is not there (pasted into the address bar: only the hash changes).
      await fresh.evaluate(`location.hash = '#tab=events&event=no-such-event-0000'`);
      await fresh.locator('#events-state', { hasText: 'Event no-such-event-0000 was not found: it does not exist, is older than 90 days, or belongs to another account.' }).waitFor();
      expect(await fresh.locator('tbody.event').count()).toBe(0);
      await fresh.screenshot({ path: path.join(ARTIFACTS, '03-event-link-not-found.png') });
      await fresh.locator('#events-state').getByRole('button', { name: 'Back to the event list' }).click();
      await fresh.locator('#events-caption', { hasText: 'in the last day' }).waitFor();
    } finally {
      await fresh.close();
    }
  });

  it('shows markup in event fields as text, in the row, the details and the JSON', async () => {
    await page.getByRole('radio', { name: 'Last hour' }).check();
    await page.getByLabel('Filter', { exact: true }).selectOption('EventName');
    await page.locator('#filter-value').fill(XSS);
    await page.locator('#filter-value').press('Enter');
    await page.locator('#events-caption', { hasText: `with Event Name ${XSS}` }).waitFor();
    const rows = await rowTexts();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.split(XSS).length).toBe(4); // user, event name and resource name
    await page.locator('button.expand').first().click();
    expect(await page.locator('tr.event-detail').first().innerText()).toContain(`Forbidden: ${XSS}`);
    await page.getByRole('button', { name: 'View event' }).click();
    expect(await page.locator('#event-dialog-title').innerText()).toContain(XSS);
    expect(await page.locator('#event-json').innerText()).toContain(`"errorMessage": ${JSON.stringify(XSS)}`);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__x')).toBeUndefined();
    await page.keyboard.press('Escape');
    await page.locator('#event-dialog').waitFor({ state: 'hidden' });
  });

  it('pages forward through the last hour', async () => {
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('#events-caption', { hasText: 'Events 1–20 in the last hour,' }).waitFor();
    const first = await rowTexts();
    expect(first).toHaveLength(20);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.locator('#page-label', { hasText: 'Page 2' }).waitFor();
    await page.locator('#events-caption', { hasText: 'Events 21–40' }).waitFor();
    const second = await rowTexts();
    expect(second).toHaveLength(20);
    expect(second.filter((row) => first.includes(row))).toEqual([]);
    await shot('04-events-page-2');
    // To the end: 50 a page, the last page says so.
    await page.getByLabel('Rows per page').selectOption('50');
    await page.locator('#events-caption', { hasText: 'Events 1–50' }).waitFor();
    for (let p = 2; p <= Math.ceil(recent / 50); p += 1) {
      await page.getByRole('button', { name: 'Next page' }).click();
      await page.locator('#page-label', { hasText: `Page ${p}` }).waitFor();
    }
    await page.locator('#events-caption', { hasText: `Events 101–${recent} in the last hour (the last page)` }).waitFor();
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
  });

  it('searches a custom range, filled in from the window shown', async () => {
    await page.getByRole('radio', { name: 'Custom range' }).check();
    expect(await page.locator('#range-from').inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#events-caption', { hasText: 'Events 1–50 between' }).waitFor();
    expect(page.url()).toContain('range=custom');
    expect(await rowTexts()).toHaveLength(50);
  });

  it('says what to do when lookup-http cannot be reached, and recovers on Retry', async () => {
    const apiCalls = (url: URL) => url.searchParams.has('Action');
    await page.route(apiCalls, (route) => route.abort('connectionrefused'));
    await page.getByRole('radio', { name: 'Last 3 hours' }).check();
    await page.locator('#events-state', { hasText: `Cannot reach lookup-http at ${lookupUrl}/` }).waitFor();
    await shot('05-events-unreachable', false);
    await page.unroute(apiCalls);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.locator('#events-caption', { hasText: 'in the last 3 hours' }).waitFor();
  });

  it('never lets a slow answer to an older search overwrite a newer one', async () => {
    const lookups = (url: URL) => url.searchParams.get('Action') === 'LookupEvents';
    let first = true;
    let releaseSlow!: () => void;
    const slowDone = new Promise<void>((resolve) => (releaseSlow = resolve));
    await page.route(lookups, async (route) => {
      if (!first) return route.continue();
      first = false;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The page may have given up on it meanwhile (an aborted fetch): either way, it is answered late.
      await route.continue().catch(() => undefined);
      releaseSlow();
    });
    await page.getByRole('radio', { name: 'Last hour' }).check(); // the slow one
    await page.getByRole('radio', { name: 'Last 12 hours' }).check();
    await page.locator('#events-caption', { hasText: 'in the last 12 hours' }).waitFor();
    await slowDone;
    await page.waitForTimeout(200);
    await page.unroute(lookups);
    expect(await page.locator('#events-caption').innerText()).toContain('in the last 12 hours');
    expect(await page.locator('input[name="range"]:checked').inputValue()).toBe('12h');
    await page.getByRole('radio', { name: 'Last 3 hours' }).check();
    await page.locator('#events-caption', { hasText: 'in the last 3 hours' }).waitFor();
  });

  it('says when nothing matches, and offers a wider range and no filter', async () => {
    await page.getByLabel('Filter', { exact: true }).selectOption('EventName');
    await page.locator('#filter-value').fill('NoSuchEvent');
    await page.locator('#filter-value').press('Enter');
    await page.locator('#events-state', { hasText: 'No events in the last 3 hours with Event Name NoSuchEvent' }).waitFor();
    await page.getByRole('button', { name: 'Search the last 12 hours' }).click();
    await page.locator('#events-state', { hasText: 'No events in the last 12 hours with Event Name NoSuchEvent' }).waitFor();
    await page.getByRole('button', { name: 'Clear the filter' }).click();
    await page.locator('#events-caption', { hasText: 'in the last 12 hours' }).waitFor();
  });

  it('shows the summaries with a bar per 2-hour window', async () => {
    await page.getByRole('tab', { name: 'Summaries' }).click();
    await page.getByRole('radio', { name: 'Last day' }).check();
    // Summaries count whole 2-hour windows, and the caption says so.
    await page.locator('#summaries-caption', { hasText: new RegExp(`^${total} events in the \\d+ 2-hour windows overlapping the last day\\.$`) }).waitFor();
    const bars = page.locator('svg.bar-chart rect.bar');
    expect(await bars.count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('svg.bar-chart .bar-group').first().locator('title').textContent()).toMatch(/\d+ events?$/);
    expect(await page.locator('#summaries-body tr').count()).toBeGreaterThan(10);
    expect(await page.locator('#summaries-body').innerText()).toContain('bob (RAM user)');
    await shot('06-summaries', false);
  });

  it("drills down from a summaries bar, or a row's window, to its events", async () => {
    // The second window with events: wholly inside the day (the first window starts before it).
    const bar = page.locator('svg.bar-chart .bar-group').nth(1);
    const label = (await bar.getAttribute('aria-label')) ?? '';
    const count = /^Show the (\d+) events of /.exec(label)?.[1] ?? (label.startsWith('Show the event of ') ? '1' : '');
    expect(count, label).toMatch(/^\d+$/);
    const start = Number(await bar.getAttribute('data-window-start'));
    // One bar is in the tab order at a time; arrow keys move along them.
    expect(await page.locator('svg.bar-chart .bar-group[tabindex="0"]').count()).toBe(1);
    await page.locator('svg.bar-chart .bar-group').first().focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate<string | null>(`document.activeElement?.getAttribute('data-window-start') ?? null`)).toBe(String(start));
    expect(await bar.getAttribute('tabindex')).toBe('0');
    await bar.click();
    await page.locator('#events-caption', { hasText: new RegExp(`^${count} events? between `) }).waitFor();
    expect(await page.getByRole('tab', { name: 'Event history' }).getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('input[name="range"]:checked').inputValue()).toBe('custom');
    const range = new URLSearchParams(new URL(page.url()).hash.slice(1));
    expect([range.get('tab'), range.get('range'), range.get('from'), range.get('to')]).toEqual(['events', 'custom', utc(start), utc(start + 2 * 60 * MINUTE - 1000)]);
    expect(await rowTexts()).toHaveLength(Number(count));
    await shot('06-summaries-drill-down', false);
    // Back to the summaries; a row's window, with the keyboard.
    await page.evaluate('history.back()');
    await page.locator('#summaries-caption', { hasText: 'overlapping the last day' }).waitFor();
    const row = page.locator('#summaries-body button.window-link').first();
    await row.focus();
    await page.keyboard.press('Enter');
    await page.locator('#events-caption', { hasText: / between / }).waitFor();
    expect(new URL(page.url()).hash).toContain('range=custom');
    expect(await rowTexts()).not.toHaveLength(0);
  });

  it('stops and starts a trail', async () => {
    await page.getByRole('tab', { name: 'Trails' }).click();
    const row = page.locator(`tr[data-trail="${TRAIL}"]`);
    await row.locator('.badge', { hasText: 'Enable' }).waitFor();
    expect(await row.locator('td[data-label="Latest delivery"] time').getAttribute('title')).toMatch(/Z \(UTC\)$/);
    expect(await row.locator('td[data-label="Latest delivery"]').innerText()).toMatch(/^OSS: /);
    // Stopping asks first; Cancel (or Escape) leaves the trail logging.
    const confirm = page.getByRole('dialog', { name: 'Stop logging?' });
    await row.getByRole('button', { name: `Stop logging ${TRAIL}`, exact: true }).click();
    await confirm.waitFor();
    expect(await confirm.innerText()).toContain(TRAIL);
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    expect((await rpc({ Action: 'GetTrailStatus', Name: TRAIL })).body).toMatchObject({ IsLogging: true });
    await row.getByRole('button', { name: `Stop logging ${TRAIL}`, exact: true }).click();
    await confirm.waitFor();
    await shot('07-trails-confirm-stop', false);
    await confirm.getByRole('button', { name: `Stop logging ${TRAIL}` }).click();
    await page.locator(`tr[data-trail="${TRAIL}"] .badge`, { hasText: 'Disable' }).waitFor();
    await page.locator('#status', { hasText: `Trail ${TRAIL} stopped logging` }).waitFor();
    expect((await rpc({ Action: 'DescribeTrails' })).body['TrailList']).toEqual([expect.objectContaining({ Name: TRAIL, Status: 'Disable' })]);
    await shot('07-trails-stopped');
    await page.locator(`tr[data-trail="${TRAIL}"]`).getByRole('button', { name: `Start logging ${TRAIL}`, exact: true }).click();
    await page.locator(`tr[data-trail="${TRAIL}"] .badge`, { hasText: 'Enable' }).waitFor();
    expect((await rpc({ Action: 'GetTrailStatus', Name: TRAIL })).body).toMatchObject({ IsLogging: true });
    await shot('08-trails-started');
  });

  it('opens a shared link, and reads as cards on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${lookupUrl}/console#tab=events&range=1h&key=SourceIpAddress&value=${STOP.ip}`);
    await page.locator('#events-caption', { hasText: `with Source IP ${STOP.ip}` }).waitFor();
    expect(await rowTexts()).toHaveLength(1);
    // Cards: the column headings are visually hidden and each event fills the width.
    expect((await page.locator('#events-table thead').boundingBox())?.width).toBeLessThanOrEqual(1);
    expect((await page.locator('tbody.event').first().boundingBox())?.width).toBeGreaterThan(300);
    // The cards keep their table semantics (explicit roles), for screen readers too.
    const table = page.getByRole('table', { name: 'Events' });
    expect(await table.getByRole('row').count()).toBeGreaterThanOrEqual(2);
    expect(await table.getByRole('cell', { name: STOP.instance }).count()).toBe(1);
    await shot('09-phone-events');
  });

  it('searches a preset again when its tab is shown more than a minute after it was searched', async () => {
    const startOf = (url: string) => Date.parse(new URL(url).searchParams.get('StartTime') ?? '');
    await page.getByRole('tab', { name: 'Trails' }).click();
    await page.locator(`tr[data-trail="${TRAIL}"]`).waitFor();
    const before = await page.evaluate<number>('Date.now()');
    await page.clock.install();
    await page.clock.fastForward('02:00');
    const lookup = page.waitForRequest((request) => new URL(request.url()).searchParams.get('Action') === 'LookupEvents');
    await page.getByRole('tab', { name: 'Event history' }).click();
    // "The last hour" now ends about two minutes later than when it was first searched.
    expect(startOf((await lookup).url()) - (before - 60 * MINUTE)).toBeGreaterThan(MINUTE);
    await page.locator('#events-caption', { hasText: `with Source IP ${STOP.ip}` }).waitFor();
    expect(await rowTexts()).toHaveLength(1);
  });

  it('signs out, forgetting the pair, and shows a link pasted meanwhile once signed in again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('AccessKey ID').waitFor();
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    // A link pasted into the address bar while signed out (only the hash changes).
    await page.evaluate(`location.hash = '#tab=events&range=3h&key=EventName&value=ConsoleSignin'`);
    await page.getByLabel('AccessKey ID').fill(key.accessKeyId);
    await page.getByLabel('AccessKey secret').fill(key.accessKeySecret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#events-caption', { hasText: 'in the last 3 hours with Event Name ConsoleSignin' }).waitFor();
    expect(await rowTexts()).toHaveLength(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('AccessKey ID').waitFor();
  });

  it('never put the secret in a URL, a cookie or local storage', async () => {
    expect(requested.length).toBeGreaterThan(20);
    for (const secret of [key.accessKeySecret, encodeURIComponent(key.accessKeySecret), 'not-the-secret']) {
      expect(requested.filter((url) => url.includes(secret))).toEqual([]);
    }
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });
});
