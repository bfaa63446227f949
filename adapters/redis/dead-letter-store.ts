/** Failed async invocations on Redis: one hash, field = request id, value = FC's destination record. */
import type { DeadLetterStore, FailedInvocation } from '../../shared/pipeline/dead-letter.ts';
import type { RedisClient } from '../redis.ts';

export const DEAD_LETTER_KEY = '{tk}:deadletter';

export class RedisDeadLetterStore implements DeadLetterStore {
  constructor(private readonly redis: RedisClient) {}

  async keep(failure: FailedInvocation): Promise<boolean> {
    return (await this.redis.hsetnx(DEAD_LETTER_KEY, failure.requestId, failure.record)) === 1;
  }

  /** A kept failure's destination record, for inspection and replay. */
  async get(requestId: string): Promise<string | undefined> {
    return (await this.redis.hget(DEAD_LETTER_KEY, requestId)) ?? undefined;
  }
}
