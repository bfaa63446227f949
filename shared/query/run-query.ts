/**
 * `RunAdvancedQuery` (our action; docs/design.md §3.13): one query text over history or a trail's
 * archive.
 *
 *   QuerySql   the query (parser.ts), required
 *   StartTime, EndTime  UTC yyyy-MM-ddTHH:mm:ssZ, both or neither; default the last 7 days.
 *              History holds 90 days: a StartTime before is clamped (as LookupEvents does).
 *   Source     history (default) | archive (with TrailName: the trail's archive and compacted
 *              Parquet, answered by the archive port)
 *   MaxResults 1–100 (default 20): events of one search page
 *   NextToken  from the previous page of the same query (bound to caller, accounts, text,
 *              source, trail and time parameters)
 *
 * Answer: a search → `{StartTime, EndTime, Source, Events: [...], NextToken?}`; a select →
 * `{StartTime, EndTime, Source, Columns: [...], Rows: [[...]]}` (all rows in one answer, at most
 * the select's limit). Both carry `ScannedEvents` (candidates read) for history.
 *
 * Isolation: the accounts read are `accountsVisibleTo(caller)` (the caller, plus an
 * organization's members for its management account), nothing else; the archive port gets the
 * same list and must check that TrailName is a trail the caller may read.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { parseUtcTime } from '../events/schema.ts';
import { HISTORY_RETENTION_MS } from '../history/history-store.ts';
import { JsonText } from '../json-text.ts';
import { DEFAULT_WINDOW_MS, formatUtcSecond } from '../lookup/lookup-params.ts';
import { issueToken, readToken, type TokenBinding } from '../lookup/next-token.ts';
import type { Row } from './evaluate.ts';
import { searchHistory, selectHistory, type HistoryScanPorts } from './history-executor.ts';
import { parseQuery, QUERY_LIMITS } from './parser.ts';
import type { QueryPlan } from './plan.ts';

export const QUERY_SOURCES = ['history', 'archive'] as const;
export type QuerySource = (typeof QUERY_SOURCES)[number];
export const DEFAULT_QUERY_RESULTS = 20;
export const MAX_QUERY_RESULTS = 100;

/** What the archive executor is asked (the plan is already parsed and bounded). */
export interface ArchiveQueryRequest {
  plan: QueryPlan;
  querySql: string;
  trailName: string;
  caller: { accountId: string };
  /** The accounts the caller may read (caller first… sorted, never empty). */
  accountIds: readonly string[];
  /** Inclusive, epoch ms. */
  startMs: number;
  endMs: number;
  maxResults: number;
  nextToken?: string;
}

/** A search page (events as stored JSON) or a select's table. */
export type ArchiveQueryAnswer =
  | { kind: 'events'; events: readonly string[]; nextToken?: string }
  | { kind: 'rows'; columns: readonly string[]; rows: readonly Row[] };

export type ArchiveQuery = (request: ArchiveQueryRequest) => Promise<ArchiveQueryAnswer>;

export interface RunQueryPorts extends HistoryScanPorts {
  accountsVisibleTo(accountId: string): Promise<string[]>;
  tokenKey(): Promise<Buffer>;
  now(): number;
  /** The archive executor; absent until it is wired (Source=archive then answers ArchiveQueryNotAvailable). */
  archiveQuery?: ArchiveQuery;
}

const paramsSchema = z.object({
  QuerySql: z
    .string({ error: 'QuerySql is required' })
    .min(1, { error: 'QuerySql is required' })
    .max(QUERY_LIMITS.maxQueryLength, { error: `QuerySql: at most ${QUERY_LIMITS.maxQueryLength} characters` }),
  StartTime: z.string().max(64).optional(),
  EndTime: z.string().max(64).optional(),
  Source: z.enum(QUERY_SOURCES, { error: 'Source must be history or archive' }).default('history'),
  TrailName: z.string().max(128).optional(),
  MaxResults: z
    .string()
    .regex(/^\d{1,3}$/, { error: `MaxResults must be 1–${MAX_QUERY_RESULTS}` })
    .transform(Number)
    .pipe(z.number().int().min(1, { error: `MaxResults must be 1–${MAX_QUERY_RESULTS}` }).max(MAX_QUERY_RESULTS, { error: `MaxResults must be 1–${MAX_QUERY_RESULTS}` }))
    .optional(),
  NextToken: z.string().max(4096, { error: 'NextToken: malformed' }).optional(),
});

export interface RunQueryParams {
  querySql: string;
  source: QuerySource;
  trailName?: string;
  startMs: number;
  endMs: number;
  given: { startTime?: string; endTime?: string };
  maxResults: number;
  nextToken?: string;
}

