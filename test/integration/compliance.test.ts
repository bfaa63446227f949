/**
 * The compliance report end to end (docs/design.md §3.11), on a private stack through
 * lookup-http's signed GetComplianceReport (@alicloud/openapi-client) and `npm run compliance`:
 * one account per case, each with its trail configured through the trail API —
 *  - a trail that passes every trail control (the embedded S3 server cannot report bucket
 *    settings: those controls are UNKNOWN with its answer, never PASS);
 *  - a Write-only, one-region trail: FAIL with the exact UpdateTrail, which, made, turns PASS;
 *  - no trail: FAIL with CreateTrail, the bucket controls NOT_APPLICABLE;
 *  - a stopped trail: GOV-TRAIL-STOPPED names the StopLogging call and fails until StartLogging;
 *  - a digest folder holding a forged digest: BP-DIGEST-CHAIN FAILs;
 *  - seeded events (root console logons without MFA, root AccessKey calls) in a member account,
 *    covered by its management account's organization trail, read by the management account;
 * and the CLI's exit status (1 on a FAIL, 0 without) and NoPermission for other accounts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { archiveFileKey, digestKey } from '../../shared/archive/layout.ts';
import type { ComplianceReport, ReportControl } from '../../shared/compliance/report.ts';
import { callAction, openApiClient } from '../helpers/openapi-client.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const PASS = '3000000000000001';
const NARROW = '3000000000000002';
const NONE = '3000000000000003';
const STOP = '3000000000000004';
const TAMPER = '3000000000000005';
const MEMBER = '3000000000000006';
const MANAGEMENT = '3000000000000007';
/** Another member of the organization: its folder of the organization archive is not MEMBER's to see. */
const OTHER_MEMBER = '3000000000000008';
const BUCKETS = ['trailkeeper-staging', 'tk-pass-logs', 'tk-narrow-logs', 'tk-stop-logs', 'tk-tamper-logs', 'tk-org-logs'];
const ROOT_KEY = 'LTAI5tRootKeyOfMember01';

let stack: TestStack;
let redis: Redis;
const keys = new Map<string, Credentials>();

const lookupUrl = (): string => stack.emulator.httpUrls['lookup-http'] as string;
const key = (account: string): Credentials => keys.get(account) as Credentials;

