/**
 * Setting a record aside (issue 11 item 4): no stage fails a whole batch for one record it cannot
 * store. The record is written, with the stage that refused it and why, as a rejected object in
 * the staging bucket — `rejected/<accountId>/<YYYY>/<MM>/<DD>/<id>.json` (rejectedKey) — where a
 * user finds it, and the rest of the batch proceeds. Classify (a staging object's records) and
 * the deliverers (a trail outbox's entries) write them through the same writer, `writeSetAside`.
 * Keys are stable for their source, so a retry overwrites the same object.
 */
import { rejectedKey } from './staging.ts';

/** A record that could not be stored, kept with the stage that refused it and why. */
export interface SetAsideRecord {
  /**
   * `validate` (the record breaks the event schema), `classify`, `history`; `deliver-oss` and
   * `deliver-logstore` (a trail outbox entry the deliverer cannot write for what it is).
   */
  stage: 'validate' | 'classify' | 'history' | 'deliver-oss' | 'deliver-logstore';
  /**
   * The account whose `rejected/` folder holds it: the record's (digits) at classify, the trail's
   * at the deliverers; '' when it has none.
   */
  accountId: string;
  /** The trail whose outbox held the record (the deliverers' stages). */
  trail?: { accountId: string; name: string };
  eventId?: string;
  /** Position in the source object. */
  index?: number;
  code: string;
  field?: string;
  reason: string;
  record: unknown;
}

/** Where a batch of set-aside records came from, and where they go. */
export interface SetAsideSource {
  /** The staging bucket: the rejected objects are written there. */
  bucket: string;
  /** Names the source in the key (rejectedKey hashes it): the same source always gets the same key. */
  objectId: string;
  /** The day folder of the key: when the source was received (stable across retries). */
  receivedAtMs: number;
  /** The document's `source` field: what a user needs to find the origin. */
  describe: Record<string, unknown>;
  /** Fields added to each log line (e.g. the object key, or the trail). */
  logFields: Record<string, unknown>;
}

export interface SetAsideWriterPorts {
  /** Writes a JSON document; the same key is overwritten. */
  writeJson(bucket: string, key: string, document: unknown): Promise<void>;
  log: { warn(message: string, fields?: Record<string, unknown>): void };
}

/** What a stage that sets records aside is given: the writer and the staging bucket. */
export interface RejectedObjectPorts extends SetAsideWriterPorts {
  bucket: string;
}

/**
 * Writes one rejected object per account of `records` (stable keys: a retry overwrites them) and
 * logs each record; returns the keys written. A write that fails throws: the caller keeps the
 * records where they were, to be set aside again on the retry.
 */
/**
 * The record as it can be written: a record no JSON writer can serialise (nested past the stack,
 * a cycle) is replaced by a note saying so, so that setting it aside never fails — the
 * source object still holds it.
 */
function writable(record: SetAsideRecord): SetAsideRecord {
  try {
    JSON.stringify(record.record);
    return record;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ...record, record: { unserialisable: `the record cannot be written as JSON (${why.slice(0, 200)}); it stays in its source object` } };
  }
}

export async function writeSetAside(source: SetAsideSource, records: readonly SetAsideRecord[], ports: SetAsideWriterPorts): Promise<string[]> {
  const byAccount = new Map<string, SetAsideRecord[]>();
  for (const record of records) {
    ports.log.warn('record set aside', {
      ...source.logFields,
      stage: record.stage,
      eventId: record.eventId,
      code: record.code,
      field: record.field,
      reason: record.reason,
    });
    const list = byAccount.get(record.accountId);
    if (list) list.push(writable(record));
    else byAccount.set(record.accountId, [writable(record)]);
  }
  const keys: string[] = [];
  for (const [accountId, list] of byAccount) {
    const key = rejectedKey(accountId, source.receivedAtMs, source.objectId);
    const document = { source: source.describe, accountId, receivedAt: new Date(source.receivedAtMs).toISOString(), records: list };
    await ports.writeJson(source.bucket, key, document);
    ports.log.warn('rejected object written', { key, records: list.length });
    keys.push(key);
  }
  return keys;
}
