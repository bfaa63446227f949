/**
 * Lua scripts of the Redis history store (key layout: see `history-store.ts`).
 *
 * Every script works on ONE account: its only key is that account's counter key `<P>n`, and
 * the script derives the other key names from its prefix `<P>` = `<keyPrefix>{<accountId>}:`,
 * so every key it touches carries the account's hash tag (same cluster slot) and any
 * client-side key prefix applied to the counter key applies to them too.
 *
 * SINGLE SOURCE: what crosses between TypeScript and Lua is declared once, here, and the Lua
 * side is generated from it —
 *   - each script's arguments (`SCRIPT_ARGS`): the Lua locals that read KEYS and ARGV are
 *     generated from these declarations, and the client encodes its arguments with
 *     `scriptArgs`, typed by the same declarations;
 *   - the bucket hash of the linear-hashed tables: `bucketHash` and the Lua `bucket_hash`;
 *   - the posting format (`POSTING_FIELDS`): `packPostings` and the Lua `posting_at`;
 *   - the blob header positions the scripts read the eventId from (`history-codec.ts`);
 *   - the `P days` member encoding: Lua `days_member` and `dayOfDaysMember`.
 *
 * Postings are 8 bytes: the event's ms offset in its UTC day and its number n, both u32
 * big-endian, so a string of postings sorted bytewise is sorted by (offset, n); a lookup
 * binary-searches it. Lua compares strings with the server's locale (strcoll), so nothing
 * here compares binary strings with `<`: offsets are compared as numbers and event ids byte
 * by byte (`compare_ids`), which is also how the client orders them (Buffer.compare).
 */
import crypto from 'node:crypto';
import { HISTORY_RETENTION_MS, MAX_ERROR_CODE_BYTES, MAX_ERROR_CODE_VALUES } from '../../shared/history/history-store.ts';
import { BLOB_HEADER_BYTES, BLOB_ID_LENGTH_BYTE } from './history-codec.ts';

/** Postings a day-field keeps packed in its table entry before getting a key of its own. */
export const PACKED_MAX = 24;
/** Postings in one chunk (day, hour or 5-minute string) before it splits into finer ones. */
export const CHUNK_MAX = 512;
/** Average fields per bucket of a linear-hashed table before it grows by one bucket. */
export const TABLE_LOAD = 64;
/** Bodies per body hash (`b:<n div 64>`). */
export const BODY_BUCKET = 64;
/** Bodies longer than this go to their own string key, so body hashes stay listpacks. */
export const BIG_BODY = 1000;

// ---- the bucket hash ------------------------------------------------------------------------

/** Bytes of SHA-1 the bucket hash keeps: a u32. */
const BUCKET_HASH_BYTES = 4;

/**
 * The bucket hash of a field or eventId in the linear-hashed tables (eventId map, day tables):
 * the first 32 bits of its SHA-1 (of the UTF-8 text). Its Lua twin is `bucket_hash` (COMMON
 * below), the one hash every script uses: the client passes this value wherever it knows the
 * text, and the scripts compute it only for text they read from Redis (a bucket split, a
 * purge). Stored tables depend on it: never change it.
 */
export function bucketHash(text: string): number {
  return sha1(text).readUIntBE(0, BUCKET_HASH_BYTES);
}

/** SHA-1 of a text's UTF-8: the one-shot `crypto.hash` (Node ≥ 20.12, about half the cost of a Hash object per call) where there is one. */
const sha1: (text: string) => Buffer =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha1', text, 'buffer') : (text) => crypto.createHash('sha1').update(text, 'utf8').digest();


// ---- postings -------------------------------------------------------------------------------

/**
 * A posting's fields, in byte order, each an unsigned 32-bit big-endian integer: the event's ms
 * offset in its UTC day, then its number n. Offset first is what makes bytewise order the
 * (offset, n) order the scripts binary-search.
 */
export const POSTING_FIELDS = ['offset', 'number'] as const;
const POSTING_FIELD_BYTES = 4;
/** Bytes per posting. */
export const POSTING_BYTES = POSTING_FIELDS.length * POSTING_FIELD_BYTES;
/** A posting as the client builds it: [offset, n], in POSTING_FIELDS order. */
export type Posting = readonly [offset: number, number: number];

/** Postings (sorted by the caller) as the string the scripts read. */
export function packPostings(postings: readonly Posting[]): Buffer {
  const packed = Buffer.allocUnsafe(postings.length * POSTING_BYTES);
  let at = 0;
  for (const posting of postings) {
    for (let f = 0; f < POSTING_FIELDS.length; f++) {
      packed.writeUInt32BE(posting[f] ?? 0, at);
      at += POSTING_FIELD_BYTES;
    }
  }
  return packed;
}

// ---- the P days member ----------------------------------------------------------------------

/** `P days` member = day * DAYS_MEMBER_DAY + level * DAYS_MEMBER_LEVEL + split (the day table's shape). */
const DAYS_MEMBER_DAY = 2 ** 32;
const DAYS_MEMBER_LEVEL = 2 ** 24;

/** The UTC day (epoch days) of a member of `P days`. */
export function dayOfDaysMember(member: string): number {
  return Math.floor(Number(member) / DAYS_MEMBER_DAY);
}

// ---- script arguments, declared once --------------------------------------------------------

/** How Lua reads an argument: `int` through tonumber, `bytes` as sent (binary-safe). */
type ArgKind = 'int' | 'bytes';
/** One argument: its Lua local's name and kind. */
interface ScalarArg {
  readonly name: string;
  readonly kind: ArgKind;
}
/** A list: its length (the Lua local `count`), then each item's fields in `item` order. */
interface ListArg {
  readonly list: string;
  readonly count: string;
  readonly item: readonly ScalarArg[];
}
type ArgLayout = readonly (ScalarArg | ListArg)[];

/** The one key of every script: the account's counter `<P>n` (the Lua local `counter_key`). */
export const SCRIPT_KEYS = ['counter_key'] as const;

/**
 * Every script's ARGV, in order. The Lua locals of the same names are generated from these
 * (`luaArgBindings`, `luaItemBindings`), and `scriptArgs` encodes a call's values in this order.
 */
