import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import { issueToken } from '../../shared/lookup/next-token.ts';
import { dimensionKeyOf, dimensionsOfKey } from '../../shared/summaries/dimension-key.ts';
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';
import { lookupEventSummaries, type SummaryLookupPorts } from '../../shared/summaries/lookup-summaries.ts';
import { SUMMARY_WINDOW_MS, type SummaryDimensions } from '../../shared/summaries/summary-row.ts';
import { parseSummaryRow, windowExpired, type BatchOutcome, type SummaryEntry, type SummaryQueueDrainer } from '../../shared/summaries/summary-store.ts';

const dims = (over: Partial<SummaryDimensions> = {}): SummaryDimensions => ({
  userName: 'alice', identityType: 'ram-user', accountId: '1', accessKeyId: 'AK', serviceName: 'Ecs', eventName: 'StopInstance',
  apiVersion: '2014-05-26', eventRW: 'Write', resourceType: 'ACS::ECS::Instance', resourceName: 'i-1', acsRegion: 'cn-hangzhou', sourceIpAddress: '1.2.3.4',
  ...over,
});

describe('dimension keys and rows', () => {
  it('round-trip, are stable under field order, and refuse foreign keys', () => {
    const d = dims({ userName: 'é"|\\' });
    const shuffled = Object.fromEntries(Object.entries(d).reverse()) as unknown as SummaryDimensions;
    expect(dimensionKeyOf(shuffled)).toBe(dimensionKeyOf(d));
    expect(dimensionsOfKey(dimensionKeyOf(d))).toEqual(d);
    expect(dimensionsOfKey('["a"]')).toBeUndefined();
    expect(dimensionsOfKey('nope')).toBeUndefined();
  });

  it('parses queued rows and tells expired windows', () => {
    expect(parseSummaryRow(JSON.stringify({ eventId: 'e', accountId: '1', windowStartMs: 0, eventTimeMs: 5, dimensions: dims() }))?.eventId).toBe('e');
    expect(parseSummaryRow('{"eventId":"e"}')).toBeUndefined();
    expect(parseSummaryRow('{')).toBeUndefined();
    const ninety = 90 * 86_400_000;
    expect(windowExpired(0, SUMMARY_WINDOW_MS + ninety - 1)).toBe(false);
    expect(windowExpired(0, SUMMARY_WINDOW_MS + ninety)).toBe(true);
  });
});

/** A queue per account with `n` rows; a batch takes min(limit, left). */
function fakeQueues(sizes: Record<string, number>): SummaryQueueDrainer & { order: string[]; forgotten: string[] } {
  const left = { ...sizes };
  const order: string[] = [];
  const forgotten: string[] = [];
  return {
    order,
    forgotten,
    queuedAccounts: async () => Object.keys(left),
    drainBatch: async (accountId, limit): Promise<BatchOutcome> => {
      order.push(accountId);
      const take = Math.min(limit, left[accountId] ?? 0);
      left[accountId] = (left[accountId] ?? 0) - take;
      return { read: take, folded: take, dropped: 0, duplicates: 0, malformed: 0, remaining: left[accountId] ?? 0 };
    },
    forgetIfEmpty: async (accountId) => {
      forgotten.push(accountId);
    },
  };
}

describe('drainSummaryQueues', () => {
  it('drains accounts in turn until empty, forgetting emptied ones', async () => {
    const q = fakeQueues({ a: 5, b: 1, c: 0 });
    const r = await drainSummaryQueues(q, Date.now, { batchSize: 2 });
    expect(q.order).toEqual(['a', 'b', 'c', 'a', 'a']);
    expect(q.forgotten.sort()).toEqual(['a', 'b', 'c']);
    expect(r).toMatchObject({ accounts: 3, batches: 5, read: 6, folded: 6, remaining: 0, complete: true });
  });

  it('stops at maxRows and at the time budget, reporting what is left', async () => {
    const r = await drainSummaryQueues(fakeQueues({ a: 10, b: 10 }), Date.now, { batchSize: 3, maxRows: 7 });
    expect(r).toMatchObject({ read: 7, remaining: 13, complete: false });
    let t = 0;
    const clock = () => (t += 10);
    const timed = await drainSummaryQueues(fakeQueues({ a: 100 }), clock, { batchSize: 1, budgetMs: 50 });
    expect(timed.complete).toBe(false);
    expect(timed.read).toBeLessThan(10);
  });
});

const NOW = Date.UTC(2025, 5, 10, 12, 30);
const KEY = randomBytes(32);

