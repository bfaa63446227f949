/**
 * Migration of secrets an older release stored in plain text: the reader that finds one seals it
 * in place (compare-and-set on the SHA-1 of the value it read, so a concurrent rewrite — another
 * instance's migration, a rotation — is never overwritten and the plain text is not sent again).
 * Each script touches one key, so it runs unchanged on a Redis Cluster.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.ts';

const SEAL_HASH_FIELD = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and redis.sha1hex(current) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0`;

const SEAL_STRING = `
local current = redis.call('GET', KEYS[1])
if current and redis.sha1hex(current) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end
return 0`;

function sha1Hex(value: string): string {
  return createHash('sha1').update(value, 'utf8').digest('hex');
}

/** Replaces hash field `field` of `key` by `sealed` if it still holds `plain`; true when replaced. */
export async function sealHashFieldInPlace(redis: RedisClient, key: string, field: string, plain: string, sealed: string): Promise<boolean> {
  return (await redis.eval(SEAL_HASH_FIELD, 1, key, field, sha1Hex(plain), sealed)) === 1;
}

/** Replaces string `key` by `sealed` if it still holds `plain`; true when replaced. */
export async function sealStringInPlace(redis: RedisClient, key: string, plain: string, sealed: string): Promise<boolean> {
  return (await redis.eval(SEAL_STRING, 1, key, sha1Hex(plain), sealed)) === 1;
}
