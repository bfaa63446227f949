import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../../shared/classify/classify.ts';
import { DomainError, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { parseEvent } from '../../shared/events/schema.ts';
import {
  historyRecordOf,
  type HistoryPage,
  type HistoryQuery,
  type HistoryRecord,
  type HistoryStore,
} from '../../shared/history/history-store.ts';
import { JsonText, stringifyJson } from '../../shared/json-text.ts';
import { getEvent, LOOKUP_ACTIONS, lookupEvents, MAX_SCAN_CALLS, type LookupPorts } from '../../shared/lookup/lookup-events.ts';

// ---- a tiny in-memory HistoryStore (the contract's ordering and cursor semantics) ----------

class MemoryHistory implements Pick<HistoryStore, 'lookup' | 'get'> {
  readonly records: HistoryRecord[] = [];
  readonly queries: HistoryQuery[] = [];
  readonly gets: { accountIds: readonly string[]; eventId: string }[] = [];

  add(record: HistoryRecord): void {
    this.records.push(record);
  }

  async get(accountIds: readonly string[], eventId: string): Promise<string | undefined> {
    this.gets.push({ accountIds, eventId });
    return this.records.find((r) => accountIds.includes(r.accountId) && r.eventId === eventId)?.json;
  }

  async lookup(query: HistoryQuery): Promise<HistoryPage> {
    this.queries.push(query);
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 50) throw new RangeError(`limit ${query.limit}`);
    const backward = query.direction === 'BACKWARD';
    const order = (a: { t: number; id: string }, b: { t: number; id: string }): number =>
      a.t - b.t || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
    const { condition, after } = query;
    const hits = this.records
      .filter((r) => query.accountIds.includes(r.accountId))
      .filter((r) => r.eventTimeMs >= query.startMs && r.eventTimeMs <= query.endMs)
      .filter((r) => {
        if (!condition) return true;
        if (condition.key === 'EventId') return r.eventId === condition.value;
        if (condition.key === 'ErrorCode') throw new Error('LookupEvents has no ErrorCode condition');
        return (r.attributes[condition.key] ?? []).includes(condition.value);
      })
      .filter((r) => {
        if (!after) return true;
        const o = order({ t: r.eventTimeMs, id: r.eventId }, { t: after.timeMs, id: after.eventId });
        return backward ? o < 0 : o > 0;
      })
      .sort((a, b) => (backward ? -1 : 1) * order({ t: a.eventTimeMs, id: a.eventId }, { t: b.eventTimeMs, id: b.eventId }));
    const page = hits.slice(0, query.limit);
    const last = page[page.length - 1];
    const out: HistoryPage = { events: page.map((r) => r.json) };
    if (hits.length > query.limit && last) out.next = { timeMs: last.eventTimeMs, eventId: last.eventId };
    return out;
  }
}

// ---- fixtures --------------------------------------------------------------------------------

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0, 250);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const MANAGEMENT = '1000000000000001';
const MEMBER = '1000000000000002';
const STRANGER = '1000000000000003';

