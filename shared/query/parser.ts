/**
 * The advanced query language (docs/design.md §3.13): a hand-written scanner and recursive-descent
 * parser, pure and bounded, from the query text to a QueryPlan (plan.ts).
 *
 *   query      = search [ "|" select ] ;
 *   search     = [ or ] | "*" ;                         (empty or "*": every event)
 *   or         = and { "or" and } ;
 *   and        = unary { [ "and" ] unary } ;            (juxtaposition is "and")
 *   unary      = "not" unary | "(" or ")" | term ;
 *   term       = field ":" ( "*" | word | quoted )       exists / wildcard / exact
 *              | field ( "=" | "<" | "<=" | ">" | ">=" ) ( number | time )
 *              | word | quoted ;                        free text
 *   field      = "event" "." segment { "." segment } ;   segment = [A-Za-z0-9_]+
 *
 *   select     = "select" column { "," column } [ "where" sql_or ]
 *                [ "group" "by" key { "," key } ] [ "order" "by" order { "," order } ] [ "limit" int ] ;
 *   column     = expr [ [ "as" ] alias ] ;
 *   expr       = field | "count" "(" ( "*" | "1" | [ "distinct" ] field ) ")"
 *              | ( "min" | "max" | "sum" | "avg" ) "(" field ")"
 *              | "date_trunc" "(" unit_string "," field ")" ;
 *   key        = int | alias | field | date_trunc(…) ;   order = ( int | alias | expr ) [ "asc" | "desc" ] ;
 *   sql_or     = sql_and { "or" sql_and } ;  sql_and = sql_not { "and" sql_not } ;
 *   sql_not    = "not" sql_not | "(" sql_or ")" | field predicate ;
 *   predicate  = ( "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=" ) literal | [ "not" ] "like" string
 *              | [ "not" ] "in" "(" literal { "," literal } ")" | "is" [ "not" ] "null" ;
 *
 * Keywords are case-insensitive. In the search part a bare word with `*` is a wildcard, a
 * double-quoted value is literal (`\"` and `\\` escape); in the select part strings are
 * single-quoted (`''` escapes a quote), aliases may be double-quoted.
 *
 * Every error is a QueryError: code InvalidQuery, the 0-based position in the query text it
 * points at, and a message naming what was expected there.
 */
import { ValidationError } from '../errors.ts';
import {
  BUCKET_UNITS,
  columnExprName,
  isAggregate,
  keyExprName,
  type BucketUnit,
  type Column,
  type ColumnExpr,
  type CompareOp,
  type CompareValue,
  type Condition,
  type FieldRef,
  type KeyExpr,
  type OrderItem,
  type QueryPlan,
  type Select,
} from './plan.ts';

/** The parser's bounds: a query beyond any of them is refused with InvalidQuery, never parsed further. */
export const QUERY_LIMITS = {
  /** Characters of the whole query text. */
  maxQueryLength: 4096,
  /** Nested parentheses / `not` in one condition. */
  maxDepth: 24,
  /** Characters of one literal (value, phrase, string). */
  maxLiteralLength: 512,
  /** Leaf conditions (field conditions and free-text terms) in the whole query. */
  maxConditions: 64,
  /** Segments of a field path after `event`. */
  maxFieldSegments: 8,
  /** Columns of a select. */
  maxColumns: 16,
  /** Keys of group by, items of order by. */
  maxGroupBy: 8,
  maxOrderBy: 8,
  /** Values of one `in (…)` list. */
  maxInList: 50,
} as const;

/** Rows a select returns when it has no `limit`, and at most. */
export const DEFAULT_SELECT_LIMIT = 100;
export const MAX_SELECT_LIMIT = 10_000;

export class QueryError extends ValidationError {
  constructor(
    readonly position: number,
    message: string,
  ) {
    super('InvalidQuery', `${message} (at position ${position})`, 'QuerySql');
  }
}

const SEGMENT = /^[A-Za-z0-9_]+$/;
const NUMBER = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?$/;
/** `YYYY-MM-DD`, or with `Thh:mm[:ss[.fff]]` and `Z` or an offset (UTC when none). */
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Epoch ms of an ISO-8601 instant (UTC unless an offset is given), or undefined. */
export function parseTimeLiteral(text: string): number | undefined {
  const m = TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, Number((frac + '000').slice(0, 3)));
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return Number.isFinite(ms) ? ms : undefined;
}

