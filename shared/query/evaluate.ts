/**
 * The reference semantics of a QueryPlan (docs/design.md §3.13), pure: whether an event matches a
 * condition, and what a select makes of the matching events. The history executor runs exactly
 * this; the archive executor's SQL must answer the same (the cross-store test checks it).
 *
 * VALUES. A field path walks objects only (an array or a scalar on the way: the field is
 * missing). A value is ABSENT when it is missing, null or the empty string "" — one rule for
 * every operator. The TEXTS of a value: a string itself, a number as JavaScript writes it
 * (`String(n)`), a boolean as `true`/`false`, an array the texts of its scalar elements; an
 * object has none.
 *   exact      some text equals the value (case-sensitive)
 *   wildcard   some text matches the pattern, anchored at both ends (`*`: any run; case-sensitive)
 *   exists     not absent
 *   compare    number: a JSON number, or a string that is a decimal number, compared numerically;
 *              time: a string that is an ISO-8601 time (UTC unless it carries an offset),
 *              compared as an instant. Anything else (absent, other text) does not match —
 *              so `not event.f > 3` matches events where f is absent.
 *   text       some scalar anywhere in the event (strings, numbers, booleans; keys excluded)
 *              contains the phrase, case-insensitively (Unicode toLowerCase, no locale)
 *   and/or/not boolean logic; absent values are simply not matched (no SQL three-valued NULL).
 *
 * SELECT. Grouped: one row per distinct tuple of group keys; without group by, one row overall
 * (even over no events: count 0, other aggregates null). A key or a plain column is the field's
 * value — string, number or boolean as stored; absent → null; an array or object → its compact
 * JSON text; `date_trunc(unit, f)` truncates the time in f (UTC; weeks start Monday) and writes
 * it `YYYY-MM-DDThh:mm:ssZ` (null when f is not a time). Keys compare by their JSON text, so
 * `1` and `"1"` are two groups. Aggregates skip absent values: count(f), count(distinct f) (by
 * text), min/max (numbers numerically, strings by UTF-16 code units; numbers rank below
 * strings), sum/avg over numbers and numeric strings (null when there is none).
 * Rows: one row per matching event, newest first (the store's order) unless ordered.
 * ORDER: by the order by items; null always last (ascending and descending); numbers before
 * booleans before strings; grouped ties broken by the columns left to right ascending. Then
 * `limit`.
 */
import { ValidationError } from '../errors.ts';
import { parseTimeLiteral } from './parser.ts';
import {
  columnExprName,
  type AggregateExpr,
  type BucketUnit,
  type Condition,
  type FieldRef,
  type KeyExpr,
  type Select,
  type WildcardPattern,
} from './plan.ts';

/** Groups a grouped select may build; more is QueryTooLarge (narrow the range or the query). */
export const MAX_GROUPS = 100_000;
/** Distinct values held for count(distinct …), all groups together. */
export const MAX_DISTINCT_VALUES = 500_000;
/** Depth to which free text looks inside an event. */
const MAX_TEXT_DEPTH = 32;

export class QueryTooLargeError extends ValidationError {
  constructor(message: string) {
    super('QueryTooLarge', message, 'QuerySql');
  }
}

export type Scalar = string | number | boolean | null;
export type Row = Scalar[];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a field path, or undefined when a step is not an object. */
export function valueAt(event: unknown, field: FieldRef): unknown {
  let value: unknown = event;
  for (const segment of field.path) {
    if (!isObject(value) || !Object.hasOwn(value, segment)) return undefined;
    value = value[segment];
  }
  return value;
}

export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return undefined;
}

/** The texts of a value (see the header). */
function textsOf(value: unknown): string[] {
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const element of value) {
      const text = scalarText(element);
      if (text !== undefined) out.push(text);
    }
    return out;
  }
  const text = scalarText(value);
  return text === undefined ? [] : [text];
}

export function matchesPattern(text: string, pattern: WildcardPattern): boolean {
  const { parts } = pattern;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const stop = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i += 1) {
    const part = parts[i] ?? '';
    const found = text.indexOf(part, at);
    if (found < 0 || found + part.length > stop) return false;
    at = found + part.length;
  }
  return true;
}

const NUMERIC = /^\s*-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value);
  return undefined;
}

function timeOf(value: unknown): number | undefined {
  return typeof value === 'string' ? parseTimeLiteral(value) : undefined;
}

function compare(a: number, op: '=' | '<' | '<=' | '>' | '>=', b: number): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

