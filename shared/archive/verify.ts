/**
 * Verification of a trail's archive against its signed hourly digests (docs/design.md §3.5). Pure logic
 * over an injected `ArchiveReader` (adapters/archive/s3-archive.ts reads S3).
 *
 * For each scope (region, and for organization trails each member account) and each UTC hour
 * overlapping [from, to) — digests read from the account folder of single-account trails and from
 * the legacy account-less folder (layout.ts):
 *  - every digest of the trail is parsed and its Ed25519 signature checked (`badSignatures`;
 *    a validly signed digest stored under another trail's, region's or hour's key is
 *    `misplaced`, which catches a signed digest copied over another);
 *  - every file a digest lists must exist (`deleted`) with the SHA-256 the digest holds
 *    (`modified`);
 *  - each digest's `previousDigest` must name a stored digest of the same chain whose bytes hash
 *    to `sha256` and whose signature is `signature` (`brokenChain`): this catches a deleted,
 *    re-signed or replaced digest and a missing hour between two present digests. The link of
 *    the first digest in the range is followed to its (older) target, and the first digest
 *    after the range, when there is one, is checked to link to the last one in it;
 *  - an hour is "covered" when it is at or before the latest digest of the chain that was found
 *    (in the range, or the first one after it). An archive file of a covered hour that no digest
 *    of the trail lists is `inserted` — unless a validly signed digest of ANOTHER trail of the
 *    same bucket, prefix and scope lists it (trails may share a bucket and prefix, and archive
 *    file names carry no trail name). Objects in archive day folders whose names are not archive
 *    file names are `inserted` as well.
 *  - when the deliverer's record of the latest digest of a chain is passed (`heads`), that digest
 *    must be stored unchanged (`brokenChain` head-missing / head-mismatch) and covers its hour;
 *  - files of hours after the latest digest are `pendingHours` (their digest is not written
 *    yet); `overdue` marks those whose hour ended more than DIGEST_OVERDUE_MS ago — the
 *    deliverer is behind, or the latest digests were deleted. Pending hours are not tampering.
 */
import {
  DIGEST_OVERDUE_MS,
  HOUR_MS,
  archiveDayPrefix,
  archiveRootPrefix,
  daysOverlapping,
  digestDayPrefix,
  digestRootPrefix,
  digestTrailDayPrefix,
  DAY_MS,
  ARCHIVE_REGION_PATTERN,
  hourStartOf,
  parseArchiveFileKey,
  parseDigestKey,
  sameScope,
  type ArchiveScope,
  type DigestScope,
  type OrganizationPath,
  type ParsedDigestKey,
} from './layout.ts';
import {
  DigestFormatError,
  digestSha256,
  parseSignedDigest,
  publicKeyFingerprint,
  sha256Hex,
  verifyDigestSignature,
  type PreviousDigestLink,
  type SignedDigest,
} from './digest.ts';

export interface ArchiveObject {
  key: string;
  size: number;
}

/** Read access to the archive bucket. */
export interface ArchiveReader {
  /** Every object whose key starts with `prefix` (all pages). */
  list(prefix: string): Promise<ArchiveObject[]>;
  /** An object's bytes; throws ArchiveObjectNotFoundError when it does not exist. */
  read(key: string): Promise<Buffer>;
  /**
   * Optional: the "folders" directly under `prefix` (ListObjectsV2 with Delimiter `/`), each a
   * full prefix ending in `/`. `discoverScopes` uses it to avoid listing every file.
   */
  listFolders?(prefix: string): Promise<string[]>;
}

export class ArchiveObjectNotFoundError extends Error {
  override name = 'ArchiveObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no object ${key}`);
  }
}

export interface VerifyTrail {
  name: string;
  /**
   * The trail's account: single-account digests must name it, and their account folder
   * (`…/Actiontrail-Digest/<accountId>/…`, where deliver-oss writes them) is read only when it is
   * given — without it only the legacy account-less folder is.
   */
  accountId?: string | undefined;
  ossKeyPrefix?: string | undefined;
  regions: string[];
  /** Organization trails: the organization folder and the member accounts to verify. */
  organization?: { orgId: string; accountIds: string[] } | undefined;
}

