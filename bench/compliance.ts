/**
 * The compliance report's cost (docs/design.md §3.11): how long GetComplianceReport's use case
 * takes for a busy account, and where the time goes — the digest check (reads and hashes every
 * archive file of the last 24 hours) and the governance scans of history (bounded at
 * MAX_GOVERNANCE_SCAN_EVENTS each).
 *
 *   npm run bench -- compliance [--events 200000] [--logons 6000] [--files-per-hour 60] [--runs 5]
 *
 * Starts a private redis-server and S3 server, loads N synthetic events over 90 days
 * (bench/history-memory.ts's generator) plus `logons` console logons (a tenth root, a third
 * without MFA) into one account's history, and writes 24 hours of one trail's archive — files of
 * 20 events, `files-per-hour` an hour, each hour's Ed25519-signed digest chained to the last.
 * Then times getComplianceReport in this process (the use case lookup-http serves, without the
 * HTTP hop), with its ports wired as adapters/compliance/ports.ts wires them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { S3ArchiveReader } from '../adapters/archive/s3-archive.ts';
import { bucketSettings } from '../adapters/compliance/bucket-settings.ts';
import { generateS3Credentials } from '../emulator/s3/embedded.ts';
import { freePort, startRedis, startS3 } from '../emulator/stack/processes.ts';
import { createDigestDocument, describeArchiveFile, generateSigningKeyPair, linkTo, publicKeyFingerprint, serialiseSignedDigest, signDigest, type DigestFileEntry, type PreviousDigestLink } from '../shared/archive/digest.ts';
import { archiveFileKey, digestKey, HOUR_MS, hourStartOf } from '../shared/archive/layout.ts';
import { verifyTrailArchive } from '../shared/archive/verify-trail.ts';
import { getComplianceReport, type ComplianceActionPorts } from '../shared/compliance/compliance-action.ts';
import { known, MAX_GOVERNANCE_SCAN_EVENTS } from '../shared/compliance/facts.ts';
import type { ComplianceReport } from '../shared/compliance/report.ts';
import type { HistoryRecord } from '../shared/history/history-store.ts';
import { trailSchema } from '../shared/trails/model.ts';
import { recordOf, syntheticEvents } from './history-memory.ts';
import { percentile, printTable } from './lib/report.ts';

const DAY = 86_400_000;
const ACCOUNT = '1234567890123456';
const BUCKET = 'bench-compliance-logs';
const REGION = 'cn-hangzhou';
const EVENTS_PER_FILE = 20;

interface Options {
  events: number;
  logons: number;
  'files-per-hour': number;
  runs: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { events: 200_000, logons: 6_000, 'files-per-hour': 60, runs: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (name in options && Number.isInteger(value) && value >= 0) options[name] = value;
    else throw new Error(`usage: npm run bench -- compliance [--events N] [--logons N] [--files-per-hour N] [--runs N] (bad ${argv[i]})`);
  }
  return options;
}

const utc = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;

function logon(n: number, timeMs: number): Record<string, unknown> {
  const root = n % 10 === 0;
  return {
    eventId: `bench-logon-${n}`,
    eventVersion: 1,
    eventTime: utc(timeMs),
    eventType: 'ConsoleSignin',
    eventName: 'ConsoleSignin',
    eventSource: 'signin.aliyun.com',
    serviceName: 'AasSub',
    eventRW: 'Write',
    acsRegion: REGION,
    sourceIpAddress: `198.51.100.${n % 250}`,
    requestId: `bench-logon-req-${n}`,
    referencedResources: {},
    userIdentity: root ? { type: 'root-account', principalId: ACCOUNT, accountId: ACCOUNT, userName: 'root' } : { type: 'ram-user', principalId: `20${n % 50}`, accountId: ACCOUNT, userName: `user${n % 50}` },
    additionalEventData: root ? { isMFAChecked: String(n % 3 !== 0) } : { mfaChecked: String(n % 3 !== 0) },
  };
}

async function loadHistory(history: RedisHistoryStore, options: Options, endMs: number): Promise<number> {
  let batch: HistoryRecord[] = [];
  let loaded = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await history.put(batch);
    loaded += batch.length;
    batch = [];
  };
  const add = async (raw: Record<string, unknown>) => {
    const record = recordOf(raw, ACCOUNT);
    if (!record) return;
    batch.push(record);
    if (batch.length === 1000) await flush();
  };
  for (const raw of syntheticEvents({ accountId: ACCOUNT, count: options.events, endMs, seed: 1 })) await add(raw);
  for (let n = 0; n < options.logons; n++) await add(logon(n, endMs - Math.floor(((n + 0.5) / Math.max(1, options.logons)) * 89 * DAY)));
  await flush();
  return loaded;
}

/** 24 hours of archive: files of EVENTS_PER_FILE events and each hour's signed digest, chained. */
async function writeArchive(s3: S3Client, keys: { privateKeyPem: string; publicKeyPem: string }, filesPerHour: number, nowMs: number): Promise<number> {
  const fingerprint = publicKeyFingerprint(keys.publicKeyPem);
  let previous: PreviousDigestLink | null = null;
  let files = 0;
  const firstHour = hourStartOf(new Date(nowMs - DAY)).getTime();
  // whole hours only: the current one has no digest yet
  for (let hour = firstHour; hour + HOUR_MS <= hourStartOf(new Date(nowMs)).getTime(); hour += HOUR_MS) {
    const entries: DigestFileEntry[] = [];
    await Promise.all(
      Array.from({ length: filesPerHour }, async (_v, f) => {
        const at = hour + Math.floor((f * HOUR_MS) / filesPerHour);
        const events = Array.from({ length: EVENTS_PER_FILE }, (_e, i) => ({ eventId: `bench-${hour}-${f}-${i}`, eventTime: utc(at + i), eventName: 'DescribeInstances', serviceName: 'Ecs' }));
        const body = gzipSync(JSON.stringify(events));
        const key = archiveFileKey({ region: REGION, deliveredAt: new Date(at), eventCount: events.length, fileSize: body.length, md5: createHash('md5').update(body).digest('hex') });
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
        entries.push(describeArchiveFile({ key, body, events }));
      }),
    );
    files += entries.length;
    const doc = createDigestDocument({ trailName: 'bench-trail', accountId: ACCOUNT, region: REGION, hour: new Date(hour), files: entries, previous, publicKeyFingerprint: fingerprint });
    const stored = serialiseSignedDigest(signDigest(doc, keys.privateKeyPem));
    const key = digestKey({ trailName: 'bench-trail', region: REGION, accountId: ACCOUNT, hourStart: new Date(hour) });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: stored }));
    previous = linkTo(key, stored);
  }
  return files;
}

