/**
 * The console's browser tests' page (playwright-core on the system chromium): CSP and Trusted Types
 * violations, page errors and console errors collected in `problems` (each test expects none), every
 * requested URL in `requested` (to check that no secret reaches a URL), and the sign-in.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Credentials } from '../../adapters/client/signed-fetch.ts';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface ConsoleBrowser {
  browser: Browser;
  page: Page;
}

export async function launchConsoleBrowser(
  sinks: { problems: string[]; requested?: string[] },
  options: { viewport?: { width: number; height: number }; timezoneId?: string; acceptDownloads?: boolean; timeoutMs?: number; acceptDialogs?: boolean } = {},
): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}. Install it with: apt-get install -y chromium (or set CHROMIUM_PATH; TK_SKIP_BROWSER=1 skips the browser test).`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1366, height: 800 },
    timezoneId: options.timezoneId ?? 'Asia/Shanghai',
    acceptDownloads: options.acceptDownloads ?? false,
  });
  // Report CSP (and Trusted Types) violations as console errors (init scripts run outside the CSP).
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`);
  const page = await context.newPage();
  page.setDefaultTimeout(options.timeoutMs ?? 15_000);
  const { problems, requested } = sinks;
  if (requested) page.on('request', (request) => requested.push(request.url()));
  if (options.acceptDialogs) page.on('dialog', (dialog) => void dialog.accept());
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A refused call the test makes on purpose (a 4xx) is logged by the browser as a failed load; that one is expected.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
  });
  return { browser, page };
}

/** Signs in on the console with an AccessKey pair and waits for the account to show. */
export async function signIn(page: Page, lookupUrl: string, key: Credentials, accountId: string): Promise<void> {
  await page.goto(`${lookupUrl}/console`);
  await page.getByLabel('AccessKey ID').fill(key.accessKeyId);
  await page.getByLabel('AccessKey secret').fill(key.accessKeySecret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#session-account', { hasText: accountId }).waitFor();
}
