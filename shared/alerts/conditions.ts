/**
 * The alert condition language (docs/design.md §3.12): conditions over the fields an analysis row
 * carries (shared/analysis/analysis-row.ts), so matching never reads an event body or history.
 *
 *   {"field": F, "equals": "v"}          exact, case-sensitive
 *   {"field": F, "prefix": ["a", "b"]}   starts with any of them
 *   {"field": F, "in": ["a", "b"]}       equals any of them
 *   {"field": F, "exists": true|false}   the field is present and not empty (or not)
 *   {"field": "sourceIpAddress", "cidr": ["10.0.0.0/8", "192.0.2.7"]}   inside any block
 *   {"outsideHours": {"timeZone": "Asia/Shanghai", "fromHour": 9, "toHour": 18, "days": [1,2,3,4,5]}}
 *       the event time falls outside [fromHour, toHour) on the listed ISO weekdays (1 Monday … 7
 *       Sunday) in that IANA time zone — every time of another day is outside
 *   {"and": [C, …]}  {"or": [C, …]}  {"not": C}
 *
 * Bounded: ALERT_MAX_CONDITIONS leaves, ALERT_MAX_DEPTH nesting, ALERT_MAX_LIST_ITEMS values a
 * list, ALERT_MAX_VALUE_CHARS a value. `compileCondition` turns a validated condition into a
 * predicate over rows (µs a row); pure.
 */
import { z } from 'zod';
import type { AnalysisRow } from '../analysis/analysis-row.ts';
import { cidrContains, MAX_ALLOWLIST_ENTRY_LENGTH, parseCidr, type Cidr } from '../insights/allowlist.ts';

export const ALERT_MAX_CONDITIONS = 32;
export const ALERT_MAX_DEPTH = 5;
export const ALERT_MAX_LIST_ITEMS = 100;
export const ALERT_MAX_VALUE_CHARS = 256;
/** Longest condition JSON accepted (before parsing). */
export const ALERT_MAX_CONDITION_CHARS = 16_384;

/**
 * The fields a condition (and a rule's GroupBy) may name, and how each is read from a row.
 * ActionTrail's event field names; `mfaChecked` and `sensitiveAction` read as "true" / "false"
 * (absent when the event does not say), `resourceType` / `resourceName` match any of the event's
 * resources (up to the row's ten).
 */
export const ALERT_FIELDS = [
  'eventName',
  'serviceName',
  'eventType',
  'eventRW',
  'acsRegion',
  'sourceIpAddress',
  'userAgent',
  'errorCode',
  'userIdentity.type',
  'userIdentity.userName',
  'userIdentity.principalId',
  'userIdentity.accessKeyId',
  'mfaChecked',
  'sensitiveAction',
  'resourceType',
  'resourceName',
] as const;
export type AlertField = (typeof ALERT_FIELDS)[number];

/** The field's values in a row: one string ('' when absent), or several for the resource fields. */
export function fieldValues(row: AnalysisRow, field: AlertField): readonly string[] {
  switch (field) {
    case 'resourceType':
      return row.resources.map((r) => r.type);
    case 'resourceName':
      return row.resources.map((r) => r.name);
    default:
      return [fieldValue(row, field)];
  }
}

/** The single value of a field ('' when absent; the first resource's for the resource fields). */
export function fieldValue(row: AnalysisRow, field: AlertField): string {
  switch (field) {
    case 'eventName':
      return row.eventName;
    case 'serviceName':
      return row.serviceName;
    case 'eventType':
      return row.eventType;
    case 'eventRW':
      return row.eventRW;
    case 'acsRegion':
      return row.acsRegion;
    case 'sourceIpAddress':
      return row.sourceIpAddress;
    case 'userAgent':
      return row.userAgent;
    case 'errorCode':
      return row.errorCode;
    case 'userIdentity.type':
      return row.identityType;
    case 'userIdentity.userName':
      return row.userName;
    case 'userIdentity.principalId':
      return row.principalId;
    case 'userIdentity.accessKeyId':
      return row.accessKeyId;
    case 'mfaChecked':
      return row.mfa === undefined ? '' : String(row.mfa);
    case 'sensitiveAction':
      return String(row.sensitive);
    case 'resourceType':
      return row.resources[0]?.type ?? '';
    case 'resourceName':
      return row.resources[0]?.name ?? '';
  }
}

const value = z.string().max(ALERT_MAX_VALUE_CHARS, { error: `values are at most ${ALERT_MAX_VALUE_CHARS} characters` });
const list = z
  .array(value)
  .min(1, { error: 'a list needs at least one value' })
  .max(ALERT_MAX_LIST_ITEMS, { error: `a list holds at most ${ALERT_MAX_LIST_ITEMS} values` });
