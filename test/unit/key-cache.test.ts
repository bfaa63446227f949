/**
 * The AccessKey cache of lookup-http's authentication: a record read once serves calls for
 * KEY_CACHE_TTL_MS, a disable or delete takes effect once that has passed, unknown ids and
 * failed reads are never cached, and the cache is bounded.
 */
import { describe, expect, it } from 'vitest';
import { cachedKeyLookup, KEY_CACHE_TTL_MS } from '../../shared/auth/key-cache.ts';
import type { KeyLookup } from '../../shared/auth/verify.ts';

function store() {
  const keys = new Map<string, { accountId: string; accessKeySecret: string; enabled: boolean }>();
  const reads: string[] = [];
  let fail = false;
  const lookup: KeyLookup = async (id) => {
    reads.push(id);
    if (fail) throw new Error('redis down');
    return keys.get(id) ?? null;
  };
  return { keys, reads, lookup, failNext: (value: boolean) => (fail = value) };
}

describe('cachedKeyLookup', () => {
  it('reads a key once per TTL, and sees a disable or delete once the TTL has passed', async () => {
    const s = store();
    let now = 1_000_000;
    const keys = cachedKeyLookup(s.lookup, { now: () => now });
    s.keys.set('LTAIa', { accountId: '1', accessKeySecret: 'sec', enabled: true });
    expect(await keys('LTAIa')).toEqual({ accountId: '1', accessKeySecret: 'sec', enabled: true });
    s.keys.set('LTAIa', { accountId: '1', accessKeySecret: 'sec', enabled: false });
    now += KEY_CACHE_TTL_MS - 1;
    expect((await keys('LTAIa'))?.enabled).toBe(true);
    expect(s.reads).toEqual(['LTAIa']);
    now += 1;
    expect((await keys('LTAIa'))?.enabled).toBe(false);
    s.keys.delete('LTAIa');
    now += KEY_CACHE_TTL_MS;
    expect(await keys('LTAIa')).toBeNull();
    expect(s.reads).toEqual(['LTAIa', 'LTAIa', 'LTAIa']);
  });

  it('never caches an unknown key or a failed read', async () => {
    const s = store();
    const keys = cachedKeyLookup(s.lookup, { now: () => 0 });
    expect(await keys('LTAInew')).toBeNull();
    s.keys.set('LTAInew', { accountId: '1', accessKeySecret: 'sec', enabled: true });
    expect(await keys('LTAInew')).not.toBeNull();
    s.failNext(true);
    await expect(keys('LTAIother')).rejects.toThrow('redis down');
    s.failNext(false);
    s.keys.set('LTAIother', { accountId: '2', accessKeySecret: 'x', enabled: true });
    expect((await keys('LTAIother'))?.accountId).toBe('2');
    expect(s.reads).toEqual(['LTAInew', 'LTAInew', 'LTAIother', 'LTAIother']);
  });

  it('keeps at most maxEntries keys, dropping the oldest read', async () => {
    const s = store();
    for (const id of ['a', 'b', 'c']) s.keys.set(id, { accountId: id, accessKeySecret: id, enabled: true });
    const keys = cachedKeyLookup(s.lookup, { now: () => 0, maxEntries: 2 });
    await keys('a');
    await keys('b');
    await keys('c');
    await keys('b');
    await keys('c');
    expect(s.reads).toEqual(['a', 'b', 'c']);
    await keys('a');
    expect(s.reads).toEqual(['a', 'b', 'c', 'a']);
  });

  it('counts the TTL from when the read began', async () => {
    const s = store();
    let now = 0;
    s.keys.set('k', { accountId: '1', accessKeySecret: 's', enabled: true });
    const slow: KeyLookup = async (id) => {
      now += KEY_CACHE_TTL_MS; // the read took the whole TTL
      return s.lookup(id);
    };
    const keys = cachedKeyLookup(slow, { now: () => now });
    await keys('k');
    await keys('k');
    expect(s.reads).toEqual(['k', 'k']);
  });
});
