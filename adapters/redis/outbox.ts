/**
 * Trail outboxes on Redis, one per trail and destination (`oss`, `logstore`):
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>        zset  eventId → arrival time (ms; ties by eventId)
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>:data   hash  eventId → event JSON (as the trail receives it)
 *   {tk:<trailAccount>}:outbox:<trail>:claims        zset  eventId → eventTime (ms): events with an eventTime
 *                                                    before the trail's StartLoggingTime that reached its outboxes
 * Appending an eventId already present changes nothing (ZADD NX / HSETNX in one script). An entry
 * with an eventTime before the trail's StartLoggingTime (a backfilled event, or a history delivery
 * job's) is appended only if it claims its eventId first, in the same script and for every
 * destination at once, so live delivery and a history job never both deliver it
 * (shared/history-jobs/history-job.ts, THE BOUNDARY). Claims live as long as history holds events.
 */
import type { RedisClient } from '../redis.ts';
import type { Trail } from '../../shared/trails/model.ts';
import type { OutboxEntry } from '../../shared/pipeline/classify-batch.ts';
import { HISTORY_RETENTION_MS } from '../../shared/history/history-store.ts';
import { needsClaim } from '../../shared/history-jobs/history-job.ts';

export type Destination = 'oss' | 'logstore';

export function outboxKey(accountId: string, trailName: string, destination: Destination): string {
  return `{tk:${accountId}}:outbox:${trailName}:${destination}`;
}

/** Which deliverers serve a trail. */
export function destinationsOf(trail: Trail): Destination[] {
  const out: Destination[] = [];
  if (trail.ossBucketName) out.push('oss');
  if (trail.slsProjectArn) out.push('logstore');
  return out;
}

/** The trail's claims (see the key layout above). */
export function claimsKey(accountId: string, trailName: string): string {
  return `{tk:${accountId}}:outbox:${trailName}:claims`;
}

/** Claims outlive the last write by history's retention and a day (no claimed event is in history longer). */
export const CLAIMS_TTL_MS = HISTORY_RETENTION_MS + 86_400_000;

/**
 * Lua shared by the scripts that claim: `claimAndAppend` claims one eventId and, if the claim is
 * new, appends the entry to each destination (pairs zset, data in `dests`); `keepClaims` drops
 * claims past history's retention and renews the set's expiry.
 */
export const CLAIM_LUA = `
local function claimAndAppend(claims, dests, now, id, time, json)
  if redis.call('ZADD', claims, 'NX', time, id) == 0 then return 0 end
  for d = 1, #dests, 2 do
    if redis.call('ZADD', dests[d], 'NX', now, id) == 1 then redis.call('HSET', dests[d + 1], id, json) end
  end
  return 1
end
local function keepClaims(claims, now, retention, ttl)
  redis.call('ZREMRANGEBYSCORE', claims, '-inf', '(' .. (now - retention))
  redis.call('PEXPIRE', claims, ttl)
end
`;

/** KEYS: claims, then zset/data per destination. ARGV: now, retention, ttl, then eventId, eventTime, json per entry. */
const CLAIMED_APPEND = `${CLAIM_LUA}
local now = tonumber(ARGV[1])
local dests = {}
for k = 2, #KEYS do dests[#dests + 1] = KEYS[k] end
local added = 0
for i = 4, #ARGV, 3 do
  added = added + claimAndAppend(KEYS[1], dests, now, ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2])
end
keepClaims(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]))
return added`;

/** The outbox keys of a trail's destinations, as CLAIMED_APPEND and the history job's script take them. */
export function destinationKeys(trail: Trail): string[] {
  return destinationsOf(trail).flatMap((d) => {
    const key = outboxKey(trail.accountId, trail.name, d);
    return [key, `${key}:data`];
  });
}

const APPEND = `
local now = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV, 2 do
  if redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    added = added + 1
  end
end
return added`;

/** Every trail that has had an outbox for a destination (a handful per account; never pruned). */
export function outboxIndexKey(destination: Destination): string {
  return `{tk}:outboxes:${destination}`;
}

export class RedisOutbox {
  constructor(private readonly redis: RedisClient) {}

  async append(trail: Trail, entries: readonly OutboxEntry[]): Promise<number> {
    let added = 0;
    const claimed = entries.filter((e) => needsClaim(trail, e));
    const plain = claimed.length === 0 ? entries : entries.filter((e) => !needsClaim(trail, e));
    const destinations = destinationsOf(trail);
    // indexed first: an entry is never in an outbox the deliverers do not list
    for (const destination of destinations) await this.redis.sadd(outboxIndexKey(destination), `${trail.accountId}/${trail.name}`);
    if (claimed.length > 0 && destinations.length > 0) {
      const keys = [claimsKey(trail.accountId, trail.name), ...destinationKeys(trail)];
      const args = claimed.flatMap((e) => [e.eventId, String(e.eventTimeMs), e.json]);
      added += destinations.length * ((await this.redis.eval(CLAIMED_APPEND, keys.length, ...keys, String(Date.now()), String(HISTORY_RETENTION_MS), String(CLAIMS_TTL_MS), ...args)) as number);
    }
    for (const destination of destinations) {
      if (plain.length > 0) {
        const key = outboxKey(trail.accountId, trail.name, destination);
        const args = plain.flatMap((e) => [e.eventId, e.json]);
        added += (await this.redis.eval(APPEND, 2, key, `${key}:data`, String(Date.now()), ...args)) as number;
      }
    }
    return added;
  }

  /** The trails that may have entries waiting for a destination. */
  async trails(destination: Destination): Promise<{ accountId: string; trailName: string }[]> {
    const members = await this.redis.smembers(outboxIndexKey(destination));
    return members.map((m) => {
      const slash = m.indexOf('/');
      return { accountId: m.slice(0, slash), trailName: m.slice(slash + 1) };
    });
  }

  /** The oldest entries, without removing them. */
  async peek(accountId: string, trailName: string, destination: Destination, limit: number): Promise<{ eventId: string; json: string }[]> {
    const key = outboxKey(accountId, trailName, destination);
    const ids = await this.redis.zrange(key, 0, limit - 1);
    if (ids.length === 0) return [];
    const values = await this.redis.hmget(`${key}:data`, ...ids);
    return ids.flatMap((eventId, i) => (values[i] ? [{ eventId, json: values[i] as string }] : []));
  }

  /** The oldest entries with their arrival time, without removing them. */
  async peekWithArrival(accountId: string, trailName: string, destination: Destination, limit: number): Promise<{ eventId: string; json: string; arrivedAtMs: number }[]> {
    const key = outboxKey(accountId, trailName, destination);
    const flat = await this.redis.zrange(key, 0, limit - 1, 'WITHSCORES');
    if (flat.length === 0) return [];
    const ids: string[] = [];
    const times: number[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      ids.push(flat[i] as string);
      times.push(Number(flat[i + 1]));
    }
    const values = await this.redis.hmget(`${key}:data`, ...ids);
    return ids.flatMap((eventId, i) => (values[i] ? [{ eventId, json: values[i] as string, arrivedAtMs: times[i] as number }] : []));
  }

  /** Removes delivered entries. */
  async ack(accountId: string, trailName: string, destination: Destination, eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    const key = outboxKey(accountId, trailName, destination);
    await this.redis.multi().zrem(key, ...eventIds).hdel(`${key}:data`, ...eventIds).exec();
  }

  async size(accountId: string, trailName: string, destination: Destination): Promise<number> {
    return this.redis.zcard(outboxKey(accountId, trailName, destination));
  }
}
