/**
 * The classify use case, for one staged or backfilled object: classify each event, write the
 * kept ones to history, queue their summary rows, and append each to the outbox of every
 * trail that wants it (in the resource form that trail receives).
 *
 * Safe to run twice: an object already processed is skipped; history, outboxes and the summary
 * queue are keyed by eventId. Only events new to history are routed and summarised, except on
 * a re-run after a crash (the object was begun but not finished), when all are — the outboxes
 * and the summary queue collapse what was already there.
 */
import { classifyEvent, resourceNamesOf, resourceTypesOf, type ClassifiedEvent } from '../classify/classify.ts';
import { resourcesForTrail } from '../classify/resource-types.ts';
import { accountOf, eventTimeMs } from '../events/schema.ts';
import { HISTORY_RETENTION_MS, historyRecordOf, type HistoryRecord, type HistoryStore } from '../history/history-store.ts';
import type { Trail } from '../trails/model.ts';
import { trailsForEvent } from '../trails/routing.ts';
import { summaryRowOf, type SummaryRow } from '../summaries/summary-row.ts';
import type { IdentifiedEvent } from './records.ts';

export type Stored = ClassifiedEvent & { eventId: string };

export interface OutboxEntry {
  eventId: string;
  eventTimeMs: number;
  /** The event as this trail receives it. */
  json: string;
}

export interface ClassifyPorts {
  history: Pick<HistoryStore, 'has' | 'put'>;
  /** The trails of an account (all states). */
  trailsOf(accountId: string): Promise<Trail[]>;
  managementAccountOf(accountId: string): Promise<string | undefined>;
  /** Appends to a trail's outbox; an eventId already in it is left as it is. */
  appendOutbox(trail: Trail, entries: readonly OutboxEntry[]): Promise<void>;
  /** Queues summary rows; a row whose eventId is already queued is left as it is. */
  enqueueSummaries(accountId: string, rows: readonly SummaryRow[]): Promise<void>;
  /** Marks an object begun; says whether it was new, begun before (a crash), or finished. */
  beginObject(objectId: string): Promise<'new' | 'retry' | 'done'>;
  finishObject(objectId: string): Promise<void>;
}

export interface ClassifyOutcome {
  skipped: boolean;
  kept: number;
  dropped: { eventId: string; rule: string }[];
  historyAdded: number;
  historyDuplicates: number;
  /** Kept events older than the history retention (archive and summaries only). */
  beyondHistory: number;
  routed: Record<string, number>;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

export async function classifyObject(
  objectId: string,
  events: readonly IdentifiedEvent[],
  options: { backfill: boolean; nowMs: number },
  ports: ClassifyPorts,
): Promise<ClassifyOutcome> {
  const outcome: ClassifyOutcome = { skipped: false, kept: 0, dropped: [], historyAdded: 0, historyDuplicates: 0, beyondHistory: 0, routed: {} };
  const state = await ports.beginObject(objectId);
  if (state === 'done') return { ...outcome, skipped: true };

  const kept: { event: Stored; accountId: string; timeMs: number }[] = [];
  for (const input of events) {
    const result = classifyEvent(input);
    if (!result.kept) {
      outcome.dropped.push({ eventId: input.eventId, rule: result.reason });
      continue;
    }
    const event = result.event as Stored;
    kept.push({ event, accountId: accountOf(event), timeMs: eventTimeMs(event) });
  }
  outcome.kept = kept.length;

  // History holds the last 90 days; older (backfilled) events go to archives and summaries only.
  const horizon = options.nowMs - HISTORY_RETENTION_MS;
  const fresh: typeof kept = [];
  for (const [accountId, group] of groupBy(kept, (k) => k.accountId)) {
    const recent = group.filter((k) => k.timeMs >= horizon);
    const old = group.filter((k) => k.timeMs < horizon);
    outcome.beyondHistory += old.length;
    fresh.push(...old);
    if (recent.length === 0) continue;
    const held = await ports.history.has(accountId, recent.map((k) => k.event.eventId));
    const records: HistoryRecord[] = recent.map((k) =>
      historyRecordOf(k.event, accountId, k.timeMs, { types: resourceTypesOf(k.event), names: resourceNamesOf(k.event) }),
    );
    const put = await ports.history.put(records);
    outcome.historyAdded += put.added;
    outcome.historyDuplicates += put.duplicates;
    fresh.push(...recent.filter((_k, i) => state === 'retry' || !held[i]));
  }

  for (const [accountId, group] of groupBy(fresh, (k) => k.accountId)) {
    await ports.enqueueSummaries(accountId, group.map((k) => summaryRowOf(k.event, accountId, k.timeMs)));
  }

  // Routing: the account's own trails plus the organization trails of its management account.
  const trailCache = new Map<string, Promise<Trail[]>>();
  const trailsOf = (accountId: string) => {
    let found = trailCache.get(accountId);
    if (!found) trailCache.set(accountId, (found = ports.trailsOf(accountId)));
    return found;
  };
  const managementOf = new Map<string, string | undefined>();
  const perTrail = new Map<string, { trail: Trail; entries: OutboxEntry[] }>();
  for (const { event, accountId, timeMs } of fresh) {
    if (!managementOf.has(accountId)) managementOf.set(accountId, await ports.managementAccountOf(accountId));
    const management = managementOf.get(accountId);
    const candidates = [...(await trailsOf(accountId)), ...(management ? (await trailsOf(management)).filter((t) => t.isOrganizationTrail) : [])];
    const targets = trailsForEvent(event, candidates, { managementAccountOf: (a) => managementOf.get(a) }, { backfill: options.backfill });
    for (const trail of targets) {
      const id = `${trail.accountId}/${trail.name}`;
      let slot = perTrail.get(id);
      if (!slot) perTrail.set(id, (slot = { trail, entries: [] }));
      const view: Stored = { ...event, referencedResources: resourcesForTrail(event.referencedResources, trail.createdAtMs) };
      slot.entries.push({ eventId: event.eventId, eventTimeMs: timeMs, json: JSON.stringify(view) });
    }
  }
  for (const [id, { trail, entries }] of perTrail) {
    await ports.appendOutbox(trail, entries);
    outcome.routed[id] = entries.length;
  }

  await ports.finishObject(objectId);
  return outcome;
}
