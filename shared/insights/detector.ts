/**
 * The Insights model for one account and one evaluated minute (docs/design.md §3.9). Pure: the
 * caller reads the minute's counts, the baselines and the novelty marks; this decides which
 * insights open (Start) and which close (End), and builds their events.
 *
 * - rate: value ≥ max(minCount, mean + K_SIGMA·sd), mean and sd of the series' per-minute counts
 *   over the baseline period (BASELINE_MINUTES minutes, absent minutes counting 0), computed from
 *   the running per-hour sums and sums of squares the drain keeps.
 * - novel: ≥ 1 call and the object was not seen in the baseline period (IpInsight: nor allowlisted).
 * - immediate: ≥ 1 call (TrailConcealmentInsight).
 * Types that need a baseline stay silent until the account has BASELINE_MS of history. An open
 * insight keeps the threshold it opened with and closes after END_QUIET_MINUTES consecutive
 * minutes under it.
 */
import { createHash } from 'node:crypto';
import {
  ATTRIBUTION_TOP_N,
  BASELINE_MINUTES,
  END_QUIET_MINUTES,
  INSIGHT_MINUTE_MS,
  INSIGHT_TYPES,
  K_SIGMA,
  MAX_TALLY_ENTRIES,
  NOVELTY_MIN_COUNT,
  type InsightType,
  type SeriesKind,
} from './types.ts';
import { ATTRIBUTION_DIMENSIONS, parseSeriesKey, type AttributionDimension } from './series.ts';

export interface BaselineStat {
  sum: number;
  sumSq: number;
}

/** Attribution tallies: dimension → value → count. */
export type Tallies = Partial<Record<AttributionDimension, Record<string, number>>>;

export interface MinuteData {
  counts: ReadonlyMap<string, number>;
  attributions: ReadonlyMap<string, Tallies>;
}

export interface OpenInsight {
  series: string;
  type: InsightType;
  kind: SeriesKind;
  object: string;
  sharedEventId: string;
  startMinuteMs: number;
  lastOverMinuteMs: number;
  quietMinutes: number;
  threshold: number;
  baseline: number;
  insightCount: number;
  tallies: Tallies;
}

export interface InsightEvent {
  eventVersion: 1;
  eventType: 'ActionTrailInsight';
  eventCategory: 'Insight';
  eventId: string;
  eventTime: string;
  acsRegion: string;
  recipientAccountId: string;
  sharedEventId: string;
  insightDetails: {
    state: 'Start' | 'End';
    insightType: InsightType;
    insightObject: string;
    insightContext: {
      statistics: { insight: number; insightDuration: number; baseline: number; baselineDuration: number; insightCount: number };
      attributions: Record<'users' | 'accessKeys' | 'ips' | 'events' | 'errorCodes', { value: string; count: number }[]>;
    };
  };
}

export interface MinuteInput {
  accountId: string;
  minuteMs: number;
  enabled: ReadonlySet<InsightType>;
  /** Whether the account has BASELINE_MS of history before this minute. */
  historyReady: boolean;
  /** The region of an insight whose calls name none. */
  defaultRegion: string;
  isAllowlisted(ip: string): boolean;
  data: MinuteData;
  /** Baselines of the rate series asked for (absent: all zero). */
  baselines: ReadonlyMap<string, BaselineStat>;
  /** Novelty series seen in the baseline period before this minute. */
  seen: ReadonlySet<string>;
}

/** A rate needs its type's minCount; a novelty or an immediate type fires on one call (NOVELTY_MIN_COUNT). */
export function minimumOf(type: InsightType, kind: SeriesKind): number {
  return kind === 'rate' ? INSIGHT_TYPES[type].minCount : NOVELTY_MIN_COUNT;
}

export function statsOf(stat: BaselineStat | undefined): { mean: number; sd: number } {
  if (!stat) return { mean: 0, sd: 0 };
  const mean = stat.sum / BASELINE_MINUTES;
  const variance = Math.max(0, stat.sumSq / BASELINE_MINUTES - mean * mean);
  return { mean, sd: Math.sqrt(variance) };
}

export function thresholdOf(type: InsightType, stat: BaselineStat | undefined): { threshold: number; baseline: number } {
  const { mean, sd } = statsOf(stat);
  return { threshold: Math.max(INSIGHT_TYPES[type].minCount, mean + K_SIGMA * sd), baseline: mean };
}

/** Series of a minute that could open an insight: enabled type, at least the type's minimum. */
export function candidatesOf(data: MinuteData, enabled: ReadonlySet<InsightType>, open: ReadonlyMap<string, OpenInsight>): { rate: string[]; novel: string[] } {
  const rate: string[] = [];
  const novel: string[] = [];
  for (const [series, count] of data.counts) {
    if (open.has(series)) continue;
    const id = parseSeriesKey(series);
    if (!id || !enabled.has(id.type) || count < minimumOf(id.type, id.kind)) continue;
    if (id.kind === 'rate') rate.push(series);
    else if (id.kind === 'novel') novel.push(series);
  }
  return { rate, novel };
}