export const SCRIPT_ARGS = {
  /**
   * Stores a batch of one account. Returns {added, duplicates, expired, status}: status holds a
   * character per record, in order — 'a' added, 'd' already held (a duplicate), 'x' past retention.
   */
  put: [
    // the batch's records are numbered first_number + 1, first_number + 2, … (reserved by INCRBY)
    { name: 'first_number', kind: 'int' },
    {
      list: 'records',
      count: 'record_count',
      item: [
        { name: 'event_id', kind: 'bytes' },
        { name: 'event_id_hash', kind: 'int' },
        { name: 'event_time_ms', kind: 'int' },
        { name: 'blob', kind: 'bytes' },
      ],
    },
    // per (day, field): the sorted postings of the batch's records, as if all were new
    {
      list: 'groups',
      count: 'group_count',
      item: [
        { name: 'day', kind: 'int' },
        { name: 'field', kind: 'bytes' },
        { name: 'field_hash', kind: 'int' },
        { name: 'postings', kind: 'bytes' },
      ],
    },
    // the batch's distinct errorCode values, each with the latest day it has in the batch
    {
      list: 'error_codes',
      count: 'error_code_count',
      item: [
        { name: 'error_code', kind: 'bytes' },
        { name: 'error_code_day', kind: 'int' },
      ],
    },
  ],
  /** Whether each eventId is held. Returns 1/0 per id. */
  has: [
    {
      list: 'ids',
      count: 'id_count',
      item: [
        { name: 'event_id', kind: 'bytes' },
        { name: 'event_id_hash', kind: 'int' },
      ],
    },
  ],
  /** One event's blob by eventId, or nil. */
  get: [
    { name: 'event_id', kind: 'bytes' },
    { name: 'event_id_hash', kind: 'int' },
  ],
  /**
   * The blobs of events by number (false for one no longer held): one call for a page of
   * scattered events, where an HMGET per body hash would be one command per event.
   */
  bodies: [{ list: 'numbers', count: 'number_count', item: [{ name: 'number', kind: 'int' }] }],
  /**
   * At most `limit` events of `field` in [start_ms, end_ms] strictly after the cursor (when
   * has_cursor is '1') in (time, eventId) order, descending for direction 'B'. Returns
   * {more, t1, n1, t2, n2, …}; more = 1 when another follows. With with_bodies '1', each event
   * also brings its blob (false for one no longer held): {more, t1, n1, blob1, …}, so a page of
   * one account takes one round trip.
   */
  lookup: [
    { name: 'field', kind: 'bytes' },
    { name: 'direction', kind: 'bytes' },
    { name: 'start_ms', kind: 'int' },
    { name: 'end_ms', kind: 'int' },
    { name: 'limit', kind: 'int' },
    { name: 'has_cursor', kind: 'bytes' },
    { name: 'cursor_time_ms', kind: 'int' },
    { name: 'cursor_event_id', kind: 'bytes' },
    { name: 'field_hash', kind: 'int' },
    // which days are read: 'A' every day; for the errorCode fields, by whether a day holds the
    // errorCode index (every event of it put with it): 'F' such days by field, the others by
    // '*' (a superset); 'S' only such days; 'U' (field '*') only the other days
    { name: 'coverage', kind: 'bytes' },
    { name: 'with_bodies', kind: 'bytes' },
  ],
  /**
   * Deletes up to max_events events of the day with offset < cut_offset: body, eventId entry
   * and '*' posting. Returns {removed, more}.
   */
  purgeEvents: [
    { name: 'day', kind: 'int' },
    { name: 'cut_offset', kind: 'int' },
    { name: 'max_events', kind: 'int' },
  ],
  /**
   * Trims every field of the day's table in buckets [first_bucket, first_bucket + bucket_count)
   * to offsets >= cut_offset (deleting the whole day once cut_offset covers it). Returns the
   * next bucket, or -1 when the day is done. days_member: the day's member of `P days`.
   */
  purgeFields: [
    { name: 'day', kind: 'int' },
    { name: 'cut_offset', kind: 'int' },
    { name: 'first_bucket', kind: 'int' },
    { name: 'bucket_count', kind: 'int' },
    { name: 'days_member', kind: 'bytes' },
  ],
} as const satisfies Record<string, ArgLayout>;

export type ScriptName = keyof typeof SCRIPT_ARGS;
type Arg = string | Buffer | number;
type ValueOf<S extends ScalarArg> = S['kind'] extends 'int' ? number : string | Buffer;
type ItemValues<I extends readonly ScalarArg[]> = { readonly [S in I[number] as S['name']]: ValueOf<S> };
type LayoutValues<L extends ArgLayout> = {
  readonly [S in L[number] as S extends ListArg ? S['list'] : S extends ScalarArg ? S['name'] : never]: S extends ListArg
    ? readonly ItemValues<S['item']>[]
    : S extends ScalarArg
      ? ValueOf<S>
      : never;
};
/** The values of one call of a script, by argument name. */
export type ScriptArgs<N extends ScriptName> = LayoutValues<(typeof SCRIPT_ARGS)[N]>;

/** A call's ARGV, in its declared order (a list: its length, then its items' fields). */
export function scriptArgs<N extends ScriptName>(name: N, values: ScriptArgs<N>): Arg[] {
  const layout: ArgLayout = SCRIPT_ARGS[name];
  const byName = values as unknown as Readonly<Record<string, unknown>>;
  const out: Arg[] = [];
  for (const section of layout) {
    if ('list' in section) {
      const items = byName[section.list] as readonly Readonly<Record<string, Arg>>[];
      out.push(items.length);
      for (const item of items) for (const field of section.item) out.push(item[field.name] as Arg);
    } else {
      out.push(byName[section.name] as Arg);
    }
  }
  return out;
}

const LUA_KEYWORDS = new Set(
  'and break do else elseif end false for function if in local nil not or repeat return then true until while'.split(' '),
);
function luaName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || LUA_KEYWORDS.has(name)) throw new Error(`history: ${name} is not a Lua local name`);
  return name;
}
const luaRead = (arg: ScalarArg, index: string) => (arg.kind === 'int' ? `tonumber(ARGV[${index}])` : `ARGV[${index}]`);
/** `base + k` as Lua, folded when both are numbers. */
const luaPlus = (base: string, k: number) => (k === 0 ? base : /^\d+$/.test(base) ? String(Number(base) + k) : `${base} + ${k}`);

/**
 * The Lua locals of a script's KEYS and ARGV: one local per key and scalar argument, and per
 * list its count, `<list>_at` (the ARGV index of its first item) and `<list>_width` (fields per
 * item), which `luaItemBindings` reads items with.
 */
function luaArgBindings(layout: ArgLayout): string {
  const lines = [`-- KEYS and ARGV (generated from SCRIPT_KEYS and SCRIPT_ARGS in history-scripts.ts)`];
  SCRIPT_KEYS.forEach((key, i) => lines.push(`local ${luaName(key)} = KEYS[${i + 1}]`));
  let next = '1'; // Lua expression: the ARGV index of the next argument
  for (const section of layout) {
    if ('list' in section) {
      const list = luaName(section.list);
      lines.push(`local ${luaName(section.count)} = tonumber(ARGV[${next}])`);
      lines.push(`local ${list}_at, ${list}_width = ${luaPlus(next, 1)}, ${section.item.length}`);
      section.item.forEach((field) => luaName(field.name));
      next = `${list}_at + ${section.count} * ${list}_width`;
    } else {
      lines.push(`local ${luaName(section.name)} = ${luaRead(section, next)}`);
      next = luaPlus(next, 1);
    }
  }
  return lines.join('\n');
}

/**
 * Lua statements binding item `index` (1-based Lua expression) of a list to its fields' names;
 * `indent`: the indentation of the line the call is placed on.
 */
