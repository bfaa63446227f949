/**
 * IpInsight's allowlist (docs/design.md §3.9, ours): entries are validated, bounded and kept in
 * canonical form; PutInsightIpAllowlist / GetInsightIpAllowlist answer the caller's own account;
 * and through the engine an allowlisted IP (inside an IPv4 or IPv6 block) opens no IpInsight
 * while a new IP outside it does. Insight events route to the trails that select their type:
 * the account's own and its management account's organization trails.
 */
import { describe, expect, it } from 'vitest';
import { analysisRow } from '../helpers/analysis-row.ts';
import { ValidationError } from '../../shared/errors.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { allowlistMatcher, formatCidr, IpAllowlistSchema, MAX_INSIGHT_IP_ALLOWLIST, parseCidr } from '../../shared/insights/allowlist.ts';
import type { InsightEvent } from '../../shared/insights/detector.ts';
import { runInsights } from '../../shared/insights/engine.ts';
import { INSIGHT_ACTIONS, type InsightApiPorts } from '../../shared/insights/insight-api.ts';
import { MemoryInsightsStore } from '../../shared/insights/memory-store.ts';
import { candidateInsightTrails, routeInsightEvents } from '../../shared/insights/routing.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import type { InsightType } from '../../shared/insights/types.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const A = '1111111111111111';
const B = '2222222222222222';

