/**
 * The pipeline's hot path, function by function, in this one process (issue 16: "attack the
 * largest item"): the real handlers of ingest, classify, deliver-oss, deliver-logstore and
 * summarize-cron called directly with FC trigger payloads (no emulator, no worker threads, no
 * HTTP client), against a private Redis and the embedded S3 server, as test/handlers/ do. Every
 * batch of the live-stream mix goes ingest → classify (the OSS event of its staging object) →
 * deliver-oss and deliver-logstore (the wake-up classify sends); summarize-cron and deliver-oss's
 * flush run at the end. Each call is timed by this process's CPU, Redis's CPU (INFO cpu) and the
 * S3 server's (/proc), so the figures split the pipeline's CPU an event by function and by
 * process; the pipeline bench's stack figure minus their sum is what the emulator, the worker hop
 * and the load client add.
 * Async invocations (classify's wake-ups, deliver-oss's deferred pass) go to a local stub that
 * answers 202, so each function runs exactly once per batch, in order.
 * Run: `npm run bench -- hot-path [--events 50000] [--batch 1000] [--repeats 2] [--profile] [--deliver-every N] [--aof]`.
 */
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { signEventsPost } from '../adapters/client/signed-fetch.ts';
import { liveStreamBodies } from './lib/live-stream.ts';
import { createBenchTrail } from './lib/classify-ports.ts';
import { outboxKey } from '../adapters/redis/outbox.ts';
import { aofFamilies } from './lib/aof-families.ts';
import { pidCpu, redisCpu } from './lib/process-cpu.ts';
import { printTable } from './lib/report.ts';
import { eventBuffer, fcContext, httpEvent, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers } from '../test/helpers/handler-harness.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const ACCOUNT = SAMPLE_ACCOUNT;
const STREAM_RATE = 20_000;
const HOST = '127.0.0.1:8710';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '1000' },
    /** passes of --events fresh events on the same servers; the table shows each function's lowest CPU an event over them */
    repeats: { type: 'string', default: '2' },
    /** also split each function's Redis time by command and script (the slow log at 0 µs: slower) */
    profile: { type: 'boolean', default: false },
    /**
     * the deliverers run after every N batches (each until the outboxes are empty), so the outboxes
     * grow to N batches first, as on a stack whose deliverers lag behind classify
     */
    'deliver-every': { type: 'string', default: '1' },
    /** at the end, what Redis appended to its AOF over the run, by command and key family */
    aof: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const total = Number(values.events);
const batchSize = Number(values.batch);
const repeats = Number(values.repeats);
const deliverEvery = Math.max(1, Number(values['deliver-every']));

// The async invocations the functions send (wake-ups, deferred passes): answered, not run.
const stub = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(202, { 'x-fc-request-id': 'bench-stub' }).end();
  });
});
await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
const stubPort = (stub.address() as { port: number }).port;

type Stage = 'ingest' | 'classify' | 'deliver-oss' | 'deliver-logstore' | 'summarize-cron' | 'deliver-oss flush';
const STAGES: Stage[] = ['ingest', 'classify', 'deliver-oss', 'deliver-logstore', 'summarize-cron', 'deliver-oss flush'];
interface Cost {
  node: number;
  redis: number;
  s3: number;
  wall: number;
}
const zero = (): Cost => ({ node: 0, redis: 0, s3: 0, wall: 0 });

