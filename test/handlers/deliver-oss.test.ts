/**
 * functions/deliver-oss/index.ts called directly with events/timer-flush.json and
 * events/wake-classified.json (no emulator): the outbox entries it drains are put through the
 * outbox store of adapters/wiring.ts, and the archive files it writes are read from the real
 * S3 server. The flush timer writes every entry (force), so no deferred pass — and no invoke
 * API — is needed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { eventBuffer, fcContext, gunzipJson, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

type Json = Record<string, unknown>;
const ARCHIVE = 'handler-archive';

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/deliver-oss/index.ts'))['handler'];

/** The record of the ingest sample (events/http-ingest-post.json), with a fresh id and a current time. */
function record(): Json {
  const [sample] = JSON.parse(sampleEvent<{ body: string }>('http-ingest-post').body) as Json[];
  return { ...sample, eventId: `deliver-oss-${randomUUID()}`, eventRW: 'Write', eventTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

/** A started trail archiving to `bucket`, stored through wiring's trail store. */
async function startedTrail(name: string, bucket: string): Promise<Trail> {
  const now = Date.now();
  const trail = trailSchema.parse({ name, accountId: SAMPLE_ACCOUNT, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: bucket, status: 'Enable', createdAtMs: now, updatedAtMs: now, startLoggingTimeMs: now - 3_600_000 });
  await services.trails.create(trail);
  return trail;
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('deliver-oss'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET, ARCHIVE] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/deliver-oss/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('deliver-oss handler', () => {
  it('a flush timer with every outbox empty resolves with delivered 0', async () => {
    const result = await invoke(sampleEvent('timer-flush'));
    expect(result).toMatchObject({ delivered: 0, digests: 0, failed: [], busy: [] });
    expect(await servers.list(ARCHIVE, '')).toEqual([]);
  });

  it('a wake-up with every outbox empty resolves with delivered 0 (nothing left waiting, no deferred pass)', async () => {
    const result = await invoke(sampleEvent('wake-classified'));
    expect(result).toMatchObject({ delivered: 0, failed: [], busy: [] });
    expect(result.waitingSinceMs).toBeUndefined();
  });

  it('a flush timer writes a started trail’s outbox entries as an archive file in its bucket and empties the outbox', async () => {
    const trail = await startedTrail('oss-trail', ARCHIVE);
    const events = [record(), record(), record()];
    await services.outbox.append(trail, events.map((e) => ({ eventId: e['eventId'] as string, eventTimeMs: Date.parse(e['eventTime'] as string), json: JSON.stringify(e) })));
    expect(await services.outbox.size(SAMPLE_ACCOUNT, trail.name, 'oss')).toBe(3);

    const result = await invoke(sampleEvent('timer-flush', { triggerTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }));
    expect(result).toMatchObject({ delivered: 3, failed: [], busy: [] });

    const files = (await servers.list(ARCHIVE, 'AliyunLogs/Actiontrail/')).filter((k) => k.endsWith('.gz'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^AliyunLogs\/Actiontrail\/cn-hangzhou\/\d{4}\/\d\d\/\d\d\/Actiontrail_cn-hangzhou_\d{14}_1002_3_\d+_[0-9a-f]{32}\.gz$/);
    const archived = gunzipJson<Json[]>((await servers.get(ARCHIVE, files[0] as string)) as Buffer);
    expect(archived.map((e) => e['eventId']).sort()).toEqual(events.map((e) => e['eventId']).sort());
    expect(await services.outbox.size(SAMPLE_ACCOUNT, trail.name, 'oss')).toBe(0);
  });

  it('an OSS event is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('oss-inbox'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/OSS event reached a function that accepts only timer, wake/);
  });
});
