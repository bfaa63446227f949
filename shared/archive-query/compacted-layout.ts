/**
 * Where a trail's compacted archive lives, and its manifest (docs/design.md §3.13 "Over the
 * archive"). Pure.
 *
 *   <OssKeyPrefix>/AliyunLogs/Actiontrail-Compacted/<trailAccountId>/<trailName>/[<orgId>/<accountId>/]<region>/<YYYY>/<MM>/<DD>/
 *     manifest.json                   which Parquet file is current, and the archive files it was made of
 *     events_<sha256 prefix>.parquet  the day's events (content-addressed: a re-compaction writes a new name)
 *
 * A sibling of `Actiontrail` and `Actiontrail-Digest` (layout.ts), so listing the archive tree never
 * returns a compacted file and the verifier never takes one for an inserted archive file. One
 * folder per trail (files are compacted from the trail's own digests, and trails may share a
 * bucket and prefix), under the trail's account (same-named trails of two accounts never collide).
 * The day is the archive folder's day: the UTC day the files were delivered.
 */
import { z } from 'zod';
import { ARCHIVE_ROOT_FOLDER, normaliseOssKeyPrefix, utcDatePath, type ArchiveScope } from '../archive/layout.ts';

export const COMPACTED_FOLDER = 'Actiontrail-Compacted';
export const MANIFEST_FILE = 'manifest.json';
export const PARQUET_FILE_PREFIX = 'events_';
export const PARQUET_FILE_EXTENSION = '.parquet';
export const MANIFEST_VERSION = 1;

export interface CompactedTrail {
  accountId: string;
  name: string;
  ossKeyPrefix?: string | undefined;
}

function root(trail: CompactedTrail): string {
  const p = normaliseOssKeyPrefix(trail.ossKeyPrefix);
  if (!/^\d+$/.test(trail.accountId)) throw new RangeError(`not an account id: ${JSON.stringify(trail.accountId)}`);
  if (!/^[a-z][a-z0-9_-]*$/.test(trail.name)) throw new RangeError(`not a trail name: ${JSON.stringify(trail.name)}`);
  return `${p === '' ? '' : `${p}/`}${ARCHIVE_ROOT_FOLDER}/${COMPACTED_FOLDER}/${trail.accountId}/${trail.name}/`;
}

/** Everything compacted for a trail. */
export function compactedTrailPrefix(trail: CompactedTrail): string {
  return root(trail);
}

/** `…/<trail>/[<orgId>/<accountId>/]<region>/`. */
export function compactedScopePrefix(trail: CompactedTrail, scope: ArchiveScope): string {
  const org = scope.organization ? `${scope.organization.orgId}/${scope.organization.accountId}/` : '';
  return `${root(trail)}${org}${scope.region}/`;
}

export function compactedDayPrefix(trail: CompactedTrail, scope: ArchiveScope, day: Date): string {
  return `${compactedScopePrefix(trail, scope)}${utcDatePath(day)}/`;
}

export function manifestKey(trail: CompactedTrail, scope: ArchiveScope, day: Date): string {
  return `${compactedDayPrefix(trail, scope, day)}${MANIFEST_FILE}`;
}

export function parquetKey(trail: CompactedTrail, scope: ArchiveScope, day: Date, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError('sha256 must be 64 hex digits');
  return `${compactedDayPrefix(trail, scope, day)}${PARQUET_FILE_PREFIX}${sha256.slice(0, 32)}${PARQUET_FILE_EXTENSION}`;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const isoInstant = z.iso.datetime({ offset: false });

/**
 * One archive file the Parquet file was made of: what it was when compacted, and whether a digest
 * of the trail vouched for it (`digestKey`: the signed digest that lists it with this SHA-256;
 * absent: no digest of this trail lists it — another trail's file in a shared folder, or one put
 * there by hand — it is compacted as a raw read would read it, and `verify` reports it).
 */
export const manifestSourceSchema = z.strictObject({
  key: z.string().min(1),
  eTag: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  digestKey: z.string().min(1).optional(),
});
export type ManifestSource = z.infer<typeof manifestSourceSchema>;

export const EXCLUSION_REASONS = ['modified'] as const;

/** A file in the day's folder left out: its bytes differ from what the trail's digest lists (tampered with). */
export const manifestExclusionSchema = z.strictObject({
  key: z.string().min(1),
  eTag: z.string().min(1),
  reason: z.enum(EXCLUSION_REASONS),
});
export type ManifestExclusion = z.infer<typeof manifestExclusionSchema>;

export const compactionManifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  trail: z.strictObject({ accountId: z.string().regex(/^\d+$/), name: z.string().min(1) }),
  scope: z.strictObject({
    region: z.string().min(1),
    organization: z.strictObject({ orgId: z.string().min(1), accountId: z.string().min(1) }).optional(),
  }),
  /** The archive folder's UTC day, `YYYY-MM-DD`. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  compactedAt: isoInstant,
  parquet: z.strictObject({ key: z.string().min(1), sha256: sha256Hex, size: z.number().int().nonnegative(), rows: z.number().int().nonnegative() }),
  /** Earliest and latest eventTime of the compacted events (absent for an empty file). */
  eventTime: z.strictObject({ first: z.string(), last: z.string() }).optional(),
  sources: z.array(manifestSourceSchema),
  excluded: z.array(manifestExclusionSchema),
});
export type CompactionManifest = z.infer<typeof compactionManifestSchema>;

/** `YYYY-MM-DD` of a UTC day. */
export function dayText(day: Date): string {
  return utcDatePath(day).replaceAll('/', '-');
}

/**
 * Whether a manifest still describes a folder: the same archive files with the same ETags, each
 * either compacted or excluded. A file added (a late or re-delivered file), replaced or deleted
 * since makes it stale: the executor reads that day raw and the compactor compacts it again.
 */
export function manifestMatchesFolder(manifest: CompactionManifest, folder: readonly { key: string; eTag: string }[]): boolean {
  const described = new Map<string, string>();
  for (const s of manifest.sources) described.set(s.key, s.eTag);
  for (const e of manifest.excluded) described.set(e.key, e.eTag);
  if (described.size !== folder.length) return false;
  return folder.every((o) => described.get(o.key) === o.eTag);
}
