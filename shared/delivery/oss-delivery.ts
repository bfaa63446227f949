/**
 * deliver-oss's use case: drain each trail's archive outbox into gzip JSON array files laid out
 * as ActionTrail does (docs/design.md §3.5), one file per region (and member account, for organization
 * trails) per batch, then write the signed hourly digests that chain them.
 *
 * Exactly-once files: before a file is put, its name and digest entry are recorded as the trail's
 * pending file; a retried invocation finds it, checks whether the object exists, and finishes
 * (acknowledges) or drops it — so a crash never writes the same events into two files. One
 * drainer per trail at a time (a lock), so two invocations never cut the same entries.
 *
 * One entry never blocks its trail: an entry that cannot be archived for what it is (its JSON
 * does not parse, it is no event object, its eventTime is no time, its region or member account
 * cannot name an archive folder, or it would open a region folder past MAX_ARCHIVE_REGIONS_PER_TRAIL)
 * is set aside as a rejected object in the staging bucket
 * (set-aside-entries.ts) and acknowledged once the batch's files are written. A store failure
 * fails the trail and keeps every entry.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  ARCHIVE_REGION_PATTERN,
  archiveFileKey,
  archiveScopePrefix,
  digestIsDue,
  digestKey,
  hourStartOf,
  HOUR_MS,
  type ArchiveScope,
} from '../archive/layout.ts';
import { jsonArrayUtf8 } from '../archive/archive-file.ts';
import { createDigestDocument, describeArchiveFile, signDigest, serialiseSignedDigest, linkTo, type DigestFileEntry, type PreviousDigestLink } from '../archive/digest.ts';
import type { Trail } from '../trails/model.ts';
import type { DeliveryStatusStore } from './delivery-status.ts';
import { RetryableError } from '../errors.ts';
import type { RejectedObjectPorts } from '../pipeline/set-aside.ts';
import { parseEntry, setAsideEntries, type EntryRefusal, type RefusedEntry } from './set-aside-entries.ts';
import type { DeliveryMetricsPort } from './delivery-metrics.ts';

/** Most events in one archive file. */
export const ARCHIVE_FILE_MAX_EVENTS = 1000;
/**
 * Most region folders one trail's archive opens. acsRegion is whatever the caller sent (any id
 * that can name a folder), and every region is a scope whose digest chain is written every hour
 * from then on and which every archive query lists: without a bound, one AccessKey's events
 * naming thousands of made-up regions would make the deliverer (which works through every trail
 * in turn) write thousands of digests an hour, for ever. ActionTrail has about 25 public regions.
 */
export const MAX_ARCHIVE_REGIONS_PER_TRAIL = 64;
/**
 * A wake-up writes a partial file once its oldest entry has waited this long. Entries younger
 * than that are not left to the minute timer (FC's shortest interval): deliver-oss schedules a
 * deferred pass of itself for when the oldest of them comes of age (FC's delayed async
 * invocation, `x-fc-async-delay`), so an event is archived within about ARCHIVE_FLUSH_AGE_MS
 * of its arrival however little traffic follows it.
 */
export const ARCHIVE_FLUSH_AGE_MS = 20_000;
/** The shortest delay of a deferred pass (FC's async delay counts whole seconds). */
export const DEFERRED_FLUSH_MIN_DELAY_MS = 1_000;
/** A flush (timer) waits this long for a trail another invocation is delivering, then leaves it to that one. */
export const FLUSH_LOCK_WAIT_MS = 5_000;
const FLUSH_LOCK_RETRY_MS = 250;
/** Most digest hours written per scope in one invocation (catching up after an outage). */
export const DIGEST_CATCH_UP_HOURS = 48;

export interface OutboxItem {
  eventId: string;
  json: string;
  arrivedAtMs: number;
}

export interface PendingFile {
  key: string;
  hourStartMs: number;
  scope: ArchiveScope;
  entry: DigestFileEntry;
  eventIds: string[];
}

export interface SigningKey {
  privateKeyPem: string;
  fingerprint: string;
}

