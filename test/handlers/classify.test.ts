/**
 * functions/classify/index.ts called directly with OSS events built from events/oss-inbox.json
 * and events/oss-backfill.json (no emulator): the objects they name are put in the real S3
 * server first, and what classify stores is read back from the real Redis.
 * No trail exists here, so classify never wakes the deliverers (no invoke API is needed).
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { BACKFILL_RESULT_SUFFIX, MAX_OBJECT_KEY_BYTES, stagingKey, type StagingBatch } from '../../shared/pipeline/staging.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

type Json = Record<string, unknown>;

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/classify/index.ts'))['handler'];

/** The record of the ingest sample (events/http-ingest-post.json), with a fresh id and a current time. */
function record(): Json {
  const [sample] = JSON.parse(sampleEvent<{ body: string }>('http-ingest-post').body) as Json[];
  return { ...sample, eventId: `classify-${randomUUID()}`, eventTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

/** events/<sample>.json naming `key` (with its real ETag) in the staging bucket. */
function ossEvent(sample: 'oss-inbox' | 'oss-backfill', key: string, eTag: string, size: number): Json {
  const event = sampleEvent<{ events: Json[] }>(sample);
  const notice = event.events[0] as { oss: { object: Json } };
  notice.oss.object = { ...notice.oss.object, key, eTag, size, deltaSize: size };
  return event;
}

/** A staging batch as ingest writes it (shared/pipeline/staging.ts), put under its inbox/ key. */
async function putStagingBatch(events: Json[]): Promise<{ key: string; eTag: string; size: number }> {
  const requestId = `1-${Date.now().toString(16)}-${randomUUID().slice(0, 12)}`;
  const receivedAt = new Date();
  const batch = { version: 1, accountId: SAMPLE_ACCOUNT, requestId, receivedAt: receivedAt.toISOString(), sourceIp: '42.120.75.1', accessKeyId: 'LTAI5tBob0006', events } as unknown as StagingBatch;
  const key = stagingKey(requestId, receivedAt);
  const body = gzipSync(JSON.stringify(batch));
  const { eTag } = await servers.put(STAGING_BUCKET, key, body);
  return { key, eTag, size: body.length };
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('classify'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/classify/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('classify handler', () => {
  it('an OSS notice of a staging object puts its events in history', async () => {
    const events = [record(), record()];
    const object = await putStagingBatch(events);
    const result = await invoke(ossEvent('oss-inbox', object.key, object.eTag, object.size));
    expect(result).toEqual({ objects: 1, outcomes: ['classified'] });
    for (const event of events) {
      const stored = await services.history.get([SAMPLE_ACCOUNT], event['eventId'] as string);
      expect(stored, `history holds ${String(event['eventId'])}`).toBeDefined();
      expect(JSON.parse(stored as string)).toMatchObject({ eventId: event['eventId'], eventName: 'StopInstance' });
    }
  });

  it('an OSS notice of a backfill file writes <file>.result.json next to it with the file’s verdicts', async () => {
    const events = [record(), record()];
    const key = `backfill/Actiontrail_cn-hangzhou_${Date.now()}_1002_1_808_${randomUUID().replace(/-/g, '')}.gz`;
    const body = gzipSync(JSON.stringify(events));
    const { eTag } = await servers.put(STAGING_BUCKET, key, body);
    const result = await invoke(ossEvent('oss-backfill', key, eTag, body.length));
    expect(result).toEqual({ objects: 1, outcomes: ['classified'] });
    const written = await servers.get(STAGING_BUCKET, `${key}${BACKFILL_RESULT_SUFFIX}`);
    expect(written, 'the result object').toBeDefined();
    expect(JSON.parse((written as Buffer).toString('utf8'))).toMatchObject({ file: key, records: 2, accepted: 2, rejected: [], duplicatesInFile: 0 });
    expect(await services.history.get([SAMPLE_ACCOUNT], events[0]?.['eventId'] as string)).toBeDefined();
  });

  it('an object outside inbox/ and backfill/ is ignored', async () => {
    const result = await invoke(ossEvent('oss-inbox', 'elsewhere/file.json', '0B9C2F4E0D1A7E6B5C4D3E2F1A0B9C8D', 10));
    expect(result).toEqual({ objects: 1, outcomes: ['ignored'] });
  });

  it('a timer event is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('timer-flush'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/timer event reached a function that accepts only oss/);
  });

  it('an event naming 30,000 resources is classified with its batch (its history put no longer overflows the stack)', async () => {
    const wide: Json = { ...record(), referencedResources: { 'ACS::ECS::Instance': Array.from({ length: 30_000 }, (_, i) => `i-wide-${i}`) } };
    const events = [record(), wide, record()];
    const object = await putStagingBatch(events);
    const result = await invoke(ossEvent('oss-inbox', object.key, object.eTag, object.size));
    expect(result).toEqual({ objects: 1, outcomes: ['classified'] });
    for (const event of events) expect(await services.history.get([SAMPLE_ACCOUNT], event['eventId'] as string), String(event['eventId'])).toBeDefined();
    const page = await services.history.lookup({ accountIds: [SAMPLE_ACCOUNT], startMs: Date.now() - 3_600_000, endMs: Date.now(), direction: 'BACKWARD', limit: 5, condition: { key: 'ResourceName', value: 'i-wide-29999' } });
    expect(page.events.map((json) => (JSON.parse(json) as Json)['eventId'])).toEqual([wide['eventId']]);
  });

  it('a backfill file that is broken gzip gets a result object naming InvalidGzip, not a failed invocation retried to the dead letter', async () => {
    const whole = gzipSync(JSON.stringify([record()]));
    for (const [name, body] of [
      ['truncated', whole.subarray(0, whole.length - 6)],
      ['gzip magic, then garbage', Buffer.concat([whole.subarray(0, 2), Buffer.from('not deflate at all')])],
    ] as const) {
      const key = `backfill/broken-${randomUUID()}.gz`;
      const { eTag } = await servers.put(STAGING_BUCKET, key, body);
      const result = await invoke(ossEvent('oss-backfill', key, eTag, body.length));
      expect(result, name).toEqual({ objects: 1, outcomes: ['unreadable'] });
      const written = await servers.get(STAGING_BUCKET, `${key}${BACKFILL_RESULT_SUFFIX}`);
      expect(written, `${name}: the result object`).toBeDefined();
      expect(JSON.parse((written as Buffer).toString('utf8')), name).toMatchObject({ file: key, accepted: 0, error: { code: 'InvalidGzip' } });
    }
  });

  it('a backfill file whose key leaves no room for its result object is refused before anything is stored, with a clear rejected/unreadable record', async () => {
    const event = record();
    // 1,024 bytes: S3 takes the file, but `<key>.result.json` would be over its key limit
    // (in folders of 100 bytes: the local S3 server stores keys as file paths)
    const name = 'k'.repeat(MAX_OBJECT_KEY_BYTES - 'backfill/'.length - '.json'.length).replace(/(.{99})./g, '$1/');
    const key = `backfill/${name}.json`;
    expect(Buffer.byteLength(key)).toBe(MAX_OBJECT_KEY_BYTES);
    const body = Buffer.from(JSON.stringify([event]));
    const { eTag } = await servers.put(STAGING_BUCKET, key, body);
    const before = new Set(await servers.list(STAGING_BUCKET, 'rejected/unreadable/'));
    const result = await invoke(ossEvent('oss-backfill', key, eTag, body.length));
    expect(result).toEqual({ objects: 1, outcomes: ['unreadable'] });
    expect(await services.history.get([SAMPLE_ACCOUNT], event['eventId'] as string)).toBeUndefined();
    const added = (await servers.list(STAGING_BUCKET, 'rejected/unreadable/')).filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const rejected = JSON.parse(((await servers.get(STAGING_BUCKET, added[0] as string)) as Buffer).toString('utf8')) as { source: Json; records: Json[] };
    expect(rejected.source).toMatchObject({ key });
    expect(rejected.records[0]).toMatchObject({ code: 'KeyTooLong' });
  });

  it('a staging object that is broken gzip is set aside as unreadable', async () => {
    const object = await putStagingBatch([record()]);
    const whole = (await servers.get(STAGING_BUCKET, object.key)) as Buffer;
    const broken = whole.subarray(0, whole.length - 6);
    const { eTag } = await servers.put(STAGING_BUCKET, object.key, broken);
    const before = new Set(await servers.list(STAGING_BUCKET, 'rejected/unreadable/'));
    const result = await invoke(ossEvent('oss-inbox', object.key, eTag, broken.length));
    expect(result).toEqual({ objects: 1, outcomes: ['unreadable'] });
    const added = (await servers.list(STAGING_BUCKET, 'rejected/unreadable/')).filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const rejected = JSON.parse(((await servers.get(STAGING_BUCKET, added[0] as string)) as Buffer).toString('utf8')) as { records: Json[] };
    expect(rejected.records[0]).toMatchObject({ stage: 'validate', code: 'InvalidGzip' });
  });
});
