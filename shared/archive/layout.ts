/**
 * Where a trail's archive files and digests live in object storage (docs/design.md §3.5). Pure.
 *
 * Archive file (one gzip JSON array of events, named by its delivery time, UTC):
 *   <OssKeyPrefix>/AliyunLogs/Actiontrail/[<orgId>/<accountId>/]<region>/<YYYY>/<MM>/<DD>/
 *     Actiontrail_<region>_<YYYYMMDDHHMMSS>_1002_<eventCount>_<fileSize>_<md5>.gz
 *
 * Digest (one per trail, scope and hour; see ./digest.ts):
 *   <OssKeyPrefix>/AliyunLogs/Actiontrail-Digest/<orgId>/<accountId>/<region>/<YYYY>/<MM>/<DD>/…  (organization trails)
 *   <OssKeyPrefix>/AliyunLogs/Actiontrail-Digest/<accountId>/<region>/<YYYY>/<MM>/<DD>/…          (single-account trails)
 *     Actiontrail-Digest_<trailName>_<region>_<YYYYMMDDHH>.json
 * Every digest path names its account (docs/design.md §3.5), so same-named trails of two accounts
 * delivering to one bucket and prefix never write the same digest key. Single-account digests of
 * the earlier layout, `…/Actiontrail-Digest/<region>/…` (no account folder), are still parsed and
 * verified (`parseDigestKey` leaves `accountId` undefined for them); new digests are never written
 * there. A chain's identity (`digestScopePrefix`) is the account-less scope prefix, so a chain
 * continues across the layout change.
 *
 * Digest path choice: the digest tree mirrors the archive tree under a sibling folder
 * (`Actiontrail-Digest` next to `Actiontrail`, as CloudTrail puts `CloudTrail-Digest` next to
 * `CloudTrail`), so that
 *  - listing the archive tree never returns a digest (and a verifier never mistakes one for an
 *    inserted file), and a bucket policy / lifecycle rule can treat the two trees differently;
 *  - the date folder of a digest is the UTC day of the hour it covers, so one listing of a
 *    day folder returns the digests of that day for every trail of the scope;
 *  - the trail name is in the file name, because archive files carry no trail name and several
 *    trails may share a bucket and prefix: each trail keeps its own chain;
 *  - the region is repeated in the file name (as archive files do) so a file name alone says
 *    what it covers, and `<YYYYMMDDHH>` is the UTC start of the covered hour.
 * File names are parsed from the right with the region known from the folder, so trail names
 * that contain `_` or look like regions stay unambiguous.
 *
 * Hours: an archive file belongs to the UTC hour of its delivery time (the timestamp in its
 * name, which is also the folder date). The digest of hour H covers exactly the files whose
 * delivery time falls in [H, H+1h) — list them with `archiveHourPrefix`.
 *
 * OssKeyPrefix: repeated `/` are collapsed and leading and trailing `/` dropped; an empty or
 * absent prefix gives keys that start with `AliyunLogs/` (never with `/`).
 */

export const ARCHIVE_ROOT_FOLDER = 'AliyunLogs';
export const ARCHIVE_FOLDER = 'Actiontrail';
export const DIGEST_FOLDER = 'Actiontrail-Digest';
export const ARCHIVE_FILE_PREFIX = 'Actiontrail';
export const DIGEST_FILE_PREFIX = 'Actiontrail-Digest';
/** ActionTrail's file-type field of archive file names. */
export const ARCHIVE_FILE_TYPE = '1002';
export const ARCHIVE_FILE_EXTENSION = '.gz';
export const DIGEST_FILE_EXTENSION = '.json';
/** Separator of the fields of a file name. */
export const NAME_SEPARATOR = '_';
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** A region id as trails use it (`cn-hangzhou`): no `_` or `/`, so names stay parseable. */
export const ARCHIVE_REGION_PATTERN = /^[a-z]{2,}(?:-[a-z0-9]+)+$/;
/** One path segment for an organization id or account id. */
const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
/** The account folder of single-account digests: an account id is digits (never a region id). */
const ACCOUNT_SEGMENT_PATTERN = /^\d+$/;
const TRAIL_NAME_IN_KEY = /^[a-z][a-z0-9_-]*$/;
const MD5_HEX = /^[0-9a-f]{32}$/;

