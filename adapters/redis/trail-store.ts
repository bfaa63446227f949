/** Trails on Redis: one hash per account, `{tk:<accountId>}:trails`, name → trail JSON. */
import type { RedisClient } from '../redis.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import type { TrailStore } from '../../shared/trails/trail-store.ts';

const CREATE_IF_ABSENT = `return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])`;
const REPLACE_IF_PRESENT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
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

  async update(trail: Trail): Promise<boolean> {
    const valid = trailSchema.parse(trail);
    return (await this.redis.eval(REPLACE_IF_PRESENT, 1, trailsKey(valid.accountId), valid.name, JSON.stringify(valid))) === 1;
  }

  async delete(accountId: string, name: string): Promise<boolean> {
    return (await this.redis.hdel(trailsKey(accountId), name)) === 1;
  }
}