export interface OssDeliveryPorts {
  trails(): Promise<{ accountId: string; trailName: string }[]>;
  getTrail(accountId: string, trailName: string): Promise<Trail | undefined>;
  peek(accountId: string, trailName: string, limit: number): Promise<OutboxItem[]>;
  ack(accountId: string, trailName: string, eventIds: readonly string[]): Promise<void>;
  /** Holds a trail's delivery lock while `work` runs; false when another invocation holds it. */
  withLock(accountId: string, trailName: string, work: () => Promise<void>): Promise<boolean>;
  /**
   * Finishes a written file in one atomic step: what finishPending otherwise does step by step —
   * records it in the file log, acknowledges its entries, clears it as the pending file and counts
   * its events as delivery_oss_success_count at `atMs`. Optional: without it, the steps are taken
   * one by one (each safe to repeat, so a retry that finds the file pending finishes it).
   */
  finishFile?(accountId: string, trailName: string, file: PendingFile, atMs: number): Promise<void>;
  pending: {
    get(accountId: string, trailName: string): Promise<PendingFile | undefined>;
    set(accountId: string, trailName: string, file: PendingFile): Promise<void>;
    clear(accountId: string, trailName: string): Promise<void>;
  };
  /** Files delivered per trail, scope and hour, waiting for their digest. */
  fileLog: {
    add(accountId: string, trailName: string, scope: ArchiveScope, hourStartMs: number, entry: DigestFileEntry): Promise<void>;
    scopes(accountId: string, trailName: string): Promise<ArchiveScope[]>;
    files(accountId: string, trailName: string, scope: ArchiveScope, hourStartMs: number): Promise<DigestFileEntry[]>;
    /** The first hour with files of a scope that has no digest yet. */
    firstHour(accountId: string, trailName: string, scope: ArchiveScope): Promise<number | undefined>;
    drop(accountId: string, trailName: string, scope: ArchiveScope, hourStartMs: number): Promise<void>;
  };
  chain: {
    head(accountId: string, trailName: string, scope: ArchiveScope): Promise<{ link: PreviousDigestLink; hourStartMs: number } | null>;
    save(accountId: string, trailName: string, scope: ArchiveScope, link: PreviousDigestLink): Promise<void>;
  };
  objects: {
    put(bucket: string, key: string, body: Buffer, contentType: string): Promise<void>;
    exists(bucket: string, key: string): Promise<boolean>;
  };
  signingKey(): Promise<SigningKey>;
  status: DeliveryStatusStore;
  /** Where entries that cannot be archived are set aside (the staging bucket's `rejected/`). */
  rejected: RejectedObjectPorts;
  /** delivery_oss_{success,fail}_count (delivery-metrics.ts); not counted when absent. */
  metrics?: DeliveryMetricsPort;
  now(): number;
}

interface Parsed {
  item: OutboxItem;
  /** Insight events (docs/design.md §3.9) have no userIdentity: their account is recipientAccountId. */
  event: { eventTime: string; acsRegion?: string; userIdentity?: { accountId?: string }; recipientAccountId?: string };
}

function scopeOf(trail: Trail, event: Parsed['event']): ArchiveScope {
  const region = typeof event.acsRegion === 'string' && event.acsRegion !== '' ? event.acsRegion : trail.homeRegion;
  const account = event.userIdentity?.accountId ?? (typeof event.recipientAccountId === 'string' ? event.recipientAccountId : trail.accountId);
  return {
    ossKeyPrefix: trail.ossKeyPrefix,
    region,
    ...(trail.isOrganizationTrail ? { organization: { orgId: trail.organizationId ?? `rd-${trail.accountId}`, accountId: account } } : {}),
  };
}

/** The entry as an archive file holds it, or why it cannot be archived. */
function archiveEntryOf(trail: Trail, item: OutboxItem): { ok: true; parsed: Parsed; scope: ArchiveScope } | { ok: false; refusal: EntryRefusal } {
  const decoded = parseEntry(item.json);
  if (!decoded.ok) return decoded;
  const event = decoded.event as Parsed['event'];
  if (typeof event.eventTime !== 'string' || Number.isNaN(Date.parse(event.eventTime))) {
    return { ok: false, refusal: { code: 'InvalidEventTime', field: 'eventTime', reason: `eventTime is not a time: ${JSON.stringify(event.eventTime ?? null)}` } };
  }
  const scope = scopeOf(trail, event);
  if (typeof scope.region !== 'string' || !ARCHIVE_REGION_PATTERN.test(scope.region)) {
    return { ok: false, refusal: { code: 'InvalidRegion', field: 'acsRegion', reason: `acsRegion cannot name an archive folder: ${JSON.stringify(scope.region)}` } };
  }
  try {
    archiveScopePrefix(scope);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return { ok: false, refusal: { code: 'InvalidArchiveScope', field: 'userIdentity.accountId', reason: error.message } };
  }
  return { ok: true, parsed: { item, event }, scope };
}

const scopeId = (s: ArchiveScope) => `${s.organization ? `${s.organization.orgId}/${s.organization.accountId}/` : ''}${s.region}`;

async function finishPending(trail: Trail, pending: PendingFile, ports: OssDeliveryPorts): Promise<void> {
  if (ports.finishFile) return ports.finishFile(trail.accountId, trail.name, pending, ports.now());
  await ports.fileLog.add(trail.accountId, trail.name, pending.scope, pending.hourStartMs, pending.entry);
  await ports.ack(trail.accountId, trail.name, pending.eventIds);
  await ports.pending.clear(trail.accountId, trail.name);
  await ports.metrics?.add(trail.accountId, trail.name, 'delivery_oss_success_count', pending.eventIds.length, ports.now());
}

