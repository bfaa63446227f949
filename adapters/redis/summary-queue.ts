/**
 * The summary queue on Redis: `{tk:<accountId>}:sumq`, a hash eventId → row JSON (a row queued
 * twice is stored once). summarize-cron drains it.
 */
import type { RedisClient } from '../redis.ts';
import type { SummaryRow } from '../../shared/summaries/summary-row.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { ANALYSIS_ACCOUNTS_KEY, analysisQueueKey } from './analysis-queue.ts';
import { encodeAnalysisRow } from '../../shared/analysis/analysis-row-codec.ts';
import type { ChainableCommander } from 'ioredis';

export function summaryQueueKey(accountId: string): string {
  return `{tk:${accountId}}:sumq`;
}

/** Accounts with queued rows, so the drainer need not scan (a global key: its own slot). */
export const SUMMARY_ACCOUNTS_KEY = '{tk}:sumq:accounts';

/** Most rows written by one HSET command. */
export const QUEUE_FIELDS_PER_COMMAND = 1000;

function hsetChunks<T extends { eventId: string }>(pipeline: ChainableCommander, key: string, rows: readonly T[], encode: (row: T) => string): void {
  for (let i = 0; i < rows.length; i += QUEUE_FIELDS_PER_COMMAND) {
    const args: string[] = [];
    for (const row of rows.slice(i, i + QUEUE_FIELDS_PER_COMMAND)) args.push(row.eventId, encode(row));
    pipeline.hset(key, ...args);
  }
}

export class RedisSummaryQueue {
  constructor(private readonly redis: RedisClient) {}

  /**
   * Queues summary rows and/or analysis rows (docs/design.md §3.9: `{tk:<account>}:anq`, same slot;
   * classify queues analysis rows only when it could not analyse them itself).
   */
  async enqueue(accountId: string, rows: readonly SummaryRow[], analysis: readonly AnalysisRow[] = []): Promise<void> {
    if (rows.length === 0 && analysis.length === 0) return;
    // The rows first, then the account (summary-store.ts forgetIfEmpty relies on that order).
    // Two slots, so two steps: a cluster pipeline must stay within one slot.
    // One HSET of many fields per queue (chunks of QUEUE_FIELDS_PER_COMMAND): a command per row
    // cost each side more than the row itself. HSET, not HSETNX: a row is a function of its event,
    // so a row queued again while the first is pending writes the same value (one field either way).
    const pipeline = this.redis.pipeline();
    hsetChunks(pipeline, summaryQueueKey(accountId), rows, (row) => JSON.stringify(row));
    hsetChunks(pipeline, analysisQueueKey(accountId), analysis, encodeAnalysisRow);
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    // both global sets live in the `{tk}` slot: one pipeline
    const second = this.redis.pipeline();
    if (rows.length > 0) second.sadd(SUMMARY_ACCOUNTS_KEY, accountId);
    if (analysis.length > 0) second.sadd(ANALYSIS_ACCOUNTS_KEY, accountId);
    for (const [error] of (await second.exec()) ?? []) if (error) throw error;
  }

  async size(accountId: string): Promise<number> {
    return this.redis.hlen(summaryQueueKey(accountId));
  }
}
