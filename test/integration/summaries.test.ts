/**
 * Summaries (docs/design.md §3.8) end to end on a real Redis through the emulator: events go through
 * ingest and classify into the summary queue, summarize-cron folds them into 2-hour windows,
 * and LookupEventSummaries serves them, signed, through lookup-http.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { SUMMARY_ACCOUNTS_KEY, summaryQueueKey } from '../../adapters/redis/summary-queue.ts';
import { RedisSummaryStore, summaryWindowKey, summaryWindowsKey } from '../../adapters/redis/summary-store.ts';
import { dimensionKeyOf } from '../../shared/summaries/dimension-key.ts';
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';
import { SUMMARY_WINDOW_MS, windowStartOf, type SummaryRow } from '../../shared/summaries/summary-row.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '2234567890123456';
const B = '7234567890123456';
const HOUR = 3_600_000;
let stack: TestStack;
let redis: Redis;
let store: RedisSummaryStore;
let keyA: Credentials;
let keyB: Credentials;
/** Every event sent for A: its window, name and time. */
const sent: { ws: number; eventName: string; timeMs: number }[] = [];

interface Summary {
  EventName: string;
  UserName: string;
  AccountId: string;
  Count: number;
  FirstTime: string;
  LastTime: string;
}
interface Window {
  WindowStart: string;
  WindowEnd: string;
  Total: number;
  Summaries: Summary[];
}
interface Answer {
  Windows?: Window[];
  NextToken?: string;
  Code?: string;
}

async function summaries(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Answer }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, { Action: 'LookupEventSummaries', ...params });
  return { status: res.status, body: (await res.json()) as Answer };
}

/** Events spread over the last ~3 days, several per window, with varied names and users. */
function makeEvents(count: number, seed: number): Record<string, unknown>[] {
  const now = Date.now();
  return Array.from({ length: count }, (_v, i) => {
    const n = seed + i;
    const time = new Date(now - 5 * 60_000 - ((n * 7919) % (72 * HOUR / 1000)) * 1000);
    return sampleEvent(A, n, time);
  });
}

async function ingest(events: Record<string, unknown>[]): Promise<void> {
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, keyA, JSON.stringify(events));
  expect(res.status).toBe(200);
  for (const e of events) {
    const timeMs = Date.parse(String(e['eventTime']));
    sent.push({ ws: windowStartOf(timeMs), eventName: String(e['eventName']), timeMs });
  }
}

/** Sum of counts in a stored window of A, overall and per event name. */
async function stored(ws: number): Promise<{ total: number; byName: Map<string, number>; first: number; last: number }> {
  const entries = await store.readWindow([A], ws);
  const byName = new Map<string, number>();
  let total = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const e of entries) {
    total += e.count;
    byName.set(e.dimensions.eventName, (byName.get(e.dimensions.eventName) ?? 0) + e.count);
    first = Math.min(first, e.firstMs);
    last = Math.max(last, e.lastMs);
  }
  return { total, byName, first, last };
}

function recount(ws: number): { total: number; byName: Map<string, number>; first: number; last: number } {
  const mine = sent.filter((s) => s.ws === ws);
  const byName = new Map<string, number>();
  for (const s of mine) byName.set(s.eventName, (byName.get(s.eventName) ?? 0) + 1);
  return { total: mine.length, byName, first: Math.min(...mine.map((s) => s.timeMs)), last: Math.max(...mine.map((s) => s.timeMs)) };
}

