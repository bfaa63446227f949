/**
 * classify routes and summarises only what is new to history: an event a later object brings
 * again (a client's retry through another request, a backfill overlapping live ingest) is counted
 * a duplicate and reaches no outbox and no summary a second time — except when the same object is
 * classified again after a crash (beginObject says 'retry'), when everything is routed again and
 * the outboxes and the summary queue collapse what they already hold. Which events history held
 * before comes from the put itself (HistoryPutResult.held), not from a separate existence check.
 */
import { describe, expect, it } from 'vitest';
import { syntheticEvent } from '../helpers/synthetic-event.ts';
import { classifyObject, type ClassifyPorts, type OutboxEntry } from '../../shared/pipeline/classify-batch.ts';
import type { IdentifiedEvent } from '../../shared/pipeline/records.ts';
import type { HistoryRecord } from '../../shared/history/history-store.ts';
import type { SummaryRow } from '../../shared/summaries/summary-row.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';

const ACCOUNT = '1234567890123456';
const NOW = Date.parse('2026-11-22T10:00:00Z');
const event = (eventId: string) => syntheticEvent(ACCOUNT, { eventId }, NOW - 60_000) as unknown as IdentifiedEvent;

const trail: Trail = trailSchema.parse({
  name: 'every-event',
  accountId: ACCOUNT,
  homeRegion: 'cn-hangzhou',
  eventRW: 'All',
  ossBucketName: 'archive',
  status: 'Enable',
  createdAtMs: NOW - 86_400_000,
  updatedAtMs: NOW - 86_400_000,
  startLoggingTimeMs: NOW - 86_400_000,
});

function memoryPorts() {
  const history = new Map<string, HistoryRecord>();
  const routed: string[][] = [];
  const summarised: string[][] = [];
  const objects = new Map<string, 'begun' | 'done'>();
  const ports: ClassifyPorts & { setAside(): Promise<void> } = {
    history: {
      put: async (records) => {
        const held = records.filter((r) => history.has(r.eventId)).map((r) => r.eventId);
        for (const r of records) if (!history.has(r.eventId)) history.set(r.eventId, r);
        return { added: records.length - held.length, duplicates: held.length, held };
      },
    },
    trailsOf: async (accountId) => (accountId === ACCOUNT ? [trail] : []),
    managementAccountOf: async () => undefined,
    appendOutbox: async (_trail, entries: readonly OutboxEntry[]) => void routed.push(entries.map((e) => e.eventId)),
    enqueueSummaries: async (_accountId, rows: readonly SummaryRow[]) => void summarised.push(rows.map((r) => r.eventId)),
    beginObject: async (objectId) => {
      const state = objects.get(objectId);
      objects.set(objectId, state ?? 'begun');
      return state === undefined ? 'new' : state === 'done' ? 'done' : 'retry';
    },
    finishObject: async (objectId) => void objects.set(objectId, 'done'),
    setAside: async () => undefined,
  };
  return { ports, history, routed, summarised, objects };
}

describe('classify routes only what is new to history', () => {
  it('an event a second object brings again is a duplicate: stored once, routed and summarised once', async () => {
    const { ports, history, routed, summarised } = memoryPorts();
    const first = await classifyObject('inbox/a@E1', [event('e1'), event('e2')], { backfill: false, nowMs: NOW }, ports);
    expect(first).toMatchObject({ historyAdded: 2, historyDuplicates: 0, routed: { [`${ACCOUNT}/every-event`]: 2 } });
    const second = await classifyObject('inbox/b@E1', [event('e2'), event('e3')], { backfill: false, nowMs: NOW }, ports);
    expect(second).toMatchObject({ historyAdded: 1, historyDuplicates: 1, routed: { [`${ACCOUNT}/every-event`]: 1 } });
    expect([...history.keys()].sort()).toEqual(['e1', 'e2', 'e3']);
    expect(routed).toEqual([['e1', 'e2'], ['e3']]);
    expect(summarised).toEqual([['e1', 'e2'], ['e3']]);
  });

  it('an object classified again after a crash routes all of its events again (the outboxes collapse repeats)', async () => {
    const { ports, routed, objects } = memoryPorts();
    await classifyObject('inbox/a@E1', [event('e1'), event('e2')], { backfill: false, nowMs: NOW }, ports);
    // the first run of b stored its events and crashed before it finished the object
    objects.set('inbox/b@E1', 'begun');
    await ports.history.put([event('e3')].map((e) => ({ accountId: ACCOUNT, eventId: e.eventId, eventTimeMs: NOW - 60_000, json: JSON.stringify(e), attributes: {} })));
    const retry = await classifyObject('inbox/b@E1', [event('e2'), event('e3')], { backfill: false, nowMs: NOW }, ports);
    expect(retry).toMatchObject({ historyAdded: 0, historyDuplicates: 2, routed: { [`${ACCOUNT}/every-event`]: 2 } });
    expect(routed.at(-1)).toEqual(['e2', 'e3']);
    // and once finished, the object is skipped
    expect(await classifyObject('inbox/b@E1', [event('e2'), event('e3')], { backfill: false, nowMs: NOW }, ports)).toMatchObject({ skipped: true });
  });
});
