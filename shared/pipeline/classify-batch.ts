/**
 * The classify use case, for one staged or backfilled object: classify each event, write the
 * kept ones to history, queue their summary rows, append each to the outbox of every trail
 * that wants it (in the resource form that trail receives), then analyse the new ones.
 *
 * Safe to run twice: an object already processed is skipped; history, outboxes and the summary
 * queue are keyed by eventId. Only events new to history are routed and summarised, except on
 * a re-run after a crash (the object was begun but not finished), when all are — the outboxes
 * and the summary queue collapse what was already there.
 *
 * One record never fails its object: a record a step cannot handle for what it is (a pure step
 * throws on it, or history refuses it with RecordRefusedError) is set aside — handed to
 * `setAside` with its stage and reason, written where a user finds it — and the rest proceeds.
 * A store that fails (unreachable, timeout) fails the object, which FC retries.
 */
import { classifyEvent, resourceNamesOf, resourceTypesOf, type ClassifiedEvent } from '../classify/classify.ts';
import { resourcesForTrail, trailReceivesStoredResources } from '../classify/resource-types.ts';
import { accountOf, eventTimeMs } from '../events/schema.ts';
import { HISTORY_RETENTION_MS, historyRecordOf, type HistoryPutResult, type HistoryRecord, type HistoryStore } from '../history/history-store.ts';
import type { Trail } from '../trails/model.ts';
import { trailsForEvent } from '../trails/routing.ts';
import { summaryRowOf, type SummaryRow } from '../summaries/summary-row.ts';
import { analysisRowOf, type AnalysisRow } from '../analysis/analysis-row.ts';
import { RecordRefusedError } from '../errors.ts';
import type { IdentifiedEvent } from './records.ts';
import type { SetAsideRecord } from './set-aside.ts';

export type { SetAsideRecord } from './set-aside.ts';

export type Stored = ClassifiedEvent & { eventId: string };

export interface OutboxEntry {
  eventId: string;
  eventTimeMs: number;
  /** The event as this trail receives it. */
  json: string;
}

export interface ClassifyPorts {
  history: Pick<HistoryStore, 'put'>;
  /** The trails of an account (all states). */
  trailsOf(accountId: string): Promise<Trail[]>;
  managementAccountOf(accountId: string): Promise<string | undefined>;
  /** Appends to a trail's outbox; an eventId already in it is left as it is. */
  appendOutbox(trail: Trail, entries: readonly OutboxEntry[]): Promise<void>;
  /** Queues summary rows (docs/design.md §3.8); a row whose eventId is already queued is left as it is. */
  enqueueSummaries(accountId: string, rows: readonly SummaryRow[]): Promise<void>;
  /**
   * Analyses the object's new events of one account (docs/design.md §3.9: Insights counters, the
   * AccessKey audit), once per object; absent when the analysis is off (TK_ANALYSIS=off).
   */
  analyse?(accountId: string, objectId: string, rows: readonly AnalysisRow[]): Promise<void>;
  /** Marks an object begun; says whether it was new, begun before (a crash), or finished. */
  beginObject(objectId: string): Promise<'new' | 'retry' | 'done'>;
  finishObject(objectId: string): Promise<void>;
}

