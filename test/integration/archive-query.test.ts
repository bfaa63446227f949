/**
 * Queries over a trail's archive end to end on a real Redis and S3 server (s3rver): events are
 * written to history and delivered to two accounts' trails by the archive deliverer
 * (deliverToArchives: files per day, signed hourly digests), then
 *  - RunAdvancedQuery Source=archive answers every query as Source=history does over the range
 *    both cover, and as the reference evaluator does over the stored events — before compaction
 *    (raw gzip files) and after (Parquet), so raw and compacted days agree;
 *  - compaction (compact-cron's use case) is idempotent, re-compacts a day when a late file
 *    arrives, and leaves out a file that differs from its digest;
 *  - no query reaches another account's trail or events (a foreign file put in a trail's folder
 *    included); hostile ranges are refused with a clear error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../adapters/wiring.ts';
import { archiveQueryPorts, compactionPorts } from '../../adapters/archive-query-wiring.ts';
import { archivePassPorts } from '../../adapters/wiring.ts';
import type { Log } from '../../adapters/fc/handler.ts';
import { archiveQueryPort } from '../../shared/archive-query/archive-port.ts';
import { compactArchives, type CompactionReport } from '../../shared/archive-query/compaction.ts';
import { compactedDayPrefix, compactedTrailPrefix, manifestKey, compactionManifestSchema } from '../../shared/archive-query/compacted-layout.ts';
import { archiveDayPrefix, archiveFileKey, DAY_MS } from '../../shared/archive/layout.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../../shared/classify/classify.ts';
import { deliverToArchives } from '../../shared/delivery/oss-delivery.ts';
import { eventTimeMs, parseEvent } from '../../shared/events/schema.ts';
import { historyRecordOf, type HistoryRecord } from '../../shared/history/history-store.ts';
import type { JsonText } from '../../shared/json-text.ts';
import { parseQuery } from '../../shared/query/parser.ts';
import { runAdvancedQuery, type RunQueryPorts } from '../../shared/query/run-query.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { fcContext, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';
import { oracle, roundNumbers, seededEvents, type SeededEvent } from '../helpers/archive-query-oracle.ts';
import { utcSeconds } from '../helpers/synthetic-event.ts';

const A = '1300000000000001';
const B = '1300000000000002';
const BUCKET_A = 'tk-archive-query-a';
const BUCKET_B = 'tk-archive-query-b';
const HOUR = 3_600_000;
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS;
/** The archived days: the three days before today (closed), events every 9 minutes. */
const FIRST_DAY = TODAY - 3 * DAY_MS;

const silent: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let servers: HandlerServers;
let services: Services;
let cacheDir: string;
let queryPorts: RunQueryPorts;
const stored = new Map<string, SeededEvent[]>();

function trailOf(accountId: string, name: string, bucket: string): Trail {
  return trailSchema.parse({
    name,
    accountId,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    ossBucketName: bucket,
    status: 'Enable',
    createdAtMs: FIRST_DAY - 7 * DAY_MS,
    updatedAtMs: FIRST_DAY - 7 * DAY_MS,
  });
}

/** The event as classify keeps it (what history stores and the trail receives). */
function recordOf(raw: SeededEvent, accountId: string): HistoryRecord {
  const parsed = parseEvent(raw);
  if (!parsed.ok) throw new Error(`seed event does not parse: ${JSON.stringify(parsed.issues)}`);
  const classified = classifyEvent(parsed.event);
  if (!classified.kept) throw new Error('seed event dropped');
  const event = classified.event;
  return historyRecordOf({ ...event, eventId: event.eventId ?? '' }, accountId, eventTimeMs(event), { types: resourceTypesOf(event), names: resourceNamesOf(event) });
}

