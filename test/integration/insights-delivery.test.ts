/**
 * Insight events delivered end to end through the emulator (docs/design.md §3.9): a member
 * account's burst opens an ApiCallRateInsight; insights-cron appends its Start event to the
 * outboxes of the logging trails whose InsightSelectors include the type — the member's own trail
 * and its management account's organization trail — and deliver-oss (its flush timer) and
 * deliver-logstore write it to their archive files and logstores as an `ActionTrailInsight` event.
 * The member's trail without that selector receives none. The IpInsight allowlist (ours,
 * PutInsightIpAllowlist) keeps an allowlisted IP of the same burst from opening an IpInsight.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { BURST_API, BURST_IP, baselineTraffic, burstTraffic, countedRows } from '../helpers/insight-traffic.ts';
import { internalAuth, productProject, s3ClientFor, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const MANAGEMENT = '5234567890123456';
const MEMBER = '6234567890123456';
const ORG_ID = 'rd-insight1';
const MEMBER_TRAIL = 'member-insights';
const PLAIN_TRAIL = 'member-plain';
const ORG_TRAIL = 'org-insights';
const BUCKETS = { [MEMBER_TRAIL]: 'member-insights-archive', [PLAIN_TRAIL]: 'member-plain-archive', [ORG_TRAIL]: 'org-insights-archive' } as const;
/** An allowlisted network (ours: PutInsightIpAllowlist) and an IP of it that joins the burst. */
const ALLOWED_NETWORK = '198.51.100.0/24';
const ALLOWED_IP = '198.51.100.7';

type Json = Record<string, unknown>;
interface InsightJson {
  eventId: string;
  eventType: string;
  recipientAccountId: string;
  insightDetails: { state: string; insightType: string; insightObject: string };
}

let stack: TestStack;
let redis: Redis;
let s3: S3Client;
let management: Credentials;
let member: Credentials;

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, params);
  return { status: res.status, body: (await res.json()) as Json };
}

async function ingest(credentials: Credentials, events: Json[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) {
    const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, credentials, JSON.stringify(events.slice(i, i + 200)));
    expect(res.status).toBe(200);
  }
}

async function fireAndWait(fn: string, trigger: string): Promise<void> {
  const requestId = await stack.emulator.fireTimer(fn, trigger);
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 30_000, `${fn} ${trigger}`);
}

/** Every ActionTrailInsight event in a bucket's archive files, with the file's key. */
async function archivedInsights(bucket: string): Promise<{ key: string; event: InsightJson }[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'AliyunLogs/Actiontrail/' }));
  const out: { key: string; event: InsightJson }[] = [];
  for (const o of listed.Contents ?? []) {
    if (!o.Key?.endsWith('.gz')) continue;
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
    const body = Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    for (const e of JSON.parse(gunzipSync(body).toString('utf8')) as InsightJson[]) if (e.eventType === 'ActionTrailInsight') out.push({ key: o.Key, event: e });
  }
  return out;
}

/** Every ActionTrailInsight event in a trail's logstore, through GetLogs as the trail's owner. */
async function loggedInsights(credentials: Credentials, trailName: string): Promise<InsightJson[]> {
  const nowS = Math.floor(Date.now() / 1000);
  const { status, body } = await rpc(credentials, { Action: 'GetLogs', Name: trailName, From: String(nowS - 3600), To: String(nowS + 120), Line: '100' });
  expect(status).toBe(200);
  const logs = (body['Logs'] ?? []) as { event: unknown }[];
  return logs
    .map((l) => (typeof l.event === 'string' ? (JSON.parse(l.event) as InsightJson) : (l.event as InsightJson)))
    .filter((e) => e.eventType === 'ActionTrailInsight');
}

