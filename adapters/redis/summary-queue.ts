/**
 * The summary queue on Redis: `{tk:<accountId>}:sumq`, a hash eventId → row JSON (a row queued
 * twice is stored once). summarize-cron drains it.
 */
import type { RedisClient } from '../redis.ts';
import type { SummaryRow } from '../../shared/summaries/summary-row.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { ANALYSIS_ACCOUNTS_KEY, analysisQueueKey } from './analysis-queue.ts';

export function summaryQueueKey(accountId: string): string {
  return `{tk:${accountId}}:sumq`;
}

/** Accounts with queued rows, so the drainer need not scan (a global key: its own slot). */
export const SUMMARY_ACCOUNTS_KEY = '{tk}:sumq:accounts';

export class RedisSummaryQueue {
  constructor(private readonly redis: RedisClient) {}

  /**
   * Queues summary rows and, in the same round trip, the analysis rows of the same events
   * (docs/design.md §3.9: `{tk:<account>}:anq`, same slot).
   */
  async enqueue(accountId: string, rows: readonly SummaryRow[], analysis: readonly AnalysisRow[] = []): Promise<void> {
    if (rows.length === 0 && analysis.length === 0) return;
    // The rows first, then the account (summary-store.ts forgetIfEmpty relies on that order).
    // Two slots, so two steps: a cluster pipeline must stay within one slot.
    const pipeline = this.redis.pipeline();
    for (const row of rows) pipeline.hsetnx(summaryQueueKey(accountId), row.eventId, JSON.stringify(row));
    for (const row of analysis) pipeline.hsetnx(analysisQueueKey(accountId), row.eventId, JSON.stringify(row));
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    if (analysis.length === 0) {
      await this.redis.sadd(SUMMARY_ACCOUNTS_KEY, accountId);
      return;
    }
    // both global sets live in the `{tk}` slot: one pipeline
    const second = this.redis.pipeline().sadd(SUMMARY_ACCOUNTS_KEY, accountId).sadd(ANALYSIS_ACCOUNTS_KEY, accountId);
    for (const [error] of (await second.exec()) ?? []) if (error) throw error;
  }

  async size(accountId: string): Promise<number> {
    return this.redis.hlen(summaryQueueKey(accountId));
  }
}