async function expectAllWindowsMatch(): Promise<void> {
  const windows = [...new Set(sent.map((s) => s.ws))];
  expect(await store.windowStarts([A], 0, Date.now())).toEqual([...windows].sort((a, b) => a - b));
  for (const ws of windows) expect(await stored(ws), `window ${new Date(ws).toISOString()}`).toEqual(recount(ws));
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  redis = new Redis(stack.redisUrl);
  store = new RedisSummaryStore(redis);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
  await ingest(makeEvents(300, 0));
  // the queue's rows are written first, the account listed after (a second round trip): wait for both
  await waitUntil(async () => (await redis.hlen(summaryQueueKey(A))) === 300 && (await redis.sismember(SUMMARY_ACCOUNTS_KEY, A)) === 1, 20_000, 'rows in the summary queue, the account listed');
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('summarize-cron', () => {
  it('a partial (crashed) drain, then the cron, count every event exactly once in its window', async () => {
    expect(new Set(sent.map((s) => s.ws)).size).toBeGreaterThan(20);
    const partial = await drainSummaryQueues(store, Date.now, { batchSize: 50, maxRows: 120 });
    expect(partial).toMatchObject({ read: 120, folded: 120, duplicates: 0, complete: false, remaining: 180 });
    expect(await redis.sismember(SUMMARY_ACCOUNTS_KEY, A)).toBe(1);

    await stack.emulator.fireTimer('summarize-cron', 'every-minute');
    await waitUntil(async () => (await redis.hlen(summaryQueueKey(A))) === 0 && (await redis.sismember(SUMMARY_ACCOUNTS_KEY, A)) === 0, 20_000, 'the cron to drain');
    await expectAllWindowsMatch();

    // Running again on the drained state changes nothing (and tolerates a listed, empty queue).
    await redis.sadd(SUMMARY_ACCOUNTS_KEY, A);
    const again = await drainSummaryQueues(store, Date.now);
    expect(again).toMatchObject({ read: 0, folded: 0, complete: true });
    expect(await redis.sismember(SUMMARY_ACCOUNTS_KEY, A)).toBe(0);
    await expectAllWindowsMatch();
  });

  it('folding the same queue state twice, or from two drainers at once, counts each row once', async () => {
    await ingest(makeEvents(60, 1000));
    await waitUntil(async () => (await redis.hlen(summaryQueueKey(A))) === 60, 20_000, 'new rows queued');
    const rows = await store.readQueue(A, 1000);
    expect(rows).toHaveLength(60);
    const [first, second] = await Promise.all([store.foldRows(A, rows, Date.now()), store.foldRows(A, rows, Date.now())]);
    expect(first.folded + second.folded).toBe(60);
    expect(first.duplicates + second.duplicates).toBe(60);
    const third = await store.foldRows(A, rows, Date.now());
    expect(third).toMatchObject({ folded: 0, duplicates: 60, remaining: 0 });
    await expectAllWindowsMatch();

    // Two whole drains racing on a fresh backlog.
    await ingest(makeEvents(200, 2000));
    await waitUntil(async () => (await redis.hlen(summaryQueueKey(A))) === 200 && (await redis.sismember(SUMMARY_ACCOUNTS_KEY, A)) === 1, 20_000, 'backlog queued, the account listed');
    const [x, y] = await Promise.all([drainSummaryQueues(store, Date.now, { batchSize: 30 }), drainSummaryQueues(store, Date.now, { batchSize: 30 })]);
    expect(x.folded + y.folded).toBe(200);
    expect(await redis.hlen(summaryQueueKey(A))).toBe(0);
    await expectAllWindowsMatch();
  });

  it('drops rows of windows past retention and malformed rows, and sets expiries', async () => {
    const old = Date.now() - 91 * 24 * HOUR;
    const dims = { userName: 'old', identityType: 'ram-user', accountId: A, accessKeyId: '', serviceName: 'Ecs', eventName: 'Old', apiVersion: '', eventRW: 'Read', resourceType: '', resourceName: '', acsRegion: '', sourceIpAddress: '' };
    const row: SummaryRow = { eventId: 'old-1', accountId: A, windowStartMs: windowStartOf(old), eventTimeMs: old, dimensions: dims };
    await redis.hset(summaryQueueKey(A), 'old-1', JSON.stringify(row), 'junk-1', '{"not":"a row"}');
    await redis.sadd(SUMMARY_ACCOUNTS_KEY, A);
    const report = await drainSummaryQueues(store, Date.now);
    expect(report).toMatchObject({ folded: 0, dropped: 1, malformed: 1, complete: true });
    expect(await redis.exists(summaryWindowKey(A, windowStartOf(old)))).toBe(0);

    const ws = sent[0]?.ws as number;
    const expires = await redis.pexpiretime(summaryWindowKey(A, ws));
    expect(expires).toBe(ws + SUMMARY_WINDOW_MS + 90 * 24 * HOUR);
    expect(await redis.pexpiretime(summaryWindowsKey(A))).toBeGreaterThanOrEqual(expires);
    expect(dimensionKeyOf(dims).startsWith('["old"')).toBe(true);
  });
});

describe('LookupEventSummaries', () => {
  it('serves windows newest first with totals equal to a recount', async () => {
    const { status, body } = await summaries(keyA, { MaxResults: '100' });
    expect(status).toBe(200);
    const windows = body.Windows ?? [];
    expect(windows.length).toBeGreaterThan(0);
    const starts = windows.map((w) => Date.parse(w.WindowStart));
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    for (const w of windows) {
      const ws = Date.parse(w.WindowStart);
      expect(Date.parse(w.WindowEnd) - ws).toBe(SUMMARY_WINDOW_MS);
      expect(w.Total).toBe(recount(ws).total);
      for (const s of w.Summaries) expect(s.AccountId).toBe(A);
    }
    expect((await summaries(keyB, {})).body.Windows).toEqual([]);
  });

  it('pages through every summary without gaps or repeats, and filters by a dimension', async () => {
    const seen = new Set<string>();
    let total = 0;
    let token: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await summaries(keyA, { MaxResults: '7', ...(token ? { NextToken: token } : {}) });
      expect(status).toBe(200);
      const n = (body.Windows ?? []).reduce((sum, w) => sum + w.Summaries.length, 0);
      expect(n).toBeLessThanOrEqual(7);
      for (const w of body.Windows ?? []) {
        for (const s of w.Summaries) {
          const id = `${w.WindowStart}|${JSON.stringify(s)}`;
          expect(seen.has(id)).toBe(false);
          seen.add(id);
          total += s.Count;
        }
      }
      token = body.NextToken;
      pages += 1;
    } while (token && pages < 500);
    expect(token).toBeUndefined();
    expect(total).toBe(sent.length);
    expect(pages).toBeGreaterThan(1);

    const name = 'StopInstance';
    const filtered = await summaries(keyA, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': name, MaxResults: '100' });
    expect(filtered.status).toBe(200);
    let count = 0;
    for (const w of filtered.body.Windows ?? []) {
      const expected = recount(Date.parse(w.WindowStart)).byName.get(name);
      expect(w.Total).toBe(expected);
      for (const s of w.Summaries) {
        expect(s.EventName).toBe(name);
        count += s.Count;
      }
    }
    expect(count).toBe(sent.filter((s) => s.eventName === name).length);
  });

  it('refuses what LookupEvents refuses, keys that are not dimensions, and foreign tokens', async () => {
    expect((await summaries(keyA, { 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': 'x' })).body.Code).toBe('InvalidQueryParameter');
    expect((await summaries(keyA, { MaxResults: '101' })).body.Code).toBe('InvalidQueryParameter');
    expect((await summaries(keyA, { StartTime: '2026-11-20T10:00:00Z', EndTime: '2026-11-19T10:00:00Z' })).body.Code).toBe('InvalidParameterCombination');
    const page = await summaries(keyA, { MaxResults: '1' });
    expect(page.body.NextToken).toBeDefined();
    expect((await summaries(keyB, { MaxResults: '1', NextToken: page.body.NextToken ?? '' })).body.Code).toBe('InvalidNextToken');
  });
});
