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

/** One entry a logstore will not take for what it is (not because it failed), and why. */
export interface RefusedLogEntry {
  /** Position in the batch given to `write`. */
  index: number;
  eventId: string;
  code: string;
  field: string;
  reason: string;
}

/** The longest message of a LogEntriesRefusedError (it lists the refused entries). */
const REFUSED_MESSAGE_MAX_CHARS = 500;
const REFUSED_ID_MAX_CHARS = 80;

/**
 * A write refused some entries for what they are (malformed, over a Log Service limit): nothing
 * of that write was stored, and the same entries would be refused again. `refused` names every
 * one, so a deliverer sets them aside and writes the rest (a ValidationError to every other caller).
 */
export class LogEntriesRefusedError extends ValidationError {
  constructor(
    readonly refused: readonly RefusedLogEntry[],
    store: string,
  ) {
    const first = refused[0];
    const list = refused.map((r) => `${r.eventId.slice(0, REFUSED_ID_MAX_CHARS)}: ${r.reason}`).join('; ');
    super(first?.code ?? 'InvalidEvent', `${store} refused ${refused.length} entr${refused.length === 1 ? 'y' : 'ies'}: ${list}`.slice(0, REFUSED_MESSAGE_MAX_CHARS), first?.field);
  }
}

/** Why the logstore contract refuses one entry (eventId and json present, time valid), or undefined. */
export function entryRefusal(entry: LogEntryInput): Omit<RefusedLogEntry, 'index' | 'eventId'> | undefined {
  if (typeof entry.eventId !== 'string' || entry.eventId === '') return { code: 'InvalidEventId', field: 'eventId', reason: 'eventId is required' };
  if (typeof entry.json !== 'string' || entry.json === '') return { code: 'InvalidEvent', field: 'json', reason: 'json is required' };
  try {
    logTimeOf(entry.eventTimeMs);
  } catch (error) {
    if (error instanceof ValidationError) return { code: error.code, field: error.field ?? 'eventTimeMs', reason: error.message };
    throw error;
  }
  return undefined;
}

/** Every entry of a batch the contract refuses, with its position. */
export function refusalsOf(entries: readonly LogEntryInput[]): RefusedLogEntry[] {
  return entries.flatMap((entry, index) => {
    const refusal = entryRefusal(entry);
    return refusal ? [{ index, eventId: typeof entry.eventId === 'string' ? entry.eventId : '', ...refusal }] : [];
  });
}

/** Checks a batch before it is written; LogEntriesRefusedError names every entry refused. */
export function validateEntries(entries: readonly LogEntryInput[], store = 'logstore'): void {
  const refused = refusalsOf(entries);
  if (refused.length > 0) throw new LogEntriesRefusedError(refused, store);
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
