/**
 * Advanced query over history (docs/design.md §3.13): the 90 days in the HistoryStore, for the
 * accounts a caller sees.
 *
 * STRATEGY. The filter (search AND the select's where) is split at its top-level `and`:
 *  - the DRIVER is the most selective condition an index covers (ranked by DRIVER_RANK): an
 *    exact condition on a lookup field (INDEXED_FIELDS), or on `event.errorCode` — exact
 *    (`errorCode: X`: that value's postings), a wildcard that cannot match "" or exists
 *    (`errorCode: X*`, `errorCode: *`: the postings of every event with an errorCode). The
 *    store streams only that index's postings. Without one, the time index (every event) is
 *    streamed. A select whose driver is an errorCode wildcard reads, when the account's
 *    errorCode dictionary is complete for the range, only the postings of the values the
 *    pattern matches (ERROR CODES below);
 *  - `event.eventTime` comparisons narrow the time range the store walks;
 *  - every candidate is checked against the whole filter by the reference evaluator
 *    (evaluate.ts) — the index only has to hold a superset. Before a candidate's JSON is parsed,
 *    its text must contain every literal a top-level exact or wildcard term needs
 *    (requiredLiterals) and the key `"<last segment>":` of every field a top-level term needs
 *    present: the stored JSON is `JSON.stringify` of the event, so a key, and a value without
 *    `"`, `\` or control characters, appear in it verbatim.
 * Candidates come newest first in pages of up to MAX_SCAN_LIMIT, the next page requested while
 * the current one is evaluated.
 *
 * ERROR CODES. History indexes an event's errorCode since the errorCode index exists; a day
 * holding any event put before that (or by an older writer) has none. The store reads such a
 * day through the time index (ErrorCodeCondition `days`), so every answer stays exact: a
 * select's value streams read only indexed days, and one more stream reads every event of the
 * unindexed days. Values are disjoint (an event has one errorCode) and each day is read by
 * exactly one kind of stream, so no event is counted twice.
 *
 * BOUNDS. A search reads at most SEARCH_SCAN_BUDGET candidates, or for SEARCH_TIME_BUDGET_MS,
 * per call and answers with what it found and a NextToken (possibly no events yet) when more
 * remain. A select reads every candidate of its range, at most SELECT_SCAN_BUDGET and for
 * SELECT_TIME_BUDGET_MS, else QueryTooLarge (never a partial count: an aggregate over part of a
 * range would look right and be wrong). Groups, distinct values and rows held are bounded by the
 * Aggregator.
 */
import type { HistoryCondition, HistoryCursor, HistoryScanPage, HistoryStore, LookupKey } from '../history/history-store.ts';
import { MAX_SCAN_LIMIT } from '../history/history-store.ts';
import { Aggregator, matches, matchesPattern, QueryTooLargeError, type Row } from './evaluate.ts';
import { filterOf, type Condition, type QueryPlan, type WildcardPattern } from './plan.ts';

/** Candidates one search call reads at most before it answers with a NextToken. */
export const SEARCH_SCAN_BUDGET = 50_000;
/** Candidates one select reads at most; more is QueryTooLarge. */
export const SELECT_SCAN_BUDGET = 2_000_000;
/** Wall-clock time a search call reads for before it answers with what it has and a NextToken. */
export const SEARCH_TIME_BUDGET_MS = 5_000;
/** Wall-clock time a select reads for before it is QueryTooLarge (lookup-http's timeout is 30 s). */
export const SELECT_TIME_BUDGET_MS = 20_000;
/** errorCode values a select reads one stream each at most (more: the stream of every error). */
export const MAX_ERROR_CODE_STREAMS = 64;
/** The first page of a search (small: a selective query answers from it). */
const FIRST_SEARCH_PAGE = 100;

