/**
 * Insights on Redis (docs/design.md §3.9). Keys of account A, all under A's hash tag (one slot, so
 * every script touches one cluster slot):
 *
 *   {tk:A}:anq                 hash  eventId → analysis row JSON (the queue; analysis-queue.ts)
 *   {tk:A}:ins:meta            hash  first → earliest counted eventTimeMs, latest → latest counted minute
 *   {tk:A}:ins:m:<minuteMs>    hash  series → calls in that minute                       (expires 3 h after)
 *   {tk:A}:ins:a:<minuteMs>    hash  row signature → rows (attributions; series.ts)   (expires ATTRIBUTION_KEY_TTL_MS after)
 *   {tk:A}:ins:h:<hourMs>      hash  series US "s" → Σ per-minute counts, series US "q" → Σ squares,
 *                                    series US "n" → first minute the novelty was seen in the hour
 *                                    (expires COUNTER_HORIZON_MS + 1 h after the hour)
 *   {tk:A}:ins:state           string {cursorMinuteMs, open insights} JSON
 *   {tk:A}:ins:lock            string the evaluator's lock
 *   {tk:A}:ins:types           hash  InsightType → Enable | Disable (EnableInsight / DisableInsight)
 *   {tk:A}:ins:allow           set   IpInsight's allowlist: canonical IPs and CIDR blocks (PutInsightIpAllowlist)
 *   {tk:A}:insev               hash  eventId → insight event JSON
 *   {tk:A}:insidx              zset  (all scores 0) "<eventTimeMs, 15 digits>:<eventId>", lexicographic
 *   {tk}:anq:accounts          set   accounts with queued analysis rows   (the `{tk}` slot)
 *   {tk}:ins:eval              set   accounts to evaluate                  (the `{tk}` slot)
 *
 * (US is the unit separator \x1f.) The per-hour sums of squares stay exact under increments: a
 * minute count going from c−1 to c adds 2c−1. The drain reads rows with HSCAN (resuming at the
 * cursor where its previous batch stopped); one FOLD script per batch HDELs each row and counts it
 * only if that HDEL removed it, so a row is counted by exactly one script run however often a
 * crashed drain is re-run or two drainers race. Rows of one minute and signature share their
 * counters: they travel as one group, a row as its id and group number.
 *
 * Cost per batch, not per row: the script tallies the rows it removed in Lua tables and then writes
 * each distinct counter once — a series' minute count + n, its hour sum + n and sum of squares
 * + c² − (c − n)² (c the count after the HINCRBY: exactly what n single increments add), one HGET
 * per distinct novelty mark (and an HSET when the batch saw it earlier), one HINCRBY per distinct
 * row signature. The batch's strings travel once (rows refer to them by index).
 *
 * Attributions: the evaluator reads a series' attributions only in a minute where its count reaches
 * the type's minimum (it opens, or an open insight is over its threshold) — a handful of series.
 * Keeping per-series tallies for every series and minute (series × dimension × value, ~166 KiB a
 * minute for a busy account, 3 h of them) paid for all the others. Instead the fold keeps per minute
 * only how many rows had each signature (the 9 fields that decide a row's series and attributions),
 * and `minute()` rebuilds the tallies of the series at or above their minimum (`minuteAttributions`),
 * the same numbers per-series counting gave. Signatures live only as long as the evaluator can read
 * their minute (ATTRIBUTION_KEY_TTL_MS: MAX_CATCHUP_MINUTES + 5 min); rows older than that are folded
 * without them (their minute was evaluated, or skipped, already).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Redis, Result } from 'ioredis';
import type { RedisClient } from '../redis.ts';
import { ANALYSIS_ACCOUNTS_KEY, analysisQueueKey } from './analysis-queue.ts';
import { PackedArgs, UNPACK_ARGS_LUA } from './packed-args.ts';
import type { BaselineStat, InsightEvent, MinuteData, OpenInsight } from '../../shared/insights/detector.ts';
import { COUNTER_HORIZON_MS, MAX_CATCHUP_MINUTES, type AccountInsightState, type FoldItem, type FoldOutcome, type InsightsStore, type QueuedAnalysisRow } from '../../shared/insights/engine.ts';
import { minuteAttributions, type RowCounters } from '../../shared/insights/series.ts';
import { HOUR_MS, INSIGHT_MINUTE_MS, INSIGHT_RETENTION_MS, INSIGHT_TYPE_NAMES, isInsightType, type InsightType } from '../../shared/insights/types.ts';

const US = '\x1f';
/**
 * Per-minute counts live 3 h: a late row's minute count must still be there for the hour's sum of
 * squares to stay exact (c − 1 → c adds 2c − 1).
 */
