/** The fold's cache of novelty marks known stored (adapters/redis/insights-store.ts MarkCache, docs/design.md §3.9). */
import { describe, expect, it } from 'vitest';
import { MARK_CACHE_MAX_ENTRIES, MARK_CACHE_TRUST_MS, MarkCache } from '../../adapters/redis/insights-store.ts';

const HOUR = 3_600_000;
const A = '1234567890123456';
const MARK = 'IpInsight|n|203.0.113.9';

describe('MarkCache', () => {
  it('covers a mark for its minute and later ones, never an earlier minute (that one could lower it)', () => {
    const cache = new MarkCache();
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR + 120_000, 0)).toBe(false);
    cache.note(A, 10 * HOUR, MARK, 10 * HOUR + 120_000, 0);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR + 120_000, 1)).toBe(true);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR + 180_000, 1)).toBe(true);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR + 60_000, 1)).toBe(false);
    // a later note with an earlier minute lowers what it knows
    cache.note(A, 10 * HOUR, MARK, 10 * HOUR + 60_000, 2);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR + 60_000, 3)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('keys by account, hour and mark', () => {
    const cache = new MarkCache();
    cache.note(A, 10 * HOUR, MARK, 10 * HOUR, 0);
    expect(cache.covers('999', 10 * HOUR, MARK, 10 * HOUR, 1)).toBe(false);
    expect(cache.covers(A, 11 * HOUR, MARK, 11 * HOUR, 1)).toBe(false);
    expect(cache.covers(A, 10 * HOUR, 'IpInsight|n|203.0.113.10', 10 * HOUR, 1)).toBe(false);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR, 1)).toBe(true);
  });

  it('trusts what it knows for a while only (a key lost to a failover is written again)', () => {
    const cache = new MarkCache();
    cache.note(A, 10 * HOUR, MARK, 10 * HOUR, 0);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR, MARK_CACHE_TRUST_MS - 1)).toBe(true);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR, MARK_CACHE_TRUST_MS)).toBe(false);
    cache.note(A, 10 * HOUR, MARK, 10 * HOUR, MARK_CACHE_TRUST_MS);
    expect(cache.covers(A, 10 * HOUR, MARK, 10 * HOUR, MARK_CACHE_TRUST_MS + 1)).toBe(true);
  });

  it('stays bounded', () => {
    const cache = new MarkCache();
    for (let i = 0; i <= MARK_CACHE_MAX_ENTRIES; i++) cache.note(A, 0, `k${i}`, 0, 0);
    expect(cache.size).toBeLessThanOrEqual(MARK_CACHE_MAX_ENTRIES);
    expect(cache.covers(A, 0, `k${MARK_CACHE_MAX_ENTRIES}`, 0, 1)).toBe(true);
  });
});
