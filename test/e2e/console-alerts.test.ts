/**
 * The console's Alerts tab end to end, in headless Chromium against a private stack and a
 * DingTalk-shaped receiver this test starts (signature checked): sign in, open Alerts, add a
 * DingTalk channel (URL and secret typed into write-only fields, sent in a POST body, cleared,
 * shown back as the host only), send a test (delivered, signed), create a rule from the
 * "Console logon without MFA" template notifying that channel, ingest such a logon by a user
 * whose name is markup, see the notification arrive and the rule's delivery log (sent, the
 * markup as text), refuse a custom condition with an unknown field (the field named), disable
 * the rule, read the tab on a phone. No page error or CSP violation; neither the webhook URL's
 * token, its secret nor the AccessKey secret in any request URL, cookie or storage.
 * Screenshots go to .test-artifacts/console/ (alerts-*.png).
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM_PATH; TK_SKIP_BROWSER=1
 * runs only the browser-less check.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { launchConsoleBrowser, signIn } from '../helpers/console-browser.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const SKIP_BROWSER = process.env['TK_SKIP_BROWSER'] === '1';
const ARTIFACTS = path.join(repoRoot, '.test-artifacts', 'console');

const A = '6634567890123456';
const NASTY = '<img src=x onerror="window.__x=1">mallory';
const WEB_TOKEN = 'webTokenDoNotLeak123';
const WEB_SECRET = 'SECwebSecretDoNotLeak0123456789abcdef';

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let lookupUrl: string;
let receiver: AlertReceiver;

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging'], env: { TK_ALERTS_ALLOW_PRIVATE_NETWORKS: 'true' } });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  receiver = await startAlertReceiver({ dingTalkSecret: WEB_SECRET });
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  redis?.disconnect();
  await stack?.stop();
});

describe('the seeded stack', () => {
  it('offers the built-in templates', async () => {
    const res = await callRpc(lookupUrl, key, { Action: 'ListAlertTemplates' });
    const body = (await res.json()) as { Templates: { Id: string }[] };
    expect(body.Templates.map((t) => t.Id)).toContain('logon-without-mfa');
  });
});

describe.skipIf(SKIP_BROWSER)('the Alerts tab in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requested: string[] = [];
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(ARTIFACTS, `alerts-${name}.png`), fullPage });
  const dingtalk = () => receiver.received.filter((r) => r.path === '/dingtalk/web');

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ browser, page } = await launchConsoleBrowser({ problems, requested }, { acceptDialogs: true }));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  it('signs in, opens Alerts and adds a DingTalk channel: the URL and secret are sent once and shown back as the host only', async () => {
    await signIn(page, lookupUrl, key, A);
    await page.getByRole('tab', { name: 'Alerts' }).click();
    expect(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('tab')).toBe('alerts');
    await page.locator('#alerts-rules-body', { hasText: 'No alert rules yet' }).waitFor();
    expect(await page.locator('#query').isVisible()).toBe(false);

    await page.getByLabel('Name', { exact: true }).nth(1).fill('Ops robot');
    await page.getByLabel('Type', { exact: true }).selectOption('dingtalk');
    await page.getByLabel('Webhook URL').fill(`${receiver.url}/dingtalk/web?access_token=${WEB_TOKEN}`);
    await page.getByLabel('Signing secret (DingTalk)').fill(WEB_SECRET);
    await page.getByRole('button', { name: 'Add channel' }).click();
    const channel = page.locator('#alerts-channels-body tr[data-channel]');
    await channel.waitFor();
    expect(await channel.locator('th').innerText()).toBe('Ops robot');
    expect(await channel.locator('td[data-label="URL"]').innerText()).toBe(`${receiver.url}/… (signed)`);
    expect(await page.getByLabel('Webhook URL').inputValue()).toBe('');
    expect(await page.getByLabel('Signing secret (DingTalk)').inputValue()).toBe('');
    await shot('01-channel');
  });

  it('sends a test to the channel: delivered, signed', async () => {
    await page.locator('#alerts-channels-body tr[data-channel]').getByRole('button', { name: 'Send a test' }).click();
    await page.locator('#alerts-channels-body', { hasText: 'Delivered (HTTP 200).' }).waitFor();
    expect(dingtalk()).toHaveLength(1);
    expect(dingtalk()[0]?.signatureValid).toBe(true);
    expect((dingtalk()[0]?.body as { markdown: { title: string } }).markdown.title).toContain('[Test]');
  });

  it('creates a rule from a template; a logon without MFA is notified and shows in its delivery log, markup as text', async () => {
    await page.getByLabel('Name', { exact: true }).first().fill('No MFA');
    await page.getByLabel('Template', { exact: true }).selectOption('logon-without-mfa');
    await page.getByLabel('Ops robot').check();
    await page.getByRole('button', { name: 'Create rule' }).click();
    const rule = page.locator('#alerts-rules-body tr[data-rule]');
    await rule.waitFor();
    expect(await rule.locator('th').innerText()).toContain('No MFA');
    expect(await rule.locator('td[data-label="Notifies"]').innerText()).toBe('Ops robot');

    const logon = syntheticEvent(A, {
      eventId: 'alerts-web-signin-1',
      eventType: 'ConsoleSignin',
      eventName: 'ConsoleSignin',
      serviceName: 'AasSub',
      eventSource: 'signin.aliyun.com',
      referencedResources: {},
      userIdentity: { type: 'ram-user', principalId: '2001', accountId: A, userName: NASTY },
      additionalEventData: { mfaChecked: 'false' },
    });
    expect((await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify([logon]))).status).toBe(200);
    await waitUntil(async () => dingtalk().length >= 2, 60_000, 'the notification');
    expect(dingtalk()[1]?.signatureValid).toBe(true);

    await rule.getByRole('button', { name: 'Delivery log' }).click();
    const entry = page.locator('#alert-history tr[data-outcome="sent"]');
    await entry.waitFor();
    expect(await entry.locator('td[data-label="Group"]').innerText()).toBe(NASTY);
    expect(await entry.locator('td[data-label="Channel"]').innerText()).toBe('Ops robot');
    expect(await page.evaluate('window.__x')).toBeUndefined();
    await shot('02-delivery-log');
  });

  it('refuses a custom condition with an unknown field, naming it; disables the rule', async () => {
    await page.getByLabel('Name', { exact: true }).first().fill('Bad');
    await page.getByLabel('Template', { exact: true }).selectOption('custom');
    await page.getByLabel('Condition (JSON)').fill('{"field":"password","equals":"x"}');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.locator('#alert-rule-error', { hasText: 'Condition' }).waitFor();
    expect(await page.locator('#alert-rule-error').innerText()).toContain('field must be one of');

    await page.locator('#alerts-rules-body tr[data-rule]').getByRole('button', { name: 'Disable' }).click();
    await page.locator('#alerts-rules-body tr[data-rule] .badge', { hasText: 'Disabled' }).waitFor();
  });

  it('reads on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#alerts-rules-body tr[data-rule]').waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('03-phone');
  });

  it('never put a secret in a URL, a cookie or the browser storage', async () => {
    expect(requested.length).toBeGreaterThan(5);
    for (const secret of [key.accessKeySecret, WEB_TOKEN, WEB_SECRET]) {
      expect(requested.filter((url) => url.includes(secret) || url.includes(encodeURIComponent(secret)))).toEqual([]);
    }
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    const session = await page.evaluate<string>('JSON.stringify(Object.entries(sessionStorage))');
    expect(session).not.toContain(WEB_TOKEN);
    expect(session).not.toContain(WEB_SECRET);
  });
});