/** Event fields whose exact value a lookup index holds (history-store.ts historyRecordOf). */
export const INDEXED_FIELDS: Readonly<Record<string, Exclude<LookupKey, 'EventId'> | 'EventId'>> = {
  eventId: 'EventId',
  'userIdentity.accessKeyId': 'EventAccessKeyId',
  'userIdentity.userName': 'User',
  sourceIpAddress: 'SourceIpAddress',
  eventName: 'EventName',
  serviceName: 'ServiceName',
  'eventAttributes.SensitiveAction': 'SensitiveAction',
  eventType: 'EventType',
  eventRW: 'EventRW',
};
/** The event field history indexes by errorCode (not a LookupEvents key). */
const ERROR_CODE_PATH = 'errorCode';
/**
 * Most selective first (typical share of an account's events): `ErrorCode` is an exact value,
 * `ErrorCode*` every event with an errorCode (a few percent).
 */
const DRIVER_RANK: readonly (LookupKey | 'ErrorCode' | 'ErrorCode*')[] = [
  'EventId',
  'EventAccessKeyId',
  'User',
  'SourceIpAddress',
  'ErrorCode',
  'EventName',
  'ServiceName',
  'SensitiveAction',
  'ErrorCode*',
  'EventType',
  'EventRW',
];

export interface HistoryScanPorts {
  /** `errorCodes` (optional) lets a select read only the errorCode values a wildcard matches. */
  history: Pick<HistoryStore, 'scan'> & Partial<Pick<HistoryStore, 'errorCodes'>>;
  /** A monotonic clock in ms for the time budgets (default performance.now). */
  clock?: () => number;
}

export interface HistoryRange {
  accountIds: readonly string[];
  /** Inclusive, epoch ms. */
  startMs: number;
  endMs: number;
}

/** What the store streams: a condition, and for an errorCode wildcard its pattern (ERROR CODES). */
export interface Driver {
  condition: HistoryCondition;
  pattern?: WildcardPattern;
}

/** The condition the store can stream, if any: the best-ranked indexed term of the top-level and. */
export function driverOf(filter: Condition): Driver | undefined {
  const terms = filter.kind === 'and' ? filter.terms : [filter];
  let best: (Driver & { rank: number }) | undefined;
  const consider = (driver: Driver, rankKey: (typeof DRIVER_RANK)[number]) => {
    const rank = DRIVER_RANK.indexOf(rankKey);
    if (!best || rank < best.rank) best = { ...driver, rank };
  };
  for (const term of terms) {
    if (term.kind !== 'exact' && term.kind !== 'wildcard' && term.kind !== 'exists') continue;
    const path = term.field.path.join('.');
    if (path === ERROR_CODE_PATH) {
      if (term.kind === 'exact') {
        if (term.value !== '') consider({ condition: { key: 'ErrorCode', value: term.value } }, 'ErrorCode');
      } else if (term.kind === 'exists') {
        consider({ condition: { key: 'ErrorCode' } }, 'ErrorCode*');
      } else if (term.pattern.parts.some((part) => part !== '')) {
        // a pattern that cannot match "" matches only events that have an errorCode
        consider({ condition: { key: 'ErrorCode' }, pattern: term.pattern }, 'ErrorCode*');
      }
      continue;
    }
    if (term.kind !== 'exact' || term.value === '') continue;
    const key = INDEXED_FIELDS[path];
    if (!key) continue;
    // SensitiveAction's index holds only the value 'true'
    if (key === 'SensitiveAction' && term.value !== 'true') continue;
    consider({ condition: { key, value: term.value } }, key);
  }
  if (!best) return undefined;
  const { rank: _rank, ...driver } = best;
  return driver;
}

/**
 * The streams a select reads for its driver: the driver itself, or for an errorCode wildcard,
 * when the accounts' errorCode dictionary is complete for the range, the postings of each value
 * the pattern matches on the days holding the errorCode index plus every event of the days
 * without it (disjoint: see ERROR CODES).
 */
