/**
 * Issue 11 items 4, 5 and 8 end to end, through the emulator on the product's s.yaml, against a
 * real Redis server and the real S3 server: one odd record never sinks its batch, far-future
 * times are refused per record, and a gzip bomb backfill file is answered, not inflated.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticEvent, utcSeconds, type Json } from '../helpers/synthetic-event.ts';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { RecordRefusedError } from '../../shared/errors.ts';
import { BACKFILL_MAX_DECODED_BYTES, REJECTED_PREFIX } from '../../shared/pipeline/staging.ts';
import { productProject, startTestStack, s3ClientFor, waitUntil, type TestStack } from '../helpers/stack.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const ACCOUNT = '1234567890123456';
const STAGING = 'trailkeeper-staging';
const LONG_ID = 'x'.repeat(300);


let stack: TestStack;
let redis: Redis;
let s3: S3Client;
let history: RedisHistoryStore;
let credentials: Credentials;
let ingestUrl: string;

const iso = utcSeconds;

const event = (overrides: Json = {}): Json => syntheticEvent(ACCOUNT, { eventId: `iso-${randomUUID()}`, ...overrides });

async function ingest(events: unknown[]) {
  const res = await postEvents(ingestUrl, credentials, JSON.stringify(events));
  return { status: res.status, body: (await res.json()) as Json & { accepted: number; rejected: Json[] } };
}

const idOf = (e: Json) => e['eventId'] as string;
const waitForHistory = (eventId: string) => waitUntil(() => history.get([ACCOUNT], eventId), 15_000, `event ${eventId} in history`);

async function readText(key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: STAGING, Key: key }));
  return (await res.Body?.transformToString()) ?? '';
}

async function rejectedObjectsMentioning(text: string): Promise<Json[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: STAGING, Prefix: REJECTED_PREFIX }));
  const docs = await Promise.all((listed.Contents ?? []).map(async (o) => readText(o.Key as string)));
  return docs.filter((d) => d.includes(text)).map((d) => JSON.parse(d) as Json);
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: [STAGING, 'trailkeeper-archive'] });
  ingestUrl = stack.emulator.httpUrls['ingest'] as string;
  redis = new Redis(stack.redisUrl);
  history = new RedisHistoryStore(redis);
  s3 = s3ClientFor(stack);
  credentials = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('one odd record never sinks its batch', () => {
  it('ingest answers a 300-byte eventId and a lone surrogate per record; the valid events reach history', async () => {
    const valid = [event(), event(), event()];
    const { status, body } = await ingest([valid[0], event({ eventId: LONG_ID }), valid[1], event({ eventId: 'bad-\uD800' }), valid[2]]);
    expect(status).toBe(200);
    expect(body.accepted).toBe(3);
    expect(body.rejected).toEqual([
      expect.objectContaining({ index: 1, code: 'InvalidField', field: 'eventId' }),
      expect.objectContaining({ index: 3, code: 'InvalidField', field: 'eventId' }),
    ]);
    for (const e of valid) await waitForHistory(idOf(e));
  });

  it('a staging object holding a record history refuses: the valid records reach history, the odd one is in a rejected object', async () => {
    const valid = [event(), event()];
    const odd = event({ eventId: LONG_ID });
    const requestId = `bypass-${randomUUID()}`;
    const batch = { version: 1, accountId: ACCOUNT, requestId, receivedAt: new Date().toISOString(), sourceIp: '10.0.0.9', accessKeyId: credentials.accessKeyId, events: [valid[0], odd, valid[1]] };
    const key = `inbox/2026/11/22/10/${requestId}.json.gz`;
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: gzipSync(JSON.stringify(batch)) }));
    for (const e of valid) await waitForHistory(idOf(e));
    const [doc] = await waitUntil(async () => {
      const found = await rejectedObjectsMentioning(requestId);
      return found.length > 0 ? found : undefined;
    }, 15_000, 'rejected object');
    expect(doc).toMatchObject({ accountId: ACCOUNT, source: { bucket: STAGING, key } });
    expect(doc?.['records']).toEqual([expect.objectContaining({ stage: 'validate', index: 1, code: 'InvalidField', field: 'eventId', reason: expect.stringContaining('255 bytes'), record: odd })]);
  });

  it('the history store refuses such a record by name and writes nothing of that put', async () => {
    const valid = event();
    const record = (e: Json) => ({ accountId: ACCOUNT, eventId: idOf(e), eventTimeMs: Date.now(), json: JSON.stringify(e), attributes: {} });
    const error = await history.put([record(valid), record(event({ eventId: LONG_ID }))]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordRefusedError);
    expect((error as RecordRefusedError).refused).toEqual([{ eventId: LONG_ID, reason: expect.stringContaining('1–255 bytes') }]);
    expect(await history.has(ACCOUNT, [idOf(valid)])).toEqual([false]);
  });
});

describe('far-future event times', () => {
  it('year 9999 and 2100 are refused per record as InvalidField eventTime; the rest is kept', async () => {
    const valid = event();
    const { body } = await ingest([event({ eventTime: '9999-12-31T23:59:59Z' }), valid, event({ eventTime: '2100-01-01T00:00:00Z' })]);
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([
      expect.objectContaining({ index: 0, code: 'InvalidField', field: 'eventTime' }),
      expect.objectContaining({ index: 2, code: 'InvalidField', field: 'eventTime' }),
    ]);
    await waitForHistory(idOf(valid));
  });

  it('a backfill file: refused against the processing time, in the result object', async () => {
    const valid = event();
    const key = `backfill/future-${randomUUID()}.json`;
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: JSON.stringify([valid, event({ eventTime: '2100-01-01T00:00:00Z' })]) }));
    const result = JSON.parse(await waitUntil(() => readText(`${key}.result.json`).catch(() => undefined), 15_000, 'backfill result')) as Json;
    expect(result).toMatchObject({ records: 2, accepted: 1, rejected: [expect.objectContaining({ index: 1, code: 'InvalidField', field: 'eventTime' })] });
  });
});

describe('a gzip bomb backfill file', () => {
  it('is answered "too large" in its result object, and classify still serves the next file', async () => {
    const bomb = gzipSync(Buffer.alloc(BACKFILL_MAX_DECODED_BYTES + 1024 * 1024, 0x20));
    expect(bomb.byteLength).toBeLessThan(100 * 1024);
    const key = `backfill/bomb-${randomUUID()}.json.gz`;
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: bomb }));
    const result = JSON.parse(await waitUntil(() => readText(`${key}.result.json`).catch(() => undefined), 20_000, 'bomb result')) as Json;
    expect(result).toMatchObject({ records: 0, accepted: 0, error: { code: 'ObjectTooLarge', message: expect.stringContaining('once decompressed') } });
    const next = event();
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: `backfill/after-bomb-${randomUUID()}.json`, Body: JSON.stringify([next]) }));
    await waitForHistory(idOf(next));
  });
});
