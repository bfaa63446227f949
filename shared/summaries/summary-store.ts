/**
 * The summary store contract (docs/design.md §3.8): 2-hour UTC windows per account, each mapping a
 * dimension key (dimension-key.ts) to an occurrence count and first/last time, kept 90 days
 * after the window ends. `adapters/redis/summary-store.ts` implements it on Redis.
 */
import { z } from 'zod';
import { HISTORY_RETENTION_MS } from '../history/history-store.ts';
import { SUMMARY_WINDOW_MS, type SummaryDimensions, type SummaryRow } from './summary-row.ts';

/** Windows are kept this long after they end; rows of older windows are dropped. */
export const SUMMARY_RETENTION_MS = HISTORY_RETENTION_MS;

/** Whether a window is past retention at `nowMs` (its rows are dropped, its keys expired). */
export function windowExpired(windowStartMs: number, nowMs: number): boolean {
  return windowStartMs + SUMMARY_WINDOW_MS + SUMMARY_RETENTION_MS <= nowMs;
}

export interface SummaryCount {
  count: number;
  firstMs: number;
  lastMs: number;
}

export interface SummaryEntry extends SummaryCount {
  /** The dimension key (field name in the window). */
  key: string;
  dimensions: SummaryDimensions;
}

/** What one drain batch did (all counts are rows). */
export interface BatchOutcome {
  /** Rows read from the queue and submitted. */
  read: number;
  /** Counted into their window. */
  folded: number;
  /** Removed uncounted: their window is past retention. */
  dropped: number;
  /** Already gone from the queue (counted by another drainer, or an earlier run). */
  duplicates: number;
  /** Removed uncounted: not a summary row. */
  malformed: number;
  /** Rows left in the account's queue after the batch. */
  remaining: number;
}

export interface SummaryQueueDrainer {
  /** Accounts that may have queued rows (an account with an empty queue may be listed). */
  queuedAccounts(): Promise<string[]>;
  /**
   * Reads up to `limit` queued rows of an account and folds them atomically: a row is counted
   * only by the call that removes it from the queue, so re-runs and concurrent drainers never
   * count a row twice.
   */
  drainBatch(accountId: string, limit: number, nowMs: number): Promise<BatchOutcome>;
  /** Forgets an account whose queue is empty (best effort; keeps it if rows arrived). */
  forgetIfEmpty(accountId: string): Promise<void>;
}

export interface SummaryReader {
  /** Window starts in [fromMs, toMs] holding counts for any of the accounts, ascending. */
  windowStarts(accountIds: readonly string[], fromMs: number, toMs: number): Promise<number[]>;
  /** The entries of one window for the accounts, sorted by key. */
  readWindow(accountIds: readonly string[], windowStartMs: number): Promise<SummaryEntry[]>;
}

export interface SummaryStore extends SummaryQueueDrainer, SummaryReader {}

const SummaryDimensionsSchema = z.object({
  userName: z.string(),
  identityType: z.string(),
  accountId: z.string(),
  accessKeyId: z.string(),
  serviceName: z.string(),
  eventName: z.string(),
  apiVersion: z.string(),
  eventRW: z.string(),
  resourceType: z.string(),
  resourceName: z.string(),
  acsRegion: z.string(),
  sourceIpAddress: z.string(),
});

const SummaryRowSchema = z.object({
  eventId: z.string().min(1),
  accountId: z.string(),
  windowStartMs: z.number().int(),
  eventTimeMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  dimensions: SummaryDimensionsSchema,
});

/** A queued row's JSON, or undefined when it is not a summary row. */
export function parseSummaryRow(json: string): SummaryRow | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const parsed = SummaryRowSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
