/**
 * One deliverer per trail and destination at a time: `{tk:<acct>}:lock:<destination>:<trail>`
 * holds a random token for at most the function's timeout, released only by its holder.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis.ts';

/** The lock outlives a crashed holder by at most the deliverers' function timeout. */
export const DELIVERY_LOCK_MS = 120_000;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export type TrailLock = (accountId: string, trailName: string, work: () => Promise<void>) => Promise<boolean>;

/** Runs `work` holding the lock; false (and `work` not run) when another invocation holds it. */
export function trailLock(redis: RedisClient, destination: 'oss' | 'logstore'): TrailLock {
  return async (accountId, trailName, work) => {
    const key = `{tk:${accountId}}:lock:${destination}:${trailName}`;
    const token = randomUUID();
    if ((await redis.set(key, token, 'PX', DELIVERY_LOCK_MS, 'NX')) !== 'OK') return false;
    try {
      await work();
    } finally {
      await redis.eval(RELEASE, 1, key, token);
    }
    return true;
  };
}
