/**
 * The bucket claim registry on a real Redis server and on a three-master cluster
 * (adapters/redis/trail-store.ts, RedisBucketClaims): atomic claims, peers, prefix folders,
 * idempotent release, and no key left once a bucket is free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { RedisBucketClaims, bucketClaimsKey } from '../../adapters/redis/trail-store.ts';
import type { BucketClaim } from '../../shared/trails/bucket-claims.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';

const A = '1234567890123456';
const C = '3234567890123456';
const MEMBER = '4234567890123456';
const backends = useRedisBackends();

const claimOf = (accountId: string, trailName: string, bucket: string, ossKeyPrefix?: string, singleAccount = true): BucketClaim => ({
  bucket,
  ossKeyPrefix,
  accountId,
  trailName,
  singleAccount,
});

describe.each(REDIS_BACKENDS)('RedisBucketClaims (%s)', (backendName) => {
  let redis: RedisClient;
  let claims: RedisBucketClaims;
  beforeAll(() => {
    redis = backends.get(backendName).client();
    claims = new RedisBucketClaims(redis);
  });
  afterAll(() => redis?.disconnect());

  it("holds a bucket for its first account and refuses another's, whatever the prefix", async () => {
    expect(await claims.claim(claimOf(A, 'a-trail', 'bucket-one', 'audit'), [])).toEqual({ ok: true });
    expect(await claims.claim(claimOf(C, 'a-trail', 'bucket-one', 'audit'), [])).toEqual({ ok: false, reason: 'bucket' });
    expect(await claims.claim(claimOf(C, 'c-trail', 'bucket-one', 'elsewhere'), [])).toEqual({ ok: false, reason: 'bucket' });
    expect(await claims.holders('bucket-one')).toEqual([A]);
  });

  it('lets peers share a bucket but gives a prefix folder to one trail', async () => {
    expect(await claims.claim(claimOf(A, 'org-trail', 'bucket-two', undefined, false), [MEMBER])).toEqual({ ok: true });
    expect(await claims.claim(claimOf(A, 'own-trail', 'bucket-two', 'management'), [MEMBER])).toEqual({ ok: true });
    expect(await claims.claim(claimOf(MEMBER, 'own-trail', 'bucket-two', 'management'), [A])).toEqual({ ok: false, reason: 'prefix' });
    expect(await claims.claim(claimOf(MEMBER, 'own-trail', 'bucket-two', 'member'), [A])).toEqual({ ok: true });
    expect(await claims.holders('bucket-two')).toEqual([A, MEMBER]);
  });

  it('is idempotent: a repeated claim or release changes nothing more, and the last release frees the bucket', async () => {
    const first = claimOf(A, 'a-trail', 'bucket-three', 'audit');
    const second = claimOf(A, 'b-trail', 'bucket-three', 'other');
    expect(await claims.claim(first, [])).toEqual({ ok: true });
    expect(await claims.claim(first, [])).toEqual({ ok: true });
    expect(await claims.claim(second, [])).toEqual({ ok: true });
    await claims.release(first);
    await claims.release(first);
    expect(await claims.claim(claimOf(C, 'c-trail', 'bucket-three', 'audit'), [])).toEqual({ ok: false, reason: 'bucket' });
    await claims.release(second);
    expect(await claims.holders('bucket-three')).toEqual([]);
    expect(await redis.exists(bucketClaimsKey('bucket-three'))).toBe(0);
    expect(await claims.claim(claimOf(C, 'c-trail', 'bucket-three', 'audit'), [])).toEqual({ ok: true });
  });

  it('lets exactly one of two accounts racing for a free bucket win', async () => {
    const results = await Promise.all([
      claims.claim(claimOf(A, 'a-trail', 'bucket-four', 'audit'), []),
      claims.claim(claimOf(C, 'c-trail', 'bucket-four', 'audit'), []),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await claims.holders('bucket-four')).toHaveLength(1);
  });
});