export const MINUTE_KEY_TTL_MS = 3 * HOUR_MS;
/**
 * Per-minute signatures (attributions) are read only by the evaluation of that minute, which looks
 * back at most MAX_CATCHUP_MINUTES (an open insight keeps its own tallies): they live that long plus
 * 5 minutes of slack for clock skew, and rows older than that are folded without them.
 */
export const ATTRIBUTION_KEY_TTL_MS = (MAX_CATCHUP_MINUTES + 5) * INSIGHT_MINUTE_MS;
const HOUR_KEY_TTL_MS = COUNTER_HORIZON_MS + HOUR_MS;
/**
 * How long a folded batch's marker lives: longer than classify's object markers could see a begun
 * object retried (object-markers.ts keeps them 30 days).
 */
export const BATCH_MARKER_TTL_MS = 31 * 24 * HOUR_MS;
export const EVALUATION_ACCOUNTS_KEY = '{tk}:ins:eval';

const tag = (a: string) => `{tk:${a}}`;
export const insightKeys = {
  meta: (a: string) => `${tag(a)}:ins:meta`,
  /** A classify batch folded (foldBatch): its object id's SHA-1, so any id fits a key. */
  batch: (a: string, batchId: string) => `${tag(a)}:ins:b:${createHash('sha1').update(batchId).digest('hex')}`,
  minute: (a: string, m: number) => `${tag(a)}:ins:m:${m}`,
  attributions: (a: string, m: number) => `${tag(a)}:ins:a:${m}`,
  hour: (a: string, h: number) => `${tag(a)}:ins:h:${h}`,
  state: (a: string) => `${tag(a)}:ins:state`,
  lock: (a: string) => `${tag(a)}:ins:lock`,
  types: (a: string) => `${tag(a)}:ins:types`,
  allow: (a: string) => `${tag(a)}:ins:allow`,
  events: (a: string) => `${tag(a)}:insev`,
  index: (a: string) => `${tag(a)}:insidx`,
};

/**
 * KEYS[1] queue, KEYS[2] meta, KEYS[2 + i] dynamic key i. ARGV[1] is the argument list below,
 * packed (packed-args.ts; the script unpacks it into a table it calls ARGV).
 * ARGV[1] D, ARGV[2..1+D] expire-at of dynamic key i; ARGV[2+D] S, then S strings (the batch's
 * distinct series, marks and signatures, each once); then G, then per group (the batch's rows of
 * one minute and signature: the same counters): earliest timeMs, minuteMs, minute key i, hour
 * key i, attribution key i (0: none), signature string j, nCounts, nMarks, counts (string js)…,
 * marks (string js)…; then per row: eventId, group g (0: remove uncounted).
 * HDELs each row and tallies per group the rows it removed, then writes once per distinct counter:
 * per (minute, series) one HINCRBY of the minute count n and of the hour's s (n) and q
 * (c² − (c − n)², c the new count); per (hour, mark) one HGET (+ HSET when earlier); per
 * (minute, signature) one HINCRBY. Returns {counted, dropped, duplicates, queue length}.
 */
const FOLD_PREAMBLE = `
local ARGV = ${UNPACK_ARGS_LUA}(ARGV[1])
local D = tonumber(ARGV[1])
local s0 = 2 + D
local S = tonumber(ARGV[s0])
local G = tonumber(ARGV[s0 + S + 1])
local gAt, gN = {}, {}
local i = s0 + S + 2
for g = 1, G do
  gAt[g] = i
  gN[g] = 0
  i = i + 8 + tonumber(ARGV[i + 6]) + tonumber(ARGV[i + 7])
end
`;

/** Queue mode: HDELs each row and tallies per group the rows it removed. */
const FOLD_QUEUE_ROWS = `
local counted, dropped, dups = 0, 0, 0
local q = KEYS[1]
while i <= #ARGV do
  local g = tonumber(ARGV[i + 1])
  if redis.call('HDEL', q, ARGV[i]) == 1 then
    if g == 0 then dropped = dropped + 1 else gN[g] = gN[g] + 1 end
  else
    dups = dups + 1
  end
  i = i + 2
end
`;

