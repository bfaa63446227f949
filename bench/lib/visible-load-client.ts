/**
 * The client of bench/pipeline.ts's "visible under load" part, run in its own worker thread so
 * its signing, hashing and polling do not share the emulator's event loop (a real client runs
 * elsewhere). For `seconds` after the go:
 *   - background: batches of the live-stream mix (bench/lib/live-stream.ts) at `rate` events/s,
 *     open loop — batch i is sent at go + i × batch / rate whatever the earlier ones are doing,
 *     so the offered rate stays the offered rate when the stack falls behind;
 *   - tagged: each batch's last event is watched in history (one `has` call every POLL_MS for
 *     every batch in flight), batch sent → its last event in history;
 *   - probes: every `probeIntervalMs` (after PROBE_WARMUP_MS), one new event posted on its own,
 *     then LookupEvents by its EventId through lookup-http (signed, as a user polls) every
 *     `pollMs` until found: sent → acknowledged → in history (a history check beside each poll)
 *     → found.
 * Then it waits for every probe and batch to be found, checks every background event is in
 * history, and posts the samples back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { sampleEvents } from '../../scripts/lib/sample-events.ts';
import { liveStreamBodies } from './live-stream.ts';

export interface VisibleLoadData {
  ingestUrl: string;
  lookupUrl: string;
  redisUrl: string;
  credentials: Credentials;
  accountId: string;
  /** background events/s offered */
  rate: number;
  batch: number;
  seconds: number;
  probeIntervalMs: number;
  pollMs: number;
}

export interface VisibleLoadResult {
  type: 'done';
  /** background: events sent and accepted; the schedule's length (batches × interval), and how long after the last send the last batch was acknowledged / the last tagged event in history */
  sent: number;
  accepted: number;
  scheduleSeconds: number;
  ackTailMs: number;
  historyTailMs: number;
  /** how late a batch's send started against its schedule (ms), and the most batches in flight */
  sendLagMs: number[];
  maxInFlight: number;
  /** batch sent → acknowledged, batch sent → its last event in history (ms) */
  batchAckMs: number[];
  batchHistoryMs: number[];
  /** background events not in history at the end (after the wait) */
  missing: number;
  /**
   * probes: sent → acknowledged, sent → found in LookupEvents (ms), and the found ones split into
   * acknowledged → in history (seen by a poll) and in history → found (ms); not found within
   * PROBE_TIMEOUT_MS: probeTimeouts
   */
  probeAckMs: number[];
  probeFoundMs: number[];
  probeHistoryMs: number[];
  probeLookupMs: number[];
  probeTimeouts: number;
  lookupCalls: number;
}

const POLL_MS = 20;
const PROBE_WARMUP_MS = 2_000;
/** a probe not found by then counts as a timeout (well past the 1 s goal) */
const PROBE_TIMEOUT_MS = 60_000;
/** how long, after the last send, the background may take to be all in history */
const DRAIN_TIMEOUT_MS = 300_000;

const data = workerData as VisibleLoadData;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = new Redis(data.redisUrl);
const history = new RedisHistoryStore(redis);

// Bodies built up front (event times: a live stream at `rate` that ended a minute ago).
const batches = Math.max(1, Math.round((data.rate * data.seconds) / data.batch));
const { bodies, lastIds } = liveStreamBodies(data.accountId, batches * data.batch, data.batch, data.rate);
const allIds = bodies.map((b) => (JSON.parse(b) as { eventId: string }[]).map((e) => e.eventId));

parentPort?.postMessage({ type: 'ready' });
await new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));

const started = performance.now();
const sendLagMs: number[] = [];
const batchAckMs: number[] = [];
const batchHistoryMs: number[] = [];
let accepted = 0;
let inFlight = 0;
let maxInFlight = 0;
let lastAck = started;
let lastInHistory = started;
let sendsDone = false;
/** batch last eventId → when its batch was sent */
const watched = new Map<string, number>();
const failures: string[] = [];

const sendBatch = async (i: number, at: number): Promise<void> => {
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  try {
    const res = await postEvents(data.ingestUrl, data.credentials, bodies[i] as string);
    if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    accepted += ((await res.json()) as { accepted: number }).accepted;
    lastAck = performance.now();
    batchAckMs.push(lastAck - at);
    watched.set(lastIds[i] as string, at);
  } catch (error) {
    failures.push(String(error));
  } finally {
    inFlight--;
  }
};

