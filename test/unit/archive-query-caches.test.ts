/**
 * cachedScopes (adapters/archive/archive-bucket.ts): archive queries reuse a trail's discovered
 * scopes for ARCHIVE_SCOPES_TTL_MS, per bucket and folder; a failed discovery is not kept. And
 * manifestCache (shared/archive-query/archive-query.ts): a compacted day's manifest is read once
 * per listed ETag.
 */
import { describe, expect, it } from 'vitest';
import { ARCHIVE_SCOPES_TTL_MS, cachedScopes } from '../../adapters/archive/archive-bucket.ts';
import type { ArchiveScope } from '../../shared/archive/layout.ts';
import { manifestCache } from '../../shared/archive-query/archive-query.ts';
import { MANIFEST_VERSION } from '../../shared/archive-query/compacted-layout.ts';
import type { ArchiveBucket } from '../../shared/archive-query/ports.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';

const trailOf = (name: string, bucket: string): Trail =>
  trailSchema.parse({ name: `trail-${name}`, accountId: '1234567890123456', homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: bucket, status: 'Enable', createdAtMs: 0, updatedAtMs: 0 });

describe('cachedScopes', () => {
  it('reuses a discovery for the TTL, per bucket, and discovers again after it', async () => {
    let t = 0;
    const calls: string[] = [];
    const scopes = cachedScopes(async (trail) => {
      calls.push(trail.ossBucketName ?? '');
      return [{ region: `r-${calls.length}` } as ArchiveScope];
    }, ARCHIVE_SCOPES_TTL_MS, () => t);
    const a = trailOf('a', 'bucket-a');
    expect(await scopes(a)).toEqual([{ region: 'r-1' }]);
    t += ARCHIVE_SCOPES_TTL_MS - 1;
    expect(await scopes(a)).toEqual([{ region: 'r-1' }]);
    expect(await scopes(trailOf('b', 'bucket-b'))).toEqual([{ region: 'r-2' }]);
    t += 1;
    expect(await scopes(a)).toEqual([{ region: 'r-3' }]);
    expect(calls).toEqual(['bucket-a', 'bucket-b', 'bucket-a']);
  });

  it('does not keep a failed discovery', async () => {
    let fail = true;
    const scopes = cachedScopes(async () => {
      if (fail) throw new Error('listing failed');
      return [];
    });
    const a = trailOf('a', 'bucket-a');
    await expect(scopes(a)).rejects.toThrow('listing failed');
    fail = false;
    await expect(scopes(a)).resolves.toEqual([]);
  });
});

describe('manifestCache', () => {
  const manifest = {
    version: MANIFEST_VERSION,
    trail: { accountId: '1234567890123456', name: 'trail-a' },
    scope: { region: 'cn-hangzhou' },
    day: '2026-11-03',
    compactedAt: '2026-11-04T00:10:00.000Z',
    parquet: { key: 'k.parquet', sha256: 'a'.repeat(64), size: 10, rows: 1 },
    sources: [],
    excluded: [],
  };
  function bucketOf(bodies: Map<string, string>): { bucket: ArchiveBucket; reads: string[] } {
    const reads: string[] = [];
    const bucket: ArchiveBucket = {
      list: async () => [],
      read: async (_b, key) => {
        reads.push(key);
        const body = bodies.get(key);
        return body === undefined ? undefined : Buffer.from(body);
      },
      put: async () => undefined,
      remove: async () => undefined,
    };
    return { bucket, reads };
  }

  it('reads a manifest once per ETag, again for a new ETag, and never keeps a missing one', async () => {
    const bodies = new Map([['m.json', JSON.stringify(manifest)]]);
    const { bucket, reads } = bucketOf(bodies);
    const read = manifestCache(bucket);
    expect(await read('b', { key: 'm.json', size: 1, eTag: '"1"' })).toEqual(manifest);
    expect(await read('b', { key: 'm.json', size: 1, eTag: '"1"' })).toEqual(manifest);
    expect(reads).toEqual(['m.json']);
    bodies.set('m.json', JSON.stringify({ ...manifest, day: '2026-11-05' }));
    expect((await read('b', { key: 'm.json', size: 1, eTag: '"2"' }))?.day).toBe('2026-11-05');
    expect(reads).toEqual(['m.json', 'm.json']);
    expect(await read('b', { key: 'gone.json', size: 1, eTag: '"3"' })).toBeUndefined();
    bodies.set('gone.json', JSON.stringify(manifest));
    expect(await read('b', { key: 'gone.json', size: 1, eTag: '"3"' })).toEqual(manifest);
  });
});