export interface SetAsidePort {
  /** Writes the set-aside records of one object where a user finds them; idempotent by objectId. */
  setAside(objectId: string, records: readonly SetAsideRecord[]): Promise<void>;
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
  /** Records set aside (the record itself is in the rejected object). */
  setAside: Omit<SetAsideRecord, 'record'>[];
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
  options: { backfill: boolean; nowMs: number; setAside?: readonly SetAsideRecord[] },
  ports: ClassifyPorts & SetAsidePort,
): Promise<ClassifyOutcome> {
  const outcome: ClassifyOutcome = { skipped: false, kept: 0, dropped: [], historyAdded: 0, historyDuplicates: 0, beyondHistory: 0, routed: {}, setAside: [] };
  const state = await ports.beginObject(objectId);
  if (state === 'done') return { ...outcome, skipped: true };
  const setAside: SetAsideRecord[] = [...(options.setAside ?? [])];

  const kept: { event: Stored; accountId: string; timeMs: number; record: HistoryRecord; summary: SummaryRow; input: IdentifiedEvent; resources: { types: string[]; names: string[] } }[] = [];
  for (const input of events) {
    // Pure per-record work: what throws here throws for this record alone.
    try {
      const result = classifyEvent(input);
      if (!result.kept) {
        outcome.dropped.push({ eventId: input.eventId, rule: result.reason });
        continue;
      }
      const event = result.event as Stored;
      const accountId = accountOf(event);
      const timeMs = eventTimeMs(event);
      const resources = { types: resourceTypesOf(event), names: resourceNamesOf(event) };
      const record = historyRecordOf(event, accountId, timeMs, resources);
      const summary = summaryRowOf(event, accountId, timeMs);
      kept.push({ event, accountId, timeMs, record, summary, input, resources });
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      setAside.push({ stage: 'classify', accountId: accountIdOf(input), eventId: input.eventId, code: 'Unclassifiable', reason: error.message, record: input });
    }
  }

  // History holds the last 90 days; older (backfilled) events go to archives and summaries only.
  const horizon = options.nowMs - HISTORY_RETENTION_MS;
  const fresh: typeof kept = [];
  for (const [accountId, group] of groupBy(kept, (k) => k.accountId)) {
    const recent = group.filter((k) => k.timeMs >= horizon);
    const old = group.filter((k) => k.timeMs < horizon);
    outcome.beyondHistory += old.length;
    fresh.push(...old);
    let storable = recent;
    if (storable.length === 0) continue;
    // put says which events history held before (not routed again, unless this is a retry)
    let put: HistoryPutResult;
    try {
      put = await ports.history.put(storable.map((k) => k.record));
    } catch (error) {
      if (!(error instanceof RecordRefusedError)) throw error;
      // Nothing was written: set the refused records aside and put the rest.
      const why = new Map(error.refused.map((r) => [r.eventId, r.reason]));
      for (const k of storable) {
        const reason = why.get(k.event.eventId);
        if (reason !== undefined) setAside.push({ stage: 'history', accountId, eventId: k.event.eventId, code: error.code, reason, record: k.input });
      }
      storable = storable.filter((k) => !why.has(k.event.eventId));
      put = storable.length > 0 ? await ports.history.put(storable.map((k) => k.record)) : { added: 0, duplicates: 0, held: [] };
    }
    outcome.historyAdded += put.added;
    outcome.historyDuplicates += put.duplicates;
    const held = new Set(put.held);
    fresh.push(...storable.filter((k) => state === 'retry' || !held.has(k.event.eventId)));
  }
  outcome.kept = kept.length - setAside.filter((r) => r.stage === 'history').length;

  const freshByAccount = groupBy(fresh, (k) => k.accountId);
  for (const [accountId, group] of freshByAccount) {
    await ports.enqueueSummaries(accountId, group.map((k) => k.summary));
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
  for (const { event, accountId, timeMs, record } of fresh) {
    if (!managementOf.has(accountId)) managementOf.set(accountId, await ports.managementAccountOf(accountId));
    const management = managementOf.get(accountId);
    const candidates = [...(await trailsOf(accountId)), ...(management ? (await trailsOf(management)).filter((t) => t.isOrganizationTrail) : [])];
    const targets = trailsForEvent(event, candidates, { managementAccountOf: (a) => managementOf.get(a) }, { backfill: options.backfill });
    for (const trail of targets) {
      const id = `${trail.accountId}/${trail.name}`;
      let slot = perTrail.get(id);
      if (!slot) perTrail.set(id, (slot = { trail, entries: [] }));
      // the trail's form of the event; most trails take the stored resources, so history's JSON text serves as is
      const json = trailReceivesStoredResources(event.referencedResources, trail.createdAtMs)
        ? record.json
        : JSON.stringify({ ...event, referencedResources: resourcesForTrail(event.referencedResources, trail.createdAtMs) } satisfies Stored);
      slot.entries.push({ eventId: event.eventId, eventTimeMs: timeMs, json });
    }
  }
  for (const [id, { trail, entries }] of perTrail) {
    await ports.appendOutbox(trail, entries);
    outcome.routed[id] = entries.length;
  }

  // Analysis last: recording and routing never wait for it (a failure queues its rows, analyse's contract).
  if (ports.analyse) {
    for (const [accountId, group] of freshByAccount) {
      await ports.analyse(accountId, objectId, group.map((k) => analysisRowOf(k.event, accountId, k.timeMs, k.resources)));
    }
  }

  if (setAside.length > 0) {
    await ports.setAside(objectId, setAside);
    outcome.setAside = setAside.map(({ record: _record, ...rest }) => rest);
  }
  await ports.finishObject(objectId);
  return outcome;
}

function accountIdOf(input: unknown): string {
  const identity = input !== null && typeof input === 'object' ? (input as { userIdentity?: unknown }).userIdentity : undefined;
  const id = identity !== null && typeof identity === 'object' ? (identity as { accountId?: unknown }).accountId : undefined;
  return typeof id === 'string' && /^\d+$/.test(id) ? id : '';
}
