/**
 * deliver-oss's state on Redis (all keys of a trail share its account's hash tag):
 *   {tk:<acct>}:lock:oss:<trail>                    delivery lock (trail-lock.ts)
 *   {tk:<acct>}:oss:pending:<trail>                 the file being written (JSON), see oss-delivery.ts
 *   {tk:<acct>}:oss:scopes:<trail>                  set of scopes (region, member account) with files
 *   {tk:<acct>}:oss:hours:<trail>:<scope>           zset of hours with files not yet digested
 *   {tk:<acct>}:oss:files:<trail>:<scope>:<hour>    hash file key → digest entry JSON
 *   {tk}:oss:deferred-flush                         set while a deferred pass is scheduled
 * finishFile also acknowledges the file's entries out of the trail's `oss` outbox (outbox.ts) and
 * counts them in its delivery metrics (delivery-metrics.ts): keys of the same hash tag, one script.
 */
import type { RedisClient } from '../redis.ts';
import { digestFileEntrySchema, type DigestFileEntry } from '../../shared/archive/digest.ts';
import { digestScopePrefix, parseDigestKey, type ArchiveScope } from '../../shared/archive/layout.ts';
import type { OssDeliveryPorts, PendingFile } from '../../shared/delivery/oss-delivery.ts';
import { chainHead, saveChainHead } from '../archive/digest-chain-store.ts';
import { trailLock } from './trail-lock.ts';
import { ACK_LUA, ackKeys } from './outbox.ts';
import { metricCounter } from './delivery-metrics.ts';

/**
 * finishFile: the file log entry (scopes, hours, files), the entries acknowledged out of the
 * trail's `oss` outbox (outbox.ts's ack), the pending file cleared and the delivered events
 * counted — one script, so one round trip and all or nothing.
 * KEYS: pending, scopes, hours, files, metrics hash, then outbox.ts's ackKeys for `oss`.
 * ARGV: entry key, scope JSON, hour, entry JSON, metric field, metric expiry (ms), the pending
 * file's JSON, then the eventIds — or none, when the pending key holds exactly that JSON: its
 * eventIds are then read from it (the pending file was just written with them, and they need not
 * travel twice). Answers the number of eventIds acknowledged, or -1 (nothing done) when the
 * eventIds were left out but the pending key holds anything else: the caller sends them.
 */
const FINISH_FILE_SCRIPT = `${ACK_LUA}
local ackKeys = {}
for k = 6, #KEYS do ackKeys[#ackKeys + 1] = KEYS[k] end
local ids = {}
if #ARGV > 7 then
  for i = 8, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  if redis.call('GET', KEYS[1]) ~= ARGV[7] then return -1 end
  ids = cjson.decode(ARGV[7]).eventIds
end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
ack(ackKeys, ids)
redis.call('DEL', KEYS[1])
if #ids > 0 then
  redis.call('HINCRBY', KEYS[5], ARGV[5], #ids)
  redis.call('PEXPIREAT', KEYS[5], ARGV[6])
end
return #ids`;