/** The `<orgId>/<accountId>/` part of an organization trail's paths. */
export interface OrganizationPath {
  orgId: string;
  accountId: string;
}

/** One chain of a trail's archive: a region, and for organization trails a member account. */
export interface ArchiveScope {
  ossKeyPrefix?: string | undefined;
  region: string;
  organization?: OrganizationPath | undefined;
}

export interface ArchiveFileKeyInput extends ArchiveScope {
  deliveredAt: Date;
  eventCount: number;
  /** Size in bytes of the stored .gz file. */
  fileSize: number;
  /** Hex MD5 of the stored .gz file. */
  md5: string;
}

export interface ParsedArchiveFileKey {
  key: string;
  /** Normalised: '' when the key has none. */
  ossKeyPrefix: string;
  organization?: OrganizationPath;
  region: string;
  /** To the second, as in the name. */
  deliveredAt: Date;
  /** UTC start of the hour of `deliveredAt`: the hour whose digest lists this file. */
  hourStart: Date;
  eventCount: number;
  fileSize: number;
  md5: string;
}

/**
 * A scope of digests: for single-account trails, `accountId` (the trail's account) selects the
 * account folder; without it the legacy account-less folder is meant. Organization scopes carry
 * their account in `organization` and ignore `accountId`.
 */
export interface DigestScope extends ArchiveScope {
  accountId?: string | undefined;
}

export interface DigestKeyInput extends DigestScope {
  trailName: string;
  /** Any instant of the covered hour (floored to the UTC hour). */
  hourStart: Date;
}

export interface ParsedDigestKey {
  key: string;
  ossKeyPrefix: string;
  organization?: OrganizationPath;
  /** The account folder of a single-account digest; undefined in the legacy layout and for organization digests. */
  accountId?: string;
  region: string;
  trailName: string;
  hourStart: Date;
}

export function normaliseOssKeyPrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/\/{2,}/g, '/').replace(/^\//, '').replace(/\/$/, '');
}

function assertScope(scope: ArchiveScope): void {
  if (!ARCHIVE_REGION_PATTERN.test(scope.region)) throw new RangeError(`not a region id: ${JSON.stringify(scope.region)}`);
  if (scope.organization) {
    const { orgId, accountId } = scope.organization;
    if (!SEGMENT_PATTERN.test(orgId)) throw new RangeError(`not an organization id: ${JSON.stringify(orgId)}`);
    if (!SEGMENT_PATTERN.test(accountId)) throw new RangeError(`not an account id: ${JSON.stringify(accountId)}`);
  }
}

function assertDate(date: Date, what: string): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError(`${what} is not a valid date`);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `YYYY/MM/DD` of a UTC day. */
export function utcDatePath(at: Date): string {
  return `${pad(at.getUTCFullYear(), 4)}/${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}`;
}

/** `YYYYMMDDHH` (UTC). */
export function utcHourStamp(at: Date): string {
  return `${pad(at.getUTCFullYear(), 4)}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}`;
}