function luaItemBindings(name: ScriptName, list: string, index: string, indent = '  '): string {
  const layout: ArgLayout = SCRIPT_ARGS[name];
  const section = layout.find((s): s is ListArg => 'list' in s && s.list === list);
  if (!section) throw new Error(`history: script ${name} has no list ${list}`);
  const at = `${list}_item_at`;
  return (
    `local ${at} = ${list}_at + (${index} - 1) * ${list}_width\n` +
    `${indent}local ${section.item.map((f) => f.name).join(', ')} = ${section.item.map((f, i) => luaRead(f, luaPlus(at, i))).join(', ')}`
  );
}

// ---- Lua shared by every script -------------------------------------------------------------

const COMMON = `
-- P: the account's key prefix '<keyPrefix>{<account>}:' (the counter key is P .. 'n')
local P = string.sub(counter_key, 1, #counter_key - 1)
local DAY_MS, HOUR_MS, SLOT_MS = 86400000, 3600000, 300000
local SLOTS_PER_HOUR, SLOTS_PER_DAY, HOURS_PER_DAY = 12, 288, 24
local PACKED_MAX, CHUNK_MAX, TABLE_LOAD, BODY_BUCKET = ${PACKED_MAX}, ${CHUNK_MAX}, ${TABLE_LOAD}, ${BODY_BUCKET}
local BIG_BODY = ${BIG_BODY}
local MAX_ERROR_CODE_VALUES, MAX_ERROR_CODE_BYTES = ${MAX_ERROR_CODE_VALUES}, ${MAX_ERROR_CODE_BYTES}
local RETENTION_MS = ${HISTORY_RETENTION_MS}
local floor = math.floor

-- every key expires at the end of its span (day, epoch hour, epoch 5-minute slot) + retention
local function day_expiry(day) return (day + 1) * DAY_MS + RETENTION_MS end
local function hour_expiry(hour) return (hour + 1) * HOUR_MS + RETENTION_MS end
local function slot_expiry(slot) return (slot + 1) * SLOT_MS + RETENTION_MS end

-- The bucket hash of a field or eventId: the first ${BUCKET_HASH_BYTES * 8} bits of its SHA-1 (bucketHash in
-- history-scripts.ts computes the same; the client passes it wherever it knows the text).
local function bucket_hash(text) return tonumber(string.sub(redis.sha1hex(text), 1, ${BUCKET_HASH_BYTES * 2}), 16) end

-- Linear hashing: a hash spread over buckets <prefix>0 .. <prefix>(2^level + split - 1), with
-- the state {level, split, count = fields} in the hash <meta> (fields l, s, c). A field of hash
-- h is in bucket h mod 2^level, or h mod 2^(level + 1) when that is below split. The table grows
-- one bucket at a time, so it stays a set of small listpack-encoded hashes however many fields
-- it holds. A loaded state belongs to the script that loaded it: the script keeps count right
-- as it adds or removes fields, lh_grow updates level and split, and lh_save writes it back.
local function lh_load(meta)
  local v = redis.call('HMGET', meta, 'l', 's', 'c')
  return { meta = meta, level = tonumber(v[1]) or 0, split = tonumber(v[2]) or 0, count = tonumber(v[3]) or 0, fresh = not v[1] }
end
local function lh_bucket_key(state, prefix, hash)
  local m = 2 ^ state.level
  local b = hash % m
  if b < state.split then b = hash % (2 * m) end
  return prefix .. b
end
local function lh_bucket_count(state) return 2 ^ state.level + state.split end
-- splits buckets until the table holds at most TABLE_LOAD fields per bucket on average; a new
-- bucket gets its source bucket's expiry
local function lh_grow(state, prefix)
  while state.count > TABLE_LOAD * lh_bucket_count(state) do
    local m = 2 ^ state.level
    local source, target = prefix .. state.split, prefix .. (state.split + m)
    local all = redis.call('HGETALL', source)
    local moved, gone = {}, {}
    for i = 1, #all, 2 do
      if bucket_hash(all[i]) % (2 * m) ~= state.split then
        moved[#moved + 1] = all[i]; moved[#moved + 1] = all[i + 1]; gone[#gone + 1] = all[i]
      end
    end
    for i = 1, #moved, 400 do redis.call('HSET', target, unpack(moved, i, math.min(i + 399, #moved))) end
    for i = 1, #gone, 200 do redis.call('HDEL', source, unpack(gone, i, math.min(i + 199, #gone))) end
    local at = redis.call('PEXPIRETIME', source)
    if #moved > 0 and at > 0 then redis.call('PEXPIREAT', target, at) end
    state.split = state.split + 1
    if state.split == m then state.level = state.level + 1; state.split = 0 end
  end
end
local function lh_save(state) redis.call('HSET', state.meta, 'l', state.level, 's', state.split, 'c', state.count) end

-- keys of the account
local ID_TABLE = P .. 'i'                -- the eventId table's state; its buckets: ID_BUCKETS .. b
local ID_BUCKETS = P .. 'i:'
local DAYS = P .. 'days'
local ERROR_CODES = P .. 'ec'         -- the errorCode dictionary (put, purge: history-store.ts)
local function day_state_key(day) return P .. 'd:' .. day end
local function day_buckets(day) return P .. 'x:' .. day .. ':' end
local function day_chunk_key(day, field) return P .. 'z:' .. day .. ':' .. field end
local function hour_chunk_key(hour, field) return P .. 'h:' .. hour .. ':' .. field end
local function slot_chunk_key(slot, field) return P .. 'f:' .. slot .. ':' .. field end
local function body_bucket_key(n) return P .. 'b:' .. floor(n / BODY_BUCKET) end
local function big_body_key(n) return P .. 'B:' .. n end

-- the blob of event n (a big one lives in its own key, its field holding ''), or nil
local function body_of(n)
  local v = redis.call('HGET', body_bucket_key(n), n % BODY_BUCKET)
  if v == '' then v = redis.call('GET', big_body_key(n)) end
  return v
end
-- the eventId in a blob's header (history-codec.ts: its length at byte ${BLOB_ID_LENGTH_BYTE}, itself from byte ${BLOB_HEADER_BYTES})
local function event_id_of(blob)
  return string.sub(blob, ${BLOB_HEADER_BYTES + 1}, ${BLOB_HEADER_BYTES} + string.byte(blob, ${BLOB_ID_LENGTH_BYTE + 1}))
end
-- -1, 0 or 1 as eventId a sorts before, with or after b, byte by byte (as Buffer.compare)
local function compare_ids(a, b)
  if a == b then return 0 end
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return la < lb and -1 or 1
end

-- Posting strings: POSTING_SIZE-byte postings (offset in the day, n), sorted by (offset, n).
-- Posting i (1-based) of a string is bytes (i - 1) * POSTING_SIZE + 1 .. i * POSTING_SIZE.
local POSTING_SIZE, POSTING_FORMAT, OFFSET_FORMAT = ${POSTING_BYTES}, '>${'I4'.repeat(POSTING_FIELDS.length)}', '>I4'
local function posting_count(s) return #s / POSTING_SIZE end
local function posting_at(s, i) return struct.unpack(POSTING_FORMAT, s, i * POSTING_SIZE - POSTING_SIZE + 1) end
local function offset_at(s, i) return (struct.unpack(OFFSET_FORMAT, s, i * POSTING_SIZE - POSTING_SIZE + 1)) end
-- postings first .. last of s (last defaults to the end)
local function postings_between(s, first, last)
  return string.sub(s, first * POSTING_SIZE - POSTING_SIZE + 1, last and last * POSTING_SIZE or -1)
end
-- whether posting (o1, n1) sorts before (o2, n2)
local function posting_before(o1, n1, o2, n2) return o1 < o2 or (o1 == o2 and n1 < n2) end
-- index of the first posting with offset >= x (posting_count(s) + 1 when none)
local function first_at_or_after(s, x)
  local lo, hi = 1, posting_count(s) + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if offset_at(s, mid) < x then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function chunk_postings(key) return redis.call('GET', key) or '' end

-- A 5-minute string has no size bound (a busy field gets every event of its 5 minutes), so
-- scripts never copy a long one whole: they binary-search it with GETRANGE probes, read the
-- windows they need, and write with APPEND / SETRANGE. Strings up to WHOLE_READ_MAX bytes are
-- read whole.
local WHOLE_READ_MAX = CHUNK_MAX * POSTING_SIZE * 4
local function key_offset_at(key, i)
  return (struct.unpack(OFFSET_FORMAT, redis.call('GETRANGE', key, (i - 1) * POSTING_SIZE, i * POSTING_SIZE - 1), 1))
end
-- index of the first posting of key (count postings) with offset >= x (count + 1 when none)
local function key_first_at_or_after(key, count, x)
  local lo, hi = 1, count + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if key_offset_at(key, mid) < x then lo = mid + 1 else hi = mid end
  end
  return lo
end
-- Scans. Both call visit(offset, n) for the postings with offsets in [a, b], in order (reversed
-- with backward), until visit returns true.
local function scan_string(s, a, b, backward, visit)
  local from, to, step = first_at_or_after(s, a), posting_count(s), 1
  if backward then from, to, step = first_at_or_after(s, b + 1) - 1, 1, -1 end
  for i = from, to, step do
    local offset, n = posting_at(s, i)
    if offset < a or offset > b or visit(offset, n) then return end
  end
end
-- the same for the string at key, read in windows of at least need + 1 postings (doubling),
-- so a scan that wants need postings usually reads one window
local function scan_key(key, a, b, backward, need, visit)
  local len = redis.call('STRLEN', key)
  if len == 0 then return end
  if len <= WHOLE_READ_MAX then scan_string(redis.call('GET', key), a, b, backward, visit) return end
  local count = len / POSTING_SIZE
  local i = backward and (key_first_at_or_after(key, count, b + 1) - 1) or key_first_at_or_after(key, count, a)
  local width = math.max(need + 1, 64)
  while i >= 1 and i <= count do
    local first, final = i, math.min(count, i + width - 1)
    if backward then first, final = math.max(1, i - width + 1), i end
    local window = redis.call('GETRANGE', key, (first - 1) * POSTING_SIZE, final * POSTING_SIZE - 1)
    local from, to, step = 1, final - first + 1, 1
    if backward then from, to, step = to, 1, -1 end
    for j = from, to, step do
      local offset, n = posting_at(window, j)
      if offset < a or offset > b or visit(offset, n) then return end
    end
    i = backward and first - 1 or final + 1
    width = width * 2
  end
end

-- P days: score = day, member = day * 2^32 + level * 2^24 + split (the shape of the day's
-- table, as an integer), so one range read lists a query's days in order with what is needed
-- to find their buckets
local DAYS_MEMBER_DAY, DAYS_MEMBER_LEVEL = ${DAYS_MEMBER_DAY}, ${DAYS_MEMBER_LEVEL}
local function days_member_of(day, level, split)
  return string.format('%.0f', day * DAYS_MEMBER_DAY + level * DAYS_MEMBER_LEVEL + split)
end
-- the day of a member and its table's shape (enough for lh_bucket_key)
local function day_of_member(member)
  local day = floor(member / DAYS_MEMBER_DAY)
  local rest = member - day * DAYS_MEMBER_DAY
  return day, { level = floor(rest / DAYS_MEMBER_LEVEL), split = rest % DAYS_MEMBER_LEVEL }
end

-- A field's entry in its day table says where its postings of that day are:
--   PACKED .. postings   in the entry itself (at most PACKED_MAX)
--   DAY_STRING           in the string day_chunk_key(day, field) (at most CHUNK_MAX)
--   BY_HOUR .. 24 flags  flag of hour h (character h + 2 of the entry): HOUR_STRING = in the
--                        string hour_chunk_key(hour, field) (at most CHUNK_MAX), SLOT_STRINGS =
--                        in the twelve 5-minute strings slot_chunk_key(slot, field) (unbounded)
local PACKED, DAY_STRING, BY_HOUR = 'P', 'Z', 'H'
local HOUR_STRING, SLOT_STRINGS = '0', '1'
local function entry_kind(entry) return string.sub(entry, 1, 1) end
local function entry_rest(entry) return string.sub(entry, 2) end   -- packed postings, or hour flags
local function hour_flag(flags, h) return string.sub(flags, h + 1, h + 1) end
local function epoch_hour(day, h) return day * HOURS_PER_DAY + h end
local function epoch_slot(day, slot_of_day) return day * SLOTS_PER_DAY + slot_of_day end

-- the entry of field (of bucket hash field_hash) on day, or nil; with the day table's state
-- and the entry's bucket key
local function field_entry(day, field, field_hash)
  local state = lh_load(day_state_key(day))
  if state.count == 0 then return nil, state, nil end
  local bucket = lh_bucket_key(state, day_buckets(day), field_hash)
  return redis.call('HGET', bucket, field), state, bucket
end
-- the chunks of a DAY_STRING or BY_HOUR entry, in time order: {{key, first offset, last offset}, ...}
local function chunks_of(day, field, entry)
  if entry_kind(entry) == DAY_STRING then return { { day_chunk_key(day, field), 0, DAY_MS - 1 } } end
  local flags, chunks = entry_rest(entry), {}
  for h = 0, HOURS_PER_DAY - 1 do
    if hour_flag(flags, h) == HOUR_STRING then
      chunks[#chunks + 1] = { hour_chunk_key(epoch_hour(day, h), field), h * HOUR_MS, (h + 1) * HOUR_MS - 1 }
    else
      for s = 0, SLOTS_PER_HOUR - 1 do
        local a = h * HOUR_MS + s * SLOT_MS
        chunks[#chunks + 1] = { slot_chunk_key(epoch_slot(day, h * SLOTS_PER_HOUR + s), field), a, a + SLOT_MS - 1 }
      end
    end
  end
  return chunks
end
`;

