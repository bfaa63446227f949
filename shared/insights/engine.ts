/**
 * insights-cron's use case (docs/design.md §3.9): drain every account's analysis queue exactly
 * once into the per-minute counters, hand the drained rows to the other analysis consumers (the
 * AccessKey audit), then evaluate the accounts that had rows or have open insights, minute by
 * minute, storing and delivering the insight events. Time comes from `now()`.
 *
 * Exactly once: the store counts a row only in the script run that removes it from the queue.
 * The other consumers see a batch before it is folded (so a crash between the two makes them see
 * it again — they are idempotent). Evaluation is replay-safe: event ids derive from the account,
 * the series, the insight's first minute and its state, and the cursor moves only after the
 * events are stored and delivered.
 */
import { decodeAnalysisRow } from '../analysis/analysis-row-codec.ts';
import type { AnalysisConsumer, AnalysisRow } from '../analysis/analysis-row.ts';
import { candidatesOf, evaluateMinute, type BaselineStat, type InsightEvent, type MinuteData, type OpenInsight } from './detector.ts';
import { noteAccountFailure, type FailureReport } from '../accounts/account-failures.ts';
import { allowlistMatcher } from './allowlist.ts';
import { CountersBySignature, type RowCounters } from './series.ts';
import { BASELINE_MS, HOUR_MS, INSIGHT_MINUTE_MS, type InsightType } from './types.ts';

export const DEFAULT_ANALYSIS_BATCH = 5000;
/** insights-cron's timeout is 55 s: stop starting drain batches after this. */
export const DEFAULT_INSIGHTS_BUDGET_MS = 30_000;
/** An account evaluated for the first time starts this many minutes back. */
export const FIRST_LOOKBACK_MINUTES = 5;
/** At most this many minutes evaluated per account and run; an account further behind skips ahead. */
export const MAX_CATCHUP_MINUTES = 15;
/** Counters of rows older than this are not kept (the baseline period plus the evaluated hour). */
export const COUNTER_HORIZON_MS = BASELINE_MS + 2 * HOUR_MS;

export interface QueuedAnalysisRow {
  eventId: string;
  json: string;
}

/** A row to fold: its time and counters, or none (malformed or past the horizon: removed uncounted). */
export interface FoldItem {
  eventId: string;
  timeMs: number;
  counters?: RowCounters;
}

export interface FoldOutcome {
  counted: number;
  dropped: number;
  duplicates: number;
  remaining: number;
}

export interface AccountInsightState {
  cursorMinuteMs?: number;
  open: OpenInsight[];
}

export interface InsightsStore {
  queuedAccounts(): Promise<string[]>;
  readQueue(accountId: string, limit: number): Promise<QueuedAnalysisRow[]>;
  /** Atomically: removes each row from the queue and, only if it removed it, counts it. */
  fold(accountId: string, items: readonly FoldItem[], nowMs: number): Promise<FoldOutcome>;
  /**
   * Atomically: counts a classify batch's rows unless that batch was folded before (its marker), and
   * lists the account for evaluation. `duplicates` is the batch's size when it was.
   */
  foldBatch(accountId: string, batchId: string, items: readonly FoldItem[], nowMs: number): Promise<FoldOutcome>;
  /** Whether foldBatch counted this batch (its marker is there). */
  batchFolded(accountId: string, batchId: string): Promise<boolean>;
  forgetIfEmpty(accountId: string): Promise<void>;

  minute(accountId: string, minuteMs: number): Promise<MinuteData>;
  /** Sums over the hours [fromHourMs, toHourMs) of each rate series. */
  baselines(accountId: string, series: readonly string[], fromHourMs: number, toHourMs: number): Promise<Map<string, BaselineStat>>;
  /** The novelty series marked in [fromMs, beforeMinuteMs). */
  seen(accountId: string, series: readonly string[], fromMs: number, beforeMinuteMs: number): Promise<Set<string>>;
  /** The account's earliest counted event time, latest counted minute, and rows counted so far. */
  meta(accountId: string): Promise<{ firstMs?: number; latestMinuteMs?: number; counted: number }>;

  /** Accounts to evaluate: had rows since their last evaluation, or have open insights. */
  evaluationAccounts(): Promise<string[]>;
  markForEvaluation(accountId: string): Promise<void>;
  forgetEvaluated(accountId: string): Promise<void>;
  /** One evaluator per account at a time; false when another holds it. */
  lock(accountId: string, ttlMs: number): Promise<boolean>;
  unlock(accountId: string): Promise<void>;
  state(accountId: string): Promise<AccountInsightState>;
  saveState(accountId: string, state: AccountInsightState): Promise<void>;
  enabledTypes(accountId: string): Promise<Set<InsightType>>;
  allowlist(accountId: string): Promise<string[]>;
  /** Keeps insight events (idempotent by eventId). */
  putEvents(accountId: string, events: readonly InsightEvent[]): Promise<void>;
}

