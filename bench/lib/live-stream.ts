/**
 * Ingest bodies whose event times are those of a live account: a stream at `rate` events/s that
 * ended a minute ago, each event up to 2 s out of order (so concurrent batches interleave in time).
 * Built up front, so a timed loop only sends; `lastIds` is each body's last eventId.
 */
import { sampleEvents } from '../../scripts/lib/sample-events.ts';

export function liveStreamBodies(accountId: string, total: number, batch: number, rate: number): { bodies: string[]; lastIds: string[] } {
  const bodies: string[] = [];
  const lastIds: string[] = [];
  const streamEnd = Date.now() - 60_000;
  for (let i = 0; i < total; i += batch) {
    const events = sampleEvents(accountId, Math.min(batch, total - i)).map((event, k) => {
      const g = i + k;
      const t = streamEnd - ((total - g) / rate) * 1000 - ((g * 7919) % 2000);
      return { ...event, eventTime: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') } as Record<string, unknown>;
    });
    bodies.push(JSON.stringify(events));
    lastIds.push(String(events.at(-1)?.['eventId']));
  }
  return { bodies, lastIds };
}
