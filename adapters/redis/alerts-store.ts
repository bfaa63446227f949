/**
 * Alerts on Redis (docs/design.md §3.12). One account's keys share its hash tag; each command and
 * script touches one account's keys (cluster-safe), the set of accounts with rules lives in `{tk}`.
 *
 *   {tk:A}:al:rules    hash   ruleId → rule JSON
 *   {tk:A}:al:chan     hash   channelId → channel JSON (URL and secret sealed)
 *   {tk:A}:al:ver      string the rules version (INCR on every rule or channel write; the matcher's cache key)
 *   {tk:A}:al:ev       hash   "<ruleId>|<eventId>" → match JSON {group, event}
 *   {tk:A}:al:all      zset   "<ruleId>|<eventId>" by eventTime: every kept match (windows; idempotence)
 *   {tk:A}:al:pend     zset   the same members, not yet evaluated
 *   {tk:A}:al:claims   zset   "<ruleId>|<groupKey>" by the time it last notified (de-duplication)
 *   {tk:A}:al:out      hash   deliveryId → delivery JSON;  {tk:A}:al:due  zset deliveryId by next attempt
 *   {tk:A}:al:log:<R>  list   rule R's delivery log, newest first, ALERT_LOG_ENTRIES kept
 *   {tk:A}:al:lock     string alerts-cron's per-account lock
 *   {tk}:al:accounts   set    accounts with at least one rule
 *
 * A match is stored once per (rule, eventId): the script adds it to `pend` only if `all` did not
 * hold it — a drain batch consumed twice, or an event matched again, never re-arms a notification.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis.ts';
import type { AlertStore, Delivery } from '../../shared/alerts/engine.ts';
import { StoredChannelSchema, StoredRuleSchema, type AlertChannel, type AlertMatch, type AlertRule, type DeliveryLogEntry, type MatchedEvent } from '../../shared/alerts/model.ts';

/** Delivery log lines kept per rule. */
export const ALERT_LOG_ENTRIES = 100;
export const ALERT_ACCOUNTS_KEY = '{tk}:al:accounts';

const tag = (a: string) => `{tk:${a}}`;
export const alertKeys = {
  rules: (a: string) => `${tag(a)}:al:rules`,
  channels: (a: string) => `${tag(a)}:al:chan`,
  version: (a: string) => `${tag(a)}:al:ver`,
  events: (a: string) => `${tag(a)}:al:ev`,
  all: (a: string) => `${tag(a)}:al:all`,
  pending: (a: string) => `${tag(a)}:al:pend`,
  claims: (a: string) => `${tag(a)}:al:claims`,
  out: (a: string) => `${tag(a)}:al:out`,
  due: (a: string) => `${tag(a)}:al:due`,
  log: (a: string, ruleId: string) => `${tag(a)}:al:log:${ruleId}`,
  lock: (a: string) => `${tag(a)}:al:lock`,
};

/** KEYS all, pend, ev; ARGV triples member, score, json. Returns how many were new. */
/** Matches recorded by one script call. */
export const ALERT_RECORD_CHUNK = 2000;

const RECORD_SCRIPT = `
local n = 0
for i = 1, #ARGV, 3 do
  if redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n`;

/** KEYS all, pend, ev; ARGV before. */
const PRUNE_SCRIPT = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
end
return #old`;

/** KEYS claims, out, due; ARGV member, now, dedupMs, then pairs deliveryId, json. */
const CLAIM_SCRIPT = `
local now = tonumber(ARGV[2])
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if last and now - tonumber(last) < tonumber(ARGV[3]) then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[1], now, ARGV[1])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], now, ARGV[i])
end
return 1`;

/** KEYS due, out; ARGV id, now, leaseMs. Returns the delivery JSON, or nil when not due. */
const LEASE_SCRIPT = `
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then return false end
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not json then redis.call('ZREM', KEYS[1], ARGV[1]) return false end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return json`;

const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

const member = (ruleId: string, eventId: string) => `${ruleId}|${eventId}`;

interface StoredMatchJson {
  group: string;
  event: MatchedEvent;
}

function parseMatch(m: string, json: string | null): (AlertMatch & { member: string }) | undefined {
  if (json === null) return undefined;
  const bar = m.indexOf('|');
  try {
    const parsed = JSON.parse(json) as StoredMatchJson;
    if (typeof parsed.group !== 'string' || typeof parsed.event?.eventTimeMs !== 'number') return undefined;
    return { member: m, ruleId: m.slice(0, bar), group: parsed.group, event: parsed.event };
  } catch {
    return undefined;
  }
}