export interface InsightsRunPorts {
  store: InsightsStore;
  /** The other analysis consumers (the AccessKey audit): each gets every drained batch. */
  consumers: readonly AnalysisConsumer[];
  /** Appends insight events to the outboxes of the account's trails that select their type. */
  deliver(accountId: string, events: readonly InsightEvent[]): Promise<void>;
  now(): number;
  region: string;
}

export interface InsightsReport extends FailureReport<'drain' | 'evaluate'> {
  accounts: number;
  batches: number;
  read: number;
  counted: number;
  dropped: number;
  duplicates: number;
  malformed: number;
  remaining: number;
  evaluated: number;
  started: number;
  ended: number;
  open: number;
  ms: number;
}

/**
 * The fold items of rows: each row's counters, computed once per signature (series.ts); rows past
 * the counters' horizon are removed uncounted.
 */
/** The process's memo of row counters by signature (pure: shared by every batch; bounded). */
const ROW_COUNTERS = new CountersBySignature();

export function foldItemsOf(rows: readonly AnalysisRow[], nowMs: number, counters: CountersBySignature = ROW_COUNTERS): FoldItem[] {
  const horizon = nowMs - COUNTER_HORIZON_MS;
  const items: FoldItem[] = [];
  for (const row of rows) {
    if (row.eventTimeMs < horizon) items.push({ eventId: row.eventId, timeMs: row.eventTimeMs });
    else items.push({ eventId: row.eventId, timeMs: row.eventTimeMs, counters: counters.of(row) });
  }
  return items;
}

export interface BatchAnalysisPorts {
  store: Pick<InsightsStore, 'foldBatch' | 'batchFolded'>;
  /** The other analysis consumers (the AccessKey audit), as insights-cron's drain hands them rows. */
  consumers: readonly AnalysisConsumer[];
  /** Queues rows for insights-cron's drain (the analysis queue): the way round when analysing here fails. */
  queue(accountId: string, rows: readonly AnalysisRow[]): Promise<void>;
  now(): number;
  warn(message: string, fields: Record<string, unknown>): void;
}

export interface BatchAnalysisOutcome {
  counted: number;
  /** The batch had been folded before (a re-run): nothing counted again. */
  repeated: boolean;
  /** Analysing here failed; the rows went to the analysis queue instead. */
  queued: number;
}

/**
 * classify's analysis of one batch's new events of one account (docs/design.md §3.9): the other
 * consumers see the rows, then the batch's counters are folded at once — no queue, no drain —
 * exactly once per batch (the store's marker). Detection never blocks recording: if any of it
 * fails, the rows are queued for insights-cron's drain instead (skipped when the fold had in fact
 * happened: its marker is there), and only a failure to queue them fails the batch.
 */
export async function analyseBatch(ports: BatchAnalysisPorts, accountId: string, batchId: string, rows: readonly AnalysisRow[]): Promise<BatchAnalysisOutcome> {
  if (rows.length === 0) return { counted: 0, repeated: false, queued: 0 };
  try {
    // the other consumers first: a failure before the fold queues the rows, and they see them again (idempotent)
    for (const consumer of ports.consumers) await consumer.consume(accountId, rows);
    const outcome = await ports.store.foldBatch(accountId, batchId, foldItemsOf(rows, ports.now()), ports.now());
    return { counted: outcome.counted, repeated: outcome.duplicates > 0 && outcome.counted === 0, queued: 0 };
  } catch (error) {
    ports.warn('analysis of a batch failed; its rows go to the analysis queue', { accountId, rows: rows.length, error: error instanceof Error ? error.message : String(error) });
    if (await ports.store.batchFolded(accountId, batchId)) return { counted: 0, repeated: true, queued: 0 };
    await ports.queue(accountId, rows);
    return { counted: 0, repeated: false, queued: rows.length };
  }
}

const floorMinute = (ms: number): number => Math.floor(ms / INSIGHT_MINUTE_MS) * INSIGHT_MINUTE_MS;
const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;

async function drainAccount(ports: InsightsRunPorts, accountId: string, report: InsightsReport, batchSize: number, deadline: number): Promise<void> {
  for (;;) {
    const rows = await ports.store.readQueue(accountId, batchSize);
    if (rows.length === 0) break;
    const parsed: AnalysisRow[] = [];
    const ids: string[] = [];
    for (const { eventId, json } of rows) {
      const row = decodeAnalysisRow(json, accountId);
      // a row filed under another id than its own is malformed: the fold removes rows by their id
      if (row && row.eventId === eventId) parsed.push(row);
      else ids.push(eventId);
    }
    report.malformed += ids.length;
    // malformed rows are removed uncounted
    const items: FoldItem[] = [...ids.map((eventId) => ({ eventId, timeMs: 0 })), ...foldItemsOf(parsed, ports.now())];
    // the other consumers first: a crash before the fold makes them see the batch again (idempotent)
    for (const consumer of ports.consumers) if (parsed.length > 0) await consumer.consume(accountId, parsed);
    const outcome = await ports.store.fold(accountId, items, ports.now());
    report.batches += 1;
    report.read += rows.length;
    report.counted += outcome.counted;
    report.dropped += outcome.dropped;
    report.duplicates += outcome.duplicates;
    report.remaining = outcome.remaining;
    if (outcome.remaining === 0 || ports.now() >= deadline) break;
  }
  await ports.store.markForEvaluation(accountId);
  await ports.store.forgetIfEmpty(accountId);
}

