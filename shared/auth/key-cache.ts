/**
 * An in-process cache in front of a KeyLookup (docs/design.md §3.2): a busy caller signs every
 * call with the same AccessKey, and reading its record (one Redis round trip), opening its sealed
 * secret and checking the record's schema was a fixed cost of every call.
 *
 * Bounds:
 *   - a record is used for at most KEY_CACHE_TTL_MS after it was read: disabling or deleting a
 *     key takes effect in every instance within that time (then the next call reads it again);
 *   - only keys that exist are cached (a new key works at once; unknown ids cannot fill the
 *     cache), and a failed read is not cached;
 *   - at most KEY_CACHE_MAX_ENTRIES keys per instance (the oldest read goes first);
 *   - the secret is held only in this process's memory, opened, as during any call; at rest it
 *     stays sealed.
 * Nonces are never cached: replay protection stays one atomic claim per request.
 */
import type { KeyLookup } from './verify.ts';

/** How long a read AccessKey record is trusted: the bound on a disable or delete taking effect. */
export const KEY_CACHE_TTL_MS = 5_000;
/** Keys one instance keeps. */
export const KEY_CACHE_MAX_ENTRIES = 1_000;

type KeyRecord = NonNullable<Awaited<ReturnType<KeyLookup>>>;

export function cachedKeyLookup(
  lookup: KeyLookup,
  options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
): KeyLookup {
  const ttlMs = options.ttlMs ?? KEY_CACHE_TTL_MS;
  const maxEntries = options.maxEntries ?? KEY_CACHE_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { record: KeyRecord; until: number }>();
  return async (accessKeyId) => {
    const cached = entries.get(accessKeyId);
    if (cached && now() < cached.until) return cached.record;
    entries.delete(accessKeyId);
    const readAt = now();
    const record = await lookup(accessKeyId);
    if (record === null) return null;
    entries.delete(accessKeyId);
    while (entries.size >= maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
    // from when the read began: the record may already be that old when it arrives
    entries.set(accessKeyId, { record, until: readAt + ttlMs });
    return record;
  };
}