/** Writes one file for `items` (all of one scope) and acknowledges them. */
async function writeFile(trail: Trail, scope: ArchiveScope, items: Parsed[], ports: OssDeliveryPorts): Promise<void> {
  const bucket = trail.ossBucketName as string;
  const body = gzipSync(jsonArrayUtf8(items.map((p) => p.item.json)));
  const md5 = createHash('md5').update(body).digest('hex');
  const deliveredAt = new Date(ports.now());
  const key = archiveFileKey({ ...scope, deliveredAt, eventCount: items.length, fileSize: body.byteLength, md5 });
  const entry = describeArchiveFile({ key, body, events: items.map((p) => p.event) });
  const pending: PendingFile = { key, hourStartMs: hourStartOf(deliveredAt).getTime(), scope, entry, eventIds: items.map((p) => p.item.eventId) };
  await ports.pending.set(trail.accountId, trail.name, pending);
  await ports.objects.put(bucket, key, body, 'application/gzip');
  await finishPending(trail, pending, ports);
}

/** Delivered and set-aside entries, and the arrival time of the oldest entry left waiting (if any). */
interface Drained {
  delivered: number;
  setAside: number;
  waitingSinceMs?: number;
}

async function drainTrail(trail: Trail, force: boolean, ports: OssDeliveryPorts): Promise<Drained> {
  const pending = await ports.pending.get(trail.accountId, trail.name);
  if (pending) {
    if (await ports.objects.exists(trail.ossBucketName as string, pending.key)) await finishPending(trail, pending, ports);
    else await ports.pending.clear(trail.accountId, trail.name);
  }
  let delivered = 0;
  let setAside = 0;
  // The regions the trail's archive already has folders (and digest chains) for.
  const regions = new Set((await ports.fileLog.scopes(trail.accountId, trail.name)).map((s) => s.region));
  for (;;) {
    const items = await ports.peek(trail.accountId, trail.name, ARCHIVE_FILE_MAX_EVENTS);
    if (items.length === 0) break;
    const oldest = Math.min(...items.map((i) => i.arrivedAtMs));
    if (!force && items.length < ARCHIVE_FILE_MAX_EVENTS && ports.now() - oldest < ARCHIVE_FLUSH_AGE_MS) return { delivered, setAside, waitingSinceMs: oldest };
    const groups = new Map<string, { scope: ArchiveScope; items: Parsed[] }>();
    const refused: RefusedEntry[] = [];
    for (const item of items) {
      const checked = archiveEntryOf(trail, item);
      if (!checked.ok) {
        refused.push({ entry: item, refusal: checked.refusal });
        continue;
      }
      if (!regions.has(checked.scope.region)) {
        if (regions.size >= MAX_ARCHIVE_REGIONS_PER_TRAIL) {
          const reason = `the trail's archive already has ${MAX_ARCHIVE_REGIONS_PER_TRAIL} region folders; acsRegion ${JSON.stringify(checked.scope.region)} would open another`;
          refused.push({ entry: item, refusal: { code: 'TooManyRegions', field: 'acsRegion', reason } });
          continue;
        }
        regions.add(checked.scope.region);
      }
      const id = scopeId(checked.scope);
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { scope: checked.scope, items: [] }));
      group.items.push(checked.parsed);
    }
    // Rejected objects first, acknowledged last: a failure anywhere keeps the refused entries,
    // and the retry overwrites the same rejected objects.
    await setAsideEntries('deliver-oss', { accountId: trail.accountId, trailName: trail.name }, refused, ports.rejected);
    for (const group of groups.values()) await writeFile(trail, group.scope, group.items, ports);
    await ports.ack(trail.accountId, trail.name, refused.map((r) => r.entry.eventId));
    await ports.metrics?.add(trail.accountId, trail.name, 'delivery_oss_fail_count', refused.length, ports.now());
    delivered += items.length - refused.length;
    setAside += refused.length;
    if (items.length < ARCHIVE_FILE_MAX_EVENTS) break;
  }
  return { delivered, setAside };
}