// background, open loop
const background = (async () => {
  const sends: Promise<void>[] = [];
  const intervalMs = (data.batch / data.rate) * 1000;
  for (let i = 0; i < bodies.length; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const at = performance.now();
    sendLagMs.push(at - due);
    sends.push(sendBatch(i, at));
  }
  const lastSend = performance.now();
  sendsDone = true;
  await Promise.all(sends);
  return lastSend;
})();

// tagged background events: one history check for every batch in flight, every POLL_MS
const tagged = (async () => {
  for (;;) {
    if (watched.size > 0) {
      const ids = [...watched.keys()];
      const found = await history.has(data.accountId, ids);
      const now = performance.now();
      ids.forEach((id, k) => {
        if (!found[k]) return;
        batchHistoryMs.push(now - (watched.get(id) as number));
        watched.delete(id);
        lastInHistory = now;
      });
    }
    if (sendsDone && inFlight === 0 && watched.size === 0) return;
    if (performance.now() - lastAck > DRAIN_TIMEOUT_MS) return;
    await sleep(POLL_MS);
  }
})();

// probes, each on its own, one started every probeIntervalMs while the background runs
const probeAckMs: number[] = [];
const probeFoundMs: number[] = [];
const probeHistoryMs: number[] = [];
const probeLookupMs: number[] = [];
let probeTimeouts = 0;
let lookupCalls = 0;
const found = async (id: string): Promise<boolean> => {
  lookupCalls++;
  const res = await callRpc(data.lookupUrl, data.credentials, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': id });
  const body = (await res.json()) as { Events?: unknown[]; Code?: string };
  if (!res.ok) throw new Error(`LookupEvents answered ${res.status} ${body.Code}`);
  return (body.Events?.length ?? 0) > 0;
};
const probe = async (): Promise<void> => {
  const [event] = sampleEvents(data.accountId, 1);
  const id = (event as { eventId: string }).eventId;
  const t0 = performance.now();
  const res = await postEvents(data.ingestUrl, data.credentials, JSON.stringify([event]));
  if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
  const acked = performance.now();
  probeAckMs.push(acked - t0);
  // each poll asks LookupEvents and, until it is there, history itself (one Redis call): the split
  // between the pipeline (staging, OSS trigger, classify) and the lookup path
  let inHistory: number | undefined;
  for (;;) {
    const [visible] = await Promise.all([
      found(id),
      inHistory === undefined
        ? history.has(data.accountId, [id]).then(([held]) => {
            if (held) inHistory = performance.now();
          })
        : undefined,
    ]);
    if (visible) break;
    if (performance.now() - t0 > PROBE_TIMEOUT_MS) {
      probeTimeouts++;
      return;
    }
    await sleep(data.pollMs);
  }
  const visibleAt = performance.now();
  probeFoundMs.push(visibleAt - t0);
  probeHistoryMs.push((inHistory ?? visibleAt) - acked);
  probeLookupMs.push(visibleAt - (inHistory ?? visibleAt));
};
const probes: Promise<void>[] = [];
await sleep(PROBE_WARMUP_MS);
while (!sendsDone) {
  probes.push(probe().catch((error: unknown) => void failures.push(String(error))));
  await sleep(data.probeIntervalMs);
}

const lastSend = await background;
await Promise.all([tagged, ...probes]);
// no loss: every background event in history
let missing = 0;
for (const ids of allIds) missing += (await history.has(data.accountId, ids)).filter((f) => !f).length;
redis.disconnect();
if (failures.length > 0) throw new Error(`${failures.length} requests failed, first: ${failures[0]}`);
parentPort?.postMessage({
  type: 'done',
  sent: batches * data.batch,
  accepted,
  scheduleSeconds: (bodies.length * data.batch) / data.rate,
  ackTailMs: lastAck - lastSend,
  historyTailMs: lastInHistory - lastSend,
  sendLagMs,
  maxInFlight,
  batchAckMs,
  batchHistoryMs,
  missing,
  probeAckMs,
  probeFoundMs,
  probeHistoryMs,
  probeLookupMs,
  probeTimeouts,
  lookupCalls,
} satisfies VisibleLoadResult);
