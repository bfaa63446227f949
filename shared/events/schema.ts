/**
 * ActionTrail event record (docs/design.md §3.1): schema, parser and small readers.
 *
 * Tolerant where real records vary, strict where it matters:
 * - every object is loose: unknown fields are kept verbatim, and the parser never
 *   rewrites a value (no coercion, no transforms) — `parseEvent(x).event` deep-equals `x`;
 * - `eventVersion` may be a number or a string;
 * - optional fields may be absent or `null` (both mean "not recorded");
 * - MFA flags may be booleans or the strings "true"/"false" (any case);
 * - `eventTime` must be a real UTC instant `YYYY-MM-DDThh:mm:ssZ`, optionally with a
 *   fraction of a second (`.sss`, 1–9 digits); offsets other than `Z` are rejected;
 * - `userIdentity.accountId` must be a STRING of digits. Numbers are rejected, not
 *   converted: a JSON number loses digits past 2^53, so an id that arrives as a number
 *   cannot be trusted to be the id that was sent;
 * - `eventRW` / `eventType`, when present, must be one of the documented values;
 * - `eventName` is required; `eventId` is optional (ingest generates it when absent);
 * - what a later stage would refuse is refused here, per record (docs/design.md §3.2): an
 *   `eventId` of 1–EVENT_ID_MAX_BYTES bytes of well-formed text (the history blob header
 *   holds its length in one byte), well-formed UTF-16 in every string used as a key or
 *   index value (Redis and S3 see UTF-8: a lone surrogate becomes U+FFFD, so two values would
 *   share a key), an `acsRegion` that can name an archive folder, an `eventTime` from
 *   EVENT_TIME_MIN_MS to EVENT_TIME_MAX_AHEAD_MS past its receipt (`parseEvent`'s option), and
 *   no value nested deeper than EVENT_MAX_DEPTH (later stages serialise recursively).
 */
import { z } from 'zod';
import { ARCHIVE_REGION_PATTERN } from '../archive/layout.ts';

/** Longest eventId, in UTF-8 bytes: history's blob header stores its length in one byte. */
export const EVENT_ID_MAX_BYTES = 255;
/**
 * How far past its receipt an eventTime may lie. Producers' clocks drift, so minutes are
 * allowed; far-future times would keep history and summary keys alive past their retention.
 */
export const EVENT_TIME_MAX_AHEAD_MS = 15 * 60 * 1000;
/** Earliest eventTime: the logstore's `__time__` and history's time header are unsigned epoch times. */
export const EVENT_TIME_MIN_MS = 0;
/**
 * Deepest nesting of objects and arrays in an event (the record itself is level 1). ActionTrail's
 * own records nest a handful of levels; every later stage serialises events with recursive code
 * (JSON.stringify, the stores), which overflows the stack near 17,000 levels.
 */
export const EVENT_MAX_DEPTH = 64;

/** Lone surrogates (a high not followed by a low, or a low not preceded by a high). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string is well-formed UTF-16 (survives a round trip through UTF-8). */
export function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

const WELL_FORMED = { error: 'must be well-formed text (no lone surrogate code units)' } as const;

export const EVENT_RW = ['Read', 'Write'] as const;
export type EventRW = (typeof EVENT_RW)[number];

export const EVENT_TYPES = [
  'ApiCall',
  'ConsoleOperation',
  'ConsoleSignin',
  'ConsoleSignout',
  'AliyunServiceEvent',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1–12), by Hinnant's days_from_civil. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/**
 * Epoch ms of a strict UTC time string `YYYY-MM-DDThh:mm:ss[.f{1,9}]Z`, or undefined when
 * malformed or impossible (Feb 30, hour 24). Read by hand — every event's time is parsed on the
 * hot path, so no match arrays or Date objects; fractions past milliseconds are cut, not rounded.
 */
