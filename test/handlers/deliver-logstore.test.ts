/**
 * functions/deliver-logstore/index.ts called directly with events/timer-flush.json and
 * events/oss-redeliver.json (no emulator): outbox entries are put through the outbox store of
 * adapters/wiring.ts, and the logstore (local Redis streams, TK_LOGSTORE=redis) and the request's
 * result object are read back from the real Redis and S3 server.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { REDELIVER_RESULT_SUFFIX } from '../../shared/delivery/redelivery.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

type Json = Record<string, unknown>;

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/deliver-logstore/index.ts'))['handler'];

/** The record of the ingest sample (events/http-ingest-post.json), with a fresh id and a current time. */
function record(): Json {
  const [sample] = JSON.parse(sampleEvent<{ body: string }>('http-ingest-post').body) as Json[];
  return { ...sample, eventId: `deliver-logstore-${randomUUID()}`, eventRW: 'Write', eventTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

/** A started trail with a logstore (SLS project), stored through wiring's trail store. */
async function startedTrail(name: string): Promise<Trail> {
  const now = Date.now();
  const trail = trailSchema.parse({
    name,
    accountId: SAMPLE_ACCOUNT,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    slsProjectArn: `acs:log:cn-hangzhou:${SAMPLE_ACCOUNT}:project/trailkeeper`,
    status: 'Enable',
    createdAtMs: now,
    updatedAtMs: now,
    startLoggingTimeMs: now - 3_600_000,
  });
  await services.trails.create(trail);
  return trail;
}

/** events/oss-redeliver.json naming `key` in the staging bucket. */
function redeliverEvent(key: string): Json {
  const event = sampleEvent<{ events: { oss: { object: Json } }[] }>('oss-redeliver');
  const notice = event.events[0] as { oss: { object: Json } };
  notice.oss.object = { ...notice.oss.object, key };
  return event;
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('deliver-logstore'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/deliver-logstore/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('deliver-logstore handler', () => {
  it('a flush timer with every outbox empty resolves with delivered 0', async () => {
    const result = await invoke(sampleEvent('timer-flush'));
    expect(result).toMatchObject({ delivered: 0, busy: [] });
  });

  it('a flush timer writes a trail’s outbox entries to its logstore and empties the outbox', async () => {
    const trail = await startedTrail('logstore-trail');
    const events = [record(), record()];
    await services.outbox.append(trail, events.map((e) => ({ eventId: e['eventId'] as string, eventTimeMs: Date.parse(e['eventTime'] as string), json: JSON.stringify(e) })));
    expect(await services.outbox.size(SAMPLE_ACCOUNT, trail.name, 'logstore')).toBe(2);

    const result = await invoke(sampleEvent('timer-flush'));
    expect(result).toMatchObject({ delivered: 2, busy: [] });

    const entries = await services.redisLogstore.latest(SAMPLE_ACCOUNT, trail.name, 10);
    expect(entries.map((e) => e.eventId).sort()).toEqual(events.map((e) => e['eventId']).sort());
    const first = events[0] as Json;
    expect(entries.find((e) => e.eventId === first['eventId'])?.event).toBe(JSON.stringify(first));
    expect(await services.outbox.size(SAMPLE_ACCOUNT, trail.name, 'logstore')).toBe(0);
  });

  it('an OSS notice of a redeliver/ request that is not JSON writes a result object with error InvalidJSON', async () => {
    const key = `redeliver/bad-${randomUUID()}.json`;
    await servers.put(STAGING_BUCKET, key, '{"accountId": "1234567890123456", "trailName": ');
    const result = await invoke(redeliverEvent(key));
    expect(result).toEqual({ redelivery: true });
    const written = await servers.get(STAGING_BUCKET, `${key}${REDELIVER_RESULT_SUFFIX}`);
    expect(written, 'the result object').toBeDefined();
    expect(JSON.parse((written as Buffer).toString('utf8'))).toMatchObject({ error: { code: 'InvalidJSON', message: expect.any(String) } });
  });

  it('a destination record is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('async-on-failure'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/destination event reached a function that accepts only timer, wake, oss/);
  });
});
