/**
 * The relation an archive query runs over (docs/design.md §3.13 "Over the archive"): one row per
 * archived event, the same columns whether the day is read from its raw gzip JSON files or from
 * its compacted Parquet file. Pure: SQL text only, built from constants.
 *
 * A field's value is its **text**: DuckDB's `json_extract_string` of the event — a string as it
 * is, a number or boolean as its JSON text, an object or array as its JSON text, null/missing as
 * SQL NULL. The often-queried fields below are extracted once into their own columns (Parquet
 * reads only the columns a query names); any other `event.*` path is extracted from `event`, the
 * event's full JSON text, with the same function — so both give the same value.
 */

/**
 * Paths (segments joined by `.`) extracted into their own VARCHAR column, named by the path: the
 * fields the event schema (shared/events/schema.ts) holds to strings, so the column's text is the
 * value itself (a field that may be a number or boolean, such as eventVersion or isGlobal, is
 * read from `event`, where its type is kept).
 */
export const EXTRACTED_FIELDS = [
  'eventId',
  'eventTime',
  'eventType',
  'eventCategory',
  'eventName',
  'eventSource',
  'eventRW',
  'serviceName',
  'acsRegion',
  'sourceIpAddress',
  'userAgent',
  'requestId',
  'apiVersion',
  'errorCode',
  'errorMessage',
  'recipientAccountId',
  'vpcId',
  'userIdentity.type',
  'userIdentity.principalId',
  'userIdentity.accountId',
  'userIdentity.accessKeyId',
  'userIdentity.userName',
] as const;

const EXTRACTED = new Set<string>(EXTRACTED_FIELDS);

/** The full event's JSON text. */
export const EVENT_COLUMN = 'event';
/** The event's time (eventTime parsed, UTC, as a TIMESTAMP): what a query's range filters on. */
export const TIME_COLUMN = '__time';
/** The account the event belongs to (userIdentity.accountId, else recipientAccountId for insight events). */
export const ACCOUNT_COLUMN = '__account';

/** One path segment, as the query language allows it (shared/query/plan.ts FieldRef). */
export const PATH_SEGMENT = /^[A-Za-z0-9_$@-]+$/;
/** Deepest path a query may name (JSON paths are walked per row). */
export const MAX_PATH_SEGMENTS = 16;

/** `"name"`: names here are constants or validated paths (no `"`), so quoting is by construction. */
export function quoteIdentifier(name: string): string {
  if (name.includes('"') || name.includes('\0')) throw new RangeError(`identifier ${JSON.stringify(name)} cannot be quoted`);
  return `"${name}"`;
}

/**
 * The JSON path literal of `$."a"."b"` for DuckDB, as an SQL string literal. Segments are
 * checked against PATH_SEGMENT (no quote of either kind), so nothing a user wrote can leave the
 * literal; the executor binds every value as a parameter, and paths are never values.
 */
export function jsonPathLiteral(path: readonly string[]): string {
  if (path.length === 0 || path.length > MAX_PATH_SEGMENTS) throw new RangeError(`a field path has 1–${MAX_PATH_SEGMENTS} segments`);
  for (const segment of path) if (!PATH_SEGMENT.test(segment)) throw new RangeError(`not a field path segment: ${JSON.stringify(segment)}`);
  return `'$.${path.map((s) => `"${s}"`).join('.')}'`;
}

/** How a field is read: a string column, or the JSON value at its path in `event`. */
export type FieldAccess = { kind: 'column'; sql: string } | { kind: 'json'; sql: string };

export function fieldAccess(path: readonly string[]): FieldAccess {
  const joined = path.join('.');
  if (EXTRACTED.has(joined)) return { kind: 'column', sql: quoteIdentifier(joined) };
  return { kind: 'json', sql: `json_extract(${quoteIdentifier(EVENT_COLUMN)}, ${jsonPathLiteral(path)})` };
}

/** Strict UTC eventTime (`YYYY-MM-DDThh:mm:ss[.f{1,9}]Z`) as a TIMESTAMP, NULL otherwise. */
export function utcTimeSql(text: string): string {
  return `CASE WHEN regexp_full_match(${text}, '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z') THEN try_cast(rtrim(${text}, 'Z') AS TIMESTAMP) END`;
}

/**
 * The event relation's columns computed from `json` (one event's JSON, as read_json_objects
 * yields it): what compaction writes to Parquet and what a raw day is read as.
 */
export function eventColumnsFromJsonSql(json = 'json'): string {
  const extracted = EXTRACTED_FIELDS.map((path) => `json_extract_string(${json}, ${jsonPathLiteral(path.split('.'))}) AS ${quoteIdentifier(path)}`);
  const eventTime = `json_extract_string(${json}, ${jsonPathLiteral(['eventTime'])})`;
  const account = `coalesce(json_extract_string(${json}, ${jsonPathLiteral(['userIdentity', 'accountId'])}), json_extract_string(${json}, ${jsonPathLiteral(['recipientAccountId'])}))`;
  return [
    ...extracted,
    `${utcTimeSql(eventTime)} AS ${quoteIdentifier(TIME_COLUMN)}`,
    `${account} AS ${quoteIdentifier(ACCOUNT_COLUMN)}`,
    `CAST(${json} AS VARCHAR) AS ${quoteIdentifier(EVENT_COLUMN)}`,
  ].join(', ');
}

/** Every column of the relation, in order (the Parquet schema; raw days are projected alike). */
export const RELATION_COLUMNS: readonly string[] = [...EXTRACTED_FIELDS, TIME_COLUMN, ACCOUNT_COLUMN, EVENT_COLUMN];
