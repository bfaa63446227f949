/**
 * deliver-logstore's use case: drain every trail's logstore outbox into its logstore
 * `actiontrail_<trail>`. Entries are acknowledged only after the write; the logstore collapses
 * an entry written twice (a retried invocation), so delivery is exactly-once locally.
 */
import { eventTimeMs } from '../events/schema.ts';
import type { LogstoreWriter } from '../logstore/logstore.ts';
import type { DeliveryStatusStore } from './delivery-status.ts';
import { RetryableError } from '../errors.ts';

/** Entries moved per logstore write. */
export const LOGSTORE_DELIVERY_BATCH = 500;
/** Extra passes after letting go of a trail, for entries that arrived meanwhile. */
const RECHECK_PASSES = 3;

export interface OutboxReader {
  trails(): Promise<{ accountId: string; trailName: string }[]>;
  peek(accountId: string, trailName: string, limit: number): Promise<{ eventId: string; json: string }[]>;
  ack(accountId: string, trailName: string, eventIds: readonly string[]): Promise<void>;
}

export interface LogstoreDeliveryPorts {
  outbox: OutboxReader;
  /** Holds a trail's logstore delivery lock while `work` runs; false when another invocation holds it. */
  withLock(accountId: string, trailName: string, work: () => Promise<void>): Promise<boolean>;
  logstore: LogstoreWriter;
  status: DeliveryStatusStore;
  now(): number;
}

export async function deliverToLogstores(ports: LogstoreDeliveryPorts): Promise<{ delivered: number; failed: string[]; busy: string[] }> {
  let delivered = 0;
  const failed: string[] = [];
  const busy: string[] = [];
  const drain = async (accountId: string, trailName: string) => {
    for (;;) {
      const batch = await ports.outbox.peek(accountId, trailName, LOGSTORE_DELIVERY_BATCH);
      if (batch.length === 0) return;
      const entries = batch.map((e) => ({ eventId: e.eventId, json: e.json, eventTimeMs: eventTimeMs(JSON.parse(e.json) as { eventTime: string }) }));
      await ports.logstore.write(accountId, trailName, entries);
      await ports.outbox.ack(accountId, trailName, batch.map((e) => e.eventId));
      await ports.status.record(accountId, trailName, 'logstore', { ok: true, atMs: ports.now() });
      delivered += batch.length;
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
  return { delivered, failed, busy };
}

/**
 * deliver-logstore's use case for one invocation (a wake-up or the flush timer): drain every
 * trail's logstore outbox. A trail that failed keeps its entries in the outbox and fails the pass
 * (RetryableError), so FC retries the invocation.
 */
export async function runLogstorePass(ports: LogstoreDeliveryPorts): Promise<{ delivered: number; busy: string[] }> {
  const { delivered, failed, busy } = await deliverToLogstores(ports);
  if (failed.length > 0) throw new RetryableError(`logstore delivery failed for ${failed.join(', ')}; entries stay in the outbox`);
  return { delivered, busy };
}