interface EventSpec {
  id: string;
  accountId: string;
  timeMs: number;
  eventName?: string;
  serviceName?: string;
  userName?: string;
  resources?: Record<string, string[]>;
  extra?: Record<string, unknown>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function recordOf(spec: EventSpec): HistoryRecord {
  const parsed = parseEvent({
    eventId: spec.id,
    eventVersion: 1,
    eventTime: iso(spec.timeMs),
    eventName: spec.eventName ?? 'DescribeInstances',
    serviceName: spec.serviceName ?? 'Ecs',
    sourceIpAddress: '192.0.2.1',
    userAgent: 'aliyun-cli',
    acsRegion: 'cn-hangzhou',
    requestId: spec.id,
    userIdentity: { type: 'ram-user', accountId: spec.accountId, userName: spec.userName ?? 'alice', accessKeyId: 'LTAI0000' },
    referencedResources: spec.resources ?? {},
    ...spec.extra,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const classified = classifyEvent(parsed.event);
  if (!classified.kept) throw new Error(`dropped: ${classified.reason}`);
  return historyRecordOf({ ...classified.event, eventId: spec.id }, spec.accountId, spec.timeMs, {
    types: resourceTypesOf(classified.event),
    names: resourceNamesOf(classified.event),
  });
}

let history: MemoryHistory;
let clock: number;
let key: Buffer;
let keyCalls: number;

function ports(overrides: Partial<LookupPorts> = {}): LookupPorts {
  return {
    history,
    accountsVisibleTo: async (accountId) => (accountId === MANAGEMENT ? [MANAGEMENT, MEMBER] : [accountId]),
    tokenKey: async () => {
      keyCalls += 1;
      return key;
    },
    now: () => clock,
    ...overrides,
  };
}

async function refusal(run: Promise<unknown>): Promise<DomainError> {
  try {
    await run;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

function ids(answer: Record<string, unknown>): string[] {
  const events = answer.Events;
  if (!Array.isArray(events)) throw new Error('Events is not an array');
  return events.map((text: unknown) => {
    if (!(text instanceof JsonText)) throw new Error('an event is not the stored JSON text');
    const e = text.parse();
    if (typeof e !== 'object' || e === null || !('eventId' in e) || typeof e.eventId !== 'string') throw new Error('no eventId');
    return e.eventId;
  });
}

function token(answer: Record<string, unknown>): string {
  const t = answer.NextToken;
  if (typeof t !== 'string') throw new Error('no NextToken');
  return t;
}

const UTC_SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

beforeEach(() => {
  history = new MemoryHistory();
  clock = NOW;
  key = randomBytes(32);
  keyCalls = 0;
});

// ---- tests ----------------------------------------------------------------------------------

describe('LookupEvents: defaults and answer shape', () => {
  it('no parameters: last 7 days, BACKWARD, MaxResults 20, the caller’s accounts, times like 2020-11-02T09:40:11Z', async () => {
    for (let i = 0; i < 25; i += 1) history.add(recordOf({ id: `e${String(i).padStart(2, '0')}`, accountId: MEMBER, timeMs: NOW - (i + 1) * HOUR }));
    history.add(recordOf({ id: 'old', accountId: MEMBER, timeMs: NOW - 8 * DAY }));
    const answer = await lookupEvents({}, { accountId: MEMBER }, ports());
    const q = history.queries[0];
    expect(q).toMatchObject({ accountIds: [MEMBER], direction: 'BACKWARD', limit: 20 });
    expect(q?.endMs).toBe(Date.UTC(2024, 5, 15, 12, 0, 0, 999));
    expect(q?.startMs).toBe(Date.UTC(2024, 5, 8, 12, 0, 0));
    expect(q?.condition).toBeUndefined();
    expect(answer.StartTime).toBe('2024-06-08T12:00:00Z');
    expect(answer.EndTime).toBe('2024-06-15T12:00:00Z');
    expect(answer.StartTime).toMatch(UTC_SECOND);
    expect(ids(answer)).toEqual(Array.from({ length: 20 }, (_, i) => `e${String(i).padStart(2, '0')}`));
    expect(typeof answer.NextToken).toBe('string');
  });

  it('Events are the stored JSON texts, in the store’s order, and the answer carries them byte for byte', async () => {
    const odd = { responseElements: { big: 12345678901234, nested: { 'key with spaces': ['x', 1.5, null, true] }, unicode: 'é 😀 \u2028' } };
    history.add(recordOf({ id: 'a', accountId: MEMBER, timeMs: NOW - HOUR, extra: odd }));
    history.add(recordOf({ id: 'b', accountId: MEMBER, timeMs: NOW - 2 * HOUR }));
    const answer = await lookupEvents({}, { accountId: MEMBER }, ports());
    const events = answer.Events;
    if (!Array.isArray(events)) throw new Error('Events');
    expect(events.map((e: unknown) => (e instanceof JsonText ? e.text : undefined))).toEqual([history.records[0]?.json, history.records[1]?.json]);
    const body = stringifyJson({ RequestId: 'r', ...answer });
    expect(body).toBe(`{"RequestId":"r","StartTime":"${String(answer.StartTime)}","EndTime":"${String(answer.EndTime)}","Events":[${history.records[0]?.json},${history.records[1]?.json}]}`);
    expect(answer.NextToken).toBeUndefined();
    expect('NextToken' in answer).toBe(false);
  });

  it('FORWARD returns oldest first; explicit times are echoed', async () => {
    for (let i = 0; i < 3; i += 1) history.add(recordOf({ id: `f${i}`, accountId: MEMBER, timeMs: Date.UTC(2024, 5, 10, i) }));
    const answer = await lookupEvents(
      { Direction: 'FORWARD', StartTime: '2024-06-10T00:00:00Z', EndTime: '2024-06-10T02:00:00Z' },
      { accountId: MEMBER },
      ports(),
    );
    expect(ids(answer)).toEqual(['f0', 'f1', 'f2']); // both bounds inclusive
    expect(answer.StartTime).toBe('2024-06-10T00:00:00Z');
    expect(answer.EndTime).toBe('2024-06-10T02:00:00Z');
  });

  it('a StartTime beyond 90 days and an EndTime in the future are clamped and reported', async () => {
    const answer = await lookupEvents({ StartTime: '2023-01-01T00:00:00Z', EndTime: '2030-01-01T00:00:00Z' }, { accountId: MEMBER }, ports());
    expect(answer.StartTime).toBe('2024-03-17T12:00:01Z');
    expect(answer.EndTime).toBe('2024-06-15T12:00:00Z');
  });

  it('an empty window answers no events without reading the store', async () => {
    const answer = await lookupEvents({ StartTime: '2030-01-01T00:00:00Z', EndTime: '2030-01-02T00:00:00Z' }, { accountId: MEMBER }, ports());
    expect(answer.Events).toEqual([]);
    expect(history.queries).toHaveLength(0);
  });

  it('LOOKUP_ACTIONS maps the RPC actions', () => {
    expect(Object.keys(LOOKUP_ACTIONS).sort()).toEqual(['GetEvent', 'LookupEvents']);
    expect(LOOKUP_ACTIONS.LookupEvents).toBe(lookupEvents);
    expect(LOOKUP_ACTIONS.GetEvent).toBe(getEvent);
  });
});

describe('LookupEvents: errors (400, ActionTrail codes, before any read)', () => {
  it.each<[Record<string, string>, string, string]>([
    [{ StartTime: 'nope', EndTime: '2024-06-10T00:00:00Z' }, 'InvalidParameterStartTime', 'StartTime'],
    [{ StartTime: '2024-06-10T00:00:00Z', EndTime: 'nope' }, 'InvalidParameterEndTime', 'EndTime'],
    [{ StartTime: '2024-06-10T00:00:00Z' }, 'InvalidParameterCombination', 'EndTime'],
    [{ StartTime: '2024-06-11T00:00:00Z', EndTime: '2024-06-10T00:00:00Z' }, 'InvalidParameterCombination', 'EndTime'],
    [{ MaxResults: '51' }, 'InvalidQueryParameter', 'MaxResults'],
    [{ Direction: 'UP' }, 'InvalidQueryParameter', 'Direction'],
    [{ 'LookupAttribute.1.Key': 'Nope', 'LookupAttribute.1.Value': 'x' }, 'InvalidQueryParameter', 'LookupAttribute.1.Key'],
    [
      { 'LookupAttribute.1.Key': 'User', 'LookupAttribute.1.Value': 'a', 'LookupAttribute.2.Key': 'SourceIpAddress', 'LookupAttribute.2.Value': 'b' },
      'InvalidParameterCombination',
      'LookupAttribute',
    ],
    [{ NextToken: 'forged.token' }, 'InvalidNextToken', 'NextToken'],
  ])('%j → %s', async (params, code, field) => {
    const err = await refusal(lookupEvents(params, { accountId: MEMBER }, ports()));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(400);
    expect(err instanceof ValidationError && err.field).toBe(field);
    expect(history.queries).toHaveLength(0);
  });
});

describe('LookupEvents: paging with NextToken', () => {
  beforeEach(() => {
    for (let i = 0; i < 45; i += 1) history.add(recordOf({ id: `p${String(i).padStart(2, '0')}`, accountId: MEMBER, timeMs: NOW - (i + 1) * 60_000 }));
    // Two events in the same millisecond: the (time, id) order keeps them apart.
    history.add(recordOf({ id: 'tie-a', accountId: MEMBER, timeMs: NOW - 30 * 60_000 }));
    history.add(recordOf({ id: 'tie-b', accountId: MEMBER, timeMs: NOW - 30 * 60_000 }));
  });

  async function all(params: Record<string, string>, caller = MEMBER): Promise<{ pages: string[][]; ids: string[] }> {
    const pages: string[][] = [];
    let next: string | undefined;
    do {
      const answer = await lookupEvents({ ...params, ...(next ? { NextToken: next } : {}) }, { accountId: caller }, ports());
      pages.push(ids(answer));
      next = typeof answer.NextToken === 'string' ? answer.NextToken : undefined;
      clock += 5_000; // time passes between pages
    } while (next && pages.length < 20);
    return { pages, ids: pages.flat() };
  }

  it('follows next: every event once, in order, the last page without NextToken', async () => {
    const { pages, ids: seen } = await all({});
    expect(pages.map((p) => p.length)).toEqual([20, 20, 7]);
    expect(new Set(seen).size).toBe(47);
    const times = seen.map((id) => history.records.find((r) => r.eventId === id)?.eventTimeMs ?? NaN);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(seen.indexOf('tie-b')).toBe(seen.indexOf('tie-a') - 1); // BACKWARD: id order reversed too
    // The later pages searched the first page's window although "now" moved on.
    const [first, ...rest] = history.queries;
    for (const q of rest) expect([q.startMs, q.endMs]).toEqual([first?.startMs, first?.endMs]);
    expect(rest.every((q) => q.after !== undefined)).toBe(true);
  });

  it('FORWARD pages too, and MaxResults may change between pages', async () => {
    const first = await lookupEvents({ Direction: 'FORWARD', MaxResults: '10' }, { accountId: MEMBER }, ports());
    const second = await lookupEvents({ Direction: 'FORWARD', MaxResults: '50', NextToken: token(first) }, { accountId: MEMBER }, ports());
    expect(ids(first)).toHaveLength(10);
    expect(ids(second)).toHaveLength(37);
    expect(second.NextToken).toBeUndefined();
    expect(ids(first)[0]).toBe('p44');
  });

  it('a token with a flipped byte, a changed query, or from another account is InvalidNextToken', async () => {
    const first = await lookupEvents({ MaxResults: '5' }, { accountId: MEMBER }, ports());
    const t = token(first);
    const flipped = t.slice(0, 3) + (t[3] === 'A' ? 'B' : 'A') + t.slice(4);
    const cases: [Record<string, string>, string][] = [
      [{ NextToken: flipped }, MEMBER],
      [{ NextToken: t, Direction: 'FORWARD' }, MEMBER],
      [{ NextToken: t, 'LookupAttribute.1.Key': 'User', 'LookupAttribute.1.Value': 'alice' }, MEMBER],
      [{ NextToken: t, StartTime: '2024-06-08T12:00:00Z', EndTime: '2024-06-15T12:00:00Z' }, MEMBER],
      [{ NextToken: t }, STRANGER],
      [{ NextToken: t }, MANAGEMENT],
    ];
    for (const [params, caller] of cases) {
      const before = history.queries.length;
      const err = await refusal(lookupEvents(params, { accountId: caller }, ports()));
      expect(err.code).toBe('InvalidNextToken');
      expect(err.status).toBe(400);
      expect(history.queries.length).toBe(before);
    }
    // The genuine token still works for its own query.
    expect(ids(await lookupEvents({ NextToken: t }, { accountId: MEMBER }, ports()))).toHaveLength(20);
  });

  it('a token signed with another key (a rotated secret) is InvalidNextToken', async () => {
    const first = await lookupEvents({ MaxResults: '5' }, { accountId: MEMBER }, ports());
    key = randomBytes(32);
    expect((await refusal(lookupEvents({ NextToken: token(first) }, { accountId: MEMBER }, ports()))).code).toBe('InvalidNextToken');
  });

  it('asks for the key only when a token is read or issued', async () => {
    await lookupEvents({ MaxResults: '50' }, { accountId: MEMBER }, ports());
    expect(keyCalls).toBe(0);
    const first = await lookupEvents({ MaxResults: '5' }, { accountId: MEMBER }, ports());
    expect(keyCalls).toBe(1);
    await lookupEvents({ MaxResults: '5', NextToken: token(first) }, { accountId: MEMBER }, ports());
    expect(keyCalls).toBe(2);
  });
});

describe('account isolation', () => {
  beforeEach(() => {
    history.add(recordOf({ id: 'mgmt-1', accountId: MANAGEMENT, timeMs: NOW - HOUR }));
    history.add(recordOf({ id: 'member-1', accountId: MEMBER, timeMs: NOW - 2 * HOUR }));
    history.add(recordOf({ id: 'stranger-1', accountId: STRANGER, timeMs: NOW - 3 * HOUR }));
  });

  it('LookupEvents reads only the caller’s accounts (a management account sees its members)', async () => {
    expect(ids(await lookupEvents({}, { accountId: MEMBER }, ports()))).toEqual(['member-1']);
    expect(ids(await lookupEvents({}, { accountId: STRANGER }, ports()))).toEqual(['stranger-1']);
    expect(ids(await lookupEvents({}, { accountId: MANAGEMENT }, ports()))).toEqual(['mgmt-1', 'member-1']);
    // each caller's own first page is read beside its visible accounts; a management account's
    // is then read again over all of them — never any account the caller may not see
    expect(history.queries.map((q) => [...q.accountIds])).toEqual([[MEMBER], [STRANGER], [MANAGEMENT], [MANAGEMENT, MEMBER].sort()]);
  });

  it('the caller is always included, even if accountsVisibleTo forgets it', async () => {
    const answer = await lookupEvents({}, { accountId: STRANGER }, ports({ accountsVisibleTo: async () => [] }));
    expect(ids(answer)).toEqual(['stranger-1']);
  });

  it('the EventId condition finds nothing outside the caller’s accounts', async () => {
    const byId = (id: string) => ({ 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': id });
    expect(ids(await lookupEvents(byId('stranger-1'), { accountId: MEMBER }, ports()))).toEqual([]);
    expect(ids(await lookupEvents(byId('member-1'), { accountId: MEMBER }, ports()))).toEqual(['member-1']);
    expect(ids(await lookupEvents(byId('member-1'), { accountId: MANAGEMENT }, ports()))).toEqual(['member-1']);
    expect(ids(await lookupEvents(byId('mgmt-1'), { accountId: MEMBER }, ports()))).toEqual([]);
  });

  it('GetEvent: the event for its own account or its management account; NotFound otherwise', async () => {
    const own = await getEvent({ EventId: 'member-1' }, { accountId: MEMBER }, ports());
    expect(own.Event instanceof JsonText ? own.Event.text : undefined).toBe(history.records[1]?.json);
    expect((await getEvent({ EventId: 'member-1' }, { accountId: MANAGEMENT }, ports())).Event).toEqual(own.Event);
    for (const [id, caller] of [
      ['stranger-1', MEMBER],
      ['mgmt-1', MEMBER],
      ['member-1', STRANGER],
      ['missing', MANAGEMENT],
    ] as const) {
      const err = await refusal(getEvent({ EventId: id }, { accountId: caller }, ports()));
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.code).toBe('EventNotFound');
      expect(err.status).toBe(404);
    }
    expect(history.gets.every((g) => g.accountIds.length > 0)).toBe(true);
  });

  it('GetEvent without EventId → MissingParameter', async () => {
    const err = await refusal(getEvent({}, { accountId: MEMBER }, ports()));
    expect(err).toMatchObject({ code: 'MissingParameter', status: 400, field: 'EventId' });
  });
});

describe('LookupEvents: two conditions (an allowed pair)', () => {
  it('ServiceName + EventName: the store filters by EventName, the service is checked on each event', async () => {
    history.add(recordOf({ id: 'ecs', accountId: MEMBER, timeMs: NOW - HOUR, serviceName: 'Ecs', eventName: 'DeleteInstance' }));
    history.add(recordOf({ id: 'rds', accountId: MEMBER, timeMs: NOW - 2 * HOUR, serviceName: 'Rds', eventName: 'DeleteInstance' }));
    history.add(recordOf({ id: 'other', accountId: MEMBER, timeMs: NOW - 3 * HOUR, serviceName: 'Ecs', eventName: 'StartInstance' }));
    const answer = await lookupEvents(
      { 'LookupAttribute.1.Key': 'ServiceName', 'LookupAttribute.1.Value': 'Ecs', 'LookupAttribute.2.Key': 'EventName', 'LookupAttribute.2.Value': 'DeleteInstance' },
      { accountId: MEMBER },
      ports(),
    );
    expect(ids(answer)).toEqual(['ecs']);
    expect(history.queries[0]?.condition).toEqual({ key: 'EventName', value: 'DeleteInstance' });
  });

  it('ResourceName + ResourceType matches the ACS types the indexer records', async () => {
    history.add(recordOf({ id: 'r1', accountId: MEMBER, timeMs: NOW - HOUR, eventName: 'DeleteInstance', resources: { 'ACS::ECS::Instance': ['i-1'] } }));
    history.add(recordOf({ id: 'r2', accountId: MEMBER, timeMs: NOW - 2 * HOUR, eventName: 'DeleteDisk', resources: { 'ACS::ECS::Disk': ['i-1'] } }));
    expect(history.records[0]?.attributes.ResourceName).toEqual(['i-1']);
    const answer = await lookupEvents(
      { 'LookupAttribute.1.Key': 'ResourceType', 'LookupAttribute.1.Value': 'ACS::ECS::Instance', 'LookupAttribute.2.Key': 'ResourceName', 'LookupAttribute.2.Value': 'i-1' },
      { accountId: MEMBER },
      ports(),
    );
    expect(ids(answer)).toEqual(['r1']);
  });

  it('pages through a sparse match: never more than MaxResults, every match once, bounded store reads per request', async () => {
    for (let i = 0; i < 600; i += 1) {
      const rw = i % 97 === 0 ? 'Write' : 'Read';
      history.add(recordOf({ id: `s${String(i).padStart(3, '0')}`, accountId: MEMBER, timeMs: NOW - (i + 1) * 60_000, eventName: rw === 'Write' ? 'DeleteInstance' : 'DescribeInstances' }));
    }
    const expected = history.records.filter((r) => r.attributes.EventRW?.includes('Write')).map((r) => r.eventId);
    expect(expected.length).toBeGreaterThan(3);
    const params = { MaxResults: '2', 'LookupAttribute.1.Key': 'ServiceName', 'LookupAttribute.1.Value': 'Ecs', 'LookupAttribute.2.Key': 'EventRW', 'LookupAttribute.2.Value': 'Write' };
    const seen: string[] = [];
    let next: string | undefined;
    let requests = 0;
    do {
      const before = history.queries.length;
      const answer = await lookupEvents({ ...params, ...(next ? { NextToken: next } : {}) }, { accountId: MEMBER }, ports());
      expect(history.queries.length - before).toBeLessThanOrEqual(MAX_SCAN_CALLS);
      const page = ids(answer);
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page);
      next = typeof answer.NextToken === 'string' ? answer.NextToken : undefined;
      requests += 1;
    } while (next && requests < 100);
    expect(next).toBeUndefined();
    expect(seen).toEqual(expected);
    expect(history.queries.every((q) => q.condition?.key === 'ServiceName')).toBe(true);
  });
});
