/**
 * The Redis deployments the store tests run against: `standalone` (one redis-server) and
 * `cluster` (three masters, `startRedisCluster`). Each `startRedisBackend` starts its own
 * servers on free ports in a temp dir, so tests pass while `npm start` runs.
 *
 *   const backends = useRedisBackends();            // starts them all at once, before the tests
 *   describe.each(REDIS_BACKENDS)('RedisThing (%s)', (name) => {
 *     beforeAll(() => { redis = backends.get(name).client(); });
 *     …
 *   });
 *
 * A cluster takes ~2 s to turn writable (redis-server's own delay, idle time): starting every
 * backend together hides it behind the standalone run.
 *
 * Both run in `npm test`; TK_TEST_REDIS=standalone or TK_TEST_REDIS=cluster runs one (while
 * working on a store).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisClient, mastersOf, type RedisClient } from '../../adapters/redis.ts';
import { freePort, generateRedisPassword, startRedis, startRedisCluster } from '../../emulator/stack/processes.ts';

export type RedisBackendName = 'standalone' | 'cluster';

const ALL: readonly RedisBackendName[] = ['standalone', 'cluster'];

function selected(): readonly RedisBackendName[] {
  const wanted = process.env['TK_TEST_REDIS'];
  if (!wanted || wanted === 'all') return ALL;
  if (wanted === 'standalone' || wanted === 'cluster') return [wanted];
  throw new Error(`TK_TEST_REDIS must be standalone, cluster or all, not ${JSON.stringify(wanted)}`);
}

/** The backends this run covers (both unless TK_TEST_REDIS picks one). */
export const REDIS_BACKENDS: readonly RedisBackendName[] = selected();

export interface RedisBackend {
  readonly name: RedisBackendName;
  /** What TK_REDIS_URL takes: redis://… or redis-cluster://…. */
  readonly url: string;
  /** Each master's redis://host:port (one for standalone). */
  readonly nodeUrls: readonly string[];
  /** A new client for the backend (a `Cluster` for the cluster); the caller disconnects it. */
  client(options?: RedisOptions): RedisClient;
  /** Stops the servers and removes their files. */
  stop(): Promise<void>;
}

export async function startRedisBackend(
  name: RedisBackendName,
  options: { config?: Readonly<Record<string, string>> } = {},
): Promise<RedisBackend> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `tk-redis-${name}-`));
  // every backend requires a password, as the local stack's Redis does (the URLs carry it)
  const config = { ...(options.config ? { config: options.config } : {}), password: generateRedisPassword() };
  try {
    if (name === 'cluster') {
      const cluster = await startRedisCluster({ dir, ...config });
      return {
        name,
        url: cluster.url,
        nodeUrls: cluster.urls,
        client: (o = {}) => createRedisClient(cluster.url, o),
        stop: async () => {
          await cluster.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    const server = await startRedis({ port: await freePort(), dir, ...config });
    return {
      name,
      url: server.url,
      nodeUrls: [server.url],
      client: (o = {}) => createRedisClient(server.url, o),
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** FLUSHALL on every master (a cluster client's own FLUSHALL reaches one random node). */
export async function flushAll(client: RedisClient): Promise<void> {
  await Promise.all((await mastersOf(client)).map((node) => node.flushall()));
}

/** Keys held, over every master. */
export async function dbSize(client: RedisClient): Promise<number> {
  const sizes = await Promise.all((await mastersOf(client)).map((node) => node.dbsize()));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * Starts every backend of REDIS_BACKENDS together in a `beforeAll` of the calling scope (call it
 * at a test file's top level) and stops them in its `afterAll`; `get(name)` inside the tests.
 */
export function useRedisBackends(options: { config?: Readonly<Record<string, string>> } = {}): { get(name: RedisBackendName): RedisBackend } {
  const started = new Map<RedisBackendName, RedisBackend>();
  beforeAll(async () => {
    const results = await Promise.allSettled(REDIS_BACKENDS.map(async (name) => started.set(name, await startRedisBackend(name, options))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  afterAll(async () => {
    await Promise.all([...started.values()].map((backend) => backend.stop()));
  });
  return {
    get(name) {
      const backend = started.get(name);
      if (!backend) throw new Error(`the ${name} Redis backend is not running`);
      return backend;
    },
  };
}