/**
 * Batch mode (classify, docs/design.md §3.9): KEYS[1] is the batch's marker; after the groups, ARGV
 * holds each group's row count, the rows dropped uncounted, and the marker's lifetime (ms). The
 * marker is set with the counters, atomically: a batch folded before counts nothing again.
 */
const FOLD_BATCH_ROWS = `
local counted, dropped, dups = 0, 0, 0
local total = tonumber(ARGV[i + G])
for g = 1, G do
  gN[g] = tonumber(ARGV[i + g - 1])
  total = total + gN[g]
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[i + G + 1]) then return {0, 0, total, 0} end
dropped = tonumber(ARGV[i + G])
`;

/** Writes each distinct counter once (see FOLD_SCRIPT). */
const FOLD_COUNTERS = `
local touched = {}
local counts, hourOf, marks, sigs = {}, {}, {}, {}
local first, latest = nil, nil
for g = 1, G do
  local n = gN[g]
  if n > 0 then
    counted = counted + n
    local at = gAt[g]
    local t, m = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    local mk, hk, ak, sg = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
    local c0 = at + 8
    local m0 = c0 + tonumber(ARGV[at + 6])
    local e = m0 + tonumber(ARGV[at + 7])
    local mc = counts[mk]
    if not mc then
      mc = {}
      counts[mk] = mc
      hourOf[mk] = hk
    end
    for j = c0, m0 - 1 do
      local s = tonumber(ARGV[j])
      mc[s] = (mc[s] or 0) + n
    end
    if e > m0 then
      local hm = marks[hk]
      if not hm then
        hm = {}
        marks[hk] = hm
      end
      for j = m0, e - 1 do
        local s = tonumber(ARGV[j])
        local cur = hm[s]
        if (not cur) or m < cur then hm[s] = m end
      end
    end
    if ak > 0 then
      local a = sigs[ak]
      if not a then
        a = {}
        sigs[ak] = a
      end
      a[sg] = (a[sg] or 0) + n
      touched[ak] = true
    end
    touched[mk] = true
    touched[hk] = true
    if (not first) or t < first then first = t end
    if (not latest) or m > latest then latest = m end
  end
end
for mk, mc in pairs(counts) do
  local minuteKey, hourKey = KEYS[2 + mk], KEYS[2 + hourOf[mk]]
  for s, n in pairs(mc) do
    local name = ARGV[s0 + s]
    local c = redis.call('HINCRBY', minuteKey, name, n)
    -- baselines are of rate series only ("<type>|r|<object>"): novelties and immediates need none
    local bar = string.find(name, '|', 1, true)
    if bar and string.sub(name, bar + 1, bar + 2) == 'r|' then
      local b = c - n
      redis.call('HINCRBY', hourKey, name .. '\\31s', n)
      redis.call('HINCRBY', hourKey, name .. '\\31q', string.format('%d', c * c - b * b))
    end
  end
end
for hk, hm in pairs(marks) do
  local hourKey = KEYS[2 + hk]
  for s, m in pairs(hm) do
    local f = ARGV[s0 + s] .. '\\31n'
    local cur = tonumber(redis.call('HGET', hourKey, f))
    if (not cur) or m < cur then redis.call('HSET', hourKey, f, string.format('%d', m)) end
  end
end
for ak, a in pairs(sigs) do
  local attrKey = KEYS[2 + ak]
  for sg, n in pairs(a) do redis.call('HINCRBY', attrKey, ARGV[s0 + sg], n) end
end
for k in pairs(touched) do redis.call('PEXPIREAT', KEYS[2 + k], ARGV[1 + k]) end
if counted > 0 then redis.call('HINCRBY', KEYS[2], 'counted', counted) end
if first then
  local cur = tonumber(redis.call('HGET', KEYS[2], 'first'))
  if (not cur) or first < cur then redis.call('HSET', KEYS[2], 'first', string.format('%d', first)) end
  cur = tonumber(redis.call('HGET', KEYS[2], 'latest'))
  if (not cur) or latest > cur then redis.call('HSET', KEYS[2], 'latest', string.format('%d', latest)) end
end
`;

