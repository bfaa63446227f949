/**
 * The deliverers' side of issue 11 item 4: an outbox entry a deliverer cannot write for what it
 * is (its JSON does not parse, its region cannot name an archive folder, the logstore refuses it)
 * never blocks its trail. It is set aside — a rejected object in the staging bucket, written by
 * the same writer as classify's (shared/pipeline/set-aside.ts) — and then acknowledged out of the
 * outbox with the delivered entries. A store failure is no refusal: it fails the trail and keeps
 * every entry for the retry.
 *
 * One rejected object per entry, keyed by stage, trail and eventId, in the folder of the trail's
 * account and the day the entry arrived in the outbox: a retry overwrites the same key.
 */
import { writeSetAside, type RejectedObjectPorts, type SetAsideRecord } from '../pipeline/set-aside.ts';

export type DeliveryStage = 'deliver-oss' | 'deliver-logstore';

/** Why an entry cannot be written. */
export interface EntryRefusal {
  code: string;
  field?: string;
  reason: string;
}

/** An outbox entry as a deliverer reads it. */
export interface OutboxEntryRead {
  eventId: string;
  json: string;
  arrivedAtMs: number;
}

export interface RefusedEntry {
  entry: OutboxEntryRead;
  refusal: EntryRefusal;
}

const OUTBOX_OF_STAGE: Record<DeliveryStage, string> = { 'deliver-oss': 'oss', 'deliver-logstore': 'logstore' };

/** The entry as the rejected object holds it: the event when its JSON parses, else the text as queued. */
function recordOf(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

/** Writes one rejected object per refused entry (and logs it); throws when the staging bucket does, so nothing is acknowledged. */
export async function setAsideEntries(
  stage: DeliveryStage,
  trail: { accountId: string; trailName: string },
  refused: readonly RefusedEntry[],
  ports: RejectedObjectPorts,
): Promise<void> {
  const owner = { accountId: trail.accountId, name: trail.trailName };
  for (const { entry, refusal } of refused) {
    const record: SetAsideRecord = {
      stage,
      accountId: trail.accountId,
      trail: owner,
      eventId: entry.eventId,
      code: refusal.code,
      ...(refusal.field !== undefined ? { field: refusal.field } : {}),
      reason: refusal.reason,
      record: recordOf(entry.json),
    };
    await writeSetAside(
      {
        bucket: ports.bucket,
        objectId: `${stage}:${trail.accountId}/${trail.trailName}:${entry.eventId}`,
        receivedAtMs: entry.arrivedAtMs,
        describe: { stage, trail: owner, outbox: OUTBOX_OF_STAGE[stage], eventId: entry.eventId, arrivedAt: new Date(entry.arrivedAtMs).toISOString() },
        logFields: { trail: `${trail.accountId}/${trail.trailName}` },
      },
      [record],
      ports,
    );
  }
}

/** Parses an entry's JSON as an event object (what both deliverers need first), or says why not. */
export function parseEntry(json: string): { ok: true; event: Record<string, unknown> } | { ok: false; refusal: EntryRefusal } {
  let value: unknown;
  try {
    value = JSON.parse(json) as unknown;
  } catch (error) {
    return { ok: false, refusal: { code: 'InvalidJSON', reason: `the outbox entry is not JSON: ${error instanceof Error ? error.message : String(error)}` } };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, refusal: { code: 'InvalidEvent', reason: 'the outbox entry is not a JSON object' } };
  }
  return { ok: true, event: value as Record<string, unknown> };
}
