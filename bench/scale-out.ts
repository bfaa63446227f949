/**
 * Scale-out benchmark (issue 16 "Past one machine"; README "Scaling"), all figures from one run:
 *   stacks   the same sustained signed ingest (as `pipeline`'s: 1,000 events per request, N in flight,
 *            event times of a live stream) on two private stacks started one after the other:
 *            (a) one standalone redis-server and one account, (b) the local three-master Redis Cluster
 *            and three accounts whose history tags (`tk:{A}`) land on three different masters, and so
 *            do their other keys' tags (`{tk:A}`) (slots from CLUSTER KEYSLOT, masters from CLUSTER
 *            SLOTS; see accountsPerMaster), the events split evenly over them. Events/s acknowledged and until all are in history, and
 *            per Redis server its CPU seconds (INFO cpu, before/after, until the pipeline is quiet)
 *            per event it holds: Redis time per event per shard. Everything shares this machine's
 *            cores, so (b) is not a speed-up here: the per-shard Redis time, against (a)'s, is the
 *            figure that carries over to a cluster on separate machines.
 *   ceiling  the busiest single account's ceiling on one shard, in this process against one private
 *            redis-server (no stack): the history put alone (RedisHistoryStore.put of prepared
 *            records, batches of 1,000 of the live-stream mix, in time order and with 2 s of
 *            disorder) as fast as one client goes, then classify's whole use case (classifyObject:
 *            history, outbox appends, summary queue, object markers, the analysis fold and the
 *            AccessKey audit) over the same objects: Redis CPU µs per event → 1e6 / µs events/s on
 *            one Redis core.
 * Run: `npm run bench -- scale-out [--part stacks|ceiling|all] [--events 60000] [--concurrency 8] [--repeats 1]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { postEvents, type Credentials } from '../adapters/client/signed-fetch.ts';
import { createRedisClient, mastersOf, type RedisClient } from '../adapters/redis.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../shared/classify/classify.ts';
import { accountOf, eventTimeMs } from '../shared/events/schema.ts';
import { historyRecordOf, type HistoryRecord } from '../shared/history/history-store.ts';
import { classifyObject } from '../shared/pipeline/classify-batch.ts';
import type { IdentifiedEvent } from '../shared/pipeline/records.ts';
import { sampleEvents } from '../scripts/lib/sample-events.ts';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import { productProject, startTestStack, type TestStack } from '../test/helpers/stack.ts';
import { liveStreamBodies } from './lib/live-stream.ts';
import { benchClassifyPorts, benchTrail, createBenchTrail } from './lib/classify-ports.ts';
import { printTable } from './lib/report.ts';
import { usedMemory } from './lib/memory-families.ts';
import { redisCpu, pidCpu } from './lib/process-cpu.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const BATCH = 1000;
/** Each account's simulated event rate (spreads its event times as a live stream would). */
const STREAM_RATE = 20_000;
/** The first candidate account id; the cluster's three are the first ids from here on whose tags land on three masters. */
const FIRST_ACCOUNT = 1234567890123456n;

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    /** events per stack (split evenly over the cluster's three accounts), and of the ceiling part */
    events: { type: 'string', default: '60000' },
    concurrency: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '1' },
  },
  allowPositionals: true,
});
const parts = values.part === 'all' ? ['stacks', 'ceiling'] : String(values.part).split(',');
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const spread = (xs: readonly number[], d = 0) => (xs.length === 1 ? fmt(xs[0] as number, d) : `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');




/** Waits until every server has been nearly idle for 2 s (the pipeline's tail done). */
async function waitQuiet(servers: readonly Redis[]): Promise<void> {
  let quiet = 0;
  let before = await Promise.all(servers.map(redisCpu));
  while (quiet < 4) {
    await sleep(500);
    const now = await Promise.all(servers.map(redisCpu));
    quiet = now.every((c, i) => c - (before[i] as number) < 0.02) ? quiet + 1 : 0;
    before = now;
  }
}

const nodeName = (node: Redis) => `${node.options.host}:${node.options.port}`;

/** Slot ranges → master (host:port), from CLUSTER SLOTS. */
async function slotMap(node: Redis): Promise<{ first: number; last: number; master: string }[]> {
  const slots = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  return slots.map(([first, last, [host, port]]) => ({ first, last, master: `${host}:${port}` }));
}

async function masterOfKey(node: Redis, map: readonly { first: number; last: number; master: string }[], key: string): Promise<string> {
  const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key));
  const range = map.find((r) => slot >= r.first && slot <= r.last);
  if (!range) throw new Error(`slot ${slot} of ${key} has no master`);
  return range.master;
}

/**
 * Three accounts from FIRST_ACCOUNT on whose history tags (`tk:{A}`) land on three different masters,
 * and so do the tags of their other keys (`{tk:A}`). Both on one master is not to be had here: for
 * 16-digit ids the two tags' CRC16s differ by a constant XOR that always moves the slot to another
 * third of the range, so with the cluster's slots in thirds each master holds one account's history
 * and another account's queues, outboxes and counters. Returns master → { history, rest } accounts.
 */
async function accountsPerMaster(masters: readonly Redis[]): Promise<Map<string, { history: string; rest: string }>> {
  const node = masters[0] as Redis;
  const map = await slotMap(node);
  const historyOn = new Map<string, string>(); // master → account whose history it holds
  const restOn = new Map<string, string>();
  for (let id = FIRST_ACCOUNT; historyOn.size < masters.length; id++) {
    if (id > FIRST_ACCOUNT + 10_000n) throw new Error('no account ids spread over every master');
    const account = String(id);
    const history = await masterOfKey(node, map, `tk:{${account}}:n`);
    const rest = await masterOfKey(node, map, `{tk:${account}}:sumq`);
    if (historyOn.has(history) || restOn.has(rest)) continue;
    historyOn.set(history, account);
    restOn.set(rest, account);
  }
  return new Map([...historyOn].map(([master, account]) => [master, { history: account, rest: restOn.get(master) as string }]));
}


// ───────────────────────────── (1) one server, one account / three masters, three accounts ─────────────────────────────
interface Shard {
  node: string;
  accounts: string[];
  /** events of the timed run held on this server (its account's history; a cluster's master also holds another account's queues and counters) */
  events: number;
  cpuSeconds: number;
  memoryBytes: number;
  /** which deployment-wide slots ({tk}, {tk:obj}, {tk:auth}) this server holds */
  shared: string[];
  /** the server's CPU ms per second when idle, measured before the run */
  idleMsPerS: number;
  /** the run's length until all in history (the idle CPU over it is part of cpuSeconds) */
  seconds: number;
}
interface StackRun {
  kind: 'standalone' | 'cluster';
  accounts: number;
  total: number;
  ackRate: number;
  e2eRate: number;
  shards: Shard[];
  /** the whole stack's CPU per event: this process (emulator, functions, client), every Redis, the S3 server */
  stackUsPerEvent: number;
}

/** A private stack; started again (up to 3 times) when a free port was taken meanwhile by another process (EADDRINUSE). */
async function startStack(kind: 'standalone' | 'cluster'): Promise<TestStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTestStack({
        project: productProject,
        buckets: ['trailkeeper-staging', 'trailkeeper-archive'],
        env: { TK_LOG_LEVEL: 'error' },
        emulator: { timers: false, warm: true, maxInstancesPerFunction: 4 },
        redis: kind,
      });
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
      process.stderr.write(`stack start failed (${String(error).split('\n')[0]}); again\n`);
    }
  }
}

async function stackRun(kind: 'standalone' | 'cluster', total: number): Promise<StackRun> {
  const stack = await startStack(kind);
  const client = createRedisClient(stack.redisUrl, { maxRetriesPerRequest: 3 });
  // one connection of our own to each server (INFO is per server), with the stack's password
  const masters = (await mastersOf(client)).map((m) => new Redis({ host: m.options.host, port: m.options.port, password: stack.redisPassword }));
  try {
    const byMaster =
      kind === 'cluster' ? await accountsPerMaster(masters) : new Map([[nodeName(masters[0] as Redis), { history: String(FIRST_ACCOUNT), rest: String(FIRST_ACCOUNT) }]]);
    if (byMaster.size !== masters.length) throw new Error(`${kind}: ${byMaster.size} accounts for ${masters.length} servers`);
    const accounts = [...byMaster.values()].map((m) => m.history);
    const shared = new Map<string, string[]>();
    if (kind === 'cluster') {
      const map = await slotMap(masters[0] as Redis);
      for (const tag of ['{tk}', '{tk:obj}', '{tk:auth}']) {
        const master = await masterOfKey(masters[0] as Redis, map, `${tag}:x`);
        shared.set(master, [...(shared.get(master) ?? []), tag]);
      }
    }
    const history = new RedisHistoryStore(client);
    const accountStore = new RedisAccountStore(client, stack.secrets);
    const keys = new Map<string, Credentials>();
    for (const account of accounts) {
      keys.set(account, await accountStore.createKey(account));
      await createBenchTrail(client, account);
    }
    const ingestUrl = stack.emulator.httpUrls['ingest'] as string;
    // the events split evenly over the accounts; each account's bodies a live stream of its own, sent interleaved
    const per = Math.floor(total / accounts.length);
    if (per * accounts.length !== total || per % BATCH !== 0) throw new Error(`--events ${total} must split into whole batches of ${BATCH} over ${accounts.length} accounts`);
    const streams = accounts.map((account) => ({ account, ...liveStreamBodies(account, per, BATCH, STREAM_RATE) }));
    const sends: { account: string; body: string }[] = [];
    for (let i = 0; i < per / BATCH; i++) for (const s of streams) sends.push({ account: s.account, body: s.bodies[i] as string });
    // warm-up: one batch per account through every function
    for (const account of accounts) {
      const res = await postEvents(ingestUrl, keys.get(account) as Credentials, JSON.stringify(sampleEvents(account, 100)));
      if (!res.ok) throw new Error(`warm-up answered ${res.status}`);
    }
    await sleep(1500);
    await waitQuiet(masters);
    // each server's CPU when idle (serverCron; on a cluster also the cluster bus), over 2 s: part of every figure below
    const idle0 = await Promise.all(masters.map(redisCpu));
    await sleep(2000);
    const cpu0 = await Promise.all(masters.map(redisCpu));
    const idleMsPerS = cpu0.map((c, i) => ((c - (idle0[i] as number)) * 1000) / 2);
    const mem0 = await Promise.all(masters.map(usedMemory));
    const self0 = process.cpuUsage();
    const s30 = pidCpu(stack.s3.pid);
    let next = 0;
    let accepted = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Number(values.concurrency) }, async () => {
        while (next < sends.length) {
          const send = sends[next++] as { account: string; body: string };
          const res = await postEvents(ingestUrl, keys.get(send.account) as Credentials, send.body);
          if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
          accepted += ((await res.json()) as { accepted: number }).accepted;
        }
      }),
    );
    const ackSeconds = (performance.now() - started) / 1000;
    for (const s of streams) for (const id of s.lastIds) while (!(await history.has(s.account, [id]))[0]) await sleep(20);
    const e2eSeconds = (performance.now() - started) / 1000;
    await waitQuiet(masters);
    const cpu1 = await Promise.all(masters.map(redisCpu));
    const mem1 = await Promise.all(masters.map(usedMemory));
    const self = process.cpuUsage(self0);
    const s3 = pidCpu(stack.s3.pid) - s30;
    if (accepted !== total) throw new Error(`${kind}: accepted ${accepted} of ${total}`);
    // every event of every account in history, not only each batch's last
    for (const s of streams) {
      const ids = s.bodies.flatMap((body) => (JSON.parse(body) as { eventId: string }[]).map((e) => e.eventId));
      for (let i = 0; i < ids.length; i += BATCH) {
        const held = await history.has(s.account, ids.slice(i, i + BATCH));
        const missing = held.filter((h) => !h).length;
        if (missing > 0) throw new Error(`${kind}: ${missing} events of account ${s.account} not in history`);
      }
    }
    const shards: Shard[] = masters.map((m, i) => {
      const node = nodeName(m);
      const mine = byMaster.get(node);
      return {
        node,
        accounts: mine ? (mine.history === mine.rest ? [mine.history] : [`history of ${mine.history}`, `the rest of ${mine.rest}`]) : [],
        events: mine ? per : 0,
        cpuSeconds: (cpu1[i] as number) - (cpu0[i] as number),
        memoryBytes: (mem1[i] as number) - (mem0[i] as number),
        shared: shared.get(node) ?? [],
        idleMsPerS: idleMsPerS[i] as number,
        seconds: e2eSeconds,
      };
    });
    const redisTotal = shards.reduce((sum, s) => sum + s.cpuSeconds, 0);
    return {
      kind,
      accounts: accounts.length,
      total,
      ackRate: accepted / ackSeconds,
      e2eRate: accepted / e2eSeconds,
      shards,
      stackUsPerEvent: (((self.user + self.system) / 1e6 + redisTotal + s3) * 1e6) / total,
    };
  } finally {
    for (const m of masters) m.disconnect();
    client.disconnect();
    await stack.stop();
  }
}

async function benchStacks(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  await buildFunctions(loadProject(productProject, { env: {}, accountId: 'ACCOUNT_ID', lenient: true }).functions);
  const runs: StackRun[] = [];
  for (let r = 0; r < Number(values.repeats); r++) {
    for (const kind of r % 2 === 0 ? (['standalone', 'cluster'] as const) : (['cluster', 'standalone'] as const)) {
      const run = await stackRun(kind, total);
      runs.push(run);
      process.stderr.write(
        `repeat ${r + 1} ${kind} (${run.accounts} account${run.accounts > 1 ? 's' : ''}): ack ${fmt(run.ackRate)} ev/s, all in history ${fmt(run.e2eRate)} ev/s, stack CPU ${fmt(run.stackUsPerEvent)} µs/event; load ${loadAverage()}\n` +
          run.shards
            .map((s) => `  ${s.node} [${s.accounts.join(', ') || 'no account'}${s.shared.length ? `; ${s.shared.join(' ')}` : ''}]: Redis ${fmt(s.cpuSeconds, 2)} s CPU, ${s.events ? fmt((s.cpuSeconds * 1e6) / s.events, 1) : '—'} µs per event held (idle ${fmt(s.idleMsPerS, 1)} ms/s: ${s.events ? fmt((s.idleMsPerS * s.seconds * 1000) / s.events, 1) : '—'} µs of it), memory +${fmt(s.memoryBytes / 1024 / 1024, 1)} MiB\n`)
            .join(''),
      );
    }
  }
  const of = (kind: 'standalone' | 'cluster') => runs.filter((r) => r.kind === kind);
  const perShardUs = (run: StackRun) => run.shards.map((s) => (s.cpuSeconds * 1e6) / s.events);
  const standaloneUs = of('standalone').map((r) => perShardUs(r)[0] as number);
  const clusterUs = of('cluster').flatMap(perShardUs);
  const pairs = of('cluster').map((c, i) => ({ c, s: of('standalone')[i] as StackRun }));
  const shardNote = (run: StackRun | undefined) =>
    run?.shards.map((s) => `${fmt((s.cpuSeconds * 1e6) / s.events, 1)}${s.shared.length ? ` (with ${s.shared.join(' ')})` : ''}`).join(' / ') ?? '';
  const per = total / 3;
  return [
    [`sustained ingest, one redis-server, one account (${fmt(total)} events, ${BATCH} per request, ${values.concurrency} in flight): acknowledged / all in history`, `${spread(of('standalone').map((r) => r.ackRate))} / ${spread(of('standalone').map((r) => r.e2eRate))} events/s`, ''],
    [`the same on the local three-master cluster, three accounts on three masters (${fmt(per)} events each, sent interleaved): acknowledged / all in history`, `${spread(of('cluster').map((r) => r.ackRate))} / ${spread(of('cluster').map((r) => r.e2eRate))} events/s (cluster / standalone all in history ${spread(pairs.map((p) => p.c.e2eRate / p.s.e2eRate), 2)}; every process shares the same 2 cores: no speed-up is possible here)`, ''],
    ['Redis CPU per event held, standalone (the whole pipeline: claims, history, queues, outboxes, deliverers, analysis)', `${spread(standaloneUs, 1)} µs`, ''],
    ['Redis CPU per event held, per shard of the cluster (shard / shard / shard, last run)', `${shardNote(of('cluster').at(-1))} µs; all shards ${spread(clusterUs, 1)} µs; per shard / standalone ${spread(pairs.flatMap((p) => perShardUs(p.c).map((u) => u / (perShardUs(p.s)[0] as number))), 2)}`, ''],
    ['one account on one shard, whole pipeline: 1e6 / Redis µs per event (one Redis core, nothing else on it)', `${spread(standaloneUs.map((u) => 1e6 / u))} events/s`, ''],
    ['stack CPU per event (this process + every Redis + S3 server): standalone / cluster', `${spread(of('standalone').map((r) => r.stackUsPerEvent))} / ${spread(of('cluster').map((r) => r.stackUsPerEvent))} µs`, ''],
  ];
}

// ───────────────────────────── (2) one account's ceiling on one shard ─────────────────────────────
/** The history records classify would put for these objects (classifyEvent → historyRecordOf). */
function recordsOf(objects: readonly IdentifiedEvent[][]): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  for (const events of objects) {
    for (const input of events) {
      const result = classifyEvent(input);
      if (!result.kept) continue;
      const event = result.event as typeof result.event & { eventId: string };
      records.push(historyRecordOf(event, accountOf(event), eventTimeMs(event), { types: resourceTypesOf(event), names: resourceNamesOf(event) }));
    }
  }
  return records;
}

async function benchCeiling(): Promise<(string | number)[][]> {
  const total = Number(values.events);
  const account = String(FIRST_ACCOUNT);
  const objects = liveStreamBodies(account, total, BATCH, STREAM_RATE).bodies.map((body) => JSON.parse(body) as IdentifiedEvent[]);
  const disordered = recordsOf(objects);
  if (disordered.length !== total) throw new Error(`classify kept ${disordered.length} of ${total} sample events`);
  const ordered = [...disordered].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-scale-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  const trail = benchTrail(account);
  type Kind = 'put in time order' | 'put, 2 s disorder' | 'classify';
  const runs: { kind: Kind; eventsPerS: number; redisUs: number }[] = [];
  const commands = new Map<Kind, string>();
  const measure = async (kind: Kind, body: () => Promise<number>) => {
    await redis.flushall();
    await redis.config('RESETSTAT');
    const redis0 = await redisCpu(redis);
    const t0 = performance.now();
    const done = await body();
    const seconds = (performance.now() - t0) / 1000;
    const redisS = (await redisCpu(redis)) - redis0;
    if (done !== total) throw new Error(`${kind}: ${done} of ${total} events stored`);
    const run = { kind, eventsPerS: total / seconds, redisUs: (redisS * 1e6) / total };
    runs.push(run);
    const stats = [...(await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)]
      .map((m) => ({ command: m[1] as string, calls: Number(m[2]), usec: Number(m[3]) }))
      .filter((c) => c.command !== 'info' && c.command !== 'config')
      .sort((a, b) => b.usec - a.usec)
      .slice(0, 6)
      .map((c) => `${c.command} ${fmt(c.calls / total, 3)} (${fmt(c.usec / total, 1)} µs)`)
      .join(', ');
    commands.set(kind, stats);
    process.stderr.write(`${kind}: ${fmt(run.eventsPerS)} events/s from one client, Redis CPU ${fmt(run.redisUs, 1)} µs/event; commands per event (INFO commandstats µs: time inside Redis, a script's includes its commands) ${stats}; load ${loadAverage()}\n`);
  };
  const put = (records: readonly HistoryRecord[]) => async () => {
    const history = new RedisHistoryStore(redis);
    let added = 0;
    for (let i = 0; i < records.length; i += BATCH) added += (await history.put(records.slice(i, i + BATCH))).added;
    return added;
  };
  const classify = (round: number) => async () => {
    // TK_ANALYSIS=on, the default: the per-object fold and the AccessKey audit, as classify runs them
    const { ports, insights } = benchClassifyPorts(redis, trail, true);
    let added = 0;
    for (const [i, events] of objects.entries()) {
      const outcome = await classifyObject(`inbox/scale-${round}-${i}.json.gz`, events, { backfill: false, nowMs: Date.now() }, ports);
      added += outcome.historyAdded;
    }
    const counted = (await insights.meta(account)).counted;
    if (counted !== total) throw new Error(`classify: the analysis counted ${counted} of ${total}`);
    return added;
  };
  try {
    for (let r = 0; r < Number(values.repeats); r++) {
      const order: Kind[] = r % 2 === 0 ? ['put in time order', 'put, 2 s disorder', 'classify'] : ['classify', 'put, 2 s disorder', 'put in time order'];
      for (const kind of order) await measure(kind, kind === 'classify' ? classify(r) : put(kind === 'put in time order' ? ordered : disordered));
    }
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const of = (kind: Kind) => runs.filter((x) => x.kind === kind);
  const row = (kind: Kind, label: string): (string | number)[] => [
    label,
    `Redis ${spread(of(kind).map((x) => x.redisUs), 1)} µs an event → ceiling ${spread(of(kind).map((x) => 1e6 / x.redisUs))} events/s on one Redis core; ${spread(of(kind).map((x) => x.eventsPerS))} events/s from one client here. Commands per event (INFO commandstats µs inside Redis, a script's including its commands), last run: ${commands.get(kind) ?? ''}`,
    '',
  ];
  return [
    row('put in time order', `one account on one shard, history put alone (RedisHistoryStore.put of prepared records, ${fmt(total)} events of the live-stream mix in batches of ${BATCH}, in time order; one client, private redis-server)`),
    row('put, 2 s disorder', '… the same records with 2 s of disorder (as a live stream: batches interleave in time)'),
    row('classify', `… classify's whole Redis work (classifyObject over the same ${fmt(total / BATCH)} objects: object markers, history, outbox appends, summary queue, analysis fold and AccessKey audit)`),
  ];
}

const rows: (string | number)[][] = [];
for (const part of parts) {
  if (part === 'stacks') rows.push(...(await benchStacks()));
  else if (part === 'ceiling') rows.push(...(await benchCeiling()));
  else throw new Error(`unknown part ${part}: stacks, ceiling or all`);
}
process.stderr.write(`load average at the end: ${loadAverage()}\n`);
printTable(['figure', 'measured', 'goal'], rows);
