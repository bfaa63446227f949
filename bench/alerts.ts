/**
 * Alerts benchmarks (docs/design.md §3.12; issue 14 "Alert rules"):
 *   latency  event ingested → notification received, through a private running stack (real Redis,
 *            real S3 server, the emulator on the product's s.yaml with its timers on, as `npm start`
 *            runs it): a DingTalk-signed channel to a receiver this process starts, the
 *            logon-without-mfa template; each sample ingests one console logon without MFA of a new
 *            user (so the hourly de-duplication never holds one back) at a random moment, under a
 *            steady background stream of ordinary events; the time from the ingest request sent to
 *            the notification's arrival (signature checked);
 *   match    the matcher's cost per analysis row (what classify's analysis and insights-cron's drain
 *            add per row), in this process against a private Redis: batches of the ingest mix with
 *            no rules, and with every built-in template plus custom rules enabled.
 * Run: `npm run bench -- alerts [--part latency|match|all] [--samples 20] [--background 200] [--rows 50000] [--rules 12]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { callRpc, postEvents, type Credentials } from '../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { HISTORY_SERVER_CONFIG } from '../adapters/redis/history-store.ts';
import { RedisAlertStore } from '../adapters/redis/alerts-store.ts';
import { AlertMatcher } from '../shared/alerts/engine.ts';
import { ALERT_TEMPLATES } from '../shared/alerts/templates.ts';
import type { AnalysisRow } from '../shared/analysis/analysis-row.ts';
import { sampleEvent, sampleEvents } from '../scripts/lib/sample-events.ts';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import { productProject, startTestStack } from '../test/helpers/stack.ts';
import { startAlertReceiver } from '../test/helpers/alert-receiver.ts';
import { percentile, printTable } from './lib/report.ts';
import { sampleAnalysisRow } from './lib/sample-row.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const ACCOUNT = '1234567890123456';
const DING_SECRET = 'SECbench0123456789abcdefghijklmnopqrstuvwxyz012';
const MATCH_BATCH = 5000;

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    samples: { type: 'string', default: '20' },
    /** ordinary events/s ingested meanwhile (latency) */
    background: { type: 'string', default: '200' },
    rows: { type: 'string', default: '50000' },
    rules: { type: 'string', default: '12' },
    repeats: { type: 'string', default: '3' },
  },
  allowPositionals: true,
});
const parts = values.part === 'all' ? ['match', 'latency'] : String(values.part).split(',');
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isoSecond = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ───────────────────────────── latency through the stack ─────────────────────────────
async function benchLatency(): Promise<(string | number)[][]> {
  await buildFunctions(loadProject(productProject, { env: {}, accountId: 'ACCOUNT_ID', lenient: true }).functions);
  const stack = await startTestStack({
    project: productProject,
    buckets: ['trailkeeper-staging', 'trailkeeper-archive'],
    env: { TK_LOG_LEVEL: 'error', TK_ALERTS_ALLOW_PRIVATE_NETWORKS: 'true' },
    emulator: { timers: true, warm: true },
  });
  const redis = new Redis(stack.redisUrl);
  const receiver = await startAlertReceiver({ dingTalkSecret: DING_SECRET });
  let stopBackground = false;
  try {
    const key: Credentials = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
    const lookup = stack.emulator.httpUrls['lookup-http'] as string;
    const ingestUrl = stack.emulator.httpUrls['ingest'] as string;
    const channel = (await (await callRpc(lookup, key, { Action: 'CreateAlertChannel', Name: 'bench', Type: 'dingtalk', WebhookUrl: `${receiver.url}/dingtalk/bench?access_token=t`, Secret: DING_SECRET })).json()) as { Channel: { ChannelId: string } };
    const rule = await callRpc(lookup, key, { Action: 'CreateAlertRule', Name: 'No MFA', Template: 'logon-without-mfa', ChannelIds: JSON.stringify([channel.Channel.ChannelId]) });
    if (rule.status !== 200) throw new Error(`CreateAlertRule: ${rule.status} ${await rule.text()}`);

    const rate = Number(values.background);
    const background = (async () => {
      let n = 0;
      while (!stopBackground && rate > 0) {
        const t0 = Date.now();
        const batch = sampleEvents(ACCOUNT, rate, new Date()).map((e) => ({ ...e, eventTime: isoSecond(Date.now()) }));
        n += batch.length;
        await postEvents(ingestUrl, key, JSON.stringify(batch)).catch(() => undefined);
        await sleep(Math.max(0, 1000 - (Date.now() - t0)));
      }
      return n;
    })();
    await sleep(5_000);

    const samples: number[] = [];
    const total = Number(values.samples);
    for (let i = 0; i < total; i++) {
      await sleep(Math.floor(Math.random() * 20_000));
      const user = `bench-user-${i}-${Math.random().toString(36).slice(2, 8)}`;
      const base = sampleEvent(ACCOUNT, i) as Record<string, unknown>;
      const signin = {
        ...base,
        eventName: 'ConsoleSignin',
        eventType: 'ConsoleSignin',
        serviceName: 'AasSub',
        eventTime: isoSecond(Date.now()),
        additionalEventData: { mfaChecked: 'false' },
        userIdentity: { ...(base['userIdentity'] as object), type: 'ram-user', userName: user },
      };
      const sent = Date.now();
      const res = await postEvents(ingestUrl, key, JSON.stringify([signin]));
      if (res.status !== 200) throw new Error(`ingest ${res.status}`);
      const deadline = sent + 180_000;
      for (;;) {
        const got = receiver.received.find((r) => JSON.stringify(r.body).includes(user));
        if (got) {
          if (got.signatureValid !== true) throw new Error('a notification with a bad signature');
          samples.push(got.receivedAtMs - sent);
          process.stderr.write(`sample ${i + 1}/${total}: ${got.receivedAtMs - sent} ms\n`);
          break;
        }
        if (Date.now() > deadline) throw new Error(`no notification for sample ${i + 1} within 180 s`);
        await sleep(20);
      }
    }
    stopBackground = true;
    const sentBackground = await background;
    return [
      [`event ingested → DingTalk notification received, ${total} samples (background ${fmt(rate)} events/s, ${fmt(sentBackground)} sent), p50`, `${fmt(percentile(samples, 50) / 1000, 2)} s`, ''],
      ['… p99', `${fmt(percentile(samples, 99) / 1000, 2)} s`, '≤ 90 s'],
      ['… max', `${fmt(Math.max(...samples) / 1000, 2)} s`, ''],
    ];
  } finally {
    stopBackground = true;
    await receiver.close();
    redis.disconnect();
    await stack.stop();
  }
}

