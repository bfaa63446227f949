/**
 * The product on a three-master Redis Cluster, end to end through the emulator: the functions
 * and the emulator's async queue get TK_REDIS_URL=redis-cluster://…. One management account and
 * one member, whose keys sit on different masters: ingest → classify → history (LookupEvents
 * merging both accounts, GetEvent), the trail outbox → deliver-logstore (woken through the async
 * queue) → GetLogs, deliver-oss's flush → an archive file, and the summary queue →
 * summarize-cron → LookupEventSummaries.
 */
import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { createRedisClient, isCluster, type RedisClient } from '../../adapters/redis.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { SUMMARY_ACCOUNTS_KEY, summaryQueueKey } from '../../adapters/redis/summary-queue.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { REDIS_BACKENDS } from '../helpers/redis-backends.ts';
import { productProject, s3ClientFor, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const MANAGEMENT = '1234567890123456';
const MEMBER = '2234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const TRAIL = 'cluster-trail';
const marker = `Cluster${randomUUID().slice(0, 8)}`;

let stack: TestStack;
let redis: RedisClient;
let s3: S3Client;
let management: Credentials;
let member: Credentials;
const sent = new Map<string, string[]>([
  [MANAGEMENT, []],
  [MEMBER, []],
]);

type Json = Record<string, unknown>;

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, params);
  return { status: res.status, body: (await res.json()) as Json };
}

async function ingest(accountId: string, credentials: Credentials, count: number): Promise<void> {
  const base = Date.now() - 20 * 60_000;
  const events: Json[] = Array.from({ length: count }, (_v, n) => ({ ...sampleEvent(accountId, n, new Date(base + n * 1000)), eventName: marker }));
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, credentials, JSON.stringify(events));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(count);
  sent.get(accountId)?.push(...events.map((e) => String(e['eventId'])));
}

/** The port of the master holding a key. */
async function masterOf(key: string): Promise<string | undefined> {
  if (!isCluster(redis)) return undefined;
  return redis.slots[Number(await redis.cluster('KEYSLOT', key))]?.[0];
}

// TK_TEST_REDIS=standalone leaves the cluster runs out
describe.runIf(REDIS_BACKENDS.includes('cluster'))('on a Redis Cluster', () => {
  beforeAll(async () => {
    stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE], redis: 'cluster' });
    redis = createRedisClient(stack.redisUrl);
    s3 = s3ClientFor(stack);
    const accounts = new RedisAccountStore(redis, stack.secrets);
    management = await accounts.createKey(MANAGEMENT);
    member = await accounts.createKey(MEMBER);
    await accounts.addMember(MANAGEMENT, MEMBER);
    const now = Date.now();
    await new RedisTrailStore(redis).create(
      trailSchema.parse({
        name: TRAIL,
        accountId: MANAGEMENT,
        homeRegion: 'cn-hangzhou',
        eventRW: 'All',
        ossBucketName: ARCHIVE,
        slsProjectArn: `acs:log:cn-hangzhou:${MANAGEMENT}:project/trailkeeper`,
        status: 'Enable',
        createdAtMs: now - 1000,
        updatedAtMs: now,
        startLoggingTimeMs: now - 3_600_000,
      }),
    );
    await ingest(MANAGEMENT, management, 30);
    await ingest(MEMBER, member, 12);
    const history = new RedisHistoryStore(redis);
    await waitUntil(async () => (await history.has(MANAGEMENT, sent.get(MANAGEMENT) ?? [])).every(Boolean) && (await history.has(MEMBER, sent.get(MEMBER) ?? [])).every(Boolean), 20_000, 'events in history');
  });

  afterAll(async () => {
    redis?.disconnect();
    s3?.destroy();
    await stack?.stop();
  });

  it('runs on three masters, with the two accounts on different ones', async () => {
    expect(stack.redisUrl).toMatch(/^redis-cluster:\/\//);
    expect(isCluster(redis)).toBe(true);
    expect(await masterOf(`tk:{${MANAGEMENT}}:n`)).not.toBe(await masterOf(`tk:{${MEMBER}}:n`));
    expect(await masterOf(summaryQueueKey(MANAGEMENT))).not.toBe(await masterOf(summaryQueueKey(MEMBER)));
  });

  it('LookupEvents merges the management account and its member, pages with NextToken; GetEvent finds each', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const { status, body } = await rpc(management, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '7', ...(token ? { NextToken: token } : {}) });
      expect(status).toBe(200);
      seen.push(...((body['Events'] ?? []) as { eventId: string }[]).map((e) => e.eventId));
      token = body['NextToken'] as string | undefined;
    } while (token);
    const all = [...(sent.get(MANAGEMENT) ?? []), ...(sent.get(MEMBER) ?? [])];
    expect([...seen].sort()).toEqual([...all].sort());
    expect(new Set(seen).size).toBe(seen.length);
    const memberOnly = await rpc(member, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '50' });
    expect(((memberOnly.body['Events'] ?? []) as { eventId: string }[]).map((e) => e.eventId).sort()).toEqual([...(sent.get(MEMBER) ?? [])].sort());
    for (const id of [sent.get(MANAGEMENT)?.[0], sent.get(MEMBER)?.[0]]) {
      expect((await rpc(management, { Action: 'GetEvent', EventId: id as string })).status).toBe(200);
    }
  });

  it('deliver-logstore fills the trail logstore (GetLogs), and deliver-oss writes the archive file', async () => {
    const from = String(Math.floor(Date.now() / 1000) - 3600);
    const to = String(Math.floor(Date.now() / 1000) + 60);
    const mine = sent.get(MANAGEMENT) ?? [];
    const logs = await waitUntil(async () => {
      const { status, body } = await rpc(management, { Action: 'GetLogs', Name: TRAIL, From: from, To: to, Line: '100' });
      expect(status).toBe(200);
      const ids = ((body['Logs'] ?? []) as { eventId: string }[]).map((l) => l.eventId);
      return ids.length >= mine.length ? ids : undefined;
    }, 15_000, 'logstore entries');
    expect([...logs].sort()).toEqual([...mine].sort());

    await stack.emulator.fireTimer('deliver-oss', 'flush');
    const files = await waitUntil(async () => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: ARCHIVE, Prefix: 'AliyunLogs/Actiontrail/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key ?? '').filter((k) => k.endsWith('.gz'));
      return keys.length > 0 ? keys : undefined;
    }, 15_000, 'an archive file');
    expect(files.length).toBeGreaterThan(0);
  });

  it('summarize-cron drains the summary queues; LookupEventSummaries counts every event once', async () => {
    await stack.emulator.fireTimer('summarize-cron', 'every-minute');
    await waitUntil(async () => (await redis.scard(SUMMARY_ACCOUNTS_KEY)) === 0 && (await redis.hlen(summaryQueueKey(MANAGEMENT))) === 0 && (await redis.hlen(summaryQueueKey(MEMBER))) === 0, 15_000, 'summary queues drained');
    const { status, body } = await rpc(management, { Action: 'LookupEventSummaries', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '100' });
    expect(status).toBe(200);
    const windows = (body['Windows'] ?? []) as { Total: number; Summaries: { AccountId: string; Count: number }[] }[];
    const byAccount = new Map<string, number>();
    for (const w of windows) for (const s of w.Summaries) byAccount.set(s.AccountId, (byAccount.get(s.AccountId) ?? 0) + s.Count);
    expect(Object.fromEntries(byAccount)).toEqual({ [MANAGEMENT]: sent.get(MANAGEMENT)?.length, [MEMBER]: sent.get(MEMBER)?.length });
  });
});