// ---- put --------------------------------------------------------------------------------------

const PUT = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
-- Expiries that only ever move later are collected in a table key -> latest time wanted (the
-- caller's), then applied once each: PEXPIREAT GT first, as usually the newest event raises it.
local function want_expiry(wanted, key, at) if not wanted[key] or at > wanted[key] then wanted[key] = at end end
local function expire_later(key, at)
  if redis.call('PEXPIREAT', key, at, 'GT') == 0 then redis.call('PEXPIREAT', key, at, 'NX') end
end

-- Stores the eventId entries and bodies of the batch's new records (an id already held is a
-- duplicate; a record past retention, by the server clock, is not stored) and wants the
-- expiries of the buckets written. Returns what the postings need:
--   {added, duplicates, expired; latest_expiry: of the new records' days;
--    not_stored: set of the numbers of records not stored; events_of_day: day -> new records}
local function store_records(ids, wanted)
  local now = now_ms()
  local batch = { added = 0, duplicates = 0, expired = 0, latest_expiry = 0, not_stored = {}, events_of_day = {}, status = {} }
  local body_fields = {}   -- body bucket key -> {field, blob, field, blob, ...}: one HSET each
  for k = 1, record_count do
    ${luaItemBindings('put', 'records', 'k', '    ')}
    local n = first_number + k
    local id_bucket = lh_bucket_key(ids, ID_BUCKETS, event_id_hash)
    if event_time_ms + RETENTION_MS < now then
      -- past retention: a duplicate if still held, else not stored
      if redis.call('HEXISTS', id_bucket, event_id) == 1 then batch.duplicates = batch.duplicates + 1; batch.status[k] = 'd'
      else batch.expired = batch.expired + 1; batch.status[k] = 'x' end
      batch.not_stored[n] = true
    elseif redis.call('HSETNX', id_bucket, event_id, n) == 0 then
      batch.duplicates = batch.duplicates + 1
      batch.status[k] = 'd'
      batch.not_stored[n] = true
    else
      batch.status[k] = 'a'
      batch.added = batch.added + 1
      ids.count = ids.count + 1
      local day = floor(event_time_ms / DAY_MS)
      local expires = day_expiry(day)
      if expires > batch.latest_expiry then batch.latest_expiry = expires end
      batch.events_of_day[day] = (batch.events_of_day[day] or 0) + 1
      want_expiry(wanted, id_bucket, expires)
      if #blob > BIG_BODY then
        redis.call('SET', big_body_key(n), blob, 'PXAT', expires)
        blob = ''
      end
      local body_key = body_bucket_key(n)
      local fields = body_fields[body_key]
      if not fields then fields = {}; body_fields[body_key] = fields end
      fields[#fields + 1] = n % BODY_BUCKET; fields[#fields + 1] = blob
      want_expiry(wanted, body_key, expires)
    end
  end
  for key, fields in pairs(body_fields) do redis.call('HSET', key, unpack(fields)) end
  return batch
end

-- the postings of s whose records are in not_stored, dropped
local function without_records(s, not_stored)
  local parts = {}
  for i = 1, posting_count(s) do
    local _, n = posting_at(s, i)
    if not not_stored[n] then parts[#parts + 1] = postings_between(s, i, i) end
  end
  return table.concat(parts)
end
-- two sorted posting strings merged: each posting of add is placed by binary search and the
-- runs of s between them are copied whole, so merging a batch into a long string costs
-- #add searches, not a step per posting of s
local function merge_postings(s, add)
  if #s == 0 then return add end
  local count_s, count_add = posting_count(s), posting_count(add)
  local last_o, last_n = posting_at(s, count_s)
  local add_o, add_n = posting_at(add, 1)
  if posting_before(last_o, last_n, add_o, add_n) then return s .. add end   -- the usual case
  local parts, from = {}, 1   -- from: the first posting of s not copied yet
  for j = 1, count_add do
    local x, xn = posting_at(add, j)
    local lo, hi = from, count_s + 1
    while lo < hi do
      local mid = floor((lo + hi) / 2)
      local o, n = posting_at(s, mid)
      if posting_before(o, n, x, xn) then lo = mid + 1 else hi = mid end
    end
    if lo > from then parts[#parts + 1] = postings_between(s, from, lo - 1) end
    parts[#parts + 1] = postings_between(add, j, j)
    from = lo
  end
  if from <= count_s then parts[#parts + 1] = postings_between(s, from) end
  return table.concat(parts)
end
-- add merged into the 5-minute string key (created with expiry at when new): appended in the
-- usual case, else merged into a window read from the end of the string, grown until it
-- holds add's first posting (out-of-order postings are recent: a window or two, not a
-- binary search of GETRANGE probes per group)
local function add_to_slot_string(key, add, at)
  local len = redis.call('STRLEN', key)
  if len == 0 then redis.call('SET', key, add, 'PXAT', at) return end
  local add_o, add_n = posting_at(add, 1)
  local width = math.max(#add * 2, 2048)
  while true do
    local from = math.max(0, len - width)
    local tail = redis.call('GETRANGE', key, from, -1)
    local last_o, last_n = posting_at(tail, posting_count(tail))
    if posting_before(last_o, last_n, add_o, add_n) then redis.call('APPEND', key, add) return end
    local first_o, first_n = posting_at(tail, 1)
    if from == 0 or posting_before(first_o, first_n, add_o, add_n) then
      redis.call('SETRANGE', key, from, merge_postings(tail, add))
      return
    end
    width = width * 4
  end
end
-- a sorted posting string cut where offset / width changes: {{offset div width, postings}, ...}
local function runs_by(s, width)
  local out = {}
  local start, current = 1, nil
  for i = 1, posting_count(s) do
    local k = floor(offset_at(s, i) / width)
    if current ~= nil and k ~= current then
      out[#out + 1] = { current, postings_between(s, start, i - 1) }
      start = i
    end
    current = k
  end
  if current ~= nil then out[#out + 1] = { current, postings_between(s, start) } end
  return out
end
-- s: postings of one hour of day, written into 5-minute strings
local function write_slot_strings(day, field, s)
  for _, run in ipairs(runs_by(s, SLOT_MS)) do
    local slot = epoch_slot(day, run[1])
    redis.call('SET', slot_chunk_key(slot, field), run[2], 'PXAT', slot_expiry(slot))
  end
end
-- s: postings of one day, written into hour strings (5-minute strings for an hour over
-- CHUNK_MAX); returns the BY_HOUR entry
local function write_hour_strings(day, field, s)
  local flags = {}
  for h = 1, HOURS_PER_DAY do flags[h] = HOUR_STRING end
  for _, run in ipairs(runs_by(s, HOUR_MS)) do
    local hour = epoch_hour(day, run[1])
    if posting_count(run[2]) <= CHUNK_MAX then
      redis.call('SET', hour_chunk_key(hour, field), run[2], 'PXAT', hour_expiry(hour))
    else
      write_slot_strings(day, field, run[2])
      flags[run[1] + 1] = SLOT_STRINGS
    end
  end
  return BY_HOUR .. table.concat(flags)
end
-- merges an hour's postings into an hour of a BY_HOUR entry; returns whether the hour was
-- split into 5-minute strings
local function add_to_hour(day, field, h, flags, add)
  local hour = epoch_hour(day, h)
  if hour_flag(flags, h) == HOUR_STRING then
    local key = hour_chunk_key(hour, field)
    local s = merge_postings(chunk_postings(key), add)
    if posting_count(s) <= CHUNK_MAX then
      redis.call('SET', key, s, 'PXAT', hour_expiry(hour))
      return false
    end
    redis.call('DEL', key)
    write_slot_strings(day, field, s)
    return true
  end
  for _, run in ipairs(runs_by(add, SLOT_MS)) do
    local slot = epoch_slot(day, run[1])
    add_to_slot_string(slot_chunk_key(slot, field), run[2], slot_expiry(slot))
  end
  return false
end
-- Adds the postings add (sorted, all of day) of field to the day's table, moving them to a
-- finer home when they outgrow theirs (PACKED -> DAY_STRING -> BY_HOUR, an hour -> 5-minute
-- strings). Counts a new field in the table's state; records the bucket written in
-- buckets_written (key -> expiry).
local function add_postings(day, table_state, field, field_hash, add, buckets_written)
  local bucket = lh_bucket_key(table_state, day_buckets(day), field_hash)
  local expires = day_expiry(day)
  buckets_written[bucket] = expires
  local entry = redis.call('HGET', bucket, field)
  local kind = entry and entry_kind(entry)
  if not entry or kind == PACKED then
    if not entry then table_state.count = table_state.count + 1 end
    local s = merge_postings(entry and entry_rest(entry) or '', add)
    if posting_count(s) <= PACKED_MAX then
      redis.call('HSET', bucket, field, PACKED .. s)
    elseif posting_count(s) <= CHUNK_MAX then
      redis.call('SET', day_chunk_key(day, field), s, 'PXAT', expires)
      redis.call('HSET', bucket, field, DAY_STRING)
    else
      redis.call('HSET', bucket, field, write_hour_strings(day, field, s))
    end
  elseif kind == DAY_STRING then
    local key = day_chunk_key(day, field)
    local s = merge_postings(chunk_postings(key), add)
    if posting_count(s) <= CHUNK_MAX then
      redis.call('SET', key, s, 'PXAT', expires)
    else
      redis.call('DEL', key)
      redis.call('HSET', bucket, field, write_hour_strings(day, field, s))
    end
  else
    local flags, changed = entry_rest(entry), false
    for _, run in ipairs(runs_by(add, HOUR_MS)) do
      local h = run[1]
      if add_to_hour(day, field, h, flags, run[2]) then
        flags = string.sub(flags, 1, h) .. SLOT_STRINGS .. string.sub(flags, h + 2)
        changed = true
      end
    end
    if changed then redis.call('HSET', bucket, field, BY_HOUR .. flags) end
  end
end

-- The day table of day, from the cache tables (day -> state: the caller's), loaded on first
-- use. A new table starts with as many buckets as the neighbouring day needed (or as this
-- batch's groups_of_day need), so steady ingest rarely pays for splits. state.was: the
-- table's P days member when loaded, nil for a new one.
local function day_table(tables, day, groups_of_day)
  local state = tables[day]
  if state then return state end
  state = lh_load(day_state_key(day))
  state.was = (not state.fresh) and days_member_of(day, state.level, state.split) or nil
  if state.fresh then
    local want = groups_of_day[day]
    for _, other in ipairs({ day - 1, day + 1 }) do
      local count = tonumber(redis.call('HGET', day_state_key(other), 'c'))
      if count and count > want then want = count end
    end
    while TABLE_LOAD * 2 ^ state.level < want do state.level = state.level + 1 end
  end
  tables[day] = state
  return state
end

-- 1. the records: eventId entries and bodies
local ids = lh_load(ID_TABLE)
local wanted = {}   -- key -> expiry wanted (want_expiry)
local batch = store_records(ids, wanted)
if batch.added == 0 then return { 0, batch.duplicates, batch.expired, table.concat(batch.status) } end
want_expiry(wanted, counter_key, batch.latest_expiry + DAY_MS)
for key, at in pairs(wanted) do expire_later(key, at) end
lh_grow(ids, ID_BUCKETS)
lh_save(ids)

-- 2. the postings, group by group
local groups_of_day = {}
for g = 1, group_count do
  ${luaItemBindings('put', 'groups', 'g')}
  groups_of_day[day] = (groups_of_day[day] or 0) + 1
end
local tables, buckets_written = {}, {}
local filtering = batch.duplicates + batch.expired > 0
for g = 1, group_count do
  ${luaItemBindings('put', 'groups', 'g')}
  if filtering then postings = without_records(postings, batch.not_stored) end
  if #postings > 0 then add_postings(day, day_table(tables, day, groups_of_day), field, field_hash, postings, buckets_written) end
end
for key, at in pairs(buckets_written) do redis.call('PEXPIREAT', key, at) end

-- 3. the day tables' states, event counts and P days members
for day, state in pairs(tables) do
  lh_grow(state, day_buckets(day))
  lh_save(state)
  -- e: the day's events; ix: those put with the errorCode index (equal: the day holds it)
  redis.call('HINCRBY', state.meta, 'e', batch.events_of_day[day] or 0)
  redis.call('HINCRBY', state.meta, 'ix', batch.events_of_day[day] or 0)
  redis.call('PEXPIREAT', state.meta, day_expiry(day))
  local member = days_member_of(day, state.level, state.split)
  if member ~= state.was then
    if state.was then redis.call('ZREM', DAYS, state.was) end
    redis.call('ZADD', DAYS, day, member)
  end
end
-- 4. the errorCode dictionary: value -> the latest day it was seen (member 'v' .. value), at
-- most MAX_ERROR_CODE_VALUES values of at most MAX_ERROR_CODE_BYTES; a value it cannot keep
-- raises the member 'o' to its day instead ('' stands for a value the client found unfit), so a
-- reader knows the values of a range are partial
if error_code_count > 0 then
  local card, trimmed = redis.call('ZCARD', ERROR_CODES), false
  for e = 1, error_code_count do
    ${luaItemBindings('put', 'error_codes', 'e')}
    local member = 'v' .. error_code
    if card >= MAX_ERROR_CODE_VALUES and not trimmed then
      -- values last seen before the retention are gone from the index: forget them first
      redis.call('ZREMRANGEBYSCORE', ERROR_CODES, '-inf', '(' .. floor((now_ms() - RETENTION_MS) / DAY_MS))
      card, trimmed = redis.call('ZCARD', ERROR_CODES), true
    end
    if error_code ~= '' and #error_code <= MAX_ERROR_CODE_BYTES and (card < MAX_ERROR_CODE_VALUES or redis.call('ZSCORE', ERROR_CODES, member)) then
      card = card + redis.call('ZADD', ERROR_CODES, 'GT', error_code_day, member)
    else
      card = card + redis.call('ZADD', ERROR_CODES, 'GT', error_code_day, 'o')
    end
  end
  expire_later(ERROR_CODES, batch.latest_expiry + DAY_MS)
end
-- the account's bookkeeping lives a day longer than anything it points to
expire_later(ID_TABLE, batch.latest_expiry + DAY_MS)
expire_later(DAYS, batch.latest_expiry + DAY_MS)
return { batch.added, batch.duplicates, batch.expired, table.concat(batch.status) }
`;

// ---- has, get -------------------------------------------------------------------------------

const HAS = `
local ids = lh_load(ID_TABLE)
local out = {}
for i = 1, id_count do
  ${luaItemBindings('has', 'ids', 'i')}
  out[i] = (ids.count > 0 and redis.call('HEXISTS', lh_bucket_key(ids, ID_BUCKETS, event_id_hash), event_id)) or 0
end
return out
`;

const GET = `
local ids = lh_load(ID_TABLE)
if ids.count == 0 then return false end
local n = redis.call('HGET', lh_bucket_key(ids, ID_BUCKETS, event_id_hash), event_id)
if not n then return false end
return body_of(tonumber(n))
`;

const BODIES_OF = `
local out = {}
for i = 1, number_count do
  ${luaItemBindings('bodies', 'numbers', 'i')}
  out[i] = body_of(number) or false
end
return out
`;

// ---- lookup ---------------------------------------------------------------------------------

const LOOKUP = `
local backward = direction == 'B'
-- the range left after the cursor; tie_ms: the cursor's millisecond, whose events are
-- filtered by eventId
local from_ms, to_ms, tie_ms = start_ms, end_ms, nil
if has_cursor == '1' then
  if backward then
    if cursor_time_ms < from_ms then return { 0 } end
    if cursor_time_ms <= to_ms then to_ms = cursor_time_ms - 1; tie_ms = cursor_time_ms end
  else
    if cursor_time_ms > to_ms then return { 0 } end
    if cursor_time_ms >= from_ms then from_ms = cursor_time_ms + 1; tie_ms = cursor_time_ms end
  end
end
-- whether eventId a comes before b in the query's order
local function id_first(a, b) if backward then return compare_ids(a, b) > 0 end return compare_ids(a, b) < 0 end

-- The field read on day, with its bucket hash, or nil to skip the day (coverage, see SCRIPT_ARGS).
-- A day holds the errorCode index when every event it holds was put with it: its counts e
-- (events) and ix (events put with the errorCode index) are equal.
local day_fields = {}
local function field_of_day(day)
  if coverage == 'A' then return field, field_hash end
  local known = day_fields[day]
  if known then return known[1], known[2] end
  local v = redis.call('HMGET', day_state_key(day), 'e', 'ix')
  local indexed = v[1] == v[2]
  local f, fh = nil, nil
  if coverage == 'U' then
    if not indexed then f, fh = field, field_hash end
  elseif indexed then f, fh = field, field_hash
  elseif coverage == 'F' then f, fh = '*', bucket_hash('*') end
  day_fields[day] = { f, fh }
  return f, fh
end

-- where the postings of field f holding offset of a day with this entry are: the key of their
-- chunk, or (a PACKED entry) nil and the postings themselves
local function chunk_holding(day, f, entry, offset)
  local kind = entry_kind(entry)
  if kind == PACKED then return nil, entry_rest(entry) end
  if kind == DAY_STRING then return day_chunk_key(day, f) end
  local h = floor(offset / HOUR_MS)
  if hour_flag(entry_rest(entry), h) == HOUR_STRING then return hour_chunk_key(epoch_hour(day, h), f) end
  return slot_chunk_key(epoch_slot(day, floor(offset / SLOT_MS)), f)
end

-- the events of the cursor's millisecond that come after the cursor's eventId: {{time, n, id}, ...}
local function events_after_cursor(tie)
  local out = {}
  local day = floor(tie / DAY_MS)
  local offset = tie - day * DAY_MS
  local f, fh = field_of_day(day)
  if not f then return out end
  local entry = field_entry(day, f, fh)
  if not entry then return out end
  local function consider(_, n)
    local blob = body_of(n)
    if blob then
      local id = event_id_of(blob)
      if id_first(cursor_event_id, id) then out[#out + 1] = { tie, n, id } end
    end
  end
  local key, packed = chunk_holding(day, f, entry, offset)
  if key then scan_key(key, offset, offset, false, 0, consider)
  else scan_string(packed, offset, offset, false, consider) end
  return out
end

-- A collector of the postings in range, in the query's order: times[i], numbers[i]. It is
-- full once it holds want postings plus every posting sharing the last one's millisecond
-- (whose order by eventId is settled later).
local function new_collector(want) return { want = want, times = {}, numbers = {} } end
local function is_full(c) return #c.times >= c.want end
-- a scan's visit that takes the postings of day into c until it is full
local function taker(c, day)
  local base, need = day * DAY_MS, c.want - #c.times
  local got, last = 0, -1
  return function(offset, n)
    if got >= need and offset ~= last then return true end
    got = got + 1; last = offset
    c.times[#c.times + 1] = base + offset; c.numbers[#c.numbers + 1] = n
  end
end
-- calls take(index, a', b') for each width-wide piece of [a, b] in the query's order, until c is full
local function each_piece(c, a, b, width, take)
  local first, last, step = floor(a / width), floor(b / width), 1
  if backward then first, last, step = last, first, -1 end
  for i = first, last, step do
    if is_full(c) then return end
    take(i, math.max(a, i * width), math.min(b, (i + 1) * width - 1))
  end
end
local function take_from_key(c, key, day, a, b) scan_key(key, a, b, backward, c.want - #c.times, taker(c, day)) end
-- takes the postings of field f on day (entry) with offsets in [a, b] into c
local function take_from_day(c, day, f, entry, a, b)
  local kind = entry_kind(entry)
  if kind == PACKED then scan_string(entry_rest(entry), a, b, backward, taker(c, day))
  elseif kind == DAY_STRING then take_from_key(c, day_chunk_key(day, f), day, a, b)
  else
    local flags = entry_rest(entry)
    each_piece(c, a, b, HOUR_MS, function(h, ha, hb)
      if hour_flag(flags, h) == HOUR_STRING then take_from_key(c, hour_chunk_key(epoch_hour(day, h), f), day, ha, hb)
      else
        each_piece(c, ha, hb, SLOT_MS, function(s, sa, sb) take_from_key(c, slot_chunk_key(epoch_slot(day, s), f), day, sa, sb) end)
      end
    end)
  end
end
-- the days of the range, newest (or oldest) first, with their tables' shapes in one read
local function collect(c)
  if is_full(c) or from_ms > to_ms then return end
  local members
  if backward then members = redis.call('ZREVRANGEBYSCORE', DAYS, floor(to_ms / DAY_MS), floor(from_ms / DAY_MS))
  else members = redis.call('ZRANGEBYSCORE', DAYS, floor(from_ms / DAY_MS), floor(to_ms / DAY_MS)) end
  for _, member in ipairs(members) do
    if is_full(c) then return end
    local day, shape = day_of_member(tonumber(member))
    local f, fh = field_of_day(day)
    local entry = f and redis.call('HGET', lh_bucket_key(shape, day_buckets(day), fh), f)
    if entry then
      local base = day * DAY_MS
      take_from_day(c, day, f, entry, math.max(from_ms, base) - base, math.min(to_ms, base + DAY_MS - 1) - base)
    end
  end
end

-- The page: head (already in order), then the postings found, which are in time order
-- already: only runs of one millisecond need their eventIds (read from the bodies) for their
-- order. The page's bodies are read here (with_bodies '1') or by the client.
local function page(head, c)
  local by_id = function(x, y) return id_first(x[3], y[3]) end
  local out, emitted, dropped = { 0 }, 0, false
  local bodies = with_bodies == '1'
  local function emit(t, n)
    emitted = emitted + 1
    if emitted <= limit then
      out[#out + 1] = t; out[#out + 1] = n
      if bodies then out[#out + 1] = body_of(n) or false end
    end
  end
  table.sort(head, by_id)
  for _, event in ipairs(head) do emit(event[1], event[2]) end
  local times, numbers = c.times, c.numbers
  local i = 1
  while i <= #times and emitted <= limit do
    local j = i
    while j < #times and times[j + 1] == times[i] do j = j + 1 end
    if j == i then
      emit(times[i], numbers[i])
    else
      local run = {}
      for k = i, j do
        local blob = body_of(numbers[k])
        if blob then run[#run + 1] = { times[k], numbers[k], event_id_of(blob) } else dropped = true end
      end
      table.sort(run, by_id)
      for _, event in ipairs(run) do emit(event[1], event[2]) end
    end
    i = j + 1
  end
  out[1] = (emitted > limit or (dropped and is_full(c))) and 1 or 0
  return out
end

local head = tie_ms and events_after_cursor(tie_ms) or {}
local found = new_collector(limit + 1 - #head)
if found.want > 0 then collect(found) end
return page(head, found)
`;

// ---- purge ----------------------------------------------------------------------------------

const PURGE_EVENTS = `
local entry, day_table, bucket = field_entry(day, '*', bucket_hash('*'))
if not entry then return { 0, 0 } end
local ids = lh_load(ID_TABLE)
-- forgets the first postings of s below cut_offset, at most budget of them (body, big body,
-- eventId entry); returns how many
local function forget_events(s, budget)
  local k = math.min(first_at_or_after(s, cut_offset) - 1, budget)
  for i = 1, k do
    local _, n = posting_at(s, i)
    local blob = body_of(n)
    if blob then
      local id = event_id_of(blob)
      if redis.call('HDEL', lh_bucket_key(ids, ID_BUCKETS, bucket_hash(id)), id) == 1 then ids.count = ids.count - 1 end
    end
    redis.call('HDEL', body_bucket_key(n), n % BODY_BUCKET)
    redis.call('DEL', big_body_key(n))
  end
  return k
end
local removed = 0
if entry_kind(entry) == PACKED then
  local s = entry_rest(entry)
  removed = forget_events(s, max_events)
  redis.call('HSET', bucket, '*', PACKED .. string.sub(s, removed * POSTING_SIZE + 1))
else
  for _, chunk in ipairs(chunks_of(day, '*', entry)) do
    local key, first_offset = chunk[1], chunk[2]
    if removed >= max_events or first_offset >= cut_offset then break end
    local len = redis.call('STRLEN', key)
    if len > 0 then
      -- only the postings this call may forget are read (a 5-minute string can be long)
      local k = forget_events(redis.call('GETRANGE', key, 0, (max_events - removed) * POSTING_SIZE - 1), max_events - removed)
      removed = removed + k
      if k * POSTING_SIZE >= len then redis.call('DEL', key)
      elseif k > 0 then redis.call('SET', key, redis.call('GETRANGE', key, k * POSTING_SIZE, -1), 'KEEPTTL') end
    end
  end
end
lh_save(ids)
if removed > 0 then
  redis.call('HINCRBY', day_table.meta, 'e', -removed)
  -- ix follows e (a day written before the errorCode index has no ix: it stays unequal)
  if redis.call('HEXISTS', day_table.meta, 'ix') == 1 then redis.call('HINCRBY', day_table.meta, 'ix', -removed) end
end
return { removed, removed >= max_events and 1 or 0 }
`;

const PURGE_FIELDS = `
local day_table = lh_load(day_state_key(day))
local whole_day = cut_offset >= DAY_MS
local total = lh_bucket_count(day_table)
-- drops offsets < cut_offset from the chunk key spanning [a, b]
local function trim_chunk(key, a, b)
  if a >= cut_offset then return end
  if b < cut_offset then redis.call('DEL', key) return end
  local s = redis.call('GET', key)
  if not s then return end
  local k = first_at_or_after(s, cut_offset) - 1
  if k == posting_count(s) then redis.call('DEL', key)
  elseif k > 0 then redis.call('SET', key, postings_between(s, k + 1), 'KEEPTTL') end
end
local emptied = 0   -- PACKED entries left without postings (deleted)
for b = first_bucket, math.min(first_bucket + bucket_count, total) - 1 do
  local bucket = day_buckets(day) .. b
  local all = redis.call('HGETALL', bucket)
  for i = 1, #all, 2 do
    local field, entry = all[i], all[i + 1]
    if entry_kind(entry) == PACKED then
      if not whole_day then
        local s = entry_rest(entry)
        local k = first_at_or_after(s, cut_offset) - 1
        if k == posting_count(s) then
          redis.call('HDEL', bucket, field)
          emptied = emptied + 1
        elseif k > 0 then redis.call('HSET', bucket, field, PACKED .. postings_between(s, k + 1)) end
      end
    else
      for _, chunk in ipairs(chunks_of(day, field, entry)) do trim_chunk(chunk[1], chunk[2], chunk[3]) end
    end
  end
  if whole_day then redis.call('DEL', bucket) end
end
if emptied > 0 then
  day_table.count = day_table.count - emptied
  redis.call('HSET', day_table.meta, 'c', day_table.count)
end
if first_bucket + bucket_count < total then return first_bucket + bucket_count end
if whole_day then
  redis.call('DEL', day_table.meta)
  redis.call('ZREM', DAYS, days_member)
end
return -1
`;

/** The top-level locals of COMMON: no argument may take one of these names (it would be shadowed). */
const COMMON_LOCALS = new Set(
  [...COMMON.matchAll(/^local (?:function )?([\w, ]+?)(?: =|\(|$)/gm)].flatMap((m) => (m[1] ?? '').split(/,\s*/)),
);
for (const [name, layout] of Object.entries(SCRIPT_ARGS) as [ScriptName, ArgLayout][]) {
  const names = layout.flatMap((s) => ('list' in s ? [s.count, `${s.list}_at`, `${s.list}_width`, ...s.item.map((f) => f.name)] : [s.name]));
  for (const arg of [...SCRIPT_KEYS, ...names]) {
    if (COMMON_LOCALS.has(arg)) throw new Error(`history: argument ${arg} of script ${name} clashes with a shared Lua local`);
  }
}

const BODIES: Record<ScriptName, string> = {
  put: PUT,
  has: HAS,
  get: GET,
  bodies: BODIES_OF,
  lookup: LOOKUP,
  purgeEvents: PURGE_EVENTS,
  purgeFields: PURGE_FIELDS,
};

/** Script sources by name; the store registers each with ioredis `defineCommand`. */
export const SCRIPTS = Object.fromEntries(
  (Object.keys(BODIES) as ScriptName[]).map((name) => [name, luaArgBindings(SCRIPT_ARGS[name]) + '\n' + COMMON + BODIES[name]]),
) as Readonly<Record<ScriptName, string>>;
