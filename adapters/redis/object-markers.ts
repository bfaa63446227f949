/**
 * Which objects classify has begun and finished: `{tk:obj}:<bucket>/<key>@<eTag>` → begun|done.
 * Keyed by what the object is (key + ETag), so the same file is processed once, and a re-run
 * after a crash is told it is one.
 */
import type { RedisClient } from '../redis.ts';

export const OBJECT_MARKER_TTL_SECONDS = 30 * 24 * 60 * 60;

const BEGIN = `
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 'done' end
if v then return 'retry' end
redis.call('SET', KEYS[1], 'begun', 'EX', ARGV[1])
return 'new'`;

export class RedisObjectMarkers {
  constructor(private readonly redis: RedisClient) {}

  private key(objectId: string): string {
    return `{tk:obj}:${objectId}`;
  }

  async begin(objectId: string): Promise<'new' | 'retry' | 'done'> {
    return (await this.redis.eval(BEGIN, 1, this.key(objectId), OBJECT_MARKER_TTL_SECONDS)) as 'new' | 'retry' | 'done';
  }

  async finish(objectId: string): Promise<void> {
    await this.redis.set(this.key(objectId), 'done', 'EX', OBJECT_MARKER_TTL_SECONDS);
  }
}
