/**
 * The classify function's use case for one object an OSS trigger names: a staging object
 * (`inbox/`, written by ingest) or a backfill file (`backfill/`). It reads and decodes the object,
 * hands its events to classifyObject (classify-batch.ts), writes a backfill file's result object
 * next to it, and wakes the deliverers when any trail received events.
 *
 * One record never sinks its object: a record that fails validation here (a staging object
 * written around ingest, or by an older version) or that a store refuses is set aside in a
 * rejected object (`rejected/<accountId>/<YYYY>/<MM>/<DD>/<id>.json` in the staging bucket, see
 * rejectedKey) and the rest proceeds. An object that cannot be read at all (too large once
 * decompressed, not JSON) gets a rejected object under `rejected/unreadable/` (a backfill file:
 * its result object says why). Store failures propagate, so the invocation fails and FC retries.
 */
import { z } from 'zod';
import { PayloadTooLargeError, UnreadableObjectError } from '../errors.ts';
import { classifyObject, type ClassifyOutcome, type ClassifyPorts, type SetAsideRecord } from './classify-batch.ts';
import { parseBody, validateRecords, type IdentifiedEvent, type Rejection } from './records.ts';
import { writeSetAside, type SetAsideSource } from './set-aside.ts';
import {
  BACKFILL_MAX_DECODED_BYTES,
  BACKFILL_MAX_RECORDS,
  BACKFILL_PREFIX,
  BACKFILL_RESULT_SUFFIX,
  MAX_OBJECT_KEY_BYTES,
  INBOX_PREFIX,
  STAGING_MAX_DECODED_BYTES,
  StagingBatchSchema,
} from './staging.ts';

/** An object an OSS trigger names. */
export interface StagedObject {
  bucket: string;
  key: string;
  eTag: string;
}

export interface FileError {
  code: string;
  message: string;
}

/** The result object written next to a backfill file (`<file>.result.json`). */
export interface BackfillResult {
  file: string;
  eTag: string;
  processedAt: string;
  records: number;
  accepted: number;
  rejected: Rejection[];
  duplicatesInFile: number;
  /** Set when the file could not be processed at all (e.g. ObjectTooLarge); nothing of it was taken. */
  error?: FileError;
  outcome?: ClassifyOutcome;
}

type Report = Omit<BackfillResult, 'outcome' | 'processedAt'>;

export interface ObjectNoticeLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ClassifyObjectPorts extends ClassifyPorts {
  /** The object's bytes, gunzipped; PayloadTooLargeError beyond `maxBytes` stored or decompressed, UnreadableObjectError for broken gzip. */
  readObject(bucket: string, key: string, maxBytes: number): Promise<Buffer>;
  /** Writes a JSON document (a result or rejected object); the same key is overwritten. */
  writeJson(bucket: string, key: string, document: unknown): Promise<void>;
  /** Wakes the deliverers (async invocations) after trails received events from `objectKey`. */
  wakeDeliverers(objectKey: string): Promise<void>;
  log: ObjectNoticeLog;
  now(): number;
}

export type ObjectOutcome =
  | { kind: 'ignored'; reason: string }
  | { kind: 'unreadable'; error: FileError }
  | { kind: 'classified'; outcome: ClassifyOutcome };

interface ObjectEvents {
  events: IdentifiedEvent[];
  /** When the object was received (inbox) or is processed (backfill): the day of its rejected objects. */
  receivedAtMs: number;
  /** Records of a staging object that fail validation (it was written around ingest). */
  setAside: SetAsideRecord[];
  report?: Report;
  /** The object cannot be processed at all. */
  unreadable?: FileError;
}

/** A staging object: its envelope whole, its events one by one (a bad event is set aside, not the object). */
function stagingEvents(bytes: Buffer, nowMs: number): ObjectEvents | FileError {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { code: 'InvalidJSON', message: `the staging object is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const envelope = StagingBatchSchema.extend({ events: z.array(z.unknown()) }).safeParse(json);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    return { code: 'InvalidStagingObject', message: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'not a staging batch'}` };
  }
  const batch = envelope.data;
  const receivedAtMs = Date.parse(batch.receivedAt);
  const at = Number.isFinite(receivedAtMs) ? receivedAtMs : nowMs;
  // Ingest validated these; validate again what any later stage would refuse.
  const checked = validateRecords(batch.events, batch.accountId, [], { receivedAtMs: at });
  const setAside = checked.rejected.map(
    (r): SetAsideRecord => ({
      stage: 'validate',
      accountId: batch.accountId,
      ...(r.eventId !== undefined ? { eventId: r.eventId } : {}),
      index: r.index,
      code: r.code,
      field: r.field,
      reason: r.message,
      record: batch.events[r.index],
    }),
  );
  return { events: checked.accepted.map((a) => a.event), receivedAtMs: at, setAside };
}

