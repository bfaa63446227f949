/**
 * History on Redis (docs/design.md §3.7, §5): the `HistoryStore` behind LookupEvents.
 *
 * KEY LAYOUT — all keys of account A start with P = `<keyPrefix>{A}:` (default keyPrefix
 * `tk:`), so one account lives in one cluster slot; every command and Lua script touches
 * one account only, and queries over several accounts run per account and merge here.
 *
 *   P n            counter: the account's internal event numbers n = 1, 2, …
 *   P i, P i:<b>   eventId → n: a linear-hashed hash (state l/s/c in `P i`, buckets `P i:<b>`)
 *   P b:<n/64>     bodies: hash field n%64 → blob (header + deflated JSON, `history-codec.ts`);
 *                  a blob over 1000 bytes lives in `P B:<n>` (the field holds "")
 *   P days         sorted set of the UTC days holding events (score: day; member: the day
 *                  and the shape of its table, so a lookup lists its days in one read)
 *   P d:<day>      the day table's state (l/s/c), the day's event count `e` and `ix`, those put
 *                  with the errorCode index (e = ix: the day holds it; see below)
 *   P ec           the errorCode dictionary: sorted set of 'v' + value → latest day seen, and
 *                  'o' → latest day a value was seen it could not keep (> MAX_ERROR_CODE_VALUES
 *                  values or > MAX_ERROR_CODE_BYTES)
 *   P x:<day>:<b>  the day table (linear-hashed): index field → its postings that day, or
 *                  where they are
 *   P z:<day>:<f>  postings of field f that day      ┐ strings of 8-byte postings
 *   P h:<hour>:<f> … in one hour (epoch hour)        │ (ms offset in the day, n; u32 BE),
 *   P f:<slot>:<f> … in one 5-minute slot (epoch)    ┘ sorted, binary-searched by Lua
 *
 * An index field is `*` (every event: the time index) or one letter per LookupKey + the value
 * (`NDescribeInstances`, `WRead`, `Ri-bp1…`, `XForbidden.RAM`; values over 64 bytes by digest),
 * or `!`: every event with an errorCode. A day written (even partly) before the errorCode index
 * existed has e ≠ ix, and a lookup of an errorCode field reads that day through `*` instead
 * (ErrorCodeCondition `days`), so no answer misses an event. A field's
 * postings of one day live, by count:
 *   ≤ 24     packed in its day-table entry ('P' + postings): rare values — IPs, resource
 *            names, most users and keys — cost ~9 bytes a posting plus their name, no key;
 *   ≤ 512    in one string for the day (entry 'Z');
 *   more     in one string per hour (entry 'H' + 24 flags), an hour over 512 in one per
 *            5-minute slot (flag '1'). A 5-minute string has no size bound (at
 *            20,000 events/s the time index gets 6 M postings a slot): scripts append to it,
 *            rewrite only its tail for out-of-order postings, and binary-search and read it by
 *            GETRANGE, so no write or lookup copies it whole.
 * Postings carry the small number n, never the eventId; the body carries the eventId. A
 * lookup of one account is one round trip: its script walks the days of its range newest (or
 * oldest) first, reading only the chunks it needs (a few dozen commands, for rare and common
 * values and narrow and wide ranges alike), and returns the page's (time, n, blob) — the
 * blobs read by HGET in the script (a page's events are scattered over up to one body hash
 * each: an HMGET per body hash was ~14 commands a page). Over several accounts it is two:
 * each account's script returns its (time, n), and after the merge one HMGET per body hash,
 * all pipelined, fetches only the page's bodies. A put reserves numbers (INCRBY), then one script appends the batch's pre-sorted
 * postings to each (day, field) once.
 *
 * ORDER: (eventTime, eventId), eventIds compared bytewise (UTF-8); BACKWARD is the reverse.
 * A page holds the first `limit` events strictly after the cursor; `next` is the last one.
 * Pages are computed from the current state, so events present from the first page to the
 * last are returned exactly once even while others are added.
 *
 * RETENTION: every key expires by itself — day/hour/slot keys at the end of their span +
 * 90 days (so the index forgets an event within a day of its retention), body and id buckets
 * at the latest such time of their events (live ingest fills them in time order; a bucket
 * mixing backfilled days lives as long as its newest event, and `get` ignores bodies past
 * retention meanwhile), the bookkeeping a day after everything else. `purge` removes exactly
 * what is older than 90 days, index entries included. Records already past retention (by the
 * Redis server clock) are not stored: `put` counts them neither as added nor as duplicates.
 *
 * REDIS CONFIG this layout relies on — production must set it too (see
 * HISTORY_SERVER_CONFIG). Without it everything still works, but bodies and packed postings
 * fall back to the hashtable encoding (measured: 519 → 618 bytes per event):
 *   hash-max-listpack-value 1024     (bodies ~260 B and packed postings ≤ 193 B stay listpack)
 *   hash-max-listpack-entries 256    (id-map/day-table buckets: ~64 fields, up to ~2× that)
 * Redis ≥ 7.0 (PEXPIREAT NX/GT, PEXPIRETIME, SET PXAT/KEEPTTL).
 */
