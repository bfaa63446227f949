/**
 * Request parameters of ActionTrail's `LookupEvents` (API 2020-07-06), RPC style: every
 * value arrives as a string. Sources: the LookupEvents API reference (2020-07-06) and
 * "How do I configure the LookupAttribute parameter when I call LookupEvents" (ActionTrail
 * support FAQ), plus the SDK model comments of actiontrail-20200706.
 *
 * Documented behaviour followed here:
 * - `StartTime` / `EndTime`: UTC `yyyy-MM-ddTHH:mm:ssZ`; both or neither; default the last
 *   7 days (EndTime = now). "The end time must be later than the start time"
 *   (InvalidParameterCombination), so StartTime = EndTime is refused too.
 * - `Direction`: BACKWARD (default, newest first) or FORWARD.
 * - `MaxResults`: 1–50. The reference gives 20 as its example and no default: 20 is ours.
 * - `LookupAttribute.N.Key/Value`: one or two conditions, exact and case-sensitive; with the
 *   same key twice only the second counts; beyond two only the first two count (by N);
 *   two different keys only in the pairs ActionTrail lists (see ALLOWED_PAIRS).
 * - Keys include `SensitiveAction` (value `true`: events whose `eventAttributes.SensitiveAction`
 *   is true) and `RoleName` (the role of an assumed-role identity). Choice: a SensitiveAction
 *   value other than `true` is refused (InvalidQueryParameter) — there is no index of
 *   non-sensitive events, and answering nothing would look like a clean record.
 * - History spans 90 days; a 2020-07-06 query spans at most 90 days.
 *
 * Choices where the documentation is silent (all 400):
 * - a bound is inclusive; a bound given to the second covers that whole second
 *   (EndTime 09:40:11Z includes an event at 09:40:11.700Z);
 * - StartTime older than 90 days is clamped to the history horizon and EndTime in the future
 *   to now — not refused: a client computing "now − 90 days" a moment early must not fail.
 *   The answer's StartTime/EndTime report the window actually searched;
 * - only one of StartTime / EndTime → InvalidParameterCombination naming the missing one;
 * - a bad MaxResults, Direction or LookupAttribute → InvalidQueryParameter (the documented
 *   generic code), the message naming the parameter; a pair of keys ActionTrail does not
 *   combine → InvalidParameterCombination;
 * - an empty value counts as absent (`NextToken=` is a first page).
 */
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { parseUtcTime } from '../events/schema.ts';
import { HISTORY_RETENTION_MS, LOOKUP_KEYS, SENSITIVE_ACTION_VALUE, type LookupKey } from '../history/history-store.ts';

export const DEFAULT_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_MAX_RESULTS = 20;
export const MAX_MAX_RESULTS = 50;

export type Direction = 'BACKWARD' | 'FORWARD';
export interface LookupCondition {
  key: LookupKey;
  value: string;
}

export interface LookupParams {
  /** Inclusive window, epoch ms, after clamping to [now − 90 days, now]. */
  startMs: number;
  endMs: number;
  /** Whether the clamped window is empty (StartTime in the future, EndTime beyond history). */
  empty: boolean;
  direction: Direction;
  maxResults: number;
  /** The condition the store evaluates (the more selective one of a pair). */
  condition?: LookupCondition;
  /** A second condition (an allowed pair only), applied to what the store returns. */
  filter?: LookupCondition;
  nextToken?: string;
  /** StartTime / EndTime exactly as given (absent: defaulted); NextToken binds these. */
  given: { startTime?: string; endTime?: string };
}

/** Two-key combinations ActionTrail documents (keys outside LOOKUP_KEYS left out). */
const ALLOWED_PAIRS: readonly (readonly [LookupKey, LookupKey])[] = [
  ['ServiceName', 'EventName'],
  ['ServiceName', 'User'],
  ['ServiceName', 'ResourceName'],
  ['ServiceName', 'EventRW'],
  ['ServiceName', 'EventType'],
  ['ResourceName', 'ResourceType'],
  ['ResourceName', 'EventName'],
  ['ResourceName', 'User'],
  ['EventType', 'EventName'],
];