export interface VerifyOptions {
  reader: ArchiveReader;
  trail: VerifyTrail;
  from: Date;
  to: Date;
  publicKeyPem: string;
  /** For `overdue` and for how far to look for the digest after the range (default: now). */
  now?: Date;
  /** Parallel reads (default 8). */
  concurrency?: number;
  /**
   * The latest digest of each chain as recorded outside the bucket (the deliverer's chain
   * heads, adapters/archive/digest-chain-store.ts). Each head of a verified scope must be stored
   * with that hash; it extends coverage to its hour. Without heads, deleting the newest digests
   * (or everything) of a chain shows only as overdue pending hours.
   */
  heads?: readonly PreviousDigestLink[];
}

export interface ScopeRef {
  region: string;
  organization?: OrganizationPath;
}

export interface ModifiedFile extends ScopeRef {
  key: string;
  digestKey: string;
  expectedSha256: string;
  actualSha256: string;
  expectedSize: number;
  actualSize: number;
}

export interface DeletedFile extends ScopeRef {
  key: string;
  digestKey: string;
}

export type InsertedReason = 'not-in-digest' | 'unrecognised-name';
export interface InsertedFile extends ScopeRef {
  key: string;
  size: number;
  /** ISO start of the file's delivery hour (absent for unrecognised names). */
  hourStart?: string;
  reason: InsertedReason;
}

export type BadDigestReason = 'signature' | 'unknown-key' | 'malformed' | 'misplaced';
export interface BadDigest extends ScopeRef {
  key: string;
  reason: BadDigestReason;
  message: string;
}

export type ChainBreakReason =
  | 'previous-missing'
  | 'previous-hash-mismatch'
  | 'previous-signature-mismatch'
  | 'previous-invalid'
  | 'chain-restarted'
  | 'unlinked-digest'
  | 'head-missing'
  | 'head-mismatch';
export interface ChainBreak extends ScopeRef {
  /** The digest whose link is wrong (for `unlinked-digest`: the digest nothing links to). */
  key: string;
  previousKey?: string;
  reason: ChainBreakReason;
  message: string;
}

export interface PendingHour extends ScopeRef {
  hourStart: string;
  files: number;
  overdue: boolean;
}

export interface VerifyReport extends ScopeResult {
  ok: boolean;
  trailName: string;
  /** ISO; the hour-aligned range actually verified: [from, to). */
  from: string;
  to: string;
  scopes: ScopeRef[];
}

/** How many days after the range the verifier looks for the next digest of a chain. */
export const SUCCESSOR_SEARCH_DAYS = 366;
const DEFAULT_CONCURRENCY = 8;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

/** The objects under `prefixOf(folder)` for each digest folder of a scope (legacy and account folder). */
async function listDigests(reader: ArchiveReader, folders: readonly DigestScope[], prefixOf: (folder: DigestScope) => string): Promise<ArchiveObject[]> {
  const lists = await Promise.all(folders.map((folder) => reader.list(prefixOf(folder))));
  return lists.flat();
}

async function readOrUndefined(reader: ArchiveReader, key: string): Promise<Buffer | undefined> {
  try {
    return await reader.read(key);
  } catch (error) {
    if (error instanceof ArchiveObjectNotFoundError) return undefined;
    throw error;
  }
}

interface LoadedDigest {
  key: string;
  hourMs: number;
  bytes: Buffer;
  /** Set when the digest parsed (whatever its signature). */
  digest?: SignedDigest;
  trusted: boolean;
}

/** What verifying one scope (region, member account) found. */
export interface ScopeResult {
  digestsChecked: number;
  filesChecked: number;
  modified: ModifiedFile[];
  deleted: DeletedFile[];
  inserted: InsertedFile[];
  badSignatures: BadDigest[];
  brokenChain: ChainBreak[];
  pendingHours: PendingHour[];
}

function emptyScopeResult(): ScopeResult {
  return { digestsChecked: 0, filesChecked: 0, modified: [], deleted: [], inserted: [], badSignatures: [], brokenChain: [], pendingHours: [] };
}

/** Adds findings (a scope's, or one step's) to a report's or a scope's. */
function addScopeResult(into: ScopeResult, r: Partial<ScopeResult>): void {
  into.digestsChecked += r.digestsChecked ?? 0;
  into.filesChecked += r.filesChecked ?? 0;
  into.modified.push(...(r.modified ?? []));
  into.deleted.push(...(r.deleted ?? []));
  into.inserted.push(...(r.inserted ?? []));
  into.badSignatures.push(...(r.badSignatures ?? []));
  into.brokenChain.push(...(r.brokenChain ?? []));
  into.pendingHours.push(...(r.pendingHours ?? []));
}