async function main(): Promise<void> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compliance-bench-'));
  const credentials = generateS3Credentials();
  const redisServer = await startRedis({ port: await freePort(), dir: path.join(dir, 'redis'), config: { ...HISTORY_SERVER_CONFIG, appendonly: 'no' } });
  const s3Server = await startS3({ port: await freePort(), dir: path.join(dir, 's3'), buckets: [BUCKET], credentials });
  const redis = new Redis(redisServer.url, { enableAutoPipelining: true });
  const s3 = new S3Client({ endpoint: s3Server.url, region: REGION, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    const history = new RedisHistoryStore(redis);
    const nowMs = Date.now();
    console.log(`loading ${options.events.toLocaleString()} events + ${options.logons.toLocaleString()} console logons over 90 days, and 24 h of archive (${options['files-per-hour']} files an hour) …`);
    const t0 = performance.now();
    const loaded = await loadHistory(history, options, nowMs - 60_000);
    const keys = generateSigningKeyPair();
    const files = await writeArchive(s3, keys, options['files-per-hour'], nowMs);
    console.log(`loaded ${loaded.toLocaleString()} events and ${files.toLocaleString()} archive files in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);

    const trail = trailSchema.parse({ name: 'bench-trail', accountId: ACCOUNT, homeRegion: REGION, eventRW: 'All', trailRegion: 'All', ossBucketName: BUCKET, status: 'Enable', createdAtMs: nowMs - 2 * DAY, updatedAtMs: nowMs - 2 * DAY, startLoggingTimeMs: nowMs - 2 * DAY });
    const timings = { digest: [] as number[], lookups: 0, lookupMs: 0 };
    const ports: ComplianceActionPorts = {
      trailsOf: async (accountId) => (accountId === ACCOUNT ? [trail] : []),
      managementAccountOf: async () => undefined,
      membersOf: async () => [],
      deliveryStatus: async () => ({}),
      bucketSettings: (bucket) => bucketSettings(s3, bucket),
      logstoreRetentionDays: async () => known(180),
      verifyDigests: async (t, from, to) => {
        const start = performance.now();
        const report = await verifyTrailArchive({ reader: new S3ArchiveReader(s3, BUCKET), trail: t, from, to, publicKeyPem: keys.publicKeyPem, heads: [], now: to });
        timings.digest.push(performance.now() - start);
        return known({ ok: report.ok, from: report.from, to: report.to, digestsChecked: report.digestsChecked, filesChecked: report.filesChecked, problems: [], overdueHours: 0, pendingFiles: 0 });
      },
      history: {
        lookup: async (q) => {
          const start = performance.now();
          const page = await history.lookup(q);
          timings.lookups += 1;
          timings.lookupMs += performance.now() - start;
          return page;
        },
      },
      keysOf: async () => [],
      lastUses: async () => new Map(),
      archiveLockDays: 180,
      now: () => Date.now(),
    };
    const totals: number[] = [];
    let last: ComplianceReport | undefined;
    for (let run = 0; run < options.runs; run++) {
      const start = performance.now();
      last = (await getComplianceReport({}, { accountId: ACCOUNT }, ports)) as unknown as ComplianceReport;
      totals.push(performance.now() - start);
    }
    const digest = last?.Controls.find((c) => c.Id === 'BP-DIGEST-CHAIN');
    const logons = last?.Controls.find((c) => c.Id === 'GOV-ROOT-CONSOLE-LOGON');
    console.log(`last report: ${JSON.stringify(last?.Summary)}; digest: ${digest?.Status} ${digest?.Evidence[0] ?? ''}`);
    console.log(`root logons: ${logons?.Status}; ${logons?.Evidence.at(-1) ?? ''}\n`);
    const sorted = [...totals].sort((a, b) => a - b);
    const digestSorted = [...timings.digest].sort((a, b) => a - b);
    printTable(
      ['figure', 'measured'],
      [
        [`GetComplianceReport use case, ${loaded.toLocaleString()} events in history, ${files.toLocaleString()} archive files in 24 h (${options.runs} runs)`, `p50 ${fmt(percentile(sorted, 50))}, max ${fmt(sorted.at(-1) ?? NaN)}`],
        [`of which the digest check (${files.toLocaleString()} files read and hashed, 24 digests)`, `p50 ${fmt(percentile(digestSorted, 50))}, max ${fmt(digestSorted.at(-1) ?? NaN)}`],
        [`history pages read per report (4 scans, ≤ ${MAX_GOVERNANCE_SCAN_EVENTS.toLocaleString()} events each)`, `${(timings.lookups / options.runs).toFixed(0)} pages, ${fmt(timings.lookupMs / options.runs)} summed (the scans run concurrently)`],
      ],
    );
  } finally {
    redis.disconnect();
    s3.destroy();
    await s3Server.stop();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