/** Whether some scalar of the value, looked into to MAX_TEXT_DEPTH, contains the lower-cased needle. */
function containsText(value: unknown, needle: string, depth: number): boolean {
  if (typeof value === 'string') return value.toLowerCase().includes(needle);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).toLowerCase().includes(needle);
  if (depth >= MAX_TEXT_DEPTH || typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => containsText(v, needle, depth + 1));
  for (const key in value) {
    if (Object.hasOwn(value, key) && containsText((value as Record<string, unknown>)[key], needle, depth + 1)) return true;
  }
  return false;
}

/** Whether the event (a parsed JSON object) matches the condition. */
export function matches(condition: Condition, event: unknown): boolean {
  switch (condition.kind) {
    case 'all':
      return true;
    case 'exact':
      return textsOf(valueAt(event, condition.field)).includes(condition.value);
    case 'wildcard':
      return textsOf(valueAt(event, condition.field)).some((t) => matchesPattern(t, condition.pattern));
    case 'exists':
      return !isAbsent(valueAt(event, condition.field));
    case 'compare': {
      const raw = valueAt(event, condition.field);
      const values = Array.isArray(raw) ? raw : [raw];
      const { op, value } = condition;
      return values.some((v) => {
        const n = value.type === 'number' ? numberOf(v) : timeOf(v);
        return n !== undefined && compare(n, op, value.type === 'number' ? value.value : value.ms);
      });
    }
    case 'text':
      return containsText(event, condition.text.toLowerCase(), 0);
    case 'and':
      return condition.terms.every((t) => matches(t, event));
    case 'or':
      return condition.terms.some((t) => matches(t, event));
    case 'not':
      return !matches(condition.term, event);
  }
}

