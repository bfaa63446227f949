/**
 * History: the always-on, 90-day, queryable store behind LookupEvents (docs/design.md §3.7).
 * This file is the contract; `adapters/redis/history-store.ts` implements it on Redis.
 */
import type { ClassifiedEvent } from '../classify/classify.ts';

export const HISTORY_RETENTION_DAYS = 90;
export const HISTORY_RETENTION_MS = HISTORY_RETENTION_DAYS * 24 * 60 * 60 * 1000;

/**
 * LookupAttribute keys of ActionTrail's LookupEvents (2020-07-06, as the current API documents
 * them: "How do I configure the LookupAttribute parameter…", which lists SensitiveAction and
 * RoleName besides the original ten).
 */
export const LOOKUP_KEYS = [
  'ServiceName',
  'EventName',
  'User',
  'EventId',
  'ResourceType',
  'ResourceName',
  'EventRW',
  'EventAccessKeyId',
  'EventType',
  'SourceIpAddress',
  'SensitiveAction',
  'RoleName',
] as const;
export type LookupKey = (typeof LOOKUP_KEYS)[number];

/** What history stores for one event: the exact JSON served back, plus what it is indexed by. */
export interface HistoryRecord {
  accountId: string;
  eventId: string;
  eventTimeMs: number;
  /** The stored event, served byte-for-byte by LookupEvents and event detail. */
  json: string;
  /** Values per index key (EventId excluded: it is the record's own id). */
  attributes: Partial<Record<HistoryIndexKey, string[]>>;
}

/**
 * Keys history indexes an event by: LookupEvents' (EventId excluded) and `ErrorCode` — the
 * event's errorCode, for advanced query only (docs/design.md §3.13): LookupEvents has no such
 * LookupAttribute.
 */
export type HistoryIndexKey = Exclude<LookupKey, 'EventId'> | 'ErrorCode';

/**
 * A condition on the errorCode index (advanced query). History written before that index existed
 * (a day holding any event put without it) has no errorCode postings for that day: `days` says
 * what such a day gives —
 *  - `all` (default): every event of an unindexed day (a superset: the caller filters);
 *  - `indexed`: nothing (only the days that have the index are read);
 *  - `unindexed`: every event of the unindexed days, nothing of the others (`value` ignored).
 * Without `value`: every event that has an errorCode (not absent).
 */
export interface ErrorCodeCondition {
  key: 'ErrorCode';
  value?: string;
  days?: 'all' | 'indexed' | 'unindexed';
}

export type HistoryCondition = { key: LookupKey; value: string } | ErrorCodeCondition;

/** The errorCode values an account's history held in a range (ErrorCodeDictionary). */
export interface ErrorCodeValues {
  /** Values seen on days of the range (possibly a few more: a superset). */
  values: string[];
  /**
   * False when the account saw, in the range, a value the dictionary does not keep (more than
   * MAX_ERROR_CODE_VALUES values, or one over MAX_ERROR_CODE_BYTES): `values` is then partial.
   */
  complete: boolean;
}

/** Distinct errorCode values history keeps per account in its dictionary (beyond: incomplete). */
export const MAX_ERROR_CODE_VALUES = 1000;
/** Longest errorCode value (UTF-8 bytes) the dictionary keeps. */
export const MAX_ERROR_CODE_BYTES = 128;

/** A position in a result list: continue strictly after this (time, id) in the query's direction. */
export interface HistoryCursor {
  timeMs: number;
  eventId: string;
}

export interface HistoryQuery {
  /** The caller's account, plus its organization's members for a management account. */
  accountIds: string[];
  /** Inclusive bounds, epoch ms. */
  startMs: number;
  endMs: number;
  direction: 'BACKWARD' | 'FORWARD';
  /** 1–50 (lookup), 1–MAX_SCAN_LIMIT (scan). */
  limit: number;
  condition?: HistoryCondition;
  after?: HistoryCursor;
}

export interface HistoryPage {
  /** Stored JSON strings, newest first for BACKWARD, oldest first for FORWARD. */
  events: string[];
  /** Present when more results may follow. */
  next?: HistoryCursor;
}

/** Events a scan page holds at most (advanced query reads history in such pages). */
export const MAX_SCAN_LIMIT = 1000;

