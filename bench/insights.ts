/**
 * Insights and AccessKey-audit benchmarks (docs/design.md §3.9, §3.10; issue 13 "Tests and figures"),
 * on private stacks (real Redis, real S3 server, emulator on the product's s.yaml):
 *   ingest   sustained signed ingest (as `pipeline`'s) with TK_ANALYSIS=off and =on, each on a fresh
 *            stack started the same way, alternated (off,on then on,off …) within one process:
 *            events/s acknowledged and until all are in history, the stack's CPU seconds per event
 *            (this process's threads — emulator, functions, client — plus Redis and the S3 server);
 *            after each `on` run, the insights-cron drain of the queued rows (fired by hand): rows/s,
 *            stack CPU per row, Redis time per row of the fold script and of the audit's merge script;
 *   onset    anomaly onset → Insight Start event through the running stack: a day of baseline, then
 *            bursts at random seconds, polled through lookup-http's LookupInsightEvents, with
 *            insights-cron firing on its own schedule (every minute, as s.yaml declares);
 *   fold     the insights-cron drain (runInsights) of the same busy-account rows through the fold before
 *            per-batch tallies (bench/lib/legacy-insights-fold.ts) and the current one, alternated on one
 *            private Redis: rows/s, Redis CPU and EVALSHA µs per row, HINCRBY/HGET per row;
 *   drain    the insights-cron drain alone, in this process (runInsights with the AccessKey audit, as
 *            insights-cron runs it) of the ingest part's rows (sampleEvents' mix, eventTimes of a live
 *            20,000/s stream) queued on a private Redis: rows/s, this process's CPU and Redis CPU per
 *            row, commands per row; run it under `node --cpu-prof` to see the function side;
 *   memory   Redis memory of one account's counters after a day of traffic at a busy account's rate
 *            (folded straight into Redis by the store's fold script, no stack), MEMORY USAGE by key, with
 *            the fold before this change and the current one.
 *   classify classify's use case in this process on a private Redis, analysis on and off alternated:
 *            CPU per event of this process and of Redis (the analysis' own cost, without the stack).
 * Run: `npm run bench -- insights [--part ingest|classify|onset|fold|drain|memory|all] [--events 50000] [--repeats 3]
 *      [--onset-samples 6] [--rate 10] [--alert-rules 0]`; `--alert-rules N` adds the alert matcher with N
 *      enabled rules to the drain's consumers (docs/design.md §3.12), as the functions run it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { callRpc, postEvents, type Credentials } from '../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { HISTORY_SERVER_CONFIG } from '../adapters/redis/history-store.ts';
import { RedisInsightsStore } from '../adapters/redis/insights-store.ts';
import { RedisAccessKeyAudit } from '../adapters/redis/accesskey-audit.ts';
import { RedisAlertStore } from '../adapters/redis/alerts-store.ts';
import { AlertMatcher, alertMatcherConsumer } from '../shared/alerts/engine.ts';
import { ALERT_TEMPLATES } from '../shared/alerts/templates.ts';
import { LegacyRedisInsightsStore } from './lib/legacy-insights-fold.ts';
import { analyseBatch, runInsights } from '../shared/insights/engine.ts';
import { ANALYSIS_ACCOUNTS_KEY, analysisQueueKey } from '../adapters/redis/analysis-queue.ts';
import type { AnalysisRow } from '../shared/analysis/analysis-row.ts';
import { classifyObject } from '../shared/pipeline/classify-batch.ts';
import type { IdentifiedEvent } from '../shared/pipeline/records.ts';
import { encodeAnalysisRow } from '../shared/analysis/analysis-row-codec.ts';
import { parseSeriesKey, rowCounters } from '../shared/insights/series.ts';
import { liveStreamBodies } from './lib/live-stream.ts';
import { benchClassifyPorts, benchTrail, createBenchTrail } from './lib/classify-ports.ts';
import { sampleAnalysisRow } from './lib/sample-row.ts';
import { sampleEvent, sampleEvents } from '../scripts/lib/sample-events.ts';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import { productProject, startTestStack, type TestStack } from '../test/helpers/stack.ts';
import { percentile, printTable } from './lib/report.ts';
import { redisCpu, pidCpu } from './lib/process-cpu.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const ACCOUNT = '1234567890123456';
const BATCH = 1000;
const STREAM_RATE = 20_000;
const MIN = 60_000;
const HOUR = 60 * MIN;

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    events: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '3' },
    'onset-samples': { type: 'string', default: '6' },
    /** events/s of the busy account whose day of counters is measured */
    rate: { type: 'string', default: '10' },
    /** fold: the rows' eventTimes span the last this many minutes */
    'fold-minutes': { type: 'string', default: '15' },
    /** memory: also feed the rows to the AccessKey audit (its keys are reported apart) */
    audit: { type: 'boolean', default: true },
    /** drain: also run the alert matcher (docs/design.md §3.12) with this many enabled rules, as insights-cron does */
    'alert-rules': { type: 'string', default: '0' },
  },
  allowPositionals: true,
});
const parts = values.part === 'all' ? ['ingest', 'onset', 'memory'] : String(values.part).split(',');
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The functions run from dist/: bundle the tree as it is (TK_ANALYSIS included), as the tests' global setup does.
if (parts.some((p) => p === 'ingest' || p === 'onset')) {
  await buildFunctions(loadProject(productProject, { env: {}, accountId: 'ACCOUNT_ID', lenient: true }).functions);
}