const FOLD_SCRIPT = FOLD_PREAMBLE + FOLD_QUEUE_ROWS + FOLD_COUNTERS + "return {counted, dropped, dups, redis.call('HLEN', KEYS[1])}\n";
const FOLD_BATCH_SCRIPT = FOLD_PREAMBLE + FOLD_BATCH_ROWS + FOLD_COUNTERS + 'return {counted, dropped, dups, 0}\n';

/**
 * KEYS[1] insev, KEYS[2] insidx. ARGV[1] horizon member (older ones are trimmed), ARGV[2] expire-at,
 * then pairs eventId, member, json. Idempotent by eventId.
 */
const PUT_EVENTS_SCRIPT = `
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) == 1 then redis.call('ZADD', KEYS[2], 0, ARGV[i + 1]) end
end
local old = redis.call('ZRANGEBYLEX', KEYS[2], '-', '(' .. ARGV[1])
for _, member in ipairs(old) do redis.call('HDEL', KEYS[1], string.sub(member, 17)) end
if #old > 0 then redis.call('ZREMRANGEBYLEX', KEYS[2], '-', '(' .. ARGV[1]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return #old
`;

const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tkInsightsFold(numKeys: number, ...args: (string | number | Buffer | readonly (string | number)[])[]): Result<[number, number, number, number], Context>;
    tkInsightsFoldBatch(numKeys: number, ...args: (string | number | Buffer | readonly (string | number)[])[]): Result<[number, number, number, number], Context>;
    tkInsightsPut(numKeys: number, ...args: (string | number)[]): Result<number, Context>;
  }
}

/** The index member of an insight event: time (15 digits) and id, ordered as text. */
export function indexMember(timeMs: number, eventId: string): string {
  return `${String(timeMs).padStart(15, '0')}:${eventId}`;
}

const OpenInsightSchema = z.object({
  series: z.string(),
  type: z.enum(INSIGHT_TYPE_NAMES),
  kind: z.enum(['rate', 'novel', 'immediate']),
  object: z.string(),
  sharedEventId: z.string(),
  startMinuteMs: z.number(),
  lastOverMinuteMs: z.number(),
  quietMinutes: z.number(),
  threshold: z.number(),
  baseline: z.number(),
  insightCount: z.number(),
  tallies: z.record(z.string(), z.record(z.string(), z.number())),
});
const StateSchema = z.object({ cursorMinuteMs: z.number().optional(), open: z.array(OpenInsightSchema) });

/** Most novelty marks a store remembers (MarkCache); past it, it starts afresh. */
export const MARK_CACHE_MAX_ENTRIES = 200_000;
/** How long a remembered mark is trusted before the fold checks it in Redis again (a key lost to a failover). */
export const MARK_CACHE_TRUST_MS = 10 * 60_000;

/**
 * Novelty marks this process knows are stored at or before a minute. A mark only ever moves earlier
 * (the fold keeps the first minute it was seen in the hour), so a row of a later minute cannot change
 * it: its HGET is skipped. Most marks recur (the same IP, the same key and network), so a steady
 * stream sends each mark once per hour and process instead of once per batch. Kept as account →
 * hour → mark maps, so a lookup hashes the mark string the row already has (no key is built per row).
 */
export class MarkCache {
  private readonly byAccount = new Map<string, Map<number, Map<string, { minute: number; atMs: number }>>>();
  private count = 0;

  private marksOf(accountId: string, hourMs: number, create: boolean): Map<string, { minute: number; atMs: number }> | undefined {
    let hours = this.byAccount.get(accountId);
    if (!hours) {
      if (!create) return undefined;
      this.byAccount.set(accountId, (hours = new Map()));
    }
    let marks = hours.get(hourMs);
    if (!marks && create) hours.set(hourMs, (marks = new Map()));
    return marks;
  }

  covers(accountId: string, hourMs: number, mark: string, minuteMs: number, nowMs: number): boolean {
    const e = this.marksOf(accountId, hourMs, false)?.get(mark);
    return e !== undefined && e.minute <= minuteMs && nowMs - e.atMs < MARK_CACHE_TRUST_MS;
  }