const field = z.enum(ALERT_FIELDS, { error: `field must be one of ${ALERT_FIELDS.join(', ')}` });
const cidrList = z
  .array(
    z
      .string()
      .max(MAX_ALLOWLIST_ENTRY_LENGTH)
      .refine((s) => parseCidr(s) !== undefined, { error: 'each entry must be an IP or a CIDR block (IPv4 /8–/32, IPv6 /32–/128)' }),
  )
  .min(1)
  .max(ALERT_MAX_LIST_ITEMS);

/** The ISO weekdays a business-hours condition covers by default: Monday to Friday. */
export const WEEKDAYS = [1, 2, 3, 4, 5] as const;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const OutsideHoursSchema = z
  .strictObject({
    timeZone: z
      .string()
      .max(64)
      .refine(isTimeZone, { error: 'timeZone must be an IANA time zone such as Asia/Shanghai' }),
    fromHour: z.number().int().min(0).max(23),
    toHour: z.number().int().min(1).max(24),
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1)
      .max(7)
      .default([...WEEKDAYS]),
  })
  .refine((h) => h.fromHour < h.toHour, { error: 'fromHour must be before toHour' });
export type OutsideHours = z.infer<typeof OutsideHoursSchema>;

export type Condition =
  | { field: AlertField; equals: string }
  | { field: AlertField; prefix: string[] }
  | { field: AlertField; in: string[] }
  | { field: AlertField; exists: boolean }
  | { field: 'sourceIpAddress'; cidr: string[] }
  | { outsideHours: OutsideHours }
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition };

const LEAF_OPERATORS = {
  equals: value,
  prefix: list,
  in: list,
  exists: z.boolean({ error: 'exists must be true or false' }),
  cidr: cidrList,
} as const;
type LeafOperator = keyof typeof LEAF_OPERATORS;

class ConditionError extends Error {}

const at = (path: string) => (path === '' ? '' : ` at ${path}`);