/** Digests for every hour that is due, per scope, chained to the scope's previous digest. */
async function writeDigests(trail: Trail, ports: OssDeliveryPorts): Promise<number> {
  const now = new Date(ports.now());
  let written = 0;
  for (const scope of await ports.fileLog.scopes(trail.accountId, trail.name)) {
    const head = await ports.chain.head(trail.accountId, trail.name, scope);
    let hour = head ? head.hourStartMs + HOUR_MS : await ports.fileLog.firstHour(trail.accountId, trail.name, scope);
    if (hour === undefined) continue;
    let previous = head?.link ?? null;
    for (let n = 0; n < DIGEST_CATCH_UP_HOURS && digestIsDue(new Date(hour), now); n++, hour += HOUR_MS) {
      const key = await ports.signingKey();
      const files = await ports.fileLog.files(trail.accountId, trail.name, scope, hour);
      const doc = createDigestDocument({
        trailName: trail.name,
        accountId: scope.organization?.accountId ?? trail.accountId,
        region: scope.region,
        hour: new Date(hour),
        files,
        previous,
        publicKeyFingerprint: key.fingerprint,
        signedAt: now,
      });
      const stored = serialiseSignedDigest(signDigest(doc, key.privateKeyPem));
      // The account folder keeps same-named trails of different accounts apart (docs/design.md §3.5).
      const path = digestKey({ ...scope, accountId: trail.accountId, trailName: trail.name, hourStart: new Date(hour) });
      await ports.objects.put(trail.ossBucketName as string, path, Buffer.from(stored), 'application/json');
      previous = linkTo(path, stored);
      await ports.chain.save(trail.accountId, trail.name, scope, previous);
      await ports.fileLog.drop(trail.accountId, trail.name, scope, hour);
      written++;
    }
  }
  return written;
}

export interface OssDeliveryResult {
  delivered: number;
  /** Entries set aside as rejected objects (they could not be archived for what they are). */
  setAside: number;
  digests: number;
  failed: string[];
  busy: string[];
  /** Arrival of the oldest entry a wake-up left because it was too young to write yet. */
  waitingSinceMs?: number;
}

export async function deliverToArchives(ports: OssDeliveryPorts, options: { force: boolean }): Promise<OssDeliveryResult> {
  const result: OssDeliveryResult = { delivered: 0, setAside: 0, digests: 0, failed: [], busy: [] };
  for (const { accountId, trailName } of await ports.trails()) {
    const trail = await ports.getTrail(accountId, trailName);
    if (!trail?.ossBucketName) continue;
    const id = `${accountId}/${trailName}`;
    try {
      const work = async () => {
        const drained = await drainTrail(trail, options.force, ports);
        result.delivered += drained.delivered;
        result.setAside += drained.setAside;
        result.digests += await writeDigests(trail, ports);
        if (drained.delivered > 0) await ports.status.record(accountId, trailName, 'oss', { ok: true, atMs: ports.now() });
        if (drained.waitingSinceMs !== undefined) result.waitingSinceMs = Math.min(result.waitingSinceMs ?? Number.POSITIVE_INFINITY, drained.waitingSinceMs);
      };
      let ran = await ports.withLock(accountId, trailName, work);
      // A flush must not leave stragglers to the next minute because a wake-up held the trail.
      for (let waited = 0; !ran && options.force && waited < FLUSH_LOCK_WAIT_MS; waited += FLUSH_LOCK_RETRY_MS) {
        await new Promise((r) => setTimeout(r, FLUSH_LOCK_RETRY_MS));
        ran = await ports.withLock(accountId, trailName, work);
      }
      if (!ran) result.busy.push(id);
    } catch (error) {
      result.failed.push(id);
      await ports.status.record(accountId, trailName, 'oss', { ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return result;
}

/**
 * When a wake-up left entries too young to write, the delay after which a deferred pass
 * writes them (they are of age then), so they need not wait for the minute timer; undefined
 * when nothing waits.
 */
export function deferredFlushDelayMs(result: OssDeliveryResult, nowMs: number): number | undefined {
  if (result.waitingSinceMs === undefined) return undefined;
  return Math.max(DEFERRED_FLUSH_MIN_DELAY_MS, result.waitingSinceMs + ARCHIVE_FLUSH_AGE_MS - nowMs);
}

export interface ArchivePassPorts extends OssDeliveryPorts {
  /** Schedules one deferred pass of deliver-oss in `delayMs`, unless one is already scheduled. */
  scheduleDeferredPass(delayMs: number): Promise<void>;
}

/**
 * deliver-oss's use case for one invocation: drain every trail's archive outbox (`force`: write
 * everything, as the flush timer does; otherwise only full or aged files, as a wake-up does),
 * write the digests due, and schedule one deferred pass for entries too young to write yet.
 * Entries that cannot be archived are set aside and counted (`setAside`); a trail that failed
 * (a store) keeps its events in the outbox and fails the pass (RetryableError), so FC retries the
 * invocation.
 */
export async function runArchivePass(ports: ArchivePassPorts, options: { force: boolean }): Promise<OssDeliveryResult> {
  const result = await deliverToArchives(ports, options);
  const delayMs = deferredFlushDelayMs(result, ports.now());
  if (delayMs !== undefined) await ports.scheduleDeferredPass(delayMs);
  if (result.failed.length > 0) throw new RetryableError(`archive delivery failed for ${result.failed.join(', ')}; events stay in the outbox`);
  return result;
}