/** A clean report with nothing checked yet. */
export function emptyReport(trailName: string, from: Date, to: Date, scopes: ScopeRef[] = []): VerifyReport {
  return { ok: true, trailName, from: from.toISOString(), to: to.toISOString(), scopes, ...emptyScopeResult() };
}

function scopeRef(scope: ArchiveScope): ScopeRef {
  return { region: scope.region, ...(scope.organization ? { organization: { ...scope.organization } } : {}) };
}

export async function verifyArchive(options: VerifyOptions): Promise<VerifyReport> {
  const { trail } = options;
  if (!(options.from.getTime() < options.to.getTime())) throw new RangeError('verify: from must be before to');
  publicKeyFingerprint(options.publicKeyPem); // throws early on a key that is not Ed25519
  const fromHour = hourStartOf(options.from).getTime();
  const lastHour = hourStartOf(new Date(options.to.getTime() - 1)).getTime();
  const scopes: ArchiveScope[] = [];
  const regions = [...new Set(trail.regions)].sort();
  if (trail.organization) {
    for (const accountId of [...new Set(trail.organization.accountIds)].sort()) {
      for (const region of regions) scopes.push({ ossKeyPrefix: trail.ossKeyPrefix, region, organization: { orgId: trail.organization.orgId, accountId } });
    }
  } else {
    for (const region of regions) scopes.push({ ossKeyPrefix: trail.ossKeyPrefix, region });
  }
  const report = emptyReport(trail.name, new Date(fromHour), new Date(lastHour + HOUR_MS), scopes.map(scopeRef));
  for (const scope of scopes) {
    addScopeResult(report, await verifyScope(options, scope, fromHour, lastHour));
  }
  report.ok =
    report.modified.length === 0 &&
    report.deleted.length === 0 &&
    report.inserted.length === 0 &&
    report.badSignatures.length === 0 &&
    report.brokenChain.length === 0;
  return report;
}

async function verifyScope(options: VerifyOptions, scope: ArchiveScope, fromHour: number, lastHour: number): Promise<ScopeResult> {
  const ctx = scopeContext(options, scope, fromHour, lastHour);
  const result = emptyScopeResult();
  // 1. Archive files and digests of the days of the range.
  const listing = await listRange(ctx);
  // 2. Our digests: parse, check signature and placement.
  const ours = await loadOurDigests(ctx, listing.ourDigestKeys);
  addScopeResult(result, ours.findings);
  // 3. The first digest of the chain after the range (checks the tail link, extends coverage).
  const next = await findSuccessor(ctx, listing.lastListedDigestDay);
  addScopeResult(result, next.findings);
  // 4. The chain.
  const byKey = new Map(ours.digests.map((d) => [d.key, d]));
  const chain = next.successor ? [...ours.digests, next.successor] : ours.digests;
  addScopeResult(result, { brokenChain: await checkChain(ctx, chain, byKey) });
  // 4b. The chain head recorded outside the bucket.
  const heads = await checkHeads(ctx, options.heads ?? [], byKey, next.successor);
  addScopeResult(result, heads.findings);
  // 5. Listed files: present and unchanged.
  const listed = await checkListedFiles(ctx, ours.digests, listing.files);
  addScopeResult(result, listed.findings);
  // 6. Files no digest of this trail lists: another trail's, inserted, or pending.
  const unlisted = [...listing.files.values()].filter((f) => !listed.keys.has(f.key));
  const otherListed = await filesListedByOtherTrails(ctx, unlisted, listing.otherDigestKeys);
  const coveredUntil = coverageEnd(ctx, chain, next.successor !== undefined, heads.headHour);
  addScopeResult(result, classifyUnlisted(ctx, unlisted, otherListed, coveredUntil, listing.unrecognised));
  return dedupedAndSorted(result);
}