function compareValueOf(text: string): CompareValue | undefined {
  if (NUMBER.test(text)) {
    const value = Number(text);
    return Number.isFinite(value) ? { type: 'number', value } : undefined;
  }
  const ms = parseTimeLiteral(text);
  return ms === undefined ? undefined : { type: 'time', ms };
}

/** Counts leaves and depth for the whole query (both parts share the budget). */
class Budget {
  conditions = 0;
  leaf(position: number): void {
    this.conditions += 1;
    if (this.conditions > QUERY_LIMITS.maxConditions) throw new QueryError(position, `too many conditions: at most ${QUERY_LIMITS.maxConditions}`);
  }
  static depth(depth: number, position: number): void {
    if (depth > QUERY_LIMITS.maxDepth) throw new QueryError(position, `nested too deeply: at most ${QUERY_LIMITS.maxDepth} levels of parentheses and not`);
  }
}

function checkLiteral(text: string, position: number): string {
  if (text.length > QUERY_LIMITS.maxLiteralLength) throw new QueryError(position, `literal too long: at most ${QUERY_LIMITS.maxLiteralLength} characters`);
  return text;
}

/** `event.a.b` → FieldRef; undefined when the text is not a field path. */
function fieldOf(text: string, position: number): FieldRef | undefined {
  const segments = text.split('.');
  if (segments[0]?.toLowerCase() !== 'event' || segments.length < 2) return undefined;
  const path = segments.slice(1);
  if (path.length > QUERY_LIMITS.maxFieldSegments) throw new QueryError(position, `field path too long: at most ${QUERY_LIMITS.maxFieldSegments} segments after event`);
  for (const segment of path) {
    if (!SEGMENT.test(segment)) throw new QueryError(position, `invalid field ${JSON.stringify(text.slice(0, 80))}: segments are letters, digits and _`);
  }
  return { path, name: `event.${path.join('.')}` };
}

function andOf(terms: Condition[]): Condition {
  const flat = terms.flatMap((t) => (t.kind === 'and' ? t.terms : [t]));
  return flat.length === 1 ? (flat[0] as Condition) : { kind: 'and', terms: flat };
}

function orOf(terms: Condition[]): Condition {
  const flat = terms.flatMap((t) => (t.kind === 'or' ? t.terms : [t]));
  return flat.length === 1 ? (flat[0] as Condition) : { kind: 'or', terms: flat };
}

function patternOf(field: FieldRef, parts: string[], position: number): Condition {
  if (parts.length === 1) return { kind: 'exact', field, value: parts[0] ?? '' };
  if (parts.every((p) => p === '')) return { kind: 'exists', field };
  checkLiteral(parts.join('*'), position);
  return { kind: 'wildcard', field, pattern: { parts } };
}

// ---------------------------------------------------------------------------------------------
// The search part: scannerless (a value after `:` may hold `:` — times, ARNs — and `*`).

const SEARCH_STOP = new Set([' ', '\t', '\n', '\r', '(', ')', '"', '|']);
const FIELD_STOP = new Set([...SEARCH_STOP, ':', '<', '>', '=']);

interface Word {
  text: string;
  quoted: boolean;
  start: number;
}

class SearchParser {
  pos = 0;
  constructor(
    private readonly src: string,
    private readonly end: number,
    private readonly budget: Budget,
  ) {}

  private skip(): void {
    while (this.pos < this.end && /\s/.test(this.src[this.pos] ?? '')) this.pos += 1;
  }

  private peek(): string | undefined {
    this.skip();
    return this.pos < this.end ? this.src[this.pos] : undefined;
  }

  /** A word up to a stop character, or a double-quoted string. Undefined at a stop character. */
  private word(stops: ReadonlySet<string>): Word | undefined {
    this.skip();
    const start = this.pos;
    if (this.src[start] === '"') {
      let text = '';
      let i = start + 1;
      for (;;) {
        if (i >= this.end) throw new QueryError(start, 'unterminated string: a closing " is missing');
        const c = this.src[i] ?? '';
        if (c === '"') break;
        if (c === '\\' && i + 1 < this.end) {
          text += this.src[i + 1];
          i += 2;
        } else {
          text += c;
          i += 1;
        }
        if (text.length > QUERY_LIMITS.maxLiteralLength) checkLiteral(text, start);
      }
      this.pos = i + 1;
      return { text, quoted: true, start };
    }
    let i = start;
    while (i < this.end && !stops.has(this.src[i] ?? '')) i += 1;
    if (i === start) return undefined;
    this.pos = i;
    return { text: checkLiteral(this.src.slice(start, i), start), quoted: false, start };
  }

