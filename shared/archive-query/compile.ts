/**
 * Compiles a query plan (shared/query/plan.ts) to one parameterised DuckDB SQL statement over the
 * archive's event relation (./event-columns.ts) — docs/design.md §3.13 "Over the archive". Pure.
 *
 * Nothing a user wrote is pasted into the SQL: every value (exact texts, wildcard patterns,
 * numbers, instants, the words of a text search, the range, the accounts, the limit, a cursor) is
 * bound as a positional parameter (`$n`); field paths become JSON-path literals only after each
 * segment matched PATH_SEGMENT (no quote can appear); units, operators and column names come from
 * constant tables. Output columns are named `c0`, `c1`… and given their plan names by the caller.
 *
 * Semantics are the reference evaluator's (shared/query/evaluate.ts), through the macros of
 * ./sql-macros.ts: absent = missing, null or ""; a field's texts (an array: its scalar elements);
 * exact and wildcard matches case-sensitive on some text; numbers and times as the evaluator reads
 * them; a bare word in any scalar, case-insensitive; every condition two-valued (never SQL's
 * unknown: `not event.f: x` matches events without `f`); keys typed (1 and "1" two groups); null
 * last in both directions; numbers before booleans before strings; grouped ties broken by the
 * columns left to right; rows newest first unless ordered. An event archived twice (a
 * re-delivery) counts once (deduplicated by eventId).
 */
import { BUCKET_UNITS, filterOf, type AggregateExpr, type ColumnExpr, type CompareOp, type Condition, type KeyExpr, type QueryPlan } from '../query/plan.ts';
import { ACCOUNT_COLUMN, EVENT_COLUMN, TIME_COLUMN, fieldAccess, quoteIdentifier } from './event-columns.ts';
import type { FieldRef } from '../query/plan.ts';

/** Deepest condition tree compiled (the parser bounds plans further; this guards the recursion). */
export const MAX_CONDITION_DEPTH = 64;

export class PlanNotSupportedError extends Error {
  override name = 'PlanNotSupportedError';
}