/** What every step of verifying one scope reads and never changes. */
interface ScopeContext {
  readonly reader: ArchiveReader;
  readonly trail: VerifyTrail;
  readonly scope: ArchiveScope;
  readonly ref: ScopeRef;
  /** Start of the first and of the last hour verified (ms). */
  readonly fromHour: number;
  readonly lastHour: number;
  readonly now: number;
  readonly publicKeyPem: string;
  readonly expectedFingerprint: string;
  /** The account single-account digests (or the member account's digests) must name. */
  readonly expectedAccount: string | undefined;
  /** Parallel reads. */
  readonly limit: number;
  readonly digestFolders: readonly DigestScope[];
}

function scopeContext(options: VerifyOptions, scope: ArchiveScope, fromHour: number, lastHour: number): ScopeContext {
  const { reader, trail, publicKeyPem } = options;
  return Object.freeze({
    reader,
    trail,
    scope,
    ref: scopeRef(scope),
    fromHour,
    lastHour,
    now: (options.now ?? new Date()).getTime(),
    publicKeyPem,
    expectedFingerprint: publicKeyFingerprint(publicKeyPem),
    expectedAccount: scope.organization?.accountId ?? trail.accountId,
    limit: options.concurrency ?? DEFAULT_CONCURRENCY,
    // Single-account digests live in the account's folder; the legacy account-less folder is read too.
    digestFolders: !scope.organization && trail.accountId !== undefined ? [scope, { ...scope, accountId: trail.accountId }] : [scope],
  });
}

function inHours(ctx: ScopeContext, ms: number): boolean {
  return ms >= ctx.fromHour && ms <= ctx.lastHour;
}

/** A key that does not name a digest in another account's folder than the trail's. */
function inTrailAccountFolder(ctx: ScopeContext, parsed: ParsedDigestKey): boolean {
  return !(parsed.accountId !== undefined && ctx.trail.accountId !== undefined && parsed.accountId !== ctx.trail.accountId);
}

interface RangeFile {
  key: string;
  size: number;
  hourMs: number;
}

interface RangeListing {
  /** Archive files of the scope in the range's hours, by key (in listing order). */
  files: Map<string, RangeFile>;
  /** Objects in the scope's archive day folders that are not archive files of the scope. */
  unrecognised: ArchiveObject[];
  /** This trail's digest keys in the range's hours. */
  ourDigestKeys: ParsedDigestKey[];
  /** Other trails' digest keys of the scope in the range's hours, by hour. */
  otherDigestKeys: Map<number, string[]>;
  /** The last day whose digest folders were listed (ms). */
  lastListedDigestDay: number;
}

/** Step 1: the archive files and digests of the days of the range. */
async function listRange(ctx: ScopeContext): Promise<RangeListing> {
  const { reader, scope, trail } = ctx;
  const listing: RangeListing = { files: new Map(), unrecognised: [], ourDigestKeys: [], otherDigestKeys: new Map(), lastListedDigestDay: 0 };
  for (const day of daysOverlapping(new Date(ctx.fromHour), new Date(ctx.lastHour + HOUR_MS))) {
    for (const object of await reader.list(archiveDayPrefix(scope, day))) {
      const parsed = parseArchiveFileKey(object.key);
      if (!parsed || !sameScope(parsed, scope)) listing.unrecognised.push(object);
      else if (inHours(ctx, parsed.hourStart.getTime())) listing.files.set(object.key, { key: object.key, size: object.size, hourMs: parsed.hourStart.getTime() });
    }
    for (const object of await listDigests(reader, ctx.digestFolders, (folder) => digestDayPrefix(folder, day))) {
      const parsed = parseDigestKey(object.key);
      if (!parsed || !sameScope(parsed, scope)) continue;
      const hourMs = parsed.hourStart.getTime();
      if (parsed.trailName === trail.name) {
        if (inHours(ctx, hourMs)) listing.ourDigestKeys.push(parsed);
      } else if (inHours(ctx, hourMs)) {
        listing.otherDigestKeys.set(hourMs, [...(listing.otherDigestKeys.get(hourMs) ?? []), parsed.key]);
      }
    }
    listing.lastListedDigestDay = day.getTime();
  }
  return listing;
}

/**
 * A digest of this trail read from `parsedKey`: parsed, its signature checked and its content
 * matched to the key it is stored under. `bad` says why it is not trusted.
 */