  private keyword(): string | undefined {
    this.skip();
    const m = /^(and|or|not)(?=[\s()"]|$)/i.exec(this.src.slice(this.pos, Math.min(this.end, this.pos + 4)));
    return m ? (m[1] ?? '').toLowerCase() : undefined;
  }

  parse(): Condition {
    if (this.peek() === undefined) return { kind: 'all' };
    const condition = this.or(0);
    if (this.peek() !== undefined) {
      throw new QueryError(this.pos, this.src[this.pos] === ')' ? 'unbalanced ): no ( to close' : 'expected and, or, or the end of the search');
    }
    return condition;
  }

  private or(depth: number): Condition {
    const terms = [this.and(depth)];
    while (this.keyword() === 'or') {
      this.pos += 2;
      terms.push(this.and(depth));
    }
    return orOf(terms);
  }

  private and(depth: number): Condition {
    const terms = [this.unary(depth)];
    for (;;) {
      const next = this.peek();
      if (next === undefined || next === ')') break;
      const keyword = this.keyword();
      if (keyword === 'or') break;
      if (keyword === 'and') this.pos += 3;
      terms.push(this.unary(depth));
    }
    return andOf(terms);
  }

  private unary(depth: number): Condition {
    Budget.depth(depth, this.pos);
    const c = this.peek();
    if (c === undefined) throw new QueryError(this.pos, 'expected a condition, found the end of the search');
    const keyword = this.keyword();
    if (keyword === 'not') {
      this.pos += 3;
      return { kind: 'not', term: this.unary(depth + 1) };
    }
    if (keyword === 'and' || keyword === 'or') throw new QueryError(this.pos, `expected a condition before ${keyword}`);
    if (c === '(') {
      const open = this.pos;
      this.pos += 1;
      if (this.peek() === ')') throw new QueryError(this.pos, 'empty parentheses: expected a condition');
      const inner = this.or(depth + 1);
      if (this.peek() !== ')') throw new QueryError(this.pos < this.end ? this.pos : open, this.pos < this.end ? 'expected )' : 'unbalanced (: a closing ) is missing');
      this.pos += 1;
      return inner;
    }
    if (c === ')') throw new QueryError(this.pos, 'expected a condition, found )');
    return this.term();
  }

  private term(): Condition {
    const word = this.word(FIELD_STOP);
    if (!word) throw new QueryError(this.pos, `unexpected ${JSON.stringify(this.src[this.pos])}: expected a condition`);
    this.budget.leaf(word.start);
    const next = this.peek();
    const isCondition = next === ':' || next === '<' || next === '>' || next === '=';
    if (!isCondition) {
      if (word.text === '*' && !word.quoted) return { kind: 'all' };
      if (!word.quoted && word.text.includes('*')) {
        throw new QueryError(word.start, 'wildcards are for field values (event.<field>: va*ue); free text is matched as it is written');
      }
      if (word.text === '') throw new QueryError(word.start, 'empty free-text phrase');
      return { kind: 'text', text: word.text };
    }
    const field = word.quoted ? undefined : fieldOf(word.text, word.start);
    if (!field) {
      throw new QueryError(word.start, `unknown field ${JSON.stringify(word.text.slice(0, 80))}: fields are written event.<name>, e.g. event.eventName`);
    }
    if (next === ':') {
      this.pos += 1;
      const value = this.word(SEARCH_STOP);
      if (!value) throw new QueryError(this.pos, `expected a value after ${field.name}:`);
      if (value.quoted) return { kind: 'exact', field, value: value.text };
      return patternOf(field, value.text.split('*'), value.start);
    }
    const two = this.src.slice(this.pos, this.pos + 2);
    const op: CompareOp = two === '<=' || two === '>=' ? two : (this.src[this.pos] as CompareOp);
    this.pos += op.length;
    const value = this.word(SEARCH_STOP);
    if (!value) throw new QueryError(this.pos, `expected a number or a time after ${op}`);
    const compared = compareValueOf(value.text);
    if (!compared) {
      throw new QueryError(value.start, op === '=' ? `expected a number or a time after =; for text write ${field.name}: value` : `expected a number or a UTC time (2026-01-31T08:00:00Z) after ${op}`);
    }
    return { kind: 'compare', field, op, value: compared };
  }
}

// ---------------------------------------------------------------------------------------------
// The select part: tokens.

type TokenType = 'name' | 'number' | 'string' | 'quotedName' | 'punct' | 'end';
interface Token {
  type: TokenType;
  text: string;
  start: number;
}

function tokenize(src: string, from: number): Token[] {
  const tokens: Token[] = [];
  let i = from;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_.]/.test(src[i] ?? '')) i += 1;
      tokens.push({ type: 'name', text: src.slice(start, i), start });
    } else if (/[0-9]/.test(c)) {
      while (i < src.length && /[0-9.]/.test(src[i] ?? '')) i += 1;
      tokens.push({ type: 'number', text: src.slice(start, i), start });
    } else if (c === "'" || c === '"') {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= src.length) throw new QueryError(start, `unterminated ${c === "'" ? 'string' : 'name'}: a closing ${c} is missing`);
        if (src[i] === c) {
          if (src[i + 1] === c) {
            text += c;
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        text += src[i];
        i += 1;
      }
      checkLiteral(text, start);
      tokens.push({ type: c === "'" ? 'string' : 'quotedName', text, start });
    } else {
      const two = src.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '<>' || two === '!=') {
        i += 2;
        tokens.push({ type: 'punct', text: two, start });
      } else if ('(),*=<>-'.includes(c)) {
        i += 1;
        // a negative number literal
        if (c === '-' && /[0-9]/.test(src[i] ?? '')) {
          while (i < src.length && /[0-9.]/.test(src[i] ?? '')) i += 1;
          tokens.push({ type: 'number', text: src.slice(start, i), start });
        } else tokens.push({ type: 'punct', text: c, start });
      } else {
        throw new QueryError(start, `unexpected character ${JSON.stringify(c)}`);
      }
    }
  }
  tokens.push({ type: 'end', text: '', start: src.length });
  return tokens;
}

