/**
 * classify's analysis of a batch (shared/insights/engine.ts analyseBatch, docs/design.md §3.9):
 * counted once per batch, the other consumers fed first, and a failure never lost nor counted twice.
 */
import { describe, expect, it } from 'vitest';
import type { AnalysisConsumer, AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { analyseBatch, type BatchAnalysisPorts } from '../../shared/insights/engine.ts';
import { MemoryInsightsStore } from '../../shared/insights/memory-store.ts';
import { analysisRow } from '../helpers/analysis-row.ts';

const A = '1234567890123456';
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

function harness(options: { failConsumer?: number; failFold?: 'before' | 'after' } = {}) {
  const store = new MemoryInsightsStore();
  const seen: AnalysisRow[][] = [];
  const queued: AnalysisRow[][] = [];
  const warnings: string[] = [];
  let consumerCalls = 0;
  const consumer: AnalysisConsumer = {
    consume: async (_accountId, rows) => {
      consumerCalls += 1;
      if (options.failConsumer === consumerCalls) throw new Error('audit down');
      seen.push([...rows]);
    },
  };
  const failing: BatchAnalysisPorts['store'] = {
    foldBatch: async (accountId, batchId, items, nowMs) => {
      if (options.failFold === 'before') throw new Error('fold refused');
      const out = await store.foldBatch(accountId, batchId, items);
      if (options.failFold === 'after') throw new Error(`reply lost (${out.counted} counted)`);
      return out;
    },
    batchFolded: (accountId, batchId) => store.batchFolded(accountId, batchId),
  };
  const ports: BatchAnalysisPorts = {
    store: options.failFold ? failing : store,
    consumers: [consumer],
    queue: async (_accountId, rows) => {
      queued.push([...rows]);
    },
    now: () => NOW,
    warn: (message) => warnings.push(message),
  };
  return { store, ports, seen, queued, warnings };
}

const rows = (n: number) => Array.from({ length: n }, (_v, i) => analysisRow(A, NOW - 5 * 60_000 + i * 1000, { eventName: i % 2 ? 'DeleteInstance' : 'DescribeInstances', eventRW: i % 2 ? 'Write' : 'Read' }));

describe('analyseBatch', () => {
  it('feeds the consumers, counts every row once, and lists the account for evaluation', async () => {
    const { store, ports, seen, queued } = harness();
    const batch = rows(6);
    expect(await analyseBatch(ports, A, 'obj-1', batch)).toEqual({ counted: 6, repeated: false, queued: 0 });
    expect(seen).toEqual([batch]);
    expect(queued).toEqual([]);
    expect((await store.meta(A)).counted).toBe(6);
    expect(await store.evaluationAccounts()).toEqual([A]);
  });

  it('the same batch again (a classify re-run) feeds the consumers again but counts nothing', async () => {
    const { store, ports, seen } = harness();
    const batch = rows(4);
    await analyseBatch(ports, A, 'obj-1', batch);
    expect(await analyseBatch(ports, A, 'obj-1', batch)).toEqual({ counted: 0, repeated: true, queued: 0 });
    expect(seen).toHaveLength(2);
    expect((await store.meta(A)).counted).toBe(4);
    // another batch counts
    expect((await analyseBatch(ports, A, 'obj-2', rows(3))).counted).toBe(3);
    expect((await store.meta(A)).counted).toBe(7);
  });

  it('rows past the counters horizon reach the consumers but are not counted', async () => {
    const { store, ports, seen } = harness();
    const old = [analysisRow(A, NOW - 40 * 24 * 3_600_000)];
    expect(await analyseBatch(ports, A, 'obj-old', old)).toEqual({ counted: 0, repeated: false, queued: 0 });
    expect(seen).toEqual([old]);
    expect((await store.meta(A)).counted).toBe(0);
  });

  it('a consumer that fails sends the rows to the queue, counted by no one yet', async () => {
    const { store, ports, queued, warnings } = harness({ failConsumer: 1 });
    const batch = rows(5);
    expect(await analyseBatch(ports, A, 'obj-1', batch)).toEqual({ counted: 0, repeated: false, queued: 5 });
    expect(queued).toEqual([batch]);
    expect((await store.meta(A)).counted).toBe(0);
    expect(warnings).toHaveLength(1);
  });

  it('a fold that fails before counting queues the rows; one that counted but lost its reply does not', async () => {
    const before = harness({ failFold: 'before' });
    expect(await analyseBatch(before.ports, A, 'obj-1', rows(3))).toEqual({ counted: 0, repeated: false, queued: 3 });
    expect(before.queued).toHaveLength(1);
    const after = harness({ failFold: 'after' });
    expect(await analyseBatch(after.ports, A, 'obj-1', rows(3))).toEqual({ counted: 0, repeated: true, queued: 0 });
    expect(after.queued).toEqual([]);
    expect((await after.store.meta(A)).counted).toBe(3);
  });

  it('an empty batch touches nothing', async () => {
    const { store, ports, seen } = harness();
    expect(await analyseBatch(ports, A, 'obj-1', [])).toEqual({ counted: 0, repeated: false, queued: 0 });
    expect(seen).toEqual([]);
    expect(await store.batchFolded(A, 'obj-1')).toBe(false);
  });
});
