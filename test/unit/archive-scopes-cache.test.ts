/**
 * cachedScopes (adapters/archive/archive-bucket.ts): archive queries reuse a trail's discovered
 * scopes for ARCHIVE_SCOPES_TTL_MS, per bucket and folder; a failed discovery is not kept.
 */
import { describe, expect, it } from 'vitest';
import { ARCHIVE_SCOPES_TTL_MS, cachedScopes } from '../../adapters/archive/archive-bucket.ts';
import type { ArchiveScope } from '../../shared/archive/layout.ts';
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
