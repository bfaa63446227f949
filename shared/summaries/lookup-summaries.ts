/**
 * `LookupEventSummaries` on lookup-http (docs/design.md §3.7–3.8), a pure use case over SummaryReader.
 *
 * Parameters as LookupEvents (parseLookupParams): StartTime/EndTime (default the last 7 days,
 * clamped to the 90-day horizon), Direction (BACKWARD: newest window first), LookupAttribute
 * (one condition, or an allowed pair) — but only keys that are summary dimensions; EventId and
 * EventType are refused (InvalidQueryParameter). MaxResults 1–100 (default 50) counts summaries.
 *
 * Windows overlapping [StartTime, EndTime] are returned whole (a window is the unit counted).
 * Within a window, summaries are in dimension-key order; `Total` is the window's count over
 * every summary matching the filter (not just this page's). NextToken (next-token.ts, bound to
 * the caller under its own domain so a LookupEvents token does not read back here) carries the
 * cursor (windowStart, last dimension key) and the window searched.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { LookupKey } from '../history/history-store.ts';
import { formatUtcSecond, parseLookupParams, type LookupCondition } from '../lookup/lookup-params.ts';
import { issueToken, readToken, type TokenBinding } from '../lookup/next-token.ts';
import { SUMMARY_WINDOW_MS, windowStartOf, type SummaryDimensions } from './summary-row.ts';
import type { SummaryEntry, SummaryReader } from './summary-store.ts';

export const SUMMARY_DEFAULT_MAX_RESULTS = 50;
export const SUMMARY_MAX_MAX_RESULTS = 100;
/** Windows read for one request (each read covers every visible account). */
export const MAX_WINDOW_READS = 200;
/** Dimension keys longer than this go into a cursor as their hash. */
const CURSOR_KEY_MAX = 1000;
/** Cursor meaning "the whole window is done". Keys are JSON arrays: they start with `[`. */
const WINDOW_DONE = '$';

export interface SummaryLookupPorts {
  summaries: SummaryReader;
  accountsVisibleTo(accountId: string): Promise<string[]>;
  tokenKey(): Promise<Buffer>;
  now(): number;
}

/** LookupAttribute keys and the dimension each filters. */
export const SUMMARY_FILTER_DIMENSIONS: Readonly<Partial<Record<LookupKey, keyof SummaryDimensions>>> = {
  ServiceName: 'serviceName',
  EventName: 'eventName',
  User: 'userName',
  ResourceType: 'resourceType',
  ResourceName: 'resourceName',
  EventRW: 'eventRW',
  EventAccessKeyId: 'accessKeyId',
  SourceIpAddress: 'sourceIpAddress',
};

const maxResultsSchema = z
  .string()
  .regex(/^\d{1,3}$/, { error: 'must be an integer' })
  .transform(Number)
  .pipe(z.number().int().min(1, { error: `must be 1–${SUMMARY_MAX_MAX_RESULTS}` }).max(SUMMARY_MAX_MAX_RESULTS, { error: `must be 1–${SUMMARY_MAX_MAX_RESULTS}` }));

function parseMaxResults(text: string | undefined): number {
  if (text === undefined || text === '') return SUMMARY_DEFAULT_MAX_RESULTS;
  const r = maxResultsSchema.safeParse(text);
  if (r.success) return r.data;
  throw new ValidationError('InvalidQueryParameter', `MaxResults: ${r.error.issues[0]?.message ?? 'invalid'}`, 'MaxResults');
}

function filterOf(conditions: readonly LookupCondition[]): (d: SummaryDimensions) => boolean {
  const checks = conditions.map((c) => {
    const dim = SUMMARY_FILTER_DIMENSIONS[c.key];
    if (!dim) {
      throw new ValidationError(
        'InvalidQueryParameter',
        `LookupAttribute: ${c.key} is not a summary dimension; use one of ${Object.keys(SUMMARY_FILTER_DIMENSIONS).join(', ')}`,
        'LookupAttribute',
      );
    }
    return (d: SummaryDimensions) => d[dim] === c.value;
  });
  return (d) => checks.every((check) => check(d));
}

