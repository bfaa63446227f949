/**
 * RunAdvancedQuery over history (shared/query/run-query.ts, history-executor.ts) against a real
 * Redis: every operator's answer equals an oracle computed here, in plain JavaScript, over the
 * same seeded events (as stored); paging with NextToken neither skips nor repeats; no query
 * reaches another account's events (an organization's management account reads its members');
 * hostile selects are bounded or refused with a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import type { RedisClient } from '../../adapters/redis.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../../shared/classify/classify.ts';
import { ValidationError } from '../../shared/errors.ts';
import { eventTimeMs, parseEvent } from '../../shared/events/schema.ts';
import { historyRecordOf, type HistoryRecord } from '../../shared/history/history-store.ts';
import { JsonText } from '../../shared/json-text.ts';
import { QueryTooLargeError } from '../../shared/query/evaluate.ts';
import { selectHistory } from '../../shared/query/history-executor.ts';
import { parseQuery } from '../../shared/query/parser.ts';
import { runAdvancedQuery, type RunQueryPorts } from '../../shared/query/run-query.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';
import { syntheticEvent, utcSeconds, type Json } from '../helpers/synthetic-event.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const A = '1100000000000001';
const B = '1100000000000002';
/** A management account whose organization has member A. */
const M = '1100000000000003';
/** An account whose history was partly written before the errorCode index existed. */
const C = '1100000000000004';
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

const backends = useRedisBackends({ config: HISTORY_SERVER_CONFIG });

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = [
  ['Ecs', ['StopInstance', 'DescribeInstances', 'RunInstances']],
  ['Ram', ['CreateUser', 'AttachPolicyToUser', 'CreatePolicy', 'ListUsers']],
  ['Ims', ['CreateUser', 'GetUser']],
  ['Oss', ['PutBucket', 'GetBucketAcl']],
] as const;
const ERRORS = [undefined, undefined, undefined, 'Forbidden.RAM', 'Forbidden', 'NoPermission', 'InvalidAccessKeyId.NotFound'];
const IPS = ['10.0.0.1', '10.20.30.40', '203.0.113.7', '198.51.100.2', '100.10.0.1'];
const USERS = ['alice', 'bob', 'carol', 'dave'];
const KEYS = ['LTAI5tAAAA', 'LTAI5tBBBB', 'LTAI5tCCCC', undefined];

/** Seeded events of one account, spread over the last `days` days. */
function seed(accountId: string, count: number, days: number, seedValue: number, marker: string): Json[] {
  const r = rng(seedValue);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    const [serviceName, names] = pick(SERVICES);
    const errorCode = pick(ERRORS);
    const accessKeyId = pick(KEYS);
    const root = r() < 0.05;
    const time = NOW - 60_000 - Math.floor(r() * days * DAY);
    const event = syntheticEvent(
      accountId,
      {
        eventId: `${marker}-${accountId}-${i}`,
        serviceName,
        eventName: pick(names),
        eventRW: r() < 0.4 ? 'Write' : 'Read',
        sourceIpAddress: pick(IPS),
        eventVersion: r() < 0.5 ? 1 : '1',
        requestParameters: { Count: Math.floor(r() * 100), Note: r() < 0.1 ? 'Access Denied by policy' : 'ok' },
        userIdentity: {
          type: root ? 'root-account' : 'ram-user',
          principalId: '2001',
          accountId,
          userName: root ? 'root' : pick(USERS),
          ...(accessKeyId ? { accessKeyId } : {}),
        },
        ...(errorCode ? { errorCode, errorMessage: 'denied' } : {}),
        ...(r() < 0.1 ? { eventAttributes: { SensitiveAction: true } } : {}),
      },
      time,
    );
    return event;
  });
}

function recordOf(raw: Json, accountId: string): HistoryRecord {
  const parsed = parseEvent(raw);
  if (!parsed.ok) throw new Error(`seed event does not parse: ${JSON.stringify(parsed.issues)}`);
  const classified = classifyEvent(parsed.event);
  if (!classified.kept) throw new Error('seed event dropped');
  const event = classified.event;
  return historyRecordOf({ ...event, eventId: event.eventId ?? '' }, accountId, eventTimeMs(event), { types: resourceTypesOf(event), names: resourceNamesOf(event) });
}

