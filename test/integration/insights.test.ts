/**
 * Insights (docs/design.md §3.9) end to end on a real Redis through the emulator: ingest builds a
 * day of baseline at once (events with past eventTimes), classify queues analysis rows, the
 * insights-cron timer drains them exactly once and opens insights, and lookup-http serves them
 * (LookupInsightEvents, GetInsightsEventsCount, the type and selector actions) to their account only.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { ANALYSIS_ACCOUNTS_KEY, analysisQueueKey } from '../../adapters/redis/analysis-queue.ts';
import { EVALUATION_ACCOUNTS_KEY, RedisInsightsStore } from '../../adapters/redis/insights-store.ts';
import { RedisSummaryQueue } from '../../adapters/redis/summary-queue.ts';
import { foldItemsOf } from '../../shared/insights/engine.ts';
import { decodeAnalysisRow } from '../../shared/analysis/analysis-row-codec.ts';
import { analysisRow } from '../helpers/analysis-row.ts';
import { countedRows } from '../helpers/insight-traffic.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '3234567890123456';
const B = '4234567890123456';
const MIN = 60_000;
const HOUR = 60 * MIN;
const BURST_IP = '203.0.113.9';
const BURST_KEY = 'LTAI5tBurstKey0001';
let stack: TestStack;
let redis: Redis;
let keyA: Credentials;
let keyB: Credentials;

interface InsightAnswer {
  Events?: { eventId: string; sharedEventId: string; eventType: string; insightDetails: { state: string; insightType: string; insightObject: string; insightContext: { statistics: Record<string, number> } } }[];
  NextToken?: string;
  Code?: string;
  Data?: { InsightType: string; RegionId: string; Count: number }[];
  InsightTypes?: Record<string, string>;
  InsightSelectors?: string;
}

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: InsightAnswer }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, params);
  return { status: res.status, body: (await res.json()) as InsightAnswer };
}

function event(accountId: string, n: number, time: number, over: Record<string, unknown> = {}, identity: Record<string, unknown> = {}): Record<string, unknown> {
  const e = sampleEvent(accountId, n, new Date(time));
  return { ...e, ...over, userIdentity: { ...(e['userIdentity'] as object), ...identity } };
}

/** Steady traffic over the last 25 hours: a write and a read every 10 minutes from two known IPs. */
function baseline(accountId: string): Record<string, unknown>[] {
  const now = Date.now();
  const out: Record<string, unknown>[] = [];
  for (let t = now - 25 * HOUR, n = 0; t < now - 5 * MIN; t += 10 * MIN, n++) {
    const identity = { accessKeyId: 'LTAI5tSteadyKey0001', userName: 'alice' };
    out.push(event(accountId, n, t, { eventName: 'StartInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: '10.0.0.1' }, identity));
    out.push(event(accountId, n + 1, t + 1000, { eventName: 'DescribeInstances', eventRW: 'Read', serviceName: 'Ecs', sourceIpAddress: '10.0.0.2' }, identity));
  }
  return out;
}

async function ingest(credentials: Credentials, events: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) {
    const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, credentials, JSON.stringify(events.slice(i, i + 200)));
    expect(res.status).toBe(200);
  }
}

/** Waits until the account's counters have counted `count` more rows than `before`. */
const waitCounted = (accountId: string, before: number, count: number) =>
  waitUntil(async () => (await countedRows(redis, accountId)) >= before + count, 20_000, `${count} rows of ${accountId} counted`);

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive', 'insights-archive'] });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('the analysis of new events', () => {
  it('classify folds each new event into the counters once, as it classifies, and queues nothing; a batch folded again counts nothing; the queue (the way round) counts a row once', async () => {
    const base = baseline(B);
    const before = await countedRows(redis, B);
    await ingest(keyB, base);
    await waitCounted(B, before, base.length);
    expect(await redis.hlen(analysisQueueKey(B))).toBe(0);
    expect(await redis.sismember(ANALYSIS_ACCOUNTS_KEY, B)).toBe(0);
    expect(await redis.sismember(EVALUATION_ACCOUNTS_KEY, B)).toBe(1);
    const store = new RedisInsightsStore(redis);
    const meta = await store.meta(B);
    expect(meta.firstMs).toBeLessThanOrEqual(Math.min(...base.map((e) => Date.parse(String(e['eventTime'])))));
    // the same rows through the store: a batch folds once, the queue counts a row once
    const rows = base.slice(0, 5).map((e, i) => analysisRow(B, Date.parse(String(e['eventTime'])), { eventId: `again-${i}` }));
    const items = foldItemsOf(rows, Date.now());
    expect(await store.foldBatch(B, 'object-1', items)).toMatchObject({ counted: 5, duplicates: 0 });
    expect(await store.foldBatch(B, 'object-1', items)).toMatchObject({ counted: 0, duplicates: 5 });
    expect(await store.batchFolded(B, 'object-1')).toBe(true);
    const queue = new RedisSummaryQueue(redis);
    await queue.enqueue(B, [], rows.map((r) => ({ ...r, eventId: `queued-${r.eventId}` })));
    const queued = await store.readQueue(B, 10);
    const queuedItems = foldItemsOf(queued.map(({ json }) => decodeAnalysisRow(json, B)).filter((r): r is NonNullable<typeof r> => r !== undefined), Date.now());
    expect(queuedItems).toHaveLength(5);
    expect(await store.fold(B, queuedItems)).toMatchObject({ counted: 5, duplicates: 0, remaining: 0 });
    expect(await store.fold(B, queuedItems)).toMatchObject({ counted: 0, duplicates: 5 });
    expect((await store.meta(B)).counted).toBe(before + base.length + 10);
  });
});

