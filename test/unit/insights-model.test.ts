/**
 * The Insights model (docs/design.md §3.9) replayed over days of synthetic traffic under a test
 * clock, through the pure engine and the in-memory store (no I/O): steady traffic with ordinary
 * noise stays silent; each type's anomaly opens exactly one insight (Start) with the right object
 * and statistics and closes it (End, same sharedEventId) after END_QUIET_MINUTES; nothing fires
 * before the baseline period except a trail's concealment; one account never affects another.
 */
import { describe, expect, it } from 'vitest';
import { analysisRow } from '../helpers/analysis-row.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import type { InsightEvent } from '../../shared/insights/detector.ts';
import { foldItemsOf, runInsights } from '../../shared/insights/engine.ts';
import { MemoryInsightsStore } from '../../shared/insights/memory-store.ts';
import { CountersBySignature, rowCounters, networkOf } from '../../shared/insights/series.ts';
import { BASELINE_MINUTES, END_QUIET_MINUTES, INSIGHT_TYPES, type InsightType } from '../../shared/insights/types.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const A = '1111111111111111';
const B = '2222222222222222';

/** A seeded PRNG (mulberry32): the same noise every run. */
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

const row = analysisRow;

/** One minute of steady traffic: 2–6 writes, 3–9 reads (5 % throttled), two users, keys and five IPs. */
function steadyMinute(accountId: string, minuteMs: number, random: () => number): AnalysisRow[] {
  const rows: AnalysisRow[] = [];
  const writes = 2 + Math.floor(random() * 5);
  const reads = 3 + Math.floor(random() * 7);
  for (let i = 0; i < writes + reads; i++) {
    const who = random() < 0.5 ? { userName: 'alice', accessKeyId: 'AK1' } : { userName: 'bob', accessKeyId: 'AK2' };
    const write = i < writes;
    rows.push(
      row(accountId, minuteMs + Math.floor(random() * 59_000), {
        ...who,
        eventName: write ? 'StartInstance' : 'DescribeInstances',
        eventRW: write ? 'Write' : 'Read',
        sourceIpAddress: `10.0.0.${1 + Math.floor(random() * 5)}`,
        errorCode: !write && random() < 0.05 ? 'Throttling' : '',
      }),
    );
  }
  return rows;
}

/**
 * Replays minutes [T0, T0 + minutes) for the accounts: enqueues each minute's rows, then runs
 * insights-cron at the minute's end (+1 s), as the timer would.
 */
async function replay(minutes: number, accounts: string[], extra: (accountId: string, minuteMs: number) => AnalysisRow[] = () => []): Promise<{ store: MemoryInsightsStore; events: Map<string, InsightEvent[]> }> {
  const store = new MemoryInsightsStore();
  const random = rng(42);
  let clock = T0;
  for (let i = 0; i < minutes; i++) {
    const m = T0 + i * MIN;
    for (const accountId of accounts) store.enqueue(accountId, [...steadyMinute(accountId, m, random), ...extra(accountId, m)]);
    clock = m + MIN + 1000;
    await runInsights({ store, consumers: [], deliver: async () => {}, now: () => clock, region: 'cn-hangzhou' });
  }
  const events = new Map<string, InsightEvent[]>();
  for (const accountId of accounts) {
    events.set(accountId, [...store.account(accountId).events.values()].sort((a, b) => a.eventTime.localeCompare(b.eventTime) || a.eventId.localeCompare(b.eventId)));
  }
  return { store, events };
}

const ofType = (events: InsightEvent[], type: InsightType) => events.filter((e) => e.insightDetails.insightType === type);

