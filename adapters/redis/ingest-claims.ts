/**
 * Ingest's short-term memory of accepted eventIds (until classify has written them to history):
 * one hash per account and UTC day, `{tk:<accountId>}:seen:<day>` (eventId → 1), kept for two
 * days, so an id claimed today or yesterday is known. One command answers a whole batch.
 */
import type { RedisClient } from '../redis.ts';
import type { IngestClaims } from '../../shared/pipeline/ingest.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A day's claims live until the end of the next day: at least 24 hours, enough for classify (retries included). */
const KEEP_DAYS = 2;

// KEYS[1] today, KEYS[2] yesterday; ARGV[1] expiry (ms), ARGV[2..] ids → 1 where newly claimed.
const CLAIM = `
local out = {}
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then out[i - 1] = 0
  else out[i - 1] = redis.call('HSETNX', KEYS[1], ARGV[i], 1) end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return out`;

// KEYS[1] today, KEYS[2] yesterday; ARGV ids → 1 where either day holds the id.
const KNOWN = `
local out = {}
for i = 1, #ARGV do
  out[i] = math.max(redis.call('HEXISTS', KEYS[1], ARGV[i]), redis.call('HEXISTS', KEYS[2], ARGV[i]))
end
return out`;

export class RedisIngestClaims implements IngestClaims {
  constructor(
    private readonly redis: RedisClient,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(accountId: string): { today: string; yesterday: string; expireAtMs: number } {
    const day = Math.floor(this.now() / DAY_MS);
    return {
      today: `{tk:${accountId}}:seen:${day}`,
      yesterday: `{tk:${accountId}}:seen:${day - 1}`,
      expireAtMs: (day + KEEP_DAYS) * DAY_MS,
    };
  }

  async known(accountId: string, eventIds: readonly string[]): Promise<boolean[]> {
    if (eventIds.length === 0) return [];
    const { today, yesterday } = this.keys(accountId);
    const flags = (await this.redis.eval(KNOWN, 2, today, yesterday, ...eventIds)) as number[];
    return flags.map((f) => f === 1);
  }

  async claim(accountId: string, eventIds: readonly string[]): Promise<boolean[]> {
    if (eventIds.length === 0) return [];
    const { today, yesterday, expireAtMs } = this.keys(accountId);
    const flags = (await this.redis.eval(CLAIM, 2, today, yesterday, String(expireAtMs), ...eventIds)) as number[];
    return flags.map((f) => f === 1);
  }
}