async function selectStreams(ports: HistoryScanPorts, range: HistoryRange, driver: Driver | undefined): Promise<(HistoryCondition | undefined)[]> {
  const errorCodes = ports.history.errorCodes;
  if (!driver?.pattern || !errorCodes) return [driver?.condition];
  const { values, complete } = await errorCodes.call(ports.history, range.accountIds, range.startMs, range.endMs);
  if (!complete) return [driver.condition];
  const pattern = driver.pattern;
  const matching = values.filter((value) => matchesPattern(value, pattern));
  // each stream costs at least a round trip: many values read as one (every error) instead
  if (matching.length > MAX_ERROR_CODE_STREAMS) return [driver.condition];
  return [...matching.map((value): HistoryCondition => ({ key: 'ErrorCode', value, days: 'indexed' })), { key: 'ErrorCode', days: 'unindexed' }];
}

/** The range narrowed by top-level `event.eventTime` comparisons. */
export function narrowedRange(filter: Condition, startMs: number, endMs: number): { startMs: number; endMs: number } {
  const terms = filter.kind === 'and' ? filter.terms : [filter];
  let start = startMs;
  let end = endMs;
  for (const term of terms) {
    if (term.kind !== 'compare' || term.value.type !== 'time' || term.field.path.length !== 1 || term.field.path[0] !== 'eventTime') continue;
    const ms = term.value.ms;
    if (term.op === '>') start = Math.max(start, Math.floor(ms) + 1);
    else if (term.op === '>=') start = Math.max(start, Math.ceil(ms));
    else if (term.op === '<') end = Math.min(end, Math.ceil(ms) - 1);
    else if (term.op === '<=') end = Math.min(end, Math.floor(ms));
    else {
      start = Math.max(start, Math.ceil(ms));
      end = Math.min(end, Math.floor(ms));
    }
  }
  return { startMs: start, endMs: end };
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

/** Literals that every matching event's JSON text contains (see the header). */
export function requiredLiterals(filter: Condition): string[] {
  const terms = filter.kind === 'and' ? filter.terms : [filter];
  const out: string[] = [];
  for (const term of terms) {
    if (term.kind !== 'exact' && term.kind !== 'wildcard' && term.kind !== 'exists' && term.kind !== 'compare') continue;
    // the field's own key, as JSON.stringify writes it
    out.push(`"${term.field.path[term.field.path.length - 1] ?? ''}":`);
    let literal = '';
    if (term.kind === 'exact') literal = term.value;
    else if (term.kind === 'wildcard') literal = term.pattern.parts.reduce((a, b) => (b.length > a.length ? b : a), '');
    if (literal !== '' && !NEEDS_ESCAPE.test(literal)) out.push(literal);
  }
  return [...new Set(out)];
}

/** Streams the candidates of a range newest first, one page ahead; stops when `visit` says so. */
async function streamCandidates(
  ports: HistoryScanPorts,
  range: HistoryRange,
  condition: HistoryCondition | undefined,
  after: HistoryCursor | undefined,
  firstPage: number,
  visit: (page: HistoryScanPage) => boolean,
): Promise<void> {
  let limit = firstPage;
  const request = (cursor: HistoryCursor | undefined, size: number) =>
    ports.history.scan({
      accountIds: range.accountIds as string[],
      startMs: range.startMs,
      endMs: range.endMs,
      direction: 'BACKWARD',
      limit: size,
      ...(condition ? { condition } : {}),
      ...(cursor ? { after: cursor } : {}),
    });
  let pending: Promise<HistoryScanPage> | undefined = request(after, limit);
  while (pending) {
    const page: HistoryScanPage = await pending;
    limit = Math.min(MAX_SCAN_LIMIT, limit * 4);
    // ask for the next page before evaluating this one (Redis works while we parse)
    pending = page.next ? request(page.next, limit) : undefined;
    let goOn = false;
    try {
      goOn = visit(page);
    } finally {
      // a prefetched page that is dropped must not leave an unhandled rejection behind
      if (!goOn) pending?.catch(() => undefined);
    }
    if (!goOn) return;
  }
}

function makeMatcher(plan: QueryPlan): (json: string) => unknown {
  const filter = filterOf(plan);
  const literals = requiredLiterals(filter);
  return (json) => {
    for (const literal of literals) if (!json.includes(literal)) return undefined;
    const event = JSON.parse(json) as unknown;
    return matches(filter, event) ? event : undefined;
  };
}

export interface SearchPage {
  /** Matching events' stored JSON, newest first. */
  events: string[];
  /** Where to go on, when candidates remain. */
  next?: HistoryCursor;
  scanned: number;
}

/** One page of a search: up to maxResults matching events after the cursor. */
export async function searchHistory(
  plan: QueryPlan,
  range: HistoryRange,
  maxResults: number,
  after: HistoryCursor | undefined,
  ports: HistoryScanPorts,
): Promise<SearchPage> {
  const filter = filterOf(plan);
  const narrowed = { ...range, ...narrowedRange(filter, range.startMs, range.endMs) };
  if (narrowed.startMs > narrowed.endMs) return { events: [], scanned: 0 };
  const match = makeMatcher(plan);
  const events: string[] = [];
  let scanned = 0;
  let next: HistoryCursor | undefined;
  const clock = ports.clock ?? (() => performance.now());
  const deadline = clock() + SEARCH_TIME_BUDGET_MS;
  await streamCandidates(ports, narrowed, driverOf(filter)?.condition, after, Math.max(FIRST_SEARCH_PAGE, maxResults), (page) => {
    const { entries } = page;
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i] as HistoryScanPage['entries'][number];
      scanned += 1;
      if (match(entry.json) !== undefined) events.push(entry.json);
      if (events.length >= maxResults || scanned >= SEARCH_SCAN_BUDGET) {
        // more may follow: after this entry in this page, or in the store
        if (i < entries.length - 1 || page.next) next = { timeMs: entry.timeMs, eventId: entry.eventId };
        return false;
      }
    }
    next = undefined;
    if (page.next && clock() > deadline) {
      next = page.next;
      return false;
    }
    return page.next !== undefined;
  });
  return { events, scanned, ...(next ? { next } : {}) };
}