  /** After a fold that sent the mark with this minute: what Redis holds is at or before it. */
  note(accountId: string, hourMs: number, mark: string, minuteMs: number, nowMs: number): void {
    if (this.covers(accountId, hourMs, mark, minuteMs, nowMs)) return;
    if (this.count >= MARK_CACHE_MAX_ENTRIES) {
      this.byAccount.clear();
      this.count = 0;
    }
    const marks = this.marksOf(accountId, hourMs, true) as Map<string, { minute: number; atMs: number }>;
    const e = marks.get(mark);
    if (e) {
      e.minute = minuteMs;
      e.atMs = nowMs;
      return;
    }
    marks.set(mark, { minute: minuteMs, atMs: nowMs });
    this.count += 1;
  }

  get size(): number {
    return this.count;
  }
}

/**
 * The fold's arguments for a batch of rows (see FOLD_PREAMBLE): its dynamic keys, distinct strings
 * and groups; with `withRows` (the queue's fold) per row its id and group (0: dropped uncounted); groupRows counts each group's rows.
 */
function foldArgsOf(accountId: string, items: readonly FoldItem[], nowMs: number, marks: MarkCache, withRows: boolean) {
  const keys: string[] = [];
  const expires: number[] = [];
  // dynamic keys by kind and time (m minute, h hour, a attributions): built once per batch, not per row
  const index = { m: new Map<number, number>(), h: new Map<number, number>(), a: new Map<number, number>() };
  const keyIndex = (kind: 'm' | 'h' | 'a', timeMs: number): number => {
    let i = index[kind].get(timeMs);
    if (i === undefined) {
      const [key, ttl] =
        kind === 'm'
          ? [insightKeys.minute(accountId, timeMs), MINUTE_KEY_TTL_MS]
          : kind === 'h'
            ? [insightKeys.hour(accountId, timeMs), HOUR_KEY_TTL_MS]
            : [insightKeys.attributions(accountId, timeMs), ATTRIBUTION_KEY_TTL_MS];
      keys.push(key);
      expires.push(timeMs + ttl);
      index[kind].set(timeMs, (i = keys.length));
    }
    return i;
  };
  // the batch's distinct strings (series, marks, signatures), each sent once
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const str = (s: string): number => {
    let i = stringIndex.get(s);
    if (i === undefined) {
      strings.push(s);
      stringIndex.set(s, (i = strings.length));
    }
    return i;
  };
  // minutes the evaluator can still read (it looks back at most MAX_CATCHUP_MINUTES): older rows get no attributions
  const attributionFrom = nowMs - ATTRIBUTION_KEY_TTL_MS;
  // Rows of one minute with one signature have the same counters (series.ts derives a row's
  // counts and marks from its signature): one group each, sent once; a row sends its id and group.
  // A group's earliest time may come from a row another run removed first: that run counted it,
  // so it is a counted time all the same (meta's `first` stays exact).
  const groupArgs: (string | number)[] = [];
  // groups by minute, then by the rows' counters (foldItemsOf shares one RowCounters per signature:
  // identity is the signature, and no key string is built per row)
  const groupsByMinute = new Map<number, Map<RowCounters, { g: number; at: number }>>();
  let groupCount = 0;
  const sentMarks: { hour: number; mark: string; minute: number }[] = [];
  // per row its id and group (queue mode only: the script HDELs each row); per group its rows (batch mode)
  const rowArgs: (string | number)[] = [];
  const groupRows: number[] = [];
  for (const item of items) {
    const counters = item.counters;
    if (!counters) {
      if (withRows) rowArgs.push(item.eventId, 0);
      continue;
    }
    const minute = Math.floor(item.timeMs / INSIGHT_MINUTE_MS) * INSIGHT_MINUTE_MS;
    let ofMinute = groupsByMinute.get(minute);
    if (!ofMinute) groupsByMinute.set(minute, (ofMinute = new Map()));
    let group = ofMinute.get(counters);
    if (group) {
      if (item.timeMs < (groupArgs[group.at] as number)) groupArgs[group.at] = item.timeMs;
    } else {
      const hour = Math.floor(item.timeMs / HOUR_MS) * HOUR_MS;
      const mk = keyIndex('m', minute);
      const hk = keyIndex('h', hour);
      const withAttributions = minute >= attributionFrom;
      const ak = withAttributions ? keyIndex('a', minute) : 0;
      const sg = withAttributions ? str(counters.signature) : 0;
      group = { g: ++groupCount, at: groupArgs.length };
      ofMinute.set(counters, group);
      // marks this process knows are stored at or before this minute cannot change: not sent
      const at = groupArgs.length;
      groupArgs.push(item.timeMs, minute, mk, hk, ak, sg, counters.counts.length, 0);
      for (const c of counters.counts) groupArgs.push(str(c));
      let sent = 0;
      for (const m of counters.marks) {
        if (marks.covers(accountId, hour, m, minute, nowMs)) continue;
        groupArgs.push(str(m));
        sentMarks.push({ hour, mark: m, minute });
        sent += 1;
      }
      groupArgs[at + 7] = sent;
    }
    groupRows[group.g - 1] = (groupRows[group.g - 1] ?? 0) + 1;
    if (withRows) rowArgs.push(item.eventId, group.g);
  }
  return { keys, expires, strings, groups: groupCount, groupArgs, rowArgs, groupRows, sentMarks };
}

