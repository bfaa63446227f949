/**
 * Summary windows on Redis (docs/design.md §3.8). Keys of account A (all under A's hash tag, so each
 * script touches one cluster slot; reads over several accounts are one command per account):
 *
 *   {tk:A}:sumq              hash  eventId → row JSON   (the queue classify fills; summary-queue.ts)
 *   {tk:A}:sum:<windowMs>    hash  dimension key (dimension-key.ts) → "count|firstMs|lastMs"
 *   {tk:A}:sumwin            zset  window starts (score = member = windowMs)
 *   {tk}:sumq:accounts       set   accounts with queued rows (another slot: best effort)
 *
 * Window hashes expire (PEXPIREAT) 90 days after their window ends; `sumwin` expires with its
 * newest window and is trimmed of expired windows on every fold.
 *
 * The drain reads rows with HSCAN, then one FOLD script per batch HDELs each row from the queue
 * and folds it only if that HDEL removed it, so a row is counted by exactly one script run —
 * however often a crashed drain is re-run or two drainers race on the same rows.
 */
import type { Redis, Result } from 'ioredis';
import type { RedisClient } from '../redis.ts';
import { dimensionKeyOf, dimensionsOfKey } from '../../shared/summaries/dimension-key.ts';
import { SUMMARY_WINDOW_MS, windowStartOf } from '../../shared/summaries/summary-row.ts';
import {
  parseSummaryRow,
  SUMMARY_RETENTION_MS,
  type BatchOutcome,
  type SummaryEntry,
  type SummaryStore,
} from '../../shared/summaries/summary-store.ts';
import { SUMMARY_ACCOUNTS_KEY, summaryQueueKey } from './summary-queue.ts';

export function summaryWindowKey(accountId: string, windowStartMs: number): string {
  return `{tk:${accountId}}:sum:${windowStartMs}`;
}

export function summaryWindowsKey(accountId: string): string {
  return `{tk:${accountId}}:sumwin`;
}

/**
 * KEYS[1] queue, KEYS[2] sumwin, KEYS[2 + i] the hash of window i.
 * ARGV: now, windowMs, retentionMs, n, windowStart_1..n, then per row: eventId, window index
 * (0: malformed, remove uncounted), dimension key, eventTimeMs.
 * Returns {folded, dropped, duplicates, malformed, queue length after}.
 */
const FOLD_SCRIPT = `
local now, W, RET, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ws = {}
for i = 1, n do ws[i] = tonumber(ARGV[4 + i]) end
local folded, dropped, dups, bad = 0, 0, 0, 0
local touched = {}
for i = 5 + n, #ARGV, 4 do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    local wi = tonumber(ARGV[i + 1])
    if wi == 0 then
      bad = bad + 1
    elseif ws[wi] + W + RET <= now then
      dropped = dropped + 1
    else
      local key, field, t = KEYS[2 + wi], ARGV[i + 2], tonumber(ARGV[i + 3])
      local cur = redis.call('HGET', key, field)
      local c, f, l = 1, t, t
      if cur then
        local a, b, d = string.match(cur, '^(%d+)|(%-?%d+)|(%-?%d+)$')
        if a then
          c = tonumber(a) + 1
          f = math.min(tonumber(b), t)
          l = math.max(tonumber(d), t)
        end
      end
      redis.call('HSET', key, field, string.format('%d|%d|%d', c, f, l))
      touched[wi] = true
      folded = folded + 1
    end
  else
    dups = dups + 1
  end
end
local newest = 0
for wi in pairs(touched) do
  local expires = ws[wi] + W + RET
  redis.call('PEXPIREAT', KEYS[2 + wi], string.format('%d', expires))
  redis.call('ZADD', KEYS[2], string.format('%d', ws[wi]), string.format('%d', ws[wi]))
  if expires > newest then newest = expires end
end
if newest > 0 then
  local at = redis.call('PEXPIRETIME', KEYS[2])
  if at < newest then redis.call('PEXPIREAT', KEYS[2], string.format('%d', newest)) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - W - RET))
return {folded, dropped, dups, bad, redis.call('HLEN', KEYS[1])}
`;

/** A queued row as read from the queue: its eventId and JSON. */
export interface QueuedRow {
  eventId: string;
  json: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tkSummaryFold(numKeys: number, ...args: (string | number)[]): Result<[number, number, number, number, number], Context>;
  }
}

function toCount(value: string): { count: number; firstMs: number; lastMs: number } | undefined {
  const parts = value.split('|');
  if (parts.length !== 3) return undefined;
  const [count, firstMs, lastMs] = parts.map(Number) as [number, number, number];
  if (![count, firstMs, lastMs].every(Number.isSafeInteger)) return undefined;
  return { count, firstMs, lastMs };
}

