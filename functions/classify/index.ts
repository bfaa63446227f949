/**
 * classify (OSS trigger): runs on each staging object (`inbox/`) and backfill file
 * (`backfill/`), classifies its events, writes history, queues summaries, fills trail
 * outboxes, and wakes the deliverers. Backfill files get a result object next to them.
 *
 * One record never sinks its object: a record that fails validation here (a staging object
 * written around ingest, or by an older version) or that a store refuses is set aside in a
 * rejected object (`rejected/<accountId>/<YYYY>/<MM>/<DD>/<id>.json` in the staging bucket,
 * see REJECTED_PREFIX) and logged, and the rest proceeds. An object that cannot be read at all
 * (too large once decompressed, not JSON) gets a rejected object under `rejected/unreadable/`
 * (backfill files: their result object says why). Store failures fail the invocation (FC retries).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import {
  BACKFILL_MAX_DECODED_BYTES,
  BACKFILL_MAX_RECORDS,
  BACKFILL_PREFIX,
  BACKFILL_RESULT_SUFFIX,
  INBOX_PREFIX,
  rejectedKey,
  STAGING_MAX_DECODED_BYTES,
  StagingBatchSchema,
} from '../../shared/pipeline/staging.ts';
import { classifyObject, type ClassifyOutcome, type SetAsideRecord } from '../../shared/pipeline/classify-batch.ts';
import { parseBody, validateRecords, type IdentifiedEvent, type Rejection } from '../../shared/pipeline/records.ts';
import { PayloadTooLargeError } from '../../shared/errors.ts';
import { fcHandler, type Log } from '../../adapters/fc/handler.ts';
import { decodeOssEvent, type ObjectNotice } from '../../adapters/fc/oss.ts';
import type { FcContext } from '../../adapters/fc/context.ts';
import { FunctionInvoker } from '../../adapters/fc-invoker.ts';
import { readObject } from '../../adapters/s3-staging.ts';
import { classifyPorts, DELIVERER_FUNCTIONS, getServices, type Services } from '../../adapters/wiring.ts';

interface FileError {
  code: string;
  message: string;
}

interface BackfillResult {
  file: string;
  eTag: string;
  processedAt: string;
  records: number;
  accepted: number;
  rejected: Rejection[];
  duplicatesInFile: number;
  /** Set when the file could not be processed at all (e.g. FileTooLarge); nothing of it was taken. */
  error?: FileError;
  outcome?: ClassifyOutcome;
}

type Report = Omit<BackfillResult, 'outcome' | 'processedAt'>;

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

