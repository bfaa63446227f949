/**
 * Pipeline benchmarks (docs/design.md §5), on a private stack (real Redis, real S3 server, emulator on
 * the product's s.yaml), all figures from one run:
 *   ingest      sustained signed ingest through the emulator's HTTP trigger (events/s acknowledged
 *               durable), and end to end until every event is in history;
 *   floor       the same bodies parsed + one pipelined Redis write per event (the physical floor);
 *   visible     ingest → event found by LookupEvents through lookup-http, p50/p99 (single-event
 *               batches, the stack otherwise idle);
 *   under load  the same while the stack sustains a fraction (default half) of the end-to-end rate
 *               the ingest part just measured: batches of the live-stream mix sent open loop at that
 *               rate for --load-seconds, a single-event probe every --probe-interval ms polled through
 *               lookup-http, each batch's last event watched in history, and every background event
 *               checked in history at the end (bench/lib/visible-load-client.ts, in a worker thread);
 *   archive     ingest → archive file (with the flush timer armed), a few samples.
 * Run: `npm run bench -- pipeline [--events 100000] [--concurrency 8] [--visible-samples 200]
 *   [--archive-samples 2] [--load-seconds 60] [--load-fraction 0.5] [--load-batch 1000]
 *   [--load-rate N] [--probe-interval 500] [--probe-poll 20] [--profile]` (`--load-seconds 0` skips the
 *   part under load; `--load-rate` offers a fixed events/s instead of the fraction, to compare runs).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { callRpc, postEvents } from '../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { S3ArchiveReader } from '../adapters/archive/s3-archive.ts';
import { RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { RedisLogstore } from '../adapters/redis/logstore.ts';
import { RedisTrailStore } from '../adapters/redis/trail-store.ts';
import { RedisOutbox } from '../adapters/redis/outbox.ts';
import { RedisSummaryQueue } from '../adapters/redis/summary-queue.ts';
import { RedisSummaryStore } from '../adapters/redis/summary-store.ts';
import { RedisInsightsStore } from '../adapters/redis/insights-store.ts';
import { RedisAccessKeyAudit } from '../adapters/redis/accesskey-audit.ts';
import { trailSchema } from '../shared/trails/model.ts';
import { liveStreamBodies } from './lib/live-stream.ts';
import { sampleEvents } from '../scripts/lib/sample-events.ts';
import { productProject, startTestStack, s3ClientFor } from '../test/helpers/stack.ts';
import { percentile, printTable } from './lib/report.ts';
import { memoryByFamily, usedMemory } from './lib/memory-families.ts';
import { pidCpu, redisChildCpu, redisCpu, threadCpu, waitQuiet } from './lib/process-cpu.ts';
import type { VisibleLoadData, VisibleLoadResult } from './lib/visible-load-client.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const ACCOUNT = '1234567890123456';
const BATCH = 1000;
/** The simulated account's event rate (the ingest goal), which spreads the bench's event times. */
const STREAM_RATE = 20_000;
/** How long before the run the bench trail started logging: before every event time the run sends. */
const BENCH_TRAIL_STARTED_MS_AGO = 3_600_000;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '8' },
    'visible-samples': { type: 'string', default: '200' },
    'archive-samples': { type: 'string', default: '2' },
    /** the part under load: how long, at what fraction of the measured end-to-end rate, in batches of */
    'load-seconds': { type: 'string', default: '60' },
    'load-fraction': { type: 'string', default: '0.5' },
    /** a fixed background rate (events/s) instead of the fraction: the same load for runs compared */
    'load-rate': { type: 'string' },
    'load-batch': { type: 'string', default: String(BATCH) },
    /** a probe event every this many ms, polled through lookup-http every --probe-poll ms */
    'probe-interval': { type: 'string', default: '500' },
    'probe-poll': { type: 'string', default: '20' },
    /** print where Redis spent its time during the sustained run (INFO commandstats, CPU) */
    profile: { type: 'boolean', default: false },
    /** print, every second of the sustained run, what is acknowledged, in history and still queued */
    trace: { type: 'boolean', default: false },
    /** the emulator's most instances of a function (FC scales out to as many as requests need) */
    instances: { type: 'string', default: '4' },
    /**
     * events sent through the whole pipeline (and waited for) before the measured run, so every
     * instance's code is compiled and optimised as in a running deployment (the instances a run
     * starts are new isolates: each JIT-compiles the functions again)
     */
    'warmup-events': { type: 'string', default: '20000' },
  },
  allowPositionals: true,
});
const total = Number(values.events);
const concurrency = Number(values.concurrency);

