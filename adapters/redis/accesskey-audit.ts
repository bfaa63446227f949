/**
 * The AccessKey audit on Redis (docs/design.md §3.10; the merge rule in
 * shared/accesskeys/accesskey-audit.ts). Keys of AccessKey K used in account A, all under A's
 * hash tag so one script run touches one cluster slot:
 *
 *   {tk:A}:akl:<K>:last              hash  t (usedMs), e (eventId), v (the LastUse JSON)
 *   {tk:A}:akl:<K>:<list>            zset  member → usedMs    list: products | events | ips | resources
 *   {tk:A}:akl:<K>:<list>:use        hash  member → "<eventId byte length>:<eventId><Detail JSON>"
 *
 * A member is a JSON array, serviceName first: ["Ecs"], ["Ecs","StopInstance"],
 * ["Ecs","192.0.2.1"], ["Ecs","ACS::ECS::Instance","i-1"].
 *
 * One MERGE script run per account per batch (one round trip) merges every key's update: a use
 * replaces the stored one only if newer (later usedMs; on a tie, the greater eventId), so
 * replays and late rows are idempotent. Then each list drops entries older than the retention
 * and, over ACCESS_KEY_AUDIT_MAX_ENTRIES, its oldest; every key of K expires (PEXPIREAT)
 * 400 days after K's newest use.
 */