/** The fold script's ARGV up to the rows (see FOLD_PREAMBLE), packed into one argument (packed-args.ts). */
function packFoldArgs(f: ReturnType<typeof foldArgsOf>): PackedArgs {
  // sized for the usual ~250 B of values a group (one Buffer, not grown and copied)
  return new PackedArgs(4096 + f.groupArgs.length * 24 + f.strings.length * 48).push(f.keys.length).pushAll(f.expires).push(f.strings.length).pushAll(f.strings).push(f.groups).pushAll(f.groupArgs);
}

export class RedisInsightsStore implements InsightsStore {
  private readonly token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  /** Novelty marks known stored (skipped by the next folds). */
  readonly marks = new MarkCache();
  /** Where the last readQueue of each account stopped (HSCAN cursor). */
  private readonly cursors = new Map<string, string>();

  constructor(private readonly redis: RedisClient) {
    const r = redis as Partial<Pick<Redis, 'tkInsightsFold' | 'tkInsightsFoldBatch' | 'tkInsightsPut'>>;
    if (typeof r.tkInsightsFold !== 'function') redis.defineCommand('tkInsightsFold', { lua: FOLD_SCRIPT });
    if (typeof r.tkInsightsFoldBatch !== 'function') redis.defineCommand('tkInsightsFoldBatch', { lua: FOLD_BATCH_SCRIPT });
    if (typeof r.tkInsightsPut !== 'function') redis.defineCommand('tkInsightsPut', { lua: PUT_EVENTS_SCRIPT });
  }

  async queuedAccounts(): Promise<string[]> {
    return (await this.redis.smembers(ANALYSIS_ACCOUNTS_KEY)).sort();
  }

  /**
   * Rows by HSCAN, resuming where this store's previous read of the account stopped: restarting at
   * cursor 0 every batch walked again over the buckets the earlier batches had emptied (quadratic in
   * the backlog). SCAN's guarantee holds across the HDELs in between (a row present throughout is
   * returned); a row added behind the cursor is found on the next pass, which starts when the cursor
   * wraps to 0. A scan step that returns more than the batch has room for is kept from its start.
   */
  async readQueue(accountId: string, limit: number): Promise<QueuedAnalysisRow[]> {
    const rows: QueuedAnalysisRow[] = [];
    const key = analysisQueueKey(accountId);
    let cursor = this.cursors.get(accountId) ?? '0';
    let passStarted = cursor === '0';
    for (;;) {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', Math.max(10, limit));
      const fits = rows.length + flat.length / 2 <= limit;
      for (let i = 0; i + 1 < flat.length && rows.length < limit; i += 2) rows.push({ eventId: flat[i] as string, json: flat[i + 1] as string });
      if (!fits) break; // resume at this step's cursor: its rows not taken are read next time
      cursor = next;
      if (rows.length >= limit) break;
      if (cursor === '0') {
        if (passStarted) break;
        passStarted = true;
      }
    }
    if (cursor === '0') this.cursors.delete(accountId);
    else this.cursors.set(accountId, cursor);
    return rows;
  }

  async fold(accountId: string, items: readonly FoldItem[], nowMs: number = Date.now()): Promise<FoldOutcome> {
    const f = foldArgsOf(accountId, items, nowMs, this.marks, true);
    const args = packFoldArgs(f).pushAll(f.rowArgs);
    const [counted, dropped, duplicates, remaining] = await this.redis.tkInsightsFold(2 + f.keys.length, [analysisQueueKey(accountId), insightKeys.meta(accountId)], f.keys, args.toBuffer());
    for (const { hour, mark, minute } of f.sentMarks) this.marks.note(accountId, hour, mark, minute, nowMs);
    return { counted, dropped, duplicates, remaining };
  }

