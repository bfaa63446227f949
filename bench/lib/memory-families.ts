/**
 * Redis memory by key family, for benchmarks that report memory per event held: every key (SCAN)
 * with its MEMORY USAGE, grouped by the first part of the key after its hash tag
 * (`tk:{A}:b:…` → `b`, `{tk:A}:ins:m:…` → `ins:m`, `{tk:A}:akl:K:ips` → `akl`). Estimates per key,
 * so the sum differs a little from used_memory's delta.
 */
import type { Redis } from 'ioredis';

/** Families whose second part says what they are (`ins:m` minute counts, `ins:a` attributions, …). */
const TWO_PART = new Set(['ins', 'sum', 'aq', 'hj']);

export function familyOf(key: string): string {
  const close = key.indexOf('}');
  const rest = close >= 0 ? key.slice(close + 1).replace(/^:/, '') : key;
  const parts = rest.split(':');
  const first = parts[0] ?? '?';
  if (close < 0) return first;
  const second = parts[1];
  return TWO_PART.has(first) && second !== undefined && !/^\d+$/.test(second) ? `${first}:${second}` : first;
}

export async function memoryByFamily(redis: Redis, match = '*'): Promise<Map<string, { keys: number; bytes: number }>> {
  const families = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const family = familyOf(key);
      const entry = families.get(family) ?? { keys: 0, bytes: 0 };
      const size = sizes[i]?.[1];
      entry.keys += 1;
      entry.bytes += typeof size === 'number' ? size : 0;
      families.set(family, entry);
    });
  } while (cursor !== '0');
  return families;
}

export async function usedMemory(redis: Redis): Promise<number> {
  const match = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
  if (!match?.[1]) throw new Error('no used_memory in INFO');
  return Number(match[1]);
}
