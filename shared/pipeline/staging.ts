/**
 * Staging objects: each accepted ingest batch is written as one gzip JSON object under
 * `inbox/` before the caller gets its answer; the OSS trigger then runs classify on it.
 */
import { z } from 'zod';
import type { IdentifiedEvent } from './records.ts';

export const INBOX_PREFIX = 'inbox/';
export const BACKFILL_PREFIX = 'backfill/';
/** Backfill result objects are written next to their file with this suffix (and ignored by classify). */
export const BACKFILL_RESULT_SUFFIX = '.result.json';

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

/** `inbox/YYYY/MM/DD/HH/<requestId>.json.gz`: unique per request, browsable by time. */
export function stagingKey(requestId: string, receivedAt: Date): string {
  const d = receivedAt;
  const safeId = requestId.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${INBOX_PREFIX}${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${safeId}.json.gz`;
}
