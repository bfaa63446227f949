/**
 * Ingest's short-term memory of accepted eventIds (until classify has written them to history):
 * `{tk:<accountId>}:seen:<eventId>` with a TTL.
 */
import type { Redis } from 'ioredis';
import type { IngestClaims } from '../../shared/pipeline/ingest.ts';

/** Long enough for classify to have run (retries included); history answers after that. */
export const INGEST_CLAIM_TTL_SECONDS = 24 * 60 * 60;

const key = (accountId: string, eventId: string) => `{tk:${accountId}}:seen:${eventId}`;

export class RedisIngestClaims implements IngestClaims {
  constructor(private readonly redis: Redis) {}

  async known(accountId: string, eventIds: readonly string[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    for (const id of eventIds) pipeline.exists(key(accountId, id));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      return value === 1;
    });
  }

  async claim(accountId: string, eventIds: readonly string[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    for (const id of eventIds) pipeline.set(key(accountId, id), '1', 'EX', INGEST_CLAIM_TTL_SECONDS, 'NX');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      return value === 'OK';
    });
  }
}
