/**
 * RedisHistoryStore against a real redis-server (own port, temp dir, the store's documented
 * settings) and against a three-master Redis Cluster (redis-backends.ts): exact bytes,
 * idempotent puts, every lookup key, order and bounds, paging while events are being added,
 * several accounts, isolation, purge and retention.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJson, encodeBlob } from '../../adapters/redis/history-codec.ts';
import { HISTORY_DICTIONARY_V1 } from '../../adapters/redis/history-dictionary.ts';
import { PresetInflater } from '../../adapters/redis/history-inflate.ts';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../../shared/classify/classify.ts';
import { parseEvent } from '../../shared/events/schema.ts';
import {
  HISTORY_RETENTION_MS,
  historyRecordOf,
  LOOKUP_KEYS,
  type HistoryCursor,
  type HistoryPage,
  type HistoryQuery,
  type HistoryRecord,
  type LookupKey,
} from '../../shared/history/history-store.ts';
import { scanKeys, type RedisClient } from '../../adapters/redis.ts';
import { REDIS_BACKENDS, useRedisBackends, type RedisBackend } from '../helpers/redis-backends.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const DAY = 86_400_000;
const HOUR = 3_600_000;

const backends = useRedisBackends({ config: HISTORY_SERVER_CONFIG });
let backend: RedisBackend;
let redis: RedisClient;
let store: RedisHistoryStore;

// ---- helpers ---------------------------------------------------------------------------

let accounts = 0;
/** A fresh account id per use, so tests never see each other's events. */
const newAccount = () => `${1_000_000_000_000_000 + process.pid * 1000 + ++accounts}`;

/** A day boundary well inside retention, so whole days of events fit before "now". */
const BASE = Math.floor((Date.now() - 30 * DAY) / DAY) * DAY;

function record(
  accountId: string,
  eventId: string,
  eventTimeMs: number,
  attributes: HistoryRecord['attributes'] = {},
  json?: string,
): HistoryRecord {
  return { accountId, eventId, eventTimeMs, attributes, json: json ?? JSON.stringify({ eventId, t: eventTimeMs, ...attributes }) };
}