export class RedisSummaryStore implements SummaryStore {
  constructor(private readonly redis: RedisClient) {
    if (typeof (redis as Partial<Pick<Redis, 'tkSummaryFold'>>).tkSummaryFold !== 'function') {
      redis.defineCommand('tkSummaryFold', { lua: FOLD_SCRIPT });
    }
  }

  async queuedAccounts(): Promise<string[]> {
    return (await this.redis.smembers(SUMMARY_ACCOUNTS_KEY)).sort();
  }

  /** Up to `limit` queued rows of an account (HSCAN: the queue may be large). */
  async readQueue(accountId: string, limit: number): Promise<QueuedRow[]> {
    const rows: QueuedRow[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(summaryQueueKey(accountId), cursor, 'COUNT', Math.max(10, limit));
      for (let i = 0; i + 1 < flat.length && rows.length < limit; i += 2) rows.push({ eventId: flat[i] as string, json: flat[i + 1] as string });
      cursor = next;
    } while (cursor !== '0' && rows.length < limit);
    return rows;
  }

  /**
   * Folds rows read from an account's queue (one atomic script run). A row no longer in the
   * queue is not counted, so calling this twice with the same rows counts them once.
   */
  async foldRows(accountId: string, rows: readonly QueuedRow[], nowMs: number): Promise<Omit<BatchOutcome, 'read'>> {
    const windows = new Map<number, number>();
    const rowArgs: (string | number)[] = [];
    for (const { eventId, json } of rows) {
      const row = parseSummaryRow(json);
      if (!row) {
        rowArgs.push(eventId, 0, '', 0);
        continue;
      }
      const ws = windowStartOf(row.eventTimeMs);
      let index = windows.get(ws);
      if (index === undefined) {
        index = windows.size + 1;
        windows.set(ws, index);
      }
      rowArgs.push(eventId, index, dimensionKeyOf(row.dimensions), row.eventTimeMs);
    }
    const keys = [summaryQueueKey(accountId), summaryWindowsKey(accountId), ...[...windows.keys()].map((ws) => summaryWindowKey(accountId, ws))];
    const argv = [nowMs, SUMMARY_WINDOW_MS, SUMMARY_RETENTION_MS, windows.size, ...windows.keys(), ...rowArgs];
    const [folded, dropped, duplicates, malformed, remaining] = await this.redis.tkSummaryFold(keys.length, ...keys, ...argv);
    return { folded, dropped, duplicates, malformed, remaining };
  }

  async drainBatch(accountId: string, limit: number, nowMs: number): Promise<BatchOutcome> {
    const rows = await this.readQueue(accountId, limit);
    if (rows.length === 0) {
      const remaining = await this.redis.hlen(summaryQueueKey(accountId));
      return { read: 0, folded: 0, dropped: 0, duplicates: 0, malformed: 0, remaining };
    }
    return { read: rows.length, ...(await this.foldRows(accountId, rows, nowMs)) };
  }

  /**
   * SREM, then re-check the queue: classify queues rows (HSET) before it SADDs the account,
   * so a row that arrived meanwhile is either seen here (account re-added) or re-adds it itself.
   */
  async forgetIfEmpty(accountId: string): Promise<void> {
    if ((await this.redis.hlen(summaryQueueKey(accountId))) > 0) return;
    await this.redis.srem(SUMMARY_ACCOUNTS_KEY, accountId);
    if ((await this.redis.hlen(summaryQueueKey(accountId))) > 0) await this.redis.sadd(SUMMARY_ACCOUNTS_KEY, accountId);
  }

  async windowStarts(accountIds: readonly string[], fromMs: number, toMs: number): Promise<number[]> {
    if (accountIds.length === 0 || toMs < fromMs) return [];
    // one command per account (each its own slot); auto-pipelining batches them per node
    const replies = await Promise.all(accountIds.map((a) => this.redis.zrangebyscore(summaryWindowsKey(a), fromMs, toMs)));
    const starts = new Set<number>();
    for (const members of replies) for (const m of members) starts.add(Number(m));
    return [...starts].filter(Number.isSafeInteger).sort((a, b) => a - b);
  }

  async readWindow(accountIds: readonly string[], windowStartMs: number): Promise<SummaryEntry[]> {
    if (accountIds.length === 0) return [];
    const hashes = await Promise.all(accountIds.map((a) => this.redis.hgetall(summaryWindowKey(a, windowStartMs))));
    const entries: SummaryEntry[] = [];
    for (const hash of hashes) {
      for (const [key, value] of Object.entries(hash)) {
        const dimensions = dimensionsOfKey(key);
        const count = toCount(value);
        if (dimensions && count) entries.push({ key, dimensions, ...count });
      }
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
