/**
 * How query results are written out (CLI `npm run query`, console export; docs/design.md §3.13):
 * NDJSON — one event (as stored) or one row object per line; CSV (RFC 4180: comma, CRLF, a
 * field quoted when it holds a comma, quote, CR or LF — or a semicolon or tab, the separators a
 * spreadsheet uses in many locales, which would otherwise split `x;=cmd…` into a formula cell —,
 * quotes doubled; a text a spreadsheet would
 * run as a formula — starting with = + - @, a tab or CR — is prefixed with an apostrophe, as event
 * fields such as userAgent or errorMessage are whatever the caller sent; numbers stay numbers). Events in CSV get the
 * fixed EVENT_COLUMNS; a select's rows its own columns. Pure and browser-safe (no Node imports).
 */

/** The columns an event is flattened to in CSV and tables: [header, path in the event]. */
export const EVENT_COLUMNS: readonly (readonly [string, readonly string[]])[] = [
  ['eventTime', ['eventTime']],
  ['eventName', ['eventName']],
  ['serviceName', ['serviceName']],
  ['eventRW', ['eventRW']],
  ['userType', ['userIdentity', 'type']],
  ['userName', ['userIdentity', 'userName']],
  ['accessKeyId', ['userIdentity', 'accessKeyId']],
  ['sourceIpAddress', ['sourceIpAddress']],
  ['errorCode', ['errorCode']],
  ['acsRegion', ['acsRegion']],
  ['eventId', ['eventId']],
];

function at(event: unknown, path: readonly string[]): unknown {
  let value = event;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** An event's EVENT_COLUMNS values (absent → null; objects as JSON). */
export function eventRow(event: unknown): (string | number | boolean | null)[] {
  return EVENT_COLUMNS.map(([, path]) => {
    const value = at(event, path);
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    return JSON.stringify(value);
  });
}

const FORMULA_START = /^[=+\-@\t\r]/;
/** A cell holding any of these is quoted: RFC 4180's comma, quote and line breaks, and `;` and tab, list separators of other locales. */
const NEEDS_QUOTES = /[",;\t\r\n]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** A select row as an NDJSON object keyed by column name. */
export function rowObject(columns: readonly string[], row: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  columns.forEach((name, i) => {
    out[name] = row[i] ?? null;
  });
  return out;
}