async function eventsOf(services: Services, object: ObjectNotice): Promise<ObjectEvents> {
  const nowMs = Date.now();
  const inbox = object.key.startsWith(INBOX_PREFIX);
  const emptyReport: Report = { file: object.key, eTag: object.eTag, records: 0, accepted: 0, rejected: [], duplicatesInFile: 0 };
  const unreadable = (error: FileError): ObjectEvents => ({ events: [], receivedAtMs: nowMs, setAside: [], unreadable: error, ...(inbox ? {} : { report: { ...emptyReport, error } }) });
  let bytes: Buffer;
  try {
    bytes = await readObject(services.s3, object.bucket, object.key, { maxBytes: inbox ? STAGING_MAX_DECODED_BYTES : BACKFILL_MAX_DECODED_BYTES });
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    return unreadable({ code: error.code, message: error.message });
  }
  if (inbox) {
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      return unreadable({ code: 'InvalidJSON', message: `the staging object is not JSON: ${(error as Error).message}` });
    }
    // The envelope whole, its events one by one (a bad event is set aside, not the object).
    const envelope = StagingBatchSchema.extend({ events: z.array(z.unknown()) }).safeParse(json);
    if (!envelope.success) {
      const issue = envelope.error.issues[0];
      return unreadable({ code: 'InvalidStagingObject', message: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'not a staging batch'}` });
    }
    const batch = envelope.data;
    const receivedAtMs = Date.parse(batch.receivedAt);
    const at = Number.isFinite(receivedAtMs) ? receivedAtMs : nowMs;
    // Ingest validated these; validate again what any later stage would refuse.
    const checked = validateRecords(batch.events, batch.accountId, [], { receivedAtMs: at });
    const setAside = checked.rejected.map(
      (r): SetAsideRecord => ({ stage: 'validate', accountId: batch.accountId, ...(r.eventId !== undefined ? { eventId: r.eventId } : {}), index: r.index, code: r.code, field: r.field, reason: r.message, record: batch.events[r.index] }),
    );
    return { events: checked.accepted.map((a) => a.event), receivedAtMs: at, setAside };
  }
  const body = parseBody(bytes.toString('utf8'));
  if (!body.ok) {
    const rejected: Rejection[] = [{ index: 0, code: body.code === 'InvalidJSON' ? 'InvalidJSON' : 'InvalidRecord', message: body.message, field: '' }];
    return { events: [], receivedAtMs: nowMs, setAside: [], report: { ...emptyReport, rejected } };
  }
  if (body.records.length > BACKFILL_MAX_RECORDS) {
    return unreadable({ code: 'TooManyRecords', message: `the file holds ${body.records.length} records; at most ${BACKFILL_MAX_RECORDS} are taken per file — split it` });
  }
  // Backfill: the receipt time is the processing time.
  const batch = validateRecords(body.records, undefined, body.rejected, { receivedAtMs: nowMs });
  return {
    events: batch.accepted.map((a) => a.event),
    receivedAtMs: nowMs,
    setAside: [],
    report: { ...emptyReport, records: body.records.length, accepted: batch.accepted.length, rejected: batch.rejected, duplicatesInFile: batch.duplicateIndexes.length },
  };
}

/** Writes one rejected object per account of `records` (stable keys: a retry overwrites them). */
async function writeSetAside(services: Services, object: ObjectNotice, objectId: string, receivedAtMs: number, records: readonly SetAsideRecord[], log: Log): Promise<void> {
  const byAccount = new Map<string, SetAsideRecord[]>();
  for (const record of records) {
    log.warn('record set aside', { key: object.key, stage: record.stage, eventId: record.eventId, code: record.code, field: record.field, reason: record.reason });
    const list = byAccount.get(record.accountId);
    if (list) list.push(record);
    else byAccount.set(record.accountId, [record]);
  }
  for (const [accountId, list] of byAccount) {
    const key = rejectedKey(accountId, receivedAtMs, objectId);
    const document = { source: { bucket: object.bucket, key: object.key, eTag: object.eTag }, accountId, receivedAt: new Date(receivedAtMs).toISOString(), records: list };
    await services.s3.send(new PutObjectCommand({ Bucket: object.bucket, Key: key, Body: JSON.stringify(document, null, 2), ContentType: 'application/json' }));
    log.warn('rejected object written', { key, records: list.length });
  }
}

async function writeResult(services: Services, object: ObjectNotice, result: BackfillResult): Promise<void> {
  await services.s3.send(
    new PutObjectCommand({
      Bucket: object.bucket,
      Key: `${object.key}${BACKFILL_RESULT_SUFFIX}`,
      Body: JSON.stringify(result, null, 2),
      ContentType: 'application/json',
    }),
  );
}

async function processObject(services: Services, object: ObjectNotice, context: FcContext, log: Log): Promise<void> {
  if (object.key.endsWith(BACKFILL_RESULT_SUFFIX)) return;
  const backfill = object.key.startsWith(BACKFILL_PREFIX);
  if (!backfill && !object.key.startsWith(INBOX_PREFIX)) {
    log.warn('object outside inbox/ and backfill/ ignored', { key: object.key });
    return;
  }
  const objectId = `${object.bucket}/${object.key}@${object.eTag}`;
  const { events, report, setAside, receivedAtMs, unreadable } = await eventsOf(services, object);
  if (unreadable) {
    log.error('object not processed', { key: object.key, ...unreadable });
    if (report) await writeResult(services, object, { ...report, processedAt: new Date().toISOString() });
    else await writeSetAside(services, object, objectId, receivedAtMs, [{ stage: 'validate', accountId: '', code: unreadable.code, reason: unreadable.message, record: null }], log);
    return;
  }
  const ports = { ...classifyPorts(services), setAside: (id: string, records: readonly SetAsideRecord[]) => writeSetAside(services, object, id, receivedAtMs, records, log) };
  const outcome = await classifyObject(objectId, events, { backfill, nowMs: Date.now(), setAside }, ports);
  log.info('object classified', { key: object.key, skipped: outcome.skipped, kept: outcome.kept, dropped: outcome.dropped.length, setAside: outcome.setAside.length, historyAdded: outcome.historyAdded, routed: outcome.routed });
  if (report && !outcome.skipped) await writeResult(services, object, { ...report, processedAt: new Date().toISOString(), outcome });
  if (Object.keys(outcome.routed).length > 0) {
    const invoker = new FunctionInvoker(context, services.env.TK_FC_ENDPOINT);
    const wake = { reason: 'classified', object: object.key };
    await Promise.all(DELIVERER_FUNCTIONS.map((fn) => invoker.invokeAsync(fn, wake)));
  }
}

export const handler = fcHandler(async (event, context, log) => {
  const services = getServices();
  const objects = decodeOssEvent(event);
  for (const object of objects) await processObject(services, object, context, log);
  return { objects: objects.length };
});