/** A backfill file: every shape ingest takes, validated with the processing time as its receipt time. */
function backfillEvents(bytes: Buffer, emptyReport: Report, nowMs: number): ObjectEvents | FileError {
  const body = parseBody(bytes.toString('utf8'), BACKFILL_MAX_RECORDS);
  if (!body.ok && body.code === 'TooManyRecords') {
    return { code: 'TooManyRecords', message: `the file holds more than ${BACKFILL_MAX_RECORDS} records; at most ${BACKFILL_MAX_RECORDS} are taken per file — split it` };
  }
  if (!body.ok) {
    const rejected: Rejection[] = [{ index: 0, code: body.code === 'InvalidJSON' ? 'InvalidJSON' : 'InvalidRecord', message: body.message, field: '' }];
    return { events: [], receivedAtMs: nowMs, setAside: [], report: { ...emptyReport, rejected } };
  }
  const batch = validateRecords(body.records, undefined, body.rejected, { receivedAtMs: nowMs });
  return {
    events: batch.accepted.map((a) => a.event),
    receivedAtMs: nowMs,
    setAside: [],
    report: { ...emptyReport, records: body.records.length, accepted: batch.accepted.length, rejected: batch.rejected, duplicatesInFile: batch.duplicateIndexes.length },
  };
}

async function eventsOf(object: StagedObject, inbox: boolean, ports: ClassifyObjectPorts): Promise<ObjectEvents> {
  const nowMs = ports.now();
  const emptyReport: Report = { file: object.key, eTag: object.eTag, records: 0, accepted: 0, rejected: [], duplicatesInFile: 0 };
  const unreadable = (error: FileError): ObjectEvents => ({ events: [], receivedAtMs: nowMs, setAside: [], unreadable: error, ...(inbox ? {} : { report: { ...emptyReport, error } }) });
  let bytes: Buffer;
  try {
    bytes = await ports.readObject(object.bucket, object.key, inbox ? STAGING_MAX_DECODED_BYTES : BACKFILL_MAX_DECODED_BYTES);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError) && !(error instanceof UnreadableObjectError)) throw error;
    return unreadable({ code: error.code, message: error.message });
  }
  const decoded = inbox ? stagingEvents(bytes, nowMs) : backfillEvents(bytes, emptyReport, nowMs);
  return 'events' in decoded ? decoded : unreadable(decoded);
}

/** The rejected objects of `object`'s set-aside records (see writeSetAside). */
function setAsideFrom(object: StagedObject, objectId: string, receivedAtMs: number): SetAsideSource {
  return { bucket: object.bucket, objectId, receivedAtMs, describe: { bucket: object.bucket, key: object.key, eTag: object.eTag }, logFields: { key: object.key } };
}

/** Classifies one object an OSS trigger names. Safe to run twice (see classifyObject). */
export async function classifyStagedObject(object: StagedObject, ports: ClassifyObjectPorts): Promise<ObjectOutcome> {
  if (object.key.endsWith(BACKFILL_RESULT_SUFFIX)) return { kind: 'ignored', reason: 'a backfill result object' };
  const backfill = object.key.startsWith(BACKFILL_PREFIX);
  if (!backfill && !object.key.startsWith(INBOX_PREFIX)) {
    ports.log.warn('object outside inbox/ and backfill/ ignored', { key: object.key });
    return { kind: 'ignored', reason: 'outside inbox/ and backfill/' };
  }
  const objectId = `${object.bucket}/${object.key}@${object.eTag}`;
  const resultKey = `${object.key}${BACKFILL_RESULT_SUFFIX}`;
  if (backfill && Buffer.byteLength(resultKey, 'utf8') > MAX_OBJECT_KEY_BYTES) {
    // Its result object could not be written: the file is refused before any of it is stored, not
    // classified and then failed (a retry would find it done and never write a result).
    const error: FileError = {
      code: 'KeyTooLong',
      message: `the backfill file's key leaves no room for its result object (${MAX_OBJECT_KEY_BYTES} bytes at most with ${BACKFILL_RESULT_SUFFIX}); rename it to at most ${MAX_OBJECT_KEY_BYTES - BACKFILL_RESULT_SUFFIX.length} bytes`,
    };
    ports.log.error('object not processed', { key: object.key, ...error });
    await writeSetAside(setAsideFrom(object, objectId, ports.now()), [{ stage: 'validate', accountId: '', code: error.code, reason: error.message, record: null }], ports);
    return { kind: 'unreadable', error };
  }
  const { events, report, setAside, receivedAtMs, unreadable } = await eventsOf(object, !backfill, ports);
  if (unreadable) {
    ports.log.error('object not processed', { key: object.key, ...unreadable });
    if (report) await ports.writeJson(object.bucket, resultKey, { ...report, processedAt: new Date(ports.now()).toISOString() });
    else await writeSetAside(setAsideFrom(object, objectId, receivedAtMs), [{ stage: 'validate', accountId: '', code: unreadable.code, reason: unreadable.message, record: null }], ports);
    return { kind: 'unreadable', error: unreadable };
  }
  const outcome = await classifyObject(objectId, events, { backfill, nowMs: ports.now(), setAside }, {
    ...ports,
    setAside: async (id, records) => {
      await writeSetAside(setAsideFrom(object, id, receivedAtMs), records, ports);
    },
  });
  ports.log.info('object classified', {
    key: object.key,
    skipped: outcome.skipped,
    kept: outcome.kept,
    dropped: outcome.dropped.length,
    setAside: outcome.setAside.length,
    historyAdded: outcome.historyAdded,
    routed: outcome.routed,
  });
  if (report && !outcome.skipped) {
    const result: BackfillResult = { ...report, processedAt: new Date(ports.now()).toISOString(), outcome };
    await ports.writeJson(object.bucket, resultKey, result);
  }
  if (Object.keys(outcome.routed).length > 0) await ports.wakeDeliverers(object.key);
  return { kind: 'classified', outcome };
}
