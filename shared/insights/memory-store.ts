/**
 * An in-memory InsightsStore with the Redis store's semantics (adapters/redis/insights-store.ts):
 * the model's unit tests replay days of traffic through it under a test clock. Pure, no I/O.
 */
import type { AnalysisRow } from '../analysis/analysis-row.ts';
import { encodeAnalysisRow } from '../analysis/analysis-row-codec.ts';
import type { BaselineStat, InsightEvent, MinuteData } from './detector.ts';
import type { AccountInsightState, FoldItem, FoldOutcome, InsightsStore, QueuedAnalysisRow } from './engine.ts';
import { minuteAttributions, parseSeriesKey } from './series.ts';
import { HOUR_MS, INSIGHT_MINUTE_MS, INSIGHT_TYPE_NAMES, type InsightType } from './types.ts';

interface Account {
  queue: Map<string, string>;
  minutes: Map<number, Map<string, number>>;
  /** minute → row signature → rows (attributions are rebuilt from them, as the Redis store does) */
  attributions: Map<number, Map<string, number>>;
  hours: Map<number, Map<string, BaselineStat>>;
  marks: Map<number, Map<string, number>>;
  firstMs?: number;
  latestMinuteMs?: number;
  counted: number;
  state: AccountInsightState;
  enabled: Set<InsightType>;
  allow: string[];
  events: Map<string, InsightEvent>;
}

export class MemoryInsightsStore implements InsightsStore {
  readonly accounts = new Map<string, Account>();
  private readonly queued = new Set<string>();
  private readonly evaluate = new Set<string>();
  /** Batches folded by foldBatch (account and batch id). */
  private readonly batches = new Set<string>();

  account(accountId: string): Account {
    let a = this.accounts.get(accountId);
    if (!a) {
      a = { queue: new Map(), counted: 0, minutes: new Map(), attributions: new Map(), hours: new Map(), marks: new Map(), state: { open: [] }, enabled: new Set(INSIGHT_TYPE_NAMES), allow: [], events: new Map() };
      this.accounts.set(accountId, a);
    }
    return a;
  }

  enqueue(accountId: string, rows: readonly AnalysisRow[]): void {
    const a = this.account(accountId);
    for (const row of rows) if (!a.queue.has(row.eventId)) a.queue.set(row.eventId, encodeAnalysisRow(row));
    this.queued.add(accountId);
  }

  async queuedAccounts(): Promise<string[]> {
    return [...this.queued].sort();
  }

  async readQueue(accountId: string, limit: number): Promise<QueuedAnalysisRow[]> {
    return [...this.account(accountId).queue].slice(0, limit).map(([eventId, json]) => ({ eventId, json }));
  }

  async fold(accountId: string, items: readonly FoldItem[]): Promise<FoldOutcome> {
    const a = this.account(accountId);
    const out = this.count(a, items.filter((item) => a.queue.delete(item.eventId)));
    out.duplicates = items.length - out.counted - out.dropped;
    out.remaining = a.queue.size;
    return out;
  }

  async foldBatch(accountId: string, batchId: string, items: readonly FoldItem[]): Promise<FoldOutcome> {
    const key = `${accountId}\n${batchId}`;
    if (this.batches.has(key)) return { counted: 0, dropped: 0, duplicates: items.length, remaining: 0 };
    this.batches.add(key);
    const out = this.count(this.account(accountId), items);
    if (out.counted > 0) this.evaluate.add(accountId);
    return out;
  }

  async batchFolded(accountId: string, batchId: string): Promise<boolean> {
    return this.batches.has(`${accountId}\n${batchId}`);
  }