/** Evaluates the account's complete minutes since its cursor; returns the events written. */
export async function evaluateAccount(ports: InsightsRunPorts, accountId: string, nowMs: number): Promise<InsightEvent[]> {
  const { store } = ports;
  const lastComplete = floorMinute(nowMs) - INSIGHT_MINUTE_MS;
  const state = await store.state(accountId);
  const open = new Map(state.open.map((o) => [o.series, o]));
  let start = state.cursorMinuteMs !== undefined ? state.cursorMinuteMs + INSIGHT_MINUTE_MS : lastComplete - (FIRST_LOOKBACK_MINUTES - 1) * INSIGHT_MINUTE_MS;
  start = Math.max(start, lastComplete - (MAX_CATCHUP_MINUTES - 1) * INSIGHT_MINUTE_MS);
  const meta = await store.meta(accountId);
  const enabled = await store.enabledTypes(accountId);
  const isAllowlisted = allowlistMatcher(enabled.has('IpInsight') ? await store.allowlist(accountId) : []);
  const events: InsightEvent[] = [];
  for (let m = start; m <= lastComplete; m += INSIGHT_MINUTE_MS) {
    if (open.size === 0 && (meta.latestMinuteMs === undefined || m > meta.latestMinuteMs || enabled.size === 0)) continue;
    const data = await store.minute(accountId, m);
    const { rate, novel } = candidatesOf(data, enabled, open);
    const hour = floorHour(m);
    const [baselines, seen] = await Promise.all([
      rate.length > 0 ? store.baselines(accountId, rate, hour - BASELINE_MS, hour) : Promise.resolve(new Map<string, BaselineStat>()),
      novel.length > 0 ? store.seen(accountId, novel, hour - BASELINE_MS, m) : Promise.resolve(new Set<string>()),
    ]);
    events.push(
      ...evaluateMinute(
        {
          accountId,
          minuteMs: m,
          enabled,
          historyReady: meta.firstMs !== undefined && meta.firstMs <= m - BASELINE_MS,
          defaultRegion: ports.region,
          isAllowlisted,
          data,
          baselines,
          seen,
        },
        open,
      ),
    );
  }
  if (events.length > 0) {
    await store.putEvents(accountId, events);
    await ports.deliver(accountId, events);
  }
  const cursor = Math.max(lastComplete, state.cursorMinuteMs ?? Number.NEGATIVE_INFINITY);
  await store.saveState(accountId, { cursorMinuteMs: cursor, open: [...open.values()] });
  if (open.size === 0 && (meta.latestMinuteMs === undefined || meta.latestMinuteMs <= cursor)) await store.forgetEvaluated(accountId);
  return events;
}

/** Per-account evaluator lock: longer than one run, so a crashed run's lock lapses by the next. */
export const EVALUATION_LOCK_MS = 50_000;

export async function runInsights(ports: InsightsRunPorts, options: { batchSize?: number; budgetMs?: number } = {}): Promise<InsightsReport> {
  const started = ports.now();
  const deadline = started + (options.budgetMs ?? DEFAULT_INSIGHTS_BUDGET_MS);
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_ANALYSIS_BATCH);
  const report: InsightsReport = { accounts: 0, batches: 0, read: 0, counted: 0, dropped: 0, duplicates: 0, malformed: 0, remaining: 0, evaluated: 0, started: 0, ended: 0, open: 0, ms: 0, failed: 0, failures: [] };
  const queued = await ports.store.queuedAccounts();
  report.accounts = queued.length;
  let remaining = 0;
  // One account's failure (a row its store refuses, a consumer that throws) never stops the
  // others' drain or evaluation: it is reported, and its rows stay queued for the next run.
  for (const accountId of queued) {
    if (ports.now() >= deadline) break;
    report.remaining = 0;
    try {
      await drainAccount(ports, accountId, report, batchSize, deadline);
    } catch (error) {
      noteAccountFailure(report, accountId, 'drain', error);
    }
    remaining += report.remaining;
  }
  report.remaining = remaining;
  const nowMs = ports.now();
  for (const accountId of await ports.store.evaluationAccounts()) {
    try {
      if (!(await ports.store.lock(accountId, EVALUATION_LOCK_MS))) continue;
      try {
        const events = await evaluateAccount(ports, accountId, nowMs);
        report.evaluated += 1;
        for (const e of events) report[e.insightDetails.state === 'Start' ? 'started' : 'ended'] += 1;
        report.open += (await ports.store.state(accountId)).open.length;
      } finally {
        await ports.store.unlock(accountId);
      }
    } catch (error) {
      noteAccountFailure(report, accountId, 'evaluate', error);
    }
  }
  report.ms = ports.now() - started;
  return report;
}
