/**
 * Staging objects: each accepted ingest batch is written as one gzip JSON object under
 * `inbox/` before the caller gets its answer; the OSS trigger then runs classify on it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { IdentifiedEvent } from './records.ts';

export const INBOX_PREFIX = 'inbox/';
export const BACKFILL_PREFIX = 'backfill/';
/**
 * Records a later stage could not store are set aside, never dropped with their batch:
 * `rejected/<accountId>/<YYYY>/<MM>/<DD>/<id>.json` (the day the object was received), one per
 * source object and account; objects that cannot be read at all go under `rejected/unreadable/`.
 */
export const REJECTED_PREFIX = 'rejected/';
export const UNREADABLE_ACCOUNT = 'unreadable';
/** Largest decompressed staging object (an ingest body is at most 5 MiB; the envelope adds ids and keys). */
export const STAGING_MAX_DECODED_BYTES = 8 * 1024 * 1024;
/** Largest decompressed backfill file (ActionTrail archive files hold 1,000 events, a few MiB). */
export const BACKFILL_MAX_DECODED_BYTES = 32 * 1024 * 1024;
/** Most records in one backfill file. */
export const BACKFILL_MAX_RECORDS = 50_000;
/** Backfill result objects are written next to their file with this suffix (and ignored by classify). */
export const BACKFILL_RESULT_SUFFIX = '.result.json';
/** S3's (and OSS's) longest object key, in UTF-8 bytes: a backfill key longer than this less the result suffix has no room for its result object. */
export const MAX_OBJECT_KEY_BYTES = 1024;

export const StagingBatchSchema = z.object({
  version: z.literal(1),
  accountId: z.string(),
  requestId: z.string(),
  receivedAt: z.string(),
  sourceIp: z.string(),
  accessKeyId: z.string(),
  events: z.array(z.looseObject({ eventId: z.string() })),
});
export type StagingBatch = Omit<z.infer<typeof StagingBatchSchema>, 'events'> & { events: IdentifiedEvent[] };

const pad = (n: number) => String(n).padStart(2, '0');

/** The rejected object of one source object (`objectId` = bucket/key@eTag) and account: stable, so a retry overwrites it. */
export function rejectedKey(accountId: string, receivedAtMs: number, objectId: string): string {
  const d = new Date(receivedAtMs);
  const account = /^\d+$/.test(accountId) ? accountId : UNREADABLE_ACCOUNT;
  const id = createHash('sha256').update(objectId).digest('hex').slice(0, 32);
  return `${REJECTED_PREFIX}${account}/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${id}.json`;
}

/** `inbox/YYYY/MM/DD/HH/<requestId>.json.gz`: unique per request, browsable by time. */
export function stagingKey(requestId: string, receivedAt: Date): string {
  const d = receivedAt;
  const safeId = requestId.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${INBOX_PREFIX}${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${safeId}.json.gz`;
}