// The functions run from dist/: bundle the tree as it is, as the tests' global setup does (a stale
// dist would measure older code)
await buildFunctions(loadProject(productProject, { env: {}, accountId: 'ACCOUNT_ID', lenient: true }).functions);

const stack = await startTestStack({
  project: productProject,
  buckets: ['trailkeeper-staging', 'trailkeeper-archive'],
  env: { TK_LOG_LEVEL: 'error' },
  emulator: { timers: true, warm: true, maxInstancesPerFunction: Number(values.instances) },
});
const redis = new Redis(stack.redisUrl);
const history = new RedisHistoryStore(redis);
const key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
const now = Date.now();
await new RedisTrailStore(redis).create(
  trailSchema.parse({
    name: 'bench-trail',
    accountId: ACCOUNT,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    ossBucketName: 'trailkeeper-archive',
    slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper-bench`,
    status: 'Enable',
    createdAtMs: now,
    updatedAtMs: now,
    // before the live stream's event times (it ended a minute ago and reaches back total / rate
    // seconds more): the sustained run's events are delivered too — a trail skips events dated
    // before its StartLoggingTime
    startLoggingTimeMs: now - BENCH_TRAIL_STARTED_MS_AGO,
  }),
);
const ingestUrl = stack.emulator.httpUrls['ingest'] as string;
const rows: (string | number)[][] = [];

try {
  // Bodies prepared up front so the timed loop only sends.
  const { bodies, lastIds } = liveStreamBodies(ACCOUNT, total, BATCH, STREAM_RATE);

  let progress = 0; // events acknowledged so far by the current send (the trace's column)
  const send = async (list: readonly string[]): Promise<number> => {
    progress = 0;
    let next = 0;
    let taken = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < list.length) {
          const body = list[next++] as string;
          const res = await postEvents(ingestUrl, key, body);
          if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
          const n = ((await res.json()) as { accepted: number }).accepted;
          taken += n;
          progress += n;
        }
      }),
    );
    return taken;
  };
  const inHistory = async (ids: readonly string[]) => {
    for (const id of ids) {
      while (!(await history.has(ACCOUNT, [id]))[0]) await new Promise((r) => setTimeout(r, 20));
    }
  };
  // Everything done: the summaries (summarize-cron, fired now rather than on its minute) and both
  // deliveries (every event out of the trail's archive and logstore outboxes, the archive's last
  // partial file written by its flush timer as it would be).
  const outbox = new RedisOutbox(redis);
  const summaries = new RedisSummaryQueue(redis);
  const allDelivered = async () => {
    await stack.emulator.fireTimer('summarize-cron', 'every-minute');
    let lastLeft = '';
    let stillSince = performance.now();
    for (;;) {
      const left = [await outbox.size(ACCOUNT, 'bench-trail', 'oss'), await outbox.size(ACCOUNT, 'bench-trail', 'logstore'), await summaries.size(ACCOUNT)];
      if (left.every((n) => n === 0)) break;
      // the archive's last partial file waits for deliver-oss's flush timer (minutes apart): fired
      // once the outboxes stop moving, as the pass it schedules would
      if (left.join() !== lastLeft) [lastLeft, stillSince] = [left.join(), performance.now()];
      else if (performance.now() - stillSince > 500 && (left[0] as number) > 0) {
        await stack.emulator.fireTimer('deliver-oss', 'flush');
        stillSince = performance.now();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  // Warm-up: events through every function, at the measured run's concurrency, until all are
  // delivered (at least one batch, so every function has run once).
  const warmup = liveStreamBodies(ACCOUNT, Math.max(BATCH, Number(values['warmup-events'])), BATCH, STREAM_RATE);
  await send(warmup.bodies);
  await inHistory(warmup.lastIds);
  await allDelivered();
  await new Promise((r) => setTimeout(r, 500));
  const memoryBefore = await usedMemory(redis);
  if (values.profile) {
    await redis.config('RESETSTAT');
    // every command into the slow log, to split script time by script
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.config('SET', 'slowlog-max-len', '1000000');
    await redis.slowlog('RESET');
  }
  const cpuBefore = await redisCpu(redis);
  const childCpuBefore = await redisChildCpu(redis);
  const processCpuBefore = process.cpuUsage();
  const threadsBefore = threadCpu();
  const s3CpuBefore = pidCpu(stack.s3.pid);
  const loadBefore = loadavg()[0] as number;

  // (a) sustained ingest through the HTTP trigger.
  let accepted = 0;
  const started = performance.now();
  const timeline = values.trace ? traceTimeline(() => progress, started) : undefined;
  const ingesting = send(bodies).then((n) => (accepted = n));
  const ackSeconds = await ingesting.then(() => (performance.now() - started) / 1000);
  const ackedAt = performance.now();
  // End to end: until the last event of every batch is in history.
  await inHistory(lastIds);
  const e2eSeconds = (performance.now() - started) / 1000;
  await allDelivered();
  const allDoneSeconds = (performance.now() - started) / 1000;
  if (timeline) printTable(['s', 'acknowledged', 'in history', 'archive outbox', 'logstore outbox', 'summary queue', 'Redis CPU %', 'async invocations waiting+running: classify / deliver-oss / deliver-logstore'], await timeline.stop());
  const processCpu = process.cpuUsage(processCpuBefore);
  const threads = [...threadCpu()].map(([name, cpu]) => [name, cpu - (threadsBefore.get(name) ?? 0)] as const).filter(([, cpu]) => cpu > 0.05).sort((a, b) => b[1] - a[1]);
  const sustainedRedisCpu = (await redisCpu(redis)) - cpuBefore;
  const sustainedS3Cpu = pidCpu(stack.s3.pid) - s3CpuBefore;
  const childCpuAfter = await redisChildCpu(redis);
  // a fork still running (an AOF rewrite) is counted once reaped: wait for it, briefly
  for (let i = 0; i < 40 && /^aof_rewrite_in_progress:1/m.test(await redis.info('persistence')); i++) await new Promise((r) => setTimeout(r, 250));
  const sustainedChild = { seconds: (await redisChildCpu(redis)).seconds - childCpuBefore.seconds, aofRewrites: childCpuAfter.aofRewrites - childCpuBefore.aofRewrites };
  if (values.profile) await printRedisProfile(redis, e2eSeconds, (ackedAt - started) / 1000, cpuBefore);
  const ingestRate = accepted / ackSeconds;
  const e2eRate = accepted / e2eSeconds;
  const allDoneRate = accepted / allDoneSeconds;

  // Floor: parse the same bodies and write each event with one pipelined Redis command.
  const floorStarted = performance.now();
  for (const body of bodies) {
    const events = JSON.parse(body) as { eventId: string }[];
    const pipeline = redis.pipeline();
    for (const e of events) pipeline.set(`floor:{${ACCOUNT}}:${e.eventId}`, JSON.stringify(e));
    await pipeline.exec();
  }
  const floorRate = accepted / ((performance.now() - floorStarted) / 1000);
  // the floor's keys are not the product's: gone before memory is measured
  for (let cursor = '0'; ; ) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'floor:*', 'COUNT', 5000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  rows.push(['sustained ingest (acknowledged durable)', `${Math.round(ingestRate).toLocaleString('en-US')} events/s`, '≥ 20,000 events/s']);
  rows.push(['sustained ingest → all in history', `${Math.round(e2eRate).toLocaleString('en-US')} events/s`, '']);
  rows.push(['sustained ingest → all in history, summaries and both deliveries (end to end)', `${Math.round(allDoneRate).toLocaleString('en-US')} events/s (${allDoneSeconds.toFixed(1)} s)`, '']);
  // what the stack got of the shared cores meanwhile (compare with the part under load's row)
  rows.push([
    '… CPU over the sustained run (this process: emulator, functions, client; Redis; the S3 server; Redis\'s forks)',
    `${(((processCpu.user + processCpu.system) / 1e6 / allDoneSeconds) * 100).toFixed(0)} % + ${((sustainedRedisCpu / allDoneSeconds) * 100).toFixed(0)} % + ${((sustainedS3Cpu / allDoneSeconds) * 100).toFixed(0)} % of a core over ${allDoneSeconds.toFixed(0)} s; Redis's forks besides (${sustainedChild.aofRewrites} AOF rewrites) ${((sustainedChild.seconds / allDoneSeconds) * 100).toFixed(0)} %; load average ${loadBefore.toFixed(1)} → ${(loadavg()[0] as number).toFixed(1)}`,
    '',
  ]);
  rows.push([
    '… this process by thread, µs an event (main: the emulator and the load client; workers: the functions; V8 and libuv helpers)',
    threads.map(([name, cpu]) => `${name} ${((cpu / accepted) * 1e6).toFixed(0)}`).join(', '),
    '',
  ]);
  rows.push(['bare floor (parse + pipelined Redis writes)', `${Math.round(floorRate).toLocaleString('en-US')} events/s`, '']);
  rows.push(['pipeline / floor (end to end: history, summaries, both deliveries)', `${(allDoneRate / floorRate).toFixed(2)} (all in history alone: ${(e2eRate / floorRate).toFixed(2)})`, '≥ 0.5']);

  // (b) ingest → visible in LookupEvents (signed calls to lookup-http, as a user polls), one
  // event per request, one at a time.
  const lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  const visible = async (id: string) => {
    const res = await callRpc(lookupUrl, key, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': id });
    const body = (await res.json()) as { Events?: unknown[]; Code?: string };
    if (!res.ok) throw new Error(`LookupEvents answered ${res.status} ${body.Code}`);
    return (body.Events?.length ?? 0) > 0;
  };
  const latencies: number[] = [];
  for (let i = 0; i < Number(values['visible-samples']); i++) {
    const [event] = sampleEvents(ACCOUNT, 1);
    const id = (event as { eventId: string }).eventId;
    const t0 = performance.now();
    await postEvents(ingestUrl, key, JSON.stringify([event]));
    while (!(await visible(id))) await new Promise((r) => setTimeout(r, 2));
    latencies.push(performance.now() - t0);
  }
  rows.push(['ingest → visible in LookupEvents', `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`, 'p99 ≤ 1 s']);

  // ingest → entry in the trail's logstore (classify wakes deliver-logstore).
  const logstore = new RedisLogstore(redis);
  const toLogstore: number[] = [];
  for (let i = 0; i < Math.min(50, Number(values['visible-samples'])); i++) {
    const [event] = sampleEvents(ACCOUNT, 1);
    const id = (event as { eventId: string }).eventId;
    const t0 = performance.now();
    await postEvents(ingestUrl, key, JSON.stringify([event]));
    const from = Math.floor(Date.now() / 1000) - 120;
    for (;;) {
      const page = await logstore.getLogs({ accountId: ACCOUNT, trailName: 'bench-trail', from, to: from + 240, reverse: true, line: 20 });
      if (page.logs.some((l) => l.eventId === id)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    toLogstore.push(performance.now() - t0);
  }
  rows.push(['ingest → logstore entry', `p50 ${percentile(toLogstore, 50).toFixed(0)} ms, p99 ${percentile(toLogstore, 99).toFixed(0)} ms`, 'within seconds']);

  // (c) ingest → visible in LookupEvents while the stack sustains a fraction of the end-to-end rate
  let loadEvents = 0;
  if (Number(values['load-seconds']) > 0) {
    const result = await visibleUnderLoad(allDoneRate, lookupUrl);
    loadEvents = result.accepted + result.probeAckMs.length;
  }

  // (e) ingest → archive file (the flush timer is armed, as in production).
  const s3 = s3ClientFor(stack);
  const archive = new S3ArchiveReader(s3, 'trailkeeper-archive');
  const countFiles = async () => (await archive.list('AliyunLogs/Actiontrail/')).length;

  // Let the bulk load drain into files first.
  await stack.emulator.fireTimer('deliver-oss', 'flush');
  await new Promise((r) => setTimeout(r, 5_000));
  const archiveLatency: number[] = [];
  for (let i = 0; i < Number(values['archive-samples']); i++) {
    const before = await countFiles();
    const t0 = performance.now();
    await postEvents(ingestUrl, key, JSON.stringify(sampleEvents(ACCOUNT, 1)));
    while ((await countFiles()) === before) await new Promise((r) => setTimeout(r, 200));
    archiveLatency.push(performance.now() - t0);
  }
  rows.push(['ingest → archive file', archiveLatency.length ? `max ${(Math.max(...archiveLatency) / 1000).toFixed(1)} s over ${archiveLatency.length} samples` : 'not sampled', '≤ 60 s']);

  // (f) Redis memory per event held, everything on (history, summaries, Insights counters, the
  // AccessKey audit, ingest claims, delivery state), once both deliveries and the summaries are done
  await stack.emulator.fireTimer('summarize-cron', 'every-minute').catch(() => undefined);
  await stack.emulator.fireTimer('deliver-oss', 'flush');
  await new Promise((r) => setTimeout(r, 5_000));
  const held = accepted + Number(values['visible-samples']) + Math.min(50, Number(values['visible-samples'])) + loadEvents + archiveLatency.length;
  const memoryAfter = await usedMemory(redis);
  const families = await memoryByFamily(redis);
  const familyTotal = [...families.values()].reduce((s, f) => s + f.bytes, 0);
  // the local logstore (Redis streams standing in for Log Service, which holds the delivered
  // events in production) is not the product's Redis: counted apart
  const logstoreBytes = families.get('logstore')?.bytes ?? 0;
  rows.push([
    "Redis memory per event held, everything on (used_memory delta / events, the local logstore's streams left out)",
    `${((memoryAfter - memoryBefore - logstoreBytes) / held).toFixed(0)} B (${held.toLocaleString('en-US')} events; the logstore stand-in a further ${(logstoreBytes / held).toFixed(0)} B)`,
    '≤ 1 KiB',
  ]);
  rows.push([
    '… by key family (MEMORY USAGE, B per event)',
    [...families]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, 10)
      .map(([family, f]) => `${family} ${(f.bytes / held).toFixed(0)}`)
      .join(', ') + ` (sum ${(familyTotal / held).toFixed(0)})`,
    '',
  ]);
  s3.destroy();
  printTable(['figure', 'measured', 'goal'], rows);
} finally {
  redis.disconnect();
  await stack.stop();
}

/**
 * Part (c): the client (bench/lib/visible-load-client.ts) in a worker thread offers a fraction of
 * `capacity` (the end-to-end events/s just measured: history, summaries and both deliveries), or --load-rate, open loop and probes
 * visibility; this thread (the emulator's) measures the stack's CPU meanwhile.
 */
async function visibleUnderLoad(capacity: number, lookupUrl: string): Promise<VisibleLoadResult> {
  const rate = values['load-rate'] ? Number(values['load-rate']) : capacity * Number(values['load-fraction']);
  const entry = new URL('./lib/visible-load-client.ts', import.meta.url).href;
  // a TypeScript worker entry goes through tsx's loader (Node 20 refuses a .ts entry itself)
  const worker = new Worker(`import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`, {
    eval: true,
    workerData: {
      ingestUrl,
      lookupUrl,
      redisUrl: stack.redisUrl,
      credentials: key,
      accountId: ACCOUNT,
      rate,
      batch: Number(values['load-batch']),
      seconds: Number(values['load-seconds']),
      probeIntervalMs: Number(values['probe-interval']),
      pollMs: Number(values['probe-poll']),
    } satisfies VisibleLoadData,
  });
  const done = new Promise<VisibleLoadResult>((resolve, reject) => {
    worker.on('message', (m: { type: 'ready' } | VisibleLoadResult) => {
      if (m.type === 'done') resolve(m);
    });
    worker.once('error', reject);
  });
  done.catch(() => undefined);
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // the sustained run's tail first (its deliveries, its summary rows): the part measures half the
  // rate in steady state, not on top of a backlog
  await stack.emulator.fireTimer('summarize-cron', 'every-minute');
  await stack.emulator.fireTimer('deliver-oss', 'flush');
  const quietMs = await waitQuiet(redis, { processIdle: 0.05 });
  const load0 = loadavg()[0] as number;
  const cpu0 = process.cpuUsage();
  const redis0 = await redisCpu(redis);
  const s30 = pidCpu(stack.s3.pid);
  const t0 = performance.now();
  worker.postMessage('go');
  const r = await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const redisSeconds = (await redisCpu(redis)) - redis0;
  const s3Seconds = pidCpu(stack.s3.pid) - s30;
  await worker.terminate();
  const ms = (samples: readonly number[]) =>
    `p50 ${percentile(samples, 50).toFixed(0)} ms, p99 ${percentile(samples, 99).toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms`;
  const perSecond = (n: number) => `${Math.round(n).toLocaleString('en-US')} events/s`;
  const share = values['load-rate'] ? `${((rate / capacity) * 100).toFixed(0)} % (--load-rate)` : `${Number(values['load-fraction']) * 100} %`;
  rows.push([
    `under load: background offered (${share} of the end-to-end rate, open loop, ${r.sent / Number(values['load-batch'])} batches of ${values['load-batch']} over ${r.scheduleSeconds.toFixed(0)} s)`,
    // achieved: the events over the schedule plus how late the last batch was acknowledged / in history
    `offered ${perSecond(rate)}; acknowledged ${perSecond(r.accepted / (r.scheduleSeconds + r.ackTailMs / 1000))}, in history ${perSecond(r.sent / (r.scheduleSeconds + r.historyTailMs / 1000))}; sends late p99 ${percentile(r.sendLagMs, 99).toFixed(0)} ms, at most ${r.maxInFlight} batches in flight`,
    '',
  ]);
  rows.push([
    `under load: ingest → visible in LookupEvents (single-event probes every ${values['probe-interval']} ms, polled every ${values['probe-poll']} ms through lookup-http)`,
    `${ms(r.probeFoundMs)} (${r.probeFoundMs.length} samples${r.probeTimeouts ? `, ${r.probeTimeouts} not found in 60 s` : ''}); sent → acknowledged ${ms(r.probeAckMs)}; acknowledged → in history ${ms(r.probeHistoryMs)}; in history → found ${ms(r.probeLookupMs)}`,
    'p99 ≤ 1 s',
  ]);
  rows.push([
    'under load: background batch sent → acknowledged / → its last event in history',
    `${ms(r.batchAckMs)} / ${ms(r.batchHistoryMs)} (${r.batchHistoryMs.length} batches)`,
    '',
  ]);
  rows.push([
    'under load: background events in history at the end',
    `${(r.sent - r.missing).toLocaleString('en-US')} of ${r.sent.toLocaleString('en-US')} (accepted ${r.accepted.toLocaleString('en-US')})`,
    'all',
  ]);
  rows.push([
    'under load: CPU over the part (this process: emulator, functions, client; Redis; the S3 server)',
    `${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)} % + ${((redisSeconds / seconds) * 100).toFixed(0)} % + ${((s3Seconds / seconds) * 100).toFixed(0)} % of a core over ${seconds.toFixed(0)} s (${r.lookupCalls} lookups; started once the stack was quiet, ${(quietMs / 1000).toFixed(0)} s after the parts before); load average ${load0.toFixed(1)} → ${(loadavg()[0] as number).toFixed(1)}`,
    '',
  ]);
  return r;
}

/** Where Redis spent the sustained run: its CPU share and the commands by total time. */
/**
 * Samples the sustained run once a second: acknowledged events, history's event count, what waits in
 * the bench trail's outboxes and the summary queue, and Redis's CPU over the second.
 */
function traceTimeline(acknowledged: () => number, started: number): { stop(): Promise<(string | number)[][]> } {
  const probe = new Redis(stack.redisUrl);
  const outbox = new RedisOutbox(probe);
  const summaries = new RedisSummaryQueue(probe);
  const rows: (string | number)[][] = [];
  let lastCpu: number | undefined;
  let busy: Promise<void> = Promise.resolve();
  // the emulator's async lanes (FC's async invocations: OSS events to classify, wake-ups to the deliverers)
  const lanes = ['classify', 'deliver-oss', 'deliver-logstore'];
  const lane = (state: 'ready' | 'processing', fn: string) => `{fcemu:default}:async:${state}:trailkeeper-${fn}`;
  const sample = async () => {
    const waiting = await Promise.all(lanes.map(async (fn) => `${await probe.llen(lane('ready', fn))}+${await probe.llen(lane('processing', fn))}`));
    const [inHistory, oss, logstore, queued, cpu] = await Promise.all([
      probe.hget(`tk:{${ACCOUNT}}:i`, 'c').then(Number),
      outbox.size(ACCOUNT, 'bench-trail', 'oss'),
      outbox.size(ACCOUNT, 'bench-trail', 'logstore'),
      summaries.size(ACCOUNT),
      redisCpu(probe),
    ]);
    rows.push([((performance.now() - started) / 1000).toFixed(0), acknowledged(), inHistory, oss, logstore, queued, lastCpu === undefined ? '' : ((cpu - lastCpu) * 100).toFixed(0), waiting.join(' / ')]);
    lastCpu = cpu;
  };
  const timer = setInterval(() => (busy = busy.then(sample)), 1000);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      probe.disconnect();
      return rows;
    },
  };
}

