/**
 * Advanced query over history (docs/design.md §3.13, §5: a selective query over 7 days of a
 * 1 M-event history p99 ≤ 300 ms; an aggregation over 1 day ≤ 2 s).
 *
 *   npm run bench -- query [--events 1000000] [--queries 100] [--seed 1]
 *
 * Starts a private redis-server, loads N synthetic events of one account spread over 90 days
 * through `RedisHistoryStore.put` (bench/history-memory.ts's generator and record path), then
 * times `runAdvancedQuery` in this process (the use case lookup-http serves, without the HTTP hop):
 *   - selective searches over the last 7 days, first page of 20, per shape (values drawn at random
 *     from the loaded events);
 *   - aggregations over 1 day (a random day) and the worked query over 90 days.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import type { HistoryRecord } from '../shared/history/history-store.ts';
import { QueryTooLargeError } from '../shared/query/evaluate.ts';
import { runAdvancedQuery, type RunQueryPorts } from '../shared/query/run-query.ts';
import { recordOf, rng, syntheticEvents } from './history-memory.ts';

const DAY = 86_400_000;

interface Options {
  events: number;
  queries: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { events: 1_000_000, queries: 100, seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if ((name === 'events' || name === 'queries' || name === 'seed') && Number.isFinite(value)) options[name] = value;
    else throw new Error(`usage: npm run bench -- query [--events N] [--queries N] [--seed N] (bad ${argv[i]})`);
  }
  return options;
}

const utc = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const accountId = '1234567890123456';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'query-bench-'));
  const server = await startRedis({ port: await freePort(), dir, config: { ...HISTORY_SERVER_CONFIG, appendonly: 'no' } });
  const redis = new Redis(server.url, { enableAutoPipelining: true });
  try {
    const history = new RedisHistoryStore(redis);
    const endMs = Date.now() - 60_000;
    const r = rng(options.seed + 7);
    console.log(`loading ${options.events.toLocaleString()} synthetic events over 90 days into one account …`);
    const t0 = performance.now();
    let batch: HistoryRecord[] = [];
    let pending: Promise<unknown> = Promise.resolve();
    const recent: { ak?: string; user?: string; name?: string }[] = [];
    for (const raw of syntheticEvents({ accountId, count: options.events, endMs, seed: options.seed })) {
      const record = recordOf(raw, accountId);
      if (!record) continue;
      if (record.eventTimeMs > endMs - 7 * DAY && r() < 0.01) {
        recent.push({ ak: record.attributes.EventAccessKeyId?.[0], user: record.attributes.User?.[0], name: record.attributes.EventName?.[0] });
      }
      batch.push(record);
      if (batch.length === 1000) {
        const full = batch;
        batch = [];
        // one put in flight while the next batch is built
        await pending;
        pending = history.put(full);
      }
    }
    await pending;
    await history.put(batch);
    console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);

    const key = Buffer.alloc(32, 1);
    const ports: RunQueryPorts = { history, accountsVisibleTo: async (a) => [a], tokenKey: async () => key, now: () => Date.now() };
    const caller = { accountId };
    const last7 = { StartTime: utc(endMs - 7 * DAY), EndTime: utc(endMs) };
    const pickOf = <T>(items: T[]): T => items[Math.floor(r() * items.length)] as T;
    const valued = <K extends 'ak' | 'user' | 'name'>(k: K) => recent.map((x) => x[k]).filter((v): v is string => typeof v === 'string');
    const aks = valued('ak');
    const users = valued('user');
    const names = valued('name');

    const shapes: [string, () => string][] = [
      ['AccessKey + any error, 7 d', () => `event.userIdentity.accessKeyId: ${pickOf(aks)} and event.errorCode: *`],
      ['AccessKey + not from 10.*, 7 d', () => `event.userIdentity.accessKeyId: ${pickOf(aks)} and not event.sourceIpAddress: 10.*`],
      ['user + writes, 7 d', () => `event.userIdentity.userName: "${pickOf(users)}" and event.eventRW: Write`],
      ['event name + region wildcard, 7 d', () => `event.eventName: ${pickOf(names)} and event.acsRegion: cn-*`],
    ];
    console.log('| query shape (first page of 20, in process, 1 caller) | p50 | p99 | max | scanned (median) |');
    console.log('|---|---|---|---|---|');
    const all: number[] = [];
    for (const [label, make] of shapes) {
      const times: number[] = [];
      const scanned: number[] = [];
      for (let i = 0; i < options.queries; i += 1) {
        const t = performance.now();
        const answer = await runAdvancedQuery({ QuerySql: make(), ...last7 }, caller, ports);
        times.push(performance.now() - t);
        scanned.push(Number(answer.ScannedEvents));
      }
      times.sort((a, b) => a - b);
      scanned.sort((a, b) => a - b);
      all.push(...times);
      console.log(`| ${label} | ${ms(pct(times, 50))} | ${ms(pct(times, 99))} | ${ms(times.at(-1) ?? NaN)} | ${pct(scanned, 50)} |`);
    }
    all.sort((a, b) => a - b);
    console.log(`| all selective shapes (${all.length} queries) | ${ms(pct(all, 50))} | ${ms(pct(all, 99))} | ${ms(all.at(-1) ?? NaN)} | |\n`);

    const aggregations: [string, string, number][] = [
      ['1 d: top events (group by service, name; order by count)', '* | select event.serviceName, event.eventName, count(*) as n group by 1, 2 order by n desc limit 20', DAY],
      ["1 d: calls per hour (date_trunc('hour'))", "* | select date_trunc('hour', event.eventTime) as h, count(*) as n, count(distinct event.sourceIpAddress) as ips group by h order by h", DAY],
      ['90 d: the issue’s worked query', 'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc', 90 * DAY - 120_000],
      ['90 d: errors per day', "event.errorCode: * | select date_trunc('day', event.eventTime) as d, count(*) as n group by d order by d", 90 * DAY - 120_000],
    ];
    console.log('| aggregation (in process) | runs | median | max | events read | rows |');
    console.log('|---|---|---|---|---|---|');
    for (const [label, sql, span] of aggregations) {
      const runs = span <= DAY ? 5 : 2;
      const times: number[] = [];
      let scanned = 0;
      let rows = 0;
      for (let i = 0; i < runs; i += 1) {
        const end = span <= DAY ? endMs - Math.floor(r() * 80) * DAY : endMs;
        const t = performance.now();
        try {
          const answer = await runAdvancedQuery({ QuerySql: sql, StartTime: utc(end - span), EndTime: utc(end) }, caller, ports);
          scanned = Number(answer.ScannedEvents);
          rows = (answer.Rows as unknown[]).length;
        } catch (error) {
          // over its time budget (SELECT_TIME_BUDGET_MS) a select is refused: report it as such
          if (!(error instanceof QueryTooLargeError)) throw error;
          console.log(`  (${label}: QueryTooLarge after ${ms(performance.now() - t)}: ${error.message.slice(0, 80)}…)`);
          rows = -1;
        }
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(`| ${label} | ${runs} | ${ms(pct(times, 50))} | ${ms(times.at(-1) ?? NaN)} | ${scanned.toLocaleString()} | ${rows < 0 ? 'QueryTooLarge' : rows} |`);
    }
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
