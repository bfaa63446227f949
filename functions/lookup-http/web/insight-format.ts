/**
 * Pure helpers of the Insights and AccessKeys tabs (no DOM): the insight types, insight events
 * (LookupInsightEvents' Start and End records) paired into insights, and the Event history
 * search that shows an insight's events.
 */
import { isJsonObject, type Json, type JsonObject } from './api.ts';
import { at, text } from './format.ts';
import { utcSecond, type FilterKey } from './query.ts';

/** docs/design.md §3.9's types, in its order, with the sentence that says when each fires. */
export const INSIGHT_TYPES = [
  { type: 'ApiCallRateInsight', label: 'API call rate', sentence: 'Write calls per minute of one API are far above its baseline.' },
  { type: 'ApiErrorRateInsight', label: 'API error rate', sentence: 'Failed calls per minute of one API, or of one error code, are far above their baseline.' },
  { type: 'AkInsight', label: 'AccessKey', sentence: 'Calls of one AccessKey are far above its baseline, or it is used from a network it did not use before.' },
  { type: 'IpInsight', label: 'New IP', sentence: 'Write or sensitive calls come from an IP the account did not use in the baseline period.' },
  { type: 'PolicyChangeInsight', label: 'Policy change', sentence: 'RAM permission changes burst far above their baseline, or come from a new identity.' },
  { type: 'PasswordChangeInsight', label: 'Password change', sentence: 'Password changes and resets burst far above their baseline.' },
  { type: 'TrailConcealmentInsight', label: 'Trail concealment', sentence: 'A trail was stopped, deleted or narrowed.' },
] as const;
export type InsightTypeName = (typeof INSIGHT_TYPES)[number]['type'];

export function insightTypeLabel(type: string): string {
  return INSIGHT_TYPES.find((t) => t.type === type)?.label ?? type;
}

const MINUTE = 60_000;

/** One insight: its Start and End events (either may be outside the window read). */
export interface Insight {
  id: string;
  type: string;
  object: string;
  region: string;
  startMs: number;
  /** undefined: still open (no End event). */
  endMs: number | undefined;
  /** The latest record's statistics and attributions (the End's when closed). */
  context: JsonObject | undefined;
  start?: JsonObject;
  end?: JsonObject;
}

function timeOf(event: JsonObject | undefined): number {
  return Date.parse(text(event, 'eventTime') ?? '');
}

/** Start and End events paired by sharedEventId, newest start first. */
export function pairInsights(events: readonly JsonObject[]): Insight[] {
  const byId = new Map<string, { start?: JsonObject; end?: JsonObject }>();
  for (const e of events) {
    const id = text(e, 'sharedEventId') ?? text(e, 'eventId');
    if (!id) continue;
    const entry = byId.get(id) ?? {};
    if (text(e, 'insightDetails', 'state') === 'End') entry.end = e;
    else entry.start = e;
    byId.set(id, entry);
  }
  const out: Insight[] = [];
  for (const [id, { start, end }] of byId) {
    const latest = end ?? start;
    if (!latest) continue;
    const context = at(latest, 'insightDetails', 'insightContext');
    const endMs = end ? timeOf(end) : undefined;
    // An End whose Start is older than the window: its duration says when it began.
    const duration = Number(at(context, 'statistics', 'insightDuration') ?? 1);
    const startMs = start ? timeOf(start) : (endMs ?? 0) - Math.max(1, Number.isFinite(duration) ? duration : 1) * MINUTE;
    if (Number.isNaN(startMs)) continue;
    out.push({
      id,
      type: text(latest, 'insightDetails', 'insightType') ?? '—',
      object: text(latest, 'insightDetails', 'insightObject') ?? '',
      region: text(latest, 'acsRegion') ?? '',
      startMs,
      endMs: endMs !== undefined && !Number.isNaN(endMs) ? endMs : undefined,
      context: isJsonObject(context) ? context : undefined,
      ...(start ? { start } : {}),
      ...(end ? { end } : {}),
    });
  }
  return out.sort((a, b) => b.startMs - a.startMs || a.id.localeCompare(b.id));
}

/** The filter of Event history that matches an insight's object, if one does. */
export function insightFilter(type: string, object: string): { filterKey: FilterKey; filterValue: string } | undefined {
  if (!object) return undefined;
  switch (type) {
    case 'ApiCallRateInsight':
    case 'ApiErrorRateInsight': {
      // `Ecs:DeleteInstance` → the event name; an error code alone has no Event history filter
      const colon = object.indexOf(':');
      return colon > 0 && colon < object.length - 1 ? { filterKey: 'EventName', filterValue: object.slice(colon + 1) } : undefined;
    }
    case 'AkInsight':
      return { filterKey: 'EventAccessKeyId', filterValue: object };
    case 'IpInsight':
      return { filterKey: 'SourceIpAddress', filterValue: object };
    default:
      return undefined;
  }
}

/**
 * The custom range (UTC seconds) of an insight's window: its first minute to its end (an open
 * one: now). LookupEvents' EndTime covers its whole second, so a closed insight ends a second early.
 */
export function insightRange(insight: Pick<Insight, 'startMs' | 'endMs'>, nowMs: number): { from: string; to: string } {
  const from = utcSecond(insight.startMs);
  const endMs = insight.endMs !== undefined ? insight.endMs - 1000 : nowMs;
  const to = utcSecond(Math.max(endMs, insight.startMs + 1000));
  return { from, to };
}

/** `{value, count}` attributions of a dimension, as pairs. */
export function attributions(context: JsonObject | undefined, dimension: string): [value: string, count: number][] {
  const list = at(context, 'attributions', dimension);
  if (!Array.isArray(list)) return [];
  return list.filter(isJsonObject).map((a): [string, number] => [text(a, 'value') ?? '—', Number(a['count'] ?? 0)]);
}

/** Minutes as `45 min` or `3 h 5 min`. */
export function formatMinutes(minutes: number): string {
  if (!Number.isFinite(minutes)) return '—';
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = Math.round(minutes % 60);
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** A per-minute rate to two decimals at most. */
export function formatRate(value: Json | undefined): string {
  const n = Number(value);
  return typeof value === 'number' && Number.isFinite(n) ? `${Math.round(n * 100) / 100} per minute` : '—';
}

/** A use's Detail (the event's summary as a JSON text), read safely. */
export function useDetail(detail: Json | undefined): JsonObject {
  if (typeof detail !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(detail);
    return isJsonObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
