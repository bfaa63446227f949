/** Trails on Redis: one hash per account, `{tk:<accountId>}:trails`, name → trail JSON; and bucket claims. */
import type { RedisClient } from '../redis.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import type { TrailDestination, TrailStore } from '../../shared/trails/trail-store.ts';
import { claimPrefix, type BucketClaim, type BucketClaimStore, type ClaimResult } from '../../shared/trails/bucket-claims.ts';

const CREATE_IF_ABSENT = `return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])`;
const REPLACE_IF_PRESENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if ARGV[3] == '1' then
  local stored = cjson.decode(current)
  local bucket, prefix = stored.ossBucketName, stored.ossKeyPrefix
  if type(bucket) ~= 'string' then bucket = '' end
  if type(prefix) ~= 'string' then prefix = '' end
  if bucket ~= ARGV[4] or prefix ~= ARGV[5] then return -1 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export function trailsKey(accountId: string): string {
  return `{tk:${accountId}}:trails`;
}

function parse(raw: string): Trail {
  return trailSchema.parse(JSON.parse(raw));
}

export class RedisTrailStore implements TrailStore {
  constructor(private readonly redis: RedisClient) {}

  async list(accountId: string): Promise<Trail[]> {
    const all = await this.redis.hvals(trailsKey(accountId));
    return all.map(parse).sort((a, b) => a.createdAtMs - b.createdAtMs || a.name.localeCompare(b.name));
  }

  async get(accountId: string, name: string): Promise<Trail | undefined> {
    const raw = await this.redis.hget(trailsKey(accountId), name);
    return raw ? parse(raw) : undefined;
  }

  async create(trail: Trail): Promise<boolean> {
    const valid = trailSchema.parse(trail);
    return (await this.redis.eval(CREATE_IF_ABSENT, 1, trailsKey(valid.accountId), valid.name, JSON.stringify(valid))) === 1;
  }

  async update(trail: Trail, expected?: TrailDestination): Promise<boolean | 'changed'> {
    const valid = trailSchema.parse(trail);
    const check = expected ? ['1', expected.ossBucketName ?? '', expected.ossKeyPrefix ?? ''] : ['0', '', ''];
    const answer = await this.redis.eval(REPLACE_IF_PRESENT, 1, trailsKey(valid.accountId), valid.name, JSON.stringify(valid), ...check);
    return answer === -1 ? 'changed' : answer === 1;
  }

  async delete(accountId: string, name: string): Promise<boolean> {
    return (await this.redis.hdel(trailsKey(accountId), name)) === 1;
  }
}

/**
 * Bucket claims (shared/trails/bucket-claims.ts): one hash per bucket, `{tk:bucket:<bucket>}:claims`
 * (its own hash tag: one slot per bucket, so every script touches one key on a cluster):
 *   t|<accountId>|<trailName>|<prefix>   "1"                 a trail delivering to the bucket
 *   p|<prefix>                           <accountId>|<trail>  the single-account folder's holder
 * The holders of a bucket are the accounts of its `t|` fields. The key goes with its last field.
 */
export function bucketClaimsKey(bucket: string): string {
  return `{tk:bucket:${bucket}}:claims`;
}

const CLAIM_BUCKET = `
local key = KEYS[1]
local acct, tfield, pfield, pvalue, single = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local peers = {}
for i = 6, #ARGV do peers[ARGV[i]] = true end
local fields = redis.call('HKEYS', key)
for _, f in ipairs(fields) do
  if string.sub(f, 1, 2) == 't|' then
    local holder = string.match(f, '^t|([^|]*)|')
    if holder ~= acct and not peers[holder] then return 'bucket' end
  end
end
if single then
  local current = redis.call('HGET', key, pfield)
  if current and current ~= pvalue then return 'prefix' end
  redis.call('HSET', key, pfield, pvalue)
end
redis.call('HSET', key, tfield, '1')
return 'ok'`;

const RELEASE_BUCKET = `
local key = KEYS[1]
redis.call('HDEL', key, ARGV[1])
if redis.call('HGET', key, ARGV[2]) == ARGV[3] then redis.call('HDEL', key, ARGV[2]) end
return 1`;

function claimFields(claim: BucketClaim): [tfield: string, pfield: string, pvalue: string] {
  const prefix = claimPrefix(claim.ossKeyPrefix);
  return [`t|${claim.accountId}|${claim.trailName}|${prefix}`, `p|${prefix}`, `${claim.accountId}|${claim.trailName}`];
}

export class RedisBucketClaims implements BucketClaimStore {
  constructor(private readonly redis: RedisClient) {}

  async claim(claim: BucketClaim, peers: readonly string[]): Promise<ClaimResult> {
    const [tfield, pfield, pvalue] = claimFields(claim);
    const answer = await this.redis.eval(
      CLAIM_BUCKET,
      1,
      bucketClaimsKey(claim.bucket),
      claim.accountId,
      tfield,
      pfield,
      pvalue,
      claim.singleAccount ? '1' : '0',
      ...peers,
    );
    if (answer === 'ok') return { ok: true };
    return { ok: false, reason: answer === 'prefix' ? 'prefix' : 'bucket' };
  }

  async release(claim: BucketClaim): Promise<void> {
    const [tfield, pfield, pvalue] = claimFields(claim);
    // HDEL of the last field deletes the hash: a freed bucket leaves no key behind.
    await this.redis.eval(RELEASE_BUCKET, 1, bucketClaimsKey(claim.bucket), tfield, pfield, pvalue);
  }

  async holders(bucket: string): Promise<string[]> {
    const fields = await this.redis.hkeys(bucketClaimsKey(bucket));
    const accounts = fields.filter((f) => f.startsWith('t|')).map((f) => f.split('|')[1] ?? '');
    return [...new Set(accounts)].sort();
  }
}