const HOT_PATH_INSTANCES = 4;
const HOT_PATH_WARM = Object.fromEntries(['ingest', 'classify', 'deliver-oss', 'deliver-logstore'].map((f) => [f, HOT_PATH_INSTANCES]));

async function stackOf(analysis: 'on' | 'off', timers: boolean): Promise<TestStack> {
  return startTestStack({
    project: productProject,
    buckets: ['trailkeeper-staging', 'trailkeeper-archive'],
    env: { TK_LOG_LEVEL: 'error', TK_ANALYSIS: analysis },
    // the instances a sustained run keeps busy are all started before the measured window (FC's
    // provisioned instances): the figure is the steady state's, not how many cold starts a run happened to make
    emulator: { timers, warm: HOT_PATH_WARM, maxInstancesPerFunction: HOT_PATH_INSTANCES },
  });
}




/** The whole stack's CPU seconds: this process (emulator, function workers, client), Redis, the S3 server. */
async function stackCpu(stack: TestStack, redis: Redis): Promise<{ self: number; redis: number; s3: number }> {
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6, redis: await redisCpu(redis), s3: pidCpu(stack.s3.pid) };
}
const cpuDelta = (a: { self: number; redis: number; s3: number }, b: { self: number; redis: number; s3: number }) => ({
  self: b.self - a.self,
  redis: b.redis - a.redis,
  s3: b.s3 - a.s3,
  total: b.self - a.self + (b.redis - a.redis) + (b.s3 - a.s3),
});

// ───────────────────────────── ingest on / off, and the drain ─────────────────────────────
interface IngestRun {
  analysis: 'on' | 'off';
  ackRate: number;
  e2eRate: number;
  cpuPerEvent: number;
  redisCpuPerEvent: number;
  /** on: one insights-cron run after the ingest (evaluation, and the drain of any queued rows). */
  cron?: { seconds: number; cpuPerEvent: number; queued: number; counted: number };
}

async function ingestRun(analysis: 'on' | 'off', bodies: string[], lastIds: string[], total: number): Promise<IngestRun> {
  const stack = await stackOf(analysis, false);
  const redis = new Redis(stack.redisUrl);
  try {
    const history = new RedisHistoryStore(redis);
    const key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
    await createBenchTrail(redis, ACCOUNT);
    const ingestUrl = stack.emulator.httpUrls['ingest'] as string;
    await postEvents(ingestUrl, key, JSON.stringify(sampleEvents(ACCOUNT, 100)));
    await sleep(1500);
    const cpu0 = await stackCpu(stack, redis);
    let next = 0;
    let accepted = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Number(values.concurrency) }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const res = await postEvents(ingestUrl, key, body);
          if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
          accepted += ((await res.json()) as { accepted: number }).accepted;
        }
      }),
    );
    const ackSeconds = (performance.now() - started) / 1000;
    for (const id of lastIds) while (!(await history.has(ACCOUNT, [id]))[0]) await sleep(20);
    const e2eSeconds = (performance.now() - started) / 1000;
    // the CPU of the pipeline's tail too (deliverers; with analysis on, classify's last folds run after routing)
    await waitQuiet(redis);
    const cpu = cpuDelta(cpu0, await stackCpu(stack, redis));
    if (accepted !== total) throw new Error(`accepted ${accepted} of ${total}`);
    const run: IngestRun = { analysis, ackRate: accepted / ackSeconds, e2eRate: accepted / e2eSeconds, cpuPerEvent: cpu.total / accepted, redisCpuPerEvent: cpu.redis / accepted };
    const queued = await redis.hlen(analysisQueueKey(ACCOUNT));
    const store = new RedisInsightsStore(redis);
    const counted = (await store.meta(ACCOUNT)).counted;
    if (analysis === 'off') {
      if (queued !== 0 || counted !== 0) throw new Error(`TK_ANALYSIS=off queued ${queued} analysis rows and counted ${counted}`);
      return run;
    }
    // classify analyses its batches itself (docs/design.md §3.9): the queue is only the way round a failure
    if (counted < total) throw new Error(`the counters counted ${counted} of ${total} rows`);
    // then what insights-cron adds: one run (evaluation, and the drain of whatever was queued)
    const d0 = await stackCpu(stack, redis);
    const t0 = performance.now();
    await stack.emulator.fireTimer('insights-cron', 'every-minute');
    while ((await store.state(ACCOUNT)).cursorMinuteMs === undefined) await sleep(20);
    const seconds = (performance.now() - t0) / 1000;
    await waitQuiet(redis);
    const dc = cpuDelta(d0, await stackCpu(stack, redis));
    run.cron = { seconds, cpuPerEvent: dc.total / accepted, queued, counted };
    return run;
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

/** Waits until Redis has been nearly idle for 2 s (the pipeline's tail done). */
async function waitQuiet(redis: Redis): Promise<void> {
  let quiet = 0;
  let before = await redisCpu(redis);
  while (quiet < 4) {
    await sleep(500);
    const now = await redisCpu(redis);
    quiet = now - before < 0.02 ? quiet + 1 : 0;
    before = now;
  }
}