/** The cursor form of a dimension key (hashed when too long for a NextToken). */
function cursorOf(key: string): string {
  return key.length <= CURSOR_KEY_MAX ? key : `#${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}

/** The entries of a sorted window after the cursor. */
function after(entries: readonly SummaryEntry[], cursor: string): readonly SummaryEntry[] {
  if (cursor === WINDOW_DONE) return [];
  if (cursor.startsWith('#')) {
    const at = entries.findIndex((e) => cursorOf(e.key) === cursor);
    return at < 0 ? [] : entries.slice(at + 1);
  }
  return entries.filter((e) => e.key > cursor);
}

function summaryOf(e: SummaryEntry): Record<string, unknown> {
  const d = e.dimensions;
  return {
    UserName: d.userName,
    IdentityType: d.identityType,
    AccountId: d.accountId,
    AccessKeyId: d.accessKeyId,
    ServiceName: d.serviceName,
    EventName: d.eventName,
    ApiVersion: d.apiVersion,
    EventRW: d.eventRW,
    ResourceType: d.resourceType,
    ResourceName: d.resourceName,
    AcsRegion: d.acsRegion,
    SourceIpAddress: d.sourceIpAddress,
    Count: e.count,
    FirstTime: formatUtcSecond(e.firstMs),
    LastTime: formatUtcSecond(e.lastMs),
  };
}

export async function lookupEventSummaries(
  params: Record<string, string>,
  caller: { accountId: string },
  ports: SummaryLookupPorts,
): Promise<Record<string, unknown>> {
  const { MaxResults, ...rest } = params;
  const maxResults = parseMaxResults(MaxResults);
  const p = parseLookupParams(rest, ports.now());
  const conditions = [p.condition, p.filter].filter((c): c is LookupCondition => c !== undefined);
  const matches = filterOf(conditions);
  const accountIds = [...new Set([caller.accountId, ...(await ports.accountsVisibleTo(caller.accountId))])].sort();
  const binding: TokenBinding = {
    // Its own domain: a LookupEvents token for the same query does not read back here.
    callerAccountId: `LookupEventSummaries:${caller.accountId}`,
    accountIds,
    startTime: p.given.startTime,
    endTime: p.given.endTime,
    direction: p.direction,
    conditions,
  };

  let { startMs, endMs } = p;
  let cursor: { windowStartMs: number; key: string } | undefined;
  let tokenKey: Buffer | undefined;
  if (p.nextToken !== undefined) {
    tokenKey = await ports.tokenKey();
    const state = readToken(p.nextToken, binding, tokenKey);
    ({ startMs, endMs } = state);
    cursor = { windowStartMs: state.cursor.timeMs, key: state.cursor.eventId };
  } else if (p.empty) {
    return { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs), Windows: [] };
  }

  const backward = p.direction === 'BACKWARD';
  let starts = await ports.summaries.windowStarts(accountIds, windowStartOf(startMs), endMs);
  if (backward) starts.reverse();
  if (cursor) {
    const c = cursor.windowStartMs;
    starts = starts.filter((ws) => (backward ? ws <= c : ws >= c));
  }

  const windows: Record<string, unknown>[] = [];
  let taken = 0;
  let reads = 0;
  /** A cursor just before window ws in reading order: the next page starts at ws. */
  const boundary = (ws: number): number => (backward ? ws + SUMMARY_WINDOW_MS : ws - SUMMARY_WINDOW_MS);
  /** Where the next page starts, when something may remain after this one. */
  let next: { windowStartMs: number; key: string } | undefined;
  for (const ws of starts) {
    if (cursor && cursor.windowStartMs === ws && cursor.key === WINDOW_DONE) continue;
    if (reads >= MAX_WINDOW_READS) {
      // Budget spent: the next page starts at this window.
      next = { windowStartMs: boundary(ws), key: WINDOW_DONE };
      break;
    }
    reads += 1;
    const all = (await ports.summaries.readWindow(accountIds, ws)).filter((e) => matches(e.dimensions));
    const open = cursor && cursor.windowStartMs === ws ? after(all, cursor.key) : all;
    if (open.length === 0) continue;
    if (taken >= maxResults) {
      next = { windowStartMs: boundary(ws), key: WINDOW_DONE };
      break;
    }
    const page = open.slice(0, maxResults - taken);
    taken += page.length;
    windows.push({
      WindowStart: formatUtcSecond(ws),
      WindowEnd: formatUtcSecond(ws + SUMMARY_WINDOW_MS),
      Total: all.reduce((sum, e) => sum + e.count, 0),
      Summaries: page.map(summaryOf),
    });
    if (page.length < open.length) {
      next = { windowStartMs: ws, key: cursorOf((page[page.length - 1] as SummaryEntry).key) };
      break;
    }
  }

  const answer: Record<string, unknown> = { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs) };
  if (next) {
    tokenKey ??= await ports.tokenKey();
    answer.NextToken = issueToken({ cursor: { timeMs: next.windowStartMs, eventId: next.key }, startMs, endMs }, binding, tokenKey);
  }
  answer.Windows = windows;
  return answer;
}
