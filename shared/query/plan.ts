/**
 * The plan of an advanced query (docs/design.md §3.13): what `parseQuery` (parser.ts) makes of
 * the text, and what every executor runs — the history executor (executor.ts, through the
 * reference evaluator evaluate.ts) and the archive executor (compiled to SQL). One language,
 * one plan, one set of semantics for both stores.
 *
 * STABILITY: other code compiles these types; change them additively only (new optional
 * fields, new union members that older compilers may refuse with a clear error).
 *
 * A plan is plain data (JSON-serialisable, no classes, no functions), built only by the parser,
 * already bounded by its limits (parser.ts QUERY_LIMITS).
 */

/**
 * A path into the ActionTrail event record, written `event.<a>.<b>…` in a query. `path` holds the
 * segments after `event` (`['userIdentity', 'accessKeyId']`); `name` the text as written
 * canonically (`event.userIdentity.accessKeyId`). Segments match `[A-Za-z0-9_$@-]+`.
 */
export interface FieldRef {
  path: readonly string[];
  name: string;
}

/**
 * A wildcard pattern: `*` stands for any run of characters (possibly empty). `parts` are the
 * literal pieces between the stars, in order; `parts.length ≥ 2` (a pattern with no star is an
 * exact match, never a wildcard). `a*` → ['a', ''], `*a*b` → ['', 'a', 'b'].
 */
export interface WildcardPattern {
  parts: readonly string[];
}

export type CompareOp = '=' | '<' | '<=' | '>' | '>=';

/** A comparison literal: a number (numeric comparison) or a UTC instant (time comparison). */
export type CompareValue =
  | { type: 'number'; value: number }
  | { type: 'time'; /** epoch milliseconds, UTC */ ms: number };

/** A boolean condition over one event (the search part, and a select's `where`). */
export type Condition =
  /** Every event (an empty search, or `*`). */
  | { kind: 'all' }
  /** `event.f: value` / SQL `event.f = 'value'`: the field's text equals value (case-sensitive). */
  | { kind: 'exact'; field: FieldRef; value: string }
  /** `event.f: va*ue` / SQL `like 'va%ue'`: the field's text matches the pattern (case-sensitive). */
  | { kind: 'wildcard'; field: FieldRef; pattern: WildcardPattern }
  /** `event.f: *` / SQL `is not null`: the field is present, not null and not the empty string. */
  | { kind: 'exists'; field: FieldRef }
  /** `event.f > 3`, `event.eventTime >= 2026-01-01T00:00:00Z`: numeric or time comparison. */
  | { kind: 'compare'; field: FieldRef; op: CompareOp; value: CompareValue }
  /** A bare word or quoted phrase: some scalar value of the event contains it (case-insensitive). */
  | { kind: 'text'; text: string }
  | { kind: 'and'; terms: readonly Condition[] }
  | { kind: 'or'; terms: readonly Condition[] }
  | { kind: 'not'; term: Condition };

export type ConditionKind = Condition['kind'];

/** Time-bucket units of `date_trunc(unit, field)`; weeks start on Monday (ISO), all in UTC. */
export const BUCKET_UNITS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type BucketUnit = (typeof BUCKET_UNITS)[number];

/** A grouping key / a non-aggregate column: a field's value, or its time bucket. */
export type KeyExpr =
  | { kind: 'field'; field: FieldRef }
  | { kind: 'bucket'; unit: BucketUnit; field: FieldRef };

/** Aggregates: `count(*)` / `count(1)`, `count(event.f)` (non-null values), `count(distinct event.f)`, min/max/sum/avg. */
export type AggregateExpr =
  | { kind: 'count' }
  | { kind: 'countField'; field: FieldRef }
  | { kind: 'countDistinct'; field: FieldRef }
  | { kind: 'min' | 'max' | 'sum' | 'avg'; field: FieldRef };

export type ColumnExpr = KeyExpr | AggregateExpr;

export interface Column {
  /** The output column's name: its alias, else the expression as written canonically. */
  name: string;
  expr: ColumnExpr;
}

export interface OrderItem {
  /** Index into `Select.columns`. */
  column: number;
  descending: boolean;
}

export interface Select {
  columns: readonly Column[];
  /** The `where` of the select, already part of the plan's filter semantics (AND-ed with the search). */
  where?: Condition;
  /**
   * `grouped`: one row per distinct groupBy key (or one row overall when groupBy is empty and
   * the columns are aggregates). `rows`: one row per matching event (no aggregate, no group by).
   */
  mode: 'grouped' | 'rows';
  /** The group keys, as written (by expression, alias or ordinal — resolved here). */
  groupBy: readonly KeyExpr[];
  orderBy: readonly OrderItem[];
  /** Rows returned at most: 1 – MAX_SELECT_LIMIT (default DEFAULT_SELECT_LIMIT). */
  limit: number;
}

export interface QueryPlan {
  /** The plan format; bumped only on an incompatible change (never so far). */
  version: 1;
  /** The search part (before `|`): which events the query is about. */
  search: Condition;
  /** The analytics part (after `|`), when present. */
  select?: Select;
}

/** The canonical text of a key expression, as a column is named by default. */
export function keyExprName(expr: KeyExpr): string {
  return expr.kind === 'field' ? expr.field.name : `date_trunc('${expr.unit}', ${expr.field.name})`;
}

export function columnExprName(expr: ColumnExpr): string {
  switch (expr.kind) {
    case 'field':
    case 'bucket':
      return keyExprName(expr);
    case 'count':
      return 'count(*)';
    case 'countField':
      return `count(${expr.field.name})`;
    case 'countDistinct':
      return `count(distinct ${expr.field.name})`;
    default:
      return `${expr.kind}(${expr.field.name})`;
  }
}

export function isAggregate(expr: ColumnExpr): expr is AggregateExpr {
  return expr.kind !== 'field' && expr.kind !== 'bucket';
}

/** The full filter of a plan: the search AND the select's where. */
export function filterOf(plan: QueryPlan): Condition {
  const where = plan.select?.where;
  if (!where) return plan.search;
  if (plan.search.kind === 'all') return where;
  return { kind: 'and', terms: [plan.search, where] };
}
