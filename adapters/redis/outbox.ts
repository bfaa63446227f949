/**
 * Trail outboxes on Redis, one per trail and destination (`oss`, `logstore`):
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>        zset  eventId → arrival time (ms; ties by eventId)
 *   {tk:<trailAccount>}:outbox:<trail>:<dest>:data   hash  eventId → event JSON (as the trail receives it)
 * Appending an eventId already present changes nothing (ZADD NX / HSETNX in one script).
 */
import type { RedisClient } from '../redis.ts';
import type { Trail } from '../../shared/trails/model.ts';
import type { OutboxEntry } from '../../shared/pipeline/classify-batch.ts';

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
    for (const destination of destinationsOf(trail)) {
      const key = outboxKey(trail.accountId, trail.name, destination);
      const args = entries.flatMap((e) => [e.eventId, e.json]);
      added += (await this.redis.eval(APPEND, 2, key, `${key}:data`, String(Date.now()), ...args)) as number;
      await this.redis.sadd(outboxIndexKey(destination), `${trail.accountId}/${trail.name}`);
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
