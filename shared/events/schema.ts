/**
 * ActionTrail event record (DESIGN §3.1): schema, parser and small readers.
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
 * - `eventName` is required; `eventId` is optional (ingest generates it when absent).
 */
import { z } from 'zod';

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

const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** Epoch ms of a strict UTC time string, or undefined when malformed or impossible. */
export function parseUtcTime(text: string): number | undefined {
  const m = UTC_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number, number, number, number, number, number,
  ];
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  d.setUTCFullYear(year); // Date.UTC maps years 0–99 to 1900–1999
  const real =
    d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
  return real ? d.getTime() : undefined;
}

const BOOL_TEXT = /^(true|false)$/i;
const flag = z.union([z.boolean(), z.string().regex(BOOL_TEXT)]).nullish();
const text = z.string().nullish();
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

const sessionContext = z.looseObject({
  attributes: z.looseObject({ mfaAuthenticated: flag, creationDate: text }).nullish(),
});

export const userIdentitySchema = z.looseObject(
  {
    type: text,
    principalId: text,
    accountId,
    accessKeyId: text,
    userName: text,
    sessionContext: sessionContext.nullish(),
  },
  { error: 'userIdentity must be an object' },
);

export const actionTrailEventSchema = z.looseObject(
  {
    eventId: z.string().min(1).nullish(),
    eventVersion: z.union([z.number(), z.string()]).nullish(),
    eventTime,
    eventType: z.enum(EVENT_TYPES, { error: `eventType must be one of ${EVENT_TYPES.join(', ')}` }).nullish(),
    eventCategory: text,
    eventName: z.string({ error: 'eventName must be a string' }).min(1, { error: 'eventName must not be empty' }),
    eventSource: text,
    eventRW: z.enum(EVENT_RW, { error: 'eventRW must be Read or Write' }).nullish(),
    serviceName: text,
    acsRegion: text,
    isGlobal: flag,
    sourceIpAddress: text,
    userAgent: text,
    requestId: text,
    apiVersion: text,
    errorCode: text,
    errorMessage: text,
    requestParameters: stringMap,
    responseElements: z.unknown().optional(),
    referencedResources: z.record(z.string(), z.array(z.string())).nullish(),
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

export function parseEvent(input: unknown): ParseEventResult {
  const result = actionTrailEventSchema.safeParse(input);
  if (result.success) return { ok: true, event: result.data };
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