import type { RedisClient } from '../redis.ts';
import {
  HISTORY_RETENTION_MS,
  MAX_ERROR_CODE_BYTES,
  type ErrorCodeValues,
  type HistoryCondition,
  type HistoryCursor,
  type HistoryPage,
  type HistoryPutResult,
  type HistoryQuery,
  type HistoryRecord,
  type HistoryScanPage,
  type HistoryStore,
  MAX_SCAN_LIMIT,
} from '../../shared/history/history-store.ts';
import { RecordRefusedError, type RefusedRecord } from '../../shared/errors.ts';
import { BlobTextCache } from './history-text-cache.ts';
import { ALL_FIELD, blobHead, checkRecord, decodeJson, encodeBlob, ERROR_FIELD, fieldOf, fieldsOf } from './history-codec.ts';
import {
  BODY_BUCKET,
  bucketHash,
  dayOfDaysMember,
  packPostings,
  SCRIPT_KEYS,
  scriptArgs,
  SCRIPTS,
  type Posting,
  type ScriptArgs,
  type ScriptName,
} from './history-scripts.ts';

/** Server settings the store is sized for (pass as `--name value` or CONFIG SET). */
export const HISTORY_SERVER_CONFIG: Readonly<Record<string, string>> = {
  'hash-max-listpack-value': '1024',
  'hash-max-listpack-entries': '256',
};

const DAY_MS = 86_400_000;
const MAX_TIME = 2 ** 48 - 1;
/** Records per put script call (bounds how long one call blocks the server). */
const PUT_BATCH = 1000;
const HAS_BATCH = 1000;
const PURGE_EVENTS_BATCH = 500;
const PURGE_BUCKETS_BATCH = 8;
/** A scan page is read by the bodies script when its events span more than one body hash per this many events. */
const SCATTERED_RATIO = 4;
/** Bodies per bodies-script call (bounds how long one call blocks the server). */
const SCATTERED_BATCH = 1000;

type Arg = string | Buffer | number;

interface Hit {
  timeMs: number;
  id: Buffer;
  blob: Buffer;
}

/** A script's keys and arguments, as one array (never spread onto the call stack). */
type ScriptCall = (args: readonly Arg[]) => Promise<unknown>;

/**
 * Registers the scripts on the client (EVALSHA with EVAL fallback, auto-pipelining and
 * cluster routing are ioredis's) and returns their Buffer-reply variants. The arguments go to
 * ioredis as one array (its Command flattens it): a put of a batch whose events name tens of
 * thousands of index values has hundreds of thousands of arguments, which spread as separate
 * call arguments overflowed the stack (RangeError) and failed the whole object.
 */
