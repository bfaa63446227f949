/**
 * LookupEvents through lookup-http (docs/design.md §5: p99 ≤ 25 ms and ≥ 1,000 calls/s with 1 M events
 * held), the way a user's SDK calls it: signed RPC GETs over HTTP to the emulator's HTTP
 * trigger, the function in its worker, history in a real redis-server.
 *
 *   npm run bench -- lookup [--events 1000000] [--queries 200] [--clients 16] [--client-threads 2] [--seconds 10] [--rate 1000]
 *
 * Loads N synthetic, realistic events (90 days, one account; the generator of
 * history-memory.ts) through RedisHistoryStore.put, then times pages of 50 for each condition
 * kind — rare and common values, wide (90 d) and narrow (1 h) ranges, the NextToken path — one
 * call at a time, then the calls/s of concurrent clients (mixed kinds, closed loop) in worker threads,
 * and last the latency at the goal's rate (`--rate`, open loop: calls timed from when they were due).
 * The clients share the 2 cores with the server they measure, so they are built to be as cheap
 * as wrk or autocannon (lib/lookup-client.ts: raw keep-alive connections, every call signed with
 * its own nonce, answers checked by status and framing and one in 32 parsed in full).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { callRpc, type Credentials } from '../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { HISTORY_RETENTION_MS, type HistoryRecord } from '../shared/history/history-store.ts';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { productProject, startTestStack } from '../test/helpers/stack.ts';
import { recordOf, rng, syntheticEvents } from './history-memory.ts';
import type { LookupClientData, LookupClientResult } from './lib/lookup-client.ts';
import { redisCpu } from './lib/process-cpu.ts';
import { percentile, printTable } from './lib/report.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const ACCOUNT = '1234567890123456';
/** Records per put while loading, and puts in flight. */
const LOAD_BATCH = 1000;
const LOAD_CONCURRENCY = 2;

/** CPU ms of each thread of this process (Linux /proc; empty elsewhere), by thread id. */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const threads = new Map<string, { name: string; ms: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 });
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return threads;
}

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '200' },
    clients: { type: 'string', default: '16' },
    'client-threads': { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    /** the open-loop phase's offered calls a second (0: skip it) */
    rate: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
  },
  allowPositionals: true,
});
const total = Number(values.events);
const queries = Number(values.queries);

// the functions as this checkout's source builds them (the stack itself does not build)
await buildFunctions(loadProject(productProject, { env: {}, accountId: 'ACCOUNT_ID', lenient: true }).functions);
const stack = await startTestStack({
  project: productProject,
  buckets: ['trailkeeper-staging', 'trailkeeper-archive'],
  env: { TK_LOG_LEVEL: 'error' },
  emulator: { timers: false, warm: true, maxInstancesPerFunction: 4 },
});
const redis = new Redis(stack.redisUrl, { enableAutoPipelining: true });
const lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;

