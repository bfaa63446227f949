/**
 * Redis clients: one server or a Redis Cluster (Tair), chosen by the URL (`redis-url.ts`), and
 * one connection per function instance, reused across invocations.
 *
 * Every store takes a `RedisClient` and keeps to what works on both: each command, MULTI,
 * pipeline and script touches the keys of one hash tag (one cluster slot); work over several
 * tags is several commands (auto-pipelining batches them per node). Key scans go through
 * `scanKeys`, which walks every master of a cluster.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.ts';

export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/**
 * A client for a TK_REDIS_URL: `Redis` for one server, `Cluster` for a cluster URL. `options`
 * are per-connection options (for a cluster, each node's); the few that are the cluster
 * client's own (`lazyConnect`, `enableOfflineQueue`) apply to it.
 *
 * No auto-pipelining on a cluster: ioredis routes an auto-pipelined call by its first key, and for
 * our Lua commands (defineCommand: `numKeys` first, then the keys) it takes the number for the key,
 * so a script could share a pipeline with commands of another node's slots and fail with "All keys in
 * the pipeline should belong to the same slots allocation group" (seen on the local three-master
 * cluster when concurrent classify invocations ran in one instance).
 */
export function createRedisClient(url: string, options: RedisOptions = {}, clusterOptions: ClusterOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  if (target.kind === 'standalone') return new Redis(target.url, options);
  const { enableAutoPipelining: _notOnACluster, lazyConnect, enableOfflineQueue, ...nodeOptions } = options;
  return new Cluster(target.nodes, {
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...clusterOptions,
    redisOptions: {
      ...nodeOptions,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
      ...clusterOptions.redisOptions,
    },
  });
}

const connections = new Map<string, RedisClient>();

export function redisFor(url: string): RedisClient {
  let redis = connections.get(url);
  if (!redis) {
    redis = createRedisClient(url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
    connections.set(url, redis);
  }
  return redis;
}

/** The servers that hold the keys: the one server, or every master of a cluster. */
export async function mastersOf(client: RedisClient): Promise<Redis[]> {
  if (!isCluster(client)) return [client];
  // a command waits for the slot map (and connects a lazy client), so nodes() is complete
  if (client.status !== 'ready') await client.ping();
  return client.nodes('master');
}

/**
 * Every key matching `pattern`, by SCAN on every master (a cluster's plain SCAN would read one
 * random node). For maintenance and tools: it reads the whole keyspace.
 */
export async function scanKeys(client: RedisClient, pattern: string, count = 500): Promise<string[]> {
  const found = new Set<string>();
  for (const node of await mastersOf(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found];
}