interface Stored {
  accountId: string;
  timeMs: number;
  event: Json;
}

/** Oracle helpers: plain reads of the stored event. */
const s = (e: Json, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json)[k] : undefined), e);
const ident = (e: Json, k: string): unknown => s(e, 'userIdentity', k);
const newestFirst = (a: Stored, b: Stored) => b.timeMs - a.timeMs || (String(b.event.eventId) < String(a.event.eventId) ? -1 : 1);

describe.each(REDIS_BACKENDS)('RunAdvancedQuery over history (%s)', (backendName) => {
  let redis: RedisClient;
  let ports: RunQueryPorts;
  const stored: Stored[] = [];
  const marker = `aq${backendName}`;

  beforeAll(async () => {
    redis = backends.get(backendName).client();
    const history = new RedisHistoryStore(redis);
    const records: HistoryRecord[] = [];
    for (const [accountId, count, seedValue] of [
      [A, 1500, 1],
      [B, 400, 2],
      [M, 200, 3],
    ] as const) {
      for (const raw of seed(accountId, count, 10, seedValue, marker)) {
        const record = recordOf(raw, accountId);
        records.push(record);
        stored.push({ accountId, timeMs: record.eventTimeMs, event: JSON.parse(record.json) as Json });
      }
    }
    await history.put(records);

    // C: history written before the errorCode index (no ErrorCode postings, no dictionary, no
    // `ix` count on its days), then new events on some of those days and on days of their own
    const old: HistoryRecord[] = [];
    const fresh: HistoryRecord[] = [];
    for (const raw of seed(C, 600, 10, 4, marker)) {
      const record = recordOf(raw, C);
      stored.push({ accountId: C, timeMs: record.eventTimeMs, event: JSON.parse(record.json) as Json });
      const day = Math.floor(record.eventTimeMs / DAY);
      if (day % 3 === 0) old.push({ ...record, attributes: { ...record.attributes, ErrorCode: [] } });
      else if (day % 3 === 1 && record.eventTimeMs % 2 === 0) old.push({ ...record, attributes: { ...record.attributes, ErrorCode: [] } });
      else fresh.push(record);
    }
    await history.put(old);
    for (const day of new Set(old.map((r) => Math.floor(r.eventTimeMs / DAY)))) await redis.hdel(`tk:{${C}}:d:${day}`, 'ix');
    await history.put(fresh);
    const key = Buffer.alloc(32, 7);
    ports = {
      history,
      accountsVisibleTo: async (accountId) => (accountId === M ? [M, A] : [accountId]),
      tokenKey: async () => key,
      now: () => NOW,
    };
  }, 120_000);

  afterAll(() => {
    redis?.disconnect();
  });

  const window = { StartTime: utcSeconds(NOW - 10 * DAY - HOUR), EndTime: utcSeconds(NOW) };

  /** Every page of a search, following NextToken. */
  async function searchAll(caller: string, querySql: string, extra: Record<string, string> = {}): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const answer = await runAdvancedQuery({ QuerySql: querySql, MaxResults: '37', ...window, ...extra, ...(token ? { NextToken: token } : {}) }, { accountId: caller }, ports);
      pages += 1;
      for (const e of answer.Events as JsonText[]) ids.push(String((e.parse() as Json).eventId));
      token = answer.NextToken as string | undefined;
    } while (token);
    return { ids, pages };
  }

  function oracle(caller: string, predicate: (e: Json) => boolean): string[] {
    const visible = caller === M ? [M, A] : [caller];
    return stored
      .filter((x) => visible.includes(x.accountId) && predicate(x.event))
      .sort(newestFirst)
      .map((x) => String(x.event.eventId));
  }

  const searches: [string, (e: Json) => boolean][] = [
    ['event.eventName: CreateUser', (e) => e.eventName === 'CreateUser'],
    ['event.errorCode: Forbidden*', (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('Forbidden')],
    ['event.errorCode: *NotFound', (e) => typeof e.errorCode === 'string' && e.errorCode.endsWith('NotFound')],
    ['event.errorCode: Forbidden', (e) => e.errorCode === 'Forbidden'],
    ['event.userIdentity.accessKeyId: *', (e) => typeof ident(e, 'accessKeyId') === 'string' && ident(e, 'accessKeyId') !== ''],
    ['not event.userIdentity.accessKeyId: *', (e) => ident(e, 'accessKeyId') === undefined],
    ['event.userIdentity.type: "root-account"', (e) => ident(e, 'type') === 'root-account'],
    ['(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser', (e) => (e.serviceName === 'Ram' || e.serviceName === 'Ims') && e.eventName === 'CreateUser'],
    [
      'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.*',
      (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('Forbidden') && !String(e.sourceIpAddress).startsWith('10.'),
    ],
    ['event.requestParameters.Count >= 90', (e) => Number(s(e, 'requestParameters', 'Count')) >= 90],
    ['event.requestParameters.Count < 3 or event.userIdentity.userName: carol', (e) => Number(s(e, 'requestParameters', 'Count')) < 3 || ident(e, 'userName') === 'carol'],
    [`event.eventTime >= ${utcSeconds(NOW - 2 * DAY)} and event.eventTime < ${utcSeconds(NOW - DAY)}`, (e) => Date.parse(String(e.eventTime)) >= NOW - 2 * DAY && Date.parse(String(e.eventTime)) < NOW - DAY],
    ['event.eventVersion: 1 and event.eventRW: Write', (e) => String(e.eventVersion) === '1' && e.eventRW === 'Write'],
    ['"access denied"', (e) => String(s(e, 'requestParameters', 'Note')).toLowerCase().includes('access denied') || JSON.stringify(e).toLowerCase().includes('access denied')],
    ['event.eventAttributes.SensitiveAction: true and event.userIdentity.accessKeyId: LTAI5tAAAA', (e) => s(e, 'eventAttributes', 'SensitiveAction') === true && ident(e, 'accessKeyId') === 'LTAI5tAAAA'],
    ['event.userIdentity.userName: bob and event.eventName: Stop*', (e) => ident(e, 'userName') === 'bob' && String(e.eventName).startsWith('Stop')],
  ];

  it.each(searches)('search %s equals the oracle, paged without gaps or repeats', async (query, predicate) => {
    const expected = oracle(A, predicate);
    const { ids } = await searchAll(A, query);
    expect(ids).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  /** The oracle of `<search> | select event.userIdentity.accessKeyId as k, count(*) as n group by k order by n desc, k`. */
  function countsByKey(caller: string, predicate: (e: Json) => boolean): unknown[][] {
    const counts = new Map<string | null, number>();
    const visible = caller === M ? [M, A] : [caller];
    for (const x of stored) {
      if (!visible.includes(x.accountId) || !predicate(x.event)) continue;
      const k = (ident(x.event, 'accessKeyId') as string | undefined) ?? null;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts]
      .map(([k, n]) => [k, n])
      .sort((x, y) => (y[1] as number) - (x[1] as number) || (x[0] === null ? 1 : y[0] === null ? -1 : String(x[0]) < String(y[0]) ? -1 : 1));
  }

  const errorCodeForms: [string, (e: Json) => boolean][] = [
    ['event.errorCode: Forbidden', (e) => e.errorCode === 'Forbidden'],
    ['event.errorCode: Forbidden*', (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('Forbidden')],
    ['event.errorCode: *NotFound', (e) => typeof e.errorCode === 'string' && e.errorCode.endsWith('NotFound')],
    ['event.errorCode: *', (e) => typeof e.errorCode === 'string' && e.errorCode !== ''],
    ['event.errorCode: No*', (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('No')],
    ['event.errorCode: Nothing*', () => false],
    ['event.errorCode: Forbidden* and not event.sourceIpAddress: 10.*', (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('Forbidden') && !String(e.sourceIpAddress).startsWith('10.')],
  ];

  it.each(errorCodeForms.flatMap(([q, p]) => [A, C, M].map((caller) => [q, caller, p] as const)))(
    'select over the errorCode index: %s (account %s) equals the oracle',
    async (query, caller, predicate) => {
      const answer = await runAdvancedQuery({ QuerySql: `${query} | select event.userIdentity.accessKeyId as k, count(*) as n group by k order by n desc, k`, ...window }, { accountId: caller }, ports);
      expect(answer.Rows).toEqual(countsByKey(caller, predicate));
      const { ids } = await searchAll(caller, query);
      expect(ids).toEqual(oracle(caller, predicate));
    },
  );

  it('reads only the postings of the errorCode values a wildcard matches, where the index exists', async () => {
    const forbidden = countsByKey(A, (e) => typeof e.errorCode === 'string' && e.errorCode.startsWith('Forbidden'));
    const answer = await runAdvancedQuery({ QuerySql: 'event.errorCode: Forbidden* | select event.userIdentity.accessKeyId as k, count(*) as n group by k order by n desc, k', ...window }, { accountId: A }, ports);
    const matched = forbidden.reduce((sum, r) => sum + (r[1] as number), 0);
    expect(answer.Rows).toEqual(forbidden);
    // A's history holds the index on every day: only the matching events are read
    expect(answer.ScannedEvents).toBe(matched);
    const all = stored.filter((x) => x.accountId === A && x.event.errorCode !== undefined).length;
    const any = await runAdvancedQuery({ QuerySql: 'event.errorCode: * | select count(*)', ...window }, { accountId: A }, ports);
    expect(any.Rows).toEqual([[all]]);
    expect(any.ScannedEvents).toBe(all);
  });

  it('answers a select with counts, distinct counts, min/max and time buckets as the oracle does', async () => {
    const answer = await runAdvancedQuery(
      {
        QuerySql:
          "event.errorCode: * | select event.userIdentity.accessKeyId as k, count(*) as n, count(distinct event.sourceIpAddress) as ips, min(event.requestParameters.Count) as lo, max(event.eventTime) as last group by k order by n desc, k",
        ...window,
      },
      { accountId: A },
      ports,
    );
    const groups = new Map<string | null, Json[]>();
    for (const x of stored) {
      if (x.accountId !== A || x.event.errorCode === undefined) continue;
      const k = (ident(x.event, 'accessKeyId') as string | undefined) ?? null;
      groups.set(k, [...(groups.get(k) ?? []), x.event]);
    }
    const rows = [...groups].map(([k, es]) => [
      k,
      es.length,
      new Set(es.map((e) => e.sourceIpAddress)).size,
      Math.min(...es.map((e) => Number(s(e, 'requestParameters', 'Count')))),
      es.map((e) => String(e.eventTime)).sort().at(-1),
    ]);
    rows.sort((x, y) => (y[1] as number) - (x[1] as number) || (x[0] === null ? 1 : y[0] === null ? -1 : String(x[0]).localeCompare(String(y[0]))));
    expect(answer.Columns).toEqual(['k', 'n', 'ips', 'lo', 'last']);
    expect(answer.Rows).toEqual(rows);
    expect(answer.MatchedEvents).toBe(rows.reduce((sum, r) => sum + (r[1] as number), 0));

    const hourly = await runAdvancedQuery({ QuerySql: "event.serviceName: Ram | select date_trunc('hour', event.eventTime) as h, count(1) as n group by h order by h", ...window }, { accountId: A }, ports);
    const perHour = new Map<string, number>();
    for (const x of stored) {
      if (x.accountId !== A || x.event.serviceName !== 'Ram') continue;
      const h = utcSeconds(Math.floor(x.timeMs / HOUR) * HOUR);
      perHour.set(h, (perHour.get(h) ?? 0) + 1);
    }
    expect(hourly.Rows).toEqual([...perHour].sort((x, y) => (x[0] < y[0] ? -1 : 1)).slice(0, 100));
  });

  it('answers the root-usage count and a plain row select', async () => {
    const root = await runAdvancedQuery({ QuerySql: 'event.userIdentity.type: "root-account" | select count(1)', ...window }, { accountId: A }, ports);
    expect(root.Rows).toEqual([[oracle(A, (e) => ident(e, 'type') === 'root-account').length]]);
    const rows = await runAdvancedQuery({ QuerySql: 'event.serviceName: Oss | select event.eventId, event.eventName limit 5', ...window }, { accountId: A }, ports);
    const expected = stored.filter((x) => x.accountId === A && x.event.serviceName === 'Oss').sort(newestFirst).slice(0, 5);
    expect(rows.Rows).toEqual(expected.map((x) => [x.event.eventId, x.event.eventName]));
  });

  it('never reaches another account: queries, selects and NextTokens', async () => {
    const forbiddenIds = new Set(stored.filter((x) => x.accountId !== A).map((x) => String(x.event.eventId)));
    const { ids } = await searchAll(A, '*');
    expect(ids.length).toBe(stored.filter((x) => x.accountId === A).length);
    expect(ids.some((id) => forbiddenIds.has(id))).toBe(false);
    const counted = await runAdvancedQuery({ QuerySql: '| select count(*)', ...window }, { accountId: B }, ports);
    expect(counted.Rows).toEqual([[400]]);
    // A's eventId is not B's to find, by condition or free text
    const someA = stored.find((x) => x.accountId === A)?.event.eventId as string;
    expect((await runAdvancedQuery({ QuerySql: `event.eventId: ${someA}`, ...window }, { accountId: B }, ports)).Events).toEqual([]);
    expect((await runAdvancedQuery({ QuerySql: `"${someA}"`, ...window }, { accountId: B }, ports)).Events).toEqual([]);
    // A's NextToken does not read for B, nor for another query of A
    const page = await runAdvancedQuery({ QuerySql: '*', MaxResults: '5', ...window }, { accountId: A }, ports);
    const token = page.NextToken as string;
    expect(token).toBeTruthy();
    await expect(runAdvancedQuery({ QuerySql: '*', MaxResults: '5', ...window, NextToken: token }, { accountId: B }, ports)).rejects.toMatchObject({ code: 'InvalidNextToken' });
    await expect(runAdvancedQuery({ QuerySql: 'event.eventRW: Read', MaxResults: '5', ...window, NextToken: token }, { accountId: A }, ports)).rejects.toMatchObject({ code: 'InvalidNextToken' });
  });

  it("gives an organization's management account its members' events too", async () => {
    const { ids } = await searchAll(M, 'event.eventName: CreateUser');
    expect(ids).toEqual(oracle(M, (e) => e.eventName === 'CreateUser'));
    expect(ids.some((id) => id.includes(`-${A}-`))).toBe(true);
    expect(ids.some((id) => id.includes(`-${B}-`))).toBe(false);
  });

  it('bounds hostile queries: a select of every event is limited, an over-budget select is QueryTooLarge', async () => {
    const rows = await runAdvancedQuery({ QuerySql: '| select event.eventId, event.eventTime order by event.eventTime desc limit 10000', ...window }, { accountId: A }, ports);
    expect((rows.Rows as unknown[]).length).toBe(1500);
    const capped = await runAdvancedQuery({ QuerySql: '| select event.eventId', ...window }, { accountId: A }, ports);
    expect((capped.Rows as unknown[]).length).toBe(100);
    const plan = parseQuery('| select event.eventName, count(*) group by 1');
    await expect(selectHistory(plan, { accountIds: [A], startMs: NOW - 11 * DAY, endMs: NOW }, ports, { scanBudget: 1000 })).rejects.toBeInstanceOf(QueryTooLargeError);
    await expect(runAdvancedQuery({ QuerySql: '('.repeat(5000), ...window }, { accountId: A }, ports)).rejects.toBeInstanceOf(ValidationError);
    // time budgets, on a clock that jumps 30 s at every look: a select refuses, a search answers early with a NextToken
    let t = 0;
    const slow = { ...ports, clock: () => (t += 30_000) };
    await expect(selectHistory(plan, { accountIds: [A], startMs: NOW - 11 * DAY, endMs: NOW }, slow)).rejects.toThrow(/without reaching the end of its range/);
    const early = await runAdvancedQuery({ QuerySql: 'event.errorCode: NoSuchCode*', ...window }, { accountId: A }, slow);
    expect(early.Events).toEqual([]);
    expect(early.NextToken).toEqual(expect.any(String));
    await expect(runAdvancedQuery({ QuerySql: '*', Source: 'archive', TrailName: 't', ...window }, { accountId: A }, ports)).rejects.toMatchObject({ code: 'ArchiveQueryNotAvailable' });
  });
});