function checkDigest(ctx: ScopeContext, parsedKey: ParsedDigestKey, bytes: Buffer): { loaded: LoadedDigest; bad?: BadDigest } {
  const loaded: LoadedDigest = { key: parsedKey.key, hourMs: parsedKey.hourStart.getTime(), bytes, trusted: false };
  const bad = (reason: BadDigestReason, message: string) => ({ loaded, bad: { ...ctx.ref, key: parsedKey.key, reason, message } });
  try {
    loaded.digest = parseSignedDigest(bytes);
  } catch (error) {
    if (!(error instanceof DigestFormatError)) throw error;
    return bad('malformed', error.message);
  }
  const digest = loaded.digest;
  if (!verifyDigestSignature(digest, ctx.publicKeyPem)) {
    if (digest.publicKeyFingerprint !== ctx.expectedFingerprint) {
      return bad('unknown-key', `signed with key ${digest.publicKeyFingerprint}, not the verifying key ${ctx.expectedFingerprint}`);
    }
    return bad('signature', 'the signature does not match the digest');
  }
  const expectedStart = new Date(loaded.hourMs).toISOString();
  const expectedEnd = new Date(loaded.hourMs + HOUR_MS).toISOString();
  const mismatches: string[] = [];
  if (digest.trailName !== ctx.trail.name) mismatches.push(`trailName ${digest.trailName}`);
  if (digest.region !== ctx.scope.region) mismatches.push(`region ${digest.region}`);
  if (digest.hourStart !== expectedStart) mismatches.push(`hourStart ${digest.hourStart}`);
  if (digest.hourEnd !== expectedEnd) mismatches.push(`hourEnd ${digest.hourEnd}`);
  if (ctx.expectedAccount !== undefined && digest.accountId !== ctx.expectedAccount) mismatches.push(`accountId ${digest.accountId}`);
  else if (parsedKey.accountId !== undefined && digest.accountId !== parsedKey.accountId) mismatches.push(`accountId ${digest.accountId}`);
  if (mismatches.length > 0) {
    return bad('misplaced', `a validly signed digest stored under a key it does not belong to (${mismatches.join(', ')})`);
  }
  loaded.trusted = true;
  return { loaded };
}

/** Step 2: our digests of the range, in hour order (those no longer stored left out). */
async function loadOurDigests(ctx: ScopeContext, keys: readonly ParsedDigestKey[]): Promise<{ digests: LoadedDigest[]; findings: Partial<ScopeResult> }> {
  const sorted = [...keys].sort((a, b) => a.hourStart.getTime() - b.hourStart.getTime());
  const badSignatures: BadDigest[] = [];
  let digestsChecked = 0;
  const loaded = await mapLimit(sorted, ctx.limit, async (parsedKey) => {
    const bytes = await readOrUndefined(ctx.reader, parsedKey.key);
    if (!bytes) return undefined;
    digestsChecked++;
    const checked = checkDigest(ctx, parsedKey, bytes);
    if (checked.bad) badSignatures.push(checked.bad);
    return checked.loaded;
  });
  const digests = loaded.filter((d): d is LoadedDigest => d !== undefined);
  return { digests, findings: { digestsChecked, badSignatures } };
}

/** Step 3: the first stored digest of the chain after the range (not counted in `digestsChecked`). */
async function findSuccessor(ctx: ScopeContext, lastListedDigestDay: number): Promise<{ successor?: LoadedDigest; findings: Partial<ScopeResult> }> {
  const { reader, trail, scope, lastHour } = ctx;
  const searchUntil = Math.min(ctx.now, lastHour + SUCCESSOR_SEARCH_DAYS * DAY_MS);
  for (let day = lastListedDigestDay; day <= searchUntil; day += DAY_MS) {
    const candidates = (await listDigests(reader, ctx.digestFolders, (folder) => digestTrailDayPrefix({ ...folder, trailName: trail.name }, new Date(day))))
      .map((o) => parseDigestKey(o.key))
      .filter((p): p is ParsedDigestKey => p !== undefined && p.trailName === trail.name && sameScope(p, scope) && p.hourStart.getTime() > lastHour)
      .sort((a, b) => a.hourStart.getTime() - b.hourStart.getTime());
    for (const candidate of candidates) {
      const bytes = await readOrUndefined(reader, candidate.key);
      if (!bytes) continue;
      const { loaded, bad } = checkDigest(ctx, candidate, bytes);
      return { successor: loaded, findings: { badSignatures: bad ? [bad] : [] } };
    }
  }
  return { findings: {} };
}

