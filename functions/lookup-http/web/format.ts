/**
 * Pure display helpers of the console (unit-tested in Node): how an event, a summary window,
 * a trail and an error are shown. No DOM here.
 */
import { ApiError, NetworkError, isJsonObject, type Json, type JsonObject } from './api.ts';

// ── values ──────────────────────────────────────────────────────────────────────────────

/** The value at a path of nested objects, or undefined. */
export function at(value: Json | undefined, ...path: string[]): Json | undefined {
  let node = value;
  for (const key of path) {
    if (!isJsonObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** A scalar at a path as text ('' and absent → undefined). */
export function text(value: Json | undefined, ...path: string[]): string | undefined {
  const v = at(value, ...path);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

// ── times ───────────────────────────────────────────────────────────────────────────────

const localFormats = new Map<string, Intl.DateTimeFormat>();

function partsFormat(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let format = localFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      ...(timeZone ? { timeZone } : {}),
    });
    localFormats.set(key, format);
  }
  return format;
}

/** `2026-11-22 18:04:05` in the browser's zone (or `timeZone`). */
export function formatLocal(ms: number, timeZone?: string): string {
  const parts: Record<string, string> = {};
  for (const part of partsFormat(timeZone).formatToParts(ms)) parts[part.type] = part.value;
  return `${parts['year']}-${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']}:${parts['second']}`;
}

/** `2026-11-22 18:04` (no seconds), for ranges and windows. */
export function formatLocalMinute(ms: number, timeZone?: string): string {
  return formatLocal(ms, timeZone).slice(0, 16);
}

/** `2026-11-22T10:04:05Z`. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The zone's name and offset for column headings: `Asia/Shanghai, UTC+08:00`. */
export function zoneLabel(ms: number, timeZone?: string): string {
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value;
  const offset = name === 'GMT' ? 'UTC' : (name ?? '').replace('GMT', 'UTC');
  return zone === 'UTC' || zone === 'Etc/UTC' ? 'UTC' : `${zone}, ${offset}`;
}

// ── events ──────────────────────────────────────────────────────────────────────────────

/** ActionTrail's names for `userIdentity.type`. */
export const IDENTITY_TYPES: Readonly<Record<string, string>> = {
  'root-account': 'Alibaba Cloud account',
  'ram-user': 'RAM user',
  'assumed-role': 'RAM role',
  'cloudsso-user': 'CloudSSO user',
  'saml-user': 'SAML user',
  system: 'Alibaba Cloud service',
  'alibaba-cloud-service': 'Alibaba Cloud service',
  'aliyun-service': 'Alibaba Cloud service',
};

export function identityTypeLabel(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  return IDENTITY_TYPES[type] ?? type;
}

/** `root (Alibaba Cloud account)`, `bob (RAM user)`; the principal when there is no name. */
export function formatUser(userName: string | undefined, identityType: string | undefined, principalId?: string): string {
  const name = userName ?? principalId ?? '';
  const label = identityTypeLabel(identityType);
  if (!label) return name || '—';
  return name ? `${name} (${label})` : `(${label})`;
}

export function eventUser(event: JsonObject): string {
  return formatUser(text(event, 'userIdentity', 'userName'), text(event, 'userIdentity', 'type'), text(event, 'userIdentity', 'principalId'));
}

export function eventTimeMs(event: JsonObject): number {
  return Date.parse(text(event, 'eventTime') ?? '');
}

/**
 * Resource types and names of an event: the `ACS::<Service>::<Type>` keys of
 * referencedResources when it has any (events from 2020-08-26 carry both forms), else the
 * legacy keys.
 */
export function eventResources(event: JsonObject): { types: string[]; names: string[] } {
  const resources = at(event, 'referencedResources');
  if (!isJsonObject(resources)) return { types: [], names: [] };
  const keys = Object.keys(resources);
  const acs = keys.filter((k) => k.startsWith('ACS::'));
  const types = acs.length > 0 ? acs : keys;
  const names = new Set<string>();
  for (const type of types) {
    const ids = resources[type];
    for (const id of Array.isArray(ids) ? ids : [ids]) if (typeof id === 'string' && id !== '') names.add(id);
  }
  return { types, names: [...names] };
}

function yesNo(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'true') return 'Yes';
  if (v === 'false') return 'No';
  return value;
}

/**
 * Whether MFA was used, where the event says: logons carry `additionalEventData.isMFAChecked`
 * (root) or `mfaChecked` (RAM user); sessions `userIdentity.sessionContext.attributes.mfaAuthenticated`.
 */
export function eventMfa(event: JsonObject): string | undefined {
  return yesNo(
    text(event, 'additionalEventData', 'isMFAChecked') ??
      text(event, 'additionalEventData', 'mfaChecked') ??
      text(event, 'userIdentity', 'sessionContext', 'attributes', 'mfaAuthenticated'),
  );
}