/** Validates RunAdvancedQuery's parameters (empty values count as absent). */
export function parseRunQueryParams(raw: Record<string, string>, nowMs: number): RunQueryParams {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ''));
  const parsed = paramsSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? 'QuerySql');
    throw new ValidationError(present[field] === undefined ? 'MissingParameter' : 'InvalidQueryParameter', issue?.message ?? 'invalid parameter', field);
  }
  const p = parsed.data;
  const nowSecond = Math.floor(nowMs / 1000) * 1000;
  let startMs = nowSecond - DEFAULT_WINDOW_MS;
  let endMs = nowSecond + 999;
  if (p.StartTime !== undefined || p.EndTime !== undefined) {
    const time = (text: string | undefined, field: 'StartTime' | 'EndTime'): number => {
      if (text === undefined) throw new ValidationError('InvalidParameterCombination', `StartTime and EndTime must be given together (${field} is missing)`, field);
      const ms = parseUtcTime(text);
      if (ms === undefined) throw new ValidationError(`InvalidParameter${field}`, `The specified ${field} is invalid: expected UTC yyyy-MM-ddTHH:mm:ssZ`, field);
      return ms;
    };
    startMs = time(p.StartTime, 'StartTime');
    endMs = time(p.EndTime, 'EndTime');
    if (endMs <= startMs) throw new ValidationError('InvalidParameterCombination', 'The end time must be later than the start time.', 'EndTime');
    if (!/\.\d+Z$/.test(p.EndTime ?? '')) endMs += 999;
  }
  endMs = Math.min(endMs, nowSecond + 999);
  if (p.Source === 'history') startMs = Math.max(startMs, Math.ceil((nowMs - HISTORY_RETENTION_MS) / 1000) * 1000);
  if (p.Source === 'archive' && p.TrailName === undefined) throw new ValidationError('MissingParameter', 'TrailName is required with Source=archive', 'TrailName');
  const given: RunQueryParams['given'] = {};
  if (p.StartTime !== undefined) given.startTime = p.StartTime;
  if (p.EndTime !== undefined) given.endTime = p.EndTime;
  return {
    querySql: p.QuerySql,
    source: p.Source,
    ...(p.TrailName !== undefined ? { trailName: p.TrailName } : {}),
    startMs,
    endMs,
    given,
    maxResults: p.MaxResults ?? DEFAULT_QUERY_RESULTS,
    ...(p.NextToken !== undefined ? { nextToken: p.NextToken } : {}),
  };
}

/** The accounts a caller may read: never empty, always including the caller. */
export async function visibleAccounts(caller: { accountId: string }, ports: Pick<RunQueryPorts, 'accountsVisibleTo'>): Promise<string[]> {
  const listed = await ports.accountsVisibleTo(caller.accountId);
  return [...new Set([caller.accountId, ...listed])].sort();
}

/** What a history NextToken is bound to: caller, accounts, the query text and the time parameters. */
export function queryTokenBinding(p: RunQueryParams, caller: { accountId: string }, accountIds: readonly string[]): TokenBinding {
  return {
    callerAccountId: caller.accountId,
    accountIds,
    startTime: p.given.startTime,
    endTime: p.given.endTime,
    direction: 'BACKWARD',
    conditions: [],
    scope: JSON.stringify(['RunAdvancedQuery', p.source, p.trailName ?? null, p.querySql]),
  };
}

export async function runAdvancedQuery(params: Record<string, string>, caller: { accountId: string }, ports: RunQueryPorts): Promise<Record<string, unknown>> {
  const p = parseRunQueryParams(params, ports.now());
  const plan = parseQuery(p.querySql);
  const accountIds = await visibleAccounts(caller, ports);
  const head = { StartTime: formatUtcSecond(p.startMs), EndTime: formatUtcSecond(p.endMs), Source: p.source };

  if (p.source === 'archive') {
    if (!ports.archiveQuery) {
      throw new ValidationError('ArchiveQueryNotAvailable', 'Source=archive is not available on this deployment yet: query history (Source=history) or the archive files directly', 'Source');
    }
    const answer = await ports.archiveQuery({
      plan,
      querySql: p.querySql,
      trailName: p.trailName ?? '',
      caller,
      accountIds,
      startMs: p.startMs,
      endMs: p.endMs,
      maxResults: p.maxResults,
      ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}),
    });
    if (answer.kind === 'rows') return { ...head, Columns: answer.columns, Rows: answer.rows };
    return { ...head, ...(answer.nextToken ? { NextToken: answer.nextToken } : {}), Events: answer.events.map((e) => new JsonText(e)) };
  }

  if (plan.select) {
    if (p.nextToken !== undefined) throw new ValidationError('InvalidNextToken', 'The specified NextToken is invalid: a select answers in one page.', 'NextToken');
    const result = await selectHistory(plan, { accountIds, startMs: p.startMs, endMs: p.endMs }, ports);
    return { ...head, Columns: result.columns, Rows: result.rows, ScannedEvents: result.scanned, MatchedEvents: result.matched };
  }

  const binding = queryTokenBinding(p, caller, accountIds);
  let { startMs, endMs } = p;
  let after;
  let key: Buffer | undefined;
  if (p.nextToken !== undefined) {
    key = await ports.tokenKey();
    const state = readToken(p.nextToken, binding, key);
    ({ startMs, endMs } = state);
    after = state.cursor;
  }
  const page = await searchHistory(plan, { accountIds, startMs, endMs }, p.maxResults, after, ports);
  const answer: Record<string, unknown> = { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs), Source: p.source, ScannedEvents: page.scanned };
  if (page.next) {
    key ??= await ports.tokenKey();
    answer.NextToken = issueToken({ cursor: page.next, startMs, endMs }, binding, key);
  }
  answer.Events = page.events.map((e) => new JsonText(e));
  return answer;
}