function chainBreak(ctx: ScopeContext, key: string, reason: ChainBreakReason, message: string, previousKey?: string): ChainBreak {
  return { ...ctx.ref, key, ...(previousKey !== undefined ? { previousKey } : {}), reason, message };
}

/**
 * Step 4: each digest of the chain (ours in hour order, then the successor) links to the stored
 * digest before it. Links of the first digest in the range are followed out of it (one read).
 */
async function checkChain(ctx: ScopeContext, chain: readonly LoadedDigest[], byKey: ReadonlyMap<string, LoadedDigest>): Promise<ChainBreak[]> {
  const breaks: ChainBreak[] = [];
  const broken = (key: string, reason: ChainBreakReason, message: string, previousKey?: string) => breaks.push(chainBreak(ctx, key, reason, message, previousKey));
  for (const d of chain) {
    if (!d.digest) continue;
    const link = d.digest.previousDigest;
    const earlier = chain.filter((e) => e.hourMs < d.hourMs);
    if (link === null) {
      const last = earlier[earlier.length - 1];
      if (last) broken(d.key, 'chain-restarted', `previousDigest is null although ${last.key} precedes it`);
      continue;
    }
    const target = parseDigestKey(link.key);
    if (!target || !inTrailAccountFolder(ctx, target) || target.trailName !== ctx.trail.name || !sameScope(target, ctx.scope) || target.hourStart.getTime() >= d.hourMs) {
      broken(d.key, 'previous-invalid', 'previousDigest does not name an earlier digest of this trail and scope', link.key);
      continue;
    }
    const targetMs = target.hourStart.getTime();
    for (const skipped of earlier.filter((e) => e.hourMs > targetMs)) {
      broken(skipped.key, 'unlinked-digest', `${d.key} links to ${link.key}, skipping this digest`);
    }
    const stored = byKey.get(link.key)?.bytes ?? (targetMs < ctx.fromHour ? await readOrUndefined(ctx.reader, link.key) : undefined);
    if (!stored) {
      broken(d.key, 'previous-missing', `the previous digest ${link.key} is not stored`, link.key);
      continue;
    }
    const sha = digestSha256(stored);
    if (sha !== link.sha256) {
      broken(d.key, 'previous-hash-mismatch', `the stored previous digest hashes to ${sha}, the link says ${link.sha256}`, link.key);
      continue;
    }
    let storedSignature: string | undefined;
    try {
      storedSignature = parseSignedDigest(stored).signature;
    } catch (error) {
      if (!(error instanceof DigestFormatError)) throw error;
    }
    if (storedSignature !== link.signature) {
      broken(d.key, 'previous-signature-mismatch', `the stored previous digest's signature differs from the link's`, link.key);
    }
  }
  return breaks;
}

/**
 * Step 4b: each chain head the deliverer recorded for this scope is stored unchanged. `headHour`
 * is the latest head's hour when it is not before the range (it extends coverage).
 */
async function checkHeads(
  ctx: ScopeContext,
  heads: readonly PreviousDigestLink[],
  byKey: ReadonlyMap<string, LoadedDigest>,
  successor: LoadedDigest | undefined,
): Promise<{ headHour?: number; findings: Partial<ScopeResult> }> {
  let headHour: number | undefined;
  const brokenChain: ChainBreak[] = [];
  for (const head of heads) {
    const parsed = parseDigestKey(head.key);
    if (!parsed || parsed.trailName !== ctx.trail.name || !sameScope(parsed, ctx.scope)) continue;
    if (!inTrailAccountFolder(ctx, parsed)) continue;
    const hourMs = parsed.hourStart.getTime();
    if (hourMs >= ctx.fromHour) headHour = Math.max(headHour ?? hourMs, hourMs);
    const stored = byKey.get(head.key)?.bytes ?? (successor?.key === head.key ? successor.bytes : await readOrUndefined(ctx.reader, head.key));
    if (!stored) brokenChain.push(chainBreak(ctx, head.key, 'head-missing', 'the latest digest the deliverer recorded is not stored'));
    else if (digestSha256(stored) !== head.sha256) brokenChain.push(chainBreak(ctx, head.key, 'head-mismatch', 'the latest digest the deliverer recorded was replaced'));
  }
  return { ...(headHour !== undefined ? { headHour } : {}), findings: { brokenChain } };
}

