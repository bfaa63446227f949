/** One Redis connection per function instance, reused across invocations. */
import { Redis } from 'ioredis';

const connections = new Map<string, Redis>();

export function redisFor(url: string): Redis {
  let redis = connections.get(url);
  if (!redis) {
    redis = new Redis(url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
    connections.set(url, redis);
  }
  return redis;
}