/** The stores' scripts (ioredis defineCommand) by SHA1: each store defines its scripts on a client it is given. */
function scriptNames(): Map<string, string> {
  const client = new Redis({ lazyConnect: true });
  new RedisHistoryStore(client);
  new RedisInsightsStore(client);
  new RedisAccessKeyAudit(client);
  new RedisSummaryStore(client);
  const set = (client as unknown as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
  client.disconnect();
  return new Map(Object.entries(set).map(([name, script]) => [script.sha, name]));
}

async function printRedisProfile(client: Redis, seconds: number, ackSeconds: number, cpuBefore: number): Promise<void> {
  const cpu = (await redisCpu(client)) - cpuBefore;
  const stats = [...(await client.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/gm)]
    .map((m) => ({ command: m[1] as string, calls: Number(m[2]), usec: Number(m[3]), perCall: Number(m[4]) }))
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 14);
  // script time by script: EVALSHA by sha, EVAL by the script's first line
  const entries = (await client.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  await client.config('SET', 'slowlog-log-slower-than', '10000');
  const byScript = new Map<string, { calls: number; usec: number }>();
  const names = scriptNames();
  for (const [, , usec, args] of entries) {
    const [command, first] = args;
    if (!command || !/^eval/i.test(command)) continue;
    const name = /^evalsha$/i.test(command) ? `evalsha ${names.get(first ?? '') ?? (first ?? '').slice(0, 12)}` : `eval ${(first ?? '').trim().split('\n')[0]?.slice(0, 60)}`;
    const entry = byScript.get(name) ?? { calls: 0, usec: 0 };
    entry.calls++;
    entry.usec += usec;
    byScript.set(name, entry);
  }
  console.log('\nscripts by total time (wall-clock inside Redis: inflated when Redis waits for a core)');
  printTable(['script', 'calls', 'total ms', 'µs/call'], [...byScript].sort((a, b) => b[1].usec - a[1].usec).slice(0, 10).map(([name, e]) => [name, e.calls, Math.round(e.usec / 1000), Math.round(e.usec / e.calls)]));
  console.log(`\nRedis CPU ${cpu.toFixed(1)} s over ${seconds.toFixed(1)} s end to end (${((cpu / seconds) * 100).toFixed(0)}%), acknowledged after ${ackSeconds.toFixed(1)} s`);
  printTable(['command', 'calls', 'total ms', 'µs/call'], stats.map((s) => [s.command, s.calls, Math.round(s.usec / 1000), s.perCall.toFixed(0)]));
}