  async foldBatch(accountId: string, batchId: string, items: readonly FoldItem[], nowMs: number = Date.now()): Promise<FoldOutcome> {
    const f = foldArgsOf(accountId, items, nowMs, this.marks, false);
    const dropped = items.length - f.groupRows.reduce((a, b) => a + b, 0);
    const args = packFoldArgs(f).pushAll(f.groupRows).push(dropped).push(BATCH_MARKER_TTL_MS);
    const [counted, droppedNow, duplicates] = await this.redis.tkInsightsFoldBatch(2 + f.keys.length, [insightKeys.batch(accountId, batchId), insightKeys.meta(accountId)], f.keys, args.toBuffer());
    for (const { hour, mark, minute } of f.sentMarks) this.marks.note(accountId, hour, mark, minute, nowMs);
    // the evaluator's list of accounts lives in the {tk} slot: its own command
    if (counted > 0) await this.markForEvaluation(accountId);
    return { counted, dropped: droppedNow, duplicates, remaining: 0 };
  }

  async batchFolded(accountId: string, batchId: string): Promise<boolean> {
    return (await this.redis.exists(insightKeys.batch(accountId, batchId))) === 1;
  }

  /** SREM, then re-check the queue (classify HSETs rows before it SADDs the account). */
  async forgetIfEmpty(accountId: string): Promise<void> {
    if ((await this.redis.hlen(analysisQueueKey(accountId))) > 0) return;
    await this.redis.srem(ANALYSIS_ACCOUNTS_KEY, accountId);
    if ((await this.redis.hlen(analysisQueueKey(accountId))) > 0) await this.redis.sadd(ANALYSIS_ACCOUNTS_KEY, accountId);
  }

  async minute(accountId: string, minuteMs: number): Promise<MinuteData> {
    const [raw, signatures] = await Promise.all([this.redis.hgetall(insightKeys.minute(accountId, minuteMs)), this.redis.hgetall(insightKeys.attributions(accountId, minuteMs))]);
    const counts = new Map(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
    return { counts, attributions: minuteAttributions(counts, Object.entries(signatures).map(([sig, n]) => [sig, Number(n)] as const)) };
  }

  async baselines(accountId: string, series: readonly string[], fromHourMs: number, toHourMs: number): Promise<Map<string, BaselineStat>> {
    const fields = series.flatMap((s) => [`${s}${US}s`, `${s}${US}q`]);
    const hours: number[] = [];
    for (let h = fromHourMs; h < toHourMs; h += HOUR_MS) hours.push(h);
    const replies = await Promise.all(hours.map((h) => this.redis.hmget(insightKeys.hour(accountId, h), ...fields)));
    const out = new Map<string, BaselineStat>();
    for (const values of replies) {
      series.forEach((s, i) => {
        const sum = Number(values[2 * i] ?? 0);
        const sumSq = Number(values[2 * i + 1] ?? 0);
        if (sum === 0 && sumSq === 0) return;
        const cur = out.get(s) ?? { sum: 0, sumSq: 0 };
        out.set(s, { sum: cur.sum + sum, sumSq: cur.sumSq + sumSq });
      });
    }
    return out;
  }

  async seen(accountId: string, series: readonly string[], fromMs: number, beforeMinuteMs: number): Promise<Set<string>> {
    const fields = series.map((s) => `${s}${US}n`);
    const hours: number[] = [];
    for (let h = fromMs; h < beforeMinuteMs; h += HOUR_MS) hours.push(h);
    const replies = await Promise.all(hours.map((h) => this.redis.hmget(insightKeys.hour(accountId, h), ...fields)));
    const out = new Set<string>();
    for (const values of replies) series.forEach((s, i) => {
      const first = values[i];
      if (first !== null && first !== undefined && Number(first) < beforeMinuteMs) out.add(s);
    });
    return out;
  }

  async meta(accountId: string): Promise<{ firstMs?: number; latestMinuteMs?: number; counted: number }> {
    const [first, latest, counted] = await this.redis.hmget(insightKeys.meta(accountId), 'first', 'latest', 'counted');
    return { ...(first ? { firstMs: Number(first) } : {}), ...(latest ? { latestMinuteMs: Number(latest) } : {}), counted: Number(counted ?? 0) };
  }

  async evaluationAccounts(): Promise<string[]> {
    return (await this.redis.smembers(EVALUATION_ACCOUNTS_KEY)).sort();
  }
  async markForEvaluation(accountId: string): Promise<void> {
    await this.redis.sadd(EVALUATION_ACCOUNTS_KEY, accountId);
  }
  async forgetEvaluated(accountId: string): Promise<void> {
    await this.redis.srem(EVALUATION_ACCOUNTS_KEY, accountId);
  }
  async lock(accountId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(insightKeys.lock(accountId), this.token, 'PX', ttlMs, 'NX')) === 'OK';
  }
  async unlock(accountId: string): Promise<void> {
    await this.redis.eval(UNLOCK_SCRIPT, 1, insightKeys.lock(accountId), this.token);
  }

