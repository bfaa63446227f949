/**
 * The summary queue on Redis: `{tk:<accountId>}:sumq`, a hash eventId → row JSON (a row queued
 * twice is stored once). summarize-cron drains it.
 */
import type { RedisClient } from '../redis.ts';
import type { SummaryRow } from '../../shared/summaries/summary-row.ts';

export function summaryQueueKey(accountId: string): string {
  return `{tk:${accountId}}:sumq`;
}

/** Accounts with queued rows, so the drainer need not scan (a global key: its own slot). */
export const SUMMARY_ACCOUNTS_KEY = '{tk}:sumq:accounts';

export class RedisSummaryQueue {
  constructor(private readonly redis: RedisClient) {}

  async enqueue(accountId: string, rows: readonly SummaryRow[]): Promise<void> {
    if (rows.length === 0) return;
    // The rows first, then the account (summary-store.ts forgetIfEmpty relies on that order).
    // Two slots, so two steps: a cluster pipeline must stay within one slot.
    const pipeline = this.redis.pipeline();
    for (const row of rows) pipeline.hsetnx(summaryQueueKey(accountId), row.eventId, JSON.stringify(row));
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    await this.redis.sadd(SUMMARY_ACCOUNTS_KEY, accountId);
  }

  async size(accountId: string): Promise<number> {
    return this.redis.hlen(summaryQueueKey(accountId));
  }
}