import type { Redis, Result } from 'ioredis';
import type { RedisClient } from '../redis.ts';
import { PackedArgs, UNPACK_ARGS_LUA } from './packed-args.ts';
import type { AnalysisConsumer, AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { WrittenUses } from '../../shared/accesskeys/written-uses.ts';
import {
  ACCESS_KEY_AUDIT_MAX_ENTRIES,
  ACCESS_KEY_AUDIT_REFRESH_MS,
  ACCESS_KEY_AUDIT_RETENTION_MS,
  AUDIT_LISTS,
  auditUpdatesOf,
  compareEntries,
  LastUseSchema,
  memberParts,
  type AccessKeyAuditReader,
  type AuditEntry,
  type AuditList,
  type KeyUse,
  type LastUse,
} from '../../shared/accesskeys/accesskey-audit.ts';

const KEYS_PER_ACCESS_KEY = 1 + 2 * AUDIT_LISTS.length;

export function accessKeyAuditPrefix(accountId: string, accessKeyId: string): string {
  return `{tk:${accountId}}:akl:${accessKeyId}`;
}

export function lastUseKey(accountId: string, accessKeyId: string): string {
  return `${accessKeyAuditPrefix(accountId, accessKeyId)}:last`;
}

export function listKey(accountId: string, accessKeyId: string, list: AuditList): string {
  return `${accessKeyAuditPrefix(accountId, accessKeyId)}:${list}`;
}

export function listUseKey(accountId: string, accessKeyId: string, list: AuditList): string {
  return `${listKey(accountId, accessKeyId, list)}:use`;
}

function keysOf(accountId: string, accessKeyId: string): string[] {
  const keys = [lastUseKey(accountId, accessKeyId)];
  for (const list of AUDIT_LISTS) keys.push(listKey(accountId, accessKeyId, list), listUseKey(accountId, accessKeyId, list));
  return keys;
}

/** "<eventId byte length>:<eventId><detail>": the eventId readable by Lua without parsing JSON. */
export function encodeUse(eventId: string, detail: string): string {
  return `${Buffer.byteLength(eventId, 'utf8')}:${eventId}${detail}`;
}

function decodeUse(value: string): { eventId: string; detail: string } | undefined {
  const m = /^(\d{1,4}):/.exec(value);
  if (!m) return undefined;
  const bytes = Buffer.from(value.slice(m[0].length), 'utf8');
  const n = Number(m[1]);
  if (n > bytes.length) return undefined;
  return { eventId: bytes.subarray(0, n).toString('utf8'), detail: bytes.subarray(n).toString('utf8') };
}

/**
 * KEYS: per AccessKey, KEYS_PER_ACCESS_KEY keys (last, then each list's zset and use hash).
 * ARGV[1]: the argument list below, packed (packed-args.ts; the script unpacks it into a table it
 * calls ARGV): now, retentionMs, cap, keysPer, U, then U encoded uses (the batch's distinct winning uses,
 * each sent once: a row is often the newest of several entries), then per AccessKey: lastMs,
 * lastEventId, lastJson, and per list: count, then count × (member, usedMs, use index 1..U).
 * Returns the number of uses written (newer than what was stored).
 */
const MERGE_SCRIPT = `
local ARGV = ${UNPACK_ARGS_LUA}(ARGV[1])
local now, RET, CAP, PER = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local CHUNK = 500
local function eidOf(v)
  if not v then return nil end
  local c = string.find(v, ':', 1, true)
  if not c then return '' end
  local n = tonumber(string.sub(v, 1, c - 1)) or 0
  return string.sub(v, c + 1, c + n)
end
-- bytewise, whatever the server's collation locale (Lua's < on strings uses strcoll)
local function gt(x, y)
  for i = 1, math.min(#x, #y) do
    local bx, by = string.byte(x, i), string.byte(y, i)
    if bx ~= by then return bx > by end
  end
  return #x > #y
end
local function newer(t, e, ot, oe)
  return ot == nil or t > ot or (t == ot and gt(e, oe or ''))
end
local function remove(z, h, members)
  for i = 1, #members, CHUNK do
    local part = {}
    for j = i, math.min(i + CHUNK - 1, #members) do part[#part + 1] = members[j] end
    redis.call('ZREM', z, unpack(part))
    redis.call('HDEL', h, unpack(part))
  end
end
local U = tonumber(ARGV[5])
local a, written = 6 + U, 0
local cutoff = string.format('(%d', now - RET)
for k = 0, #KEYS - 1, PER do
  local lastKey = KEYS[k + 1]
  local t, e, v = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  a = a + 3
  local cur = redis.call('HMGET', lastKey, 't', 'e')
  local ct = tonumber(cur[1])
  local newest = t
  if newer(t, e, ct, cur[2] or '') then
    redis.call('HSET', lastKey, 't', string.format('%d', t), 'e', e, 'v', v)
    written = written + 1
  else
    newest = ct
  end
  for l = 0, (PER - 3) / 2 do
    local z, h = KEYS[k + 2 + 2 * l], KEYS[k + 3 + 2 * l]
    local c = tonumber(ARGV[a])
    a = a + 1
    for i = 1, c do
      local m, mt, mv = ARGV[a], tonumber(ARGV[a + 1]), ARGV[5 + tonumber(ARGV[a + 2])]
      a = a + 3
      local ot = tonumber(redis.call('ZSCORE', z, m))
      local better = ot == nil or mt > ot
      if not better and mt == ot then
        local ov = redis.call('HGET', h, m)
        better = (not ov) or gt(eidOf(mv), eidOf(ov))
      end
      if better then
        redis.call('ZADD', z, string.format('%d', mt), m)
        redis.call('HSET', h, m, mv)
        written = written + 1
      end
    end
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff)
    if #old > 0 then remove(z, h, old) end
    local n = redis.call('ZCARD', z)
    if n > CAP then remove(z, h, redis.call('ZRANGE', z, 0, n - CAP - 1)) end
  end
  local at = string.format('%d', newest + RET)
  for i = k + 1, k + PER do redis.call('PEXPIREAT', KEYS[i], at) end
end
return written
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tkAccessKeyAuditMerge(numKeys: number, ...args: (string | number | Buffer | readonly (string | number)[])[]): Result<number, Context>;
  }
}

export class RedisAccessKeyAudit implements AnalysisConsumer, AccessKeyAuditReader {
  /** Uses this instance wrote (skips what they cover); none when refreshMs is 0 (every use written). */
  private readonly written: WrittenUses | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly now: () => number = () => Date.now(),
    options: { refreshMs?: number } = {},
  ) {
    const refreshMs = options.refreshMs ?? ACCESS_KEY_AUDIT_REFRESH_MS;
    this.written = refreshMs > 0 ? new WrittenUses(refreshMs) : undefined;
    if (typeof (redis as Partial<Pick<Redis, 'tkAccessKeyAuditMerge'>>).tkAccessKeyAuditMerge !== 'function') {
      redis.defineCommand('tkAccessKeyAuditMerge', { lua: MERGE_SCRIPT });
    }
  }

  /** Records the uses in one account's rows (one script run). Safe to call again with the same rows. */
  async consume(accountId: string, rows: readonly AnalysisRow[]): Promise<void> {
    await this.record(accountId, rows);
  }

  /** As consume, returning how many stored uses the rows replaced or added. */
  async record(accountId: string, rows: readonly AnalysisRow[]): Promise<number> {
    const nowMs = this.now();
    const written = this.written;
    const updates = auditUpdatesOf(
      accountId,
      rows,
      nowMs,
      written ? (accessKeyId, list, member, usedMs) => written.needsWrite(accountId, accessKeyId, list, member, usedMs, nowMs) : undefined,
    );
    if (updates.length === 0) return 0;
    const keys: string[] = [];
    const argv: (string | number)[] = [];
    // the batch's distinct uses (one object per winning row: auditUpdatesOf shares them), each sent once
    const encoded: string[] = [];
    const useIndex = new Map<KeyUse, number>();
    for (const u of updates) {
      keys.push(...keysOf(accountId, u.accessKeyId));
      argv.push(u.last.usedMs, u.last.eventId, JSON.stringify(u.last));
      for (const list of AUDIT_LISTS) {
        const entries = u.lists[list];
        argv.push(entries.size);
        for (const [member, use] of entries) {
          let i = useIndex.get(use);
          if (i === undefined) {
            encoded.push(encodeUse(use.eventId, use.detail));
            useIndex.set(use, (i = encoded.length));
          }
          argv.push(member, use.usedMs, i);
        }
      }
    }
    const packed = new PackedArgs(64 * 1024).push(nowMs).push(ACCESS_KEY_AUDIT_RETENTION_MS).push(ACCESS_KEY_AUDIT_MAX_ENTRIES).push(KEYS_PER_ACCESS_KEY).push(encoded.length).pushAll(encoded).pushAll(argv);
    const count = await this.redis.tkAccessKeyAuditMerge(keys.length, keys, packed.toBuffer());
    if (written) {
      for (const u of updates) {
        written.note(accountId, u.accessKeyId, 'last', '', u.last.usedMs, nowMs);
        for (const list of AUDIT_LISTS) for (const [member, use] of u.lists[list]) written.note(accountId, u.accessKeyId, list, member, use.usedMs, nowMs);
      }
    }
    return count;
  }

  async lastUse(accountId: string, accessKeyId: string, nowMs: number): Promise<LastUse | undefined> {
    return (await this.lastUses(accountId, [accessKeyId], nowMs)).get(accessKeyId);
  }

  async lastUses(accountId: string, accessKeyIds: readonly string[], nowMs: number): Promise<Map<string, LastUse>> {
    const found = new Map<string, LastUse>();
    if (accessKeyIds.length === 0) return found;
    const multi = this.redis.multi();
    for (const id of accessKeyIds) multi.hget(lastUseKey(accountId, id), 'v');
    const replies = (await multi.exec()) ?? [];
    accessKeyIds.forEach((id, i) => {
      const value = replies[i]?.[1];
      if (typeof value !== 'string') return;
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch {
        return;
      }
      const parsed = LastUseSchema.safeParse(json);
      if (parsed.success && parsed.data.accountId === accountId && parsed.data.usedMs > nowMs - ACCESS_KEY_AUDIT_RETENTION_MS) found.set(id, parsed.data);
    });
    return found;
  }

  async entries(accountId: string, accessKeyId: string, list: AuditList, nowMs: number): Promise<AuditEntry[]> {
    const replies =
      (await this.redis
        .multi()
        .zrangebyscore(listKey(accountId, accessKeyId, list), `(${nowMs - ACCESS_KEY_AUDIT_RETENTION_MS}`, '+inf', 'WITHSCORES')
        .hgetall(listUseKey(accountId, accessKeyId, list))
        .exec()) ?? [];
    const flat = replies[0]?.[1];
    const uses = replies[1]?.[1];
    if (!Array.isArray(flat) || uses === null || typeof uses !== 'object') return [];
    const byMember = uses as Record<string, string>;
    const out: AuditEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = String(flat[i]);
      const usedMs = Number(flat[i + 1]);
      const parts = memberParts(member);
      const stored = Object.hasOwn(byMember, member) ? byMember[member] : undefined;
      const use = stored === undefined ? undefined : decodeUse(stored);
      if (!parts || !use || !Number.isSafeInteger(usedMs)) continue;
      out.push({ member, parts, usedMs, ...use });
    }
    return out.sort(compareEntries);
  }
}
