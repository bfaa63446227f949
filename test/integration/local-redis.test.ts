/**
 * The local stack's Redis (startRedis: `npm start`, the tests, the benchmarks): what it persists
 * and when it compacts. Accepted events are durable before ingest answers because Redis appends
 * every write to its AOF (fsync every second); the AOF is rewritten only once it has grown by
 * AOF_REWRITE_PERCENTAGE and is at least AOF_REWRITE_MIN_SIZE, since each rewrite forks and
 * copies the whole data set (docs/performance.md, "Pipeline, second round": six rewrites in a 60,000-event run took 18–20 %
 * of a core at Redis's defaults).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { AOF_REWRITE_MIN_SIZE, AOF_REWRITE_PERCENTAGE, freePort, generateRedisPassword, startRedis, type StartedProcess } from '../../emulator/stack/processes.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-local-redis-'));
let server: StartedProcess | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the local Redis', () => {
  it('appends every write to its AOF, fsyncs every second, and rewrites the AOF only past the configured growth', async () => {
    server = await startRedis({ port: await freePort(), dir, password: generateRedisPassword() });
    const redis = new Redis(server.url);
    try {
      const config = async (name: string) => ((await redis.config('GET', name)) as string[])[1];
      expect(await config('appendonly')).toBe('yes');
      expect(await config('appendfsync')).toBe('everysec');
      expect(await config('save')).toBe('');
      expect(await config('auto-aof-rewrite-percentage')).toBe(String(AOF_REWRITE_PERCENTAGE));
      const [, amount, unit] = /^(\d+)(mb|gb)$/.exec(AOF_REWRITE_MIN_SIZE) ?? [];
      expect(await config('auto-aof-rewrite-min-size')).toBe(String(Number(amount) * 1024 ** (unit === 'gb' ? 3 : 2)));
      // a write is in the AOF once acknowledged (the file grows), not only in memory
      const before = Number(/^aof_current_size:(\d+)/m.exec(await redis.info('persistence'))?.[1]);
      await redis.set('tk-local-redis-probe', 'x'.repeat(1000));
      const after = Number(/^aof_current_size:(\d+)/m.exec(await redis.info('persistence'))?.[1]);
      expect(after - before).toBeGreaterThanOrEqual(1000);
    } finally {
      redis.disconnect();
    }
  });
});