function defineScripts(redis: RedisClient): Record<ScriptName, ScriptCall> {
  const calls: Partial<Record<ScriptName, ScriptCall>> = {};
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    const command = `trailkeeperHistory_${name}`;
    redis.defineCommand(command, { lua: SCRIPTS[name], numberOfKeys: SCRIPT_KEYS.length });
    const fn: unknown = Reflect.get(redis, `${command}Buffer`);
    if (typeof fn !== 'function') throw new Error(`history: ioredis did not define ${command}Buffer`);
    calls[name] = (args) => Promise.resolve(Reflect.apply(fn, redis, [args]) as unknown);
  }
  return calls as Record<ScriptName, ScriptCall>;
}

function asArray(reply: unknown, what: string): unknown[] {
  if (!Array.isArray(reply)) throw new Error(`history: unexpected reply to ${what}`);
  return reply;
}

function asNumber(value: unknown, what: string): number {
  if (typeof value !== 'number') throw new Error(`history: unexpected reply to ${what}`);
  return value;
}

function asBuffer(value: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(value)) throw new Error(`history: unexpected reply to ${what}`);
  return value;
}

/** Lone surrogates: such an errorCode would not come back from Redis as it was written. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The index field a condition reads and which days it reads it on (the lookup script's
 * `coverage`: 'A' every day; for errorCode conditions 'F', 'S' or 'U', see ErrorCodeCondition).
 */
function indexFieldOf(condition: HistoryCondition | undefined): { field: string; coverage: 'A' | 'F' | 'S' | 'U' } {
  if (!condition) return { field: ALL_FIELD, coverage: 'A' };
  if (condition.key === 'EventId') throw new RangeError('history: EventId is not an index field');
  if (condition.key !== 'ErrorCode') return { field: fieldOf(condition.key, condition.value), coverage: 'A' };
  const days = condition.days ?? 'all';
  if (days === 'unindexed') return { field: ALL_FIELD, coverage: 'U' };
  const field = condition.value === undefined ? ERROR_FIELD : fieldOf('ErrorCode', condition.value);
  return { field, coverage: days === 'indexed' ? 'S' : 'F' };
}

/** Whether (timeMs, id) comes strictly after the cursor in the query's direction. */
function isAfter(timeMs: number, id: Buffer, cursor: HistoryCursor, backward: boolean): boolean {
  const order = timeMs - cursor.timeMs || Buffer.compare(id, Buffer.from(cursor.eventId, 'utf8'));
  return backward ? order < 0 : order > 0;
}

export class RedisHistoryStore implements HistoryStore {
  private readonly keyPrefix: string;
  private readonly scripts: Record<ScriptName, ScriptCall>;
  /** LookupEvents' and GetEvent's texts by the blob they came from (scans, which read far more, decode afresh). */
  private readonly texts = new BlobTextCache(decodeJson);

  constructor(
    private readonly redis: RedisClient,
    options: { keyPrefix?: string } = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? 'tk:';
    if (/[{}]/.test(this.keyPrefix)) throw new TypeError('history: keyPrefix must not contain { or }');
    this.scripts = defineScripts(redis);
  }

  /** `P`: the account's key prefix, hash tag included. */
  private base(accountId: string): string {
    if (accountId === '' || /[{}]/.test(accountId)) throw new TypeError(`history: invalid accountId ${JSON.stringify(accountId)}`);
    return `${this.keyPrefix}{${accountId}}:`;
  }

  /** Runs a script on the account; its one key (SCRIPT_KEYS) is the account's counter `P n`. */
  private run<N extends ScriptName>(accountId: string, script: N, values: ScriptArgs<N>): Promise<unknown> {
    const args = scriptArgs(script, values);
    args.unshift(`${this.base(accountId)}n`);
    return this.scripts[script](args);
  }