// ---------------------------------------------------------------------------------------------
// Select

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function formatUtc(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

/** The start of the UTC bucket holding ms. */
export function truncateTime(ms: number, unit: BucketUnit): number {
  const d = new Date(ms);
  switch (unit) {
    case 'minute':
      return ms - (((ms % 60_000) + 60_000) % 60_000);
    case 'hour':
      return ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000);
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'week': {
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      const sinceMonday = (d.getUTCDay() + 6) % 7;
      return day - sinceMonday * 86_400_000;
    }
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** A key or plain column of one event (see the header). */
export function keyValue(event: unknown, expr: KeyExpr): Scalar {
  const value = valueAt(event, expr.field);
  if (expr.kind === 'bucket') {
    const ms = timeOf(value);
    return ms === undefined ? null : formatUtc(truncateTime(ms, expr.unit));
  }
  if (isAbsent(value)) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

const TYPE_RANK = { number: 0, boolean: 1, string: 2 } as const;

/** Total order of result values: null last (in both directions: the caller handles it). */
export function compareScalars(a: Scalar, b: Scalar): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  const ta = typeof a as 'number' | 'boolean' | 'string';
  const tb = typeof b as 'number' | 'boolean' | 'string';
  if (ta !== tb) return TYPE_RANK[ta] - TYPE_RANK[tb];
  if (ta === 'number') return (a as number) - (b as number);
  if (ta === 'boolean') return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function orderRows(rows: Row[], select: Select, tieBreakColumns: boolean): void {
  const items = [...select.orderBy];
  if (tieBreakColumns) {
    select.columns.forEach((_, column) => {
      if (!items.some((i) => i.column === column)) items.push({ column, descending: false });
    });
  }
  if (items.length === 0) return;
  rows.sort((x, y) => {
    for (const { column, descending } of items) {
      const a = x[column] ?? null;
      const b = y[column] ?? null;
      if (a === null || b === null) {
        if (a !== b) return a === null ? 1 : -1;
        continue;
      }
      const c = compareScalars(a, b);
      if (c !== 0) return descending ? -c : c;
    }
    return 0;
  });
}

interface AggregateState {
  count: number;
  distinct?: Set<string>;
  best?: Scalar;
  sum?: number;
  n?: number;
}

interface Group {
  key: Scalar[];
  states: AggregateState[];
}

function minMaxCandidate(value: unknown): Scalar {
  if (isAbsent(value)) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/**
 * Folds matching events into a select's rows, bounded: at most MAX_GROUPS groups and
 * MAX_DISTINCT_VALUES distinct values (QueryTooLargeError beyond), and in rows mode at most
 * a few times `limit` rows held (kept best-first as they come).
 */
export class Aggregator {
  private readonly groups = new Map<string, Group>();
  private distinctHeld = 0;
  private rows: Row[] = [];
  private readonly keyColumns: { column: number; group: number }[] = [];
  private readonly aggregateColumns: { column: number; expr: AggregateExpr }[] = [];
  /** Events folded in. */
  events = 0;

  constructor(private readonly select: Select) {
    const keyNames = select.groupBy.map((k) => columnExprName(k));
    select.columns.forEach((c, column) => {
      if (c.expr.kind === 'field' || c.expr.kind === 'bucket') {
        this.keyColumns.push({ column, group: keyNames.indexOf(columnExprName(c.expr)) });
      } else this.aggregateColumns.push({ column, expr: c.expr });
    });
  }

  /** Rows mode without order by: the first `limit` rows are the answer, nothing more is needed. */
  get full(): boolean {
    return this.select.mode === 'rows' && this.select.orderBy.length === 0 && this.rows.length >= this.select.limit;
  }

  add(event: unknown): void {
    this.events += 1;
    const { select } = this;
    if (select.mode === 'rows') {
      if (this.full) return;
      this.rows.push(select.columns.map((c) => keyValue(event, c.expr as KeyExpr)));
      if (select.orderBy.length > 0 && this.rows.length >= Math.max(4 * select.limit, 1000)) {
        orderRows(this.rows, select, false);
        this.rows.length = select.limit;
      }
      return;
    }
    const key = select.groupBy.map((k) => keyValue(event, k));
    const id = key.length === 0 ? '' : JSON.stringify(key);
    let group = this.groups.get(id);
    if (!group) {
      if (this.groups.size >= MAX_GROUPS) {
        throw new QueryTooLargeError(`the select makes more than ${MAX_GROUPS} groups: narrow the time range or the search, or group by fewer or coarser keys`);
      }
      group = { key, states: this.aggregateColumns.map(() => ({ count: 0 })) };
      this.groups.set(id, group);
    }
    this.aggregateColumns.forEach(({ expr }, i) => {
      const state = group.states[i] as AggregateState;
      if (expr.kind === 'count') {
        state.count += 1;
        return;
      }
      const value = valueAt(event, expr.field);
      if (isAbsent(value)) return;
      switch (expr.kind) {
        case 'countField':
          state.count += 1;
          return;
        case 'countDistinct': {
          const distinct = (state.distinct ??= new Set<string>());
          const text = scalarText(value) ?? JSON.stringify(value);
          if (!distinct.has(text)) {
            if (this.distinctHeld >= MAX_DISTINCT_VALUES) {
              throw new QueryTooLargeError(`count(distinct …) holds more than ${MAX_DISTINCT_VALUES} values: narrow the time range or the search`);
            }
            distinct.add(text);
            this.distinctHeld += 1;
          }
          return;
        }
        case 'min':
        case 'max': {
          const candidate = minMaxCandidate(value);
          if (candidate === null) return;
          const best = state.best ?? null;
          const c = best === null ? -1 : compareScalars(candidate, best);
          if (best === null || (expr.kind === 'min' ? c < 0 : c > 0)) state.best = candidate;
          return;
        }
        default: {
          const n = numberOf(value);
          if (n === undefined) return;
          state.sum = (state.sum ?? 0) + n;
          state.n = (state.n ?? 0) + 1;
        }
      }
    });
  }

  private aggregateValue(expr: AggregateExpr, state: AggregateState): Scalar {
    switch (expr.kind) {
      case 'count':
      case 'countField':
        return state.count;
      case 'countDistinct':
        return state.distinct?.size ?? 0;
      case 'min':
      case 'max':
        return state.best ?? null;
      case 'sum':
        return state.n ? (state.sum ?? 0) : null;
      case 'avg':
        return state.n ? (state.sum ?? 0) / state.n : null;
    }
  }

  /** The result: column names and rows, ordered and limited. */
  result(): { columns: string[]; rows: Row[] } {
    const { select } = this;
    const columns = select.columns.map((c) => c.name);
    if (select.mode === 'rows') {
      const rows = this.rows;
      orderRows(rows, select, false);
      return { columns, rows: rows.slice(0, select.limit) };
    }
    if (this.groups.size === 0 && select.groupBy.length === 0) {
      this.groups.set('', { key: [], states: this.aggregateColumns.map(() => ({ count: 0 })) });
    }
    const rows: Row[] = [];
    for (const group of this.groups.values()) {
      const row: Row = new Array<Scalar>(select.columns.length).fill(null);
      for (const { column, group: g } of this.keyColumns) row[column] = group.key[g] ?? null;
      this.aggregateColumns.forEach(({ column, expr }, i) => {
        row[column] = this.aggregateValue(expr, group.states[i] as AggregateState);
      });
      rows.push(row);
    }
    orderRows(rows, select, true);
    return { columns, rows: rows.slice(0, select.limit) };
  }
}