/** `YYYYMMDDHHMMSS` (UTC). */
export function utcSecondStamp(at: Date): string {
  return `${utcHourStamp(at)}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
}

function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?$/.exec(stamp);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5] ?? '00', m[6] ?? '00'].map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject stamps that roll over (month 13, hour 24…).
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || date.getUTCHours() !== h) return undefined;
  if (date.getUTCMinutes() !== mi || date.getUTCSeconds() !== s) return undefined;
  return date;
}

/** UTC start of the hour of `at`. */
export function hourStartOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/** UTC midnight of the day of `at`. */
export function dayStartOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/** Hour starts of every hour that overlaps [from, to) (none when to <= from). */
export function hoursOverlapping(from: Date, to: Date): Date[] {
  const out: Date[] = [];
  if (to.getTime() <= from.getTime()) return out;
  for (let t = hourStartOf(from).getTime(); t < to.getTime(); t += HOUR_MS) out.push(new Date(t));
  return out;
}

/** UTC day starts of every day that overlaps [from, to). */
export function daysOverlapping(from: Date, to: Date): Date[] {
  const out: Date[] = [];
  if (to.getTime() <= from.getTime()) return out;
  for (let t = dayStartOf(from).getTime(); t < to.getTime(); t += DAY_MS) out.push(new Date(t));
  return out;
}

function base(prefix: string | undefined): string {
  const p = normaliseOssKeyPrefix(prefix);
  return p === '' ? `${ARCHIVE_ROOT_FOLDER}/` : `${p}/${ARCHIVE_ROOT_FOLDER}/`;
}

function scopePath(scope: ArchiveScope): string {
  assertScope(scope);
  const org = scope.organization ? `${scope.organization.orgId}/${scope.organization.accountId}/` : '';
  return `${org}${scope.region}/`;
}

/** `<prefix>/AliyunLogs/Actiontrail/`: everything archived under a prefix. */
export function archiveRootPrefix(ossKeyPrefix?: string): string {
  return `${base(ossKeyPrefix)}${ARCHIVE_FOLDER}/`;
}

/** `<prefix>/AliyunLogs/Actiontrail-Digest/`: every digest under a prefix. */
export function digestRootPrefix(ossKeyPrefix?: string): string {
  return `${base(ossKeyPrefix)}${DIGEST_FOLDER}/`;
}

/** `…/Actiontrail/[<orgId>/<accountId>/]<region>/`. */
export function archiveScopePrefix(scope: ArchiveScope): string {
  return `${archiveRootPrefix(scope.ossKeyPrefix)}${scopePath(scope)}`;
}

/**
 * `…/Actiontrail-Digest/[<orgId>/<accountId>/]<region>/`: the identity of a digest chain (the
 * deliverer's chain-head field). It never includes a single-account folder — extra fields of
 * `scope` such as a parsed key's `accountId` are ignored — so a chain keeps its identity across
 * the layout change; for single-account scopes it is also the legacy folder.
 */
export function digestScopePrefix(scope: ArchiveScope): string {
  return `${digestRootPrefix(scope.ossKeyPrefix)}${scopePath({ region: scope.region, organization: scope.organization })}`;
}

/** `…/Actiontrail-Digest/<accountId>/<region>/` for a single-account scope with an account, else `digestScopePrefix`. */
export function digestFolderPrefix(scope: DigestScope): string {
  if (scope.organization || scope.accountId === undefined) return digestScopePrefix(scope);
  if (!ACCOUNT_SEGMENT_PATTERN.test(scope.accountId)) throw new RangeError(`not an account id: ${JSON.stringify(scope.accountId)}`);
  return `${digestRootPrefix(scope.ossKeyPrefix)}${scope.accountId}/${scopePath({ region: scope.region })}`;
}

/** The folder of one UTC day of archive files: `…/<region>/<YYYY>/<MM>/<DD>/`. */
export function archiveDayPrefix(scope: ArchiveScope, day: Date): string {
  assertDate(day, 'day');
  return `${archiveScopePrefix(scope)}${utcDatePath(day)}/`;
}

/**
 * Every archive file delivered in the UTC hour of `hour` (the files its digest covers):
 * `…/<YYYY>/<MM>/<DD>/Actiontrail_<region>_<YYYYMMDDHH>`.
 */
export function archiveHourPrefix(scope: ArchiveScope, hour: Date): string {
  assertDate(hour, 'hour');
  return `${archiveDayPrefix(scope, hour)}${ARCHIVE_FILE_PREFIX}${NAME_SEPARATOR}${scope.region}${NAME_SEPARATOR}${utcHourStamp(hour)}`;
}

/** The folder of one UTC day of digests (all trails of the scope): `…-Digest/…/<YYYY>/<MM>/<DD>/`. */
export function digestDayPrefix(scope: DigestScope, day: Date): string {
  assertDate(day, 'day');
  return `${digestFolderPrefix(scope)}${utcDatePath(day)}/`;
}

/**
 * The digests of one trail on one UTC day. As a listing prefix it may also match a trail whose
 * name extends this one (`abc` vs `abc_cn-hangzhou`): filter results with `parseDigestKey`.
 */
export function digestTrailDayPrefix(scope: DigestScope & { trailName: string }, day: Date): string {
  return `${digestDayPrefix(scope, day)}${DIGEST_FILE_PREFIX}${NAME_SEPARATOR}${scope.trailName}${NAME_SEPARATOR}${scope.region}${NAME_SEPARATOR}`;
}

export function archiveFileKey(input: ArchiveFileKeyInput): string {
  assertDate(input.deliveredAt, 'deliveredAt');
  if (!Number.isSafeInteger(input.eventCount) || input.eventCount < 0) throw new RangeError(`eventCount must be a non-negative integer: ${input.eventCount}`);
  if (!Number.isSafeInteger(input.fileSize) || input.fileSize < 0) throw new RangeError(`fileSize must be a non-negative integer: ${input.fileSize}`);
  const md5 = input.md5.toLowerCase();
  if (!MD5_HEX.test(md5)) throw new RangeError(`md5 must be 32 hex digits: ${JSON.stringify(input.md5)}`);
  const name = [
    ARCHIVE_FILE_PREFIX,
    input.region,
    utcSecondStamp(input.deliveredAt),
    ARCHIVE_FILE_TYPE,
    String(input.eventCount),
    String(input.fileSize),
    md5,
  ].join(NAME_SEPARATOR);
  return `${archiveDayPrefix(input, input.deliveredAt)}${name}${ARCHIVE_FILE_EXTENSION}`;
}

export function digestKey(input: DigestKeyInput): string {
  assertDate(input.hourStart, 'hourStart');
  if (!TRAIL_NAME_IN_KEY.test(input.trailName)) throw new RangeError(`not a trail name: ${JSON.stringify(input.trailName)}`);
  const hour = hourStartOf(input.hourStart);
  const name = [DIGEST_FILE_PREFIX, input.trailName, input.region, utcHourStamp(hour)].join(NAME_SEPARATOR);
  return `${digestDayPrefix(input, hour)}${name}${DIGEST_FILE_EXTENSION}`;
}

interface ParsedPath {
  ossKeyPrefix: string;
  organization?: OrganizationPath;
  accountId?: string;
  region: string;
  datePath: string;
  fileName: string;
}

/** Splits `[<prefix>/]AliyunLogs/<folder>/[<org>/<account>/]<region>/<YYYY>/<MM>/<DD>/<file>`. */
function parsePath(key: string, folder: string): ParsedPath | undefined {
  const parts = key.split('/');
  const fileName = parts.pop();
  if (fileName === undefined || parts.length < 6) return undefined;
  const [dd, mm, yyyy, region] = [parts.pop(), parts.pop(), parts.pop(), parts.pop()];
  if (!dd || !mm || !yyyy || !region || !/^\d{4}$/.test(yyyy) || !/^\d{2}$/.test(mm) || !/^\d{2}$/.test(dd)) return undefined;
  if (!ARCHIVE_REGION_PATTERN.test(region)) return undefined;
  let organization: OrganizationPath | undefined;
  let accountId: string | undefined;
  // `…/AliyunLogs/<folder>`, `…/AliyunLogs/<folder>/<org>/<account>` or (digests) `…/AliyunLogs/<folder>/<account>` remains.
  if (parts.length >= 2 && parts[parts.length - 1] === folder && parts[parts.length - 2] === ARCHIVE_ROOT_FOLDER) {
    parts.splice(-2, 2);
  } else if (
    folder === DIGEST_FOLDER &&
    parts.length >= 3 &&
    parts[parts.length - 2] === folder &&
    parts[parts.length - 3] === ARCHIVE_ROOT_FOLDER &&
    ACCOUNT_SEGMENT_PATTERN.test(parts[parts.length - 1] as string)
  ) {
    accountId = parts[parts.length - 1] as string;
    parts.splice(-3, 3);
  } else if (parts.length >= 4 && parts[parts.length - 3] === folder && parts[parts.length - 4] === ARCHIVE_ROOT_FOLDER) {
    const memberAccountId = parts[parts.length - 1] as string;
    const orgId = parts[parts.length - 2] as string;
    if (!SEGMENT_PATTERN.test(orgId) || !SEGMENT_PATTERN.test(memberAccountId)) return undefined;
    organization = { orgId, accountId: memberAccountId };
    parts.splice(-4, 4);
  } else {
    return undefined;
  }
  if (parts.some((part) => part === '')) return undefined;
  const ossKeyPrefix = parts.join('/');
  return { ossKeyPrefix, ...(organization ? { organization } : {}), ...(accountId ? { accountId } : {}), region, datePath: `${yyyy}/${mm}/${dd}`, fileName };
}

const ARCHIVE_NAME = /^Actiontrail_([a-z0-9-]+)_(\d{14})_1002_(\d+)_(\d+)_([0-9a-fA-F]{32})\.gz$/;

/** The parts of an archive file key, or undefined when the key is not one (folder and name must agree). */
export function parseArchiveFileKey(key: string): ParsedArchiveFileKey | undefined {
  const path = parsePath(key, ARCHIVE_FOLDER);
  if (!path) return undefined;
  const m = ARCHIVE_NAME.exec(path.fileName);
  if (!m) return undefined;
  const [region, stamp, count, size, md5] = [m[1] ?? '', m[2] ?? '', m[3] ?? '', m[4] ?? '', m[5] ?? ''];
  if (region !== path.region) return undefined;
  const deliveredAt = parseStamp(stamp);
  if (!deliveredAt || utcDatePath(deliveredAt) !== path.datePath) return undefined;
  const eventCount = Number(count);
  const fileSize = Number(size);
  if (!Number.isSafeInteger(eventCount) || !Number.isSafeInteger(fileSize)) return undefined;
  return {
    key,
    ossKeyPrefix: path.ossKeyPrefix,
    ...(path.organization ? { organization: path.organization } : {}),
    region,
    deliveredAt,
    hourStart: hourStartOf(deliveredAt),
    eventCount,
    fileSize,
    md5: md5.toLowerCase(),
  };
}

/** The parts of a digest key, or undefined when the key is not one. */
export function parseDigestKey(key: string): ParsedDigestKey | undefined {
  const path = parsePath(key, DIGEST_FOLDER);
  if (!path) return undefined;
  const head = `${DIGEST_FILE_PREFIX}${NAME_SEPARATOR}`;
  const tail = new RegExp(`${NAME_SEPARATOR}${path.region}${NAME_SEPARATOR}(\\d{10})\\${DIGEST_FILE_EXTENSION}$`).exec(path.fileName);
  if (!path.fileName.startsWith(head) || !tail || tail.index <= head.length) return undefined;
  const trailName = path.fileName.slice(head.length, tail.index);
  if (!TRAIL_NAME_IN_KEY.test(trailName)) return undefined;
  const hourStart = parseStamp(tail[1] as string);
  if (!hourStart || utcDatePath(hourStart) !== path.datePath) return undefined;
  return {
    key,
    ossKeyPrefix: path.ossKeyPrefix,
    ...(path.organization ? { organization: path.organization } : {}),
    ...(path.accountId ? { accountId: path.accountId } : {}),
    region: path.region,
    trailName,
    hourStart,
  };
}

/** Whether two scopes name the same chain. */
export function sameScope(a: ArchiveScope, b: ArchiveScope): boolean {
  return (
    normaliseOssKeyPrefix(a.ossKeyPrefix) === normaliseOssKeyPrefix(b.ossKeyPrefix) &&
    a.region === b.region &&
    a.organization?.orgId === b.organization?.orgId &&
    a.organization?.accountId === b.organization?.accountId
  );
}

/**
 * How long after the end of an hour the deliverer waits before it writes that hour's digest:
 * archive puts named in the hour may still be in flight until then. A deliverer must not put
 * a file named in an hour whose digest it has already written (name files by the time of the put).
 */
export const DIGEST_GRACE_MS = 2 * 60_000;

/** The verifier calls a digest-less hour "overdue" once this long has passed after its end. */
export const DIGEST_OVERDUE_MS = 30 * 60_000;

/** Whether the digest of the hour starting at `hourStart` may be written at `now`. */
export function digestIsDue(hourStart: Date, now: Date): boolean {
  return now.getTime() >= hourStartOf(hourStart).getTime() + HOUR_MS + DIGEST_GRACE_MS;
}
