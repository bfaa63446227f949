/**
 * History delivery job benchmark (docs/design.md §3.14): how fast a job moves an account's history
 * into a trail's outboxes, and what its claims cost in Redis.
 *
 *   npm run bench -- history-jobs [--events 100000] [--days 30] [--seed 1]
 *
 * Starts a private redis-server, loads N synthetic events of one account over `days` days through
 * `RedisHistoryStore.put`, creates a trail (All, both destinations) that started logging now and a
 * job, then calls the runner (`runHistoryJobs`, what history-jobs-cron runs) until the job is done.
 * The deliverers do not run: the outbox ceiling is not applied (outboxSize answers 0), so this is
 * the job's own rate — reading history pages, building entries, the advance script. Reports events
 * appended per second, the runs it took, and the claims set's memory per event (MEMORY USAGE).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { RedisHistoryJobs } from '../adapters/redis/history-jobs.ts';
import { claimsKey, outboxKey } from '../adapters/redis/outbox.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import type { HistoryRecord } from '../shared/history/history-store.ts';
import { jobWindow } from '../shared/history-jobs/history-job.ts';
import { HISTORY_JOB_PAGE_SIZE, runHistoryJobs } from '../shared/history-jobs/run-history-jobs.ts';
import { trailSchema } from '../shared/trails/model.ts';
import { recordOf, syntheticEvents } from './history-memory.ts';
import { printTable } from './lib/report.ts';

const ACCOUNT = '1234567890123456';
const DAY = 86_400_000;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const events = option('events', 100_000);
  const days = option('days', 30);
  const seed = option('seed', 1);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-history-jobs-'));
  const server = await startRedis({ port: await freePort(), dir, config: { ...HISTORY_SERVER_CONFIG, appendonly: 'no' } });
  const redis = new Redis(server.url, { enableAutoPipelining: true });
  try {
    const history = new RedisHistoryStore(redis);
    const now = Date.now();
    let batch: HistoryRecord[] = [];
    let held = 0;
    for (const raw of syntheticEvents({ accountId: ACCOUNT, count: events, endMs: now - 60_000, spanMs: days * DAY, seed })) {
      const record = recordOf(raw, ACCOUNT);
      if (record) batch.push(record);
      if (batch.length === 1000) {
        held += (await history.put(batch)).added;
        batch = [];
      }
    }
    if (batch.length > 0) held += (await history.put(batch)).added;

    const trail = trailSchema.parse({
      name: 'bench-trail',
      accountId: ACCOUNT,
      homeRegion: 'cn-hangzhou',
      eventRW: 'All',
      ossBucketName: 'bench-archive',
      slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper`,
      status: 'Enable',
      createdAtMs: now - 1000,
      updatedAtMs: now,
      startLoggingTimeMs: now,
    });
    const jobs = new RedisHistoryJobs(redis);
    const outcome = await jobs.create(ACCOUNT, { trailName: trail.name, homeRegion: trail.homeRegion, trailCreatedAtMs: trail.createdAtMs, createdMs: now, ...jobWindow(trail, now) }, undefined);
    if (!('created' in outcome)) throw new Error('no job created');
    const memoryBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);

    const started = process.hrtime.bigint();
    let runs = 0;
    let appended = 0;
    let pages = 0;
    for (;;) {
      const report = await runHistoryJobs({
        jobs: jobs.runPorts(Date.now),
        getTrail: async () => trail,
        history,
        outboxSize: async () => 0,
        wakeDeliverers: async () => undefined,
        now: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
      runs++;
      appended += report.appended;
      pages += report.pages;
      if (report.errors.length > 0) throw new Error(report.errors.join('; '));
      if (report.finished > 0 || report.accounts === 0) break;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const claims = Number((await redis.call('MEMORY', 'USAGE', claimsKey(ACCOUNT, trail.name), 'SAMPLES', '0')) ?? 0);
    const outbox = Number((await redis.call('MEMORY', 'USAGE', outboxKey(ACCOUNT, trail.name, 'logstore'), 'SAMPLES', '0')) ?? 0);
    const memoryAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    const job = await jobs.get(ACCOUNT, outcome.created.jobId);
    if (job?.delivered !== held || appended !== held) throw new Error(`the job appended ${appended} (${job?.delivered}) of ${held} events held`);

    printTable(
      ['events in history', 'window', 'page', 'runs', 'pages', 'appended', 'seconds', 'events/s', 'claims bytes/event', 'outbox zset bytes/event (one destination)', 'Redis memory growth bytes/event (claims + both outboxes with bodies)'],
      [[held, `${days} d`, HISTORY_JOB_PAGE_SIZE, runs, pages, appended, seconds.toFixed(1), Math.round(appended / seconds), (claims / held).toFixed(1), (outbox / held).toFixed(1), ((memoryAfter - memoryBefore) / held).toFixed(0)]],
    );
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