export interface SelectResult {
  columns: string[];
  rows: Row[];
  scanned: number;
  matched: number;
}

/** A select over the whole range (bounded by SELECT_SCAN_BUDGET — or a lower scanBudget — and SELECT_TIME_BUDGET_MS). */
export async function selectHistory(
  plan: QueryPlan,
  range: HistoryRange,
  ports: HistoryScanPorts,
  options: { scanBudget?: number } = {},
): Promise<SelectResult> {
  const budget = options.scanBudget ?? SELECT_SCAN_BUDGET;
  const select = plan.select;
  if (!select) throw new TypeError('selectHistory: the plan has no select');
  const filter = filterOf(plan);
  const aggregator = new Aggregator(select);
  const narrowed = { ...range, ...narrowedRange(filter, range.startMs, range.endMs) };
  let scanned = 0;
  const clock = ports.clock ?? (() => performance.now());
  const deadline = clock() + SELECT_TIME_BUDGET_MS;
  if (narrowed.startMs <= narrowed.endMs) {
    const match = makeMatcher(plan);
    // rows come in the store's order (newest first): only a grouped select may read several streams
    const driver = driverOf(filter);
    const streams = select.mode === 'grouped' ? await selectStreams(ports, narrowed, driver) : [driver?.condition];
    const narrow = 'narrow the time range (StartTime/EndTime) or the search (an exact condition on an indexed field such as event.eventName: X reads only its events)';
    let full = false;
    const visit = (page: HistoryScanPage): boolean => {
      for (const entry of page.entries) {
        scanned += 1;
        const event = match(entry.json);
        if (event !== undefined) aggregator.add(event);
        if (aggregator.full) {
          full = true;
          return false;
        }
      }
      if (page.next && scanned >= budget) throw new QueryTooLargeError(`the select would read more than ${budget} events of history: ${narrow}`);
      if (page.next && clock() > deadline) throw new QueryTooLargeError(`the select read ${scanned} events in ${SELECT_TIME_BUDGET_MS / 1000} s without reaching the end of its range: ${narrow}`);
      return true;
    };
    for (const condition of streams) {
      if (full) break;
      await streamCandidates(ports, narrowed, condition, undefined, MAX_SCAN_LIMIT, visit);
    }
  }
  const { columns, rows } = aggregator.result();
  return { columns, rows, scanned, matched: aggregator.events };
}