const servers = await startHandlerServers({
  buckets: [STAGING_BUCKET, 'trailkeeper-archive'],
  env: { TK_FC_ENDPOINT: `http://127.0.0.1:${stubPort}`, TK_LOG_LEVEL: 'error' },
});
const probe = new Redis(servers.redisUrl);
// adapters/env.ts reads the environment once: the handlers are imported after the servers start
const wiring = await import('../adapters/wiring.ts');
const services = wiring.getServices();
const key = await services.accounts.createKey(ACCOUNT);
await createBenchTrail(probe, ACCOUNT);
const handlers = {
  ingest: (await import('../functions/ingest/index.ts')).handler,
  classify: (await import('../functions/classify/index.ts')).handler,
  'deliver-oss': (await import('../functions/deliver-oss/index.ts')).handler,
  'deliver-logstore': (await import('../functions/deliver-logstore/index.ts')).handler,
  'summarize-cron': (await import('../functions/summarize-cron/index.ts')).handler,
};
const wake = eventBuffer(sampleEvent('wake-classified'));
/** Redis time (µs, as the slow log counts it) by stage, then by command or script. */
const redisTime = new Map<Stage, Map<string, { calls: number; usec: number }>>();
const scriptNames = (): Map<string, string> => {
  const set = (services.redis as unknown as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
  return new Map(Object.entries(set).map(([name, script]) => [script.sha, name]));
};
if (values.profile) {
  await probe.config('SET', 'slowlog-log-slower-than', '0');
  await probe.config('SET', 'slowlog-max-len', '1000000');
}
async function collectSlowlog(stage: Stage): Promise<void> {
  const entries = (await probe.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  await probe.slowlog('RESET');
  const names = scriptNames();
  const byName = redisTime.get(stage) ?? new Map<string, { calls: number; usec: number }>();
  redisTime.set(stage, byName);
  for (const [, , usec, args] of entries) {
    const [command = '', first = ''] = args;
    if (/^(slowlog|info|config)$/i.test(command)) continue;
    const name = /^evalsha$/i.test(command) ? `script ${names.get(first) ?? first.slice(0, 12)}` : /^eval$/i.test(command) ? `eval ${first.trim().split('\n')[0]?.slice(0, 40)}` : command.toLowerCase();
    const entry = byName.get(name) ?? { calls: 0, usec: 0 };
    entry.calls++;
    entry.usec += usec;
    byName.set(name, entry);
  }
}
const seen = new Set<string>();

/** One pass of `total` fresh events through every function; the CPU of each. */
async function pass(): Promise<Record<Stage, Cost>> {
  const { bodies } = liveStreamBodies(ACCOUNT, total, batchSize, STREAM_RATE);
  const costs = Object.fromEntries(STAGES.map((s) => [s, zero()])) as Record<Stage, Cost>;
  const timed = async <T>(stage: Stage, call: () => Promise<T>): Promise<T> => {
    if (values.profile) await probe.slowlog('RESET');
    const [redisBefore, s3Before, cpuBefore, wallBefore] = [await redisCpu(probe), pidCpu(servers.s3Pid), process.cpuUsage(), performance.now()];
    const result = await call();
    const cpu = process.cpuUsage(cpuBefore);
    const cost = costs[stage];
    cost.wall += performance.now() - wallBefore;
    cost.node += (cpu.user + cpu.system) / 1e6;
    cost.redis += (await redisCpu(probe)) - redisBefore;
    cost.s3 += pidCpu(servers.s3Pid) - s3Before;
    if (values.profile) await collectSlowlog(stage);
    return result;
  };
  let batches = 0;
  const deliverAll = async () => {
    for (const [stage, destination] of [['deliver-oss', 'oss'], ['deliver-logstore', 'logstore']] as const) {
      // a pass takes what it can; further passes until the outbox is empty (at most 10,000 entries a batch behind)
      for (let i = 0; i < 10 * deliverEvery && (await probe.zcard(outboxKey(ACCOUNT, 'bench-trail', destination))) > 0; i++) {
        await timed(stage, () => handlers[stage](wake, fcContext(stage)));
      }
    }
  };
  for (const body of bodies) {
    const headers = signEventsPost(HOST, key, body);
    // FC's HTTP event with the body base64, as FC hands over a body it takes for binary (the
    // emulator passes UTF-8 JSON as text; base64 is the dearer of the two to decode)
    const event = eventBuffer(
      httpEvent('http-ingest-post', {
        body: Buffer.from(body).toString('base64'),
        isBase64Encoded: true,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        requestId: `1-${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 14)}`,
      }),
    );
    const answer = await timed('ingest', () => handlers.ingest(event, fcContext('ingest')));
    if (answer.statusCode !== 200) throw new Error(`ingest answered ${answer.statusCode}: ${answer.body}`);
    // the OSS event of the staging object the batch became
    const listed = await servers.s3.send(new ListObjectsV2Command({ Bucket: STAGING_BUCKET, Prefix: 'inbox/' }));
    const object = (listed.Contents ?? []).find((o) => !seen.has(o.Key as string));
    if (!object?.Key) throw new Error('no staging object for the batch');
    seen.add(object.Key);
    const oss = sampleEvent<{ events: { oss: { object: Record<string, unknown> } }[] }>('oss-inbox');
    const notice = oss.events[0] as { oss: { object: Record<string, unknown> } };
    notice.oss.object = { ...notice.oss.object, key: object.Key, eTag: (object.ETag ?? '').replace(/"/g, ''), size: object.Size ?? 0 };
    const classified = eventBuffer(oss);
    await timed('classify', () => handlers.classify(classified, fcContext('classify')));
    if (++batches % deliverEvery === 0 || batches === bodies.length) await deliverAll();
  }
  await timed('summarize-cron', () => handlers['summarize-cron'](eventBuffer(sampleEvent('timer-summarize')), fcContext('summarize-cron')));
  await timed('deliver-oss flush', () => handlers['deliver-oss'](eventBuffer(sampleEvent('timer-flush')), fcContext('deliver-oss')));
  return costs;
}

const runs: Record<Stage, Cost>[] = [];
try {
  for (let r = 0; r < repeats; r++) runs.push(await pass());
  if (values.aof) {
    // everything is in the file once Redis has written its buffer (appendfsync everysec)
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const aof = aofFamilies(path.join(servers.redisDataDir, 'appendonlydir'));
    const events = total * repeats;
    console.log(`\nRedis's AOF over the run: ${(aof.bytes / 1e6).toFixed(1)} MB, ${Math.round(aof.bytes / events).toLocaleString('en-US')} B an event (${aof.commands.toLocaleString('en-US')} commands; scripts appear as the commands they ran)`);
    printTable(['command and key family', 'commands an event', 'B an event'], aof.families.slice(0, 20).map((f) => [f.family, (f.commands / events).toFixed(3), Math.round(f.bytes / events)]));
  }
} finally {
  stub.close();
  probe.disconnect();
  await services.redis.quit();
  await servers.stop();
}

const us = (seconds: number, events: number) => ((seconds / events) * 1e6).toFixed(1);
const rows: (string | number)[][] = [];
for (const stage of STAGES) {
  const best = runs.map((r) => r[stage]).sort((a, b) => a.node + a.redis + a.s3 - (b.node + b.redis + b.s3))[0] as Cost;
  rows.push([stage, us(best.node, total), us(best.redis, total), us(best.s3, total), us(best.node + best.redis + best.s3, total), us(best.wall / 1000, total)]);
}
const sum = (pick: (c: Cost) => number) => Math.min(...runs.map((r) => STAGES.reduce((a, s) => a + pick(r[s]), 0) / total)) * 1e6;
rows.push(['all (lowest run)', sum((c) => c.node).toFixed(1), sum((c) => c.redis).toFixed(1), sum((c) => c.s3).toFixed(1), sum((c) => c.node + c.redis + c.s3).toFixed(1), sum((c) => c.wall / 1000).toFixed(1)]);
console.log(`${total.toLocaleString('en-US')} events in batches of ${batchSize}, ${repeats} passes (lowest CPU an event of each function over the runs)`);
printTable(['function', 'this process µs/event', 'Redis µs/event', 'S3 server µs/event', 'CPU µs/event', 'wall µs/event'], rows);
if (values.profile) {
  console.log(`\nRedis time by function and command or script, µs an event (the slow log's execution times over all ${repeats} passes)`);
  const profile: (string | number)[][] = [];
  for (const [stage, byName] of redisTime) {
    for (const [name, e] of [...byName].sort((a, b) => b[1].usec - a[1].usec).slice(0, 8)) {
      profile.push([stage, name, (e.calls / (total * repeats)).toFixed(3), (e.usec / (total * repeats)).toFixed(1)]);
    }
  }
  printTable(['function', 'command or script', 'calls an event', 'µs an event'], profile);
}
process.exit(0);
