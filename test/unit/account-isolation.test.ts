/**
 * The timers that work through many accounts in one run never let one account stop another
 * (shared/accounts/account-failures.ts): insights-cron's drain and evaluation and summarize-cron's
 * drain report the failing account and go on; what failed stays queued for the next run.
 * (alerts-cron's run: test/integration/alerts.test.ts, on Redis.)
 */
import { describe, expect, it } from 'vitest';
import { analysisRow } from '../helpers/analysis-row.ts';
import { MAX_REPORTED_FAILURES } from '../../shared/accounts/account-failures.ts';
import { runInsights } from '../../shared/insights/engine.ts';
import { MemoryInsightsStore } from '../../shared/insights/memory-store.ts';
import type { QueuedAnalysisRow } from '../../shared/insights/engine.ts';
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';
import type { BatchOutcome, SummaryQueueDrainer } from '../../shared/summaries/summary-store.ts';

const A = '1111111111111111';
const B = '2222222222222222';
const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);

/** A memory store whose reads of the accounts in `broken` fail, as a store fault limited to them would. */
class FailingInsightsStore extends MemoryInsightsStore {
  constructor(private readonly broken: ReadonlySet<string>) {
    super();
  }
  override async readQueue(accountId: string, limit: number): Promise<QueuedAnalysisRow[]> {
    if (this.broken.has(accountId)) throw new Error(`queue of ${accountId} unreadable`);
    return super.readQueue(accountId, limit);
  }
}

const rowsOf = (accountId: string, n: number) => Array.from({ length: n }, (_, i) => analysisRow(accountId, NOW - 60_000 + i * 100));
const ports = (store: MemoryInsightsStore) => ({ store, consumers: [], deliver: async () => {}, now: () => NOW, region: 'cn-hangzhou' });

describe('insights-cron: one account failing', () => {
  it('is reported with its stage, and the next account is drained; its rows stay queued', async () => {
    const store = new FailingInsightsStore(new Set([A]));
    store.enqueue(A, rowsOf(A, 3));
    store.enqueue(B, rowsOf(B, 4));
    const report = await runInsights(ports(store));
    expect(report.accounts).toBe(2);
    expect(report.failed).toBe(1);
    expect(report.failures).toEqual([{ accountId: A, stage: 'drain', message: `queue of ${A} unreadable` }]);
    expect(report.read).toBe(4);
    expect(store.account(B).queue.size).toBe(0);
    expect(store.account(A).queue.size).toBe(3);
  });

  it('an outage of every account is counted whole and listed up to MAX_REPORTED_FAILURES', async () => {
    const accounts = Array.from({ length: MAX_REPORTED_FAILURES + 5 }, (_, i) => String(3_000_000_000_000_000 + i));
    const store = new FailingInsightsStore(new Set(accounts));
    for (const accountId of accounts) store.enqueue(accountId, rowsOf(accountId, 1));
    const report = await runInsights(ports(store));
    expect(report.failed).toBe(accounts.length);
    expect(report.failures).toHaveLength(MAX_REPORTED_FAILURES);
    expect(report.read).toBe(0);
  });
});

describe('summarize-cron: one account failing', () => {
  it('is reported, the others are drained, and the run is not complete', async () => {
    const queues = new Map([
      [A, 3],
      [B, 5],
    ]);
    const drained: string[] = [];
    const store: SummaryQueueDrainer = {
      queuedAccounts: async () => [...queues.keys()],
      drainBatch: async (accountId, limit): Promise<BatchOutcome> => {
        if (accountId === A) throw new Error('fold script refused');
        const left = queues.get(accountId) ?? 0;
        const read = Math.min(limit, left);
        queues.set(accountId, left - read);
        drained.push(accountId);
        return { read, folded: read, dropped: 0, duplicates: 0, malformed: 0, remaining: left - read };
      },
      forgetIfEmpty: async () => {},
    };
    const report = await drainSummaryQueues(store, () => NOW, { batchSize: 2 });
    expect(report.failures).toEqual([{ accountId: A, stage: 'drain', message: 'fold script refused' }]);
    expect(report.failed).toBe(1);
    expect(report.folded).toBe(5);
    expect(queues.get(B)).toBe(0);
    expect(queues.get(A)).toBe(3);
    expect(drained).toEqual([B, B, B]);
    expect(report.complete).toBe(false);
  });
});