/** The fixtures, classified, as history records of one account at recent times. */
function fixtureRecords(accountId: string, startMs: number): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  for (const name of readdirSync(FIXTURES).sort()) {
    const parsed = parseEvent(JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')));
    if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.issues)}`);
    const classified = classifyEvent(parsed.event);
    if (!classified.kept) continue;
    const event = { ...classified.event, eventId: classified.event.eventId ?? name };
    out.push(
      historyRecordOf(event, accountId, startMs + out.length * 60_000, {
        types: resourceTypesOf(classified.event),
        names: resourceNamesOf(classified.event),
      }),
    );
  }
  return out;
}

const idOf = (json: string) => (JSON.parse(json) as { eventId: string }).eventId;

function query(accountIds: string[], overrides: Partial<HistoryQuery> = {}): HistoryQuery {
  return { accountIds, startMs: BASE - 10 * DAY, endMs: Date.now(), direction: 'BACKWARD', limit: 50, ...overrides };
}

/** The JSON of every page of a query; `between` runs after each page (to add events meanwhile). */
async function allJson(q: HistoryQuery, between?: (page: HistoryPage) => Promise<void>): Promise<string[]> {
  const events: string[] = [];
  let after: HistoryCursor | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.lookup({ ...q, ...(after ? { after } : {}) });
    expect(page.events.length).toBeLessThanOrEqual(q.limit);
    events.push(...page.events);
    if (between) await between(page);
    if (!page.next) return events;
    after = page.next;
  }
  throw new Error('paging did not end');
}

/** The eventIds of every page of a query. */
async function allPages(q: HistoryQuery, between?: (page: HistoryPage) => Promise<void>): Promise<string[]> {
  return (await allJson(q, between)).map(idOf);
}

/** The order the store promises: (time, eventId bytes), reversed for BACKWARD. */
function ordered(records: readonly HistoryRecord[], direction: 'BACKWARD' | 'FORWARD'): string[] {
  const sorted = [...records].sort(
    (a, b) => a.eventTimeMs - b.eventTimeMs || Buffer.compare(Buffer.from(a.eventId), Buffer.from(b.eventId)),
  );
  if (direction === 'BACKWARD') sorted.reverse();
  return sorted.map((r) => r.eventId);
}

async function keysOf(accountId: string): Promise<string[]> {
  return scanKeys(redis, `tk:{${accountId}}:*`, 1000);
}

// ---- tests ----------------------------------------------------------------------------

describe('body codec', () => {
  it('inflates exactly what zlib deflates, whatever the input, level and strategy', () => {
    const inflater = new PresetInflater(HISTORY_DICTIONARY_V1);
    const json = fixtureRecords('1', BASE).map((r) => r.json);
    for (let i = 0; i < 400; i++) {
      const kind = i % 4;
      const input =
        kind === 0
          ? randomBytes(i * 7).toString('latin1')
          : kind === 1
            ? (json[i % json.length] ?? '').repeat(1 + (i % 40))
            : kind === 2
              ? 'ab'.repeat(i * 50)
              : Array.from({ length: i * 20 }, (_, k) => 'xyz "{}'[(k * k + i) % 7]).join('');
      const suffix = randomBytes(i % 37);
      const compressed = zlib.deflateRawSync(Buffer.from(input, 'utf8'), {
        level: i % 10,
        strategy: i % 5,
        dictionary: Buffer.concat([HISTORY_DICTIONARY_V1, suffix]),
      });
      expect(inflater.inflateToString(compressed, suffix)).toBe(Buffer.from(input, 'utf8').toString('utf8'));
    }
  });

  it('keeps the frozen dictionary byte for byte', () => {
    expect(createHash('sha256').update(HISTORY_DICTIONARY_V1).digest('hex')).toBe(
      '90d02a5d54139cbb020ed32c6b729c007bfe3d446bcf4b22675ed307ee0c3b15',
    );
  });

  it('round-trips unusual strings in every format', () => {
    for (const json of ['{}', '{"a":"ünïcödé 中文 😀"}', '{"bad":"\uD800 lone"}', `{"big":"${randomBytes(3000).toString('base64')}"}`, 'x']) {
      expect(decodeJson(encodeBlob(record('1', 'id-1', BASE, {}, json)))).toBe(json);
    }
  });
});

describe.each(REDIS_BACKENDS)('RedisHistoryStore (%s)', (backendName) => {
  beforeAll(() => {
    backend = backends.get(backendName);
    redis = backend.client({ enableAutoPipelining: true });
    store = new RedisHistoryStore(redis);
  });

  afterAll(() => {
    redis?.disconnect();
  });

  it('serves every stored JSON byte for byte (get and lookup)', async () => {
    const account = newAccount();
    const records = [
      ...fixtureRecords(account, BASE + HOUR),
      record(account, 'unicode', BASE + 2 * HOUR, {}, '{"msg":"ünïcödé 中文 😀 \\u0000 \\"quoted\\"","n":1.50}'),
      record(account, 'lone-surrogate', BASE + 2 * HOUR + 1, {}, '{"bad":"\uDC00\uD800"}'),
      record(account, 'big', BASE + 2 * HOUR + 2, {}, JSON.stringify({ blob: randomBytes(6000).toString('base64') })),
      record(account, 'tiny', BASE + 2 * HOUR + 3, {}, '{}'),
      record(account, 'spaces', BASE + 2 * HOUR + 4, {}, '{ "a" : [ 1 , 2 ] }\n'),
    ];
    expect(await store.put(records)).toEqual({ added: records.length, duplicates: 0, held: [] });
    for (const r of records) expect(await store.get([account], r.eventId)).toBe(r.json);
    const byId = new Map(records.map((r) => [r.eventId, r.json]));
    for (const direction of ['BACKWARD', 'FORWARD'] as const) {
      const expected = ordered(records, direction).map((id) => byId.get(id));
      expect(await allJson(query([account], { limit: 7, direction }))).toEqual(expected);
      expect((await store.lookup(query([account], { limit: 50, direction }))).events).toEqual(expected);
    }
  });

  it('is idempotent by (accountId, eventId): repeats, in-batch repeats and concurrent writers', async () => {
    const account = newAccount();
    const records = Array.from({ length: 300 }, (_, i) =>
      record(account, `dup-${i}`, BASE + i * 1000, { EventRW: [i % 2 ? 'Read' : 'Write'], User: [`u${i % 3}`] }),
    );
    expect(await store.put(records.slice(0, 100))).toEqual({ added: 100, duplicates: 0, held: [] });
    // held: what history held before the put (each id once; a repeat inside the batch is not)
    expect(await store.put([...records.slice(0, 100), ...records.slice(0, 10)])).toEqual({ added: 0, duplicates: 110, held: records.slice(0, 100).map((r) => r.eventId) });
    expect(await store.put([records[100]!, records[100]!])).toEqual({ added: 1, duplicates: 1, held: [] });
    const mixed = await store.put([records[101]!, records[5]!, records[102]!, records[100]!]);
    expect(mixed).toEqual({ added: 2, duplicates: 2, held: [records[5]!.eventId, records[100]!.eventId] });

    // two instances (own connections) writing the same records at once
    const other = backend.client();
    try {
      const second = new RedisHistoryStore(other);
      const rest = records.slice(103);
      const [a, b] = await Promise.all([store.put(rest), second.put([...rest].reverse())]);
      expect(a.added + b.added).toBe(rest.length);
      expect(a.duplicates + b.duplicates).toBe(rest.length);
      // each record was added by one writer and held for the other
      expect(new Set([...a.held, ...b.held])).toEqual(new Set(rest.map((r) => r.eventId)));
      expect(a.held.length + b.held.length).toBe(rest.length);
    } finally {
      other.disconnect();
    }
    expect(await allPages(query([account], { limit: 50 }))).toEqual(ordered(records, 'BACKWARD'));
    expect(await allPages(query([account], { condition: { key: 'User', value: 'u1' } }))).toEqual(
      ordered(records.filter((_, i) => i % 3 === 1), 'BACKWARD'),
    );
    expect(await store.has(account, ['dup-0', 'dup-299', 'nope'])).toEqual([true, true, false]);
  });

  it('finds events by each lookup key, any of a record\'s values', async () => {
    const account = newAccount();
    const records = fixtureRecords(account, BASE + 3 * HOUR);
    await store.put(records);
    let checked = 0;
    for (const key of LOOKUP_KEYS) {
      const values =
        key === 'EventId'
          ? records.map((r) => r.eventId)
          : [...new Set(records.flatMap((r) => r.attributes[key] ?? []))];
      if (key !== 'EventId') expect(values.length, key).toBeGreaterThan(0);
      for (const value of values) {
        const expected = records.filter((r) =>
          key === 'EventId' ? r.eventId === value : (r.attributes[key as Exclude<LookupKey, 'EventId'>] ?? []).includes(value),
        );
        for (const direction of ['BACKWARD', 'FORWARD'] as const) {
          const got = await allPages(query([account], { direction, limit: 2, condition: { key, value } }));
          expect(got, `${key}=${value} ${direction}`).toEqual(ordered(expected, direction));
        }
        checked++;
      }
      const none = await store.lookup(query([account], { condition: { key, value: 'no-such-value' } }));
      expect(none).toEqual({ events: [] });
    }
    expect(checked).toBeGreaterThan(40);
    // resource names and types: every value of a record matches it
    const ram = records.find((r) => (r.attributes.ResourceName ?? []).length > 1);
    expect(ram).toBeDefined();
    for (const name of ram?.attributes.ResourceName ?? []) {
      const page = await store.lookup(query([account], { condition: { key: 'ResourceName', value: name } }));
      expect(page.events.map(idOf)).toContain(ram?.eventId);
    }
  });

  it('orders both ways by (time, eventId) and includes both bounds', async () => {
    const account = newAccount();
    const t0 = BASE + 5 * HOUR;
    const records = [
      record(account, 'before', t0 - 1),
      record(account, 'start-b', t0),
      record(account, 'start-a', t0),
      record(account, 'middle', t0 + 500),
      record(account, 'end-2', t0 + 1000),
      record(account, 'end-10', t0 + 1000),
      record(account, 'after', t0 + 1001),
    ];
    await store.put(records);
    const inside = records.slice(1, 6);
    for (const direction of ['BACKWARD', 'FORWARD'] as const) {
      const page = await store.lookup(query([account], { startMs: t0, endMs: t0 + 1000, direction }));
      expect(page.events.map(idOf)).toEqual(ordered(inside, direction));
      expect(page.next).toBeUndefined();
    }
    expect((await store.lookup(query([account], { startMs: t0, endMs: t0 }))).events.map(idOf)).toEqual(['start-b', 'start-a']);
    expect(await store.lookup(query([account], { startMs: t0 + 1, endMs: t0 + 499 }))).toEqual({ events: [] });
    // EventId condition honours the range and the cursor too
    expect((await store.lookup(query([account], { startMs: t0, endMs: t0 + 1000, condition: { key: 'EventId', value: 'before' } }))).events).toEqual([]);
    expect((await store.lookup(query([account], { startMs: t0, endMs: t0 + 1000, condition: { key: 'EventId', value: 'middle' } }))).events.map(idOf)).toEqual(['middle']);
    const after = { timeMs: t0 + 500, eventId: 'middle' };
    expect((await store.lookup(query([account], { after, condition: { key: 'EventId', value: 'middle' } }))).events).toEqual([]);
    expect((await store.lookup(query([account], { after, condition: { key: 'EventId', value: 'start-a' } }))).events.map(idOf)).toEqual(['start-a']);
    await expect(store.lookup(query([account], { limit: 0 }))).rejects.toThrow(RangeError);
    await expect(store.lookup(query([account], { limit: 51 }))).rejects.toThrow(RangeError);
  });

  it('pages through every chunk state without gaps or repeats while events are added', { timeout: 90_000 }, async () => {
    const account = newAccount();
    const initial: HistoryRecord[] = [];
    let serial = 0;
    const add = (t: number, rw: string) =>
      record(account, `e${(serial++ * 7919) % 100_003}-${serial}`, t, { EventRW: [rw], User: [`user-${serial % 40}`] });
    // day 0: a few (packed); day 1: ~300 (one day chunk); day 2: 1400 in one hour (5-minute
    // chunks) plus 400 spread (hour chunks); bursts of identical milliseconds everywhere
    for (let i = 0; i < 5; i++) initial.push(add(BASE + i * HOUR, 'Read'));
    for (let i = 0; i < 300; i++) initial.push(add(BASE + DAY + Math.floor(i / 3) * 60_000, i % 4 ? 'Read' : 'Write'));
    for (let i = 0; i < 1400; i++) initial.push(add(BASE + 2 * DAY + 7 * HOUR + Math.floor(i / 5) * 10_000, i % 3 ? 'Read' : 'Write'));
    for (let i = 0; i < 400; i++) initial.push(add(BASE + 2 * DAY + (i % 24) * HOUR + i * 997, 'Write'));
    for (let i = 0; i < 60; i++) initial.push(add(BASE + 2 * DAY + 12 * HOUR, 'Read'));
    // stored in a shuffled order and in several batches, so chunks merge out-of-order inserts
    const shuffled = [...initial].sort((a, b) => hash(a.eventId) - hash(b.eventId));
    for (let i = 0; i < shuffled.length; i += 333) await store.put(shuffled.slice(i, i + 333));
    const kinds = new Set((await keysOf(account)).map((key) => key.split(':')[2]));
    for (const kind of ['x', 'z', 'h', 'f', 'b', 'i']) expect(kinds, kind).toContain(kind);

    const startMs = BASE - HOUR;
    const endMs = BASE + 3 * DAY;
    const times = initial.map((r) => r.eventTimeMs);
    let k = 0;
    const addSome = async (page: HistoryPage) => {
      const extra: HistoryRecord[] = [];
      for (let i = 0; i < 4; i++, k++) {
        // new events at existing milliseconds, around the cursor, and anywhere in the range
        const t = i === 0 && page.next ? page.next.timeMs : i === 1 ? (times[(k * 31) % times.length] ?? startMs) : startMs + ((k * 104_729_123) % (endMs - startMs));
        extra.push(add(t, k % 2 ? 'Read' : 'Write'));
      }
      await store.put(extra);
    };
    const cases: [HistoryQuery['direction'], HistoryQuery['condition'], (r: HistoryRecord) => boolean][] = [
      ['BACKWARD', undefined, () => true],
      ['FORWARD', undefined, () => true],
      ['BACKWARD', { key: 'EventRW', value: 'Write' }, (r) => r.attributes.EventRW?.[0] === 'Write'],
      ['FORWARD', { key: 'EventRW', value: 'Read' }, (r) => r.attributes.EventRW?.[0] === 'Read'],
      ['BACKWARD', { key: 'User', value: 'user-7' }, (r) => r.attributes.User?.[0] === 'user-7'],
    ];
    for (const [direction, condition, matches] of cases) {
      const expected = initial.filter(matches).map((r) => r.eventId);
      // a second writer keeps adding events while the pages are read (and one more batch
      // lands between pages)
      let paging = true;
      const writer = (async () => {
        for (let w = 0; paging; w++) {
          await store.put([add(startMs + ((w * 7_777_777 + k) % (endMs - startMs)), 'Write'), add(times[(w * 13) % times.length] ?? startMs, 'Read')]);
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
      })();
      const seen = await allPages({ accountIds: [account], startMs, endMs, direction, limit: 13, ...(condition ? { condition } : {}) }, addSome).finally(() => {
        paging = false;
      });
      await writer;
      expect(new Set(seen).size, `${direction} ${condition?.value}: repeats`).toBe(seen.length);
      const got = new Set(seen);
      const missing = expected.filter((id) => !got.has(id));
      expect(missing, `${direction} ${condition?.value}: gaps`).toEqual([]);
    }
    // with nothing added meanwhile, paging gives exactly the order
    const everything = await store.lookup(query([account], { startMs: BASE + 2 * DAY + 12 * HOUR, endMs: BASE + 2 * DAY + 12 * HOUR }));
    expect(everything.events.length).toBeGreaterThanOrEqual(50);
    const frozen = await allPages({ accountIds: [account], startMs: BASE + DAY, endMs: BASE + 2 * DAY + 8 * HOUR, direction: 'FORWARD', limit: 9 });
    const stored = (await allPages({ accountIds: [account], startMs: BASE + DAY, endMs: BASE + 2 * DAY + 8 * HOUR, direction: 'FORWARD', limit: 50 }));
    expect(frozen).toEqual(stored);
    expect(new Set(frozen).size).toBe(frozen.length);
  });

  it('keeps a busy 5-minute string exact: long strings read by range, out-of-order inserts merged', { timeout: 60_000 }, async () => {
    const account = newAccount();
    const slotStart = BASE + 3 * DAY + 9 * HOUR + 5 * 60_000;
    // 6,000 events in one 5-minute slot (three times what a script reads whole), in bursts of
    // identical milliseconds (one of 150): the first half written in time order (appends), the
    // rest by three concurrent writers in shuffled batches (merges into the middle)
    const records: HistoryRecord[] = [];
    for (let i = 0; i < 6000; i++) {
      const t = i >= 4000 && i < 4150 ? slotStart + 100_000 : slotStart + Math.floor(i / 4) * 173;
      records.push(record(account, `s${hash(String(i)) % 1_000_003}-${i}`, t, { EventRW: [i % 5 ? 'Read' : 'Write'] }));
    }
    const inOrder = [...records.slice(0, 3000)].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    for (let i = 0; i < inOrder.length; i += 250) await store.put(inOrder.slice(i, i + 250));
    const shuffled = records.slice(3000).sort((a, b) => hash(a.eventId) - hash(b.eventId));
    const batches: HistoryRecord[][] = [];
    for (let i = 0; i < shuffled.length; i += 250) batches.push(shuffled.slice(i, i + 250));
    await Promise.all([0, 1, 2].map(async (w) => {
      for (let b = w; b < batches.length; b += 3) await store.put(batches[b] as HistoryRecord[]);
    }));
    const slotKeys = (await keysOf(account)).filter((k) => k.split(':')[2] === 'f');
    const lengths = await Promise.all(slotKeys.map((k) => redis.strlen(k)));
    expect(Math.max(...lengths)).toBe(6000 * 8);

    const window = { startMs: slotStart - 1, endMs: slotStart + 5 * 60_000 };
    for (const direction of ['FORWARD', 'BACKWARD'] as const) {
      expect(await allPages({ accountIds: [account], ...window, direction, limit: 50 }), direction).toEqual(ordered(records, direction));
    }
    const writes = records.filter((r) => r.attributes.EventRW?.[0] === 'Write');
    expect(await allPages({ accountIds: [account], ...window, direction: 'BACKWARD', limit: 37, condition: { key: 'EventRW', value: 'Write' } })).toEqual(ordered(writes, 'BACKWARD'));
    // a narrow window in the middle, bounds inclusive
    const [from, to] = [slotStart + 100 * 173, slotStart + 130 * 173];
    const inside = records.filter((r) => r.eventTimeMs >= from && r.eventTimeMs <= to);
    expect(inside.length).toBe(31 * 4);
    // pages that start inside the burst read it across several windows
    const burst = records.filter((r) => r.eventTimeMs === slotStart + 100_000);
    expect(burst.length).toBe(150);
    expect(await allPages({ accountIds: [account], startMs: from, endMs: to, direction: 'FORWARD', limit: 7 })).toEqual(ordered(inside, 'FORWARD'));
  });

  it('merges several accounts (a management account and its members) in one order', async () => {
    const [a, b, c] = [newAccount(), newAccount(), newAccount()];
    const records: HistoryRecord[] = [];
    for (let i = 0; i < 120; i++) {
      const owner = [a, b, c][i % 3]!;
      // shared milliseconds across accounts, ties broken by eventId
      records.push(record(owner, `m-${(i * 37) % 120}-${owner.slice(-3)}`, BASE + 4 * DAY + Math.floor(i / 4) * 1000, { EventType: [i % 5 ? 'ApiCall' : 'ConsoleSignin'] }));
    }
    await store.put(records);
    for (const direction of ['BACKWARD', 'FORWARD'] as const) {
      expect(await allPages(query([a, b, c], { direction, limit: 11 }))).toEqual(ordered(records, direction));
      expect(await allPages(query([a, c], { direction, limit: 7, condition: { key: 'EventType', value: 'ConsoleSignin' } }))).toEqual(
        ordered(records.filter((r) => r.accountId !== b && r.attributes.EventType?.[0] === 'ConsoleSignin'), direction),
      );
    }
    const someOfB = records.find((r) => r.accountId === b)!;
    expect(await store.get([a, c, b], someOfB.eventId)).toBe(someOfB.json);
  });

  it('keeps accounts apart: another account\'s id is not found, and keys carry one hash tag', async () => {
    const [a, b] = [newAccount(), newAccount()];
    await store.put([record(a, 'only-in-a', BASE + HOUR, { User: ['alice'] }), record(b, 'only-in-b', BASE + HOUR, { User: ['alice'] })]);
    expect(await store.get([a], 'only-in-b')).toBeUndefined();
    expect(await store.has(a, ['only-in-b', 'only-in-a'])).toEqual([false, true]);
    expect((await store.lookup(query([a], { condition: { key: 'EventId', value: 'only-in-b' } }))).events).toEqual([]);
    expect((await store.lookup(query([a], { condition: { key: 'User', value: 'alice' } }))).events.map(idOf)).toEqual(['only-in-a']);
    for (const account of [a, b]) {
      const keys = await keysOf(account);
      expect(keys.length).toBeGreaterThan(5);
      for (const key of keys) expect(key.match(/\{[^}]*\}/)?.[0]).toBe(`{${account}}`);
    }
  });

  it('gives every key an expiry at the end of its span plus retention, and refuses expired records', async () => {
    const account = newAccount();
    const t = BASE + 6 * DAY + 3 * HOUR;
    await store.put(Array.from({ length: 40 }, (_, i) => record(account, `ttl-${i}`, t + i, { User: [`u${i % 2}`] })));
    const keys = await keysOf(account);
    const dayNumber = Math.floor(t / DAY);
    const dayEnd = (dayNumber + 1) * DAY + HISTORY_RETENTION_MS;
    for (const key of keys) {
      const at = await redis.pexpiretime(key);
      expect(at, key).toBeGreaterThan(Date.now());
      if (key.includes(`:z:${dayNumber}:`) || key.includes(`:x:${dayNumber}:`) || key.endsWith(`:d:${dayNumber}`)) expect(at, key).toBe(dayEnd);
      expect(at, key).toBeLessThanOrEqual(dayEnd + DAY);
    }
    // a record older than retention (by the server clock) is not stored
    const old = record(account, 'too-old', Date.now() - HISTORY_RETENTION_MS - 60_000);
    expect(await store.put([old])).toEqual({ added: 0, duplicates: 0, held: [] });
    expect(await store.has(account, ['too-old'])).toEqual([false]);
  });

  it('purges what is older than 90 days, index entries included', async () => {
    const account = newAccount();
    const oldDay = BASE - 20 * DAY; // within retention now; past it for the purge's "now" below
    const old = Array.from({ length: 700 }, (_, i) => record(account, `old-${i}`, oldDay + 2 * HOUR + i * 1000, { EventRW: ['Read'], User: [`u${i % 30}`] }));
    const boundary = Array.from({ length: 100 }, (_, i) => record(account, `edge-${i}`, oldDay + DAY + i * 600_000, { EventRW: ['Read'], User: [`u${i % 30}`] }));
    const fresh = Array.from({ length: 50 }, (_, i) => record(account, `new-${i}`, BASE + i * 1000, { EventRW: ['Read'], User: [`u${i % 30}`] }));
    await store.put([...old, ...boundary, ...fresh]);

    const cutoff = oldDay + DAY + 30 * 600_000; // the first 30 boundary events are older
    const removed = await store.purge(account, cutoff + HISTORY_RETENTION_MS);
    expect(removed).toBe(old.length + 30);
    const kept = [...boundary.slice(30), ...fresh];
    const wide = query([account], { startMs: oldDay - DAY, endMs: Date.now() });
    expect(await allPages(wide)).toEqual(ordered(kept, 'BACKWARD'));
    expect(await allPages({ ...wide, condition: { key: 'User', value: 'u3' } })).toEqual(
      ordered(kept.filter((r) => r.attributes.User?.[0] === 'u3'), 'BACKWARD'),
    );
    expect(await store.get([account], 'old-5')).toBeUndefined();
    expect(await store.get([account], 'edge-29')).toBeUndefined();
    expect(await store.get([account], 'edge-30')).toBe(boundary[30]!.json);
    expect(await store.has(account, ['old-0', 'edge-0', 'edge-99', 'new-0'])).toEqual([false, false, true, true]);
    // the whole old day is gone from Redis, not just hidden
    const oldDayNumber = Math.floor(oldDay / DAY);
    const spans = [`:${oldDayNumber}:`, `:d:${oldDayNumber}`];
    for (let h = 0; h < 24; h++) spans.push(`:h:${oldDayNumber * 24 + h}:`);
    for (let m = 0; m < 288; m++) spans.push(`:f:${oldDayNumber * 288 + m}:`);
    const leftovers = (await keysOf(account)).filter((k) => spans.some((span) => k.includes(span) || k.endsWith(span)));
    expect(leftovers).toEqual([]);
    // idempotent, and a purged event may be stored again
    expect(await store.purge(account, cutoff + HISTORY_RETENTION_MS)).toBe(0);
    expect(await store.put([old[0]!])).toEqual({ added: 1, duplicates: 0, held: [] });
  });

  it('indexes errorCode by value and as "has one", with a bounded dictionary, purged with the rest', async () => {
    const account = newAccount();
    const oldDay = BASE - 20 * DAY;
    const codes = ['Forbidden', 'Forbidden.RAM', 'Throttling'];
    const at = (day: number, i: number) => day + HOUR + i * 60_000;
    const old = Array.from({ length: 90 }, (_, i) => record(account, `eo-${i}`, at(oldDay, i), i % 2 === 0 ? { ErrorCode: [codes[i % 3]!] } : {}));
    const fresh = Array.from({ length: 90 }, (_, i) => record(account, `ef-${i}`, at(BASE, i), i % 2 === 0 ? { ErrorCode: [codes[i % 3]!] } : {}));
    await store.put([...old, ...fresh]);
    const all = [...old, ...fresh];
    const wide = query([account], { startMs: oldDay - DAY, endMs: Date.now() });
    for (const code of codes) {
      expect(await allPages({ ...wide, condition: { key: 'ErrorCode', value: code } })).toEqual(ordered(all.filter((r) => r.attributes.ErrorCode?.[0] === code), 'BACKWARD'));
    }
    expect(await allPages({ ...wide, condition: { key: 'ErrorCode' } })).toEqual(ordered(all.filter((r) => r.attributes.ErrorCode?.length), 'BACKWARD'));
    // every day of this account holds the index: the unindexed days give nothing
    expect(await allPages({ ...wide, condition: { key: 'ErrorCode', days: 'unindexed' } })).toEqual([]);
    expect(await store.errorCodes([account], wide.startMs, wide.endMs)).toEqual({ values: expect.arrayContaining(codes), complete: true });
    // a value last seen before the range is not listed
    const late = await store.errorCodes([account], BASE, wide.endMs);
    expect(late.values.sort()).toEqual([...codes].sort());
    expect((await store.errorCodes([account], BASE + 2 * DAY, wide.endMs)).values).toEqual([]);

    // a value the dictionary cannot keep marks its range partial
    await store.put([record(account, 'long-code', at(BASE, 100), { ErrorCode: ['E'.repeat(200)] })]);
    // (its day, BASE, is the last it was seen: the range from the next day is complete)
    expect((await store.errorCodes([account], wide.startMs, wide.endMs)).complete).toBe(false);
    expect((await store.errorCodes([account], BASE + DAY, wide.endMs)).complete).toBe(true);
    expect(await allPages({ ...wide, condition: { key: 'ErrorCode', value: 'E'.repeat(200) } })).toEqual(['long-code']);

    // a scan of scattered postings (one per body hash) reads bodies by script: big bodies
    // (their own key) included
    const spread = Array.from({ length: 640 }, (_, i) =>
      i % 64 === 0
        ? record(account, `rare-${i}`, at(BASE + DAY, i), { ErrorCode: ['Rare'] }, i === 128 ? JSON.stringify({ eventId: `rare-${i}`, pad: 'x'.repeat(5000) }) : undefined)
        : record(account, `filler-${i}`, at(BASE + DAY, i)),
    );
    await store.put(spread);
    const rare = spread.filter((r) => r.attributes.ErrorCode);
    const scanned = await store.scan({ ...wide, limit: 1000, condition: { key: 'ErrorCode', value: 'Rare' } });
    expect(scanned.entries.map((e) => e.json)).toEqual(ordered(rare, 'BACKWARD').map((id) => rare.find((r) => r.eventId === id)?.json));
    expect(scanned.entries.some((e) => e.json.length > 5000)).toBe(true);

    // purge: the old day's postings and dictionary entries go with it
    const removed = await store.purge(account, oldDay + DAY + HISTORY_RETENTION_MS);
    expect(removed).toBe(old.length);
    const longCode = record(account, 'long-code', at(BASE, 100), { ErrorCode: ['E'.repeat(200)] });
    expect(await allPages({ ...wide, condition: { key: 'ErrorCode' } })).toEqual(ordered([...fresh.filter((r) => r.attributes.ErrorCode?.length), longCode, ...rare], 'BACKWARD'));
    expect((await store.errorCodes([account], 0, wide.endMs)).values.sort()).toEqual([...codes, 'Rare'].sort());
    const oldDayNumber = Math.floor(oldDay / DAY);
    expect((await keysOf(account)).filter((k) => k.includes(`:${oldDayNumber}:`) || k.endsWith(`:d:${oldDayNumber}`))).toEqual([]);
  });
});

function hash(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0);
}