export function parseUtcTime(text: string): number | undefined {
  const n = text.length;
  if (n < 20 || n > 30 || text.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (!at(text, 4, 45) || !at(text, 7, 45) || !at(text, 10, 84) || !at(text, 13, 58) || !at(text, 16, 58)) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  let ms = 0;
  if (n !== 20) {
    // `.` then 1–9 digits, the first three of which are the milliseconds
    const fraction = n - 21;
    if (!at(text, 19, 46) || fraction < 1 || digitsAt(text, 20, fraction) < 0) return undefined;
    ms = digitsAt(text, 20, Math.min(3, fraction)) * (fraction >= 3 ? 1 : fraction === 2 ? 10 : 100);
  }
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms;
}

const at = (text: string, i: number, code: number): boolean => text.charCodeAt(i) === code;

/** The decimal number in text[from, from + count), or -1 if a character there is not an ASCII digit. */
function digitsAt(text: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

const BOOL_TEXT = /^(true|false)$/i;
const flag = z.union([z.boolean(), z.string().regex(BOOL_TEXT)]).nullish();
const text = z.string().nullish();
/** A string used as a key or index value somewhere downstream: well-formed UTF-16. */
const keyText = z.string().refine(isWellFormedText, WELL_FORMED).nullish();
const stringMap = z.record(z.string(), z.unknown()).nullish();

const eventTime = z.string().superRefine((value, ctx) => {
  if (parseUtcTime(value) === undefined) {
    ctx.addIssue({
      code: 'invalid_format',
      format: 'datetime',
      input: value,
      message: 'eventTime must be a real UTC time YYYY-MM-DDThh:mm:ssZ (optionally .sssZ)',
    });
  }
});

const accountId = z
  .string({ error: 'userIdentity.accountId must be a string of digits (numbers are not accepted)' })
  .regex(/^\d+$/, { error: 'userIdentity.accountId must be a string of digits' });

const eventId = z
  .string({ error: 'eventId must be a string' })
  .min(1, { error: 'eventId must not be empty' })
  .refine(isWellFormedText, WELL_FORMED)
  .refine((v) => Buffer.byteLength(v, 'utf8') <= EVENT_ID_MAX_BYTES, { error: `eventId must be at most ${EVENT_ID_MAX_BYTES} bytes (UTF-8)` });

/** Archive files are laid out per region: a region must be a region id (`cn-hangzhou`) or empty (the trail's). */
const acsRegion = z
  .string()
  .refine((v) => v === '' || ARCHIVE_REGION_PATTERN.test(v), { error: 'acsRegion must be a region id such as cn-hangzhou (lower-case letters, digits and -)' })
  .nullish();

/** What a value is, as zod names it in its type messages. */
function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * The first fault of a referencedResources object (resource type → names, every one well-formed
 * text), with its path under the field, or undefined. Checked by hand so that one record yields
 * one issue however many names it holds: as a record of arrays, zod made an issue per bad name
 * and spread them onto one array — 150,000 in one record overflowed the stack (the whole batch
 * failed) and fewer made a rejection message of megabytes.
 */
function referencedResourcesFault(value: Readonly<Record<string, unknown>>): { path: (string | number)[]; message: string } | undefined {
  for (const [type, names] of Object.entries(value)) {
    if (!isWellFormedText(type)) return { path: [type], message: WELL_FORMED.error };
    if (!Array.isArray(names)) return { path: [type], message: `Invalid input: expected array, received ${kindOf(names)}` };
    for (let i = 0; i < names.length; i++) {
      const name: unknown = names[i];
      if (typeof name !== 'string') return { path: [type, i], message: `Invalid input: expected string, received ${kindOf(name)}` };
      if (!isWellFormedText(name)) return { path: [type, i], message: WELL_FORMED.error };
    }
  }
  return undefined;
}

const referencedResources = z
  .custom<Record<string, string[]>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
    error: (issue) => `Invalid input: expected record, received ${kindOf(issue.input)}`,
  })
  .superRefine((value, ctx) => {
    const fault = referencedResourcesFault(value);
    if (fault) ctx.addIssue({ code: 'custom', path: fault.path, message: fault.message, input: value });
  });

const sessionContext = z.looseObject({
  attributes: z.looseObject({ mfaAuthenticated: flag, creationDate: text }).nullish(),
});

export const userIdentitySchema = z.looseObject(
  {
    type: keyText,
    principalId: keyText,
    accountId,
    accessKeyId: keyText,
    userName: keyText,
    sessionContext: sessionContext.nullish(),
  },
  { error: 'userIdentity must be an object' },
);

export const actionTrailEventSchema = z.looseObject(
  {
    eventId: eventId.nullish(),
    eventVersion: z.union([z.number(), z.string()]).nullish(),
    eventTime,
    eventType: z.enum(EVENT_TYPES, { error: `eventType must be one of ${EVENT_TYPES.join(', ')}` }).nullish(),
    eventCategory: text,
    eventName: z.string({ error: 'eventName must be a string' }).min(1, { error: 'eventName must not be empty' }).refine(isWellFormedText, WELL_FORMED),
    eventSource: keyText,
    eventRW: z.enum(EVENT_RW, { error: 'eventRW must be Read or Write' }).nullish(),
    serviceName: keyText,
    acsRegion,
    isGlobal: flag,
    sourceIpAddress: keyText,
    userAgent: text,
    requestId: text,
    apiVersion: keyText,
    errorCode: text,
    errorMessage: text,
    requestParameters: stringMap,
    responseElements: z.unknown().optional(),
    referencedResources: referencedResources.nullish(),
    additionalEventData: z.looseObject({ isMFAChecked: flag, mfaChecked: flag }).nullish(),
    eventAttributes: stringMap,
    recipientAccountId: text,
    vpcId: text,
    userIdentity: userIdentitySchema,
  },
  { error: 'an event must be a JSON object' },
);

export type ActionTrailEvent = z.infer<typeof actionTrailEventSchema>;

