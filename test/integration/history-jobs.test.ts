/**
 * History delivery jobs end to end (docs/design.md §3.14), against a real Redis and S3 through the
 * emulator: three days of an account's events are in history (ingested with past eventTimes); then
 * a new trail with a logstore and an OSS bucket starts logging and receives live events, a late
 * event from before its start, and backfilled events from before its start (which live delivery
 * routes). A history job runs — cut once before an append, then history-jobs-cron fired twice at
 * once, with more backfill classified between its runs — and every event of the account reaches
 * the trail's archive and logstore exactly once. One job runs per account, a ClientToken returns
 * its job, a running job cannot be deleted, another account neither sees nor deletes it, and a
 * second job over the same window delivers nothing again.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryJobs } from '../../adapters/redis/history-jobs.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { RedisLogstore } from '../../adapters/redis/logstore.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { runHistoryJobs, type HistoryJobRunPorts } from '../../shared/history-jobs/run-history-jobs.ts';
import { internalAuth, productProject, s3ClientFor, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent, utcSeconds, type Json } from '../helpers/synthetic-event.ts';

const A = '3234567890123456';
const B = '4234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'history-archive';
const TRAIL = 'history-trail';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Three days of history: more than three pages of 50 (the cut run's), one of the timer's. */
const HISTORY_EVENTS = 170;

let stack: TestStack;
let redis: Redis;
let s3: S3Client;
let keyA: Credentials;
let keyB: Credentials;

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, params);
  return { status: res.status, body: (await res.json()) as Json };
}

async function ingest(credentials: Credentials, events: Json[]): Promise<void> {
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, credentials, JSON.stringify(events));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
}

async function inHistory(accountId: string, events: Json[]): Promise<void> {
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(accountId, events.map((e) => e['eventId'] as string))).every(Boolean), 30_000, 'events in history');
}

/** Drops a backfill file into the staging bucket and waits for classify's result next to it. */
async function backfill(events: Json[]): Promise<void> {
  const key = `backfill/history-jobs-${randomUUID()}.json`;
  await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: JSON.stringify(events) }));
  await waitUntil(async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: STAGING, Prefix: `${key}.result.json` }));
    return (listed.KeyCount ?? 0) > 0;
  }, 30_000, `result of ${key}`);
}

async function fireAndWait(fn: string, trigger: string): Promise<void> {
  const requestId = await stack.emulator.fireTimer(fn, trigger);
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 60_000, `${fn} ${trigger}`);
}

/** How many times each eventId is in the trail's archive files. */
async function archiveCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let token: string | undefined;
  do {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: ARCHIVE, Prefix: 'AliyunLogs/Actiontrail/', ContinuationToken: token }));
    for (const o of listed.Contents ?? []) {
      if (!o.Key?.endsWith('.gz')) continue;
      const res = await s3.send(new GetObjectCommand({ Bucket: ARCHIVE, Key: o.Key }));
      const body = Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      for (const e of JSON.parse(gunzipSync(body).toString('utf8')) as Json[]) counts.set(e['eventId'] as string, (counts.get(e['eventId'] as string) ?? 0) + 1);
    }
    token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
  } while (token);
  return counts;
}

/** How many times each eventId is in the trail's logstore stream. */
async function logstoreCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const { entries } = await new RedisLogstore(redis).tail(A, TRAIL, '0', { count: 100_000 });
  for (const e of entries) counts.set(e.eventId, (counts.get(e.eventId) ?? 0) + 1);
  return counts;
}

/** Every eventId of A's history (the whole 90 days). */
async function historyIds(): Promise<{ id: string; timeMs: number }[]> {
  const history = new RedisHistoryStore(redis);
  const out: { id: string; timeMs: number }[] = [];
  let after: { timeMs: number; eventId: string } | undefined;
  for (;;) {
    const page = await history.lookup({ accountIds: [A], startMs: Date.now() - 89 * DAY, endMs: Date.now() + HOUR, direction: 'FORWARD', limit: 50, ...(after ? { after } : {}) });
    for (const json of page.events) {
      const e = JSON.parse(json) as { eventId: string; eventTime: string };
      out.push({ id: e.eventId, timeMs: Date.parse(e.eventTime) });
    }
    if (!page.next) return out;
    after = page.next;
  }
}

