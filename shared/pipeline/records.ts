/**
 * Turning a submitted body (ingest request or backfill file) into validated events, with a
 * clear per-record verdict for everything that cannot be accepted. Pure.
 */
import { createHash } from 'node:crypto';
import { accountOf, parseEvent, type ActionTrailEvent, type ParseEventOptions } from '../events/schema.ts';

/** Largest decoded ingest body (docs/design.md §3.2). */
export const INGEST_MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Most events in one ingest request (docs/design.md §3.2). */
export const INGEST_MAX_EVENTS = 1000;

export type IdentifiedEvent = ActionTrailEvent & { eventId: string };

export interface Rejection {
  /** Position of the record in the submitted batch (0-based; for NDJSON, the line's record index). */
  index: number;
  eventId?: string;
  code: 'InvalidJSON' | 'InvalidRecord' | 'MissingField' | 'InvalidField' | 'ForeignAccount';
  message: string;
  field: string;
}

export type BodyParse =
  | { ok: true; records: unknown[]; rejected: Rejection[] }
  | { ok: false; code: 'InvalidJSON' | 'InvalidBody'; message: string }
  /** More records than the caller takes: refused before the NDJSON lines are parsed. */
  | { ok: false; code: 'TooManyRecords'; count: number; maxRecords: number };

/**
 * Non-blank lines of `text`, counted up to `stopAfter` + 1 without splitting it: an NDJSON body
 * of millions of short lines is refused before a string, record or rejection is made for each.
 */
function countLinesUpTo(text: string, stopAfter: number): number {
  let count = 0;
  let start = 0;
  while (start <= text.length && count <= stopAfter) {
    const end = text.indexOf('\n', start);
    const stop = end === -1 ? text.length : end;
    for (let i = start; i < stop; i++) {
      // any non-whitespace character makes the line a record (the same test as `line.trim() !== ''`)
      if (!/\s/.test(text[i] as string)) {
        count++;
        break;
      }
    }
    if (end === -1) break;
    start = end + 1;
  }
  return count;
}

function recordsOfDocument(doc: unknown): unknown[] | undefined {
  if (Array.isArray(doc)) return doc;
  if (doc !== null && typeof doc === 'object') {
    const o = doc as Record<string, unknown>;
    if (Array.isArray(o['events'])) return o['events'];
    if (Array.isArray(o['Records'])) return o['Records'];
  }
  return undefined;
}

/**
 * A JSON array, `{"events":[…]}`, `{"Records":[…]}` (CloudTrail-style files) or NDJSON (one
 * event per line; a bad line is a rejected record, not a failed body). More than `maxRecords`
 * records is TooManyRecords; NDJSON lines are counted before any is parsed.
 */
export function parseBody(text: string, maxRecords: number): BodyParse {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, code: 'InvalidBody', message: 'the body is empty; send a JSON array of events, {"events":[…]} or NDJSON' };
  try {
    const doc: unknown = JSON.parse(trimmed);
    const records = recordsOfDocument(doc);
    if (records && records.length > maxRecords) return { ok: false, code: 'TooManyRecords', count: records.length, maxRecords };
    if (records) return { ok: true, records, rejected: [] };
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return { ok: true, records: [doc], rejected: [] };
    return { ok: false, code: 'InvalidBody', message: 'the body must be a JSON array of events, {"events":[…]}, or NDJSON' };
  } catch (error) {
    if (trimmed.startsWith('[')) {
      return { ok: false, code: 'InvalidJSON', message: `the body is not valid JSON: ${(error as Error).message}` };
    }
  }
  // NDJSON: one record per non-blank line, counted before any is split off or parsed.
  const count = countLinesUpTo(trimmed, maxRecords);
  if (count > maxRecords) return { ok: false, code: 'TooManyRecords', count, maxRecords };
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 1) return { ok: false, code: 'InvalidJSON', message: 'the body is not valid JSON or NDJSON' };
  const records: unknown[] = [];
  const rejected: Rejection[] = [];
  lines.forEach((line, index) => {
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      records.push(undefined);
      rejected.push({ index, code: 'InvalidJSON', message: `line ${index + 1} is not valid JSON: ${(error as Error).message}`, field: '' });
    }
  });
  return { ok: true, records, rejected };
}

/** The eventId of a record that has none: a digest of its content, so a replay gets the same id. */
export function derivedEventId(record: unknown): string {
  const hex = createHash('sha256').update(JSON.stringify(record)).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface ValidatedBatch {
  accepted: { index: number; event: IdentifiedEvent }[];
  /** Repeats of an eventId earlier in the same batch. */
  duplicateIndexes: number[];
  rejected: Rejection[];
}

/**
 * Validates each record. `accountId` set: every event must belong to that account (ingest);
 * undefined: events of every account (backfill files, dropped by an operator).
 * `options.receivedAtMs`: the receipt time (ingest) or processing time (backfill), which no
 * eventTime may lie far beyond (EVENT_TIME_MAX_AHEAD_MS).
 */
export function validateRecords(
  records: readonly unknown[],
  accountId: string | undefined,
  alreadyRejected: readonly Rejection[] = [],
  options: ParseEventOptions = {},
): ValidatedBatch {
  const skip = new Set(alreadyRejected.map((r) => r.index));
  const rejected: Rejection[] = [...alreadyRejected];
  const accepted: { index: number; event: IdentifiedEvent }[] = [];
  const duplicateIndexes: number[] = [];
  const seen = new Set<string>();
  records.forEach((record, index) => {
    if (skip.has(index)) return;
    const givenId = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)['eventId'] : undefined;
    const eventIdHint = typeof givenId === 'string' && givenId !== '' ? { eventId: givenId } : {};
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      rejected.push({ index, code: 'InvalidRecord', message: 'each event must be a JSON object', field: '' });
      return;
    }
    const parsed = parseEvent(record, options);
    if (!parsed.ok) {
      const issue = parsed.issues[0] ?? { field: '', code: 'invalid', message: 'invalid event' };
      rejected.push({
        index,
        ...eventIdHint,
        code: issue.code === 'required' ? 'MissingField' : 'InvalidField',
        message: parsed.issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; '),
        field: issue.field,
      });
      return;
    }
    // Keep the record as submitted (key order included); the schema only checked it.
    const event = record as ActionTrailEvent;
    if (accountId !== undefined && accountOf(event) !== accountId) {
      rejected.push({
        index,
        ...eventIdHint,
        code: 'ForeignAccount',
        message: `userIdentity.accountId ${accountOf(event)} is not the account of the signing AccessKey`,
        field: 'userIdentity.accountId',
      });
      return;
    }
    const eventId = typeof event.eventId === 'string' && event.eventId !== '' ? event.eventId : derivedEventId(record);
    if (seen.has(eventId)) {
      duplicateIndexes.push(index);
      return;
    }
    seen.add(eventId);
    accepted.push({ index, event: { ...event, eventId } });
  });
  rejected.sort((a, b) => a.index - b.index);
  return { accepted, duplicateIndexes, rejected };
}
