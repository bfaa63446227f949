/**
 * The local logstore (docs/design.md §3.6) on Redis streams. Per trail, all under the account's hash tag
 * (cluster-safe: one slot per account):
 *
 *   {tk:<account>}:logstore:actiontrail_<trail>        stream  one entry per event, in arrival order:
 *                                                              __topic__, __time__, eventId, event
 *   {tk:<account>}:logstore:actiontrail_<trail>:time   zset    stream id (sequence zero-padded) → __time__
 *                                                              (epoch s): the time index
 *   {tk:<account>}:logstore:actiontrail_<trail>:ids    hash    eventId → stream id: the dedupe index
 *
 * Idempotency: one Lua script checks the dedupe index and XADDs, so a re-delivered eventId (same
 * batch, same range twice, overlapping ranges, concurrent writers) is counted as a duplicate and
 * nothing is appended.
 *
 * Retention: an entry is kept while its `__time__` (the event's time, not its arrival) is within
 * LOGSTORE_RETENTION_DAYS. `trim` walks the time index from its oldest end and removes, in one
 * script per batch, the stream entries (XDEL), their time-index members and their dedupe
 * records, so the three structures never disagree. Writes also trim a bounded batch first, so an
 * active trail keeps itself within retention without a timer. An event already past retention
 * when it is (re-)written is accepted and removed by the next trim. (Redis frees a stream node
 * once all its entries are deleted; as event time follows arrival closely, trimmed entries sit
 * in the oldest nodes and their memory comes back.)
 *
 * Reads: `getLogs` finds the ranks of its time window on the time index (ZCOUNT), takes the page
 * by rank (ZRANGE) and reads each returned entry (XRANGE, ≤ 100), all in one script:
 * O(log N + line) whatever the offset or the stream length.
 * Entries with the same `__time__` come in arrival order. `tail` reads the stream itself (XREAD),
 * in arrival order, for `npm run logs:tail`.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.ts';
import {
  LOGSTORE_RETENTION_DAYS,
  LOGSTORE_TOPIC,
  checkAccountId,
  logTimeOf,
  logstoreNameOf,
  normalizeGetLogsQuery,
  retentionCutoff,
  validateEntries,
  type GetLogsQuery,
  type GetLogsResult,
  type LogEntry,
  type LogEntryInput,
  type LogstoreReader,
  type LogstoreWriter,
} from '../../shared/logstore/logstore.ts';

/** Entries per write script call: bounds how long one script holds Redis. */
export const LOGSTORE_WRITE_CHUNK = 500;
/** Entries removed per trim script call. */
export const LOGSTORE_TRIM_BATCH = 1000;
/** Expired entries a write removes before appending (0 turns trimming on write off). */
export const LOGSTORE_TRIM_ON_WRITE = 200;
/** Entries returned per `tail` read unless asked otherwise. */
export const LOGSTORE_TAIL_COUNT = 100;

export interface LogstoreKeys {
  stream: string;
  time: string;
  ids: string;
}

export function logstoreKeys(accountId: string, trailName: string): LogstoreKeys {
  const stream = `{tk:${checkAccountId(accountId)}}:logstore:${logstoreNameOf(trailName)}`;
  return { stream, time: `${stream}:time`, ids: `${stream}:ids` };
}

// Time-index members are stream ids whose sequence part is zero-padded to 6 digits, so that
// entries with the same __time__ sort in arrival order (ZRANGE orders equal scores by member).
const MEMBER_FUNCTIONS = `
local function member_of(sid)
  return (string.gsub(sid, '%-(%d+)$', function(seq) return '-' .. string.rep('0', 6 - #seq) .. seq end))
end
local function sid_of(member)
  return (string.gsub(member, '%-0+(%d)', '-%1'))
end
`;

// KEYS: stream, time, ids. trim(cutoff, batch) removes up to batch entries whose __time__ is
// below cutoff from all three and returns how many went.
const TRIM_BODY = `${MEMBER_FUNCTIONS}
local function trim(cutoff, batch)
  local members = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. cutoff, 'BYSCORE', 'LIMIT', 0, batch)
  if #members == 0 then return 0 end
  local sids, eids = {}, {}
  for i, m in ipairs(members) do
    local sid = sid_of(m)
    sids[i] = sid
    local entry = redis.call('XRANGE', KEYS[1], sid, sid)[1]
    if entry then
      local fields = entry[2]
      for j = 1, #fields, 2 do
        if fields[j] == 'eventId' then eids[#eids + 1] = fields[j + 1] end
      end
    end
  end
  redis.call('XDEL', KEYS[1], unpack(sids))
  redis.call('ZREM', KEYS[2], unpack(members))
  if #eids > 0 then redis.call('HDEL', KEYS[3], unpack(eids)) end
  return #members
end
`;