/** Collects positional parameters: `add(v)` returns `$n`. */
class Params {
  readonly values: (string | number)[] = [];
  add(value: string | number): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const COMPARE_OPS: Readonly<Record<CompareOp, string>> = { '=': '=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/** `%`, `_` and `\` of a literal part escaped for LIKE … ESCAPE '\'. */
export function likeLiteral(part: string): string {
  return part.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A string column's time in epoch ms. `eventTime` is read from the relation's `__time`, parsed once
 * per row when the row was read (archived events carry a strict UTC eventTime, which both parsings
 * read alike, to the millisecond); other columns through the evaluator's time rule.
 */
function columnTimeMs(path: readonly string[], sql: string): string {
  return path.length === 1 && path[0] === 'eventTime' ? `epoch_ms(${quoteIdentifier(TIME_COLUMN)})` : `tk_time_ms(${sql})`;
}

const twoValued = (predicate: string) => `coalesce(${predicate}, false)`;
const anyOf = (list: string, lambda: string) => `(len(list_filter(${list}, lambda x: ${lambda})) > 0)`;

function conditionSql(condition: Condition, params: Params, depth: number): string {
  if (depth > MAX_CONDITION_DEPTH) throw new PlanNotSupportedError(`the condition is nested deeper than ${MAX_CONDITION_DEPTH}`);
  switch (condition.kind) {
    case 'all':
      return 'true';
    case 'exact': {
      const f = fieldAccess(condition.field.path);
      const v = params.add(condition.value);
      return twoValued(f.kind === 'column' ? `${f.sql} = ${v}` : `list_contains(tk_texts(${f.sql}), ${v})`);
    }
    case 'wildcard': {
      const f = fieldAccess(condition.field.path);
      const p = params.add(condition.pattern.parts.map(likeLiteral).join('%'));
      return twoValued(f.kind === 'column' ? `${f.sql} LIKE ${p} ESCAPE '\\'` : anyOf(`tk_texts(${f.sql})`, `x LIKE ${p} ESCAPE '\\'`));
    }
    case 'exists': {
      const f = fieldAccess(condition.field.path);
      return twoValued(f.kind === 'column' ? `${f.sql} <> ''` : `NOT tk_absent(${f.sql})`);
    }
    case 'compare': {
      const f = fieldAccess(condition.field.path);
      const op = COMPARE_OPS[condition.op];
      if (condition.value.type === 'number') {
        const n = `CAST(${params.add(condition.value.value)} AS DOUBLE)`;
        return twoValued(f.kind === 'column' ? `tk_num(${f.sql}) ${op} ${n}` : anyOf(`tk_values(${f.sql})`, `tk_json_num(x) ${op} ${n}`));
      }
      const ms = `CAST(${params.add(condition.value.ms)} AS BIGINT)`;
      return twoValued(f.kind === 'column' ? `${columnTimeMs(condition.field.path, f.sql)} ${op} ${ms}` : anyOf(`tk_values(${f.sql})`, `tk_json_time_ms(x) ${op} ${ms}`));
    }
    case 'text': {
      const word = params.add(condition.text.toLowerCase());
      const scalars = `list_filter(json_extract(${quoteIdentifier(EVENT_COLUMN)}, '$..*'), lambda x: json_type(x) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN'))`;
      return twoValued(anyOf(scalars, `contains(lower(x ->> '$'), ${word})`));
    }
    case 'and':
    case 'or': {
      if (condition.terms.length === 0) return condition.kind === 'and' ? 'true' : 'false';
      return `(${condition.terms.map((t) => conditionSql(t, params, depth + 1)).join(condition.kind === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `(NOT ${conditionSql(condition.term, params, depth + 1)})`;
    default: {
      const unknown: { kind?: unknown } = condition;
      throw new PlanNotSupportedError(`condition kind ${String(unknown.kind)} is not supported over the archive`);
    }
  }
}

/**
 * How the executor decodes an output column: `string` (text or null), `number`, `json` (a key's
 * JSON text: strings, numbers and booleans decoded, arrays and objects kept as text), `sorted`
 * (a min/max sort struct).
 */
export type OutputKind = 'string' | 'number' | 'json' | 'sorted';

interface ColumnPlan {
  sql: string;
  kind: OutputKind;
}

const BUCKET_FORMAT = '%Y-%m-%dT%H:%M:%SZ';

function keySql(expr: KeyExpr): ColumnPlan {
  const f = fieldAccess(expr.field.path);
  if (expr.kind === 'field') return f.kind === 'column' ? { sql: `nullif(${f.sql}, '')`, kind: 'string' } : { sql: `tk_key(${f.sql})`, kind: 'json' };
  if (!(BUCKET_UNITS as readonly string[]).includes(expr.unit)) throw new PlanNotSupportedError(`bucket unit ${String(expr.unit)} is not supported`);
  const ms = f.kind === 'column' ? columnTimeMs(expr.field.path, f.sql) : `tk_json_time_ms(${f.sql})`;
  return { sql: `strftime(date_trunc('${expr.unit}', epoch_ms(${ms})), '${BUCKET_FORMAT}')`, kind: 'string' };
}

function aggregateSql(expr: AggregateExpr): ColumnPlan {
  if (expr.kind === 'count') return { sql: 'count(*)', kind: 'number' };
  const f = fieldAccess(expr.field.path);
  const column = f.kind === 'column';
  switch (expr.kind) {
    case 'countField':
      return { sql: column ? `count(nullif(${f.sql}, ''))` : `count(tk_key(${f.sql}))`, kind: 'number' };
    case 'countDistinct':
      return {
        sql: column
          ? `count(DISTINCT nullif(${f.sql}, ''))`
          : `count(DISTINCT CASE WHEN tk_absent(${f.sql}) THEN NULL WHEN json_type(${f.sql}) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN') THEN ${f.sql} ->> '$' ELSE CAST(${f.sql} AS VARCHAR) END)`,
        kind: 'number',
      };
    case 'min':
    case 'max':
      return column ? { sql: `${expr.kind}(nullif(${f.sql}, ''))`, kind: 'string' } : { sql: `${expr.kind}(tk_sort_json(${f.sql}))`, kind: 'sorted' };
    case 'sum':
    case 'avg':
      return { sql: `${expr.kind}(${column ? `tk_num(${f.sql})` : `tk_json_num(${f.sql})`})`, kind: 'number' };
    default: {
      const unknown: { kind?: unknown } = expr;
      throw new PlanNotSupportedError(`aggregate ${String(unknown.kind)} is not supported over the archive`);
    }
  }
}

function columnPlan(expr: ColumnExpr): ColumnPlan {
  return expr.kind === 'field' || expr.kind === 'bucket' ? keySql(expr) : aggregateSql(expr);
}

/** The ORDER BY expression of an output column: numbers before booleans before strings (json keys), nulls last by the caller. */
function sortSql(name: string, kind: OutputKind): string {
  return kind === 'json' ? `tk_sort_json(CAST(${name} AS JSON))` : name;
}

/** One source of rows: a FROM item over local files, and the account its events must belong to. */
export interface RelationSource {
  /** e.g. `read_parquet([...])` — built by the executor from local file paths (sourceSql). */
  fromSql: string;
  /** The events of this source are kept only when they belong to this account (tenancy, §6). */
  accountId: string;
}

/** A search page's position: after the event (time, id), in newest-first order. */
export interface EventCursor {
  timeMs: number;
  eventId: string;
}

export interface CompileInput {
  plan: QueryPlan;
  sources: readonly RelationSource[];
  /** The range of eventTime, [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** Most rows returned (a select's limit is lowered to it; the events of a search page). */
  maxRows: number;
  /** A search page after this event. */
  after?: EventCursor | undefined;
}

export interface CompiledQuery {
  sql: string;
  params: (string | number)[];
  /** The answer's columns: the plan's names and how to decode them. A search answers `event` (the JSON text), `time_ms` and `event_id` (its cursor). */
  columns: { name: string; kind: OutputKind }[];
  /** `events`: rows are events (search only); `table`: rows of a select. */
  shape: 'events' | 'table';
}

const col = (i: number) => quoteIdentifier(`c${i}`);

/**
 * The columns a plan reads past its filter: its extracted fields, and `event` (the JSON text) when
 * it names any other path, searches free text or answers events. Carrying only these through the
 * deduplication keeps a select over a million events from moving their JSON around.
 */
function columnsRead(plan: QueryPlan): { columns: Set<string>; event: boolean } {
  const columns = new Set<string>();
  let event = !plan.select;
  const field = (f: FieldRef) => {
    const access = fieldAccess(f.path);
    if (access.kind === 'column') columns.add(access.sql);
    else event = true;
  };
  const walk = (c: Condition): void => {
    if (c.kind === 'text') event = true;
    else if (c.kind === 'and' || c.kind === 'or') c.terms.forEach(walk);
    else if (c.kind === 'not') walk(c.term);
    else if (c.kind !== 'all') field(c.field);
  };
  walk(filterOf(plan));
  for (const c of plan.select?.columns ?? []) if ('field' in c.expr) field(c.expr.field);
  for (const k of plan.select?.groupBy ?? []) field(k.field);
  return { columns, event };
}

/**
 * The statement: the sources' events in the range and of their accounts, filtered by the plan,
 * deduplicated by eventId, then the select (or the newest events first).
 */
export function compilePlan(input: CompileInput): CompiledQuery {
  const params = new Params();
  const time = quoteIdentifier(TIME_COLUMN);
  const id = quoteIdentifier('eventId');
  const event = quoteIdentifier(EVENT_COLUMN);
  const from = params.add(input.fromMs);
  const to = params.add(input.toMs);
  const filter = conditionSql(filterOf(input.plan), params, 0);
  const read = columnsRead(input.plan);
  // Only the columns the plan reads leave the sources (Parquet then reads no other column, and the JSON of raw files no other field).
  const carriedList = [id, time, ...[...read.columns].filter((c) => c !== id && c !== time), ...(read.event ? [event] : [])];
  const carried = carriedList.join(', ');
  const union =
    input.sources.length === 0
      ? `SELECT ${carriedList.map((c) => `NULL::${c === time ? 'TIMESTAMP' : 'VARCHAR'} AS ${c}`).join(', ')} WHERE false`
      : input.sources.map((s) => `SELECT ${carried} FROM ${s.fromSql} WHERE ${quoteIdentifier(ACCOUNT_COLUMN)} = ${params.add(s.accountId)}`).join('\nUNION ALL\n');
  // Each eventId once (an event re-delivered into another file); any copy will do: they are the same event.
  const base =
    `WITH events AS (\n${union}\n),\n` +
    `matched AS (SELECT ${carried} FROM events WHERE ${time} >= epoch_ms(CAST(${from} AS BIGINT)) AND ${time} < epoch_ms(CAST(${to} AS BIGINT)) AND ${filter}),\n` +
    `deduped AS (SELECT DISTINCT ON (${id}) * FROM matched)\n`;
  const select = input.plan.select;
  if (!select) {
    let after = '';
    if (input.after) {
      const t = `epoch_ms(CAST(${params.add(input.after.timeMs)} AS BIGINT))`;
      const e = params.add(input.after.eventId);
      after = ` WHERE ${time} < ${t} OR (${time} = ${t} AND ${id} < ${e})`;
    }
    const limit = params.add(Math.max(0, input.maxRows));
    return {
      sql: `${base}SELECT ${event} AS ${col(0)}, epoch_ms(${time}) AS ${col(1)}, ${id} AS ${col(2)} FROM deduped${after} ORDER BY ${time} DESC, ${id} DESC LIMIT CAST(${limit} AS BIGINT)`,
      params: params.values,
      columns: [
        { name: 'event', kind: 'string' },
        { name: 'time_ms', kind: 'number' },
        { name: 'event_id', kind: 'string' },
      ],
      shape: 'events',
    };
  }
  const plans = select.columns.map((c) => columnPlan(c.expr));
  const columns = plans.map((p, i) => `${p.sql} AS ${col(i)}`).join(', ');
  const order = select.orderBy.map((o) => {
    const plan = plans[o.column];
    if (!Number.isInteger(o.column) || !plan) throw new PlanNotSupportedError(`order by names column ${o.column}, which the select does not have`);
    return `${sortSql(col(o.column), plan.kind)} ${o.descending ? 'DESC' : 'ASC'} NULLS LAST`;
  });
  const limit = params.add(Math.max(0, Math.min(select.limit, input.maxRows)));
  const outputs = plans.map((_, i) => col(i)).join(', ');
  let sql: string;
  if (select.mode === 'rows') {
    const byTime = [`${time} DESC`, `${id} DESC`];
    sql = `${base}SELECT ${outputs} FROM (SELECT ${columns}, ${time}, ${id} FROM deduped) ORDER BY ${[...order, ...byTime].join(', ')} LIMIT CAST(${limit} AS BIGINT)`;
  } else {
    const groupBy = select.groupBy.length > 0 ? ` GROUP BY ${select.groupBy.map((k) => keySql(k).sql).join(', ')}` : '';
    const tieBreak = plans.map((p, i) => `${sortSql(col(i), p.kind)} ASC NULLS LAST`);
    sql = `${base}SELECT ${outputs} FROM (SELECT ${columns} FROM deduped${groupBy}) ORDER BY ${[...order, ...tieBreak].join(', ')} LIMIT CAST(${limit} AS BIGINT)`;
  }
  return { sql, params: params.values, columns: select.columns.map((c, i) => ({ name: c.name, kind: (plans[i] as ColumnPlan).kind })), shape: 'table' };
}

/** A DuckDB string literal of a local file path the executor chose (never user text; checked anyway). */
export function pathLiteral(path: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(path)) throw new RangeError(`not a local file path: ${JSON.stringify(path)}`);
  return `'${path}'`;
}

/** The FROM item of a set of local files: raw archive files (gzip JSON arrays) or compacted Parquet files. */
export function sourceSql(kind: 'raw' | 'parquet', paths: readonly string[], columnsFromJson: string): string {
  const list = `[${paths.map(pathLiteral).join(', ')}]`;
  if (kind === 'parquet') return `read_parquet(${list}, union_by_name = true)`;
  return `(SELECT ${columnsFromJson} FROM read_json_objects(${list}, format = 'array', compression = 'gzip'))`;
}

/** Decodes one output value by its column's kind (see OutputKind). */
export function decodeValue(value: unknown, kind: OutputKind): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  switch (kind) {
    case 'number':
      return typeof value === 'number' ? value : Number(value);
    case 'json': {
      const text = String(value);
      try {
        const parsed: unknown = JSON.parse(text);
        return typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : text;
      } catch {
        return text;
      }
    }
    case 'sorted': {
      const s = value as { r?: unknown; n?: unknown; s?: unknown };
      if (s.r === 0) return Number(s.n);
      if (s.r === 1) return Number(s.n) === 1;
      return s.s === null || s.s === undefined ? null : String(s.s);
    }
    default:
      return typeof value === 'string' ? value : String(value);
  }
}
