/**
 * The console's Compliance tab end to end. The stack is seeded through its real path: a
 * Write-only, one-region trail (created and started through the trail API) and a console logon
 * without MFA by a user whose name is markup and a spreadsheet formula (ingested). Then, in
 * headless Chromium: sign in, open Compliance, see the controls grouped by source with their
 * badges, evidence and fixing calls (the bucket settings the embedded S3 server cannot report
 * UNKNOWN with its answer), the markup shown as text; export the CSV (downloaded, formula
 * guarded); print it (under print media only the report shows); make the fix through the API
 * and run it again (the control passes); ask for an account the caller does not manage
 * (NoPermission shown); read it on a phone. No page error or CSP violation; the secret never in
 * a URL, cookie or local storage. Screenshots go to .test-artifacts/console/ (compliance-*.png).
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM_PATH; TK_SKIP_BROWSER=1
 * runs only the browser-less seeding checks.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { launchConsoleBrowser, signIn } from '../helpers/console-browser.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const SKIP_BROWSER = process.env['TK_SKIP_BROWSER'] === '1';
const ARTIFACTS = path.join(repoRoot, '.test-artifacts', 'console');

const A = '6234567890123456';
/** Markup and a spreadsheet formula as a user name: text on the page, text in the CSV. */
const NASTY = '=HYPERLINK("http://x")<img src=x onerror="window.__x=1">';

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let lookupUrl: string;

async function rpc(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callRpc(lookupUrl, key, params, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'tk-web-logs'] });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  expect((await rpc({ Action: 'CreateTrail', Name: 'web-trail', OssBucketName: 'tk-web-logs', EventRW: 'Write', TrailRegion: 'cn-hangzhou' })).status).toBe(200);
  expect((await rpc({ Action: 'StartLogging', Name: 'web-trail' })).status).toBe(200);
  const logon = syntheticEvent(A, {
    eventId: 'web-signin-1',
    eventType: 'ConsoleSignin',
    eventName: 'ConsoleSignin',
    serviceName: 'AasSub',
    eventSource: 'signin.aliyun.com',
    referencedResources: {},
    userIdentity: { type: 'ram-user', principalId: '2001', accountId: A, userName: NASTY },
    additionalEventData: { mfaChecked: 'false' },
  });
  expect((await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify([logon]))).status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(A, ['web-signin-1']))[0], 20_000, 'the logon in history');
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('the seeded stack', () => {
  it('fails CIS-2.1 and the MFA check', async () => {
    const { body } = await rpc({ Action: 'GetComplianceReport' });
    const status = (id: string) => (body['Controls'] as { Id: string; Status: string }[]).find((c) => c.Id === id)?.Status;
    expect([status('CIS-2.1'), status('GOV-CONSOLE-MFA'), status('BP-ARCHIVE-ENCRYPTION')]).toEqual(['FAIL', 'FAIL', 'UNKNOWN']);
  });
});

