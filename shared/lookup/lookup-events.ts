/**
 * `LookupEvents` (ActionTrail 2020-07-06) and `GetEvent` (our event detail by id) on
 * lookup-http, as pure use cases over the HistoryStore (docs/design.md §3.7).
 *
 * Isolation: every read names the accounts `accountsVisibleTo(caller)` — the caller, plus
 * its organization's members for a management account — and nothing else: the store query,
 * the EventId condition, GetEvent, and NextToken (bound to the caller and that set). A first
 * page of the caller's own account alone is read beside that set (always visible to it), and is
 * the answer when the caller manages no one: one round trip to the store instead of two.
 *
 * Events are the stored JSON texts, in the store's order, passed through as JsonText: the
 * answer carries them byte for byte, never parsed and re-serialised (only a second condition,
 * evaluated here, parses an event to look inside).
 *
 * Two conditions (an allowed pair, see lookup-params.ts): the store evaluates the more
 * selective one; the other is checked here on the attributes the indexer derives
 * (historyRecordOf), reading at most MAX_SCAN_CALLS store pages per request. Such a page
 * may then hold fewer than MaxResults events — even none — with a NextToken to go on.
 */
import { classifyEvent, resourceNamesOf, resourceTypesOf, type ClassifiedEvent } from '../classify/classify.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { parseEvent } from '../events/schema.ts';
import { JsonText } from '../json-text.ts';
import { historyRecordOf, type HistoryCursor, type HistoryStore } from '../history/history-store.ts';
import { formatUtcSecond, parseLookupParams, type LookupCondition } from './lookup-params.ts';
import { issueToken, readToken, type TokenBinding } from './next-token.ts';

export interface LookupPorts {
  history: Pick<HistoryStore, 'lookup' | 'get'>;
  /** The caller's account plus, for a management account, its organization's members. */
  accountsVisibleTo(accountId: string): Promise<string[]>;
  /** The server secret NextTokens are signed with (≥ 16 bytes). */
  tokenKey(): Promise<Buffer>;
  now(): number;
}

export type LookupAction = (
  params: Record<string, string>,
  caller: { accountId: string },
  ports: LookupPorts,
) => Promise<Record<string, unknown>>;

/** Store pages read for one request when a second condition filters them. */
export const MAX_SCAN_CALLS = 10;

/** The accounts a caller may read: never empty, always including the caller. */
async function visibleAccounts(caller: { accountId: string }, ports: LookupPorts): Promise<string[]> {
  const listed = await ports.accountsVisibleTo(caller.accountId);
  return [...new Set([caller.accountId, ...listed])].sort();
}

/** The attribute values the history indexer records for a stored (classified) event. */
function attributeValues(event: unknown, key: LookupCondition['key']): readonly string[] {
  const parsed = parseEvent(event);
  if (!parsed.ok) return [];
  const e = parsed.event;
  if (key === 'EventId') return e.eventId ? [e.eventId] : [];
  let classified: ClassifiedEvent;
  if (e.eventRW && e.eventType && e.referencedResources) {
    classified = { ...e, eventRW: e.eventRW, eventType: e.eventType, referencedResources: e.referencedResources };
  } else {
    // Not as stored by the pipeline (which stores classified events): classify it the same way.
    const result = classifyEvent(e);
    if (!result.kept) return [];
    classified = result.event;
  }
  const record = historyRecordOf({ ...classified, eventId: e.eventId ?? '' }, '', 0, {
    types: resourceTypesOf(classified),
    names: resourceNamesOf(classified),
  });
  return record.attributes[key] ?? [];
}

function matches(event: unknown, condition: LookupCondition): boolean {
  return attributeValues(event, condition.key).includes(condition.value);
}

export async function lookupEvents(
  params: Record<string, string>,
  caller: { accountId: string },
  ports: LookupPorts,
): Promise<Record<string, unknown>> {
  const p = parseLookupParams(params, ports.now());
  // The first page of the caller's own account is read beside the visible accounts (the caller's
  // own account is always among them): for an account that manages none, that page is the
  // answer, so the call is one round trip to the store, not two. A management account's page is
  // read again over all its accounts.
  const limit = p.maxResults;
  const pageOf = (accountIds: string[], startMs: number, endMs: number, after: HistoryCursor | undefined, want: number) =>
    ports.history.lookup({
      accountIds,
      startMs,
      endMs,
      direction: p.direction,
      limit: want,
      ...(p.condition ? { condition: p.condition } : {}),
      ...(after ? { after } : {}),
    });
  const ownFirstPage = p.nextToken === undefined && !p.empty ? pageOf([caller.accountId], p.startMs, p.endMs, undefined, limit) : undefined;
  ownFirstPage?.catch(() => undefined); // awaited below when it is the answer
  const accountIds = await visibleAccounts(caller, ports);
  const binding: TokenBinding = {
    callerAccountId: caller.accountId,
    accountIds,
    startTime: p.given.startTime,
    endTime: p.given.endTime,
    direction: p.direction,
    conditions: [p.condition, p.filter].filter((c): c is LookupCondition => c !== undefined),
  };

  let { startMs, endMs } = p;
  let after: HistoryCursor | undefined;
  let key: Buffer | undefined;
  if (p.nextToken !== undefined) {
    key = await ports.tokenKey();
    const state = readToken(p.nextToken, binding, key);
    ({ startMs, endMs } = state);
    after = state.cursor;
  } else if (p.empty) {
    return { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs), Events: [] };
  }

  const events: JsonText[] = [];
  let next: HistoryCursor | undefined;
  for (let calls = 1; ; calls += 1) {
    const own = calls === 1 && ownFirstPage && accountIds.length === 1 && accountIds[0] === caller.accountId;
    const page = await (own ? ownFirstPage : pageOf(accountIds, startMs, endMs, after, limit - events.length));
    for (const json of page.events) {
      // only a filter needs to look inside; otherwise the stored text goes out as it is
      if (!p.filter || matches(JSON.parse(json) as unknown, p.filter)) events.push(new JsonText(json));
    }
    next = page.next;
    if (!next || !p.filter || events.length >= p.maxResults || calls >= MAX_SCAN_CALLS) break;
    after = next;
  }

  const answer: Record<string, unknown> = { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs) };
  if (next) {
    key ??= await ports.tokenKey();
    answer.NextToken = issueToken({ cursor: next, startMs, endMs }, binding, key);
  }
  answer.Events = events;
  return answer;
}

/** Event detail: `EventId` → `{ Event }`, searched only in the accounts the caller sees. */
export async function getEvent(
  params: Record<string, string>,
  caller: { accountId: string },
  ports: LookupPorts,
): Promise<Record<string, unknown>> {
  const eventId = params.EventId;
  if (eventId === undefined || eventId === '') {
    throw new ValidationError('MissingParameter', 'EventId is required', 'EventId');
  }
  if (eventId.length > 2048) throw new ValidationError('InvalidQueryParameter', 'EventId: too long', 'EventId');
  const accountIds = await visibleAccounts(caller, ports);
  const json = await ports.history.get(accountIds, eventId);
  if (json === undefined) throw new NotFoundError('EventNotFound', `The event ${eventId} does not exist or is older than 90 days.`);
  return { Event: new JsonText(json) };
}

export const LOOKUP_ACTIONS: Readonly<Record<string, LookupAction>> = {
  LookupEvents: lookupEvents,
  GetEvent: getEvent,
};
