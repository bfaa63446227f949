/**
 * TK_REDIS_URL: one Redis server or a Redis Cluster (Tair cluster instances in direct-connection
 * mode, Redis Cluster, ApsaraDB for Redis cluster edition).
 *
 *   redis://[user:password@]host[:port][/db]          one server (or a cluster proxy endpoint)
 *   rediss://…                                         the same over TLS
 *   redis-cluster://[user:password@]host:port[,host:port…]   a cluster; any reachable nodes
 *   rediss-cluster://…                                  the same over TLS
 *   redis://host1:port1,host2:port2…                    several nodes: a cluster as well
 *
 * The cluster client learns every other node from the ones listed (CLUSTER SLOTS), so one seed
 * is enough; list a few so that a failed seed does not stop a cold start. Pure parsing (no
 * ioredis import), so the environment schema can use it.
 */

export interface RedisNodeAddress {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: RedisNodeAddress[]; tls: boolean; username?: string; password?: string };

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

const URL_SHAPE = /^(rediss?)(-cluster)?:\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;
const DEFAULT_PORT = 6379;

function parseNode(text: string): RedisNodeAddress {
  // [v6]:port, host:port or host
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  // not echoed: a password with an unescaped '/' or '@' ends up here (`redis://:pa/ss@h` → `:pa`)
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RedisUrlError('invalid Redis node address: each node is host, host:port or [ipv6]:port (port 1–65535); escape a "/" or "@" in the user or password as %2F or %40');
  }
  return { host, port };
}

/** What a TK_REDIS_URL points at. Throws RedisUrlError (messages never carry the password). */
export function parseRedisUrl(url: string): RedisTarget {
  const match = URL_SHAPE.exec(url.trim());
  if (!match) throw new RedisUrlError('a Redis URL is redis://host:port, rediss://…, or redis-cluster://host:port[,host:port…]');
  const [, scheme, clusterSuffix, userinfo, hostList = '', pathPart = '', query = ''] = match;
  const nodes = hostList.split(',').map((h) => h.trim()).filter(Boolean).map(parseNode);
  if (nodes.length === 0) throw new RedisUrlError('the Redis URL names no host');
  if (!clusterSuffix && nodes.length === 1) return { kind: 'standalone', url: url.trim() };
  const db = pathPart.replace(/^\//, '');
  if (db !== '' && db !== '0') throw new RedisUrlError('a Redis Cluster has database 0 only; drop the /<db> part');
  if (query !== '') throw new RedisUrlError('options in a cluster URL are not supported');
  const target: RedisTarget = { kind: 'cluster', nodes, tls: scheme === 'rediss' };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text);
      } catch {
        throw new RedisUrlError('the Redis URL has a badly escaped user or password');
      }
    };
    // redis://:password@ (no user) is the usual requirepass form
    const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
    if (username) target.username = username;
    if (password) target.password = password;
  }
  return target;
}

/** The cluster URL of some nodes (what TK_REDIS_URL takes). */
export function clusterUrlOf(nodes: readonly RedisNodeAddress[], options: { tls?: boolean } = {}): string {
  const hosts = nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`);
  return `${options.tls ? 'rediss' : 'redis'}-cluster://${hosts.join(',')}`;
}
