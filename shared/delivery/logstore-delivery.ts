/**
 * deliver-logstore's use case: drain every trail's logstore outbox into its logstore
 * `actiontrail_<trail>`. Entries are acknowledged only after the write; the logstore collapses
 * an entry written twice (a retried invocation), so delivery is exactly-once locally.
 *
 * One entry never blocks its trail: an entry the logstore cannot take for what it is (its JSON
 * does not parse, its eventTime is no time, the logstore refuses it — LogEntriesRefusedError, e.g.
 * one log over Log Service's size limit) is set aside as a rejected object in the staging bucket
 * (set-aside-entries.ts), the rest of the batch is written, and both are acknowledged. A store
 * failure (Redis or Log Service unreachable, 5xx, throttling) fails the trail and keeps every entry.
 */
import { eventTimeMs } from '../events/schema.ts';
import { LogEntriesRefusedError, type LogEntryInput, type LogstoreWriter } from '../logstore/logstore.ts';
import type { RejectedObjectPorts } from '../pipeline/set-aside.ts';
import type { DeliveryStatusStore } from './delivery-status.ts';
import { RetryableError } from '../errors.ts';
import { parseEntry, setAsideEntries, type OutboxEntryRead, type RefusedEntry } from './set-aside-entries.ts';
import type { DeliveryMetricsPort } from './delivery-metrics.ts';

/** Entries moved per logstore write. */
export const LOGSTORE_DELIVERY_BATCH = 500;
/** Extra passes after letting go of a trail, for entries that arrived meanwhile. */
const RECHECK_PASSES = 3;

export interface OutboxReader {
  trails(): Promise<{ accountId: string; trailName: string }[]>;
  /** The oldest entries with their arrival time (the day folder of a rejected object), without removing them. */
  peek(accountId: string, trailName: string, limit: number): Promise<OutboxEntryRead[]>;
  ack(accountId: string, trailName: string, eventIds: readonly string[]): Promise<void>;
}

export interface LogstoreDeliveryPorts {
  outbox: OutboxReader;
  /** Holds a trail's logstore delivery lock while `work` runs; false when another invocation holds it. */
  withLock(accountId: string, trailName: string, work: () => Promise<void>): Promise<boolean>;
  logstore: LogstoreWriter;
  /** Where entries the logstore cannot take are set aside (the staging bucket's `rejected/`). */
  rejected: RejectedObjectPorts;
  status: DeliveryStatusStore;
  /** delivery_sls_{success,fail}_count (delivery-metrics.ts); not counted when absent. */
  metrics?: DeliveryMetricsPort;
  now(): number;
}

export interface LogstoreDeliveryResult {
  delivered: number;
  /** Entries set aside as rejected objects (the logstore cannot take them for what they are). */
  setAside: number;
  failed: string[];
  busy: string[];
}

/**
 * Writes `entries`; entries the logstore refuses are moved to `refused` and the rest written
 * again (nothing of a refused write is stored). Each round drops at least one entry, so it ends.
 */
async function writeAccepted(
  ports: LogstoreDeliveryPorts,
  accountId: string,
  trailName: string,
  entries: { read: OutboxEntryRead; input: LogEntryInput }[],
  refused: RefusedEntry[],
): Promise<number> {
  let rest = entries;
  while (rest.length > 0) {
    try {
      await ports.logstore.write(accountId, trailName, rest.map((e) => e.input));
      return rest.length;
    } catch (error) {
      if (!(error instanceof LogEntriesRefusedError)) throw error;
      const why = new Map(error.refused.filter((r) => r.index >= 0 && r.index < rest.length).map((r) => [r.index, r]));
      if (why.size === 0) throw error;
      rest.forEach((e, index) => {
        const r = why.get(index);
        if (r) refused.push({ entry: e.read, refusal: { code: r.code, field: r.field, reason: r.reason } });
      });
      rest = rest.filter((_e, index) => !why.has(index));
    }
  }
  return 0;
}

export async function deliverToLogstores(ports: LogstoreDeliveryPorts): Promise<LogstoreDeliveryResult> {
  let delivered = 0;
  let setAside = 0;
  const failed: string[] = [];
  const busy: string[] = [];
  const drain = async (accountId: string, trailName: string) => {
    for (;;) {
      const batch = await ports.outbox.peek(accountId, trailName, LOGSTORE_DELIVERY_BATCH);
      if (batch.length === 0) return;
      const refused: RefusedEntry[] = [];
      const entries: { read: OutboxEntryRead; input: LogEntryInput }[] = [];
      for (const read of batch) {
        const decoded = parseEntry(read.json);
        if (!decoded.ok) {
          refused.push({ entry: read, refusal: decoded.refusal });
          continue;
        }
        let timeMs: number;
        try {
          timeMs = eventTimeMs(decoded.event as { eventTime: string });
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          refused.push({ entry: read, refusal: { code: 'InvalidEventTime', field: 'eventTime', reason: error.message } });
          continue;
        }
        entries.push({ read, input: { eventId: read.eventId, json: read.json, eventTimeMs: timeMs } });
      }
      const written = await writeAccepted(ports, accountId, trailName, entries, refused);
      // Set aside before the acknowledgement: a failure keeps every entry, and the retry
      // overwrites the same rejected objects.
      await setAsideEntries('deliver-logstore', { accountId, trailName }, refused, ports.rejected);
      await ports.outbox.ack(accountId, trailName, batch.map((e) => e.eventId));
      await ports.status.record(accountId, trailName, 'logstore', { ok: true, atMs: ports.now() });
      await ports.metrics?.add(accountId, trailName, 'delivery_sls_success_count', written, ports.now());
      await ports.metrics?.add(accountId, trailName, 'delivery_sls_fail_count', refused.length, ports.now());
      delivered += written;
      setAside += refused.length;
      if (batch.length < LOGSTORE_DELIVERY_BATCH) return;
    }
  };
  for (const { accountId, trailName } of await ports.outbox.trails()) {
    try {
      // The holder drains until the outbox is empty, so a busy trail needs no second drainer;
      // entries that arrive while it lets go are picked up by one more pass.
      let ran = await ports.withLock(accountId, trailName, () => drain(accountId, trailName));
      for (let pass = 0; ran && pass < RECHECK_PASSES && (await ports.outbox.peek(accountId, trailName, 1)).length > 0; pass++) {
        ran = await ports.withLock(accountId, trailName, () => drain(accountId, trailName));
      }
      if (!ran) busy.push(`${accountId}/${trailName}`);
    } catch (error) {
      failed.push(`${accountId}/${trailName}`);
      await ports.status.record(accountId, trailName, 'logstore', { ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { delivered, setAside, failed, busy };
}

/**
 * deliver-logstore's use case for one invocation (a wake-up or the flush timer): drain every
 * trail's logstore outbox. Entries the logstore cannot take are set aside and counted
 * (`setAside`); a trail that failed (a store) keeps its entries in the outbox and fails the pass
 * (RetryableError), so FC retries the invocation.
 */
export async function runLogstorePass(ports: LogstoreDeliveryPorts): Promise<{ delivered: number; setAside: number; busy: string[] }> {
  const { delivered, setAside, failed, busy } = await deliverToLogstores(ports);
  if (failed.length > 0) throw new RetryableError(`logstore delivery failed for ${failed.join(', ')}; entries stay in the outbox`);
  return { delivered, setAside, busy };
}