function issueOf(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.message ?? 'bad value'}${issue && issue.path.length > 0 ? ` (${issue.path.join('.')})` : ''}`;
}

/**
 * A condition checked operator by operator (the operator a node names decides its schema, so an
 * error names the operator and the path, not "no union member matched").
 */
function validate(raw: unknown, path: string): Condition {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConditionError(`a condition must be a JSON object${at(path)}`);
  const node = raw as Record<string, unknown>;
  const keys = Object.keys(node);
  const only = (key: string) => {
    if (keys.length !== 1) throw new ConditionError(`"${key}" stands alone in its object${at(path)}`);
  };
  if ('and' in node || 'or' in node) {
    const key = 'and' in node ? 'and' : 'or';
    only(key);
    const parts = node[key];
    if (!Array.isArray(parts) || parts.length === 0 || parts.length > ALERT_MAX_CONDITIONS) throw new ConditionError(`"${key}" takes a list of 1–${ALERT_MAX_CONDITIONS} conditions${at(path)}`);
    const checked = parts.map((p, i) => validate(p, `${path}${path ? '.' : ''}${key}.${i}`));
    return key === 'and' ? { and: checked } : { or: checked };
  }
  if ('not' in node) {
    only('not');
    return { not: validate(node['not'], `${path}${path ? '.' : ''}not`) };
  }
  if ('outsideHours' in node) {
    only('outsideHours');
    const parsed = OutsideHoursSchema.safeParse(node['outsideHours']);
    if (!parsed.success) throw new ConditionError(`outsideHours: ${issueOf(parsed.error)}${at(path)}`);
    return { outsideHours: parsed.data };
  }
  if (!('field' in node)) throw new ConditionError(`a condition has "field" with an operator, or one of "and", "or", "not", "outsideHours"${at(path)}`);
  const f = field.safeParse(node['field']);
  if (!f.success) throw new ConditionError(`${issueOf(f.error)}${at(path)}`);
  const operators = keys.filter((k) => k !== 'field');
  const op = operators[0];
  if (operators.length !== 1 || op === undefined || !Object.hasOwn(LEAF_OPERATORS, op)) {
    throw new ConditionError(`a field condition takes exactly one operator of ${Object.keys(LEAF_OPERATORS).join(', ')}${at(path)}`);
  }
  const operator = op as LeafOperator;
  const parsed = LEAF_OPERATORS[operator].safeParse(node[operator]);
  if (!parsed.success) throw new ConditionError(`${operator}: ${issueOf(parsed.error)}${at(path)}`);
  if (operator === 'cidr') {
    if (f.data !== 'sourceIpAddress') throw new ConditionError(`cidr applies to sourceIpAddress only${at(path)}`);
    return { field: 'sourceIpAddress', cidr: parsed.data as string[] };
  }
  return { field: f.data, [operator]: parsed.data } as Condition;
}

/** The nesting depth of an unparsed JSON value (checked before the schema recurses into it). */
function jsonDepth(value: unknown, limit: number, depth = 0): number {
  if (depth > limit) return depth;
  if (Array.isArray(value)) return Math.max(depth, ...value.map((v) => jsonDepth(v, limit, depth + 1)));
  if (value !== null && typeof value === 'object') return Math.max(depth, ...Object.values(value).map((v) => jsonDepth(v, limit, depth + 1)));
  return depth;
}

/** Leaves and depth of a parsed condition. */
export function conditionSize(c: Condition): { leaves: number; depth: number } {
  if ('and' in c || 'or' in c) {
    const parts = 'and' in c ? c.and : c.or;
    let leaves = 0;
    let depth = 0;
    for (const p of parts) {
      const s = conditionSize(p);
      leaves += s.leaves;
      depth = Math.max(depth, s.depth);
    }
    return { leaves, depth: depth + 1 };
  }
  if ('not' in c) {
    const s = conditionSize(c.not);
    return { leaves: s.leaves, depth: s.depth + 1 };
  }
  return { leaves: 1, depth: 1 };
}

export type ConditionProblem = { message: string };

/** A condition from its JSON value, or the problem (the first issue, with its path). */
export function parseCondition(raw: unknown): { condition: Condition } | ConditionProblem {
  // an `and`/`or`/`not` level is an object plus an array: two JSON levels each
  if (jsonDepth(raw, 2 * ALERT_MAX_DEPTH + 2) > 2 * ALERT_MAX_DEPTH + 1) return { message: `conditions nest at most ${ALERT_MAX_DEPTH} levels` };
  let condition: Condition;
  try {
    condition = validate(raw, '');
  } catch (error) {
    if (error instanceof ConditionError) return { message: error.message };
    throw error;
  }
  const size = conditionSize(condition);
  if (size.depth > ALERT_MAX_DEPTH) return { message: `conditions nest at most ${ALERT_MAX_DEPTH} levels` };
  if (size.leaves > ALERT_MAX_CONDITIONS) return { message: `a rule has at most ${ALERT_MAX_CONDITIONS} conditions` };
  return { condition };
}

export type RowPredicate = (row: AnalysisRow) => boolean;

/** The ISO weekday and hour of an instant in a zone, by a formatter made once per zone. */
function zonedClock(timeZone: string): (ms: number) => { day: number; hour: number } {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
  const DAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
  return (ms) => {
    let day = 0;
    let hour = 0;
    for (const part of format.formatToParts(ms)) {
      if (part.type === 'weekday') day = DAYS[part.value] ?? 0;
      else if (part.type === 'hour') hour = Number(part.value) % 24;
    }
    return { day, hour };
  };
}

/** Whether `ms` falls outside the business hours `h`. */
export function outsideHours(h: OutsideHours, ms: number, clock = zonedClock(h.timeZone)): boolean {
  const { day, hour } = clock(ms);
  if (!h.days.includes(day)) return true;
  return hour < h.fromHour || hour >= h.toHour;
}

const anyValue = (row: AnalysisRow, f: AlertField, test: (v: string) => boolean): boolean => {
  if (f === 'resourceType' || f === 'resourceName') return fieldValues(row, f).some(test);
  return test(fieldValue(row, f));
};

/** A predicate over rows for a validated condition. */
export function compileCondition(c: Condition): RowPredicate {
  if ('and' in c) {
    const parts = c.and.map(compileCondition);
    return (row) => parts.every((p) => p(row));
  }
  if ('or' in c) {
    const parts = c.or.map(compileCondition);
    return (row) => parts.some((p) => p(row));
  }
  if ('not' in c) {
    const inner = compileCondition(c.not);
    return (row) => !inner(row);
  }
  if ('outsideHours' in c) {
    const h = c.outsideHours;
    const clock = zonedClock(h.timeZone);
    return (row) => outsideHours(h, row.eventTimeMs, clock);
  }
  const f = c.field;
  if ('equals' in c) {
    const wanted = c.equals;
    return (row) => anyValue(row, f, (v) => v === wanted);
  }
  if ('prefix' in c) {
    const prefixes = c.prefix;
    return (row) => anyValue(row, f, (v) => v !== '' && prefixes.some((p) => v.startsWith(p)));
  }
  if ('in' in c) {
    const set = new Set(c.in);
    return (row) => anyValue(row, f, (v) => set.has(v));
  }
  if ('exists' in c) {
    const wanted = c.exists;
    return (row) => anyValue(row, f, (v) => v !== '') === wanted;
  }
  const blocks = c.cidr.map((s) => parseCidr(s) as Cidr);
  return (row) => {
    const ip = row.sourceIpAddress;
    return ip !== '' && blocks.some((b) => cidrContains(b, ip));
  };
}