describe('insights-cron and the Insight API', () => {
  it('a burst of DeleteInstance from a new IP with one new AccessKey opens ApiCallRate, Ip and Ak insights of that account only', async () => {
    // the test calls lookup-http from loopback, and its write calls are recorded (EnableInsight…):
    // allowlisted, so only the burst's IP opens an IpInsight
    expect((await rpc(keyA, { Action: 'PutInsightIpAllowlist', IpAllowlist: '["127.0.0.0/8","::1"]' })).status).toBe(200);
    for (const type of ['ApiCallRateInsight', 'IpInsight', 'AkInsight', 'TrailConcealmentInsight']) {
      expect((await rpc(keyA, { Action: 'EnableInsight', InsightType: type })).status).toBe(200);
    }
    // B's types are switched on through the store, not the API: B's own write calls would be recorded
    // as B's events from a new key and network, and when the test crosses a minute boundary (a slow,
    // loaded machine) that minute is complete and evaluated, opening B's Ak and Ip insights
    const insightsStore = new RedisInsightsStore(redis);
    for (const type of ['ApiCallRateInsight', 'IpInsight', 'AkInsight'] as const) await insightsStore.setType(B, type, true);
    expect((await rpc(keyA, { Action: 'EnableInsight', InsightType: 'NoSuchInsight' })).body.Code).toBe('InsightTypeNotValid');
    const types = (await rpc(keyA, { Action: 'GetInsightTypes' })).body.InsightTypes;
    expect(types).toMatchObject({ ApiCallRateInsight: 'Enable', IpInsight: 'Enable', PasswordChangeInsight: 'Disable' });

    const base = baseline(A);
    // the burst in the minute that just completed
    const burstMinute = Math.floor(Date.now() / MIN) * MIN - MIN;
    const burst = Array.from({ length: 35 }, (_v, i) =>
      event(A, 1000 + i, burstMinute + i * 1000, { eventName: 'DeleteInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: BURST_IP }, { accessKeyId: BURST_KEY, userName: 'mallory' }),
    );
    const countedBefore = await countedRows(redis, A);
    await ingest(keyA, [...base, ...burst]);
    await waitCounted(A, countedBefore, base.length + burst.length);

    await stack.emulator.fireTimer('insights-cron', 'every-minute');
    const events = await waitUntil(async () => {
      const answer = await rpc(keyA, { Action: 'LookupInsightEvents', MaxResults: '50' });
      return (answer.body.Events?.length ?? 0) >= 3 ? answer.body.Events : undefined;
    }, 20_000, 'insight events of A');
    const starts = events.filter((e) => e.insightDetails.state === 'Start').map((e) => [e.insightDetails.insightType, e.insightDetails.insightObject]);
    expect(starts).toEqual(expect.arrayContaining([['ApiCallRateInsight', 'Ecs:DeleteInstance'], ['IpInsight', BURST_IP], ['AkInsight', BURST_KEY]]));
    const rate = events.find((e) => e.insightDetails.insightType === 'ApiCallRateInsight');
    expect(rate).toMatchObject({ eventType: 'ActionTrailInsight', eventCategory: 'Insight', recipientAccountId: A });
    expect(rate?.insightDetails.insightContext.statistics).toMatchObject({ insightCount: 35, insightDuration: 1, baselineDuration: 1440 });

    // B's steady traffic opened nothing, and B never sees A's insights
    expect((await rpc(keyB, { Action: 'LookupInsightEvents' })).body.Events).toEqual([]);
    const counts = (await rpc(keyA, { Action: 'GetInsightsEventsCount' })).body.Data ?? [];
    expect(counts.find((c) => c.InsightType === 'IpInsight')?.Count).toBe(1);
    expect((await rpc(keyB, { Action: 'GetInsightsEventsCount' })).body.Data).toEqual([]);

    // filters and paging: one InsightType; a NextToken is bound to its query
    const ip = await rpc(keyA, { Action: 'LookupInsightEvents', 'LookupAttribute.1.Key': 'InsightType', 'LookupAttribute.1.Value': 'IpInsight' });
    expect(ip.body.Events?.map((e) => e.insightDetails.insightObject)).toEqual([BURST_IP]);
    const page1 = await rpc(keyA, { Action: 'LookupInsightEvents', MaxResults: '1' });
    expect(page1.body.Events).toHaveLength(1);
    const token = page1.body.NextToken as string;
    const page2 = await rpc(keyA, { Action: 'LookupInsightEvents', MaxResults: '1', NextToken: token });
    expect(page2.body.Events?.[0]?.eventId).not.toBe(page1.body.Events?.[0]?.eventId);
    expect((await rpc(keyB, { Action: 'LookupInsightEvents', MaxResults: '1', NextToken: token })).body.Code).toBe('InvalidNextToken');
    expect((await rpc(keyA, { Action: 'LookupInsightEvents', StartTime: '2025-01-01T00:00:00Z', EndTime: '2025-06-01T00:00:00Z' })).body.Code).toBe('InvalidParameterCombination');

    // running the cron again opens nothing again for the burst (exactly once); the recorded API
    // calls' own minute may be evaluated by then (their key is new on loopback), so only the burst's objects count
    const burstObjects = new Set(['Ecs:DeleteInstance', BURST_IP, BURST_KEY]);
    const burstStarts = (list: typeof events) => list.filter((e) => e.insightDetails.state === 'Start' && burstObjects.has(e.insightDetails.insightObject)).length;
    // AkInsight twice: the key's rate, and the key from a network it never used
    const before = burstStarts(events);
    expect(before).toBe(4);
    await stack.emulator.fireTimer('insights-cron', 'every-minute');
    const after = (await rpc(keyA, { Action: 'LookupInsightEvents', MaxResults: '50' })).body.Events ?? [];
    expect(burstStarts(after)).toBe(before);
  }, 60_000);

  it('StopLogging through lookup-http opens a TrailConcealmentInsight once its minute is evaluated; selectors round-trip', async () => {
    const trail = { Name: 'insights-trail', OssBucketName: 'insights-archive' };
    expect((await rpc(keyA, { Action: 'CreateTrail', ...trail })).status).toBe(200);
    expect((await rpc(keyA, { Action: 'StartLogging', Name: trail.Name })).status).toBe(200);
    const put = await rpc(keyA, { Action: 'PutInsightSelectors', TrailName: trail.Name, InsightSelectors: '[{"insightType":"TrailConcealmentInsight"}]' });
    expect(put.status).toBe(200);
    expect(JSON.parse((await rpc(keyA, { Action: 'GetInsightSelectors', TrailName: trail.Name })).body.InsightSelectors ?? '[]')).toEqual([{ insightType: 'TrailConcealmentInsight' }]);
    expect((await rpc(keyA, { Action: 'PutInsightSelectors', TrailName: trail.Name, InsightSelectors: '[{"insightType":"Nope"}]' })).body.Code).toBe('InsightTypeNotValid');
    expect((await rpc(keyB, { Action: 'GetInsightSelectors', TrailName: trail.Name })).body.Code).toBe('TrailNotFoundException');

    const counted = await countedRows(redis, A);
    expect((await rpc(keyA, { Action: 'StopLogging', Name: trail.Name })).status).toBe(200);
    const stoppedAt = Date.now();
    await waitCounted(A, counted, 1);
    // evaluation covers complete minutes: wait for the StopLogging minute to end
    const minuteEnd = Math.floor(stoppedAt / MIN) * MIN + MIN + 500;
    await new Promise((r) => setTimeout(r, Math.max(0, minuteEnd - Date.now())));
    await stack.emulator.fireTimer('insights-cron', 'every-minute');
    const concealment = await waitUntil(async () => {
      const answer = await rpc(keyA, { Action: 'LookupInsightEvents', 'LookupAttribute.1.Key': 'InsightType', 'LookupAttribute.1.Value': 'TrailConcealmentInsight' });
      return answer.body.Events?.length ? answer.body.Events : undefined;
    }, 20_000, 'the concealment insight');
    expect(concealment.map((e) => [e.insightDetails.state, e.insightDetails.insightObject])).toEqual([['Start', trail.Name]]);
  }, 120_000);
});