  async state(accountId: string): Promise<AccountInsightState> {
    const raw = await this.redis.get(insightKeys.state(accountId));
    if (!raw) return { open: [] };
    const parsed = StateSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) return { open: [] };
    const { cursorMinuteMs, open } = parsed.data;
    return { ...(cursorMinuteMs !== undefined ? { cursorMinuteMs } : {}), open: open as OpenInsight[] };
  }
  async saveState(accountId: string, state: AccountInsightState): Promise<void> {
    await this.redis.set(insightKeys.state(accountId), JSON.stringify(state));
  }

  async enabledTypes(accountId: string): Promise<Set<InsightType>> {
    const all = await this.redis.hgetall(insightKeys.types(accountId));
    return new Set(Object.entries(all).filter(([t, v]) => v === 'Enable' && isInsightType(t)).map(([t]) => t as InsightType));
  }
  async setType(accountId: string, type: InsightType, enabled: boolean): Promise<void> {
    await this.redis.hset(insightKeys.types(accountId), type, enabled ? 'Enable' : 'Disable');
  }
  async allowlist(accountId: string): Promise<string[]> {
    return (await this.redis.smembers(insightKeys.allow(accountId))).sort();
  }
  /** Replaces the allowlist in one transaction (one key: one slot). */
  async setAllowlist(accountId: string, entries: readonly string[]): Promise<void> {
    const key = insightKeys.allow(accountId);
    const multi = this.redis.multi().del(key);
    if (entries.length > 0) multi.sadd(key, ...entries);
    for (const [error] of (await multi.exec()) ?? []) if (error) throw error;
  }

  async putEvents(accountId: string, events: readonly InsightEvent[]): Promise<void> {
    if (events.length === 0) return;
    let newest = 0;
    const args: string[] = [];
    for (const e of events) {
      const t = Date.parse(e.eventTime);
      newest = Math.max(newest, t);
      args.push(e.eventId, indexMember(t, e.eventId), JSON.stringify(e));
    }
    const now = Date.now();
    await this.redis.tkInsightsPut(2, insightKeys.events(accountId), insightKeys.index(accountId), indexMember(now - INSIGHT_RETENTION_MS, ''), Math.max(newest, now) + INSIGHT_RETENTION_MS, ...args);
  }

  /** Insight events in [startMs, endMs], newest first, after the cursor; up to `limit`. */
  async page(accountId: string, q: { startMs: number; endMs: number; limit: number; after?: { timeMs: number; eventId: string } }): Promise<{ events: string[]; members: string[] }> {
    const max = q.after ? `(${indexMember(q.after.timeMs, q.after.eventId)}` : `[${indexMember(q.endMs, '\xff')}`;
    const min = `[${indexMember(q.startMs, '')}`;
    const members = await this.redis.zrevrangebylex(insightKeys.index(accountId), max, min, 'LIMIT', 0, q.limit);
    if (members.length === 0) return { events: [], members: [] };
    const bodies = await this.redis.hmget(insightKeys.events(accountId), ...members.map((m) => m.slice(16)));
    const events: string[] = [];
    const kept: string[] = [];
    bodies.forEach((b, i) => {
      if (b) {
        events.push(b);
        kept.push(members[i] as string);
      }
    });
    return { events, members: kept };
  }
}
