/**
 * summarize-cron's use case: drain every account's summary queue into its windows, one batch
 * per account in turn (so one big backlog does not starve the others), within a time budget.
 * Idempotent: the store counts a row only when it removes it from the queue.
 */
import { noteAccountFailure, type FailureReport } from '../accounts/account-failures.ts';
import type { BatchOutcome, SummaryQueueDrainer } from './summary-store.ts';

export const DEFAULT_DRAIN_BATCH = 500;
/** summarize-cron's timeout is 55 s: stop starting batches after this. */
export const DEFAULT_DRAIN_BUDGET_MS = 40_000;

export interface DrainOptions {
  batchSize?: number;
  /** Stop starting new batches once this much time has passed. */
  budgetMs?: number;
  /** Stop after reading this many rows in all (a partial drain; tests use it). */
  maxRows?: number;
}

/** The batches' counts summed over a run (`remaining`: rows still queued in the accounts it drained). */
export interface DrainReport extends BatchOutcome, FailureReport<'drain'> {
  accounts: number;
  batches: number;
  /** Whether every listed account's queue was emptied. */
  complete: boolean;
  ms: number;
}

export async function drainSummaryQueues(store: SummaryQueueDrainer, now: () => number, options: DrainOptions = {}): Promise<DrainReport> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_DRAIN_BATCH);
  const budgetMs = options.budgetMs ?? DEFAULT_DRAIN_BUDGET_MS;
  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  const started = now();
  const accounts = await store.queuedAccounts();
  const report: DrainReport = { accounts: accounts.length, batches: 0, read: 0, folded: 0, dropped: 0, duplicates: 0, malformed: 0, remaining: 0, complete: false, ms: 0, failed: 0, failures: [] };
  const left = new Map<string, number>();
  let pending = [...accounts];
  while (pending.length > 0) {
    const next: string[] = [];
    for (const accountId of pending) {
      const limit = Math.min(batchSize, maxRows - report.read);
      if (limit <= 0 || now() - started >= budgetMs) {
        next.push(accountId);
        continue;
      }
      let outcome: BatchOutcome;
      try {
        outcome = await store.drainBatch(accountId, limit, now());
      } catch (error) {
        // this account's rows stay queued for the next run; the others' drain goes on
        noteAccountFailure(report, accountId, 'drain', error);
        continue;
      }
      report.batches += 1;
      report.read += outcome.read;
      report.folded += outcome.folded;
      report.dropped += outcome.dropped;
      report.duplicates += outcome.duplicates;
      report.malformed += outcome.malformed;
      left.set(accountId, outcome.remaining);
      if (outcome.remaining === 0) await store.forgetIfEmpty(accountId);
      // read === 0 with rows left: they are being taken by another drainer; leave them to it.
      else if (outcome.read > 0) next.push(accountId);
    }
    if (next.length > 0 && (report.read >= maxRows || now() - started >= budgetMs)) {
      pending = next;
      break;
    }
    pending = next;
  }
  report.remaining = [...left.values()].reduce((a, b) => a + b, 0);
  report.complete = report.failed === 0 && report.remaining === 0 && pending.every((a) => left.get(a) === 0);
  report.ms = now() - started;
  return report;
}