/** Most selective first: of an allowed pair, the earlier key goes to the store's index. */
const SELECTIVITY: readonly LookupKey[] = [
  'EventId',
  'ResourceName',
  'EventAccessKeyId',
  'SourceIpAddress',
  'User',
  'EventName',
  'ResourceType',
  'ServiceName',
  'EventType',
  'EventRW',
  'RoleName',
  'SensitiveAction',
];

const ATTRIBUTE_PARAM = /^LookupAttribute\.([^.]*)\.(Key|Value)$/;
const INDEX = /^[1-9]\d{0,5}$/;

const maxResultsSchema = z
  .string()
  .regex(/^\d{1,3}$/, { error: 'must be an integer' })
  .transform(Number)
  .pipe(z.number().int().min(1, { error: `must be 1–${MAX_MAX_RESULTS}` }).max(MAX_MAX_RESULTS, { error: `must be 1–${MAX_MAX_RESULTS}` }));
const directionSchema = z.enum(['BACKWARD', 'FORWARD'], { error: 'must be BACKWARD or FORWARD' });
const keySchema = z.enum(LOOKUP_KEYS, { error: `must be one of ${LOOKUP_KEYS.join(', ')}` });

function present(params: Record<string, string>, name: string): string | undefined {
  const value = params[name];
  return value === undefined || value === '' ? undefined : value;
}

function fieldError<T>(result: z.ZodSafeParseResult<T>, field: string, code = 'InvalidQueryParameter'): T {
  if (result.success) return result.data;
  throw new ValidationError(code, `${field}: ${result.error.issues[0]?.message ?? 'invalid'}`, field);
}

/** A UTC instant `yyyy-MM-ddTHH:mm:ssZ` (a fraction of a second is tolerated). */
function parseTime(text: string, field: 'StartTime' | 'EndTime'): number {
  const ms = parseUtcTime(text);
  if (ms === undefined) {
    throw new ValidationError(
      `InvalidParameter${field}`,
      `The specified ${field} is invalid: expected UTC yyyy-MM-ddTHH:mm:ssZ, got ${JSON.stringify(text.slice(0, 64))}`,
      field,
    );
  }
  return ms;
}

const hasFraction = (text: string): boolean => text.includes('.');
const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;
const ceilSecond = (ms: number): number => Math.ceil(ms / 1000) * 1000;

function parseConditions(params: Record<string, string>): { condition?: LookupCondition; filter?: LookupCondition } {
  const byIndex = new Map<number, { key?: string; value?: string }>();
  for (const [name, value] of Object.entries(params)) {
    const m = ATTRIBUTE_PARAM.exec(name);
    if (!m) continue;
    const [, index = '', part] = m;
    if (!INDEX.test(index)) {
      throw new ValidationError('InvalidQueryParameter', `${name}: N must be a positive integer`, name);
    }
    const n = Number(index);
    const entry = byIndex.get(n) ?? {};
    if (part === 'Key') entry.key = value;
    else entry.value = value;
    byIndex.set(n, entry);
  }
  const given: LookupCondition[] = [];
  for (const n of [...byIndex.keys()].sort((a, b) => a - b)) {
    const entry = byIndex.get(n) ?? {};
    if (entry.key === undefined || entry.key === '') {
      throw new ValidationError('InvalidQueryParameter', `LookupAttribute.${n}.Key is required with LookupAttribute.${n}.Value`, `LookupAttribute.${n}.Key`);
    }
    const key = fieldError(keySchema.safeParse(entry.key), `LookupAttribute.${n}.Key`);
    if (entry.value === undefined || entry.value === '') {
      throw new ValidationError('InvalidQueryParameter', `LookupAttribute.${n}.Value is required with LookupAttribute.${n}.Key`, `LookupAttribute.${n}.Value`);
    }
    if (key === 'SensitiveAction' && entry.value !== SENSITIVE_ACTION_VALUE) {
      throw new ValidationError(
        'InvalidQueryParameter',
        `LookupAttribute.${n}.Value: SensitiveAction takes the value ${SENSITIVE_ACTION_VALUE} (got ${JSON.stringify(entry.value.slice(0, 64))})`,
        `LookupAttribute.${n}.Value`,
      );
    }
    given.push({ key, value: entry.value });
  }
  // ActionTrail: beyond two conditions only the first two count; the same key twice → the second.
  const [first, second] = given;
  if (!first) return {};
  if (!second) return { condition: first };
  if (first.key === second.key) return { condition: second };
  const allowed = ALLOWED_PAIRS.some(([a, b]) => (a === first.key && b === second.key) || (a === second.key && b === first.key));
  if (!allowed) {
    throw new ValidationError(
      'InvalidParameterCombination',
      `LookupAttribute: ${first.key} and ${second.key} cannot be combined; allowed pairs: ${ALLOWED_PAIRS.map((p) => p.join('+')).join(', ')}`,
      'LookupAttribute',
    );
  }
  const [condition, filter] = SELECTIVITY.indexOf(first.key) <= SELECTIVITY.indexOf(second.key) ? [first, second] : [second, first];
  return { condition, filter };
}