describe('allowlist entries', () => {
  it('IPs and CIDR blocks of both families parse to their network; invalid, too wide or oversized entries do not', () => {
    expect(formatCidr(parseCidr('198.51.100.7/24') ?? fail())).toBe('198.51.100.0/24');
    expect(formatCidr(parseCidr('203.0.113.9') ?? fail())).toBe('203.0.113.9/32');
    expect(formatCidr(parseCidr('2001:DB8::1/48') ?? fail())).toBe('2001:db8:0:0:0:0:0:0/48');
    expect(formatCidr(parseCidr('::ffff:192.0.2.1') ?? fail())).toBe('0:0:0:0:0:ffff:c000:201/128');
    for (const bad of ['', 'not-an-ip', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4/33', '1.2.3.4/7', '1.2.3.4/', '1.2.3.4/x', '2001:db8::/31', '1::2::3', '1:2:3:4:5:6:7:8:9', `1.2.3.4/${'1'.repeat(70)}`]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it('the schema keeps each block once, canonical and sorted, and refuses more than the bound', () => {
    expect(IpAllowlistSchema.parse(['198.51.100.9/24', '198.51.100.0/24', '10.0.0.1'])).toEqual(['10.0.0.1/32', '198.51.100.0/24']);
    expect(IpAllowlistSchema.safeParse(['10.0.0.1', 'nope']).success).toBe(false);
    const tooMany = Array.from({ length: MAX_INSIGHT_IP_ALLOWLIST + 1 }, (_v, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`);
    expect(IpAllowlistSchema.safeParse(tooMany).success).toBe(false);
    expect(IpAllowlistSchema.safeParse(tooMany.slice(0, MAX_INSIGHT_IP_ALLOWLIST)).success).toBe(true);
  });

  it('a matcher covers the addresses inside its blocks only, and ignores stored entries that do not parse', () => {
    const allowed = allowlistMatcher(['198.51.100.0/24', '2001:db8::/48', '192.0.2.5', 'garbage']);
    expect(allowed('198.51.100.200')).toBe(true);
    expect(allowed('198.51.101.1')).toBe(false);
    expect(allowed('2001:db8:0:ffff::1')).toBe(true);
    expect(allowed('2001:db9::1')).toBe(false);
    expect(allowed('192.0.2.5')).toBe(true);
    expect(allowed('192.0.2.6')).toBe(false);
    expect(allowed('ecs.aliyuncs.com')).toBe(false);
  });
});

function fail(): never {
  throw new Error('expected a block');
}

function apiPorts(): InsightApiPorts & { lists: Map<string, string[]> } {
  const lists = new Map<string, string[]>();
  return {
    lists,
    enabledTypes: async () => new Set<InsightType>(),
    setType: async () => {},
    allowlist: async (accountId) => lists.get(accountId) ?? [],
    setAllowlist: async (accountId, entries) => {
      lists.set(accountId, [...entries]);
    },
    getTrail: async () => undefined,
    updateTrail: async () => false,
    page: async () => ({ events: [], members: [] }),
    tokenKey: async () => Buffer.alloc(32),
    now: () => Date.now(),
  };
}

describe('PutInsightIpAllowlist / GetInsightIpAllowlist', () => {
  const put = INSIGHT_ACTIONS['PutInsightIpAllowlist'];
  const get = INSIGHT_ACTIONS['GetInsightIpAllowlist'];
  if (!put || !get) throw new Error('the allowlist actions are missing');

  it("replace the caller's own list with canonical entries and read it back; another account's is apart", async () => {
    const ports = apiPorts();
    expect(await put({ IpAllowlist: '["198.51.100.7/24","10.0.0.1"]' }, { accountId: A }, ports)).toEqual({ IpAllowlist: ['10.0.0.1/32', '198.51.100.0/24'] });
    expect(await get({}, { accountId: A }, ports)).toEqual({ IpAllowlist: ['10.0.0.1/32', '198.51.100.0/24'] });
    expect(await get({}, { accountId: B }, ports)).toEqual({ IpAllowlist: [] });
    expect(await put({ IpAllowlist: '[]' }, { accountId: A }, ports)).toEqual({ IpAllowlist: [] });
    expect(ports.lists.get(A)).toEqual([]);
  });

  it('refuse a missing, unparsable, invalid or oversized list with ActionTrail-style codes, changing nothing', async () => {
    const ports = apiPorts();
    await expect(put({}, { accountId: A }, ports)).rejects.toMatchObject({ code: 'MissingParameter', field: 'IpAllowlist' });
    for (const text of ['nope', '{"ip":"10.0.0.1"}', '["10.0.0.1","999.0.0.1"]', '["0.0.0.0/0"]', JSON.stringify(Array.from({ length: MAX_INSIGHT_IP_ALLOWLIST + 1 }, (_v, i) => `10.1.0.${i}`))]) {
      const refused = put({ IpAllowlist: text }, { accountId: A }, ports);
      await expect(refused, text).rejects.toBeInstanceOf(ValidationError);
      await expect(refused, text).rejects.toMatchObject({ code: 'InvalidParameter', field: 'IpAllowlist' });
    }
    await expect(put({ IpAllowlist: '["10.0.0.1","999.0.0.1"]' }, { accountId: A }, ports)).rejects.toThrow(/entry 1/);
    expect(ports.lists.size).toBe(0);
  });
});

const row = (timeMs: number, over: Partial<AnalysisRow> = {}): AnalysisRow => analysisRow(A, timeMs, { eventName: 'StartInstance', eventRW: 'Write', ...over });

describe('IpInsight and the allowlist, through the engine', () => {
  it('new IPs inside allowlisted IPv4 and IPv6 blocks open no IpInsight; a new IP outside them does', async () => {
    const T0 = Date.UTC(2026, 0, 5);
    const store = new MemoryInsightsStore();
    // a day of one known IP, then three new IPs write in one minute
    const rows: AnalysisRow[] = [];
    for (let t = T0; t < T0 + 25 * HOUR; t += 10 * MIN) rows.push(row(t));
    const m = T0 + 25 * HOUR;
    rows.push(row(m + 1000, { sourceIpAddress: '198.51.100.7' }), row(m + 2000, { sourceIpAddress: '2001:db8:1::5' }), row(m + 3000, { sourceIpAddress: '203.0.113.9' }));
    store.enqueue(A, rows);
    await store.setAllowlist(A, IpAllowlistSchema.parse(['198.51.100.0/24', '2001:db8::/32']));
    const now = m + MIN + 5000;
    const delivered: InsightEvent[] = [];
    await runInsights({ store, consumers: [], deliver: async (_a, events) => void delivered.push(...events), now: () => now, region: 'cn-hangzhou' }, { batchSize: 1000 });
    const ip = delivered.filter((e) => e.insightDetails.insightType === 'IpInsight');
    expect(ip.map((e) => [e.insightDetails.state, e.insightDetails.insightObject])).toEqual([['Start', '203.0.113.9']]);
  });
});

describe('routing insight events', () => {
  const now = Date.UTC(2026, 0, 5);
  const trail = (over: Partial<Trail> & Pick<Trail, 'name' | 'accountId'>): Trail =>
    trailSchema.parse({ homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: 'bucket-x', status: 'Enable', createdAtMs: now, updatedAtMs: now, ...over });
  const event = (type: InsightType, account = B, region = 'cn-hangzhou'): InsightEvent =>
    ({ eventId: `${type}-${account}`, recipientAccountId: account, acsRegion: region, insightDetails: { insightType: type } }) as InsightEvent;

  it("selecting, logging trails of the account and its management account's organization trails receive the types they select", () => {
    const own = [
      trail({ name: 'own-select', accountId: B, insightSelectors: ['ApiCallRateInsight'] }),
      trail({ name: 'own-plain', accountId: B }),
      trail({ name: 'own-stopped', accountId: B, status: 'Disable', insightSelectors: ['ApiCallRateInsight'] }),
      trail({ name: 'own-beijing', accountId: B, trailRegion: 'cn-beijing', insightSelectors: ['ApiCallRateInsight'] }),
    ];
    const management = [
      trail({ name: 'org-select', accountId: A, isOrganizationTrail: true, insightSelectors: ['ApiCallRateInsight', 'IpInsight'] }),
      trail({ name: 'mgmt-only', accountId: A, insightSelectors: ['ApiCallRateInsight'] }),
    ];
    const routed = routeInsightEvents([event('ApiCallRateInsight'), event('IpInsight')], candidateInsightTrails(own, management), A);
    expect(routed.map((r) => [r.trail.name, r.events.map((e) => e.insightDetails.insightType)])).toEqual([
      ['own-select', ['ApiCallRateInsight']],
      ['org-select', ['ApiCallRateInsight', 'IpInsight']],
    ]);
    // without the membership the organization trail receives nothing
    expect(routeInsightEvents([event('ApiCallRateInsight')], candidateInsightTrails(own, management), undefined).map((r) => r.trail.name)).toEqual(['own-select']);
  });
});