const TRIM = `${TRIM_BODY}
return trim(ARGV[1], tonumber(ARGV[2]))`;

// ARGV: topic, cutoff ('' = no trim), trim batch, then (eventId, __time__, json) triples.
// Returns {written, duplicates, trimmed}.
const WRITE = `${TRIM_BODY}
local trimmed = 0
if ARGV[2] ~= '' then trimmed = trim(ARGV[2], tonumber(ARGV[3])) end
local written, duplicates = 0, 0
for i = 4, #ARGV, 3 do
  local eid, t = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', KEYS[3], eid) == 1 then
    duplicates = duplicates + 1
  else
    local sid = redis.call('XADD', KEYS[1], '*', '__topic__', ARGV[1], '__time__', t, 'eventId', eid, 'event', ARGV[i + 2])
    redis.call('HSET', KEYS[3], eid, sid)
    redis.call('ZADD', KEYS[2], t, member_of(sid))
    written = written + 1
  end
end
return {written, duplicates, trimmed}`;

// ARGV: from, to (exclusive), offset, line, reverse ('1'|'0'). Returns XRANGE-shaped entries.
// The page is addressed by rank: ZCOUNT (O(log N)) finds the ranks of the time window's ends,
// so a deep offset costs no more than the first page.
const GET_LOGS = `${MEMBER_FUNCTIONS}
local lo = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[1])
local hi = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[2]) - 1
local offset, line = tonumber(ARGV[3]), tonumber(ARGV[4])
local reverse = ARGV[5] == '1'
local first, last
if reverse then
  last = hi - offset
  first = math.max(lo, last - line + 1)
else
  first = lo + offset
  last = math.min(hi, first + line - 1)
end
if first > last then return {} end
local members = redis.call('ZRANGE', KEYS[2], first, last)
local out = {}
local from, to, step = 1, #members, 1
if reverse then from, to, step = #members, 1, -1 end
for i = from, to, step do
  local sid = sid_of(members[i])
  local entry = redis.call('XRANGE', KEYS[1], sid, sid)[1]
  if entry then out[#out + 1] = entry end
end
return out`;

/** EVALSHA with a fallback to EVAL when the server has not seen the script yet. */
class Script {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const writeScript = new Script(WRITE);
const trimScript = new Script(TRIM);
const getLogsScript = new Script(GET_LOGS);

class LogstoreReplyError extends Error {
  override name = 'LogstoreReplyError';
}

function integers(reply: unknown, length: number): number[] {
  if (!Array.isArray(reply) || reply.length !== length || !reply.every((n) => typeof n === 'number')) {
    throw new LogstoreReplyError(`unexpected script reply: ${JSON.stringify(reply)}`);
  }
  return reply as number[];
}

/** One XRANGE/XREAD entry `[id, [field, value, …]]` as a LogEntry. */
function toLogEntry(raw: unknown): LogEntry {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !Array.isArray(raw[1])) {
    throw new LogstoreReplyError(`unexpected stream entry: ${JSON.stringify(raw)}`);
  }
  const fields = new Map<string, string>();
  const list: unknown[] = raw[1];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = list[i];
    const value = list[i + 1];
    if (typeof key === 'string' && typeof value === 'string') fields.set(key, value);
  }
  const event = fields.get('event');
  if (event === undefined) throw new LogstoreReplyError(`stream entry ${raw[0]} has no event field`);
  return {
    id: raw[0],
    eventId: fields.get('eventId') ?? '',
    topic: fields.get('__topic__') ?? LOGSTORE_TOPIC,
    time: Number(fields.get('__time__') ?? 0),
    event,
  };
}

export interface RedisLogstoreOptions {
  /** Days an entry is kept after its `__time__` (default LOGSTORE_RETENTION_DAYS). */
  retentionDays?: number;
  /** Expired entries each write removes first (default LOGSTORE_TRIM_ON_WRITE; 0: none). */
  trimOnWrite?: number;
  /** The clock for trimming on write (epoch ms). */
  now?: () => number;
}

export interface TailOptions {
  /** Entries per read (default LOGSTORE_TAIL_COUNT). */
  count?: number;
  /** Wait up to this long for new entries (XREAD BLOCK; blocks this connection: use a dedicated one). */
  blockMs?: number;
}