/** A scan page: each event with its place in the order (what a cursor is made of). */
export interface HistoryScanPage {
  entries: { timeMs: number; eventId: string; json: string }[];
  next?: HistoryCursor;
}

/** What a put did. */
export interface HistoryPutResult {
  added: number;
  duplicates: number;
  /** The eventIds history held before the put (its duplicates, not those past the retention). */
  held: string[];
}

export interface HistoryStore {
  /** Idempotent by (accountId, eventId): a record already held counts as a duplicate and changes nothing. */
  put(records: readonly HistoryRecord[]): Promise<HistoryPutResult>;
  /** Which of these event ids the account already holds. */
  has(accountId: string, eventIds: readonly string[]): Promise<boolean[]>;
  /** One event by id, searched in each of the given accounts. */
  get(accountIds: readonly string[], eventId: string): Promise<string | undefined>;
  lookup(query: HistoryQuery): Promise<HistoryPage>;
  /** As lookup, with pages of 1–MAX_SCAN_LIMIT events, each with its (time, eventId). */
  scan(query: HistoryQuery): Promise<HistoryScanPage>;
  /** The errorCode values each account's history saw in [startMs, endMs], merged. */
  errorCodes(accountIds: readonly string[], startMs: number, endMs: number): Promise<ErrorCodeValues>;
  /** Drops what is older than the retention (by eventTime) for one account; returns how many. */
  purge(accountId: string, nowMs: number): Promise<number>;
}

/** The one value SensitiveAction is looked up by: events whose `eventAttributes.SensitiveAction` is true. */
export const SENSITIVE_ACTION_VALUE = 'true';
const ASSUMED_ROLE = 'assumed-role';
/** `acs:ram::<accountId>:assumed-role/<roleName>/<sessionName>`. */
const ASSUMED_ROLE_ARN = /^acs:ram::\d*:assumed-role\/([^/]+)(?:\/|$)/;

/** `true` (boolean or text, any case) in `eventAttributes.SensitiveAction`. */
export function isSensitiveAction(event: { eventAttributes?: Record<string, unknown> | null | undefined }): boolean {
  const flag = event.eventAttributes?.['SensitiveAction'];
  return flag === true || (typeof flag === 'string' && flag.toLowerCase() === 'true');
}

/**
 * The role of an assumed-role identity: the role in its `arn`
 * (`acs:ram::<account>:assumed-role/<role>/<session>`), else the part of `userName` before the
 * session (`<role>:<session>`, as ActionTrail writes it). Undefined for other identity types.
 */
export function roleNameOf(identity: { type?: string | null | undefined; userName?: string | null | undefined; [key: string]: unknown }): string | undefined {
  if (identity.type !== ASSUMED_ROLE) return undefined;
  const arn = identity['arn'];
  const fromArn = typeof arn === 'string' ? ASSUMED_ROLE_ARN.exec(arn)?.[1] : undefined;
  if (fromArn) return fromArn;
  const userName = identity.userName ?? '';
  const role = userName.split(':')[0] ?? '';
  return role === '' ? undefined : role;
}

function unique(values: (string | undefined | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

/**
 * Builds the history record of a classified event. `resourceTypes`/`resourceNames` come from
 * the classifier (normalised ACS types, so legacy-only events are found by ACS type too).
 */
export function historyRecordOf(
  event: ClassifiedEvent & { eventId: string },
  accountId: string,
  eventTimeMs: number,
  resources: { types: string[]; names: string[] },
): HistoryRecord {
  const identity = event.userIdentity;
  return {
    accountId,
    eventId: event.eventId,
    eventTimeMs,
    json: JSON.stringify(event),
    attributes: {
      ServiceName: unique([event.serviceName]),
      EventName: unique([event.eventName]),
      User: unique([identity.userName]),
      ResourceType: unique(resources.types),
      ResourceName: unique(resources.names),
      EventRW: unique([event.eventRW]),
      EventAccessKeyId: unique([identity.accessKeyId]),
      EventType: unique([event.eventType]),
      SourceIpAddress: unique([event.sourceIpAddress]),
      SensitiveAction: isSensitiveAction(event) ? [SENSITIVE_ACTION_VALUE] : [],
      RoleName: unique([roleNameOf(identity)]),
      ErrorCode: unique([event.errorCode]),
    },
  };
}
