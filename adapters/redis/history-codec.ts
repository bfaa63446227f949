/**
 * Byte formats of the Redis history store: event bodies ("blobs") and index field names.
 *
 * Blob = header + payload:
 *   byte 0      format: 1 = deflate-raw with HISTORY_DICTIONARY_V1 + the eventId as preset
 *               dictionary; 2 = the JSON as UTF-8, stored as is (when deflate does not help);
 *               3 = the JSON as UTF-16LE (a string that is not well-formed UTF-16, e.g. a lone
 *               surrogate, would not survive UTF-8, so it is kept code unit for code unit)
 *   bytes 1–6   eventTimeMs, unsigned 48-bit big-endian
 *   byte 7      byte length L of the eventId (UTF-8)
 *   bytes 8…    the eventId (Lua reads it to order same-millisecond events and to purge)
 *   then        the payload
 * Every format round-trips the JSON string exactly; `decodeJson(encodeBlob(r)) === r.json`.
 */
import { createHash } from 'node:crypto';
import type { HistoryIndexKey, HistoryRecord } from '../../shared/history/history-store.ts';
import { HISTORY_DICTIONARY_V1 } from './history-dictionary.ts';
import { PresetDeflater } from './history-deflate.ts';
import { PresetInflater } from './history-inflate.ts';

const FORMAT_DEFLATE_V1 = 1;
const FORMAT_UTF8 = 2;
const FORMAT_UTF16 = 3;
/** Bytes of the blob header; the eventId follows it (the Lua scripts read it from there). */
export const BLOB_HEADER_BYTES = 8;
/** The header byte holding the eventId's byte length. */
export const BLOB_ID_LENGTH_BYTE = 7;
const HEADER = BLOB_HEADER_BYTES;
const MAX_TIME = 2 ** 48 - 1;

/** Lone surrogates (a high not followed by a low, or a low not preceded by a high). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Bodies are deflated by PresetDeflater (history-deflate.ts): one block of fixed Huffman codes
 * within a 16 KiB window, zlib's level 3 in JavaScript, without a zlib stream per event. Fixed
 * codes cost ~5 % of size over dynamic ones and let inflating skip building two code trees per
 * event (LookupEvents' decompression 12.3 → 6.5 µs an event). Blobs written by zlib with dynamic
 * codes (older versions) read the same way. Inflate is `history-inflate.ts`.
 */
const deflater = new PresetDeflater(HISTORY_DICTIONARY_V1);
const inflater = new PresetInflater(HISTORY_DICTIONARY_V1);

/** Checks what the Lua scripts and the blob header rely on; throws on a malformed record. */
export function checkRecord(record: HistoryRecord): void {
  const { accountId, eventId, eventTimeMs, json } = record;
  if (typeof accountId !== 'string' || accountId === '' || /[{}]/.test(accountId)) {
    throw new TypeError(`history: invalid accountId ${JSON.stringify(accountId)}`);
  }
  if (typeof eventId !== 'string' || eventId === '' || LONE_SURROGATE.test(eventId) || Buffer.byteLength(eventId) > 255) {
    throw new TypeError(`history: invalid eventId ${JSON.stringify(eventId)} (1–255 bytes of well-formed text)`);
  }
  if (!Number.isSafeInteger(eventTimeMs) || eventTimeMs < 0 || eventTimeMs > MAX_TIME) {
    throw new TypeError(`history: invalid eventTimeMs ${eventTimeMs} for event ${eventId}`);
  }
  if (typeof json !== 'string') throw new TypeError(`history: json of event ${eventId} is not a string`);
}

export function encodeBlob(record: HistoryRecord): Buffer {
  const id = Buffer.from(record.eventId, 'utf8');
  let format = FORMAT_UTF16;
  let payload: Uint8Array;
  if (LONE_SURROGATE.test(record.json)) {
    payload = Buffer.from(record.json, 'utf16le');
  } else {
    const utf8 = Buffer.from(record.json, 'utf8');
    const deflated = deflater.deflate(id, utf8); // a view until the next call: copied into the blob below
    [format, payload] = deflated.length < utf8.length ? [FORMAT_DEFLATE_V1, deflated] : [FORMAT_UTF8, utf8];
  }
  const blob = Buffer.allocUnsafe(HEADER + id.length + payload.length);
  blob[0] = format;
  blob.writeUIntBE(record.eventTimeMs, 1, 6);
  blob[BLOB_ID_LENGTH_BYTE] = id.length;
  blob.set(id, HEADER);
  blob.set(payload, HEADER + id.length);
  return blob;
}

export interface BlobHead {
  timeMs: number;
  /** The eventId's UTF-8 bytes (compared bytewise when ordering same-time events). */
  id: Buffer;
}

export function blobHead(blob: Buffer): BlobHead {
  const idLength = blob[BLOB_ID_LENGTH_BYTE] ?? 0;
  if (blob.length < HEADER || blob.length < HEADER + idLength) throw new Error('history: truncated blob');
  return { timeMs: blob.readUIntBE(1, 6), id: blob.subarray(HEADER, HEADER + idLength) };
}

export function decodeJson(blob: Buffer): string {
  const { id } = blobHead(blob);
  const payload = blob.subarray(HEADER + id.length);
  switch (blob[0]) {
    case FORMAT_DEFLATE_V1:
      return inflater.inflateToString(payload, id);
    case FORMAT_UTF8:
      return payload.toString('utf8');
    case FORMAT_UTF16:
      return payload.toString('utf16le');
    default:
      throw new Error(`history: unknown blob format ${blob[0]}`);
  }
}

// ---- index fields ----------------------------------------------------------------------

/**
 * One letter per index key; the field of a value is letter + value. '*' is the time index, '!'
 * (ERROR_FIELD) every event with an errorCode.
 */
export const FIELD_CODES: Readonly<Record<HistoryIndexKey, string>> = {
  ServiceName: 'S',
  EventName: 'N',
  User: 'U',
  ResourceType: 'T',
  ResourceName: 'R',
  EventRW: 'W',
  EventAccessKeyId: 'K',
  EventType: 'E',
  SourceIpAddress: 'I',
  SensitiveAction: 'A',
  RoleName: 'O',
  ErrorCode: 'X',
};
export const ALL_FIELD = '*';
/** The field of every event that has an errorCode (whatever its value). */
export const ERROR_FIELD = '!';
const MAX_PLAIN_VALUE = 64;

/**
 * The index field of (key, value): the value itself when short, else a 144-bit digest under
 * the lower-case letter, so field names and key names stay short whatever the value.
 */
export function fieldOf(key: HistoryIndexKey, value: string): string {
  const code = FIELD_CODES[key];
  if (Buffer.byteLength(value) <= MAX_PLAIN_VALUE) return code + value;
  return code.toLowerCase() + createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 24);
}

/** Every field an event is indexed under: '*' plus one per distinct (key, value), and '!' when it has an errorCode. */
export function fieldsOf(record: HistoryRecord): string[] {
  const fields = new Set<string>([ALL_FIELD]);
  for (const [key, values] of Object.entries(record.attributes) as [HistoryIndexKey, string[] | undefined][]) {
    if (!(key in FIELD_CODES) || !values) continue;
    for (const value of values) {
      if (typeof value !== 'string' || value === '') continue;
      fields.add(fieldOf(key, value));
      if (key === 'ErrorCode') fields.add(ERROR_FIELD);
    }
  }
  return [...fields];
}