/** Parses LookupEvents' parameters (other parameters, e.g. the RPC common ones, are ignored). */
export function parseLookupParams(params: Record<string, string>, nowMs: number): LookupParams {
  const startText = present(params, 'StartTime');
  const endText = present(params, 'EndTime');
  const nowSecond = floorSecond(nowMs);
  const nowEnd = nowSecond + 999;
  const horizon = ceilSecond(nowMs - HISTORY_RETENTION_MS);

  let startMs: number;
  let endMs: number;
  if (startText === undefined && endText === undefined) {
    startMs = nowSecond - DEFAULT_WINDOW_MS;
    endMs = nowEnd;
  } else {
    // Format errors first, then the pairing rule.
    const start = startText === undefined ? undefined : parseTime(startText, 'StartTime');
    const end = endText === undefined ? undefined : parseTime(endText, 'EndTime');
    if (start === undefined || end === undefined) {
      const missing = start === undefined ? 'StartTime' : 'EndTime';
      throw new ValidationError('InvalidParameterCombination', `StartTime and EndTime must be given together (${missing} is missing)`, missing);
    }
    if (end <= start) {
      throw new ValidationError('InvalidParameterCombination', 'The end time must be later than the start time.', 'EndTime');
    }
    startMs = start;
    endMs = endText !== undefined && !hasFraction(endText) ? end + 999 : end;
  }
  const clampedStart = Math.max(startMs, horizon);
  const clampedEnd = Math.min(endMs, nowEnd);
  const empty = clampedStart > clampedEnd;

  const maxText = present(params, 'MaxResults');
  const maxResults = maxText === undefined ? DEFAULT_MAX_RESULTS : fieldError(maxResultsSchema.safeParse(maxText), 'MaxResults');
  const directionText = present(params, 'Direction');
  const direction = directionText === undefined ? 'BACKWARD' : fieldError(directionSchema.safeParse(directionText), 'Direction');
  const nextToken = present(params, 'NextToken');

  const { condition, filter } = parseConditions(params);
  const given: LookupParams['given'] = {};
  if (startText !== undefined) given.startTime = startText;
  if (endText !== undefined) given.endTime = endText;
  const out: LookupParams = {
    startMs: empty ? startMs : clampedStart,
    endMs: empty ? endMs : clampedEnd,
    empty,
    direction,
    maxResults,
    given,
  };
  if (condition) out.condition = condition;
  if (filter) out.filter = filter;
  if (nextToken !== undefined) out.nextToken = nextToken;
  return out;
}

/** ActionTrail's time format, `2020-11-02T09:40:11Z` (to the second, UTC). */
export function formatUtcSecond(ms: number): string {
  return new Date(floorSecond(ms)).toISOString().replace('.000Z', 'Z');
}