const AGGREGATES = new Set(['count', 'min', 'max', 'sum', 'avg']);

class SelectParser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly budget: Budget,
  ) {}

  private get tok(): Token {
    return this.tokens[this.i] ?? { type: 'end', text: '', start: 0 };
  }

  private isWord(word: string): boolean {
    return this.tok.type === 'name' && this.tok.text.toLowerCase() === word;
  }

  private isPunct(p: string): boolean {
    return this.tok.type === 'punct' && this.tok.text === p;
  }

  private describe(t: Token): string {
    return t.type === 'end' ? 'the end of the query' : JSON.stringify(t.text.slice(0, 40));
  }

  private expectWord(word: string): void {
    if (!this.isWord(word)) throw new QueryError(this.tok.start, `expected ${word}, found ${this.describe(this.tok)}`);
    this.i += 1;
  }

  private expectPunct(p: string, what = p): void {
    if (!this.isPunct(p)) throw new QueryError(this.tok.start, `expected ${what}, found ${this.describe(this.tok)}`);
    this.i += 1;
  }

  private field(): FieldRef {
    const t = this.tok;
    if (t.type !== 'name') throw new QueryError(t.start, `expected a field (event.<name>), found ${this.describe(t)}`);
    const field = fieldOf(t.text, t.start);
    if (!field) throw new QueryError(t.start, `unknown field ${JSON.stringify(t.text.slice(0, 80))}: fields are written event.<name>`);
    this.i += 1;
    return field;
  }

  /** An expression of a column, group key or order item. */
  private expr(): ColumnExpr {
    const t = this.tok;
    const name = t.type === 'name' ? t.text.toLowerCase() : '';
    const next = this.tokens[this.i + 1];
    if (next?.type === 'punct' && next.text === '(' && (AGGREGATES.has(name) || name === 'date_trunc')) {
      this.i += 2;
      let expr: ColumnExpr;
      if (name === 'date_trunc') {
        const unitToken = this.tok;
        if (unitToken.type !== 'string') throw new QueryError(unitToken.start, `expected a unit string: ${BUCKET_UNITS.map((u) => `'${u}'`).join(', ')}`);
        const unit = unitToken.text.toLowerCase();
        if (!(BUCKET_UNITS as readonly string[]).includes(unit)) {
          throw new QueryError(unitToken.start, `unknown time unit ${JSON.stringify(unitToken.text.slice(0, 20))}: one of ${BUCKET_UNITS.join(', ')}`);
        }
        this.i += 1;
        this.expectPunct(',');
        expr = { kind: 'bucket', unit: unit as BucketUnit, field: this.field() };
      } else if (name === 'count') {
        if (this.isPunct('*') || (this.tok.type === 'number' && this.tok.text === '1')) {
          this.i += 1;
          expr = { kind: 'count' };
        } else if (this.isWord('distinct')) {
          this.i += 1;
          expr = { kind: 'countDistinct', field: this.field() };
        } else {
          expr = { kind: 'countField', field: this.field() };
        }
      } else {
        expr = { kind: name as 'min' | 'max' | 'sum' | 'avg', field: this.field() };
      }
      this.expectPunct(')');
      return expr;
    }
    if (t.type === 'name' && fieldOf(t.text, t.start)) return { kind: 'field', field: this.field() };
    throw new QueryError(t.start, `expected a field or an aggregate (count, min, max, sum, avg, date_trunc), found ${this.describe(t)}`);
  }

  parse(): Select {
    const selectToken = this.tok;
    if (!this.isWord('select')) throw new QueryError(selectToken.start, `expected select after |, found ${this.describe(selectToken)}`);
    this.i += 1;
    const columns: Column[] = [];
    const columnStarts: number[] = [];
    for (;;) {
      const start = this.tok.start;
      columnStarts.push(start);
      if (this.isPunct('*')) throw new QueryError(start, 'select * is not supported: drop the | select part to get whole events');
      const expr = this.expr();
      let name = columnExprName(expr);
      if (this.isWord('as')) {
        this.i += 1;
        name = this.alias();
      } else if ((this.tok.type === 'name' && !this.isClauseWord()) || this.tok.type === 'quotedName') {
        name = this.alias();
      }
      columns.push({ name, expr });
      if (columns.length > QUERY_LIMITS.maxColumns) throw new QueryError(start, `too many columns: at most ${QUERY_LIMITS.maxColumns}`);
      if (!this.isPunct(',')) break;
      this.i += 1;
    }
    const names = new Set<string>();
    for (const c of columns) {
      if (names.has(c.name)) throw new QueryError(selectToken.start, `two columns are named ${JSON.stringify(c.name)}: give one an alias`);
      names.add(c.name);
    }

    let where: Condition | undefined;
    if (this.isWord('where')) {
      this.i += 1;
      where = this.or(0);
    }
    const groupBy: KeyExpr[] = [];
    if (this.isWord('group')) {
      this.i += 1;
      this.expectWord('by');
      for (;;) {
        const start = this.tok.start;
        groupBy.push(this.groupKey(columns));
        if (groupBy.length > QUERY_LIMITS.maxGroupBy) throw new QueryError(start, `too many group by keys: at most ${QUERY_LIMITS.maxGroupBy}`);
        if (!this.isPunct(',')) break;
        this.i += 1;
      }
    }
    const orderBy: OrderItem[] = [];
    if (this.isWord('order')) {
      this.i += 1;
      this.expectWord('by');
      for (;;) {
        const start = this.tok.start;
        const column = this.orderColumn(columns);
        let descending = false;
        if (this.isWord('desc')) {
          descending = true;
          this.i += 1;
        } else if (this.isWord('asc')) this.i += 1;
        orderBy.push({ column, descending });
        if (orderBy.length > QUERY_LIMITS.maxOrderBy) throw new QueryError(start, `too many order by items: at most ${QUERY_LIMITS.maxOrderBy}`);
        if (!this.isPunct(',')) break;
        this.i += 1;
      }
    }
    let limit = DEFAULT_SELECT_LIMIT;
    if (this.isWord('limit')) {
      this.i += 1;
      const t = this.tok;
      if (t.type !== 'number' || !/^\d+$/.test(t.text)) throw new QueryError(t.start, 'expected a whole number after limit');
      limit = Number(t.text);
      if (limit < 1 || limit > MAX_SELECT_LIMIT) throw new QueryError(t.start, `limit must be 1–${MAX_SELECT_LIMIT}`);
      this.i += 1;
    }
    if (this.tok.type !== 'end') {
      throw new QueryError(this.tok.start, `unexpected ${this.describe(this.tok)}: expected ${this.isPunct(',') ? 'the clause to go on' : 'where, group by, order by, limit or the end of the query'}`);
    }

    const aggregated = columns.some((c) => isAggregate(c.expr));
    const mode = aggregated || groupBy.length > 0 ? 'grouped' : 'rows';
    if (mode === 'grouped') {
      const keys = new Set(groupBy.map(keyExprName));
      for (const [index, c] of columns.entries()) {
        if (!isAggregate(c.expr) && !keys.has(keyExprName(c.expr))) {
          throw new QueryError(columnStarts[index] ?? 0, `column ${JSON.stringify(c.name)} must appear in group by (or be inside an aggregate)`);
        }
      }
    }
    return { columns, ...(where ? { where } : {}), mode, groupBy, orderBy, limit };
  }

  private isClauseWord(): boolean {
    return ['where', 'group', 'order', 'limit', 'as', 'from'].some((w) => this.isWord(w));
  }

  private alias(): string {
    const t = this.tok;
    if (t.type !== 'name' && t.type !== 'quotedName') throw new QueryError(t.start, `expected an alias, found ${this.describe(t)}`);
    if (t.type === 'name' && t.text.includes('.')) throw new QueryError(t.start, 'an alias has no dots (quote it: "a.b")');
    if (t.text === '' || t.text.length > 64) throw new QueryError(t.start, 'an alias has 1–64 characters');
    this.i += 1;
    return t.text;
  }

  /** An ordinal (1-based), an alias, or an expression. */
  private groupKey(columns: readonly Column[]): KeyExpr {
    const t = this.tok;
    if (t.type === 'number') {
      const column = this.ordinal(columns);
      const expr = columns[column]?.expr;
      if (!expr || isAggregate(expr)) throw new QueryError(t.start, `group by ${t.text} names an aggregate column`);
      return expr;
    }
    const aliased = this.aliasColumn(columns);
    if (aliased !== undefined) {
      const expr = columns[aliased]?.expr;
      if (!expr || isAggregate(expr)) throw new QueryError(t.start, `group by ${t.text} names an aggregate column`);
      return expr;
    }
    const expr = this.expr();
    if (isAggregate(expr)) throw new QueryError(t.start, 'cannot group by an aggregate');
    return expr;
  }

  private orderColumn(columns: readonly Column[]): number {
    const t = this.tok;
    if (t.type === 'number') return this.ordinal(columns);
    const aliased = this.aliasColumn(columns);
    if (aliased !== undefined) return aliased;
    const expr = this.expr();
    const name = columnExprName(expr);
    const index = columns.findIndex((c) => columnExprName(c.expr) === name);
    if (index < 0) throw new QueryError(t.start, `order by ${name}: only selected columns can be ordered by; add it to the select`);
    return index;
  }

  private ordinal(columns: readonly Column[]): number {
    const t = this.tok;
    const n = Number(t.text);
    if (!/^\d+$/.test(t.text) || n < 1 || n > columns.length) throw new QueryError(t.start, `column number ${t.text.slice(0, 10)} is not 1–${columns.length}`);
    this.i += 1;
    return n - 1;
  }

  private aliasColumn(columns: readonly Column[]): number | undefined {
    const t = this.tok;
    if (t.type !== 'name' && t.type !== 'quotedName') return undefined;
    const next = this.tokens[this.i + 1];
    if (next?.type === 'punct' && next.text === '(') return undefined;
    // a field path is an expression (it may also be a default column name: same column)
    if (t.type === 'name' && t.text.includes('.')) return undefined;
    const index = columns.findIndex((c) => c.name === t.text);
    if (index < 0) throw new QueryError(t.start, `no column is named ${JSON.stringify(t.text.slice(0, 64))}`);
    this.i += 1;
    return index;
  }

  // ---- the where condition
  private or(depth: number): Condition {
    const terms = [this.and(depth)];
    while (this.isWord('or')) {
      this.i += 1;
      terms.push(this.and(depth));
    }
    return orOf(terms);
  }

  private and(depth: number): Condition {
    const terms = [this.not(depth)];
    while (this.isWord('and')) {
      this.i += 1;
      terms.push(this.not(depth));
    }
    return andOf(terms);
  }

  private not(depth: number): Condition {
    Budget.depth(depth, this.tok.start);
    if (this.isWord('not')) {
      this.i += 1;
      return { kind: 'not', term: this.not(depth + 1) };
    }
    if (this.isPunct('(')) {
      this.i += 1;
      const inner = this.or(depth + 1);
      this.expectPunct(')', ') to close (');
      return inner;
    }
    return this.predicate();
  }

  private literal(): { text: string; type: 'string' | 'number'; start: number } {
    const t = this.tok;
    if (t.type !== 'string' && t.type !== 'number') throw new QueryError(t.start, `expected a 'string' or a number, found ${this.describe(t)}`);
    if (t.type === 'number' && !NUMBER.test(t.text)) throw new QueryError(t.start, `invalid number ${t.text.slice(0, 40)}`);
    this.i += 1;
    return { text: t.text, type: t.type, start: t.start };
  }

  private predicate(): Condition {
    const start = this.tok.start;
    const field = this.field();
    this.budget.leaf(start);
    const t = this.tok;
    if (t.type === 'punct' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.i += 1;
      const lit = this.literal();
      const negate = t.text === '<>' || t.text === '!=';
      const op: CompareOp = negate ? '=' : (t.text as CompareOp);
      let condition: Condition;
      if (op === '=' && lit.type === 'string') condition = { kind: 'exact', field, value: lit.text };
      else {
        const value = compareValueOf(lit.text);
        if (!value) throw new QueryError(lit.start, `expected a number or a UTC time ('2026-01-31T08:00:00Z') for ${t.text}`);
        condition = { kind: 'compare', field, op, value };
      }
      return negate ? { kind: 'not', term: condition } : condition;
    }
    let negate = false;
    if (this.isWord('not')) {
      negate = true;
      this.i += 1;
      if (!this.isWord('like') && !this.isWord('in')) throw new QueryError(this.tok.start, 'expected like or in after not');
    }
    let condition: Condition;
    if (this.isWord('like')) {
      this.i += 1;
      const lit = this.literal();
      if (lit.type !== 'string') throw new QueryError(lit.start, "like takes a 'pattern' string");
      if (lit.text.includes('_')) throw new QueryError(lit.start, "like: the single-character wildcard _ is not supported; use % (any run of characters) or = for an exact value");
      condition = patternOf(field, lit.text.split('%'), lit.start);
    } else if (this.isWord('in')) {
      this.i += 1;
      this.expectPunct('(', '( after in');
      const terms: Condition[] = [];
      for (;;) {
        const lit = this.literal();
        if (lit.type === 'string') terms.push({ kind: 'exact', field, value: lit.text });
        else terms.push({ kind: 'compare', field, op: '=', value: { type: 'number', value: Number(lit.text) } });
        if (terms.length > QUERY_LIMITS.maxInList) throw new QueryError(lit.start, `in list too long: at most ${QUERY_LIMITS.maxInList} values`);
        if (!this.isPunct(',')) break;
        this.i += 1;
      }
      this.expectPunct(')', ') to close the in list');
      condition = orOf(terms);
    } else if (this.isWord('is')) {
      this.i += 1;
      let notNull = false;
      if (this.isWord('not')) {
        notNull = true;
        this.i += 1;
      }
      this.expectWord('null');
      const exists: Condition = { kind: 'exists', field };
      return notNull ? exists : { kind: 'not', term: exists };
    } else {
      throw new QueryError(t.start, `expected a comparison (=, <>, <, <=, >, >=, like, in, is null) after ${field.name}, found ${this.describe(t)}`);
    }
    return negate ? { kind: 'not', term: condition } : condition;
  }
}

/** The first `|` outside a double-quoted string of the search part, or -1. */
function pipeAt(src: string): number {
  let quoted = false;
  for (let i = 0; i < src.length; i += 1) {
    const c = src[i];
    if (quoted) {
      if (c === '\\') i += 1;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '|') return i;
  }
  return -1;
}

/** Parses a query text into its plan, or throws QueryError (InvalidQuery, position, message). */
export function parseQuery(text: string): QueryPlan {
  if (typeof text !== 'string') throw new QueryError(0, 'the query must be text');
  if (text.length > QUERY_LIMITS.maxQueryLength) throw new QueryError(QUERY_LIMITS.maxQueryLength, `query too long: at most ${QUERY_LIMITS.maxQueryLength} characters`);
  const budget = new Budget();
  const pipe = pipeAt(text);
  const search = new SearchParser(text, pipe < 0 ? text.length : pipe, budget).parse();
  if (pipe < 0) return { version: 1, search };
  const select = new SelectParser(tokenize(text, pipe + 1), budget).parse();
  return { version: 1, search, select };
}