try {
  const credentials: Credentials = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
  const history = new RedisHistoryStore(redis);
  const endMs = Date.now() - 60_000;

  // ---- load --------------------------------------------------------------------------
  const r = rng(Number(values.seed) + 1);
  const samples = { users: [] as string[], aks: [] as string[], ips: [] as string[], names: [] as string[], ids: [] as string[], eventNames: [] as string[] };
  let batch: HistoryRecord[] = [];
  let held = 0;
  const inFlight = new Set<Promise<void>>();
  const flush = (records: HistoryRecord[]) => {
    const p: Promise<void> = history.put(records).then(({ added }) => {
      held += added;
      inFlight.delete(p);
    });
    inFlight.add(p);
    return p;
  };
  const loadStarted = performance.now();
  for (const raw of syntheticEvents({ accountId: ACCOUNT, count: total, endMs, seed: Number(values.seed) })) {
    const record = recordOf(raw, ACCOUNT);
    if (!record) continue;
    if (r() < 0.002) {
      const a = record.attributes;
      samples.ids.push(record.eventId);
      for (const [list, value] of [
        [samples.users, a.User?.[0]],
        [samples.aks, a.EventAccessKeyId?.[0]],
        [samples.ips, a.SourceIpAddress?.[0]],
        [samples.eventNames, a.EventName?.[0]],
        [samples.names, a.ResourceName?.[0]],
      ] as const) {
        if (value) list.push(value);
      }
    }
    batch.push(record);
    if (batch.length === LOAD_BATCH) {
      void flush(batch);
      batch = [];
      if (inFlight.size >= LOAD_CONCURRENCY) await Promise.race(inFlight);
    }
  }
  if (batch.length > 0) void flush(batch);
  await Promise.all(inFlight);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  console.log(`held ${held.toLocaleString('en-US')} events over 90 days (loaded in ${loadSeconds.toFixed(0)} s, ${Math.round(held / loadSeconds).toLocaleString('en-US')} events/s with generation and classification)`);

  // ---- queries -----------------------------------------------------------------------
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const wide = () => ({ StartTime: iso(endMs - HISTORY_RETENTION_MS + 60_000), EndTime: iso(endMs) });
  const narrow = () => {
    const start = endMs - HISTORY_RETENTION_MS + 3_600_000 + Math.floor(r() * (HISTORY_RETENTION_MS - 2 * 3_600_000));
    return { StartTime: iso(start), EndTime: iso(start + 3_600_000) };
  };
  const when = { wide, narrow };
  type Kind = [label: string, range: keyof typeof when, key?: string, value?: () => string, direction?: 'FORWARD'];
  const kinds: Kind[] = [
    ['no condition, 90 d', 'wide'],
    ['no condition, 90 d, FORWARD', 'wide', undefined, undefined, 'FORWARD'],
    ['no condition, 1 h', 'narrow'],
    ['EventRW=Write, 90 d', 'wide', 'EventRW', () => 'Write'],
    ['EventType=ConsoleSignin, 90 d', 'wide', 'EventType', () => 'ConsoleSignin'],
    ['ServiceName=Ecs, 90 d', 'wide', 'ServiceName', () => 'Ecs'],
    ['EventName, 90 d', 'wide', 'EventName', () => pick(samples.eventNames)],
    ['EventName, 1 h', 'narrow', 'EventName', () => pick(samples.eventNames)],
    ['User, 90 d', 'wide', 'User', () => pick(samples.users)],
    ['EventAccessKeyId, 90 d', 'wide', 'EventAccessKeyId', () => pick(samples.aks)],
    ['SourceIpAddress, 90 d', 'wide', 'SourceIpAddress', () => pick(samples.ips)],
    ['ResourceType=ACS::ECS::Instance, 90 d', 'wide', 'ResourceType', () => 'ACS::ECS::Instance'],
    ['ResourceName, 90 d', 'wide', 'ResourceName', () => pick(samples.names)],
    ['EventId, 90 d', 'wide', 'EventId', () => pick(samples.ids)],
  ];
  const paramsOf = ([, range, key, value, direction]: Kind): Record<string, string> => ({
    Action: 'LookupEvents',
    MaxResults: '50',
    ...when[range](),
    ...(key && value ? { 'LookupAttribute.1.Key': key, 'LookupAttribute.1.Value': value() } : {}),
    ...(direction ? { Direction: direction } : {}),
  });
  const call = async (params: Record<string, string>): Promise<{ Events: unknown[]; NextToken?: string }> => {
    const res = await callRpc(lookupUrl, credentials, params);
    const body = (await res.json()) as { Events?: unknown[]; NextToken?: string; Code?: string; Message?: string };
    if (!res.ok || !body.Events) throw new Error(`LookupEvents answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
    return { Events: body.Events, ...(body.NextToken ? { NextToken: body.NextToken } : {}) };
  };
  // warm every instance and connection
  await Promise.all(Array.from({ length: 8 }, () => call(paramsOf(kinds[0] as Kind))));

  const rows: (string | number)[][] = [];
  const all: number[] = [];
  for (const kind of kinds) {
    const times: number[] = [];
    let events = 0;
    for (let i = 0; i < queries; i++) {
      const params = paramsOf(kind);
      const t0 = performance.now();
      const page = await call(params);
      times.push(performance.now() - t0);
      events += page.Events.length;
      // every other query follows its NextToken once (the cursor path)
      if (i % 2 === 1 && page.NextToken) {
        const t1 = performance.now();
        const next = await call({ ...params, NextToken: page.NextToken });
        times.push(performance.now() - t1);
        events += next.Events.length;
      }
    }
    all.push(...times);
    rows.push([kind[0], (events / times.length).toFixed(1), percentile(times, 50).toFixed(1), percentile(times, 99).toFixed(1)]);
  }
  rows.push(['**all kinds**', '', percentile(all, 50).toFixed(1), percentile(all, 99).toFixed(1)]);
  console.log(`\nLookupEvents through lookup-http, ${held.toLocaleString('en-US')} events held, ${queries} queries per kind (one at a time; p99 goal ≤ 25 ms)\n`);
  printTable(['query', 'events/page', 'p50 ms', 'p99 ms'], rows);

  // ---- throughput --------------------------------------------------------------------
  // The clients run in worker threads of their own (default 2 × 8 calls in flight), cycling
  // through pre-drawn queries of every kind; this process's main thread hosts the emulator.
  const clients = Number(values.clients);
  const threads = Math.max(1, Number(values['client-threads']));
  const seconds = Number(values.seconds);
  const drawnKinds = Array.from({ length: 4000 }, () => pick(kinds));
  const drawn = drawnKinds.map(paramsOf);
  type ClientResult = LookupClientResult;
  /** Client threads, each ready and waiting for the go; `rate`: open loop at that many calls a second in all. */
  const startClients = (rate?: number) =>
    Promise.all(
      Array.from({ length: threads }, (_, t) => {
        // a TypeScript worker entry goes through tsx's loader (Node 20 refuses a .ts entry itself)
        const entry = new URL('./lib/lookup-client.ts', import.meta.url).href;
        const worker = new Worker(`import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`, {
          eval: true,
          workerData: {
            url: lookupUrl,
            credentials,
            params: drawn,
            concurrency: Math.max(1, Math.round(clients / threads)),
            seconds,
            offset: t * 997,
            ...(rate !== undefined ? { ratePerSecond: rate / threads } : {}),
          } satisfies LookupClientData,
        });
        const done = new Promise<ClientResult>((resolve, reject) => {
          worker.on('message', (m: { type: 'ready' } | ({ type: 'done' } & ClientResult)) => {
            if (m.type === 'done') resolve(m);
          });
          worker.once('error', reject);
        });
        done.catch(() => undefined);
        return new Promise<{ worker: Worker; done: Promise<ClientResult> }>((resolve, reject) => {
          worker.once('message', () => resolve({ worker, done }));
          worker.once('error', reject);
        });
      }),
    );
  const workers = await startClients();
  // CPU of every thread of this process (the emulator, the function's instances, the clients) and
  // of Redis, from the go to the last client's end; the clients measure their own threads
  await redis.config('RESETSTAT');
  await redis.config('SET', 'latency-monitor-threshold', '5');
  await redis.call('LATENCY', 'RESET');
  /** Redis's CPU ms so far (bench/lib/process-cpu.ts gives seconds). */
  const redisCpuMs = async () => (await redisCpu(redis)) * 1000;
  const cpu0 = process.cpuUsage();
  const threads0 = threadCpu();
  const redis0 = await redisCpuMs();
  for (const { worker } of workers) worker.postMessage('go');
  const results = await Promise.all(workers.map((w) => w.done));
  const cpu1 = process.cpuUsage(cpu0);
  const threads1 = threadCpu();
  const redisMs = (await redisCpuMs()) - redis0;
  const commandStats = await redis.info('commandstats');
  const latencyEvents = (await redis.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  const forkUsec = /^latest_fork_usec:(\d+)/m.exec(await redis.info('stats'))?.[1];
  await Promise.all(workers.map((w) => w.worker.terminate()));
  const latencies = results.flatMap((r) => r.latencies);
  const callsPerSecond = results.reduce((sum, r) => sum + r.latencies.length / (r.elapsedMs / 1000), 0);
  const calls = latencies.length;
  const processMs = (cpu1.user + cpu1.system) / 1000;
  const clientMs = results.reduce((sum, r) => sum + r.cpuMs, 0);
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors > 0) throw new Error(`${errors} LookupEvents calls failed under load`);
  const parsed = results.reduce((n, r) => n + r.parsed, 0);
  const parsedEvents = results.reduce((n, r) => n + r.parsedEvents, 0);
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  // latency under load by kind: which calls make the tail
  const byKind = new Map<string, number[]>();
  for (const r of results) {
    r.latencies.forEach((ms, i) => {
      const label = (drawnKinds[r.paramIndexes[i] as number] as Kind)[0];
      const list = byKind.get(label);
      if (list) list.push(ms);
      else byKind.set(label, [ms]);
    });
  }
  console.log(
    `\nthroughput: ${Math.round(callsPerSecond).toLocaleString('en-US')} calls/s, ${clients} calls in flight from ${threads} client threads, mixed kinds, ${seconds} s ` +
      `(latency under load p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; goal ≥ 1,000 calls/s)`,
  );
  console.log(`\nlatency under load by kind (${clients} in flight)\n`);
  printTable(
    ['query', 'calls', 'p50 ms', 'p99 ms', 'max ms'],
    kinds.map(([label]) => {
      const list = byKind.get(label) ?? [];
      return [label, list.length, percentile(list, 50).toFixed(1), percentile(list, 99).toFixed(1), Math.max(0, ...list).toFixed(1)];
    }),
  );
  console.log(
    `answers checked: every one by status 200 and JSON framing ({"RequestId":…,"Events":[…]}), ${Math.round(bytes / calls).toLocaleString('en-US')} bytes on average; ` +
      `1 in ${results[0]?.parseEvery ?? '?'} parsed in full: ${parsed} answers, ${(parsedEvents / Math.max(1, parsed)).toFixed(1)} events each`,
  );
  // CPU a call: what bounds calls/s on these 2 shared cores (2 cores = 2 ms of CPU a call at 1,000 calls/s)
  console.log(
    `CPU a call: ${((processMs - clientMs) / calls).toFixed(2)} ms emulator + lookup-http (all threads but the clients), ` +
      `${(clientMs / calls).toFixed(2)} ms clients, ${(redisMs / calls).toFixed(2)} ms Redis; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
  const busiest = [...threads1]
    .map(([tid, { name, ms }]) => ({ tid, name, ms: ms - (threads0.get(tid)?.ms ?? 0) }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 6);
  console.log(`busiest threads, CPU a call: ${busiest.map((t) => `${t.name} ${t.tid} ${(t.ms / calls).toFixed(2)} ms`).join(', ')} (the main thread's id is the process id, ${process.pid})`);
  const perCall = [...commandStats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)]
    .map(([, name, n, usec]) => ({ name: name as string, n: Number(n), usec: Number(usec) }))
    .filter((c) => c.name !== 'info' && c.name !== 'config')
    .sort((a, b) => b.usec - a.usec);
  console.log(`Redis stalls of 5 ms or more while measured (LATENCY LATEST: event, latest ms, max ms): ${latencyEvents.map(([event, , latest, max]) => `${event} ${latest}/${max}`).join(', ') || 'none'}; latest fork ${forkUsec ?? '?'} µs`);
  console.log(`Redis commands a call: ${perCall.map((c) => `${c.name} ${(c.n / calls).toFixed(2)} × ${(c.usec / Math.max(1, c.n)).toFixed(1)} µs`).join(', ')}`);

  // ---- latency at the goal's rate -------------------------------------------------------
  // The closed loop above measures capacity: every call waits behind 15 others, so its latency is
  // the queue's. Here calls are due at a steady `--rate` (the goal's 1,000 calls/s), open loop,
  // up to `--clients` in flight, each timed from when it was due.
  const rate = Number(values.rate);
  if (rate > 0) {
    const open = await startClients(rate);
    const openCpu0 = process.cpuUsage();
    const openRedis0 = await redisCpuMs();
    for (const { worker } of open) worker.postMessage('go');
    const openResults = await Promise.all(open.map((w) => w.done));
    const openCpu = process.cpuUsage(openCpu0);
    const openRedisMs = (await redisCpuMs()) - openRedis0;
    await Promise.all(open.map((w) => w.worker.terminate()));
    const openErrors = openResults.reduce((n, r) => n + r.errors, 0);
    if (openErrors > 0) throw new Error(`${openErrors} LookupEvents calls failed at ${rate} calls/s`);
    const openLatencies = openResults.flatMap((r) => r.latencies);
    const achieved = openResults.reduce((sum, r) => sum + r.latencies.length / (r.elapsedMs / 1000), 0);
    const worstKind = kinds
      .map(([label]) => {
        const list: number[] = [];
        for (const r of openResults) r.latencies.forEach((ms, i) => (drawnKinds[r.paramIndexes[i] as number] as Kind)[0] === label && list.push(ms));
        return { label, p99: percentile(list, 99) };
      })
      .sort((a, b) => b.p99 - a.p99)[0];
    console.log(
      `\nat the goal's rate: ${rate.toLocaleString('en-US')} calls/s offered open loop (up to ${clients} in flight, each call timed from when it was due), ` +
        `${Math.round(achieved).toLocaleString('en-US')} answered a second over ${seconds} s: p50 ${percentile(openLatencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(openLatencies, 99).toFixed(1)} ms, max ${Math.max(...openLatencies).toFixed(1)} ms (${openLatencies.length.toLocaleString('en-US')} calls; worst kind p99 ${worstKind?.p99.toFixed(1)} ms, ${worstKind?.label}); ` +
        `the stack's CPU ${((((openCpu.user + openCpu.system) / 1000 - openResults.reduce((n, r) => n + r.cpuMs, 0)) / (seconds * 1000)) * 100).toFixed(0)} % of a core + Redis ${((openRedisMs / (seconds * 1000)) * 100).toFixed(0)} %; ` +
        `goal p99 ≤ 25 ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    );
  }
} finally {
  redis.disconnect();
  await stack.stop();
}