function portsWith(windows: Record<string, Record<number, SummaryEntry[]>>): SummaryLookupPorts {
  return {
    summaries: {
      windowStarts: async (accountIds, from, to) =>
        [...new Set(accountIds.flatMap((a) => Object.keys(windows[a] ?? {}).map(Number)))].filter((ws) => ws >= from && ws <= to).sort((x, y) => x - y),
      readWindow: async (accountIds, ws) => accountIds.flatMap((a) => windows[a]?.[ws] ?? []).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)),
    },
    accountsVisibleTo: async (a) => (a === 'mgmt' ? ['mgmt', 'member'] : [a]),
    tokenKey: async () => KEY,
    now: () => NOW,
  };
}

function entry(d: SummaryDimensions, count: number, at: number): SummaryEntry {
  return { key: dimensionKeyOf(d), dimensions: d, count, firstMs: at, lastMs: at + 1000 };
}

interface Page {
  NextToken?: string;
  Windows: { WindowStart: string; Total: number; Summaries: { UserName: string; EventName: string; Count: number; AccountId: string }[] }[];
}

describe('lookupEventSummaries', () => {
  const w0 = Math.floor(NOW / SUMMARY_WINDOW_MS) * SUMMARY_WINDOW_MS;
  const w1 = w0 - SUMMARY_WINDOW_MS;
  const w2 = w0 - 5 * SUMMARY_WINDOW_MS;
  const long = 'x'.repeat(3000);
  const data = {
    mgmt: {
      [w0]: [entry(dims({ accountId: 'mgmt', userName: 'a' }), 3, w0), entry(dims({ accountId: 'mgmt', userName: 'b', eventName: 'Describe' }), 2, w0)],
      [w1]: [entry(dims({ accountId: 'mgmt', userName: long }), 1, w1), entry(dims({ accountId: 'mgmt', userName: `${long}y` }), 1, w1), entry(dims({ accountId: 'mgmt', userName: 'c' }), 4, w1)],
    },
    member: { [w2]: [entry(dims({ accountId: 'member', userName: 'm' }), 7, w2)] },
    other: { [w0]: [entry(dims({ accountId: 'other' }), 9, w0)] },
  };
  const run = async (params: Record<string, string>, caller = 'mgmt') => (await lookupEventSummaries(params, { accountId: caller }, portsWith(data))) as unknown as Page;

  it('answers newest window first with totals, over the caller and its members only', async () => {
    const page = await run({});
    expect(page.NextToken).toBeUndefined();
    expect(page.Windows.map((w) => [Date.parse(w.WindowStart), w.Total])).toEqual([[w0, 5], [w1, 6], [w2, 7]]);
    expect(page.Windows.flatMap((w) => w.Summaries.map((s) => s.AccountId))).not.toContain('other');
    const forward = await run({ Direction: 'FORWARD' });
    expect(forward.Windows.map((w) => Date.parse(w.WindowStart))).toEqual([w2, w1, w0]);
  });

  it('pages one summary at a time through every entry, long keys included, both directions', async () => {
    for (const direction of ['BACKWARD', 'FORWARD']) {
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await run({ MaxResults: '1', Direction: direction, ...(token ? { NextToken: token } : {}) });
        for (const w of page.Windows) for (const s of w.Summaries) seen.push(`${w.WindowStart}:${s.UserName.slice(0, 5)}:${s.UserName.length}`);
        token = page.NextToken;
      } while (token);
      expect(seen).toHaveLength(6);
      expect(new Set(seen).size).toBe(6);
    }
  });

  it('filters on a dimension and keeps the filter in Total', async () => {
    const page = await run({ 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'Describe' });
    expect(page.Windows).toHaveLength(1);
    expect(page.Windows[0]?.Total).toBe(2);
    expect(page.Windows[0]?.Summaries.map((s) => s.UserName)).toEqual(['b']);
  });

  it('refuses non-dimension keys, bad MaxResults and LookupEvents tokens', async () => {
    const code = async (params: Record<string, string>) => {
      try {
        await run(params);
      } catch (err) {
        if (err instanceof ValidationError) return err.code;
        throw err;
      }
      return 'ok';
    };
    expect(await code({ 'LookupAttribute.1.Key': 'EventType', 'LookupAttribute.1.Value': 'ApiCall' })).toBe('InvalidQueryParameter');
    expect(await code({ MaxResults: '0' })).toBe('InvalidQueryParameter');
    expect(await code({ MaxResults: '100' })).toBe('ok');
    const foreign = issueToken(
      { cursor: { timeMs: w0, eventId: 'e' }, startMs: 0, endMs: NOW },
      { callerAccountId: 'mgmt', accountIds: ['member', 'mgmt'], direction: 'BACKWARD', conditions: [] },
      KEY,
    );
    expect(await code({ NextToken: foreign })).toBe('InvalidNextToken');
  });
});