export class RedisLogstore implements LogstoreWriter, LogstoreReader {
  private readonly retentionDays: number;
  private readonly trimOnWrite: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisLogstoreOptions = {},
  ) {
    this.retentionDays = options.retentionDays ?? LOGSTORE_RETENTION_DAYS;
    this.trimOnWrite = options.trimOnWrite ?? LOGSTORE_TRIM_ON_WRITE;
    this.now = options.now ?? Date.now;
  }

  async write(accountId: string, trailName: string, entries: readonly LogEntryInput[]): Promise<{ written: number; duplicates: number }> {
    const keys = logstoreKeys(accountId, trailName);
    validateEntries(entries);
    const cutoff = this.trimOnWrite > 0 ? String(retentionCutoff(this.now(), this.retentionDays)) : '';
    let written = 0;
    let duplicates = 0;
    for (let start = 0; start < entries.length; start += LOGSTORE_WRITE_CHUNK) {
      const chunk = entries.slice(start, start + LOGSTORE_WRITE_CHUNK);
      const args = chunk.flatMap((e) => [e.eventId, logTimeOf(e.eventTimeMs), e.json]);
      const reply = await writeScript.run(this.redis, [keys.stream, keys.time, keys.ids], [LOGSTORE_TOPIC, cutoff, this.trimOnWrite, ...args]);
      const [w = 0, d = 0] = integers(reply, 3);
      written += w;
      duplicates += d;
    }
    return { written, duplicates };
  }

  async getLogs(q: GetLogsQuery): Promise<GetLogsResult> {
    const query = normalizeGetLogsQuery(q);
    const keys = logstoreKeys(query.accountId, query.trailName);
    if (query.to === query.from) return { count: 0, progress: 'Complete', logs: [] };
    const reply = await getLogsScript.run(
      this.redis,
      [keys.stream, keys.time, keys.ids],
      [query.from, query.to, query.offset, query.line, query.reverse ? '1' : '0'],
    );
    if (!Array.isArray(reply)) throw new LogstoreReplyError(`unexpected GetLogs reply: ${JSON.stringify(reply)}`);
    const logs = reply.map(toLogEntry);
    return { count: logs.length, progress: 'Complete', logs };
  }

  /** Removes every entry whose `__time__` is past retention at `nowMs`; returns how many went. */
  async trim(accountId: string, trailName: string, nowMs: number): Promise<number> {
    const keys = logstoreKeys(accountId, trailName);
    const cutoff = retentionCutoff(nowMs, this.retentionDays);
    let removed = 0;
    for (;;) {
      const reply = await trimScript.run(this.redis, [keys.stream, keys.time, keys.ids], [cutoff, LOGSTORE_TRIM_BATCH]);
      if (typeof reply !== 'number') throw new LogstoreReplyError(`unexpected trim reply: ${JSON.stringify(reply)}`);
      removed += reply;
      if (reply < LOGSTORE_TRIM_BATCH) return removed;
    }
  }

  /**
   * Entries appended after `fromId` (a stream id; '0' = from the start, '$' = only new ones), in
   * arrival order, with the id to pass next time.
   */
  async tail(accountId: string, trailName: string, fromId = '0', options: TailOptions = {}): Promise<{ entries: LogEntry[]; lastId: string }> {
    const { stream } = logstoreKeys(accountId, trailName);
    const count = options.count ?? LOGSTORE_TAIL_COUNT;
    // Resolve '$' first, so the cursor handed back never skips what arrives after this read.
    const after = fromId === '$' ? ((await this.lastId(stream)) ?? '0') : fromId;
    const reply =
      options.blockMs !== undefined
        ? await this.redis.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', stream, after)
        : await this.redis.xread('COUNT', count, 'STREAMS', stream, after);
    const entries = (reply?.[0]?.[1] ?? []).map(toLogEntry);
    return { entries, lastId: entries.at(-1)?.id ?? after };
  }

  /** The newest `count` entries by arrival, oldest first (what a tail prints before following). */
  async latest(accountId: string, trailName: string, count: number): Promise<LogEntry[]> {
    const { stream } = logstoreKeys(accountId, trailName);
    const reply = await this.redis.xrevrange(stream, '+', '-', 'COUNT', count);
    return reply.map(toLogEntry).reverse();
  }

  /** How many entries the trail's logstore holds. */
  async size(accountId: string, trailName: string): Promise<number> {
    return this.redis.zcard(logstoreKeys(accountId, trailName).time);
  }

  private async lastId(stream: string): Promise<string | undefined> {
    const [last] = await this.redis.xrevrange(stream, '+', '-', 'COUNT', 1);
    return last?.[0];
  }
}