/** The expanded row of an event: label → value, leaving out what the event does not say (but never the error). */
export function eventDetails(event: JsonObject): [label: string, value: string][] {
  const errorCode = text(event, 'errorCode');
  const errorMessage = text(event, 'errorMessage');
  const rows: [string, string | undefined][] = [
    ['AccessKey', text(event, 'userIdentity', 'accessKeyId')],
    ['Event Source', text(event, 'eventSource')],
    ['Region', text(event, 'acsRegion')],
    ['Error Code', errorCode ? (errorMessage ? `${errorCode}: ${errorMessage}` : errorCode) : 'None'],
    ['Request ID', text(event, 'requestId')],
    ['Event ID', text(event, 'eventId')],
    ['Source IP', text(event, 'sourceIpAddress')],
    ['Read/Write', text(event, 'eventRW')],
    ['MFA', eventMfa(event)],
    ['Event Type', text(event, 'eventType')],
    ['Service Name', text(event, 'serviceName')],
    ['Account ID', text(event, 'userIdentity', 'accountId') ?? text(event, 'recipientAccountId')],
    ['User Agent', text(event, 'userAgent')],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== undefined);
}

// ── summaries ───────────────────────────────────────────────────────────────────────────

export const WINDOW_MS = 2 * 60 * 60 * 1000;

export function windowStartOf(ms: number): number {
  return Math.floor(ms / WINDOW_MS) * WINDOW_MS;
}

/** Every 2-hour UTC window overlapping [startMs, endMs], oldest first. */
export function windowsBetween(startMs: number, endMs: number): number[] {
  const starts: number[] = [];
  for (let ws = windowStartOf(startMs); ws <= endMs; ws += WINDOW_MS) starts.push(ws);
  return starts;
}

/** `2026-11-22 18:00–20:00` (or `… 22:00 – 2026-11-23 00:00` across midnight), in the browser's zone. */
export function formatWindow(startMs: number, timeZone?: string): string {
  const from = formatLocalMinute(startMs, timeZone);
  const to = formatLocalMinute(startMs + WINDOW_MS, timeZone);
  return from.slice(0, 10) === to.slice(0, 10) ? `${from}–${to.slice(11)}` : `${from} – ${to}`;
}

/** A round axis maximum at or above `max`: 1, 2, 5 × 10ⁿ. */
export function niceMax(max: number): number {
  if (max <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

// ── trails ──────────────────────────────────────────────────────────────────────────────

export const TRAIL_STATUS_TEXT: Readonly<Record<string, string>> = {
  Fresh: 'never started',
  Enable: 'logging',
  Disable: 'stopped',
};

// ── errors ──────────────────────────────────────────────────────────────────────────────

export type ErrorAction = 'retry' | 'sign-in';

const WRONG_KEY = 'The AccessKey ID or secret is wrong. Check both (npm start prints the demo pair; npm run keys -- create makes a new one) and sign in again.';

/** What went wrong, in words that say what to do, and which button to offer. */
export function describeError(error: unknown): { message: string; action: ErrorAction; detail?: string } {
  if (error instanceof NetworkError) {
    return { message: `Cannot reach lookup-http at ${error.endpoint}. Check that TrailKeeper is running (npm start) and that your network is up, then retry.`, action: 'retry' };
  }
  if (error instanceof ApiError) {
    const detail = [`${error.code}: ${error.message}`, error.requestId ? `RequestId ${error.requestId}` : ''].filter(Boolean).join(' · ');
    switch (error.code) {
      case 'InvalidAccessKeyId.NotFound':
      case 'SignatureDoesNotMatch':
        return { message: WRONG_KEY, action: 'sign-in', detail };
      case 'InvalidAccessKeyId.Inactive':
        return { message: 'This AccessKey is disabled. Enable it (npm run keys -- enable <AccessKeyId>) or sign in with another pair.', action: 'sign-in', detail };
      case 'InvalidTimeStamp.Expired':
      case 'SignatureExpired':
      case 'RequestTimeTooSkewed':
        return { message: "This computer's clock is more than 15 minutes off the server's. Set the clock right, then retry.", action: 'retry', detail };
      default:
        if (error.status >= 500) return { message: `lookup-http failed (HTTP ${error.status}). Retry; if it keeps failing, look for the RequestId in the server's log.`, action: 'retry', detail };
        return { message: error.message ? `${error.code}: ${error.message}` : error.code, action: 'retry', ...(error.requestId ? { detail: `RequestId ${error.requestId}` } : {}) };
    }
  }
  return { message: `Something went wrong in the console: ${error instanceof Error ? error.message : String(error)}. Reload the page and retry.`, action: 'retry' };
}
