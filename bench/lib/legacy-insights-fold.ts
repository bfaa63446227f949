/**
 * The insights fold as it was before per-batch tallies and signature attributions (commit 75cc755):
 * one HINCRBY per row × series × (minute, hour s, hour q, six attribution dimensions), one HGET per
 * row × mark, per-series attribution fields kept 3 h. Kept for `npm run bench -- insights --part
 * fold|memory`, which measures it beside the store's current fold in the same process.
 */
import type { RedisClient } from '../../adapters/redis.ts';
import { MINUTE_KEY_TTL_MS, RedisInsightsStore, insightKeys } from '../../adapters/redis/insights-store.ts';
import { analysisQueueKey } from '../../adapters/redis/analysis-queue.ts';
import type { MinuteData, Tallies } from '../../shared/insights/detector.ts';
import { COUNTER_HORIZON_MS, type FoldItem, type FoldOutcome } from '../../shared/insights/engine.ts';
import { ATTRIBUTION_DIMENSIONS, type AttributionDimension } from '../../shared/insights/series.ts';
import { HOUR_MS, INSIGHT_MINUTE_MS } from '../../shared/insights/types.ts';

const US = '\x1f';
const HOUR_KEY_TTL_MS = COUNTER_HORIZON_MS + HOUR_MS;

interface LegacyRedis {
  tkInsightsFoldLegacy(numKeys: number, ...args: (string | number)[]): Promise<[number, number, number, number]>;
}

const LEGACY_FOLD_SCRIPT = `
local D = tonumber(ARGV[1])
local counted, dropped, dups = 0, 0, 0
local touched = {}
local first, latest = nil, nil
local i = 2 + D
while i <= #ARGV do
  local id, t, m = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local mk, hk, ak = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local nc, nm, nd = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local c0 = i + 9
  local m0 = c0 + nc
  local d0 = m0 + nm
  i = d0 + nd
  if redis.call('HDEL', KEYS[1], id) == 1 then
    if mk == 0 then
      dropped = dropped + 1
    else
      counted = counted + 1
      local minuteKey, hourKey, attrKey = KEYS[2 + mk], KEYS[2 + hk], KEYS[2 + ak]
      for j = c0, m0 - 1 do
        local s = ARGV[j]
        local c = redis.call('HINCRBY', minuteKey, s, 1)
        redis.call('HINCRBY', hourKey, s .. '\\31s', 1)
        redis.call('HINCRBY', hourKey, s .. '\\31q', 2 * c - 1)
        for d = d0, i - 1 do redis.call('HINCRBY', attrKey, s .. '\\31' .. ARGV[d], 1) end
      end
      for j = m0, d0 - 1 do
        local f = ARGV[j] .. '\\31n'
        local cur = tonumber(redis.call('HGET', hourKey, f))
        if (not cur) or m < cur then redis.call('HSET', hourKey, f, ARGV[c0 - 7]) end
      end
      touched[mk] = true
      touched[hk] = true
      touched[ak] = true
      if (not first) or t < first then first = t end
      if (not latest) or m > latest then latest = m end
    end
  else
    dups = dups + 1
  end
end
for k in pairs(touched) do redis.call('PEXPIREAT', KEYS[2 + k], ARGV[1 + k]) end
if first then
  local cur = tonumber(redis.call('HGET', KEYS[2], 'first'))
  if (not cur) or first < cur then redis.call('HSET', KEYS[2], 'first', string.format('%d', first)) end
  cur = tonumber(redis.call('HGET', KEYS[2], 'latest'))
  if (not cur) or latest > cur then redis.call('HSET', KEYS[2], 'latest', string.format('%d', latest)) end
end
return {counted, dropped, dups, redis.call('HLEN', KEYS[1])}
`;

export class LegacyRedisInsightsStore extends RedisInsightsStore {
  constructor(private readonly legacyRedis: RedisClient) {
    super(legacyRedis);
    if (typeof (legacyRedis as unknown as Partial<LegacyRedis>).tkInsightsFoldLegacy !== 'function') legacyRedis.defineCommand('tkInsightsFoldLegacy', { lua: LEGACY_FOLD_SCRIPT });
  }

  override async fold(accountId: string, items: readonly FoldItem[]): Promise<FoldOutcome> {
    const keys: string[] = [];
    const expires: number[] = [];
    const index = new Map<string, number>();
    const keyIndex = (key: string, expireAt: number): number => {
      let i = index.get(key);
      if (i === undefined) {
        keys.push(key);
        expires.push(expireAt);
        index.set(key, (i = keys.length));
      }
      return i;
    };
    const rowArgs: (string | number)[] = [];
    for (const item of items) {
      if (!item.counters) {
        rowArgs.push(item.eventId, 0, 0, 0, 0, 0, 0, 0, 0);
        continue;
      }
      const minute = Math.floor(item.timeMs / INSIGHT_MINUTE_MS) * INSIGHT_MINUTE_MS;
      const hour = Math.floor(item.timeMs / HOUR_MS) * HOUR_MS;
      const mk = keyIndex(insightKeys.minute(accountId, minute), minute + MINUTE_KEY_TTL_MS);
      const hk = keyIndex(insightKeys.hour(accountId, hour), hour + HOUR_KEY_TTL_MS);
      const ak = keyIndex(insightKeys.attributions(accountId, minute), minute + MINUTE_KEY_TTL_MS);
      const dims = ATTRIBUTION_DIMENSIONS.flatMap((d) => {
        const v = item.counters?.attributions[d];
        return v === undefined ? [] : [`${d}${US}${v}`];
      });
      const { counts, marks } = item.counters;
      rowArgs.push(item.eventId, item.timeMs, minute, mk, hk, ak, counts.length, marks.length, dims.length, ...counts, ...marks, ...dims);
    }
    const argv = [keys.length, ...expires, ...rowArgs];
    const allKeys = [analysisQueueKey(accountId), insightKeys.meta(accountId), ...keys];
    const [counted, dropped, duplicates, remaining] = await (this.legacyRedis as unknown as LegacyRedis).tkInsightsFoldLegacy(allKeys.length, ...allKeys, ...argv);
    return { counted, dropped, duplicates, remaining };
  }

  override async minute(accountId: string, minuteMs: number): Promise<MinuteData> {
    const [counts, attrs] = await Promise.all([this.legacyRedis.hgetall(insightKeys.minute(accountId, minuteMs)), this.legacyRedis.hgetall(insightKeys.attributions(accountId, minuteMs))]);
    const attributions = new Map<string, Tallies>();
    for (const [field, value] of Object.entries(attrs)) {
      const [series, dim, v] = field.split(US);
      if (series === undefined || dim === undefined || v === undefined) continue;
      let t = attributions.get(series);
      if (!t) attributions.set(series, (t = {}));
      (t[dim as AttributionDimension] ??= {})[v] = Number(value);
    }
    return { counts: new Map(Object.entries(counts).map(([k, v]) => [k, Number(v)])), attributions };
  }

}
