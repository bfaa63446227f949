/**
 * Trail outboxes on Redis, one per trail and destination (`oss`, `logstore`), sharing one copy of
 * each event's JSON:
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>        zset  eventId → arrival time (ms; ties by eventId)
 *   {tk:<trailAccount>}:outbox:<trail>:data          hash  eventId → event JSON (as the trail receives it),
 *                                                    held while any destination's zset holds the eventId
 *   {tk:<trailAccount>}:outbox:<trail>:claims        zset  eventId → eventTime (ms): events with an eventTime
 *                                                    before the trail's StartLoggingTime that reached its outboxes
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>:data   hash  the same, per destination, as releases before
 *                                                    2026-12-04 wrote it: still read and cleared, never written
 * An append sends each event's JSON once for all the trail's destinations and stores it once (both
 * deliverers read the same bytes); an acknowledgement removes the eventId from its destination and
 * drops the JSON once no destination holds it, in one script. Appending an eventId already present
 * changes nothing (ZADD NX in one script). An entry
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

/** The trail's event JSON, shared by its destinations (see the key layout above). */
export function outboxDataKey(accountId: string, trailName: string): string {
  return `{tk:${accountId}}:outbox:${trailName}:data`;
}

/**
 * Lua shared by the append scripts: `append` adds one eventId to each destination's zset (pairs
 * zset, data in `dests`: every pair of a trail names the same data hash) and stores its JSON once
 * if any zset took it; `claimAndAppend` first claims the eventId and appends only if the claim is
 * new; `keepClaims` drops claims past history's retention and renews the set's expiry.
 */
export const CLAIM_LUA = `
local function append(dests, now, id, json)
  local added, stored = 0, nil
  for d = 1, #dests, 2 do
    if redis.call('ZADD', dests[d], 'NX', now, id) == 1 then
      added = added + 1
      if stored ~= dests[d + 1] then
        redis.call('HSET', dests[d + 1], id, json)
        stored = dests[d + 1]
      end
    end
  end
  return added
end
local function claimAndAppend(claims, dests, now, id, time, json)
  if redis.call('ZADD', claims, 'NX', time, id) == 0 then return 0 end
  append(dests, now, id, json)
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

/** The outbox keys of a trail's destinations (zset, data per destination), as the append scripts and the history job's take them. */
export function destinationKeys(trail: Trail): string[] {
  const data = outboxDataKey(trail.accountId, trail.name);
  return destinationsOf(trail).flatMap((d) => [outboxKey(trail.accountId, trail.name, d), data]);
}

/** KEYS: zset/data per destination. ARGV: now, then eventId, json per entry. Answers the zset additions. */
const APPEND = `${CLAIM_LUA}
local now = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV, 2 do added = added + append(KEYS, now, ARGV[i], ARGV[i + 1]) end
return added`;

/**
 * KEYS: the destination's zset, the shared data, the destination's data of earlier releases.
 * ARGV: limit. Answers eventId, arrival, JSON (false when missing) for the oldest `limit`.
 */
const PEEK = `
local flat = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #flat == 0 then return {} end
local ids = {}
for i = 1, #flat, 2 do ids[#ids + 1] = flat[i] end
local values = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i = 1, #ids do
  local json = values[i]
  if not json then json = redis.call('HGET', KEYS[3], ids[i]) end
  out[#out + 1] = ids[i]
  out[#out + 1] = flat[2 * i]
  out[#out + 1] = json
end
return out`;

/**
 * Lua `ack(keys, ids)`, for ACK and for scripts that acknowledge with other writes (deliver-oss's
 * finishFile). `keys`: ackKeys's — the destination's zset, the shared data, the destination's data
 * of earlier releases, then every other destination's zset. Removes `ids` from the destination and
 * drops the JSON no destination holds any more; answers how many JSONs were dropped.
 */
export const ACK_LUA = `
local function ack(keys, ids)
  for i = 1, #ids, 500 do redis.call('ZREM', keys[1], unpack(ids, i, math.min(i + 499, #ids))) end
  if redis.call('EXISTS', keys[3]) == 1 then
    for i = 1, #ids, 500 do redis.call('HDEL', keys[3], unpack(ids, i, math.min(i + 499, #ids))) end
  end
  local gone = {}
  for _, id in ipairs(ids) do
    local held = false
    for k = 4, #keys do
      if redis.call('ZSCORE', keys[k], id) then held = true; break end
    end
    if not held then gone[#gone + 1] = id end
  end
  for i = 1, #gone, 500 do redis.call('HDEL', keys[2], unpack(gone, i, math.min(i + 499, #gone))) end
  return #gone
end
`;

/** KEYS: ackKeys's. ARGV: eventIds. */
const ACK = `${ACK_LUA}
return ack(KEYS, ARGV)`;

const DESTINATIONS: readonly Destination[] = ['oss', 'logstore'];

/** The keys ACK_LUA's `ack` takes for acknowledging entries of one destination (all of the trail's hash tag). */
export function ackKeys(accountId: string, trailName: string, destination: Destination): string[] {
  const key = outboxKey(accountId, trailName, destination);
  const others = DESTINATIONS.filter((d) => d !== destination).map((d) => outboxKey(accountId, trailName, d));
  return [key, outboxDataKey(accountId, trailName), `${key}:data`, ...others];
}

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
      // keys and arguments as one array (ioredis flattens it), never spread: a backfill file's
      // entries (3 values each) as call arguments overflowed the stack
      const keysAndArgs = [...keys, String(Date.now()), String(HISTORY_RETENTION_MS), String(CLAIMS_TTL_MS)];
      for (const e of claimed) keysAndArgs.push(e.eventId, String(e.eventTimeMs), e.json);
      added += destinations.length * ((await this.redis.eval(CLAIMED_APPEND, keys.length, keysAndArgs)) as number);
    }
    if (plain.length > 0 && destinations.length > 0) {
      // one call for every destination: each JSON crosses once and is stored once
      const keys = destinationKeys(trail);
      const keysAndArgs = [...keys, String(Date.now())];
      for (const e of plain) keysAndArgs.push(e.eventId, e.json);
      added += (await this.redis.eval(APPEND, keys.length, keysAndArgs)) as number;
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
    return (await this.peekWithArrival(accountId, trailName, destination, limit)).map(({ eventId, json }) => ({ eventId, json }));
  }

  /** The oldest entries with their arrival time, without removing them (one round trip). */
  async peekWithArrival(accountId: string, trailName: string, destination: Destination, limit: number): Promise<{ eventId: string; json: string; arrivedAtMs: number }[]> {
    const key = outboxKey(accountId, trailName, destination);
    const flat = (await this.redis.eval(PEEK, 3, key, outboxDataKey(accountId, trailName), `${key}:data`, String(limit))) as (string | null)[];
    const out: { eventId: string; json: string; arrivedAtMs: number }[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      const json = flat[i + 2];
      if (typeof json === 'string') out.push({ eventId: flat[i] as string, json, arrivedAtMs: Number(flat[i + 1]) });
    }
    return out;
  }

  /** Removes delivered entries (their JSON goes once no other destination of the trail holds them). */
  async ack(accountId: string, trailName: string, destination: Destination, eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    const keys = ackKeys(accountId, trailName, destination);
    await this.redis.eval(ACK, keys.length, [...keys, ...eventIds]);
  }

  async size(accountId: string, trailName: string, destination: Destination): Promise<number> {
    return this.redis.zcard(outboxKey(accountId, trailName, destination));
  }
}
