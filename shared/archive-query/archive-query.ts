/**
 * The archive executor (docs/design.md §3.13 "Over the archive"): runs a query plan over one of
 * the caller's trails' archive — any period the trail has delivered — with the embedded engine.
 *
 * 1. The trail is the caller's own (`getTrail(caller, name)`): a trail's bucket is only ever read
 *    for its owner; each scope's events are further kept only when they belong to the scope's
 *    account (the trail's, or the member's folder of an organization trail).
 * 2. Which files: archive folders are per delivery day, and an event is delivered at or after its
 *    eventTime (less the 15 minutes of clock skew ingest allows), so the days from the range's
 *    start to its end plus DELIVERY_LAG_MS hold its events (a backfill delivered later than that
 *    is found by a range that covers its delivery day, or by the whole-span query). A day whose
 *    manifest still matches its folder is read from its Parquet file; any other day raw.
 * 3. Bounds, checked before anything is fetched: MAX_ARCHIVE_QUERY_DAYS folders,
 *    MAX_ARCHIVE_QUERY_BYTES to read, MAX_ARCHIVE_RESULT_ROWS rows, ARCHIVE_QUERY_TIMEOUT_MS.
 * 4. The plan is compiled to one parameterised statement (compile.ts) over local copies of the
 *    objects (ObjectCache), which the engine reads.
 */
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { DAY_MS, dayStartOf, type ArchiveScope } from '../archive/layout.ts';
import { EVENT_TIME_MAX_AHEAD_MS } from '../events/schema.ts';
import type { QueryPlan } from '../query/plan.ts';
import type { Trail } from '../trails/model.ts';
import { archiveFilesOf, readManifest } from './compaction.ts';
import { compactedScopePrefix, manifestKey, manifestMatchesFolder, type CompactionManifest } from './compacted-layout.ts';
import { compilePlan, decodeValue, PlanNotSupportedError, sourceSql, type EventCursor, type RelationSource } from './compile.ts';
import { eventColumnsFromJsonSql } from './event-columns.ts';
import { QueryMemoryError, QueryTimeoutError, type ArchiveBucket, type ObjectCache, type QueryEngine, type StoredObject } from './ports.ts';

/** Most archive day folders (per scope) one query may read: a little over a year. */
export const MAX_ARCHIVE_QUERY_DAYS = 400;
/** Most bytes of archive and compacted files one query may read (downloaded or cached). */
export const MAX_ARCHIVE_QUERY_BYTES = 1024 * 1024 * 1024;
/** Most rows an archive query answers. */
export const MAX_ARCHIVE_RESULT_ROWS = 10_000;
/** The statement is interrupted after this long (lookup-http's timeout is 30 s: time is kept for listing and fetching). */
export const ARCHIVE_QUERY_TIMEOUT_MS = 20_000;
/** How long after its eventTime an event may still be delivered into a day folder the range would read. */
export const DELIVERY_LAG_MS = DAY_MS;
/** Parallel listings and manifest reads. */
export const ARCHIVE_LIST_CONCURRENCY = 8;

export interface ArchiveQueryPorts {
  /** The caller's trail of that name (own trails only). */
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  /** The scopes (regions, organization member folders) the trail's archive holds. */
  scopes(trail: Trail): Promise<ArchiveScope[]>;
  bucket: ArchiveBucket;
  cache: ObjectCache;
  engine: QueryEngine;
  now(): number;
  /** The statement's time limit (default ARCHIVE_QUERY_TIMEOUT_MS; the benchmark lifts it to measure slow raw reads). */
  timeoutMs?: number;
  /** Reads a day's manifest (as listed: key and ETag); default a read from the bucket every time (see manifestCache). */
  manifest?: (bucket: string, object: StoredObject) => Promise<CompactionManifest | undefined>;
}

/** Manifests a manifestCache keeps at most (~1 KiB each). */
export const MANIFEST_CACHE_ENTRIES = 10_000;

/**
 * Manifests remembered by bucket, key and ETag — the ETag the compacted folder's listing gave,
 * so a replaced manifest (a day compacted again) is a new entry and a cached one is never read
 * for another version; what a query then checks (the manifest against the day's folder and its
 * Parquet file's listing) is unchanged. Saves a GET per compacted day on every query.
 */
export function manifestCache(archive: ArchiveBucket, entries: number = MANIFEST_CACHE_ENTRIES): NonNullable<ArchiveQueryPorts['manifest']> {
  const cache = new Map<string, Promise<CompactionManifest | undefined>>();
  return (bucket, object) => {
    const id = JSON.stringify([bucket, object.key, object.eTag]);
    let manifest = cache.get(id);
    if (!manifest) {
      const read = readManifest(archive, bucket, object.key);
      manifest = read;
      cache.set(id, read);
      // a failed read or a missing/invalid manifest is asked again next time
      read.then(
        (m) => {
          if (!m && cache.get(id) === read) cache.delete(id);
        },
        () => {
          if (cache.get(id) === read) cache.delete(id);
        },
      );
      for (const oldest of cache.keys()) {
        if (cache.size <= entries) break;
        cache.delete(oldest);
      }
    }
    return manifest;
  };
}