/** Script time inside Redis by script (the slow log of calls over 1 ms: every batch's script run): fold (first key …:anq) and the audit's merge. */
async function slowlogByScript(redis: Redis): Promise<Map<string, number>> {
  const entries = (await redis.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
  const out = new Map<string, number>();
  for (const [, , usec, args] of entries) {
    if (!/^evalsha$/i.test(args[0] ?? '')) continue;
    const firstKey = args[3] ?? '';
    const name = firstKey.endsWith(':anq') ? 'fold' : firstKey.includes(':akl') ? 'audit' : 'other';
    out.set(name, (out.get(name) ?? 0) + usec);
  }
  return out;
}

async function benchIngest(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  const { bodies, lastIds } = liveStreamBodies(ACCOUNT, total, BATCH, STREAM_RATE);
  const runs: IngestRun[] = [];
  const pairs: { on: IngestRun; off: IngestRun }[] = [];
  for (let r = 0; r < Number(values.repeats); r++) {
    const order: ('on' | 'off')[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    const pair: Partial<Record<'on' | 'off', IngestRun>> = {};
    for (const analysis of order) {
      const run = await ingestRun(analysis, bodies, lastIds, total);
      pair[analysis] = run;
      runs.push(run);
      const c = run.cron;
      process.stderr.write(
        `repeat ${r + 1} ${analysis}: ack ${fmt(run.ackRate)} ev/s, all in history ${fmt(run.e2eRate)} ev/s, stack CPU ${fmt(run.cpuPerEvent * 1e6)} µs/event (Redis ${fmt(run.redisCpuPerEvent * 1e6)})` +
          (c ? `; ${fmt(c.counted)} rows counted by classify, ${fmt(c.queued)} queued; one insights-cron run ${fmt(c.seconds, 1)} s, ${fmt(c.cpuPerEvent * 1e6, 1)} µs/event` : '') +
          '\n',
      );
    }
    pairs.push(pair as { on: IngestRun; off: IngestRun });
  }
  const spread = (xs: number[], digits = 2) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)} (median ${fmt(percentile(xs, 50), digits)})`;
  const e2eRatios = pairs.map((p) => p.on.e2eRate / p.off.e2eRate);
  const ackRatios = pairs.map((p) => p.on.ackRate / p.off.ackRate);
  const cpuRatios = pairs.map((p) => p.on.cpuPerEvent / p.off.cpuPerEvent);
  const withCron = pairs.map((p) => (p.on.cpuPerEvent + (p.on.cron?.cpuPerEvent ?? 0)) / p.off.cpuPerEvent);
  const rows: (string | number)[][] = [
    ['sustained ingest → all in history, off', runs.filter((r) => r.analysis === 'off').map((r) => fmt(r.e2eRate)).join(', ') + ' events/s', ''],
    ['sustained ingest → all in history, on', runs.filter((r) => r.analysis === 'on').map((r) => fmt(r.e2eRate)).join(', ') + ' events/s', ''],
    ['on / off, all in history (per pair)', spread(e2eRatios), '≥ 0.90'],
    ['on / off, acknowledged (per pair)', spread(ackRatios), ''],
    ['stack CPU per event, on / off (classify analysing its batches)', spread(cpuRatios), ''],
    ['stack CPU per event, (on + one insights-cron run) / off', spread(withCron), '≤ 1.10'],
    ['insights-cron run after the ingest, stack CPU per event', spread(pairs.map((p) => (p.on.cron?.cpuPerEvent ?? 0) * 1e6), 1) + ' µs', ''],
  ];
  return rows;
}

// ───────────────────────────── onset → Start ─────────────────────────────
async function benchOnset(): Promise<(string | number)[][]> {
  const A = '3234567890123456';
  const stack = await stackOf('on', true);
  const redis = new Redis(stack.redisUrl);
  try {
    const key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
    const lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
    const ingestUrl = stack.emulator.httpUrls['ingest'] as string;
    const rpc = async (params: Record<string, string>) => {
      const res = await callRpc(lookupUrl, key, params);
      return { status: res.status, body: (await res.json()) as { Events?: { insightDetails: { state: string; insightType: string; insightObject: string } }[]; Code?: string } };
    };
    for (const type of ['ApiCallRateInsight', 'IpInsight', 'AkInsight', 'ApiErrorRateInsight']) {
      const r = await rpc({ Action: 'EnableInsight', InsightType: type });
      if (r.status !== 200) throw new Error(`EnableInsight ${type}: ${r.status} ${r.body.Code}`);
    }
    // a day of baseline (eventTimes in the past, as test/integration/insights.test.ts builds it):
    // writes and reads every minute from a few known IPs and keys, over the last 25 hours
    const base: Record<string, unknown>[] = [];
    const now = Date.now();
    for (let t = now - 25 * HOUR, n = 0; t < now - 2 * MIN; t += MIN, n++) base.push(sampleEvent(A, n, new Date(t)));
    await ingestAll(ingestUrl, key, base);
    await waitFor(async () => (await redis.hlen(analysisQueueKey(A))) >= base.length, 60_000);
    await stack.emulator.fireTimer('insights-cron', 'every-minute');
    await waitFor(async () => (await redis.hlen(analysisQueueKey(A))) === 0, 60_000);
    const apis = ['DeleteInstance', 'DeleteDisk', 'DeleteSnapshot', 'DeleteImage', 'DeleteSecurityGroup', 'DeleteVSwitch', 'DeleteVpc', 'DeleteKeyPairs', 'DeleteLaunchTemplate', 'DeleteNetworkInterface', 'DeleteCommand', 'DeleteDeploymentSet'];
    const latencies: number[] = [];
    const onsetSeconds: number[] = [];
    for (let i = 0; i < Number(values['onset-samples']); i++) {
      const api = apis[i % apis.length] as string;
      // onset at a random second of a minute
      const target = Math.random() * MIN;
      const delay = (target - (Date.now() % MIN) + MIN) % MIN;
      await sleep(delay);
      const t0 = Date.now();
      onsetSeconds.push(Math.floor((t0 % MIN) / 1000));
      const burst = Array.from({ length: 35 }, (_v, k) => {
        const e = sampleEvent(A, 5000 + i * 100 + k, new Date(t0));
        return { ...e, eventName: api, eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: `198.51.100.${10 + i}`, userIdentity: { ...(e['userIdentity'] as object), accessKeyId: `LTAI5tBurst${String(i).padStart(6, '0')}`, userName: 'mallory' } };
      });
      const res = await postEvents(ingestUrl, key, JSON.stringify(burst));
      if (!res.ok) throw new Error(`ingest answered ${res.status}`);
      const object = `Ecs:${api}`;
      for (;;) {
        const answer = await rpc({ Action: 'LookupInsightEvents', 'LookupAttribute.1.Key': 'InsightObject', 'LookupAttribute.1.Value': object });
        if (answer.body.Events?.some((e) => e.insightDetails.state === 'Start' && e.insightDetails.insightType === 'ApiCallRateInsight')) break;
        if (Date.now() - t0 > 5 * MIN) throw new Error(`no Start for ${object} after 5 minutes`);
        await sleep(250);
      }
      const ms = Date.now() - t0;
      latencies.push(ms);
      process.stderr.write(`onset sample ${i + 1}: burst at second ${onsetSeconds.at(-1)} → Start in ${fmt(ms / 1000, 1)} s\n`);
    }
    return [
      [`anomaly onset → Insight Start via LookupInsightEvents (${latencies.length} samples, cron on its schedule)`, `p50 ${fmt(percentile(latencies, 50) / 1000, 1)} s, p99 ${fmt(percentile(latencies, 99) / 1000, 1)} s (max ${fmt(Math.max(...latencies) / 1000, 1)} s; onsets at seconds ${onsetSeconds.join(', ')})`, '≤ 2 min'],
    ];
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

async function ingestAll(url: string, key: Credentials, events: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const res = await postEvents(url, key, JSON.stringify(events.slice(i, i + 500)));
    if (!res.ok) throw new Error(`ingest answered ${res.status}`);
  }
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

// ───────────────────────────── the fold alone: before / after, one process ─────────────────────────────
/** Busy-account rows (the memory part's mix: 50 APIs, 40 % writes, 20 keys, 200 IPs, 2 % errors, 3 regions) over [start, end). */
function busyRows(accountId: string, total: number, start: number, end: number, seed0: number): AnalysisRow[] {
  const services = ['Ecs', 'Vpc', 'Oss', 'Rds', 'Slb'];
  const apis = Array.from({ length: 50 }, (_v, i) => ({ service: services[i % 5] as string, name: `${i % 5 < 2 ? 'Describe' : 'Modify'}Thing${i}`, write: i % 5 >= 3 }));
  const errors = ['Forbidden.RAM', 'InvalidParameter', 'Throttling.User', 'EntityNotExist', 'IncorrectStatus'];
  const regions = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'];
  let seed = seed0;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return Array.from({ length: total }, (_v, k) => {
    const api = apis[Math.min(49, Math.floor(Math.sqrt(rand(2500))))] as (typeof apis)[number];
    const keyN = rand(20);
    return {
      eventId: `fold-${k}`,
      accountId,
      eventTimeMs: start + Math.floor((k / total) * (end - start)),
      eventName: api.name,
      serviceName: api.service,
      eventType: 'ApiCall',
      eventRW: api.write ? 'Write' : 'Read',
      acsRegion: regions[rand(3)] as string,
      sourceIpAddress: `100.64.${keyN}.${rand(10) + 1}`,
      userAgent: 'AlibabaCloud (linux; amd64) Go/1.21 Core/1.62.0',
      errorCode: rand(50) === 0 ? (errors[rand(5)] as string) : '',
      identityType: 'ram-user',
      userName: `user${keyN % 10}`,
      principalId: `28734512345670000${keyN % 10}`,
      accessKeyId: `LTAI5tBenchKey${String(keyN).padStart(6, '0')}`,
      sensitive: false,
      resources: [{ type: `ACS::${api.service}::Thing`, name: `thing-${rand(100)}` }],
    };
  });
}

/** Every ins:m / ins:h field of the account (the counters both folds must agree on). */
async function counterDump(redis: Redis, accountId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{tk:${accountId}}:ins:[mh]:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) for (const [f, v] of Object.entries(await redis.hgetall(k))) out.set(`${k} ${f}`, v);
  } while (cursor !== '0');
  return out;
}

/**
 * The insights-cron drain (runInsights: HSCAN, parse, rowCounters, fold, in batches of DEFAULT_ANALYSIS_BATCH) of the
 * same busy-account rows through the fold before this change and the current one, alternated on
 * one private Redis (flushed between runs): rows/s, Redis CPU and EVALSHA µs per row, commands per
 * row (INFO commandstats counts the script's calls); first, that both leave the same counters and
 * the current one the same attributions.
 */
async function benchFold(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  const minutes = Number(values['fold-minutes']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-fold-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  const A = '6234567890123456';
  try {
    const end = Date.now();
    const rows = busyRows(A, total, end - minutes * MIN, end, 777);
    const enqueue = async () => {
      await redis.flushall();
      for (let i = 0; i < rows.length; i += 1000) {
        const p = redis.pipeline();
        for (const row of rows.slice(i, i + 1000)) p.hset(analysisQueueKey(A), row.eventId, encodeAnalysisRow(row));
        p.sadd(ANALYSIS_ACCOUNTS_KEY, A);
        await p.exec();
      }
    };
    const storeOf = (kind: 'before' | 'after') => (kind === 'before' ? new LegacyRedisInsightsStore(redis) : new RedisInsightsStore(redis));
    const drain = async (kind: 'before' | 'after') => {
      await enqueue();
      await redis.config('RESETSTAT');
      const cpu0 = await redisCpu(redis);
      const t0 = performance.now();
      const report = await runInsights({ store: storeOf(kind), consumers: [], deliver: async () => {}, now: () => Date.now(), region: 'cn-hangzhou' }, { budgetMs: 600_000 });
      const seconds = (performance.now() - t0) / 1000;
      const redisCpuS = (await redisCpu(redis)) - cpu0;
      if (report.counted !== total) throw new Error(`${kind}: counted ${report.counted} of ${total}`);
      const stats = new Map([...(await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)].map((m) => [m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) }]));
      const per = (c: string) => (stats.get(c)?.calls ?? 0) / total;
      return { kind, rowsPerS: total / seconds, redisUsPerRow: (redisCpuS * 1e6) / total, evalshaUsPerRow: (stats.get('evalsha')?.usec ?? 0) / total, hincrby: per('hincrby'), hget: per('hget'), batches: report.batches };
    };
    // equivalence: the same counters, and the same attributions for the series that can matter
    await drain('before');
    // the old fold also kept hour sums of novelty and immediate series, which no baseline reads
    const before = new Map([...(await counterDump(redis, A))].filter(([k]) => !/\x1f[sq]$/.test(k) || parseSeriesKey(k.slice(k.indexOf(' ') + 1, -2))?.kind === 'rate'));
    const legacy = storeOf('before');
    const legacyMinutes = new Map<number, Awaited<ReturnType<typeof legacy.minute>>>();
    for (let m = Math.floor((end - minutes * MIN) / MIN) * MIN; m <= end; m += MIN) legacyMinutes.set(m, await legacy.minute(A, m));
    await drain('after');
    const after = await counterDump(redis, A);
    const same = before.size === after.size && [...before].every(([k, v]) => after.get(k) === v);
    let attributionsChecked = 0;
    for (const [m, old] of legacyMinutes) {
      const now = await storeOf('after').minute(A, m);
      for (const [series, tallies] of now.attributions) {
        attributionsChecked += 1;
        if (JSON.stringify(sortTallies(tallies)) !== JSON.stringify(sortTallies(old.attributions.get(series) ?? {}))) throw new Error(`attributions differ for ${series} at ${m}`);
      }
    }
    process.stderr.write(`fold equivalence: ${fmt(before.size)} counter fields ${same ? 'identical' : 'DIFFER'}; ${fmt(attributionsChecked)} series-minutes of attributions identical\n`);
    if (!same) throw new Error('the folds disagree on counters');
    const runs: Awaited<ReturnType<typeof drain>>[] = [];
    for (let r = 0; r < Number(values.repeats); r++) {
      for (const kind of r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
        const run = await drain(kind);
        runs.push(run);
        process.stderr.write(`fold repeat ${r + 1} ${kind}: ${fmt(run.rowsPerS)} rows/s, Redis CPU ${fmt(run.redisUsPerRow, 1)} µs/row, EVALSHA ${fmt(run.evalshaUsPerRow, 1)} µs/row, HINCRBY ${fmt(run.hincrby, 2)}/row, HGET ${fmt(run.hget, 2)}/row (${run.batches} batches)\n`);
      }
    }
    const spread = (xs: number[], d = 0) => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
    const of = (kind: string) => runs.filter((r) => r.kind === kind);
    const ratio = (f: (r: (typeof runs)[number]) => number) => {
      const xs: number[] = [];
      for (let r = 0; r < runs.length; r += 2) {
        const pair = runs.slice(r, r + 2);
        const b = pair.find((x) => x.kind === 'before');
        const a = pair.find((x) => x.kind === 'after');
        if (a && b) xs.push(f(a) / f(b));
      }
      return spread(xs, 2);
    };
    const label = `${fmt(total)} rows over ${minutes} min`;
    return [
      [`drain rows/s, before (${label})`, spread(of('before').map((r) => r.rowsPerS)), ''],
      ['drain rows/s, after', spread(of('after').map((r) => r.rowsPerS)) + ` (after/before per pair ${ratio((r) => r.rowsPerS)})`, ''],
      ['Redis CPU µs per row, before → after', `${spread(of('before').map((r) => r.redisUsPerRow), 1)} → ${spread(of('after').map((r) => r.redisUsPerRow), 1)} (after/before ${ratio((r) => r.redisUsPerRow)})`, ''],
      ['EVALSHA µs per row (commandstats), before → after', `${spread(of('before').map((r) => r.evalshaUsPerRow), 1)} → ${spread(of('after').map((r) => r.evalshaUsPerRow), 1)}`, ''],
      ['HINCRBY / HGET per row, before → after', `${fmt(of('before')[0]?.hincrby ?? 0, 2)} / ${fmt(of('before')[0]?.hget ?? 0, 2)} → ${fmt(of('after')[0]?.hincrby ?? 0, 2)} / ${fmt(of('after')[0]?.hget ?? 0, 2)}`, ''],
    ];
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ───────────────────────────── the drain alone, in this process ─────────────────────────────
/** `count` enabled alert rules of ACCOUNT: the built-in templates, then custom ones (none match the mix's reads). */
async function seedAlertRules(redis: Redis, count: number): Promise<number> {
  const store = new RedisAlertStore(redis);
  const now = Date.now();
  const specs = ALERT_TEMPLATES.map((t) => t.expand(t.id === 'logon-unauthorized-ip' ? { allowlist: ['10.0.0.0/8'] } : t.defaults));
  for (let i = 0; specs.length < count; i++) specs.push({ condition: { field: 'eventName', in: [`DeleteThing${i}`] }, threshold: 1, windowMinutes: 1 });
  for (const [i, spec] of specs.slice(0, count).entries()) {
    await store.putRule({ id: `ar-${String(i).padStart(16, '0')}`, accountId: ACCOUNT, name: `bench ${i}`, enabled: true, ...spec, channelIds: [], createdAtMs: now, updatedAtMs: now });
  }
  return count;
}

/**
 * runInsights with the AccessKey audit (insights-cron's ports, without delivery) over the ingest
 * part's rows (the analysis rows of sampleEvent(ACCOUNT, n), n restarting every BATCH events) queued
 * on a private Redis, `--repeats` times: rows/s, this process's CPU and Redis CPU per row, and the
 * commands per row (INFO commandstats; a script's inner calls count apart).
 */
async function benchDrain(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-drain-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  try {
    const runs: { rowsPerS: number; selfUs: number; redisUs: number; batches: number; stats: string }[] = [];
    for (let r = 0; r < Number(values.repeats); r++) {
      await redis.flushall();
      const end = Date.now() - MIN;
      for (let i = 0; i < total; i += BATCH) {
        const p = redis.pipeline();
        for (let g = i; g < Math.min(total, i + BATCH); g++) {
          const row = sampleAnalysisRow(ACCOUNT, g - i, Math.floor(end - ((total - g) / STREAM_RATE) * 1000 - ((g * 7919) % 2000)));
          p.hset(analysisQueueKey(ACCOUNT), row.eventId, encodeAnalysisRow(row));
        }
        p.sadd(ANALYSIS_ACCOUNTS_KEY, ACCOUNT);
        await p.exec();
      }
      const alertRules = await seedAlertRules(redis, Number(values['alert-rules']));
      const consumers = [new RedisAccessKeyAudit(redis), ...(alertRules > 0 ? [alertMatcherConsumer(new AlertMatcher(new RedisAlertStore(redis)), async () => {})] : [])];
      await redis.config('RESETSTAT');
      const redis0 = await redisCpu(redis);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const report = await runInsights({ store: new RedisInsightsStore(redis), consumers, deliver: async () => {}, now: () => Date.now(), region: 'cn-hangzhou' }, { budgetMs: 600_000 });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const redisS = (await redisCpu(redis)) - redis0;
      if (report.counted !== total) throw new Error(`drain: counted ${report.counted} of ${total}`);
      const stats = [...(await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)]
        .map((m) => ({ command: m[1] as string, calls: Number(m[2]), usec: Number(m[3]) }))
        .filter((c) => c.command !== 'info' && c.command !== 'config')
        .sort((a, b) => b.usec - a.usec)
        .slice(0, 8)
        .map((c) => `${c.command} ${fmt(c.calls / total, 2)} (${fmt(c.usec / total, 1)} µs)`)
        .join(', ');
      const run = { rowsPerS: total / seconds, selfUs: ((cpu.user + cpu.system) / total), redisUs: (redisS * 1e6) / total, batches: report.batches, stats };
      runs.push(run);
      process.stderr.write(`drain repeat ${r + 1}: ${fmt(run.rowsPerS)} rows/s, this process ${fmt(run.selfUs, 1)} µs/row, Redis ${fmt(run.redisUs, 1)} µs/row (${run.batches} batches); per row ${stats}\n`);
    }
    const spread = (xs: number[], d = 0) => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
    return [
      [`drain in process (${fmt(total)} rows of the ingest mix, AccessKey audit on, ${values['alert-rules']} alert rules), rows/s`, spread(runs.map((r) => r.rowsPerS)), ''],
      ['drain CPU per row: this process + Redis', `${spread(runs.map((r) => r.selfUs), 1)} + ${spread(runs.map((r) => r.redisUs), 1)} µs`, ''],
      ['commands per row (µs in Redis), last repeat', runs.at(-1)?.stats ?? '', ''],
    ];
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sortTallies(t: Record<string, Record<string, number> | undefined>): [string, [string, number][]][] {
  return Object.entries(t)
    .filter(([dim]) => dim !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([dim, values]) => [dim, Object.entries(values ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

// ───────────────────────────── memory per account-day ─────────────────────────────
async function benchMemory(): Promise<(string | number)[][]> {
  const out: (string | number)[][] = [];
  for (const kind of ['before', 'after'] as const) out.push(...(await memoryRun(kind)));
  return out;
}

async function memoryRun(kind: 'before' | 'after'): Promise<(string | number)[][]> {
  const rate = Number(values.rate);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-mem-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  try {
    const A = '5234567890123456';
    const store = kind === 'before' ? new LegacyRedisInsightsStore(redis) : new RedisInsightsStore(redis);
    const audit = new RedisAccessKeyAudit(redis);
    // a busy account: 50 APIs (40% writes), 20 AccessKeys of 10 users, 200 IPs (each key from its
    // own 10), 2% errors of 5 codes, 3 regions; rows spread over the last 24 hours at `rate`/s
    const services = ['Ecs', 'Vpc', 'Oss', 'Rds', 'Slb'];
    const apis = Array.from({ length: 50 }, (_v, i) => ({ service: services[i % 5] as string, name: `${i % 5 < 2 ? 'Describe' : 'Modify'}Thing${i}`, write: i % 5 >= 3 }));
    const errors = ['Forbidden.RAM', 'InvalidParameter', 'Throttling.User', 'EntityNotExist', 'IncorrectStatus'];
    const regions = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'];
    const end = Date.now();
    const start = end - 24 * HOUR;
    const total = Math.floor(24 * 3600 * rate);
    const used0 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const BATCH_ROWS = 500;
    const t0 = performance.now();
    for (let i = 0; i < total; i += BATCH_ROWS) {
      const rows: AnalysisRow[] = [];
      for (let k = i; k < Math.min(total, i + BATCH_ROWS); k++) {
        const api = apis[Math.min(49, Math.floor(Math.sqrt(rand(2500))))] as (typeof apis)[number];
        const keyN = rand(20);
        const error = rand(50) === 0 ? (errors[rand(5)] as string) : '';
        rows.push({
          eventId: `ev-${k}`,
          accountId: A,
          eventTimeMs: start + Math.floor((k / total) * 24 * HOUR),
          eventName: api.name,
          serviceName: api.service,
          eventType: 'ApiCall',
          eventRW: api.write ? 'Write' : 'Read',
          acsRegion: regions[rand(3)] as string,
          sourceIpAddress: `100.64.${keyN}.${rand(10) + 1}`,
          userAgent: 'AlibabaCloud (linux; amd64) Go/1.21 Core/1.62.0',
          errorCode: error,
          identityType: 'ram-user',
          userName: `user${keyN % 10}`,
          principalId: `28734512345670000${keyN % 10}`,
          accessKeyId: `LTAI5tBenchKey${String(keyN).padStart(6, '0')}`,
          sensitive: false,
          resources: [{ type: `ACS::${api.service}::Thing`, name: `thing-${rand(100)}` }],
        });
      }
      const pipeline = redis.pipeline();
      for (const row of rows) pipeline.hset(analysisQueueKey(A), row.eventId, encodeAnalysisRow(row));
      await pipeline.exec();
      if (values.audit) await audit.consume(A, rows);
      await store.fold(A, rows.map((row) => ({ eventId: row.eventId, timeMs: row.eventTimeMs, counters: rowCounters(row) })));
    }
    const seconds = (performance.now() - t0) / 1000;
    await redis.del(analysisQueueKey(A));
    const used1 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    const groups = new Map<string, { keys: number; bytes: number }>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{tk:${A}}:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const bytes = Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
        const group = /:ins:m:/.test(k) ? 'minute counts (ins:m, last 3 h)' : /:ins:a:/.test(k) ? `minute attributions (ins:a, ${kind === 'before' ? 'series tallies, last 3 h' : 'row signatures, last 20 min'})` : /:ins:h:/.test(k) ? 'hour sums and novelty marks (ins:h)' : /:akl:/.test(k) ? 'AccessKey audit (akl)' : 'other (ins:meta …)';
        const g = groups.get(group) ?? { keys: 0, bytes: 0 };
        g.keys += 1;
        g.bytes += bytes;
        groups.set(group, g);
      }
    } while (cursor !== '0');
    const insightBytes = [...groups].filter(([name]) => !name.startsWith('AccessKey')).reduce((s, [, g]) => s + g.bytes, 0);
    const auditBytes = groups.get('AccessKey audit (akl)')?.bytes ?? 0;
    const hourBytes = groups.get('hour sums and novelty marks (ins:h)')?.bytes ?? 0;
    process.stderr.write(`memory ${kind}: ${fmt(total)} rows folded in ${fmt(seconds, 1)} s (${fmt(total / seconds)} rows/s, fold${values.audit ? ' + audit' : ''} from one client)\n`);
    printTable(['keys of one account', 'keys', 'bytes (MEMORY USAGE)'], [...groups].map(([name, g]) => [name, g.keys, fmt(g.bytes)]));
    return [
      [
        `[${kind}] Redis memory of one account's Insights counters after a day at ${fmt(rate, rate < 1 ? 1 : 0)} events/s (${fmt(total)} events; 50 APIs, 20 keys, 200 IPs, 2% errors)`,
        `${fmt(insightBytes / 1024, 0)} KiB per account (steady state: ${fmt(hourBytes / 1024, 0)} KiB of 24 h sums + the last 3 h of minute keys); used_memory delta ${fmt((used1 - used0) / 1024, 0)} KiB`,
        '—',
      ],
      [`[${kind}] AccessKey audit records of the same day (20 keys)`, `${fmt(auditBytes / 1024, 0)} KiB`, '—'],
    ];
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: (string | number)[][] = [];
// ───────────────────────────── classify in one process, analysis on / off ─────────────────────────────
/**
 * classify's use case (classifyObject) over the ingest part's objects in this process on a private
 * Redis, with the analysis on (analyseBatch: the AccessKey audit and the per-object fold) and off,
 * alternated: this process's CPU and Redis CPU per event. The analysis' own cost, without the
 * emulator, HTTP, S3 and the deliverers that the stack adds to both sides.
 */