/** Writes the events to history and delivers them to the trail, one delivery per day (files in that day's folder), then the digests. */
async function seedTrail(trail: Trail, raw: SeededEvent[]): Promise<void> {
  const records = raw.map((e) => recordOf(e, trail.accountId));
  await services.history.put(records);
  stored.set(trail.accountId, records.map((r) => JSON.parse(r.json) as SeededEvent));
  const ports = archivePassPorts(fcContext('deliver-oss'), silent, services);
  for (let day = FIRST_DAY; day < TODAY; day += DAY_MS) {
    const ofDay = records.filter((r) => r.eventTimeMs >= day && r.eventTimeMs < day + DAY_MS);
    await services.outbox.append(trail, ofDay.map((r) => ({ eventId: r.eventId, eventTimeMs: r.eventTimeMs, json: r.json })));
    const deliveredAt = Math.max(...ofDay.map((r) => r.eventTimeMs)) + 1_000;
    await deliverToArchives({ ...ports, now: () => deliveredAt }, { force: true });
    // The digests of the day's hours, as the next passes write them.
    for (let at = day + HOUR + 10 * 60_000; at <= day + DAY_MS + 2 * HOUR; at += 6 * HOUR) await deliverToArchives({ ...ports, now: () => at }, { force: true });
  }
}

beforeAll(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'tk-archive-cache-'));
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET, BUCKET_A, BUCKET_B], env: { TK_ARCHIVE_CACHE_DIR: cacheDir, TK_ARCHIVE_LOCK_DAYS: '0' } });
  services = (await import('../../adapters/wiring.ts')).getServices();
  const trailA = trailOf(A, 'audit-trail-a', BUCKET_A);
  const trailB = trailOf(B, 'audit-trail-b', BUCKET_B);
  await services.trails.create(trailA);
  await services.trails.create(trailB);
  // compact-cron finds accounts through their AccessKeys (as trails are created with one).
  await services.accounts.createKey(A);
  await services.accounts.createKey(B);
  await seedTrail(trailA, seededEvents({ accountId: A, count: 3 * 160, startMs: FIRST_DAY + 60_000, stepMs: 9 * 60_000, seed: 11, idPrefix: 'a' }));
  await seedTrail(trailB, seededEvents({ accountId: B, count: 3 * 40, startMs: FIRST_DAY + 120_000, stepMs: 36 * 60_000, seed: 12, idPrefix: 'b' }));
  const key = Buffer.alloc(32, 9);
  queryPorts = {
    history: services.history,
    accountsVisibleTo: async (accountId) => [accountId],
    tokenKey: async () => key,
    now: () => Date.now(),
    archiveQuery: archiveQueryPort({ ...archiveQueryPorts(services), tokenKey: async () => key }),
  };
}, 240_000);

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

const WINDOW = { StartTime: utcSeconds(FIRST_DAY), EndTime: utcSeconds(TODAY - 1_000) };

type Answer = { ids: string[] } | { columns: unknown; rows: unknown };

/** RunAdvancedQuery's answer, a search's pages followed to the end (ids in order). */
async function ask(caller: string, querySql: string, source: 'history' | 'archive', trailName = 'audit-trail-a'): Promise<Answer> {
  const base = { QuerySql: querySql, Source: source, ...WINDOW, ...(source === 'archive' ? { TrailName: trailName } : {}) };
  const first = await runAdvancedQuery({ ...base, MaxResults: '100' }, { accountId: caller }, queryPorts);
  if ('Rows' in first) return { columns: first['Columns'], rows: roundNumbers(first['Rows']) };
  const ids: string[] = [];
  let page: Record<string, unknown> = first;
  for (;;) {
    for (const e of page['Events'] as JsonText[]) ids.push((e.parse() as { eventId: string }).eventId);
    const next = page['NextToken'];
    if (typeof next !== 'string') break;
    page = await runAdvancedQuery({ ...base, MaxResults: '100', NextToken: next }, { accountId: caller }, queryPorts);
  }
  return { ids };
}

function expected(querySql: string, accountId = A): Answer {
  const answer = oracle(parseQuery(querySql), stored.get(accountId) ?? [], { fromMs: FIRST_DAY, toMs: TODAY });
  return answer.kind === 'events' ? { ids: answer.eventIds } : { columns: answer.columns, rows: roundNumbers(answer.rows) };
}

const QUERIES = [
  '*',
  'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.*',
  'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc',
  '(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser',
  'bob or event.additionalEventData.bytes > 100',
  "* | select date_trunc('hour', event.eventTime) as h, count(*) as n group by h order by h",
  '* | select event.eventVersion, count(distinct event.userIdentity.userName), sum(event.additionalEventData.bytes), max(event.isGlobal) group by 1',
  '* | select event.eventId, event.eventName order by 1 desc limit 30',
];

