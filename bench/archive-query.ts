/**
 * `npm run bench -- archive-query [--events 1000000] [--days 30] [--runs 3]`: an aggregation over a
 * trail's archive (docs/design.md §3.13 "Over the archive"; goal: 30 days and 1,000,000 archived
 * events in ≤ 5 s).
 *
 * A private S3 server (the embedded s3rver) gets `--events` events over `--days` closed days,
 * written as the archive deliverer writes them — gzip JSON arrays of 1,000 events in
 * ActionTrail's layout (archiveFileKey) with signed hourly digests (createDigestDocument,
 * signDigest) — then the archive executor (runArchiveQuery: listing, the local object cache,
 * DuckDB) answers queries over the whole range:
 *  - raw: every day read from its gzip files; cold (empty cache: downloads included) and warm;
 *  - compacted: after compaction (compactArchives: verify against the digests, one Parquet file
 *    per day), cold (a new cache and engine) and warm.
 * Prints one Markdown table (median of `--runs` warm runs; cold runs once each), with where each
 * run's time went: listing and manifest reads (bucket), the object cache (downloads and checks)
 * and the DuckDB statement. `--skip-raw` measures only the compacted days (the raw files are
 * still written: compaction reads them). `--reuse DIR` keeps the S3 server's data in DIR and, when
 * DIR already holds a seeded and compacted archive from an earlier `--reuse` run of the same
 * `--events`/`--days`, skips seeding and compaction (to iterate on the query path; raw days are
 * then not measured: they are compacted).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ArchiveBucket, archiveQueryScopesOf, archiveScopesOf, cachedScopes } from '../adapters/archive/archive-bucket.ts';
import { S3ObjectCache } from '../adapters/archive/object-cache.ts';
import { putArchiveObject } from '../adapters/archive/s3-archive.ts';
import { DuckDbEngine } from '../adapters/duckdb/engine.ts';
import { generateS3Credentials } from '../emulator/s3/embedded.ts';
import { freePort, startS3 } from '../emulator/stack/processes.ts';
import { createDigestDocument, describeArchiveFile, generateSigningKeyPair, linkTo, publicKeyFingerprint, serialiseSignedDigest, signDigest, type PreviousDigestLink } from '../shared/archive/digest.ts';
import { archiveFileKey, DAY_MS, digestKey, HOUR_MS } from '../shared/archive/layout.ts';
import { manifestCache, runArchiveQuery, type ArchiveQueryPorts } from '../shared/archive-query/archive-query.ts';
import { compactArchives } from '../shared/archive-query/compaction.ts';
import { parseQuery } from '../shared/query/parser.ts';
import { trailSchema } from '../shared/trails/model.ts';
import { printTable } from './lib/report.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    'skip-raw': { type: 'boolean', default: false },
    reuse: { type: 'string' },
  },
});
const EVENTS = Number(values.events);
const DAYS = Number(values.days);
const RUNS = Number(values.runs);
const FILE_EVENTS = 1000;
const ACCOUNT = '1234567890123456';
const BUCKET = 'tk-bench-archive';
const REGION = 'cn-hangzhou';
const PUT_CONCURRENCY = 16;

const QUERIES = {
  'the issue query (errorCode, not sourceIpAddress, group by accessKeyId)':
    'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc',
  'count by day': "* | select date_trunc('day', event.eventTime) as d, count(*) as n group by d order by d",
  'a field kept only in the event JSON (requestParameters.InstanceId)': 'event.requestParameters.InstanceId: i-00* | select count(*) as n',
};

const USERS = Array.from({ length: 50 }, (_, i) => ({ user: `user${i}`, key: `LTAI5tBench${String(i).padStart(4, '0')}` }));
const NAMES = [['Ecs', 'StopInstance'], ['Ecs', 'DescribeInstances'], ['Ram', 'CreateUser'], ['Oss', 'GetBucketAcl'], ['Sts', 'AssumeRole']] as const;

function eventAt(i: number, timeMs: number): Record<string, unknown> {
  const u = USERS[i % USERS.length] as (typeof USERS)[number];
  const [serviceName, eventName] = NAMES[i % NAMES.length] as (typeof NAMES)[number];
  const t = new Date(timeMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    eventId: `bench-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(36)}`,
    eventVersion: 1,
    eventTime: t,
    eventType: 'ApiCall',
    eventCategory: 'Management',
    eventName,
    eventSource: `${serviceName.toLowerCase()}.aliyuncs.com`,
    eventRW: i % 3 === 0 ? 'Write' : 'Read',
    serviceName,
    acsRegion: REGION,
    sourceIpAddress: `${i % 4 === 0 ? '10' : '47'}.${i % 250}.${(i >> 8) % 250}.${i % 199}`,
    userAgent: 'aliyun-sdk-java/4.5.0 Java/1.8.0 Linux/5.10',
    requestId: createHash('md5').update(String(i)).digest('hex'),
    apiVersion: '2014-05-26',
    ...(i % 7 === 0 ? { errorCode: i % 14 === 0 ? 'Forbidden.RAM' : 'Forbidden', errorMessage: 'You are not authorized to do this action.' } : {}),
    requestParameters: { RegionId: REGION, InstanceId: `i-${(i % 5000).toString().padStart(4, '0')}` },
    referencedResources: { 'ACS::ECS::Instance': [`i-${(i % 5000).toString().padStart(4, '0')}`] },
    userIdentity: { type: 'ram-user', principalId: `20${i % 50}`, accountId: ACCOUNT, accessKeyId: u.key, userName: u.user, sessionContext: { attributes: { mfaAuthenticated: 'false', creationDate: t } } },
  };
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const reuse = values.reuse ? path.resolve(values.reuse) : undefined;
  if (reuse) mkdirSync(reuse, { recursive: true });
  const dir = reuse ?? mkdtempSync(path.join(os.tmpdir(), 'tk-bench-archive-'));
  const stateFile = path.join(dir, `state-${EVENTS}-${DAYS}.json`);
  const reused = reuse && existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { first: number; files: number; bytes: number }) : undefined;
  const credentials = generateS3Credentials();
  const server = await startS3({ port: await freePort(), dir: path.join(dir, 's3'), buckets: [BUCKET], credentials });
  const s3 = new S3Client({ endpoint: server.url, region: REGION, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const first = reused?.first ?? today - DAYS * DAY_MS;
    const trail = trailSchema.parse({ name: 'bench-trail', accountId: ACCOUNT, homeRegion: REGION, eventRW: 'All', ossBucketName: BUCKET, status: 'Enable', createdAtMs: first - DAY_MS, updatedAtMs: first - DAY_MS });
    const keys = generateSigningKeyPair();
    const fingerprint = publicKeyFingerprint(keys.publicKeyPem);

    // The archive: files of FILE_EVENTS events, delivered a second after their last event, and a digest per hour.
    const seed = await timed(async () => {
      if (reused) return { files: reused.files, bytes: reused.bytes };
      const step = (DAYS * DAY_MS) / EVENTS;
      const files: { hour: number; key: string; body: Buffer; entry: ReturnType<typeof describeArchiveFile> }[] = [];
      const fileCount = Math.ceil(EVENTS / FILE_EVENTS);
      await mapLimit(Array.from({ length: fileCount }, (_, f) => f), PUT_CONCURRENCY, async (f) => {
        const events = [];
        for (let i = f * FILE_EVENTS; i < Math.min(EVENTS, (f + 1) * FILE_EVENTS); i += 1) events.push(eventAt(i, first + Math.floor(i * step)));
        const body = gzipSync(Buffer.from(JSON.stringify(events)));
        const deliveredAt = new Date(Math.min(Date.parse(String(events[events.length - 1]?.['eventTime'])) + 1_000, first + DAYS * DAY_MS - 1_000));
        const key = archiveFileKey({ region: REGION, deliveredAt, eventCount: events.length, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
        await putArchiveObject(s3, BUCKET, key, body);
        files.push({ hour: Math.floor(deliveredAt.getTime() / HOUR_MS) * HOUR_MS, key, body, entry: describeArchiveFile({ key, body, events: events as { eventTime: string }[] }) });
      });
      let previous: PreviousDigestLink | null = null;
      for (let hour = first; hour < first + DAYS * DAY_MS; hour += HOUR_MS) {
        const doc = createDigestDocument({ trailName: trail.name, accountId: ACCOUNT, region: REGION, hour: new Date(hour), files: files.filter((x) => x.hour === hour).map((x) => x.entry), previous, publicKeyFingerprint: fingerprint });
        const text = serialiseSignedDigest(signDigest(doc, keys.privateKeyPem));
        const key = digestKey({ region: REGION, accountId: ACCOUNT, trailName: trail.name, hourStart: new Date(hour) });
        await putArchiveObject(s3, BUCKET, key, text);
        previous = linkTo(key, text);
      }
      return { files: files.length, bytes: files.reduce((n, x) => n + x.body.byteLength, 0) };
    });

    // where a run's time goes: per port, from its first call's start to its last call's end
    // (the executor's phases run one after the other; calls within a phase overlap)
    type Phase = 'scopes' | 'bucket' | 'cache' | 'engine';
    const phases = new Map<Phase, { from: number; to: number }>();
    const note = (phase: Phase, from: number, to: number) => {
      const seen = phases.get(phase);
      phases.set(phase, seen ? { from: Math.min(seen.from, from), to: Math.max(seen.to, to) } : { from, to });
    };
    const timedPort = <T extends object>(target: T, phase: Phase): T =>
      new Proxy(target, {
        get(t, name, receiver) {
          const value: unknown = Reflect.get(t, name, receiver);
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            const start = performance.now();
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(t, args);
            } finally {
              note(phase, start, performance.now());
            }
          };
        },
      });
    const bucket = timedPort(new S3ArchiveBucket(s3), 'bucket');
    let run = 0;
    const fresh = () => {
      const cacheDir = path.join(dir, `cache-${process.pid}-${run++}`);
      return { cache: timedPort(new S3ObjectCache(s3, cacheDir), 'cache'), engine: timedPort(new DuckDbEngine({ directory: cacheDir }), 'engine') };
    };
    // as lookup-http wires it (adapters/archive-query-wiring.ts): scopes reused for a minute; a
    // cold run starts with none
    const portsOf = (local: ReturnType<typeof fresh>): ArchiveQueryPorts => ({
      getTrail: async (accountId, name) => (accountId === ACCOUNT && name === trail.name ? trail : undefined),
      scopes: cachedScopes(async (t) => {
        const start = performance.now();
        try {
          return await archiveQueryScopesOf(s3, t);
        } finally {
          note('scopes', start, performance.now());
        }
      }),
      bucket,
      ...local,
      manifest: manifestCache(bucket),
      now: () => Date.now(),
      // Measured to the end, however long (the product stops a statement after ARCHIVE_QUERY_TIMEOUT_MS).
      timeoutMs: 600_000,
    });
    const ask = (ports: ArchiveQueryPorts, query: string) =>
      runArchiveQuery({ accountId: ACCOUNT, trailName: trail.name, plan: parseQuery(query), fromMs: first, toMs: first + DAYS * DAY_MS }, ports);

    const rows: (string | number)[][] = [];
    const split = () => {
      const wall = (phase: Phase) => {
        const p = phases.get(phase);
        return p ? seconds(p.to - p.from) : '0 s';
      };
      const out = `scopes ${wall('scopes')}, list+manifests ${wall('bucket')}, cache ${wall('cache')}, engine ${wall('engine')}`;
      phases.clear();
      return out;
    };
    const measure = async (label: string, query: string, kind: 'raw' | 'compacted') => {
      const ports = portsOf(fresh());
      split();
      const cold = await timed(() => ask(ports, query));
      const coldSplit = split();
      const warm: { ms: number; split: string }[] = [];
      let answer = cold.value;
      for (let r = 0; r < RUNS; r += 1) {
        const t = await timed(() => ask(ports, query));
        warm.push({ ms: t.ms, split: split() });
        answer = t.value;
      }
      const s = answer.stats;
      const first = answer.kind === 'rows' ? JSON.stringify(answer.rows[0]) : '';
      const mid = [...warm].sort((a, b) => a.ms - b.ms)[Math.floor(warm.length / 2)];
      rows.push([label, kind, `${s.compactedDays} compacted + ${s.rawDays} raw days, ${(s.bytes / 1e6).toFixed(1)} MB`, `${seconds(cold.ms)} (${coldSplit})`, `${seconds(median(warm.map((w) => w.ms)))} (${mid?.split ?? ''})`, first]);
    };

    // a reused archive is compacted already: its days would be read from Parquet
    if (!values['skip-raw'] && !reused) for (const [label, query] of Object.entries(QUERIES)) await measure(label, query, 'raw');
    const local = fresh();
    const compaction = await timed(async () =>
      reused ? { days: Array.from({ length: DAYS }, () => ({ outcome: 'compacted' })) } : compactArchives(
        { trails: async () => [trail], scopes: (t) => archiveScopesOf(s3, t), bucket, ...local, publicKeyPem: async () => keys.publicKeyPem, now: () => Date.now(), log: { info: () => undefined, warn: (m, f) => console.warn(m, f) } },
        { fromDayMs: first, toDayMs: first + (DAYS - 1) * DAY_MS },
      ),
    );
    const compacted = compaction.value.days.filter((d) => d.outcome === 'compacted').length;
    if (reuse && !reused) writeFileSync(stateFile, JSON.stringify({ first, ...seed.value }));
    for (const [label, query] of Object.entries(QUERIES)) await measure(label, query, 'compacted');

    process.stdout.write(
      `${EVENTS.toLocaleString('en-US')} events over ${DAYS} days in ${seed.value.files} archive files (${(seed.value.bytes / 1e6).toFixed(1)} MB gzip), written in ${seconds(seed.ms)}; ` +
        `${reused ? `(reused from ${dir}) ` : ''}compaction of ${compacted} days in ${seconds(compaction.ms)}. Cold: a new cache folder and engine (downloads from the S3 server included); warm: median of ${RUNS}.\n\n`,
    );
    printTable(['query', 'read from', 'files read', 'cold', 'warm', 'first row'], rows);
  } finally {
    s3.destroy();
    await server.stop();
    if (reuse) {
      for (const name of readdirSync(dir)) if (name.startsWith(`cache-${process.pid}-`)) rmSync(path.join(dir, name), { recursive: true, force: true });
    } else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