async function benchClassify(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  const objects = liveStreamBodies(ACCOUNT, total, BATCH, STREAM_RATE).bodies.map((body) => JSON.parse(body) as IdentifiedEvent[]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-classify-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  const trail = benchTrail(ACCOUNT);
  try {
    const runs: { analysis: 'on' | 'off'; selfUs: number; redisUs: number; eventsPerS: number }[] = [];
    for (let r = 0; r < Number(values.repeats); r++) {
      for (const analysis of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await redis.flushall();
        const { ports, insights } = benchClassifyPorts(redis, trail, analysis === 'on');
        await redis.config('RESETSTAT');
        const redis0 = await redisCpu(redis);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (const [i, events] of objects.entries()) await classifyObject(`inbox/bench-${r}-${i}.json.gz`, events, { backfill: false, nowMs: Date.now() }, ports);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const redisS = (await redisCpu(redis)) - redis0;
        const counted = (await insights.meta(ACCOUNT)).counted;
        if (counted !== (analysis === 'on' ? total : 0)) throw new Error(`${analysis}: counted ${counted} of ${total}`);
        const run = { analysis, selfUs: (cpu.user + cpu.system) / total, redisUs: (redisS * 1e6) / total, eventsPerS: total / seconds };
        runs.push(run);
        const stats = [...(await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)]
          .map((m) => ({ command: m[1] as string, calls: Number(m[2]), usec: Number(m[3]) }))
          .sort((a, b) => b.usec - a.usec)
          .slice(0, 8)
          .map((c) => `${c.command} ${fmt(c.calls / total, 2)} (${fmt(c.usec / total, 1)} µs)`)
          .join(', ');
        process.stderr.write(`classify repeat ${r + 1} ${analysis}: ${fmt(run.eventsPerS)} events/s, this process ${fmt(run.selfUs, 1)} µs/event, Redis ${fmt(run.redisUs, 1)} µs/event; per event ${stats}\n`);
      }
    }
    const of = (a: 'on' | 'off') => runs.filter((x) => x.analysis === a);
    const spread = (xs: number[], d = 1) => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
    const pairs = of('on').map((on, i) => ({ on, off: of('off')[i] as (typeof runs)[number] }));
    return [
      [`classify in one process (${fmt(total)} events in objects of ${BATCH}), CPU per event off: this process + Redis`, `${spread(of('off').map((x) => x.selfUs))} + ${spread(of('off').map((x) => x.redisUs))} µs`, ''],
      ['… on (the AccessKey audit and the per-object fold)', `${spread(of('on').map((x) => x.selfUs))} + ${spread(of('on').map((x) => x.redisUs))} µs`, ''],
      ['the analysis per event (on − off, per pair): this process + Redis', `${spread(pairs.map((p) => p.on.selfUs - p.off.selfUs))} + ${spread(pairs.map((p) => p.on.redisUs - p.off.redisUs))} µs`, ''],
    ];
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const part of parts) {
  if (part === 'ingest') rows.push(...(await benchIngest()));
  else if (part === 'onset') rows.push(...(await benchOnset()));
  else if (part === 'memory') rows.push(...(await benchMemory()));
  else if (part === 'fold') rows.push(...(await benchFold()));
  else if (part === 'drain') rows.push(...(await benchDrain()));
  else if (part === 'classify') rows.push(...(await benchClassify()));
  else throw new Error(`unknown part ${part}: ingest, classify, onset, fold, drain, memory or all`);
}
printTable(['figure', 'measured', 'goal'], rows);