/** A signed RPC call (no client-side read timeout: a cold function on a busy machine takes its time). */
async function send(account: string, action: string, query: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callRpc(lookupUrl(), key(account), { Action: action, ...query }, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function call(account: string, action: string, query: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await send(account, action, query);
  if (res.status !== 200) throw new Error(`${action}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function report(account: string, query: Record<string, string> = {}): Promise<ComplianceReport> {
  return (await call(account, 'GetComplianceReport', query)) as unknown as ComplianceReport;
}

function control(r: ComplianceReport, id: string): ReportControl {
  const c = r.Controls.find((x) => x.Id === id);
  if (!c) throw new Error(`no control ${id} in the report`);
  return c;
}

const statusOf = (r: ComplianceReport, id: string): string => control(r, id).Status;
const callsOf = (r: ComplianceReport, id: string): string[] => control(r, id).Remediation.map((x) => x.Call);

async function createTrail(account: string, params: Record<string, string>, start = true): Promise<void> {
  await call(account, 'CreateTrail', params);
  if (start) await call(account, 'StartLogging', { Name: params['Name'] as string });
}

/** Runs `npm run compliance` (the script itself) signed with the account's key against the stack. */
function runCli(account: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'scripts', 'compliance.ts'), ...args],
      { cwd: repoRoot, env: { ...process.env, TK_LOOKUP_URL: lookupUrl(), TK_ACCESS_KEY_ID: key(account).accessKeyId, TK_ACCESS_KEY_SECRET: key(account).accessKeySecret }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 2) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: BUCKETS });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  for (const account of [PASS, NARROW, NONE, STOP, TAMPER, MEMBER, MANAGEMENT]) keys.set(account, await accounts.createKey(account));
  await accounts.addMember(MANAGEMENT, MEMBER, 'rd-compliance');
  await accounts.addMember(MANAGEMENT, OTHER_MEMBER, 'rd-compliance');
  // the digest signing key exists from the first start (npm start creates it), so the chain can be verified
  await ensureSigningKey(redis, stack.secrets);

  const sls = (account: string) => ({ SlsProjectArn: `acs:log:cn-hangzhou:${account}:project/audit`, SlsWriteRoleArn: `acs:ram::${account}:role/aliyunactiontraildefaultrole` });
  await createTrail(PASS, { Name: 'pass-trail', OssBucketName: 'tk-pass-logs', EventRW: 'All', TrailRegion: 'All', ...sls(PASS) });
  await createTrail(NARROW, { Name: 'narrow-trail', OssBucketName: 'tk-narrow-logs', EventRW: 'Write', TrailRegion: 'cn-hangzhou' });
  await createTrail(STOP, { Name: 'stop-trail', OssBucketName: 'tk-stop-logs', EventRW: 'All', TrailRegion: 'All' });
  await call(STOP, 'StopLogging', { Name: 'stop-trail' });
  await createTrail(TAMPER, { Name: 'tamper-trail', OssBucketName: 'tk-tamper-logs', EventRW: 'All', TrailRegion: 'All' });
  await createTrail(MANAGEMENT, { Name: 'org-trail', OssBucketName: 'tk-org-logs', EventRW: 'All', TrailRegion: 'All', IsOrganizationTrail: 'true' });

  // the tamper trail's last hour: an archive file no digest lists, and a digest that is not one (not signed)
  const s3 = new S3Client({ endpoint: stack.s3Url, region: 'cn-hangzhou', forcePathStyle: true, credentials: stack.s3Credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
  const hourAgo = new Date(Date.now() - 3_600_000);
  const body = Buffer.from('[]');
  const file = archiveFileKey({ region: 'cn-hangzhou', deliveredAt: hourAgo, eventCount: 0, fileSize: body.length, md5: createHash('md5').update(body).digest('hex') });
  await s3.send(new PutObjectCommand({ Bucket: 'tk-tamper-logs', Key: file, Body: body }));
  const forged = digestKey({ trailName: 'tamper-trail', region: 'cn-hangzhou', accountId: TAMPER, hourStart: hourAgo });
  await s3.send(new PutObjectCommand({ Bucket: 'tk-tamper-logs', Key: forged, Body: '{"forged": true}' }));
  // a forged digest in the other member's folder of the organization trail's archive
  const otherForged = digestKey({ trailName: 'org-trail', region: 'cn-hangzhou', organization: { orgId: 'rd-compliance', accountId: OTHER_MEMBER }, hourStart: hourAgo });
  await s3.send(new PutObjectCommand({ Bucket: 'tk-org-logs', Key: otherForged, Body: '{"forged": true}' }));
  s3.destroy();

  // the member's governance events: four root console logons without MFA, a RAM user's with MFA, two calls with a root AccessKey
  const at = (minutesAgo: number) => Date.now() - minutesAgo * 60_000;
  const root = { type: 'root-account', principalId: MEMBER, accountId: MEMBER, userName: 'root' };
  const signin = (n: number) =>
    syntheticEvent(MEMBER, { eventId: `cmp-root-signin-${n}`, eventType: 'ConsoleSignin', eventName: 'ConsoleSignin', serviceName: 'AasSub', eventSource: 'signin.aliyun.com', eventRW: 'Write', referencedResources: {}, userIdentity: root, additionalEventData: { isMFAChecked: 'false', loginAccount: 'root' } }, at(60 + n));
  const events = [
    ...[1, 2, 3, 4].map(signin),
    syntheticEvent(MEMBER, { eventId: 'cmp-ram-signin', eventType: 'ConsoleSignin', eventName: 'ConsoleSignin', serviceName: 'AasSub', eventSource: 'signin.aliyun.com', referencedResources: {}, additionalEventData: { mfaChecked: 'true' } }, at(30)),
    syntheticEvent(MEMBER, { eventId: 'cmp-root-call-1', userIdentity: { ...root, accessKeyId: ROOT_KEY } }, at(20)),
    syntheticEvent(MEMBER, { eventId: 'cmp-root-call-2', userIdentity: { ...root, accessKeyId: ROOT_KEY } }, at(10)),
  ];
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key(MEMBER), JSON.stringify(events));
  expect(await res.json()).toMatchObject({ accepted: events.length, rejected: [] });
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(MEMBER, events.map((e) => String(e['eventId'])))).every(Boolean), 20_000, 'the seeded events in history');
  // the recorded StopLogging call reaches history through the same path
  await waitUntil(async () => (await report(STOP)).Controls.some((c) => c.Id === 'GOV-TRAIL-STOPPED' && c.Status === 'FAIL'), 20_000, 'StopLogging in history');
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('GetComplianceReport on stacks configured to pass and to fail', () => {
  it('a trail of all events, all regions, OSS and logstore passes every trail control; bucket settings the local S3 server cannot report are UNKNOWN with its answer', async () => {
    const r = await report(PASS);
    expect(r.AccountId).toBe(PASS);
    for (const id of ['CIS-2.1', 'BP-ALL-REGIONS', 'BP-ALL-EVENTS', 'BP-DESTINATION', 'BP-LOGSTORE-RETENTION', 'BP-DIGEST-CHAIN']) expect({ id, status: statusOf(r, id) }).toEqual({ id, status: 'PASS' });
    for (const id of ['CIS-2.2', 'BP-ARCHIVE-ENCRYPTION', 'BP-ARCHIVE-RETENTION-LOCK']) {
      expect({ id, status: statusOf(r, id) }).toEqual({ id, status: 'UNKNOWN' });
      expect(control(r, id).Evidence.join('\n')).toMatch(/does not implement Get\w+ \(NotImplemented, HTTP 501\)/);
      expect(control(r, id).Remediation).toEqual([]);
    }
    expect(control(r, 'CIS-2.1').Evidence[0]).toContain('trail pass-trail: logging, EventRW=All, TrailRegion=All, oss://tk-pass-logs');
    expect(control(r, 'BP-LOGSTORE-RETENTION').Evidence[0]).toContain('kept 180 days');
    // its own CreateTrail/StartLogging calls are recorded with its key as root-account: reported, not counted
    expect(statusOf(r, 'GOV-ROOT-ACCESSKEY')).toBe('PASS');
    expect(r.Compliant).toBe(true);
    expect(r.Summary.Fail).toBe(0);
  });

  it('a Write-only, one-region trail fails with the exact UpdateTrail; made, the report passes', async () => {
    const before = await report(NARROW);
    expect(statusOf(before, 'CIS-2.1')).toBe('FAIL');
    expect(callsOf(before, 'CIS-2.1')).toEqual(['UpdateTrail --Name narrow-trail --EventRW All --TrailRegion All']);
    expect(callsOf(before, 'BP-ALL-REGIONS')).toEqual(['UpdateTrail --Name narrow-trail --TrailRegion All']);
    expect(callsOf(before, 'BP-ALL-EVENTS')).toEqual(['UpdateTrail --Name narrow-trail --EventRW All']);
    expect(before.Compliant).toBe(false);
    const fix = control(before, 'CIS-2.1').Remediation[0];
    await call(NARROW, fix?.Action as string, fix?.Params);
    const after = await report(NARROW);
    for (const id of ['CIS-2.1', 'BP-ALL-REGIONS', 'BP-ALL-EVENTS']) expect(statusOf(after, id)).toBe('PASS');
    expect(after.Compliant).toBe(true);
  });

  it('an account without a trail fails with CreateTrail + StartLogging; bucket controls are NOT_APPLICABLE', async () => {
    const r = await report(NONE);
    expect(callsOf(r, 'CIS-2.1')).toEqual(['CreateTrail --Name compliance-all-events --OssBucketName <your-log-bucket> --EventRW All --TrailRegion All', 'StartLogging --Name compliance-all-events']);
    for (const id of ['CIS-2.2', 'BP-ARCHIVE-ENCRYPTION', 'BP-ARCHIVE-RETENTION-LOCK', 'BP-LOGSTORE-RETENTION', 'BP-DIGEST-CHAIN']) expect(statusOf(r, id)).toBe('NOT_APPLICABLE');
  });

  it('a stopped trail: its StopLogging is named and fails until StartLogging', async () => {
    const before = await report(STOP);
    const stopped = control(before, 'GOV-TRAIL-STOPPED');
    expect(stopped.Status).toBe('FAIL');
    expect(stopped.Evidence.join('\n')).toMatch(/StopLogging stop-trail: \S+ event [0-9A-F-]{36} by root/);
    expect(stopped.Remediation.map((x) => x.Call)).toEqual(['StartLogging --Name stop-trail']);
    expect(callsOf(before, 'CIS-2.1')).toEqual(['StartLogging --Name stop-trail']);
    await call(STOP, 'StartLogging', { Name: 'stop-trail' });
    const after = await report(STOP);
    expect(statusOf(after, 'GOV-TRAIL-STOPPED')).toBe('PASS');
    expect(control(after, 'GOV-TRAIL-STOPPED').Evidence.join('\n')).toContain('StopLogging stop-trail');
    expect(statusOf(after, 'CIS-2.1')).toBe('PASS');
  });

  it('a forged digest in the last 24 hours breaks the digest chain', async () => {
    const r = await report(TAMPER);
    const digest = control(r, 'BP-DIGEST-CHAIN');
    expect(digest.Status).toBe('FAIL');
    expect(digest.Evidence[0]).toMatch(/NOT intact.*inserted AliyunLogs\/Actiontrail\/cn-hangzhou\/.*bad digest .*Actiontrail-Digest_tamper-trail_cn-hangzhou_\d{10}\.json \(malformed\)/);
    expect(digest.Remediation[0]?.Call).toMatch(/^npm run verify -- --trail tamper-trail --account 3000000000000005 --from \S+ --to \S+$/);
  });

  it('seeded events: root console logons without MFA and a root AccessKey in use fail, with the event ids; the organization trail covers the member', async () => {
    const r = await report(MANAGEMENT, { AccountId: MEMBER });
    expect(r.AccountId).toBe(MEMBER);
    expect(r.ManagementAccountId).toBe(MANAGEMENT);
    const logons = control(r, 'GOV-ROOT-CONSOLE-LOGON');
    expect(logons.Status).toBe('FAIL');
    expect(logons.Evidence[0]).toBe('4 root-account console logon(s)');
    for (const n of [1, 2, 3, 4]) expect(logons.Evidence.join('\n')).toContain(`cmp-root-signin-${n}`);
    const mfa = control(r, 'GOV-CONSOLE-MFA');
    expect(mfa.Status).toBe('FAIL');
    expect(mfa.Evidence[0]).toBe('4 console logon(s) without MFA by root');
    const rootKey = control(r, 'GOV-ROOT-ACCESSKEY');
    expect(rootKey.Status).toBe('FAIL');
    expect(rootKey.Evidence.join('\n')).toContain(`AccessKey ${ROOT_KEY}: 2 call(s), latest`);
    expect(rootKey.Evidence.join('\n')).toContain('cmp-root-call-2');
    expect(rootKey.Remediation.map((x) => x.Call)).toEqual([`DeleteAccessKey --UserAccessKeyId ${ROOT_KEY}`]);
    const cis = control(r, 'CIS-2.1');
    expect(cis.Status).toBe('PASS');
    expect(cis.Evidence[0]).toContain(`trail org-trail (organization trail of management account ${MANAGEMENT})`);
    // the member reads its own report the same
    expect(statusOf(await report(MEMBER), 'GOV-ROOT-CONSOLE-LOGON')).toBe('FAIL');
  });

  it("an organization trail's digest check covers every member for the management account, and only its own folder for a member", async () => {
    const own = control(await report(MANAGEMENT), 'BP-DIGEST-CHAIN');
    expect(own.Status).toBe('FAIL');
    expect(own.Evidence.join('\n')).toContain(`rd-compliance/${OTHER_MEMBER}/cn-hangzhou/`);
    for (const r of [await report(MEMBER), await report(MANAGEMENT, { AccountId: MEMBER })]) {
      const member = control(r, 'BP-DIGEST-CHAIN');
      expect(member.Status).toBe('PASS');
      expect(member.Evidence.join('\n')).not.toContain(OTHER_MEMBER);
    }
  });

  it('AccountId of an account the caller does not manage is NoPermission (403), whether it exists or not; a malformed one is InvalidParameter', async () => {
    for (const [caller, target] of [
      [MEMBER, MANAGEMENT],
      [PASS, MEMBER],
      [PASS, '9999999999999999'],
    ] as const) {
      expect(await send(caller, 'GetComplianceReport', { AccountId: target })).toMatchObject({ status: 403, body: { Code: 'NoPermission', Field: 'AccountId' } });
    }
    expect(await send(PASS, 'GetComplianceReport', { AccountId: '12' })).toMatchObject({ status: 400, body: { Code: 'InvalidParameter', Field: 'AccountId' } });
    // the platform's own RPC client (ACS3-signed) gets the same report
    const viaSdk = await callAction(openApiClient(lookupUrl(), key(PASS)), 'GetComplianceReport');
    expect(viaSdk.body).toMatchObject({ AccountId: PASS, Compliant: true });
  });
});

describe('npm run compliance', () => {
  it('exits 1 and prints the fixing call when a control fails, 0 when none does; --format json prints the report', async () => {
    const failing = await runCli(NONE, []);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('[FAIL] CIS-2.1');
    expect(failing.stdout).toContain('ActionTrail: CreateTrail --Name compliance-all-events --OssBucketName <your-log-bucket> --EventRW All --TrailRegion All');
    expect(failing.stdout).toContain('NOT COMPLIANT');
    const passing = await runCli(PASS, ['--format', 'json']);
    expect(passing.stderr).toBe('');
    expect(passing.code).toBe(0);
    expect(JSON.parse(passing.stdout)).toMatchObject({ AccountId: PASS, Compliant: true });
    const member = await runCli(MANAGEMENT, ['--account', MEMBER]);
    expect(member.code).toBe(1);
    expect(member.stdout).toContain(`Compliance report for account ${MEMBER} (member of the organization of ${MANAGEMENT})`);
    const refused = await runCli(PASS, ['--account', MEMBER]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('HTTP 403 NoPermission');
  }, 120_000);
});
