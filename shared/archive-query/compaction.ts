/**
 * Compaction (docs/design.md §3.13 "Over the archive"): for each trail and closed UTC day of its
 * archive folders, one Parquet file of the day's events, each archive file checked against the
 * trail's validly signed digests, and a manifest naming the files it was made of.
 *
 * - Closed: a day is compacted once its last hour's digest is due (COMPACTION_CLOSE_DELAY_MS after
 *   its end); a day whose files include one of an hour without a digest yet waits (`pending`).
 * - Idempotent: a day whose manifest still matches its folder (same keys and ETags) is left alone,
 *   so a second run changes nothing; the Parquet file is named by its SHA-256.
 * - Late files: a file added to (or replaced in) a compacted day makes its manifest stale, and the
 *   day is compacted again (the executor reads it raw meanwhile); the older Parquet file is removed.
 * - Duplicates: an event in two files of the day is kept once (by eventId).
 * - A file whose bytes differ from what the trail's digest lists is left out and recorded under
 *   `excluded` (a raw read of the day would still read it: `npm run verify` reports it). A file no
 *   digest of the trail lists (another trail's in a shared folder, or put there by hand) is
 *   compacted as a raw read reads it, recorded without a `digestKey`.
 */
import {
  archiveDayPrefix,
  DAY_MS,
  DIGEST_GRACE_MS,
  dayStartOf,
  digestTrailDayPrefix,
  parseArchiveFileKey,
  parseDigestKey,
  type ArchiveScope,
} from '../archive/layout.ts';
import { DigestFormatError, parseSignedDigest, sha256Hex, verifyDigestSignature } from '../archive/digest.ts';
import type { Trail } from '../trails/model.ts';
import {
  compactedDayPrefix,
  compactionManifestSchema,
  dayText,
  manifestKey,
  manifestMatchesFolder,
  MANIFEST_VERSION,
  parquetKey,
  PARQUET_FILE_EXTENSION,
  type CompactionManifest,
  type ManifestExclusion,
  type ManifestSource,
} from './compacted-layout.ts';
import { eventColumnsFromJsonSql, quoteIdentifier, TIME_COLUMN } from './event-columns.ts';
import { pathLiteral } from './compile.ts';
import type { ArchiveBucket, ObjectCache, QueryEngine, StoredObject } from './ports.ts';

/** A day is compacted this long after it ends: its last hour's digest is written DIGEST_GRACE_MS after that hour (layout.ts), by the minute flush. */
export const COMPACTION_CLOSE_DELAY_MS = DIGEST_GRACE_MS + 13 * 60_000;
/** A timer run looks at the closed days of this many days back (older days: a run with an explicit range). */
export const COMPACTION_LOOKBACK_DAYS = 7;
/** Most (scope, day) folders compacted in one run; the next run goes on. */
export const MAX_COMPACTIONS_PER_RUN = 48;
/** A day folder larger than this (its archive files) is not compacted: it stays raw and is reported. */
export const MAX_COMPACTION_DAY_BYTES = 512 * 1024 * 1024;
/** Largest manifest or digest read. */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
export const MAX_DIGEST_BYTES = 8 * 1024 * 1024;
/** Writing one day's Parquet file is interrupted after this long. */
export const COMPACTION_STATEMENT_TIMEOUT_MS = 120_000;
/** Rows per Parquet row group: small enough that a day's file has several, so time filters skip some. */
export const PARQUET_ROW_GROUP_SIZE = 16_384;

export interface CompactionPorts {
  /** Every trail that may have archive files (any account). */
  trails(): Promise<Trail[]>;
  /** The scopes (regions, organization member folders) the trail's archive holds. */
  scopes(trail: Trail): Promise<ArchiveScope[]>;
  bucket: ArchiveBucket;
  cache: ObjectCache;
  engine: QueryEngine;
  /** The digest signing public key (PEM), or undefined when no digest was ever signed. */
  publicKeyPem(): Promise<string | undefined>;
  now(): number;
  log: { info(message: string, fields?: Record<string, unknown>): void; warn(message: string, fields?: Record<string, unknown>): void };
}

export interface CompactionRange {
  /** Compact the closed days from this day… */
  fromDayMs: number;
  /** …to this one (inclusive). */
  toDayMs: number;
}

export type DayOutcome = 'compacted' | 'unchanged' | 'empty' | 'pending' | 'too-large';

export interface DayResult {
  trail: string;
  accountId: string;
  scope: string;
  day: string;
  outcome: DayOutcome;
  rows?: number;
  sources?: number;
  excluded?: number;
}

export interface CompactionReport {
  days: DayResult[];
  /** More days were due than MAX_COMPACTIONS_PER_RUN: the next run continues. */
  more: boolean;
}

const scopeName = (s: ArchiveScope) => `${s.organization ? `${s.organization.orgId}/${s.organization.accountId}/` : ''}${s.region}`;