function parseJson<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, json: string): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export class RedisAlertStore implements AlertStore {
  constructor(private readonly redis: RedisClient) {}

  // ------------------------------------------------------------ rules and channels

  async rulesVersion(accountId: string): Promise<string | undefined> {
    return (await this.redis.get(alertKeys.version(accountId))) ?? undefined;
  }

  async rules(accountId: string): Promise<AlertRule[]> {
    const all = await this.redis.hvals(alertKeys.rules(accountId));
    return all.flatMap((json) => parseJson(StoredRuleSchema, json) ?? []).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  async rule(accountId: string, ruleId: string): Promise<AlertRule | undefined> {
    const json = await this.redis.hget(alertKeys.rules(accountId), ruleId);
    return json === null ? undefined : parseJson(StoredRuleSchema, json);
  }

  async ruleCount(accountId: string): Promise<number> {
    return this.redis.hlen(alertKeys.rules(accountId));
  }

  async putRule(rule: AlertRule): Promise<void> {
    const a = rule.accountId;
    await this.redis.multi().hset(alertKeys.rules(a), rule.id, JSON.stringify(rule)).incr(alertKeys.version(a)).exec();
    await this.redis.sadd(ALERT_ACCOUNTS_KEY, a);
  }

  async deleteRule(accountId: string, ruleId: string): Promise<boolean> {
    const results = await this.redis.multi().hdel(alertKeys.rules(accountId), ruleId).incr(alertKeys.version(accountId)).del(alertKeys.log(accountId, ruleId)).hlen(alertKeys.rules(accountId)).exec();
    const removed = results?.[0]?.[1] === 1;
    if (results?.[3]?.[1] === 0) await this.redis.srem(ALERT_ACCOUNTS_KEY, accountId);
    return removed;
  }

  async channels(accountId: string): Promise<AlertChannel[]> {
    const all = await this.redis.hvals(alertKeys.channels(accountId));
    return all.flatMap((json) => parseJson(StoredChannelSchema, json) ?? []).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  async channel(accountId: string, channelId: string): Promise<AlertChannel | undefined> {
    const json = await this.redis.hget(alertKeys.channels(accountId), channelId);
    return json === null ? undefined : parseJson(StoredChannelSchema, json);
  }

  async channelCount(accountId: string): Promise<number> {
    return this.redis.hlen(alertKeys.channels(accountId));
  }

  async putChannel(channel: AlertChannel): Promise<void> {
    await this.redis.multi().hset(alertKeys.channels(channel.accountId), channel.id, JSON.stringify(channel)).incr(alertKeys.version(channel.accountId)).exec();
  }

  async deleteChannel(accountId: string, channelId: string): Promise<boolean> {
    const results = await this.redis.multi().hdel(alertKeys.channels(accountId), channelId).incr(alertKeys.version(accountId)).exec();
    return results?.[0]?.[1] === 1;
  }

  async history(accountId: string, ruleId: string, limit: number): Promise<DeliveryLogEntry[]> {
    const lines = await this.redis.lrange(alertKeys.log(accountId, ruleId), 0, limit - 1);
    return lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as DeliveryLogEntry];
      } catch {
        return [];
      }
    });
  }

  // ------------------------------------------------------------ matches

  async recordMatches(accountId: string, matches: readonly AlertMatch[]): Promise<number> {
    // keys then arguments as one array (ioredis flattens it): a batch's matches (rules × rows, 3
    // values each) spread as call arguments overflowed the stack past ~40,000 matches. At most
    // ALERT_RECORD_CHUNK matches a call, so no one script holds Redis for a whole batch (50 rules
    // × 5,000 rows would be one ~75 MB command); each match is recorded once (ZADD NX), so a
    // batch recorded again after a crash between chunks adds only what is missing.
    const keys = [alertKeys.all(accountId), alertKeys.pending(accountId), alertKeys.events(accountId)];
    let recorded = 0;
    for (let i = 0; i < matches.length; i += ALERT_RECORD_CHUNK) {
      const keysAndArgs: string[] = [...keys];
      for (const m of matches.slice(i, i + ALERT_RECORD_CHUNK)) {
        keysAndArgs.push(member(m.ruleId, m.event.eventId), String(m.event.eventTimeMs), JSON.stringify({ group: m.group, event: m.event } satisfies StoredMatchJson));
      }
      recorded += (await this.redis.eval(RECORD_SCRIPT, 3, keysAndArgs)) as number;
    }
    return recorded;
  }

  async accountsWithRules(): Promise<string[]> {
    return (await this.redis.smembers(ALERT_ACCOUNTS_KEY)).sort();
  }

  async lock(accountId: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(12).toString('hex');
    return (await this.redis.set(alertKeys.lock(accountId), token, 'PX', ttlMs, 'NX')) === 'OK' ? token : undefined;
  }

  async unlock(accountId: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK_SCRIPT, 1, alertKeys.lock(accountId), token);
  }

  async #withDetails(accountId: string, members: string[]): Promise<(AlertMatch & { member: string })[]> {
    if (members.length === 0) return [];
    const jsons = await this.redis.hmget(alertKeys.events(accountId), ...members);
    return members.flatMap((m, i) => parseMatch(m, jsons[i] ?? null) ?? []);
  }

  async pending(accountId: string, limit: number): Promise<(AlertMatch & { member: string })[]> {
    const members = await this.redis.zrange(alertKeys.pending(accountId), 0, limit - 1);
    const found = await this.#withDetails(accountId, members);
    // a pending member without details (pruned meanwhile) is acknowledged away
    const missing = members.filter((m) => !found.some((f) => f.member === m));
    if (missing.length > 0) await this.redis.zrem(alertKeys.pending(accountId), ...missing);
    return found;
  }

  async matchesBetween(accountId: string, fromMs: number, toMs: number): Promise<(AlertMatch & { member: string })[]> {
    const members = await this.redis.zrangebyscore(alertKeys.all(accountId), fromMs, toMs, 'LIMIT', 0, 10_000);
    return this.#withDetails(accountId, members);
  }

  async ackPending(accountId: string, members: readonly string[]): Promise<void> {
    for (let i = 0; i < members.length; i += 1000) await this.redis.zrem(alertKeys.pending(accountId), ...members.slice(i, i + 1000));
  }

  async prune(accountId: string, beforeMs: number): Promise<void> {
    await this.redis.eval(PRUNE_SCRIPT, 3, alertKeys.all(accountId), alertKeys.pending(accountId), alertKeys.events(accountId), String(beforeMs));
  }

  // ------------------------------------------------------------ notifications and deliveries

  async claim(accountId: string, ruleId: string, groupKey: string, nowMs: number, dedupMs: number, deliveries: readonly Delivery[]): Promise<boolean> {
    const args = deliveries.flatMap((d) => [d.id, JSON.stringify(d)]);
    const result = await this.redis.eval(CLAIM_SCRIPT, 3, alertKeys.claims(accountId), alertKeys.out(accountId), alertKeys.due(accountId), `${ruleId}|${groupKey}`, String(nowMs), String(dedupMs), ...args);
    return result === 1;
  }

  async due(accountId: string, nowMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(alertKeys.due(accountId), '-inf', nowMs, 'LIMIT', 0, limit);
  }

  async lease(accountId: string, id: string, nowMs: number, leaseMs: number): Promise<Delivery | undefined> {
    const json = (await this.redis.eval(LEASE_SCRIPT, 2, alertKeys.due(accountId), alertKeys.out(accountId), id, String(nowMs), String(leaseMs))) as string | null;
    if (!json) return undefined;
    try {
      return JSON.parse(json) as Delivery;
    } catch {
      await this.finish(accountId, id);
      return undefined;
    }
  }

  async finish(accountId: string, id: string): Promise<void> {
    await this.redis.multi().hdel(alertKeys.out(accountId), id).zrem(alertKeys.due(accountId), id).exec();
  }

  async reschedule(accountId: string, delivery: Delivery, atMs: number): Promise<void> {
    await this.redis.multi().hset(alertKeys.out(accountId), delivery.id, JSON.stringify(delivery)).zadd(alertKeys.due(accountId), atMs, delivery.id).exec();
  }

  async appendLog(accountId: string, ruleId: string, entries: readonly DeliveryLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const key = alertKeys.log(accountId, ruleId);
    await this.redis
      .multi()
      .lpush(key, ...entries.map((e) => JSON.stringify(e)))
      .ltrim(key, 0, ALERT_LOG_ENTRIES - 1)
      .exec();
  }
}
