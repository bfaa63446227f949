/**
 * The ingest use case: validate a signed batch, set duplicates aside, make the rest durable as
 * one staging object, and answer per record. An accepted event is durable before the answer.
 */
import { PayloadTooLargeError, ValidationError } from '../errors.ts';
import type { HistoryStore } from '../history/history-store.ts';
import { INGEST_MAX_EVENTS, parseBody, validateRecords, type Rejection } from './records.ts';
import { stagingKey, type StagingBatch } from './staging.ts';

export interface IngestClaims {
  /** Which ids were claimed by an earlier request (and may not be in history yet). */
  known(accountId: string, eventIds: readonly string[]): Promise<boolean[]>;
  /** Claims the ids for this request; false where another request claimed it first. */
  claim(accountId: string, eventIds: readonly string[]): Promise<boolean[]>;
}

export interface StagingWriter {
  put(key: string, batch: StagingBatch): Promise<void>;
}

export interface IngestPorts {
  history: Pick<HistoryStore, 'has'>;
  claims: IngestClaims;
  staging: StagingWriter;
}

export interface IngestRequest {
  accountId: string;
  accessKeyId: string;
  requestId: string;
  sourceIp: string;
  receivedAt: Date;
  /** The decoded body text. */
  body: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
  /** The staging object holding the accepted events, when there were any. */
  stagingKey?: string;
}

export async function ingestBatch(request: IngestRequest, ports: IngestPorts): Promise<IngestResult> {
  const body = parseBody(request.body, INGEST_MAX_EVENTS);
  if (!body.ok && body.code === 'TooManyRecords') {
    throw new PayloadTooLargeError('TooManyEvents', `the batch holds more than ${INGEST_MAX_EVENTS} events; at most ${INGEST_MAX_EVENTS} are accepted per request`);
  }
  if (!body.ok) throw new ValidationError(body.code, body.message, 'body');
  const batch = validateRecords(body.records, request.accountId, body.rejected, { receivedAtMs: request.receivedAt.getTime() });
  const ids = batch.accepted.map((a) => a.event.eventId);
  const [claimed, held] = ids.length
    ? await Promise.all([ports.claims.known(request.accountId, ids), ports.history.has(request.accountId, ids)])
    : [[], []];
  const fresh = batch.accepted.filter((_a, i) => !claimed[i] && !held[i]);
  let duplicates = batch.duplicateIndexes.length + (batch.accepted.length - fresh.length);
  if (fresh.length === 0) return { accepted: 0, duplicates, rejected: batch.rejected };

  const key = stagingKey(request.requestId, request.receivedAt);
  await ports.staging.put(key, {
    version: 1,
    accountId: request.accountId,
    requestId: request.requestId,
    receivedAt: request.receivedAt.toISOString(),
    sourceIp: request.sourceIp,
    accessKeyId: request.accessKeyId,
    events: fresh.map((a) => a.event),
  });
  // Claimed after the object is durable: a crash in between loses nothing (a retry stages again,
  // and classify is idempotent). A concurrent request that claimed first owns the count.
  const won = await ports.claims.claim(request.accountId, fresh.map((a) => a.event.eventId));
  const accepted = won.filter(Boolean).length;
  duplicates += fresh.length - accepted;
  return { accepted, duplicates, rejected: batch.rejected, stagingKey: key };
}