/** Step 5: every file our digests list is present and unchanged. `keys`: the files they list. */
async function checkListedFiles(
  ctx: ScopeContext,
  ours: readonly LoadedDigest[],
  files: ReadonlyMap<string, RangeFile>,
): Promise<{ keys: Set<string>; findings: Partial<ScopeResult> }> {
  const keys = new Set<string>();
  const checks: { file: { key: string; sha256: string; size: number }; digestKey: string }[] = [];
  for (const d of ours) {
    for (const file of d.digest?.files ?? []) {
      keys.add(file.key);
      checks.push({ file, digestKey: d.key });
    }
  }
  const deleted: DeletedFile[] = [];
  const modified: ModifiedFile[] = [];
  await mapLimit(checks, ctx.limit, async ({ file, digestKey }) => {
    const known = files.has(file.key) || (await ctx.reader.list(file.key)).some((o) => o.key === file.key);
    const bytes = known ? await readOrUndefined(ctx.reader, file.key) : undefined;
    if (!bytes) {
      deleted.push({ ...ctx.ref, key: file.key, digestKey });
      return;
    }
    const actual = sha256Hex(bytes);
    if (actual !== file.sha256 || bytes.byteLength !== file.size) {
      modified.push({
        ...ctx.ref,
        key: file.key,
        digestKey,
        expectedSha256: file.sha256,
        actualSha256: actual,
        expectedSize: file.size,
        actualSize: bytes.byteLength,
      });
    }
  });
  return { keys, findings: { filesChecked: checks.length, deleted, modified } };
}

/**
 * Step 6a: the unlisted files a validly signed digest of ANOTHER trail of the same bucket, prefix
 * and scope lists (only the hours holding unlisted files are read).
 */
async function filesListedByOtherTrails(ctx: ScopeContext, unlisted: readonly RangeFile[], otherDigestKeys: ReadonlyMap<number, string[]>): Promise<Set<string>> {
  const otherListed = new Set<string>();
  const hoursToExplain = [...new Set(unlisted.map((f) => f.hourMs))].filter((h) => otherDigestKeys.has(h));
  for (const hourMs of hoursToExplain) {
    const loaded = await mapLimit(otherDigestKeys.get(hourMs) ?? [], ctx.limit, async (key) => {
      const bytes = await readOrUndefined(ctx.reader, key);
      if (!bytes) return [];
      try {
        const digest = parseSignedDigest(bytes);
        const parsedKey = parseDigestKey(key);
        const valid =
          verifyDigestSignature(digest, ctx.publicKeyPem) &&
          parsedKey !== undefined &&
          digest.trailName === parsedKey.trailName &&
          digest.region === ctx.scope.region &&
          digest.hourStart === new Date(hourMs).toISOString();
        return valid ? digest.files.map((f) => f.key) : [];
      } catch (error) {
        if (error instanceof DigestFormatError) return [];
        throw error;
      }
    });
    for (const keys of loaded) for (const key of keys) otherListed.add(key);
  }
  return otherListed;
}

/**
 * Step 6b: the last covered hour — the latest digest of the chain found (the whole range when a
 * digest after it was found), extended by the recorded head; undefined when nothing covers.
 */
function coverageEnd(ctx: ScopeContext, chain: readonly LoadedDigest[], successorFound: boolean, headHour: number | undefined): number | undefined {
  const latestFound = successorFound ? ctx.lastHour : chain.length > 0 ? Math.max(...chain.map((d) => d.hourMs)) : undefined;
  return headHour === undefined ? latestFound : Math.min(ctx.lastHour, Math.max(latestFound ?? headHour, headHour));
}

/**
 * Step 6c: an unlisted file of a covered hour is inserted, of a later hour pending; objects
 * whose names are not archive file names are inserted.
 */
