/**
 * The Redis logstore against a real redis-server started for this file, and against a
 * three-master Redis Cluster (redis-backends.ts): exact round trip, idempotent writes,
 * time-range paging, retention trimming, tail, isolation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { REDIS_BACKENDS, dbSize, flushAll, useRedisBackends, type RedisBackend } from '../helpers/redis-backends.ts';
import { LOGSTORE_TRIM_BATCH, LOGSTORE_WRITE_CHUNK, RedisLogstore, logstoreKeys } from '../../adapters/redis/logstore.ts';
import { ValidationError } from '../../shared/errors.ts';
import { LOGSTORE_TOPIC, type LogEntry, type LogEntryInput } from '../../shared/logstore/logstore.ts';

const A = '1234567890123456';
const B = '2234567890123456';
const TRAIL = 'audit-trail';
const OTHER_TRAIL = 'other-trail';
const DAY_MS = 86_400_000;
const NOW = Date.parse('2024-07-01T12:00:00Z');
const T0 = NOW - 10 * DAY_MS; // well inside retention

const backends = useRedisBackends();
let backend: RedisBackend;
let redis: RedisClient;
let store: RedisLogstore;

/** An event JSON with non-ASCII text, escapes and odd spacing: what is written must come back byte for byte. */
function eventJson(eventId: string, timeMs: number, extra = ''): string {
  return `{"eventId":"${eventId}", "eventTime":"${new Date(timeMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}","eventName":"StopInstance","note":"résumé ✓ 中文 \\u2028 \\"q\\""${extra}}`;
}

function entry(n: number, timeMs = T0 + n * 1000, prefix = 'evt'): LogEntryInput {
  const eventId = `${prefix}-${String(n).padStart(7, '0')}`;
  return { eventId, eventTimeMs: timeMs, json: eventJson(eventId, timeMs) };
}

const range = (from: number, to: number, prefix?: string, at?: (n: number) => number): LogEntryInput[] =>
  Array.from({ length: to - from }, (_, i) => entry(from + i, at ? at(from + i) : undefined, prefix));

const ids = (logs: LogEntry[]) => logs.map((l) => l.eventId);
const sec = (ms: number) => Math.floor(ms / 1000);

