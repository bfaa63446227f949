/**
 * The trail logstore (docs/design.md §3.6): one log stream per trail, `actiontrail_<trailName>`, whose
 * entries carry `__topic__ = actiontrail_audit_event`, `__time__` (the event's time, epoch
 * seconds) and an `event` field holding the event JSON.
 *
 * Two implementations sit behind these interfaces: Redis streams locally
 * (`adapters/redis/logstore.ts`) and Alibaba Cloud Log Service in production
 * (`adapters/sls/logstore.ts`). Writes are keyed by eventId: re-delivering a range must not
 * duplicate entries (the SLS writer documents where the cloud API falls short of that).
 */
import { ValidationError } from '../errors.ts';
import { TRAIL_NAME_PATTERN } from '../trails/model.ts';

export const LOGSTORE_PREFIX = 'actiontrail_';
export const LOGSTORE_TOPIC = 'actiontrail_audit_event';
export const LOGSTORE_RETENTION_DAYS = 180;
/** GetLogs returns at most this many logs per call (SLS `line`: 0–100, default 100). */
export const GET_LOGS_MAX_LINE = 100;

const DAY_SECONDS = 86_400;

export interface LogEntryInput {
  eventId: string;
  eventTimeMs: number;
  /** The event JSON, stored byte for byte. */
  json: string;
}

export interface LogEntry {
  /** The entry's id in its stream (Redis stream id; a cursor for `tail`). */
  id: string;
  /** The event's idempotency key, kept next to the event so readers can show or dedupe by it. */
  eventId: string;
  topic: string;
  /** `__time__`: epoch seconds of the event's eventTime. */
  time: number;
  /** The event JSON, exactly as written. */
  event: string;
}

export interface LogstoreWriter {
  write(accountId: string, trailName: string, entries: readonly LogEntryInput[]): Promise<{ written: number; duplicates: number }>;
}

export interface GetLogsQuery {
  accountId: string;
  trailName: string;
  /** Epoch seconds, inclusive (SLS GetLogs `from`). */
  from: number;
  /** Epoch seconds, exclusive (SLS GetLogs `to`). */
  to: number;
  offset?: number;
  /** 1..100, default 100. */
  line?: number;
  /** true: newest first; false (default): oldest first, as SLS GetLogs. */
  reverse?: boolean;
}

export interface GetLogsResult {
  /** How many logs this call returned (SLS `x-log-count`). */
  count: number;
  progress: 'Complete';
  logs: LogEntry[];
}

export interface LogstoreReader {
  getLogs(q: GetLogsQuery): Promise<GetLogsResult>;
}

/** `actiontrail_<trailName>`; rejects anything that is not a valid trail name (no path-like names). */
export function logstoreNameOf(trailName: string): string {
  if (!TRAIL_NAME_PATTERN.test(trailName)) {
    throw new ValidationError('InvalidTrailNameException', `not a trail name: ${JSON.stringify(trailName)}`, 'trailName');
  }
  return `${LOGSTORE_PREFIX}${trailName}`;
}

const ACCOUNT_ID = /^\d+$/;

/** An account id as used in store keys (digits only, so it cannot break a key's hash tag). */
export function checkAccountId(accountId: string): string {
  if (typeof accountId !== 'string' || !ACCOUNT_ID.test(accountId)) {
    throw new ValidationError('InvalidAccountId', `not an account id: ${JSON.stringify(accountId)}`, 'accountId');
  }
  return accountId;
}

/** `__time__` of an event: whole epoch seconds of its eventTime. */
export function logTimeOf(eventTimeMs: number): number {
  if (!Number.isFinite(eventTimeMs) || eventTimeMs < 0) {
    throw new ValidationError('InvalidEventTime', `eventTimeMs must be a non-negative number, got ${eventTimeMs}`, 'eventTimeMs');
  }
  return Math.floor(eventTimeMs / 1000);
}

/** Entries whose `__time__` is below this (epoch seconds) are past retention at `nowMs`. */
export function retentionCutoff(nowMs: number, retentionDays: number = LOGSTORE_RETENTION_DAYS): number {
  return Math.floor(nowMs / 1000) - retentionDays * DAY_SECONDS;
}

/** Checks a batch before it is written: eventId and json present, times valid. */
export function validateEntries(entries: readonly LogEntryInput[]): void {
  entries.forEach((entry, index) => {
    if (typeof entry.eventId !== 'string' || entry.eventId === '') {
      throw new ValidationError('InvalidEventId', `entry ${index}: eventId is required`, 'eventId');
    }
    if (typeof entry.json !== 'string' || entry.json === '') {
      throw new ValidationError('InvalidEvent', `entry ${index} (${entry.eventId}): json is required`, 'json');
    }
    logTimeOf(entry.eventTimeMs);
  });
}

export interface NormalizedGetLogsQuery {
  accountId: string;
  trailName: string;
  from: number;
  to: number;
  offset: number;
  line: number;
  reverse: boolean;
}

/** Applies GetLogs defaults and limits; throws ValidationError on a malformed query. */
export function normalizeGetLogsQuery(q: GetLogsQuery): NormalizedGetLogsQuery {
  const int = (value: number, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ValidationError('InvalidParameter', `${field} must be an integer in ${min}..${max}, got ${value}`, field);
    }
    return value;
  };
  checkAccountId(q.accountId);
  logstoreNameOf(q.trailName);
  const from = int(q.from, 'from', 0);
  const to = int(q.to, 'to', 0);
  if (to < from) throw new ValidationError('InvalidParameter', `to (${to}) is before from (${from})`, 'to');
  return {
    accountId: q.accountId,
    trailName: q.trailName,
    from,
    to,
    offset: int(q.offset ?? 0, 'offset', 0),
    line: int(q.line ?? GET_LOGS_MAX_LINE, 'line', 1, GET_LOGS_MAX_LINE),
    reverse: q.reverse ?? false,
  };
}