describe.skipIf(SKIP_BROWSER)('the Compliance tab in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requested: string[] = [];
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `compliance-${name}.png`), fullPage });
  const row = (id: string) => page.locator(`#compliance-groups tr[data-control="${id}"]`);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ browser, page } = await launchConsoleBrowser({ problems, requested }, { acceptDownloads: true, timeoutMs: 30_000 }));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('signs in and opens Compliance: controls grouped by source with badges, evidence and the fixing calls', async () => {
    await signIn(page, lookupUrl, key, A);
    await page.getByRole('tab', { name: 'Compliance' }).click();
    expect(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('tab')).toBe('compliance');
    await page.locator('#compliance-summary', { hasText: /Not compliant: \d+ control\(s\) fail\./ }).waitFor();
    // no time range or filter: the report takes none
    expect(await page.locator('#query').isVisible()).toBe(false);
    expect(await page.locator('#compliance-groups h3').allInnerTexts()).toEqual(['CIS Alibaba Cloud Foundation Benchmark', 'Best practice (MLPS 2.0)', 'Governance (from the events)']);
    const cis = row('CIS-2.1');
    expect(await cis.getAttribute('data-status')).toBe('FAIL');
    expect(await cis.locator('.badge').innerText()).toBe('Fail');
    expect(await cis.locator('td[data-label="Evidence"]').innerText()).toContain('trail web-trail: logging, EventRW=Write, TrailRegion=cn-hangzhou, oss://tk-web-logs');
    expect(await cis.locator('td[data-label="Fix"] code').innerText()).toBe('UpdateTrail --Name web-trail --EventRW All --TrailRegion All');
    const encryption = row('BP-ARCHIVE-ENCRYPTION');
    expect(await encryption.locator('.badge').innerText()).toBe('Unknown');
    expect(await encryption.locator('td[data-label="Evidence"]').innerText()).toContain('does not implement GetBucketEncryption');
    expect(await row('BP-LOGSTORE-RETENTION').locator('.badge').innerText()).toBe('Not applicable');
    // the user name is markup: text, never an element, never run
    const mfa = row('GOV-CONSOLE-MFA');
    expect(await mfa.locator('.badge').innerText()).toBe('Fail');
    expect(await mfa.innerText()).toContain(NASTY);
    expect(await page.locator('#panel-compliance img').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__x')).toBeUndefined();
    await shot('01-report');
  });

  it('exports the report as CSV, formula-guarded', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^compliance-${A}-\\d{8}T\\d{6}Z\\.csv$`));
    const csv = readFileSync((await download.path()) as string, 'utf8');
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('Group,Control,Title,Source,Status,Evidence,Remediation');
    expect(csv).toContain('ActionTrail: UpdateTrail --Name web-trail --EventRW All --TrailRegion All');
    // 14 controls, a header and the final line end
    expect(lines).toHaveLength(16);
    // the remediation names the user: quoted for the shell, and no cell of the file starts a formula
    expect(csv).toContain(`UpdateLoginProfile --UserName '=HYPERLINK(""http://x"")`);
    expect(csv.split(/,|\r\n|\n/).filter((cell) => /^"?[=+\-@]/.test(cell))).toEqual([]);
  });

  it('prints the report alone', async () => {
    await page.emulateMedia({ media: 'print' });
    for (const hidden of ['.topbar', '.tabs', '#compliance-form', '#compliance-csv']) expect({ hidden, visible: await page.locator(hidden).isVisible() }).toEqual({ hidden, visible: false });
    expect(await page.locator('#compliance-groups table').first().isVisible()).toBe(true);
    await shot('02-print');
    await page.emulateMedia({ media: 'screen' });
    expect(await page.locator('.tabs').isVisible()).toBe(true);
  });

  it('runs again after the fix is made: the control passes', async () => {
    expect((await rpc({ Action: 'UpdateTrail', Name: 'web-trail', EventRW: 'All', TrailRegion: 'All' })).status).toBe(200);
    await page.getByRole('button', { name: 'Run again' }).click();
    await row('CIS-2.1').locator('.badge', { hasText: 'Pass' }).waitFor();
    expect(await row('CIS-2.1').locator('td[data-label="Fix"]').innerText()).toBe('—');
  });

  it('says NoPermission for an account the caller does not manage', async () => {
    await page.getByLabel('Account').fill('9999999999999999');
    await page.getByLabel('Account').press('Enter');
    await page.locator('#compliance-state', { hasText: 'NoPermission' }).waitFor();
    // no report under the error (the one shown was another account's)
    expect(await page.locator('#compliance-summary').isVisible()).toBe(false);
    expect(await page.locator('#compliance-groups tr').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Export CSV' }).isDisabled()).toBe(true);
    // the account never reaches the page's URL (the form never submits)
    expect(page.url()).not.toContain('9999999999999999');
    await page.getByLabel('Account').fill('12');
    await page.getByRole('button', { name: 'Show report' }).click();
    await page.locator('#compliance-state', { hasText: 'An account id is 16 digits' }).waitFor();
    await page.getByLabel('Account').fill('');
    await page.getByRole('button', { name: 'Show report' }).click();
    await page.locator('#compliance-summary').waitFor();
    await page.locator('#compliance-state').waitFor({ state: 'hidden' });
    expect(await row('CIS-2.1').locator('.badge').innerText()).toBe('Pass');
  });

  it('reads as cards on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await row('CIS-2.1').waitFor();
    expect((await page.locator('#compliance-groups thead').first().boundingBox())?.width ?? 0).toBeLessThanOrEqual(1);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('03-phone');
  });

  it('never put the secret in a URL, a cookie or local storage', async () => {
    expect(requested.length).toBeGreaterThan(5);
    for (const secret of [key.accessKeySecret, encodeURIComponent(key.accessKeySecret)]) expect(requested.filter((url) => url.includes(secret))).toEqual([]);
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
  });
});