describe.each(REDIS_BACKENDS)('%s', (backendName) => {
  beforeAll(() => {
    backend = backends.get(backendName);
    redis = backend.client({ maxRetriesPerRequest: 3 });
  });

  afterAll(() => {
    redis?.disconnect();
  });

  beforeEach(async () => {
    await flushAll(redis);
    store = new RedisLogstore(redis, { now: () => NOW });
  });

  describe('RedisLogstore write/read', () => {
    it('round-trips the event JSON byte for byte with topic, __time__ and eventId', async () => {
      const entries = [entry(1, T0 + 1_999), entry(2, T0 + 5_000)];
      expect(await store.write(A, TRAIL, entries)).toEqual({ written: 2, duplicates: 0 });
      const result = await store.getLogs({ accountId: A, trailName: TRAIL, from: 0, to: sec(NOW) });
      expect(result.count).toBe(2);
      expect(result.progress).toBe('Complete');
      expect(result.logs.map(({ eventId, topic, time, event }) => ({ eventId, topic, time, event }))).toEqual(
        entries.map((e) => ({ eventId: e.eventId, topic: LOGSTORE_TOPIC, time: sec(e.eventTimeMs), event: e.json })),
      );
      for (const log of result.logs) {
        expect(log.id).toMatch(/^\d+-\d+$/);
        expect(Buffer.from(log.event)).toEqual(Buffer.from(entries.find((e) => e.eventId === log.eventId)?.json ?? ''));
      }
    });

    it('stores one stream per trail under the account hash tag, with the SLS-style fields', async () => {
      await store.write(A, TRAIL, [entry(1)]);
      const keys = logstoreKeys(A, TRAIL);
      expect(keys.stream).toBe(`{tk:${A}}:logstore:actiontrail_${TRAIL}`);
      for (const key of Object.values(keys)) expect(key.startsWith(`{tk:${A}}:`)).toBe(true);
      const [[, fields] = ['', []]] = await redis.xrange(keys.stream, '-', '+');
      expect(fields).toEqual(['__topic__', LOGSTORE_TOPIC, '__time__', String(sec(T0 + 1000)), 'eventId', 'evt-0000001', 'event', entry(1).json]);
    });

    it('collapses a batch written twice', async () => {
      const batch = range(0, 10);
      expect(await store.write(A, TRAIL, batch)).toEqual({ written: 10, duplicates: 0 });
      expect(await store.write(A, TRAIL, batch)).toEqual({ written: 0, duplicates: 10 });
      expect(await store.size(A, TRAIL)).toBe(10);
      expect(await redis.xlen(logstoreKeys(A, TRAIL).stream)).toBe(10);
    });

    it('collapses an overlapping range and repeats inside one batch', async () => {
      await store.write(A, TRAIL, range(0, 10));
      expect(await store.write(A, TRAIL, range(5, 15))).toEqual({ written: 5, duplicates: 5 });
      expect(await store.write(A, TRAIL, [entry(20), entry(20), entry(21)])).toEqual({ written: 2, duplicates: 1 });
      const { logs } = await store.getLogs({ accountId: A, trailName: TRAIL, from: 0, to: sec(NOW) });
      expect(ids(logs)).toEqual([...range(0, 15), entry(20), entry(21)].map((e) => e.eventId));
    });

    it('concurrent writers of the same events append each event once', async () => {
      const batch = range(0, 50);
      const results = await Promise.all([store.write(A, TRAIL, batch), store.write(A, TRAIL, batch), store.write(A, TRAIL, range(25, 75))]);
      expect(results.reduce((n, r) => n + r.written, 0)).toBe(75);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(75);
      expect(await redis.xlen(logstoreKeys(A, TRAIL).stream)).toBe(75);
    });

    it(`writes batches larger than one script call (${LOGSTORE_WRITE_CHUNK})`, async () => {
      const batch = range(0, LOGSTORE_WRITE_CHUNK * 2 + 7);
      expect(await store.write(A, TRAIL, batch)).toEqual({ written: batch.length, duplicates: 0 });
      expect(await store.write(A, TRAIL, batch)).toEqual({ written: 0, duplicates: batch.length });
    });

    it('rejects malformed input before touching Redis', async () => {
      await expect(store.write(A, '../../etc', [entry(1)])).rejects.toThrow(ValidationError);
      await expect(store.write('1}x', TRAIL, [entry(1)])).rejects.toThrow(ValidationError);
      await expect(store.write(A, TRAIL, [{ ...entry(1), eventId: '' }])).rejects.toThrow(ValidationError);
      // Every refused entry is named by position (a deliverer sets those aside and writes the rest).
      await expect(store.write(A, TRAIL, [entry(1), { ...entry(2), eventId: '' }, { ...entry(3), eventTimeMs: Number.NaN }])).rejects.toMatchObject({
        name: 'LogEntriesRefusedError',
        refused: [
          { index: 1, code: 'InvalidEventId' },
          { index: 2, eventId: 'evt-0000003', code: 'InvalidEventTime' },
        ],
      });
      await expect(store.getLogs({ accountId: A, trailName: TRAIL, from: 0, to: 10, line: 101 })).rejects.toThrow(ValidationError);
      expect(await dbSize(redis)).toBe(0);
    });
  });

  describe('RedisLogstore getLogs: __time__ range and paging', () => {
    // Written out of time order: arrival order must not leak into time order.
    const entries = [...range(50, 100), ...range(0, 50)];
    beforeEach(async () => {
      await store.write(A, TRAIL, entries);
    });
    const base = { accountId: A, trailName: TRAIL };
    const t = (n: number) => sec(T0 + n * 1000);

    it('from is inclusive, to exclusive, oldest first', async () => {
      const { logs, count } = await store.getLogs({ ...base, from: t(10), to: t(20) });
      expect(count).toBe(10);
      expect(ids(logs)).toEqual(range(10, 20).map((e) => e.eventId));
      expect((await store.getLogs({ ...base, from: t(10), to: t(10) })).count).toBe(0);
    });

    it('pages with offset and line', async () => {
      const page = (offset: number) => store.getLogs({ ...base, from: t(0), to: t(100), offset, line: 30 });
      const pages = await Promise.all([0, 30, 60, 90].map(page));
      expect(pages.map((p) => p.count)).toEqual([30, 30, 30, 10]);
      expect(pages.flatMap((p) => ids(p.logs))).toEqual(range(0, 100).map((e) => e.eventId));
      expect((await page(100)).logs).toEqual([]);
    });

    it('reverse gives newest first, paged the same way', async () => {
      const first = await store.getLogs({ ...base, from: t(0), to: t(100), line: 5, reverse: true });
      expect(ids(first.logs)).toEqual(range(95, 100).map((e) => e.eventId).reverse());
      const second = await store.getLogs({ ...base, from: t(0), to: t(100), offset: 5, line: 5, reverse: true });
      expect(ids(second.logs)).toEqual(range(90, 95).map((e) => e.eventId).reverse());
      const inWindow = await store.getLogs({ ...base, from: t(10), to: t(20), reverse: true });
      expect(ids(inWindow.logs)).toEqual(range(10, 20).map((e) => e.eventId).reverse());
      const tail = await store.getLogs({ ...base, from: t(10), to: t(20), offset: 7, line: 5, reverse: true });
      expect(ids(tail.logs)).toEqual(range(10, 13).map((e) => e.eventId).reverse());
      expect((await store.getLogs({ ...base, from: t(10), to: t(20), offset: 10, reverse: true })).logs).toEqual([]);
    });

    it('pages inside a window that does not start at the oldest entry', async () => {
      const { logs } = await store.getLogs({ ...base, from: t(40), to: t(60), offset: 15, line: 10 });
      expect(ids(logs)).toEqual(range(55, 60).map((e) => e.eventId));
      expect((await store.getLogs({ ...base, from: t(200), to: t(300) })).logs).toEqual([]);
    });

    it('returns at most 100 by default', async () => {
      await store.write(A, TRAIL, range(100, 250));
      const { count, logs } = await store.getLogs({ ...base, from: 0, to: sec(NOW) });
      expect(count).toBe(100);
      expect(ids(logs)).toEqual(range(0, 100).map((e) => e.eventId));
    });

    it('entries with the same __time__ come in arrival order', async () => {
      await flushAll(redis);
      // One batch lands within a millisecond or two: stream sequence numbers pass 9 (…-9, …-10).
      const same = Array.from({ length: 25 }, (_, i) => entry(100 - i, T0 + (i * 37) % 1000));
      await store.write(A, TRAIL, same);
      const { logs } = await store.getLogs({ ...base, from: sec(T0), to: sec(T0) + 1 });
      expect(ids(logs)).toEqual(same.map((e) => e.eventId));
      const newest = await store.getLogs({ ...base, from: sec(T0), to: sec(T0) + 1, reverse: true, line: 3 });
      expect(ids(newest.logs)).toEqual(same.slice(-3).reverse().map((e) => e.eventId));
    });
  });

  describe('RedisLogstore retention', () => {
    const old = (n: number) => NOW - 200 * DAY_MS + n * 1000; // past 180 days
    const recent = (n: number) => NOW - DAY_MS + n * 1000;

    it('trim removes entries whose __time__ is past 180 days, with their dedupe records', async () => {
      const writer = new RedisLogstore(redis, { trimOnWrite: 0 });
      await writer.write(A, TRAIL, [...range(0, 20, 'old', old), ...range(0, 30, 'new', recent)]);
      expect(await store.size(A, TRAIL)).toBe(50);

      expect(await store.trim(A, TRAIL, NOW)).toBe(20);
      const keys = logstoreKeys(A, TRAIL);
      expect(await redis.xlen(keys.stream)).toBe(30);
      expect(await redis.zcard(keys.time)).toBe(30);
      expect(await redis.hlen(keys.ids)).toBe(30);
      expect(await redis.hexists(keys.ids, 'old-0000000')).toBe(0);
      const { logs } = await store.getLogs({ accountId: A, trailName: TRAIL, from: 0, to: sec(NOW) });
      expect(ids(logs)).toEqual(range(0, 30, 'new', recent).map((e) => e.eventId));
      expect(await store.trim(A, TRAIL, NOW)).toBe(0);

      // Its dedupe record gone, a trimmed event may be written again (and goes at the next trim).
      expect(await writer.write(A, TRAIL, [entry(0, old(0), 'old')])).toEqual({ written: 1, duplicates: 0 });
      // Recent ones are still deduplicated.
      expect(await writer.write(A, TRAIL, [entry(0, recent(0), 'new')])).toEqual({ written: 0, duplicates: 1 });
    });

    it('keeps an entry exactly at the 180-day boundary', async () => {
      const edge = NOW - 180 * DAY_MS;
      await new RedisLogstore(redis, { trimOnWrite: 0 }).write(A, TRAIL, [entry(1, edge), entry(2, edge - 1000)]);
      expect(await store.trim(A, TRAIL, NOW)).toBe(1);
      expect(ids((await store.getLogs({ accountId: A, trailName: TRAIL, from: 0, to: sec(NOW) })).logs)).toEqual(['evt-0000001']);
    });

    it(`trims more than one batch (${LOGSTORE_TRIM_BATCH}) in one call`, async () => {
      const writer = new RedisLogstore(redis, { trimOnWrite: 0 });
      await writer.write(A, TRAIL, range(0, LOGSTORE_TRIM_BATCH * 2 + 3, 'old', old));
      await writer.write(A, TRAIL, range(0, 5, 'new', recent));
      expect(await store.trim(A, TRAIL, NOW)).toBe(LOGSTORE_TRIM_BATCH * 2 + 3);
      expect(await redis.xlen(logstoreKeys(A, TRAIL).stream)).toBe(5);
      expect(await redis.hlen(logstoreKeys(A, TRAIL).ids)).toBe(5);
    });

    it('a write first removes a bounded number of expired entries', async () => {
      await new RedisLogstore(redis, { trimOnWrite: 0 }).write(A, TRAIL, range(0, 15, 'old', old));
      const trimming = new RedisLogstore(redis, { now: () => NOW, trimOnWrite: 10 });
      await trimming.write(A, TRAIL, [entry(1, recent(1), 'new')]);
      expect(await store.size(A, TRAIL)).toBe(6);
      await trimming.write(A, TRAIL, [entry(2, recent(2), 'new')]);
      expect(await store.size(A, TRAIL)).toBe(2);
      expect(await redis.hlen(logstoreKeys(A, TRAIL).ids)).toBe(2);
    });
  });

  describe('RedisLogstore isolation', () => {
    it('two trails and two accounts do not see each other', async () => {
      await store.write(A, TRAIL, range(0, 3, 'a1'));
      await store.write(A, OTHER_TRAIL, range(0, 4, 'a2'));
      await store.write(B, TRAIL, range(0, 5, 'b1'));
      // The same eventId in another trail or account is not a duplicate there.
      expect(await store.write(B, OTHER_TRAIL, range(0, 3, 'a1'))).toEqual({ written: 3, duplicates: 0 });

      const all = (accountId: string, trailName: string) => store.getLogs({ accountId, trailName, from: 0, to: sec(NOW) });
      expect(ids((await all(A, TRAIL)).logs)).toEqual(range(0, 3, 'a1').map((e) => e.eventId));
      expect(ids((await all(A, OTHER_TRAIL)).logs)).toEqual(range(0, 4, 'a2').map((e) => e.eventId));
      expect(ids((await all(B, TRAIL)).logs)).toEqual(range(0, 5, 'b1').map((e) => e.eventId));
      expect(ids((await all(B, OTHER_TRAIL)).logs)).toEqual(range(0, 3, 'a1').map((e) => e.eventId));

      // Trimming one trail leaves the others alone.
      expect(await store.trim(A, TRAIL, NOW + 400 * DAY_MS)).toBe(3);
      expect(await store.size(A, OTHER_TRAIL)).toBe(4);
      expect(await store.size(B, TRAIL)).toBe(5);
    });
  });

  describe('RedisLogstore tail', () => {
    it('reads in arrival order from a cursor, and latest gives the last n', async () => {
      await store.write(A, TRAIL, range(5, 10));
      await store.write(A, TRAIL, range(0, 5)); // older events arriving later
      const first = await store.tail(A, TRAIL, '0', { count: 6 });
      expect(ids(first.entries)).toEqual([...range(5, 10), entry(0)].map((e) => e.eventId));
      const rest = await store.tail(A, TRAIL, first.lastId);
      expect(ids(rest.entries)).toEqual(range(1, 5).map((e) => e.eventId));
      expect(await store.tail(A, TRAIL, rest.lastId)).toEqual({ entries: [], lastId: rest.lastId });
      expect(ids(await store.latest(A, TRAIL, 3))).toEqual(range(2, 5).map((e) => e.eventId));
    });

    it("'$' follows only what arrives next; a blocked read wakes on a write", async () => {
      await store.write(A, TRAIL, range(0, 3));
      const since = await store.tail(A, TRAIL, '$');
      expect(since.entries).toEqual([]);
      const follower = backend.client();
      try {
        const waiting = new RedisLogstore(follower).tail(A, TRAIL, since.lastId, { blockMs: 5_000 });
        await new Promise((r) => setTimeout(r, 100));
        await store.write(A, TRAIL, [entry(3), entry(1)]);
        const woke = await waiting;
        expect(ids(woke.entries)).toEqual(['evt-0000003']);
      } finally {
        follower.disconnect();
      }
    });
  });
});