export interface ArchiveQueryInput {
  /** The caller's account (from the request's signature). */
  accountId: string;
  trailName: string;
  plan: QueryPlan;
  /** [fromMs, toMs) of eventTime; absent: the whole span the trail has delivered. */
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /** Most rows (at most MAX_ARCHIVE_RESULT_ROWS): a select's rows, or the events of a search page. */
  maxRows?: number | undefined;
  /**
   * The accounts the caller may read (the caller, and an organization's members for its management
   * account): an organization trail's member folders are read only for these.
   */
  accountIds?: readonly string[] | undefined;
  /** A search page after this event (from the previous page's `next`). */
  after?: EventCursor | undefined;
}

export interface ArchiveQueryStats {
  /** Day folders looked at (per scope). */
  days: number;
  /** Days read from their compacted Parquet file, and from raw archive files. */
  compactedDays: number;
  rawDays: number;
  rawFiles: number;
  /** Bytes of the files read, and of those downloaded for this query (the rest were cached). */
  bytes: number;
  fetchedBytes: number;
  /** The range read: [from, to) of eventTime (ISO). */
  from: string;
  to: string;
}

export type ArchiveScalar = string | number | boolean | null;

export type ArchiveQueryResult =
  /** A search: matching events' JSON text, newest first; `next` when more follow. */
  | { kind: 'events'; events: string[]; next?: EventCursor; stats: ArchiveQueryStats }
  /** A select: its columns and rows (`truncated` when cut at MAX_ARCHIVE_RESULT_ROWS). */
  | { kind: 'rows'; columns: string[]; rows: ArchiveScalar[][]; truncated: boolean; stats: ArchiveQueryStats };

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

/** The account a scope's events belong to. */
function accountOfScope(trail: Trail, scope: ArchiveScope): string {
  return scope.organization ? scope.organization.accountId : trail.accountId;
}

/** The day folders to read for [fromMs, toMs): from the range's start (less skew) to its end plus the delivery lag, never before the trail existed nor after today. */
export function foldersToRead(trail: Pick<Trail, 'createdAtMs'>, fromMs: number, toMs: number, nowMs: number): number[] {
  const first = Math.max(dayStartOf(new Date(Math.max(0, fromMs - EVENT_TIME_MAX_AHEAD_MS))).getTime(), dayStartOf(new Date(trail.createdAtMs)).getTime());
  const last = Math.min(dayStartOf(new Date(Math.min(toMs + DELIVERY_LAG_MS, 8.64e15))).getTime(), dayStartOf(new Date(nowMs)).getTime());
  const days: number[] = [];
  for (let d = first; d <= last; d += DAY_MS) days.push(d);
  return days;
}

interface DayPlan {
  scope: ArchiveScope;
  parquet?: StoredObject;
  raw: StoredObject[];
}