function classifyUnlisted(
  ctx: ScopeContext,
  unlisted: readonly RangeFile[],
  otherListed: ReadonlySet<string>,
  coveredUntil: number | undefined,
  unrecognised: readonly ArchiveObject[],
): Partial<ScopeResult> {
  const inserted: InsertedFile[] = [];
  const pending = new Map<number, number>();
  for (const file of unlisted) {
    if (otherListed.has(file.key)) continue;
    if (coveredUntil !== undefined && file.hourMs <= coveredUntil) {
      inserted.push({ ...ctx.ref, key: file.key, size: file.size, hourStart: new Date(file.hourMs).toISOString(), reason: 'not-in-digest' });
    } else {
      pending.set(file.hourMs, (pending.get(file.hourMs) ?? 0) + 1);
    }
  }
  for (const object of unrecognised) inserted.push({ ...ctx.ref, key: object.key, size: object.size, reason: 'unrecognised-name' });
  const pendingHours = [...pending]
    .sort((a, b) => a[0] - b[0])
    .map(([hourMs, count]) => ({ ...ctx.ref, hourStart: new Date(hourMs).toISOString(), files: count, overdue: hourMs + HOUR_MS + DIGEST_OVERDUE_MS < ctx.now }));
  return { inserted, pendingHours };
}

/** The scope's findings with repeated chain breaks dropped and file findings in key order. */
function dedupedAndSorted(result: ScopeResult): ScopeResult {
  const seen = new Set<string>();
  const brokenChain = result.brokenChain.filter((b) => {
    const id = `${b.key}|${b.reason}|${b.previousKey ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  return {
    ...result,
    brokenChain,
    modified: [...result.modified].sort(byKey),
    deleted: [...result.deleted].sort(byKey),
    inserted: [...result.inserted].sort(byKey),
  };
}

/** A year folder (`<YYYY>/`) of a region folder: never a member account folder (account ids are longer). */
const YEAR_FOLDER = /^\d{4}$/;

/** Where an archive holds anything: the scopes to verify. */
export interface DiscoveredScopes {
  regions: string[];
  /** Organization trails: orgId → member accounts found. */
  organizations: Map<string, string[]>;
}

/**
 * The regions (and organization folders and member accounts) that hold archive files or
 * digests under a prefix. With `organization`, only organization folders are reported (and
 * only `organization.orgId` when given); without, only single-account region folders.
 */
export async function discoverScopes(
  reader: ArchiveReader,
  options: { ossKeyPrefix?: string | undefined; organization?: { orgId?: string | undefined } | undefined },
): Promise<DiscoveredScopes> {
  const regions = new Set<string>();
  const organizations = new Map<string, Set<string>>();
  const add = (region: string, org?: OrganizationPath) => {
    if (!options.organization) {
      if (!org) regions.add(region);
      return;
    }
    if (!org || (options.organization.orgId !== undefined && org.orgId !== options.organization.orgId)) return;
    regions.add(region);
    const accounts = organizations.get(org.orgId) ?? new Set<string>();
    accounts.add(org.accountId);
    organizations.set(org.orgId, accounts);
  };
  const roots = [archiveRootPrefix(options.ossKeyPrefix), digestRootPrefix(options.ossKeyPrefix)];
  const name = (folder: string, parent: string) => folder.slice(parent.length).replace(/\/$/, '');
  if (reader.listFolders) {
    const listFolders = reader.listFolders.bind(reader);
    for (const root of roots) {
      for (const first of await listFolders(root)) {
        const children = await listFolders(first);
        const isYear = (folder: string) => YEAR_FOLDER.test(name(folder, first));
        // A folder can be both: a single-account trail on the bucket and prefix of an organization
        // trail may have a region named like the organization id (`rd-…`), whose year folders then
        // sit next to the member folders; each kind of child is read as what it is.
        if (children.some(isYear)) {
          const region = name(first, root);
          if (ARCHIVE_REGION_PATTERN.test(region)) add(region);
        }
        if (options.organization) {
          const orgId = name(first, root);
          if (options.organization.orgId !== undefined && orgId !== options.organization.orgId) continue;
          for (const accountFolder of children.filter((c) => !isYear(c))) {
            for (const regionFolder of await listFolders(accountFolder)) {
              const region = name(regionFolder, accountFolder);
              if (ARCHIVE_REGION_PATTERN.test(region)) add(region, { orgId, accountId: name(accountFolder, first) });
            }
          }
        }
      }
    }
  } else {
    for (const root of roots) {
      for (const object of await reader.list(root)) {
        const parsed = parseArchiveFileKey(object.key) ?? parseDigestKey(object.key);
        if (parsed) add(parsed.region, parsed.organization);
      }
    }
  }
  return {
    regions: [...regions].sort(),
    organizations: new Map([...organizations].map(([org, accounts]) => [org, [...accounts].sort()])),
  };
}