function uuidOf(...parts: (string | number)[]): string {
  const hex = createHash('sha256').update(['trailkeeper-insight', ...parts].join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function mergeTallies(into: Tallies, add: Tallies | undefined): void {
  if (!add) return;
  for (const dim of ATTRIBUTION_DIMENSIONS) {
    const values = add[dim];
    if (!values) continue;
    const target = (into[dim] ??= {});
    for (const [value, count] of Object.entries(values)) target[value] = (target[value] ?? 0) + count;
    // bounded: keep the MAX_TALLY_ENTRIES largest
    const entries = Object.entries(target);
    if (entries.length > MAX_TALLY_ENTRIES) {
      into[dim] = Object.fromEntries(entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_TALLY_ENTRIES));
    }
  }
}

function top(values: Record<string, number> | undefined): { value: string; count: number }[] {
  return Object.entries(values ?? {})
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, ATTRIBUTION_TOP_N)
    .map(([value, count]) => ({ value, count }));
}

const round = (n: number): number => Math.round(n * 100) / 100;

function eventOf(accountId: string, open: OpenInsight, state: 'Start' | 'End', atMs: number, defaultRegion: string): InsightEvent {
  const duration = (open.lastOverMinuteMs - open.startMinuteMs) / INSIGHT_MINUTE_MS + 1;
  const needsBaseline = INSIGHT_TYPES[open.type].needsBaseline && open.kind === 'rate';
  return {
    eventVersion: 1,
    eventType: 'ActionTrailInsight',
    eventCategory: 'Insight',
    eventId: uuidOf(accountId, open.series, open.startMinuteMs, state),
    eventTime: new Date(atMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    acsRegion: top(open.tallies.r)[0]?.value ?? defaultRegion,
    recipientAccountId: accountId,
    sharedEventId: open.sharedEventId,
    insightDetails: {
      state,
      insightType: open.type,
      insightObject: open.object,
      insightContext: {
        statistics: {
          insight: round(open.insightCount / duration),
          insightDuration: duration,
          baseline: round(open.baseline),
          baselineDuration: needsBaseline || open.kind === 'novel' ? BASELINE_MINUTES : 0,
          insightCount: open.insightCount,
        },
        attributions: {
          users: top(open.tallies.u),
          accessKeys: top(open.tallies.k),
          ips: top(open.tallies.i),
          events: top(open.tallies.e),
          errorCodes: top(open.tallies.c),
        },
      },
    },
  };
}

/** One evaluated minute: closes what has been quiet long enough, opens what is over threshold. */
export function evaluateMinute(input: MinuteInput, open: Map<string, OpenInsight>): InsightEvent[] {
  const events: InsightEvent[] = [];
  const m = input.minuteMs;
  for (const [series, insight] of [...open]) {
    const value = input.data.counts.get(series) ?? 0;
    if (value >= insight.threshold) {
      // the insight's count and attributions cover its minutes over threshold only
      insight.insightCount += value;
      mergeTallies(insight.tallies, input.data.attributions.get(series));
      insight.lastOverMinuteMs = m;
      insight.quietMinutes = 0;
    } else if (++insight.quietMinutes >= END_QUIET_MINUTES) {
      events.push(eventOf(input.accountId, insight, 'End', insight.lastOverMinuteMs + INSIGHT_MINUTE_MS, input.defaultRegion));
      open.delete(series);
    }
  }
  for (const [series, value] of input.data.counts) {
    if (open.has(series)) continue;
    const id = parseSeriesKey(series);
    if (!id || !input.enabled.has(id.type)) continue;
    const info = INSIGHT_TYPES[id.type];
    if (value < minimumOf(id.type, id.kind)) continue;
    if (info.needsBaseline && !input.historyReady) continue;
    let threshold = 1;
    let baseline = 0;
    if (id.kind === 'rate') {
      ({ threshold, baseline } = thresholdOf(id.type, input.baselines.get(series)));
      if (value < threshold) continue;
    } else if (id.kind === 'novel') {
      if (input.seen.has(series)) continue;
      if (id.type === 'IpInsight' && input.isAllowlisted(id.object)) continue;
    }
    const insight: OpenInsight = {
      series,
      type: id.type,
      kind: id.kind,
      object: id.kind === 'novel' && id.type === 'AkInsight' ? id.object.slice(0, id.object.indexOf('@')) : id.object,
      sharedEventId: uuidOf(input.accountId, series, m),
      startMinuteMs: m,
      lastOverMinuteMs: m,
      quietMinutes: 0,
      threshold,
      baseline,
      insightCount: value,
      tallies: {},
    };
    mergeTallies(insight.tallies, input.data.attributions.get(series));
    open.set(series, insight);
    events.push(eventOf(input.accountId, insight, 'Start', m, input.defaultRegion));
  }
  return events;
}