/** Runs `plan` over the caller's trail's archive. */
export async function runArchiveQuery(input: ArchiveQueryInput, ports: ArchiveQueryPorts): Promise<ArchiveQueryResult> {
  const trail = await ports.getTrail(input.accountId, input.trailName);
  if (!trail) throw new NotFoundError('TrailNotFoundException', `The trail ${input.trailName} does not exist.`);
  if (!trail.ossBucketName) throw new ValidationError('TrailHasNoArchive', `The trail ${trail.name} delivers no archive (it has no OssBucketName).`, 'TrailName');
  const bucket = trail.ossBucketName;
  const now = ports.now();
  const fromMs = input.fromMs ?? 0;
  const toMs = input.toMs ?? now + EVENT_TIME_MAX_AHEAD_MS + 1;
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) throw new ValidationError('InvalidParameter', 'StartTime must be before EndTime.', 'StartTime');
  const maxRows = Math.min(input.maxRows ?? MAX_ARCHIVE_RESULT_ROWS, MAX_ARCHIVE_RESULT_ROWS);
  const days = foldersToRead(trail, fromMs, toMs, now);
  if (days.length > MAX_ARCHIVE_QUERY_DAYS) {
    throw new ValidationError('InvalidParameter', `An archive query reads at most ${MAX_ARCHIVE_QUERY_DAYS} days of archive folders; this range needs ${days.length}. Narrow StartTime/EndTime.`, 'StartTime');
  }

  // Which days are compacted: one listing of each scope's compacted folder.
  const scopes = await ports.scopes(trail);
  const plans: DayPlan[] = [];
  const work: { scope: ArchiveScope; day: number; compacted: Map<string, StoredObject> }[] = [];
  for (const scope of scopes) {
    const compacted = new Map((await ports.bucket.list(bucket, compactedScopePrefix(trail, scope))).map((o) => [o.key, o]));
    for (const day of days) work.push({ scope, day, compacted });
  }
  const dayPlans = await mapLimit(work, ARCHIVE_LIST_CONCURRENCY, async ({ scope, day, compacted }): Promise<DayPlan | undefined> => {
    const folder = await archiveFilesOf(ports.bucket, bucket, scope, new Date(day));
    const mKey = manifestKey(trail, scope, new Date(day));
    const mObject = compacted.get(mKey);
    if (mObject) {
      const manifest = await (ports.manifest ? ports.manifest(bucket, mObject) : readManifest(ports.bucket, bucket, mKey));
      const parquet = manifest ? compacted.get(manifest.parquet.key) : undefined;
      if (manifest && parquet && manifestMatchesFolder(manifest, folder)) return { scope, parquet, raw: [] };
    }
    return folder.length > 0 ? { scope, raw: folder } : undefined;
  });
  for (const p of dayPlans) if (p) plans.push(p);

  const objects = plans.flatMap((p) => (p.parquet ? [p.parquet] : p.raw));
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  if (bytes > MAX_ARCHIVE_QUERY_BYTES) {
    throw new PayloadTooLargeError('ArchiveRangeTooLarge', `The range holds ${bytes} bytes of archive files; an archive query reads at most ${MAX_ARCHIVE_QUERY_BYTES}. Narrow StartTime/EndTime.`);
  }
  const lease = await ports.cache.acquire(bucket, objects);
  try {
    const pathOf = new Map(objects.map((o, i) => [o.key, lease.paths[i] as string]));
    const sources: RelationSource[] = [];
    const columnsFromJson = eventColumnsFromJsonSql('json');
    // One source per scope and kind, so each scope's account filter applies to its own files.
    const byScope = new Map<string, { scope: ArchiveScope; parquet: string[]; raw: string[] }>();
    for (const p of plans) {
      const id = JSON.stringify([p.scope.region, p.scope.organization?.orgId ?? '', p.scope.organization?.accountId ?? '']);
      let group = byScope.get(id);
      if (!group) byScope.set(id, (group = { scope: p.scope, parquet: [], raw: [] }));
      if (p.parquet) group.parquet.push(pathOf.get(p.parquet.key) as string);
      for (const r of p.raw) group.raw.push(pathOf.get(r.key) as string);
    }
    for (const { scope, parquet, raw } of byScope.values()) {
      const accountId = accountOfScope(trail, scope);
      if (input.accountIds && !input.accountIds.includes(accountId)) continue;
      if (parquet.length > 0) sources.push({ fromSql: sourceSql('parquet', parquet, columnsFromJson), accountId });
      if (raw.length > 0) sources.push({ fromSql: sourceSql('raw', raw, columnsFromJson), accountId });
    }
    let compiled;
    try {
      compiled = compilePlan({ plan: input.plan, sources, fromMs, toMs, maxRows: maxRows + 1, after: input.after });
    } catch (error) {
      if (error instanceof PlanNotSupportedError || error instanceof RangeError) throw new ValidationError('InvalidQuery', error.message, 'QuerySql', { cause: error });
      throw error;
    }
    let rows: unknown[][];
    try {
      rows = await ports.engine.query(compiled.sql, compiled.params, { timeoutMs: ports.timeoutMs ?? ARCHIVE_QUERY_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof QueryTimeoutError) throw new ValidationError('QueryTimeout', `The archive query ran longer than ${(ports.timeoutMs ?? ARCHIVE_QUERY_TIMEOUT_MS) / 1000} s and was stopped. Narrow the range or the query.`, 'QuerySql', { cause: error });
      if (error instanceof QueryMemoryError) throw new ValidationError('QueryTooExpensive', 'The archive query needs more memory than an archive query may use (too many groups or distinct values). Narrow the range or the query.', 'QuerySql', { cause: error });
      throw error;
    }
    const more = rows.length > maxRows;
    const decoded = rows.slice(0, maxRows).map((r) => r.map((v, i) => decodeValue(v, compiled.columns[i]?.kind ?? 'string')));
    const stats: ArchiveQueryStats = {
      days: days.length,
      compactedDays: plans.filter((p) => p.parquet).length,
      rawDays: plans.filter((p) => !p.parquet).length,
      rawFiles: plans.reduce((n, p) => n + p.raw.length, 0),
      bytes,
      fetchedBytes: lease.fetchedBytes,
      from: new Date(fromMs).toISOString(),
      to: new Date(Math.min(toMs, 8.64e15)).toISOString(),
    };
    if (compiled.shape === 'events') {
      const last = decoded[decoded.length - 1];
      const next = more && last ? { timeMs: Number(last[1]), eventId: String(last[2]) } : undefined;
      return { kind: 'events', events: decoded.map((r) => String(r[0])), ...(next ? { next } : {}), stats };
    }
    return { kind: 'rows', columns: compiled.columns.map((c) => c.name), rows: decoded, truncated: more, stats };
  } finally {
    lease.release();
  }
}