/** The days a run looks at: the closed days of the last COMPACTION_LOOKBACK_DAYS, or the range asked for (never an open day). */
export function compactionDays(nowMs: number, range?: CompactionRange): number[] {
  const lastClosed = dayStartOf(new Date(nowMs - COMPACTION_CLOSE_DELAY_MS)).getTime() - DAY_MS;
  const from = range ? dayStartOf(new Date(range.fromDayMs)).getTime() : lastClosed - (COMPACTION_LOOKBACK_DAYS - 1) * DAY_MS;
  const to = Math.min(lastClosed, range ? dayStartOf(new Date(range.toDayMs)).getTime() : lastClosed);
  const days: number[] = [];
  for (let d = to; d >= from; d -= DAY_MS) days.push(d);
  return days;
}

/** The archive files of one day folder (objects whose names are archive file names). */
export async function archiveFilesOf(bucket: ArchiveBucket, name: string, scope: ArchiveScope, day: Date): Promise<StoredObject[]> {
  const objects = await bucket.list(name, archiveDayPrefix(scope, day));
  return objects.filter((o) => parseArchiveFileKey(o.key) !== undefined).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The manifest of a day, when there is a valid one. */
export async function readManifest(bucket: ArchiveBucket, name: string, key: string): Promise<CompactionManifest | undefined> {
  const bytes = await bucket.read(name, key, MAX_MANIFEST_BYTES);
  if (!bytes) return undefined;
  try {
    const parsed = compactionManifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

interface Vouched {
  sha256: string;
  digestKey: string;
}

/** Files listed by validly signed digests of the trail on `day`, and the hours that have a digest. */
async function digestsOfDay(trail: Trail, scope: ArchiveScope, day: Date, ports: CompactionPorts, publicKeyPem: string): Promise<{ files: Map<string, Vouched>; hours: Set<number> }> {
  const bucket = trail.ossBucketName as string;
  const files = new Map<string, Vouched>();
  const hours = new Set<number>();
  // Single-account digests live under the account's folder, older ones in the account-less folder (layout.ts).
  const prefixes = scope.organization
    ? [digestTrailDayPrefix({ ...scope, trailName: trail.name }, day)]
    : [digestTrailDayPrefix({ ...scope, accountId: trail.accountId, trailName: trail.name }, day), digestTrailDayPrefix({ ...scope, trailName: trail.name }, day)];
  for (const prefix of prefixes) {
    for (const object of await ports.bucket.list(bucket, prefix)) {
      const parsed = parseDigestKey(object.key);
      if (!parsed || parsed.trailName !== trail.name) continue;
      const bytes = await ports.bucket.read(bucket, object.key, MAX_DIGEST_BYTES);
      if (!bytes) continue;
      try {
        const signed = parseSignedDigest(bytes);
        if (!verifyDigestSignature(signed, publicKeyPem) || signed.trailName !== trail.name || Date.parse(signed.hourStart) !== parsed.hourStart.getTime()) {
          ports.log.warn('compaction: a digest does not verify; its files are left out', { key: object.key });
          continue;
        }
        if (!scope.organization && signed.accountId !== trail.accountId) continue;
        hours.add(parsed.hourStart.getTime());
        for (const file of signed.files) files.set(file.key, { sha256: file.sha256, digestKey: object.key });
      } catch (error) {
        if (!(error instanceof DigestFormatError) && !(error instanceof SyntaxError)) throw error;
        ports.log.warn('compaction: a digest is malformed; its files are left out', { key: object.key });
      }
    }
  }
  return { files, hours };
}

/** The statement that turns a day's local archive files into the relation's rows, each event once, in time order. */
export function compactionSelectSql(paths: readonly string[]): string {
  const id = quoteIdentifier('eventId');
  const source = paths.length === 0
    ? `(SELECT ${eventColumnsFromJsonSql('json')} FROM (SELECT NULL::JSON AS json) WHERE false)`
    : `(SELECT ${eventColumnsFromJsonSql('json')} FROM read_json_objects([${paths.map(pathLiteral).join(', ')}], format = 'array', compression = 'gzip'))`;
  return `SELECT * FROM (SELECT DISTINCT ON (${id}) * FROM ${source}) ORDER BY ${quoteIdentifier(TIME_COLUMN)}, ${id}`;
}

/** Compacts one (trail, scope, day) folder. */
export async function compactDay(trail: Trail, scope: ArchiveScope, day: Date, ports: CompactionPorts, publicKeyPem: string | undefined): Promise<DayResult> {
  const bucket = trail.ossBucketName as string;
  const base = { trail: trail.name, accountId: trail.accountId, scope: scopeName(scope), day: dayText(day) };
  const folder = await archiveFilesOf(ports.bucket, bucket, scope, day);
  if (folder.length === 0) return { ...base, outcome: 'empty' };
  const key = manifestKey(trail, scope, day);
  const existing = await readManifest(ports.bucket, bucket, key);
  if (existing && manifestMatchesFolder(existing, folder)) return { ...base, outcome: 'unchanged' };
  if (folder.reduce((n, o) => n + o.size, 0) > MAX_COMPACTION_DAY_BYTES) {
    ports.log.warn('compaction: day folder over MAX_COMPACTION_DAY_BYTES; it stays raw', { ...base });
    return { ...base, outcome: 'too-large' };
  }
  if (publicKeyPem === undefined) return { ...base, outcome: 'pending' };
  const digests = await digestsOfDay(trail, scope, day, ports, publicKeyPem);
  // A file of an hour without a digest yet cannot be vouched for: the day waits.
  if (folder.some((o) => !digests.hours.has((parseArchiveFileKey(o.key) as { hourStart: Date }).hourStart.getTime()))) return { ...base, outcome: 'pending' };

  const lease = await ports.cache.acquire(bucket, folder);
  try {
    const sources: ManifestSource[] = [];
    const paths: string[] = [];
    const excluded: ManifestExclusion[] = [];
    for (const [i, object] of folder.entries()) {
      const vouched = digests.files.get(object.key);
      const sha256 = await lease.sha256(i);
      if (vouched && sha256 !== vouched.sha256) {
        ports.log.warn('compaction: an archive file differs from its digest; it is left out', { key: object.key });
        excluded.push({ key: object.key, eTag: object.eTag, reason: 'modified' });
        continue;
      }
      if (!vouched) ports.log.warn('compaction: no digest of the trail lists an archive file; compacted unverified', { key: object.key });
      sources.push({ key: object.key, eTag: object.eTag, size: object.size, sha256, ...(vouched ? { digestKey: vouched.digestKey } : {}) });
      paths.push(lease.paths[i] as string);
    }
    const selectSql = compactionSelectSql(paths);
    const parquet = await ports.engine.toParquet(selectSql, { timeoutMs: COMPACTION_STATEMENT_TIMEOUT_MS });
    const stats = await ports.engine.query(
      `SELECT count(*), min("eventTime"), max("eventTime") FROM (${selectSql})`,
      [],
      { timeoutMs: COMPACTION_STATEMENT_TIMEOUT_MS },
    );
    const [rows, first, last] = (stats[0] ?? [0, null, null]) as [number, string | null, string | null];
    const sha256 = sha256Hex(parquet);
    const pKey = parquetKey(trail, scope, day, sha256);
    await ports.bucket.put(bucket, pKey, parquet, 'application/vnd.apache.parquet');
    const manifest: CompactionManifest = {
      version: MANIFEST_VERSION,
      trail: { accountId: trail.accountId, name: trail.name },
      scope: { region: scope.region, ...(scope.organization ? { organization: scope.organization } : {}) },
      day: dayText(day),
      compactedAt: new Date(ports.now()).toISOString(),
      parquet: { key: pKey, sha256, size: parquet.byteLength, rows: Number(rows) },
      ...(first !== null && last !== null ? { eventTime: { first, last } } : {}),
      sources,
      excluded,
    };
    await ports.bucket.put(bucket, key, Buffer.from(JSON.stringify(manifest, null, 2)), 'application/json');
    // Older Parquet files of the day (from an earlier compaction) go once the manifest names the new one.
    for (const old of await ports.bucket.list(bucket, compactedDayPrefix(trail, scope, day))) {
      if (old.key !== pKey && old.key.endsWith(PARQUET_FILE_EXTENSION)) await ports.bucket.remove(bucket, old.key);
    }
    return { ...base, outcome: 'compacted', rows: Number(rows), sources: sources.length, excluded: excluded.length };
  } finally {
    lease.release();
  }
}

/** One compaction run: every trail with a bucket, each of its scopes, each day of `range` (default: the recent closed days). */
export async function compactArchives(ports: CompactionPorts, range?: CompactionRange): Promise<CompactionReport> {
  const days = compactionDays(ports.now(), range);
  const publicKeyPem = await ports.publicKeyPem();
  const results: DayResult[] = [];
  let compacted = 0;
  for (const trail of await ports.trails()) {
    if (!trail.ossBucketName) continue;
    for (const scope of await ports.scopes(trail)) {
      for (const dayMs of days) {
        if (compacted >= MAX_COMPACTIONS_PER_RUN) return { days: results, more: true };
        const result = await compactDay(trail, scope, new Date(dayMs), ports, publicKeyPem);
        if (result.outcome === 'compacted') {
          compacted += 1;
          ports.log.info('compaction: day compacted', { ...result });
        }
        if (result.outcome !== 'empty') results.push(result);
      }
    }
  }
  return { days: results, more: false };
}
