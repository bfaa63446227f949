/**
 * The summary queue on Redis: `{tk:<accountId>}:sumq`, a hash eventId → row JSON (a row queued
 * twice is stored once). summarize-cron drains it.
 */
import type { Redis } from 'ioredis';
import type { SummaryRow } from '../../shared/summaries/summary-row.ts';

export function summaryQueueKey(accountId: string): string {
  return `{tk:${accountId}}:sumq`;
}

/** Accounts with queued rows, so the drainer need not scan. */
export const SUMMARY_ACCOUNTS_KEY = '{tk}:sumq:accounts';

export class RedisSummaryQueue {
  constructor(private readonly redis: Redis) {}

  async enqueue(accountId: string, rows: readonly SummaryRow[]): Promise<void> {
    if (rows.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const row of rows) pipeline.hsetnx(summaryQueueKey(accountId), row.eventId, JSON.stringify(row));
    pipeline.sadd(SUMMARY_ACCOUNTS_KEY, accountId);
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
  }

  async size(accountId: string): Promise<number> {
    return this.redis.hlen(summaryQueueKey(accountId));
  }
}