  async put(records: readonly HistoryRecord[]): Promise<HistoryPutResult> {
    const byAccount = new Map<string, HistoryRecord[]>();
    // Every record is checked before anything is written: a record the layout cannot hold is
    // refused by name (RecordRefusedError), so the caller can set it aside and put the rest.
    const refused: RefusedRecord[] = [];
    for (const record of records) {
      try {
        checkRecord(record);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        refused.push({ eventId: String(record.eventId), reason: error.message });
      }
    }
    if (refused.length > 0) throw new RecordRefusedError(refused, 'history');
    for (const record of records) {
      const list = byAccount.get(record.accountId);
      if (list) list.push(record);
      else byAccount.set(record.accountId, [record]);
    }
    let added = 0;
    let duplicates = 0;
    const held: string[] = [];
    await Promise.all(
      [...byAccount].map(async ([accountId, list]) => {
        for (let i = 0; i < list.length; i += PUT_BATCH) {
          const counts = await this.putBatch(accountId, list.slice(i, i + PUT_BATCH));
          added += counts.added;
          duplicates += counts.duplicates;
          held.push(...counts.held);
        }
      }),
    );
    return { added, duplicates, held };
  }

  /**
   * One batch of one account: numbers reserved first (INCRBY), so the client can build each
   * (day, field) group's sorted postings and the script mostly appends strings.
   */
  private async putBatch(accountId: string, batch: readonly HistoryRecord[]): Promise<HistoryPutResult> {
    const unique: HistoryRecord[] = [];
    const seen = new Set<string>();
    for (const record of batch) {
      if (seen.has(record.eventId)) continue;
      seen.add(record.eventId);
      unique.push(record);
    }
    const last = await this.redis.incrby(`${this.base(accountId)}n`, unique.length);
    const n0 = last - unique.length;
    const groups = new Map<string, { day: number; field: string; postings: Posting[] }>();
    // errorCode value -> the latest day it has in the batch ('' stands for a value the
    // dictionary cannot keep: the script then marks the day's values as partial)
    const errorCodes = new Map<string, number>();
    const records = unique.map((record, k) => {
      const n = n0 + k + 1;
      const day = Math.floor(record.eventTimeMs / DAY_MS);
      for (const value of record.attributes.ErrorCode ?? []) {
        if (typeof value !== 'string' || value === '') continue;
        const kept = Buffer.byteLength(value) <= MAX_ERROR_CODE_BYTES && !LONE_SURROGATE.test(value) ? value : '';
        errorCodes.set(kept, Math.max(day, errorCodes.get(kept) ?? day));
      }
      const offset = record.eventTimeMs - day * DAY_MS;
      for (const field of fieldsOf(record)) {
        const key = `${day} ${field}`;
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { day, field, postings: [] }));
        group.postings.push([offset, n]);
      }
      return { event_id: record.eventId, event_id_hash: bucketHash(record.eventId), event_time_ms: record.eventTimeMs, blob: encodeBlob(record) };
    });
    const postings = [...groups.values()].map(({ day, field, postings }) => {
      postings.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      return { day, field, field_hash: bucketHash(field), postings: packPostings(postings) };
    });
    const error_codes = [...errorCodes].map(([error_code, error_code_day]) => ({ error_code, error_code_day }));
    const reply = asArray(await this.run(accountId, 'put', { first_number: n0, records, groups: postings, error_codes }), 'put');
    // a character per record of `unique`: 'a' added, 'd' held already, 'x' past retention
    const status = reply[3];
    if (!(typeof status === 'string' || Buffer.isBuffer(status)) || status.length !== unique.length) throw new Error('history: put answered without a status per record');
    const statusText = status.toString();
    const held = unique.filter((_record, k) => statusText[k] === 'd').map((record) => record.eventId);
    return { added: asNumber(reply[0], 'put'), duplicates: asNumber(reply[1], 'put') + batch.length - unique.length, held };
  }

  async has(accountId: string, eventIds: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < eventIds.length; i += HAS_BATCH) {
      const batch = eventIds.slice(i, i + HAS_BATCH);
      const ids = batch.map((id) => ({ event_id: id, event_id_hash: bucketHash(id) }));
      const reply = asArray(await this.run(accountId, 'has', { ids }), 'has');
      for (const flag of reply) out.push(asNumber(flag, 'has') === 1);
    }
    return out;
  }

  private async blobOf(accountId: string, eventId: string): Promise<Buffer | undefined> {
    const reply = await this.run(accountId, 'get', { event_id: eventId, event_id_hash: bucketHash(eventId) });
    return reply === null ? undefined : asBuffer(reply, 'get');
  }

  /**
   * The blobs of events by number: one HMGET per body hash, all sent at once — or, for a page
   * whose events are scattered over many body hashes (a sparse index's postings, where that
   * would be about one command per event), one script call per account and SCATTERED_BATCH.
   */
  private async bodies(entries: readonly { accountId: string; n: number }[], scattered = false): Promise<(Buffer | undefined)[]> {
    if (scattered && this.isScattered(entries)) return this.bodiesByScript(entries);
    const groups = new Map<string, { key: string; fields: number[]; at: number[] }>();
    entries.forEach(({ accountId, n }, i) => {
      const key = `${this.base(accountId)}b:${Math.floor(n / BODY_BUCKET)}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { key, fields: [], at: [] }));
      group.fields.push(n % BODY_BUCKET);
      group.at.push(i);
    });
    const out: (Buffer | undefined)[] = new Array<Buffer | undefined>(entries.length).fill(undefined);
    await Promise.all(
      [...groups.values()].map(async ({ key, fields, at }) => {
        const got = await this.redis.hmgetBuffer(key, ...fields.map(String));
        await Promise.all(
          at.map(async (i, j) => {
            let blob = got[j] ?? undefined;
            const entry = entries[i];
            if (blob && blob.length === 0 && entry) {
              // a big body lives in its own key
              blob = (await this.redis.getBuffer(`${this.base(entry.accountId)}B:${entry.n}`)) ?? undefined;
            }
            out[i] = blob;
          }),
        );
      }),
    );
    return out;
  }

  /** Whether a page's events fall in many body hashes (more than one per SCATTERED_RATIO events). */
  private isScattered(entries: readonly { accountId: string; n: number }[]): boolean {
    const hashes = new Set<string>();
    for (const { accountId, n } of entries) hashes.add(`${accountId} ${Math.floor(n / BODY_BUCKET)}`);
    return hashes.size * SCATTERED_RATIO > entries.length;
  }

  private async bodiesByScript(entries: readonly { accountId: string; n: number }[]): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = new Array<Buffer | undefined>(entries.length).fill(undefined);
    const byAccount = new Map<string, number[]>();
    entries.forEach(({ accountId }, i) => {
      const list = byAccount.get(accountId);
      if (list) list.push(i);
      else byAccount.set(accountId, [i]);
    });
    const calls: Promise<void>[] = [];
    for (const [accountId, at] of byAccount) {
      for (let k = 0; k < at.length; k += SCATTERED_BATCH) {
        const part = at.slice(k, k + SCATTERED_BATCH);
        const numbers = part.map((i) => ({ number: (entries[i] as { n: number }).n }));
        calls.push(
          this.run(accountId, 'bodies', { numbers }).then((reply) => {
            const blobs = asArray(reply, 'bodies');
            part.forEach((i, j) => {
              const blob = blobs[j];
              out[i] = Buffer.isBuffer(blob) ? blob : undefined;
            });
          }),
        );
      }
    }
    await Promise.all(calls);
    return out;
  }

  async get(accountIds: readonly string[], eventId: string): Promise<string | undefined> {
    if (eventId === '') return undefined;
    const horizon = Date.now() - HISTORY_RETENTION_MS;
    const blobs = await Promise.all([...new Set(accountIds)].map((accountId) => this.blobOf(accountId, eventId)));
    const blob = blobs.find((b): b is Buffer => b !== undefined && blobHead(b).timeMs >= horizon);
    return blob && this.texts.text(blob, blobHead(blob).id);
  }

  async lookup(query: HistoryQuery): Promise<HistoryPage> {
    const { hits, next } = await this.page(query, 50);
    const page: HistoryPage = { events: hits.map((hit) => this.texts.text(hit.blob, hit.id)) };
    if (next) page.next = next;
    return page;
  }

  async scan(query: HistoryQuery): Promise<HistoryScanPage> {
    const { hits, next } = await this.page(query, MAX_SCAN_LIMIT, true);
    const page: HistoryScanPage = { entries: hits.map((hit) => ({ timeMs: hit.timeMs, eventId: hit.id.toString('utf8'), json: decodeJson(hit.blob) })) };
    if (next) page.next = next;
    return page;
  }

  /** One page of hits (LookupEvents' limit is 1–50; a scan's 1–MAX_SCAN_LIMIT). */
  private async page(query: HistoryQuery, maxLimit: number, scan = false): Promise<{ hits: Hit[]; next?: HistoryCursor }> {
    const { direction, limit, condition, after } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) throw new RangeError(`history: limit must be 1–${maxLimit}, got ${limit}`);
    if (direction !== 'BACKWARD' && direction !== 'FORWARD') throw new RangeError(`history: invalid direction ${String(direction)}`);
    if (after && !Number.isSafeInteger(after.timeMs)) throw new RangeError('history: cursor time must be an integer');
    const backward = direction === 'BACKWARD';
    const startMs = Math.max(0, Math.ceil(query.startMs));
    const endMs = Math.min(MAX_TIME, Math.floor(query.endMs));
    const accountIds = [...new Set(query.accountIds)];
    if (accountIds.length === 0 || !(startMs <= endMs) || condition?.value === '') return { hits: [] };
    if (condition?.key === 'ErrorCode' && condition.value !== undefined && condition.days === 'unindexed') {
      throw new RangeError('history: an ErrorCode condition on unindexed days takes no value');
    }

    let hits: Hit[] = [];
    let more = false;
    if (condition?.key === 'EventId') {
      const blobs = await Promise.all(accountIds.map((accountId) => this.blobOf(accountId, condition.value)));
      for (const blob of blobs) {
        if (!blob) continue;
        const { timeMs, id } = blobHead(blob);
        if (timeMs < startMs || timeMs > endMs || (after && !isAfter(timeMs, id, after, backward))) continue;
        hits.push({ timeMs, id, blob });
      }
    } else {
      const { field, coverage } = indexFieldOf(condition);
      const args: ScriptArgs<'lookup'> = {
        field,
        direction: backward ? 'B' : 'F',
        start_ms: startMs,
        end_ms: endMs,
        limit,
        has_cursor: after ? '1' : '0',
        cursor_time_ms: after?.timeMs ?? 0,
        cursor_event_id: after?.eventId ?? '',
        field_hash: bucketHash(field),
        coverage,
        // one account: the script reads the page's bodies too (one round trip); several: each
        // script's numbers are merged first, then only the page's bodies are read
        with_bodies: accountIds.length === 1 ? '1' : '0',
      };
      const replies = await Promise.all(accountIds.map((accountId) => this.run(accountId, 'lookup', args)));
      if (args.with_bodies === '1') {
        const reply = asArray(replies[0], 'lookup');
        if (asNumber(reply[0], 'lookup') === 1) more = true;
        for (let i = 1; i + 2 < reply.length; i += 3) {
          const blob = reply[i + 2];
          if (Buffer.isBuffer(blob)) hits.push({ timeMs: asNumber(reply[i], 'lookup'), id: blobHead(blob).id, blob });
        }
      } else if (await this.mergedPage(accountIds, replies, limit, backward, scan, hits)) {
        more = true;
      }
    }

    if (hits.length > 1) {
      hits.sort((a, b) => {
        const order = a.timeMs - b.timeMs || Buffer.compare(a.id, b.id);
        return backward ? -order : order;
      });
    }
    if (hits.length > limit) {
      more = true;
      hits = hits.slice(0, limit);
    }
    const last = hits[hits.length - 1];
    return more && last ? { hits, next: { timeMs: last.timeMs, eventId: last.id.toString('utf8') } } : { hits };
  }

  /**
   * The hits of a page over several accounts from their lookup scripts' (time, n) replies:
   * merged by time, then only the page's bodies read. Returns whether more events follow.
   */
  private async mergedPage(accountIds: readonly string[], replies: readonly unknown[], limit: number, backward: boolean, scan: boolean, hits: Hit[]): Promise<boolean> {
    let more = false;
    let entries: { accountId: string; timeMs: number; n: number }[] = [];
    replies.forEach((raw, index) => {
      const reply = asArray(raw, 'lookup');
      if (asNumber(reply[0], 'lookup') === 1) more = true;
      const accountId = accountIds[index] ?? '';
      for (let i = 1; i + 1 < reply.length; i += 2) {
        entries.push({ accountId, timeMs: asNumber(reply[i], 'lookup'), n: asNumber(reply[i + 1], 'lookup') });
      }
    });
    // by time (a stable sort keeps each account's eventId order within a millisecond); only
    // the first `limit` and the rest of the last one's millisecond can make the page
    entries.sort((a, b) => (backward ? b.timeMs - a.timeMs : a.timeMs - b.timeMs));
    const boundary = entries[limit - 1];
    if (boundary && entries.length > limit) {
      more = true;
      entries = entries.filter((entry, i) => i < limit || entry.timeMs === boundary.timeMs);
    }
    const blobs = await this.bodies(entries, scan);
    entries.forEach((entry, i) => {
      const blob = blobs[i];
      if (blob) hits.push({ timeMs: entry.timeMs, id: blobHead(blob).id, blob });
    });
    return more;
  }

  /**
   * The errorCode dictionary (`P ec`, written by the put script): member 'v' + value, scored by
   * the latest day the value was seen; member 'o' scored by the latest day a value was seen that
   * the dictionary could not keep. A value last seen before the range's first day has no event
   * in it.
   */
  async errorCodes(accountIds: readonly string[], startMs: number, _endMs: number): Promise<ErrorCodeValues> {
    const firstDay = Math.floor(Math.max(0, startMs) / DAY_MS);
    const replies = await Promise.all([...new Set(accountIds)].map((accountId) => this.redis.zrangebyscore(`${this.base(accountId)}ec`, firstDay, '+inf')));
    const values = new Set<string>();
    let complete = true;
    for (const members of replies) {
      for (const member of members) {
        if (member.startsWith('v')) values.add(member.slice(1));
        else complete = false;
      }
    }
    return { values: [...values], complete };
  }

  async purge(accountId: string, nowMs: number): Promise<number> {
    const cutoff = Math.floor(nowMs) - HISTORY_RETENTION_MS;
    const lastDay = Math.floor((cutoff - 1) / DAY_MS);
    // errorCode values last seen before the last day purged have no event left
    await this.redis.zremrangebyscore(`${this.base(accountId)}ec`, '-inf', `(${lastDay}`);
    // P days: score = day, member = the day and its table's shape (history-scripts.ts)
    const members = await this.redis.zrangebyscore(`${this.base(accountId)}days`, '-inf', lastDay);
    let removed = 0;
    for (const member of members) {
      const day = dayOfDaysMember(member);
      const cut = Math.min(DAY_MS, cutoff - day * DAY_MS);
      for (;;) {
        const reply = asArray(await this.run(accountId, 'purgeEvents', { day, cut_offset: cut, max_events: PURGE_EVENTS_BATCH }), 'purge');
        removed += asNumber(reply[0], 'purge');
        if (asNumber(reply[1], 'purge') === 0) break;
      }
      let bucket = 0;
      while (bucket >= 0) {
        const values = { day, cut_offset: cut, first_bucket: bucket, bucket_count: PURGE_BUCKETS_BATCH, days_member: member };
        bucket = asNumber(await this.run(accountId, 'purgeFields', values), 'purge');
      }
    }
    return removed;
  }
}