const isRateStart = (e: InsightJson) => e.insightDetails.state === 'Start' && e.insightDetails.insightType === 'ApiCallRateInsight' && e.insightDetails.insightObject === BURST_API;

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive', ...Object.values(BUCKETS)] });
  redis = new Redis(stack.redisUrl);
  s3 = s3ClientFor(stack);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  management = await accounts.createKey(MANAGEMENT);
  member = await accounts.createKey(MEMBER);
  await accounts.addMember(MANAGEMENT, MEMBER, ORG_ID);
  // logging from now: the backfilled baseline and the burst (earlier eventTimes) are not delivered to them
  const now = Date.now();
  const trails = new RedisTrailStore(redis);
  const trail = (name: keyof typeof BUCKETS, accountId: string, org: boolean) =>
    trailSchema.parse({
      name,
      accountId,
      homeRegion: 'cn-hangzhou',
      eventRW: 'All',
      isOrganizationTrail: org,
      ...(org ? { organizationId: ORG_ID } : {}),
      ossBucketName: BUCKETS[name],
      slsProjectArn: `acs:log:cn-hangzhou:${accountId}:project/trailkeeper`,
      status: 'Enable',
      createdAtMs: now,
      updatedAtMs: now,
      startLoggingTimeMs: now,
    });
  await trails.create(trail(MEMBER_TRAIL, MEMBER, false));
  await trails.create(trail(PLAIN_TRAIL, MEMBER, false));
  await trails.create(trail(ORG_TRAIL, MANAGEMENT, true));
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('insight events reach the trails that select their type', () => {
  it("a member's ApiCallRateInsight Start reaches its selecting trail and its management account's organization trail (archive and logstore), not its other trail; an allowlisted IP opens no IpInsight", async () => {
    for (const type of ['ApiCallRateInsight', 'IpInsight']) expect((await rpc(member, { Action: 'EnableInsight', InsightType: type })).status).toBe(200);
    const selectors = '[{"insightType":"ApiCallRateInsight"}]';
    expect((await rpc(member, { Action: 'PutInsightSelectors', TrailName: MEMBER_TRAIL, InsightSelectors: selectors })).status).toBe(200);
    expect((await rpc(management, { Action: 'PutInsightSelectors', TrailName: ORG_TRAIL, InsightSelectors: selectors })).status).toBe(200);
    const allow = await rpc(member, { Action: 'PutInsightIpAllowlist', IpAllowlist: JSON.stringify([ALLOWED_NETWORK]) });
    expect(allow).toMatchObject({ status: 200, body: { IpAllowlist: [ALLOWED_NETWORK] } });
    expect((await rpc(member, { Action: 'GetInsightIpAllowlist' })).body['IpAllowlist']).toEqual([ALLOWED_NETWORK]);

    const now = Date.now();
    const traffic = [...baselineTraffic(MEMBER, now), ...burstTraffic(MEMBER, now), ...burstTraffic(MEMBER, now, ALLOWED_IP, 200_000).slice(0, 3)];
    const before = await countedRows(redis, MEMBER);
    await ingest(member, traffic);
    await waitUntil(async () => (await countedRows(redis, MEMBER)) >= before + traffic.length, 30_000, 'the traffic counted');

    await fireAndWait('insights-cron', 'every-minute');
    const opened = await waitUntil(async () => {
      const answer = await rpc(member, { Action: 'LookupInsightEvents', MaxResults: '50' });
      const events = (answer.body['Events'] ?? []) as InsightJson[];
      return events.some(isRateStart) ? events : undefined;
    }, 30_000, 'the ApiCallRateInsight');
    const ipObjects = opened.filter((e) => e.insightDetails.insightType === 'IpInsight').map((e) => e.insightDetails.insightObject);
    expect(ipObjects).toContain(BURST_IP);
    expect(ipObjects).not.toContain(ALLOWED_IP);
    const start = opened.find(isRateStart) as InsightJson;

    // the logstore: deliver-logstore was woken by insights-cron
    const memberLogged = await waitUntil(async () => {
      const found = (await loggedInsights(member, MEMBER_TRAIL)).filter((e) => e.eventId === start.eventId);
      return found.length > 0 ? found : undefined;
    }, 30_000, "the insight in the member trail's logstore");
    expect(memberLogged).toEqual([expect.objectContaining({ eventType: 'ActionTrailInsight', recipientAccountId: MEMBER, insightDetails: expect.objectContaining({ insightType: 'ApiCallRateInsight', state: 'Start' }) })]);
    const orgLogged = await waitUntil(async () => {
      const found = (await loggedInsights(management, ORG_TRAIL)).filter((e) => e.eventId === start.eventId);
      return found.length > 0 ? found : undefined;
    }, 30_000, "the insight in the organization trail's logstore");
    expect(orgLogged).toHaveLength(1);

    // the archive files: deliver-oss's flush writes what is waiting
    await fireAndWait('deliver-oss', 'flush');
    const memberArchived = (await archivedInsights(BUCKETS[MEMBER_TRAIL])).filter((a) => a.event.eventId === start.eventId);
    expect(memberArchived).toHaveLength(1);
    expect(memberArchived[0]?.event).toMatchObject({ eventType: 'ActionTrailInsight', recipientAccountId: MEMBER, insightDetails: { state: 'Start', insightType: 'ApiCallRateInsight', insightObject: BURST_API } });
    const orgArchived = (await archivedInsights(BUCKETS[ORG_TRAIL])).filter((a) => a.event.eventId === start.eventId);
    expect(orgArchived).toHaveLength(1);
    // an organization trail files a member's events under <orgId>/<member>/ — the insight too
    expect(orgArchived[0]?.key).toContain(`AliyunLogs/Actiontrail/${ORG_ID}/${MEMBER}/`);

    // the trail without the selector received no insight event, in either destination
    expect(await archivedInsights(BUCKETS[PLAIN_TRAIL])).toEqual([]);
    expect(await loggedInsights(member, PLAIN_TRAIL)).toEqual([]);
    // nor did the selecting trails receive the IpInsight they did not select
    expect((await archivedInsights(BUCKETS[MEMBER_TRAIL])).map((a) => a.event.insightDetails.insightType)).not.toContain('IpInsight');
  }, 150_000);

  it('the Insights write calls are recorded as ActionTrail events of the caller: LookupEvents shows them, a refused one with its errorCode', async () => {
    expect((await rpc(member, { Action: 'DisableInsight', InsightType: 'PasswordChangeInsight' })).status).toBe(200);
    expect((await rpc(member, { Action: 'PutInsightIpAllowlist', IpAllowlist: '["not-an-ip"]' })).body['Code']).toBe('InvalidParameter');
    expect((await rpc(member, { Action: 'GetInsightIpAllowlist' })).status).toBe(200);
    interface Recorded {
      eventName: string;
      serviceName: string;
      eventRW: string;
      errorCode?: string;
      requestParameters: Record<string, string>;
    }
    const names = ['EnableInsight', 'DisableInsight', 'PutInsightSelectors', 'PutInsightIpAllowlist'];
    const recorded = await waitUntil(async () => {
      const all: Recorded[] = [];
      for (const name of [...names, 'GetInsightIpAllowlist']) {
        const { body } = await rpc(member, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': name, MaxResults: '50' });
        all.push(...((body['Events'] ?? []) as Recorded[]));
      }
      // EnableInsight ×2, DisableInsight, PutInsightSelectors (the member's), PutInsightIpAllowlist ×2
      return all.length >= 6 ? all : undefined;
    }, 30_000, 'the recorded Insights calls');
    const count = (name: string) => recorded.filter((e) => e.eventName === name).length;
    expect(names.map(count)).toEqual([2, 1, 1, 2]);
    // reads are not recorded
    expect(count('GetInsightIpAllowlist')).toBe(0);
    expect(recorded.every((e) => e.serviceName === 'Actiontrail' && e.eventRW === 'Write')).toBe(true);
    const allowCalls = recorded.filter((e) => e.eventName === 'PutInsightIpAllowlist');
    expect(allowCalls.map((e) => e.errorCode ?? '').sort()).toEqual(['', 'InvalidParameter']);
    expect(allowCalls.map((e) => e.requestParameters['IpAllowlist']).sort()).toEqual([JSON.stringify([ALLOWED_NETWORK]), '["not-an-ip"]']);
  }, 60_000);
});