interface FinishFileCommand {
  /** numKeys first (the keys' count varies with ackKeys). */
  tkOssFinishFile(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
}

const scopeId = (s: ArchiveScope) => `${s.organization ? `${s.organization.orgId}/${s.organization.accountId}/` : ''}${s.region}|${s.ossKeyPrefix ?? ''}`;

export function archiveDeliveryState(redis: RedisClient): Required<Pick<OssDeliveryPorts, 'withLock' | 'finishFile' | 'pending' | 'fileLog' | 'chain'>> {
  const p = (acct: string) => `{tk:${acct}}:oss`;
  /** The JSON each pending file was stored as (finishFile compares it with the stored one). */
  const pendingJson = new WeakMap<PendingFile, string>();
  if (typeof (redis as Partial<FinishFileCommand>).tkOssFinishFile !== 'function') redis.defineCommand('tkOssFinishFile', { lua: FINISH_FILE_SCRIPT });
  return {
    withLock: trailLock(redis, 'oss'),
    finishFile: async (acct, trail, file, atMs) => {
      const id = scopeId(file.scope);
      const counter = metricCounter(acct, trail, 'delivery_oss_success_count', atMs);
      const keys = [
        `${p(acct)}:pending:${trail}`,
        `${p(acct)}:scopes:${trail}`,
        `${p(acct)}:hours:${trail}:${id}`,
        `${p(acct)}:files:${trail}:${id}:${file.hourStartMs}`,
        counter.key,
        ...ackKeys(acct, trail, 'oss'),
      ];
      const finish = (eventIds: readonly string[]) =>
        (redis as unknown as FinishFileCommand).tkOssFinishFile(
          keys.length,
          ...keys,
          file.entry.key,
          JSON.stringify(file.scope),
          String(file.hourStartMs),
          JSON.stringify(file.entry),
          counter.field,
          String(counter.expireAtMs),
          pendingJson.get(file) ?? JSON.stringify(file),
          ...eventIds,
        );
      // the eventIds travel only when the stored pending file is not the one just written
      if ((await finish([])) < 0) await finish(file.eventIds);
    },
    pending: {
      get: async (acct, trail) => {
        const raw = await redis.get(`${p(acct)}:pending:${trail}`);
        return raw ? (JSON.parse(raw) as PendingFile) : undefined;
      },
      set: async (acct, trail, file) => {
        const json = JSON.stringify(file);
        pendingJson.set(file, json);
        await redis.set(`${p(acct)}:pending:${trail}`, json);
      },
      clear: async (acct, trail) => {
        await redis.del(`${p(acct)}:pending:${trail}`);
      },
    },
    fileLog: {
      add: async (acct, trail, scope, hour, entry) => {
        const id = scopeId(scope);
        await redis
          .multi()
          .sadd(`${p(acct)}:scopes:${trail}`, JSON.stringify(scope))
          .zadd(`${p(acct)}:hours:${trail}:${id}`, hour, String(hour))
          .hset(`${p(acct)}:files:${trail}:${id}:${hour}`, entry.key, JSON.stringify(entry))
          .exec();
      },
      scopes: async (acct, trail) => (await redis.smembers(`${p(acct)}:scopes:${trail}`)).map((s) => JSON.parse(s) as ArchiveScope),
      files: async (acct, trail, scope, hour): Promise<DigestFileEntry[]> =>
        (await redis.hvals(`${p(acct)}:files:${trail}:${scopeId(scope)}:${hour}`)).map((v) => digestFileEntrySchema.parse(JSON.parse(v))),
      firstHour: async (acct, trail, scope) => {
        const [first] = await redis.zrange(`${p(acct)}:hours:${trail}:${scopeId(scope)}`, 0, 0);
        return first === undefined ? undefined : Number(first);
      },
      drop: async (acct, trail, scope, hour) => {
        const id = scopeId(scope);
        await redis.multi().del(`${p(acct)}:files:${trail}:${id}:${hour}`).zrem(`${p(acct)}:hours:${trail}:${id}`, String(hour)).exec();
      },
    },
    chain: {
      head: async (acct, trail, scope) => {
        const link = await chainHead(redis, acct, trail, digestScopePrefix(scope));
        const parsed = link ? parseDigestKey(link.key) : undefined;
        return link && parsed ? { link, hourStartMs: parsed.hourStart.getTime() } : null;
      },
      save: async (acct, trail, _scope, link) => {
        await saveChainHead(redis, acct, trail, link);
      },
    },
  };
}

/** The key held while deliver-oss has a deferred pass scheduled (deployment-wide). */
export const DEFERRED_FLUSH_KEY = '{tk}:oss:deferred-flush';

/**
 * True when the caller may schedule a deferred pass for `delayMs` from now: none is scheduled
 * yet. The claim lapses when that pass is due, so the pass itself can schedule the next one.
 */
export async function claimDeferredFlush(redis: RedisClient, delayMs: number): Promise<boolean> {
  return (await redis.set(DEFERRED_FLUSH_KEY, String(Date.now() + delayMs), 'PX', Math.max(1, Math.round(delayMs)), 'NX')) === 'OK';
}
