/**
 * The head of each digest chain (the latest digest written), kept in Redis by the deliverer —
 * which needs it anyway to link the next digest — and read by the verifier as an anchor outside
 * the bucket (so deleting the newest digests, or a whole scope, is detected):
 *   {tk:<accountId>}:digest:heads:<trailName>   hash  <digest scope prefix> → "<hourStartMs>|<link JSON>"
 * The field is the digest scope prefix (`<OssKeyPrefix>/AliyunLogs/Actiontrail-Digest/[<org>/<acct>/]<region>/`),
 * so a changed OssKeyPrefix starts a separate chain. A head only moves forward in time.
 */
import type { RedisClient } from '../redis.ts';
import { previousDigestLinkSchema, type PreviousDigestLink } from '../../shared/archive/digest.ts';
import { digestScopePrefix, parseDigestKey } from '../../shared/archive/layout.ts';

export function chainHeadsKey(accountId: string, trailName: string): string {
  return `{tk:${accountId}}:digest:heads:${trailName}`;
}

const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local hour = tonumber(string.match(current, '^(%d+)|'))
  if hour and hour > tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 1`;

function scopeField(link: PreviousDigestLink): { field: string; hourMs: number } {
  const parsed = parseDigestKey(link.key);
  if (!parsed) throw new RangeError(`not a digest key: ${link.key}`);
  return { field: digestScopePrefix(parsed), hourMs: parsed.hourStart.getTime() };
}

/** Records `link` (to the digest just stored) as its chain's head unless a later one is recorded. */
export async function saveChainHead(redis: RedisClient, accountId: string, trailName: string, link: PreviousDigestLink): Promise<boolean> {
  const valid = previousDigestLinkSchema.parse(link);
  const { field, hourMs } = scopeField(valid);
  return (await redis.eval(ADVANCE, 1, chainHeadsKey(accountId, trailName), field, String(hourMs), JSON.stringify(valid))) === 1;
}

/** The head of one chain (the `previous` of the next digest), or null when the chain has none yet. */
export async function chainHead(redis: RedisClient, accountId: string, trailName: string, scopePrefix: string): Promise<PreviousDigestLink | null> {
  const raw = await redis.hget(chainHeadsKey(accountId, trailName), scopePrefix);
  return raw ? parseHead(raw) : null;
}

/** Every chain head of a trail. */
export async function chainHeads(redis: RedisClient, accountId: string, trailName: string): Promise<PreviousDigestLink[]> {
  const all = await redis.hvals(chainHeadsKey(accountId, trailName));
  return all.map(parseHead);
}

function parseHead(raw: string): PreviousDigestLink {
  const bar = raw.indexOf('|');
  return previousDigestLinkSchema.parse(JSON.parse(raw.slice(bar + 1)));
}