export interface EventIssue {
  /** Dotted path of the offending field, e.g. "userIdentity.accountId" ("" for the record itself). */
  field: string;
  /** "required", or the zod issue code: invalid_type, invalid_value, invalid_format, too_small… */
  code: string;
  message: string;
}

export type ParseEventResult =
  | { ok: true; event: ActionTrailEvent }
  | { ok: false; issues: EventIssue[] };

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

export interface ParseEventOptions {
  /** When the event was received (ingest) or read (backfill): eventTime may not lie more than EVENT_TIME_MAX_AHEAD_MS past it. */
  receivedAtMs?: number;
}

/** Why an eventTime is refused (outside EVENT_TIME_MIN_MS … receipt + EVENT_TIME_MAX_AHEAD_MS), or undefined. */
export function eventTimeIssue(timeMs: number, options: ParseEventOptions = {}): EventIssue | undefined {
  if (timeMs < EVENT_TIME_MIN_MS) {
    return { field: 'eventTime', code: 'too_small', message: `eventTime must not be before ${new Date(EVENT_TIME_MIN_MS).toISOString()}` };
  }
  const { receivedAtMs } = options;
  if (receivedAtMs !== undefined && timeMs > receivedAtMs + EVENT_TIME_MAX_AHEAD_MS) {
    return {
      field: 'eventTime',
      code: 'too_big',
      message: `eventTime must not be more than ${EVENT_TIME_MAX_AHEAD_MS / 60_000} minutes after the event was received (${new Date(receivedAtMs).toISOString()})`,
    };
  }
  return undefined;
}

/** Nesting depth of a JSON value, counted without recursion (a container is one level deeper than its parent). */
function depthOf(value: unknown, limit: number): number {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let deepest = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(current)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The field whose value nests past EVENT_MAX_DEPTH (with the record as level 1), or undefined. */
function nestingIssue(input: unknown): EventIssue | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  for (const [field, value] of Object.entries(input)) {
    if (depthOf(value, EVENT_MAX_DEPTH - 1) > EVENT_MAX_DEPTH - 1) {
      return { field, code: 'too_deep', message: `${field} nests objects or arrays deeper than ${EVENT_MAX_DEPTH} levels` };
    }
  }
  return undefined;
}

export function parseEvent(input: unknown, options: ParseEventOptions = {}): ParseEventResult {
  // Before the schema: a record every later stage would fail to serialise is refused here.
  const deep = nestingIssue(input);
  if (deep) return { ok: false, issues: [deep] };
  const result = actionTrailEventSchema.safeParse(input);
  if (result.success) {
    const timeMs = parseUtcTime(result.data.eventTime);
    const issue = timeMs === undefined ? undefined : eventTimeIssue(timeMs, options);
    return issue ? { ok: false, issues: [issue] } : { ok: true, event: result.data };
  }
  const issues = result.error.issues.map((issue): EventIssue => {
    const field = issue.path.map(String).join('.');
    const missing = issue.path.length > 0 && valueAt(input, issue.path) === undefined;
    return missing
      ? { field, code: 'required', message: `${field} is required` }
      : { field, code: issue.code, message: issue.message };
  });
  return { ok: false, issues };
}

// ---- readers -------------------------------------------------------------------

function flagValue(value: boolean | string | null | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && BOOL_TEXT.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}

/**
 * Whether MFA was used: the logon flag (`additionalEventData.isMFAChecked` for the root
 * account, `mfaChecked` for RAM users), else the session's `mfaAuthenticated`;
 * undefined when the record says nothing.
 */
export function mfaOf(event: ActionTrailEvent): boolean | undefined {
  const extra = event.additionalEventData;
  return (
    flagValue(extra?.isMFAChecked) ??
    flagValue(extra?.mfaChecked) ??
    flagValue(event.userIdentity.sessionContext?.attributes?.mfaAuthenticated)
  );
}

/** Epoch ms of `eventTime` (validated by the schema, so always a number for parsed events). */
export function eventTimeMs(event: Pick<ActionTrailEvent, 'eventTime'>): number {
  const ms = parseUtcTime(event.eventTime);
  if (ms === undefined) throw new RangeError(`invalid eventTime: ${event.eventTime}`);
  return ms;
}

/** An error is recorded when errorCode or errorMessage is a non-blank string. */
export function hasError(event: ActionTrailEvent): boolean {
  const blank = (v: string | null | undefined) => v == null || v.trim() === '';
  return !blank(event.errorCode) || !blank(event.errorMessage);
}

/** `isGlobal` as a boolean (records carry it as a boolean or "true"/"false"). */
export function isGlobalOf(event: ActionTrailEvent): boolean {
  return flagValue(event.isGlobal) ?? false;
}

/** The account an event belongs to (for storage, routing and access checks). */
export function accountOf(event: ActionTrailEvent): string {
  return event.userIdentity.accountId;
}