describe('the series a row counts in', () => {
  it('names the API, error code, key, network, IP, permission and trail objects', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('ecs.aliyuncs.com')).toBeUndefined();
    for (const notV4 of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4a', '1.2.3.1000', '', '١.2.3.4']) expect(networkOf(notV4)).toBeUndefined();
    expect(networkOf('0.0.0.0')).toBe('0.0.0.0/24');
    expect(networkOf('01.002.3.004')).toBe('01.002.3.0/24');
    expect(networkOf('2001:DB8:0:1::7')).toBe('2001:db8:0:1::/64');
    const c = rowCounters(row(A, T0, { eventName: 'DeleteInstance', eventRW: 'Write', errorCode: 'Forbidden', sourceIpAddress: '203.0.113.77', accessKeyId: 'AKX' }));
    expect(c.counts).toEqual([
      'ApiCallRateInsight|r|Ecs:DeleteInstance',
      'ApiErrorRateInsight|r|Ecs:DeleteInstance',
      'ApiErrorRateInsight|r|Forbidden',
      'AkInsight|r|AKX',
      'AkInsight|n|AKX@203.0.113.0/24',
      'IpInsight|n|203.0.113.77',
    ]);
    // a read call marks its IP as used but does not count for IpInsight
    const read = rowCounters(row(A, T0, { sourceIpAddress: '203.0.113.8' }));
    expect(read.marks).toContain('IpInsight|n|203.0.113.8');
    expect(read.counts).not.toContain('IpInsight|n|203.0.113.8');
    const narrow = rowCounters(row(A, T0, { serviceName: 'Actiontrail', eventName: 'UpdateTrail', eventRW: 'Write', requestParameters: { Name: 'trail-a', EventRW: 'Write' } }));
    expect(narrow.counts).toContain('TrailConcealmentInsight|i|trail-a');
    const widen = rowCounters(row(A, T0, { serviceName: 'Actiontrail', eventName: 'UpdateTrail', eventRW: 'Write', requestParameters: { Name: 'trail-a', EventRW: 'All' } }));
    expect(widen.counts.some((s) => s.startsWith('TrailConcealmentInsight'))).toBe(false);
  });
  it('a memo by signature answers what rowCounters does, shares one object per signature, and stays within its bound', () => {
    const memo = new CountersBySignature(3);
    const rows = ['203.0.113.1', '203.0.113.2', '203.0.113.1', '198.51.100.9', '192.0.2.4', '203.0.113.2'].map((ip) => row(A, T0, { sourceIpAddress: ip, eventRW: 'Write' }));
    const got = rows.map((r) => memo.of(r));
    rows.forEach((r, i) => expect(got[i]).toEqual(rowCounters(r)));
    expect(got[2]).toBe(got[0]);
    expect(memo.size).toBeLessThanOrEqual(3);
    // the fold's items carry the same counters with or without a memo kept across batches
    const withMemo = foldItemsOf(rows, T0 + 60_000, memo).map((item) => item.counters);
    const fresh = foldItemsOf(rows, T0 + 60_000, new CountersBySignature()).map((item) => item.counters);
    expect(withMemo).toEqual(fresh);
  });

  it('has a sentence for every type', () => {
    for (const info of Object.values(INSIGHT_TYPES)) expect(info.sentence.length).toBeGreaterThan(20);
  });
});

describe('steady traffic', () => {
  it('3 days with ordinary noise open no insight, on either account', async () => {
    const { events } = await replay(3 * 24 * 60, [A, B]);
    expect(events.get(A)).toEqual([]);
    expect(events.get(B)).toEqual([]);
  }, 120_000);
});