/** The runner in this process on the stack's stores, its `advance` failing on the call numbered `killAt`. */
function inProcessPorts(killAt: number): HistoryJobRunPorts {
  const jobs = new RedisHistoryJobs(redis).runPorts(Date.now);
  const outbox = new RedisOutbox(redis);
  let calls = 0;
  return {
    jobs: {
      ...jobs,
      advance: async (job, trail, step) => {
        if (calls++ === killAt) throw new Error('killed before the append');
        return jobs.advance(job, trail, step);
      },
    },
    getTrail: (accountId, name) => new RedisTrailStore(redis).get(accountId, name),
    history: new RedisHistoryStore(redis),
    outboxSize: async (trail) => Math.max(await outbox.size(trail.accountId, trail.name, 'oss'), await outbox.size(trail.accountId, trail.name, 'logstore')),
    wakeDeliverers: async () => undefined,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

async function job(credentials: Credentials, jobId: number): Promise<{ status: number; body: Json }> {
  return rpc(credentials, { Action: 'GetDeliveryHistoryJob', JobId: String(jobId) });
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE] });
  redis = new Redis(stack.redisUrl);
  s3 = s3ClientFor(stack);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('a history delivery job', () => {
  let jobId = 0;
  let startMs = 0;
  const history: Json[] = [];
  const early: Json[] = [];
  const live: Json[] = [];

  it('is created for a new logging trail, once per ClientToken, one running per account', async () => {
    // three days of A's events (two regions, reads and writes), and some of B's
    const now = Date.now();
    for (let i = 0; i < HISTORY_EVENTS; i++) {
      const region = i % 3 === 0 ? 'cn-beijing' : 'cn-hangzhou';
      const read = i % 4 === 0 ? { eventRW: 'Read', eventName: 'DescribeInstances', referencedResources: {} } : {};
      history.push(syntheticEvent(A, { acsRegion: region, ...read }, now - 3 * DAY + Math.floor((i * (3 * DAY - HOUR)) / HISTORY_EVENTS)));
    }
    const others = [syntheticEvent(B, {}, now - 2 * DAY), syntheticEvent(B, {}, now - DAY)];
    await ingest(keyA, history);
    await ingest(keyB, others);
    await inHistory(A, history);
    await inHistory(B, others);

    // the trail: a logstore and an OSS bucket, then StartLogging
    expect((await rpc(keyA, { Action: 'CreateTrail', Name: TRAIL, OssBucketName: ARCHIVE, SlsProjectArn: `acs:log:cn-hangzhou:${A}:project/trailkeeper` })).status).toBe(200);
    // no job before it logs
    expect((await rpc(keyA, { Action: 'CreateDeliveryHistoryJob', TrailName: TRAIL })).body).toMatchObject({ Code: 'InvalidTrailForHistoryDeliveryException' });
    expect((await rpc(keyA, { Action: 'StartLogging', Name: TRAIL })).status).toBe(200);
    startMs = (await new RedisTrailStore(redis).get(A, TRAIL))?.startLoggingTimeMs ?? 0;
    expect(startMs).toBeGreaterThan(0);

    // after the start: live events, a late live event from before the start (live delivery leaves
    // it to the job), and backfilled events from before the start (live delivery routes them)
    live.push(syntheticEvent(A, {}, Date.now()), syntheticEvent(A, { acsRegion: 'cn-beijing' }, Date.now()));
    const late = syntheticEvent(A, {}, startMs - 1000);
    await ingest(keyA, [...live, late]);
    history.push(late);
    early.push(syntheticEvent(A, {}, startMs - 2 * DAY), syntheticEvent(A, {}, startMs - 2 * HOUR));
    await backfill(early);
    await inHistory(A, [...live, late, ...early]);

    const created = await rpc(keyA, { Action: 'CreateDeliveryHistoryJob', TrailName: TRAIL, ClientToken: 'history-job-token-1' });
    expect(created.status).toBe(200);
    jobId = created.body['JobId'] as number;
    expect(jobId).toBeGreaterThan(0);
    // the same ClientToken returns the same job; another call while it runs is refused
    expect((await rpc(keyA, { Action: 'CreateDeliveryHistoryJob', TrailName: TRAIL, ClientToken: 'history-job-token-1' })).body['JobId']).toBe(jobId);
    const second = await rpc(keyA, { Action: 'CreateDeliveryHistoryJob', TrailName: TRAIL });
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ Code: 'DeliveryHistoryJobRunningException' });
    expect((await rpc(keyA, { Action: 'DeleteDeliveryHistoryJob', JobId: String(jobId) })).body).toMatchObject({ Code: 'DeliveryHistoryJobRunningException' });

    const answer = await job(keyA, jobId);
    expect(answer.body).toMatchObject({ JobId: jobId, TrailName: TRAIL, HomeRegion: 'cn-hangzhou', JobStatus: 0 });
    expect(Date.parse(answer.body['HistoryEndTime'] as string)).toBe(Math.floor(startMs / 1000) * 1000);
  }, 180_000);

  it('is neither seen nor deleted by another account', async () => {
    expect((await job(keyB, jobId)).body).toMatchObject({ Code: 'DeliveryHistoryJobNotFoundException' });
    expect((await rpc(keyB, { Action: 'DeleteDeliveryHistoryJob', JobId: String(jobId) })).body).toMatchObject({ Code: 'DeliveryHistoryJobNotFoundException' });
    expect((await rpc(keyB, { Action: 'ListDeliveryHistoryJobs' })).body).toMatchObject({ TotalCount: 0, DeliveryHistoryJobs: [] });
    expect((await rpc(keyA, { Action: 'ListDeliveryHistoryJobs', PageSize: '10' })).body).toMatchObject({ TotalCount: 1, PageSize: 10, DeliveryHistoryJobs: [{ JobId: jobId }] });
    expect((await rpc(keyA, { Action: 'ListDeliveryHistoryJobs', PageSize: '101' })).body).toMatchObject({ Code: 'InvalidParameter' });
  });

  it('delivers each event once to the logstore and the archive, when cut before an append and run twice at once', async () => {
    // a run (pages of 50) killed before its second append: one page appended, the cursor where it ended
    const cut = await runHistoryJobs(inProcessPorts(1), { pageSize: 50 });
    expect(cut.errors).toEqual([expect.stringMatching(/killed before the append/)]);
    expect(cut.appended).toBeGreaterThan(0);
    const midway = (await job(keyA, jobId)).body;
    expect(midway).toMatchObject({ JobStatus: 1 });

    // classified while the job runs: backfilled events from before the start, one behind the
    // job's cursor (live delivery takes it) and one ahead of it (live delivery takes it; the job skips it)
    const between = [syntheticEvent(A, {}, Date.now() - 3 * DAY + 60_000), syntheticEvent(A, {}, startMs - 30 * 60_000)];
    await backfill(between);
    early.push(...between);

    // resumed by the timer, fired twice at once, until it is done
    await Promise.all([fireAndWait('history-jobs-cron', 'every-minute'), fireAndWait('history-jobs-cron', 'every-minute')]);
    const done = await waitUntil(async () => {
      const body = (await job(keyA, jobId)).body;
      if (body['JobStatus'] === 2) return body;
      await fireAndWait('history-jobs-cron', 'every-minute');
      return undefined;
    }, 120_000, 'the job done');
    expect(done).toMatchObject({ JobStatus: 2, EndTime: expect.stringMatching(/Z$/) });
    expect((done['Status'] as { Region: string }[]).map((s) => s.Region).sort()).toEqual(['cn-beijing', 'cn-hangzhou']);

    // every event of A's history (the three days, the late one, the backfilled ones, live ones, the
    // recorded API calls) in the archive and the logstore exactly once; nothing of B
    const expected = await historyIds();
    const ids = [...history, ...early, ...live].map((e) => e['eventId'] as string);
    expect(expected.map((e) => e.id)).toEqual(expect.arrayContaining(ids));
    const counts = await waitUntil(async () => {
      await Promise.all([fireAndWait('deliver-oss', 'flush'), fireAndWait('deliver-logstore', 'flush')]);
      const [archived, logged] = await Promise.all([archiveCounts(), logstoreCounts()]);
      return expected.every((e) => archived.has(e.id) && logged.has(e.id)) ? { archived, logged } : undefined;
    }, 120_000, 'every event delivered');
    for (const e of expected) {
      expect(counts.archived.get(e.id), `${e.id} in the archive`).toBe(1);
      expect(counts.logged.get(e.id), `${e.id} in the logstore`).toBe(1);
    }
    expect([...counts.archived.values()].every((n) => n === 1)).toBe(true);
    expect([...counts.archived.keys()].every((id) => expected.some((e) => e.id === id))).toBe(true);
    // the job delivered what live delivery did not: the window's events less the backfilled ones
    const windowed = expected.filter((e) => e.timeMs < startMs).length;
    expect(done['DeliveredCount']).toBe(windowed - early.length);

    // the deliverers counted what they wrote (DescribeTrailDeliveryMetricData), per minute, nothing failed
    const metric = async (MetricName: string) => {
      const { body } = await rpc(keyA, { Action: 'DescribeTrailDeliveryMetricData', TrailName: TRAIL, MetricName, StartTime: utcSeconds(startMs - HOUR), EndTime: utcSeconds(Date.now() + 120_000), Period: '60' });
      return ((body['MetricList'] ?? []) as { Count: number }[]).reduce((n, p) => n + p.Count, 0);
    };
    expect(await metric('delivery_oss_success_count')).toBe([...counts.archived.values()].reduce((a, b) => a + b, 0));
    expect(await metric('delivery_sls_success_count')).toBe([...counts.logged.values()].reduce((a, b) => a + b, 0));
    expect(await metric('delivery_oss_fail_count')).toBe(0);
    expect(await metric('delivery_sls_fail_count')).toBe(0);
    expect((await rpc(keyB, { Action: 'DescribeTrailDeliveryMetricData', TrailName: TRAIL, MetricName: 'delivery_oss_success_count', StartTime: utcSeconds(startMs), EndTime: utcSeconds(Date.now()), Period: '60' })).body).toMatchObject({ Code: 'TrailNotFoundException' });
  }, 300_000);

  it('once done can be deleted; a second job over the same window delivers nothing again', async () => {
    expect((await rpc(keyA, { Action: 'DeleteDeliveryHistoryJob', JobId: String(jobId) })).status).toBe(200);
    expect((await job(keyA, jobId)).body).toMatchObject({ Code: 'DeliveryHistoryJobNotFoundException' });
    const again = (await rpc(keyA, { Action: 'CreateDeliveryHistoryJob', TrailName: TRAIL })).body['JobId'] as number;
    expect(again).toBeGreaterThan(jobId);
    const report = await runHistoryJobs(inProcessPorts(-1));
    expect(report).toMatchObject({ finished: 1, appended: 0, errors: [] });
    expect(report.claimedBefore).toBeGreaterThan(0);
    expect((await job(keyA, again)).body).toMatchObject({ JobStatus: 2, DeliveredCount: 0 });
    // the write calls are recorded as events of the caller's account
    const recorded = await waitUntil(async () => {
      const res = await rpc(keyA, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'DeleteDeliveryHistoryJob' });
      const events = (res.body['Events'] as Json[] | undefined) ?? [];
      return events.length >= 2 ? events : undefined;
    }, 30_000, 'the recorded DeleteDeliveryHistoryJob calls');
    // the refused call (the job was running) and the one that deleted it
    expect(recorded).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ eventName: 'DeleteDeliveryHistoryJob', serviceName: 'Actiontrail', errorCode: 'DeliveryHistoryJobRunningException' }),
        expect.objectContaining({ eventName: 'DeleteDeliveryHistoryJob', serviceName: 'Actiontrail', requestParameters: expect.objectContaining({ JobId: String(jobId) }) }),
      ]),
    );
    expect(recorded.filter((e) => e['errorCode'] === undefined)).toHaveLength(1);
  }, 120_000);
});