  private count(a: Account, items: readonly FoldItem[]): FoldOutcome {
    const out: FoldOutcome = { counted: 0, dropped: 0, duplicates: 0, remaining: 0 };
    for (const item of items) {
      if (item.counters) a.counted += 1;
      if (!item.counters) {
        out.dropped += 1;
        continue;
      }
      out.counted += 1;
      const minute = Math.floor(item.timeMs / INSIGHT_MINUTE_MS) * INSIGHT_MINUTE_MS;
      const hour = Math.floor(item.timeMs / HOUR_MS) * HOUR_MS;
      a.firstMs = Math.min(a.firstMs ?? item.timeMs, item.timeMs);
      a.latestMinuteMs = Math.max(a.latestMinuteMs ?? minute, minute);
      const counts = getOr(a.minutes, minute, () => new Map<string, number>());
      const hourStats = getOr(a.hours, hour, () => new Map<string, BaselineStat>());
      const sigs = getOr(a.attributions, minute, () => new Map<string, number>());
      sigs.set(item.counters.signature, (sigs.get(item.counters.signature) ?? 0) + 1);
      for (const series of item.counters.counts) {
        const c = (counts.get(series) ?? 0) + 1;
        counts.set(series, c);
        // baselines are of rate series only
        if (parseSeriesKey(series)?.kind !== 'rate') continue;
        const s = hourStats.get(series) ?? { sum: 0, sumSq: 0 };
        hourStats.set(series, { sum: s.sum + 1, sumSq: s.sumSq + 2 * c - 1 });
      }
      const marks = getOr(a.marks, hour, () => new Map<string, number>());
      for (const mark of item.counters.marks) marks.set(mark, Math.min(marks.get(mark) ?? minute, minute));
    }
    return out;
  }

  async forgetIfEmpty(accountId: string): Promise<void> {
    if (this.account(accountId).queue.size === 0) this.queued.delete(accountId);
  }

  async minute(accountId: string, minuteMs: number): Promise<MinuteData> {
    const a = this.account(accountId);
    const counts = new Map(a.minutes.get(minuteMs) ?? []);
    return { counts, attributions: minuteAttributions(counts, a.attributions.get(minuteMs) ?? []) };
  }

  async baselines(accountId: string, series: readonly string[], fromHourMs: number, toHourMs: number): Promise<Map<string, BaselineStat>> {
    const a = this.account(accountId);
    const out = new Map<string, BaselineStat>();
    for (let h = fromHourMs; h < toHourMs; h += HOUR_MS) {
      const stats = a.hours.get(h);
      if (!stats) continue;
      for (const s of series) {
        const v = stats.get(s);
        if (!v) continue;
        const cur = out.get(s) ?? { sum: 0, sumSq: 0 };
        out.set(s, { sum: cur.sum + v.sum, sumSq: cur.sumSq + v.sumSq });
      }
    }
    return out;
  }

  async seen(accountId: string, series: readonly string[], fromMs: number, beforeMinuteMs: number): Promise<Set<string>> {
    const a = this.account(accountId);
    const out = new Set<string>();
    for (let h = fromMs; h < beforeMinuteMs; h += HOUR_MS) {
      const marks = a.marks.get(h);
      if (!marks) continue;
      for (const s of series) {
        const first = marks.get(s);
        if (first !== undefined && first < beforeMinuteMs) out.add(s);
      }
    }
    return out;
  }

  async meta(accountId: string): Promise<{ firstMs?: number; latestMinuteMs?: number; counted: number }> {
    const a = this.account(accountId);
    return { ...(a.firstMs !== undefined ? { firstMs: a.firstMs } : {}), ...(a.latestMinuteMs !== undefined ? { latestMinuteMs: a.latestMinuteMs } : {}), counted: a.counted };
  }

  async evaluationAccounts(): Promise<string[]> {
    return [...this.evaluate].sort();
  }
  async markForEvaluation(accountId: string): Promise<void> {
    this.evaluate.add(accountId);
  }
  async forgetEvaluated(accountId: string): Promise<void> {
    this.evaluate.delete(accountId);
  }
  async lock(): Promise<boolean> {
    return true;
  }
  async unlock(): Promise<void> {}
  async state(accountId: string): Promise<AccountInsightState> {
    return structuredClone(this.account(accountId).state);
  }
  async saveState(accountId: string, state: AccountInsightState): Promise<void> {
    this.account(accountId).state = structuredClone(state);
  }
  async enabledTypes(accountId: string): Promise<Set<InsightType>> {
    return new Set(this.account(accountId).enabled);
  }
  async allowlist(accountId: string): Promise<string[]> {
    return [...this.account(accountId).allow];
  }
  async setAllowlist(accountId: string, entries: readonly string[]): Promise<void> {
    this.account(accountId).allow = [...entries];
  }
  async putEvents(accountId: string, events: readonly InsightEvent[]): Promise<void> {
    const a = this.account(accountId);
    for (const e of events) if (!a.events.has(e.eventId)) a.events.set(e.eventId, e);
  }
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}