describe('anomalies after a day of baseline', () => {
  // minute offsets after T0 + 26 h, 30 minutes apart so each closes before the next
  const base = T0 + 26 * HOUR;
  const at = (k: number) => base + k * 30 * MIN;
  const anomalies = (accountId: string, m: number): AnalysisRow[] => {
    if (accountId !== A) return [];
    const rows: AnalysisRow[] = [];
    const n = (count: number, over: Partial<AnalysisRow>) => {
      for (let i = 0; i < count; i++) rows.push(row(A, m + i * 100, over));
    };
    if (m === at(0)) n(25, { eventName: 'DeleteInstance', eventRW: 'Write', userName: 'bob', accessKeyId: 'AK2', sourceIpAddress: '10.0.0.2' });
    if (m === at(1)) n(12, { errorCode: 'NoPermission', eventName: 'DescribeInstances', userName: 'bob', accessKeyId: 'AK2', sourceIpAddress: '10.0.0.3' });
    if (m === at(2)) n(45, { eventName: 'DescribeInstances', userName: 'alice', accessKeyId: 'AK1', sourceIpAddress: '10.0.0.4' });
    if (m === at(3)) n(1, { eventName: 'DescribeInstances', userName: 'alice', accessKeyId: 'AK1', sourceIpAddress: '198.51.100.9' });
    if (m === at(4)) n(1, { eventName: 'StartInstance', eventRW: 'Write', userName: 'carol', principalId: 'p-carol', accessKeyId: '', sourceIpAddress: '203.0.113.5' });
    if (m === at(5)) n(6, { serviceName: 'Ram', eventName: 'AttachPolicyToUser', eventRW: 'Write', userName: 'alice', accessKeyId: 'AK1', sourceIpAddress: '10.0.0.1' });
    if (m === at(6)) n(6, { serviceName: 'Ram', eventName: 'ChangePassword', eventRW: 'Write', userName: 'bob', accessKeyId: 'AK2', sourceIpAddress: '10.0.0.1' });
    if (m === at(7)) n(1, { serviceName: 'Actiontrail', eventName: 'StopLogging', eventRW: 'Write', requestParameters: { Name: 'trail-a' }, sourceIpAddress: '10.0.0.1' });
    // before the baseline period: only a concealment may fire
    if (m === T0 + 2 * HOUR) n(40, { eventName: 'DeleteInstance', eventRW: 'Write', sourceIpAddress: '192.0.2.1' });
    if (m === T0 + 3 * HOUR) n(1, { serviceName: 'Actiontrail', eventName: 'DeleteTrail', eventRW: 'Write', requestParameters: { Name: 'trail-early' } });
    return rows;
  };
  let result: Awaited<ReturnType<typeof replay>>;
  const get = async () => (result ??= await replay(26 * 60 + 8 * 30 + 20, [A, B], anomalies));

  const cases: { type: InsightType; k: number; object: string; count: number }[] = [
    { type: 'ApiCallRateInsight', k: 0, object: 'Ecs:DeleteInstance', count: 25 },
    { type: 'ApiErrorRateInsight', k: 1, object: 'NoPermission', count: 12 },
    { type: 'AkInsight', k: 2, object: 'AK1', count: 0 },
    { type: 'AkInsight', k: 3, object: 'AK1', count: 1 },
    { type: 'IpInsight', k: 4, object: '203.0.113.5', count: 1 },
    { type: 'PolicyChangeInsight', k: 5, object: 'Ram:PermissionChange', count: 6 },
    { type: 'PasswordChangeInsight', k: 6, object: 'Password', count: 6 },
    { type: 'TrailConcealmentInsight', k: 7, object: 'trail-a', count: 1 },
  ];
  for (const c of cases) {
    it(`${c.type} (${c.object}) opens once at its minute and closes ${END_QUIET_MINUTES} quiet minutes later`, async () => {
      const { events } = await get();
      const mine = ofType(events.get(A) ?? [], c.type).filter((e) => e.insightDetails.insightObject === c.object && Date.parse(e.eventTime) >= at(c.k) && Date.parse(e.eventTime) < at(c.k) + 30 * MIN);
      const starts = mine.filter((e) => e.insightDetails.state === 'Start');
      const ends = mine.filter((e) => e.insightDetails.state === 'End');
      expect(starts).toHaveLength(1);
      expect(ends).toHaveLength(1);
      const [start, end] = [starts[0] as InsightEvent, ends[0] as InsightEvent];
      expect(start.eventTime).toBe(new Date(at(c.k)).toISOString().replace('.000Z', 'Z'));
      expect(end.sharedEventId).toBe(start.sharedEventId);
      expect(end.eventId).not.toBe(start.eventId);
      expect(start).toMatchObject({ eventVersion: 1, eventType: 'ActionTrailInsight', eventCategory: 'Insight', recipientAccountId: A, acsRegion: 'cn-hangzhou' });
      const stats = end.insightDetails.insightContext.statistics;
      expect(stats.insightDuration).toBe(1);
      expect(Date.parse(end.eventTime)).toBe(at(c.k) + MIN);
      if (c.count > 0) expect(stats.insightCount).toBeGreaterThanOrEqual(c.count);
      expect(stats.baselineDuration).toBe(c.type === 'TrailConcealmentInsight' ? 0 : BASELINE_MINUTES);
      if (c.type === 'ApiCallRateInsight') {
        // the early burst (40 in one minute, before the baseline period was complete) is in this baseline
        expect(stats.baseline).toBeCloseTo(40 / BASELINE_MINUTES, 2);
        expect(start.insightDetails.insightContext.attributions.users[0]).toEqual({ value: 'bob', count: 25 });
        expect(start.insightDetails.insightContext.attributions.accessKeys[0]).toEqual({ value: 'AK2', count: 25 });
      }
      if (c.type === 'AkInsight' && c.k === 2) {
        // the key's own steady rate is its baseline: ~3 calls a minute
        expect(stats.baseline).toBeGreaterThan(2);
        expect(stats.baseline).toBeLessThan(6);
      }
    }, 120_000);
  }

  it('the allowlist and known networks keep IpInsight silent; concealment fires before the baseline period, rates do not', async () => {
    const { events } = await get();
    const a = events.get(A) ?? [];
    expect(ofType(a, 'IpInsight').map((e) => e.insightDetails.insightObject)).toEqual(['203.0.113.5', '203.0.113.5']);
    const early = a.filter((e) => Date.parse(e.eventTime) < T0 + 24 * HOUR);
    expect(early.map((e) => [e.insightDetails.insightType, e.insightDetails.insightObject, e.insightDetails.state])).toEqual([
      ['TrailConcealmentInsight', 'trail-early', 'Start'],
      ['TrailConcealmentInsight', 'trail-early', 'End'],
    ]);
  }, 120_000);

  it('one account\'s anomalies never touch another\'s', async () => {
    const { events } = await get();
    expect(events.get(B)).toEqual([]);
  }, 120_000);
});

describe('exactly-once counting', () => {
  it('a row folded twice (a re-run, a second drainer) counts once', async () => {
    const store = new MemoryInsightsStore();
    const r = row(A, T0, { eventRW: 'Write', eventName: 'StartInstance' });
    store.enqueue(A, [r]);
    const rows = await store.readQueue(A, 10);
    const item = { eventId: r.eventId, timeMs: r.eventTimeMs, counters: rowCounters(r) };
    expect((await store.fold(A, [item])).counted).toBe(1);
    expect(rows).toHaveLength(1);
    expect(await store.fold(A, [item])).toMatchObject({ counted: 0, duplicates: 1 });
    expect((await store.minute(A, T0)).counts.get('ApiCallRateInsight|r|Ecs:StartInstance')).toBe(1);
  });
});