// ───────────────────────────── matcher cost per row ─────────────────────────────

async function benchMatch(): Promise<(string | number)[][]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-bench-alerts-'));
  const server = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: HISTORY_SERVER_CONFIG });
  const redis = new Redis(server.url);
  const store = new RedisAlertStore(redis);
  const total = Number(values.rows);
  const ruleCount = Number(values.rules);
  const out: (string | number)[][] = [];
  try {
    const now = Date.now();
    const rows = Array.from({ length: total }, (_v, i) => sampleAnalysisRow(ACCOUNT, i, now - 60_000 + (i % 60_000), { errorCode: i % 50 === 0 ? 'Forbidden.RAM' : '' }));
    for (const withRules of [false, true]) {
      await redis.flushall();
      if (withRules) {
        const specs = ALERT_TEMPLATES.map((t) => ({ name: t.name, ...t.expand(t.id === 'logon-unauthorized-ip' ? { allowlist: ['10.0.0.0/8'] } : t.defaults) }));
        for (let i = 0; specs.length < ruleCount; i++) specs.push({ name: `custom ${i}`, condition: { and: [{ field: 'serviceName', equals: 'Ecs' }, { field: 'eventName', in: [`DeleteThing${i}`, 'DeleteInstance'] }] }, threshold: 1, windowMinutes: 1 });
        for (const [i, s] of specs.slice(0, ruleCount).entries()) {
          await store.putRule({ id: `ar-${String(i).padStart(16, '0')}`, accountId: ACCOUNT, name: s.name, enabled: true, condition: s.condition, threshold: s.threshold, windowMinutes: s.windowMinutes, ...(s.groupBy ? { groupBy: s.groupBy } : {}), channelIds: [], createdAtMs: now, updatedAtMs: now });
        }
      }
      const runs: { us: number; matched: number; commands: number }[] = [];
      for (let r = 0; r < Number(values.repeats); r++) {
        await redis.del(`{tk:${ACCOUNT}}:al:all`, `{tk:${ACCOUNT}}:al:pend`, `{tk:${ACCOUNT}}:al:ev`);
        const matcher = new AlertMatcher(store);
        await redis.config('RESETSTAT');
        const cpu0 = process.cpuUsage();
        let matched = 0;
        for (let i = 0; i < total; i += MATCH_BATCH) matched += (await matcher.match(ACCOUNT, rows.slice(i, i + MATCH_BATCH))).recorded;
        const cpu = process.cpuUsage(cpu0);
        const commands = [...(await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter((m) => m[1] !== 'config' && m[1] !== 'info').reduce((s, m) => s + Number(m[2]), 0);
        runs.push({ us: (cpu.user + cpu.system) / total, matched, commands });
        process.stderr.write(`match ${withRules ? `${ruleCount} rules` : 'no rules'} repeat ${r + 1}: ${fmt((cpu.user + cpu.system) / total, 2)} µs/row, ${matched} matches, ${commands} Redis commands\n`);
      }
      const us = runs.map((x) => x.us);
      const last = runs.at(-1) as { matched: number; commands: number };
      out.push([
        `matcher per analysis row, ${withRules ? `${ruleCount} rules (every template + custom)` : 'no rules'}, batches of ${fmt(MATCH_BATCH)} (${fmt(total)} rows of the ingest mix)`,
        `${fmt(Math.min(...us), 2)}–${fmt(Math.max(...us), 2)} µs CPU; ${fmt(last.commands / (total / MATCH_BATCH), 1)} Redis commands per batch; ${fmt(last.matched)} matches`,
        '',
      ]);
    }
    return out;
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: (string | number)[][] = [];
for (const part of parts) {
  if (part === 'match') rows.push(...(await benchMatch()));
  else if (part === 'latency') rows.push(...(await benchLatency()));
  else throw new Error(`unknown part ${part}: latency, match or all`);
}
printTable(['figure', 'measured', 'goal'], rows);