let compaction: CompactionReport;
const rawAnswers = new Map<string, Answer>();

async function compactNow(): Promise<CompactionReport> {
  return compactArchives(compactionPorts(silent, services, () => Math.max(Date.now(), TODAY + HOUR)));
}

async function compactedObjects(trail: { accountId: string; name: string }, bucket: string): Promise<string[]> {
  return (await services.s3.send(new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({ Bucket: bucket, Prefix: compactedTrailPrefix(trail) }))).Contents?.map((o) => `${o.Key}@${o.ETag}`).sort() ?? [];
}

describe('queries over the archive', () => {
  it('before compaction (raw archive files), every query answers as history and the reference evaluator do', async () => {
    for (const query of QUERIES) {
      const archive = await ask(A, query, 'archive');
      expect(archive, query).toEqual(expected(query));
      expect(await ask(A, query, 'history'), query).toEqual(archive);
      rawAnswers.set(query, archive);
    }
  }, 180_000);

  it('compaction writes one Parquet file and manifest per closed day, from digest-verified files', async () => {
    compaction = await compactNow();
    const ofA = compaction.days.filter((d) => d.accountId === A);
    // Both regions the events came from (an archive folder per region), each of the three closed days.
    const days = [2, 1, 0].map((back) => new Date(FIRST_DAY + back * DAY_MS).toISOString().slice(0, 10));
    expect(ofA.map((d) => [d.scope, d.day, d.outcome])).toEqual(['cn-hangzhou', 'cn-shanghai'].flatMap((scope) => days.map((day) => [scope, day, 'compacted'])));
    expect(compaction.days.filter((d) => d.accountId === B).every((d) => d.outcome === 'compacted')).toBe(true);
    const manifest = compactionManifestSchema.parse(JSON.parse((await servers.get(BUCKET_A, manifestKey({ accountId: A, name: 'audit-trail-a' }, { region: 'cn-hangzhou' }, new Date(FIRST_DAY))))?.toString('utf8') ?? '{}'));
    expect(manifest.sources.length).toBeGreaterThan(0);
    expect(manifest.sources.every((s) => s.digestKey !== undefined)).toBe(true);
    expect(manifest.excluded).toEqual([]);
    expect(manifest.parquet.rows).toBe(stored.get(A)?.filter((e) => Date.parse(e.eventTime) < FIRST_DAY + DAY_MS && e['acsRegion'] === 'cn-hangzhou').length);
  }, 180_000);

  it('a second compaction run changes nothing', async () => {
    const before = await compactedObjects({ accountId: A, name: 'audit-trail-a' }, BUCKET_A);
    const again = await compactNow();
    expect(again.days.every((d) => d.outcome === 'unchanged')).toBe(true);
    expect(await compactedObjects({ accountId: A, name: 'audit-trail-a' }, BUCKET_A)).toEqual(before);
  }, 120_000);

  it('after compaction (Parquet), every query answers exactly as before, and as history', async () => {
    for (const query of QUERIES) {
      const archive = await ask(A, query, 'archive');
      expect(archive, query).toEqual(rawAnswers.get(query));
      expect(archive, query).toEqual(await ask(A, query, 'history'));
    }
  }, 180_000);

  it('a late file in a compacted day is read raw at once, then compacted again (the older Parquet file removed)', async () => {
    const day = FIRST_DAY + DAY_MS;
    const late = stored.get(A)?.filter((e) => Date.parse(e.eventTime) >= day && Date.parse(e.eventTime) < day + DAY_MS).slice(0, 2) ?? [];
    const extra = { ...late[0], eventId: 'late-new-event', eventTime: new Date(day + 5 * HOUR + 30_000).toISOString().replace('.000Z', 'Z') } as SeededEvent;
    const body = gzipSync(Buffer.from(JSON.stringify([...late, extra])));
    const key = archiveFileKey({ region: 'cn-hangzhou', deliveredAt: new Date(day + 20 * HOUR), eventCount: 3, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
    await servers.put(BUCKET_A, key, body);
    stored.get(A)?.push(extra);
    const count = '* | select count(*) as n';
    const total = (stored.get(A) ?? []).length;
    expect(await ask(A, count, 'archive')).toEqual({ columns: ['n'], rows: [[total]] });
    const report = await compactNow();
    expect(report.days.find((d) => d.accountId === A && d.scope === 'cn-hangzhou' && d.day === new Date(day).toISOString().slice(0, 10))).toMatchObject({ outcome: 'compacted' });
    const parquets = (await servers.list(BUCKET_A, compactedDayPrefix({ accountId: A, name: 'audit-trail-a' }, { region: 'cn-hangzhou' }, new Date(day)))).filter((k) => k.endsWith('.parquet'));
    expect(parquets).toHaveLength(1);
    expect(await ask(A, count, 'archive')).toEqual({ columns: ['n'], rows: [[total]] });
  }, 180_000);

  it('a file that differs from its digest is left out of the compacted day and reported', async () => {
    const prefix = archiveDayPrefix({ region: 'cn-hangzhou' }, new Date(FIRST_DAY));
    const [victim] = (await servers.list(BUCKET_A, prefix)).filter((k) => k.endsWith('.gz'));
    expect(victim).toBeDefined();
    const original = (await servers.get(BUCKET_A, victim as string)) as Buffer;
    const forged = gzipSync(Buffer.from(JSON.stringify([{ ...(stored.get(A)?.[0] ?? {}), eventName: 'Forged' }])));
    await servers.put(BUCKET_A, victim as string, forged);
    await compactNow();
    const manifest = compactionManifestSchema.parse(JSON.parse((await servers.get(BUCKET_A, manifestKey({ accountId: A, name: 'audit-trail-a' }, { region: 'cn-hangzhou' }, new Date(FIRST_DAY))))?.toString('utf8') ?? '{}'));
    expect(manifest.excluded).toEqual([expect.objectContaining({ key: victim, reason: 'modified' })]);
    expect(await ask(A, 'event.eventName: Forged', 'archive')).toEqual({ ids: [] });
    // Put back as it was: the day is compacted again from it.
    await servers.put(BUCKET_A, victim as string, original);
    await compactNow();
    expect(await ask(A, '* | select count(*) as n', 'archive')).toEqual({ columns: ['n'], rows: [[stored.get(A)?.length]] });
  }, 180_000);
});

describe('isolation and bounds', () => {
  it("no account reads another account's trail: the name is not found", async () => {
    await expect(ask(B, '*', 'archive', 'audit-trail-a')).rejects.toMatchObject({ code: 'TrailNotFoundException' });
    expect(await ask(B, '* | select count(*) as n', 'archive', 'audit-trail-b')).toEqual({ columns: ['n'], rows: [[stored.get(B)?.length]] });
  }, 60_000);

  it("another account's events put in a trail's folder are never answered", async () => {
    const day = TODAY - DAY_MS;
    const intruders = seededEvents({ accountId: B, count: 5, startMs: day + HOUR, stepMs: 60_000, seed: 99, idPrefix: 'intruder' });
    const body = gzipSync(Buffer.from(JSON.stringify(intruders)));
    const key = archiveFileKey({ region: 'cn-hangzhou', deliveredAt: new Date(day + 2 * HOUR), eventCount: 5, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
    await servers.put(BUCKET_A, key, body);
    for (let pass = 0; pass < 2; pass += 1) {
      expect(await ask(A, 'event.eventId: intruder*', 'archive')).toEqual({ ids: [] });
      expect(await ask(A, '* | select event.userIdentity.accountId, count(*) group by 1', 'archive')).toEqual({ columns: ['event.userIdentity.accountId', 'count(*)'], rows: [[A, stored.get(A)?.length]] });
      await compactNow();
    }
  }, 180_000);

  it('a range of more folder days than an archive query may read is refused naming the field', async () => {
    const old = trailOf(A, 'ancient-trail', BUCKET_A);
    await services.trails.create({ ...old, createdAtMs: TODAY - 900 * DAY_MS });
    await expect(
      runAdvancedQuery({ QuerySql: '*', Source: 'archive', TrailName: 'ancient-trail', StartTime: utcSeconds(TODAY - 800 * DAY_MS), EndTime: utcSeconds(TODAY) }, { accountId: A }, queryPorts),
    ).rejects.toMatchObject({ code: 'InvalidParameter', field: 'StartTime' });
  }, 60_000);
});
