/**
 * The event pipeline end to end, through the emulator on the product's s.yaml, against a real
 * Redis server and the real S3 server: ingest (signed) → staging object → classify (OSS
 * trigger) → history, summary queue, trail outboxes; and backfill files.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { RedisSummaryQueue } from '../../adapters/redis/summary-queue.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { signAcs3Request } from '../../shared/auth/acs3-signature.ts';
import { INGEST_MAX_EVENTS } from '../../shared/pipeline/records.ts';
import { trailSchema, type TrailInput } from '../../shared/trails/model.ts';
import { productProject, repoRoot, startTestStack, s3ClientFor, waitUntil, type TestStack } from '../helpers/stack.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const MANAGEMENT = '1234567890123456';
const MEMBER = '2234567890123456';
const OTHER = '3234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');

let stack: TestStack;
let redis: Redis;
let s3: S3Client;
let history: RedisHistoryStore;
let outbox: RedisOutbox;
let management: Credentials;
let member: Credentials;
let disabled: Credentials;
let ingestUrl: string;

type Json = Record<string, unknown>;

/** A fixture event, made recent (so history keeps it) and given a fresh eventId. */
function fixture(name: string, overrides: Json = {}, agoMs = 60_000): Json {
  const event = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Json;
  return {
    ...event,
    eventId: `${name}-${randomUUID()}`,
    eventTime: new Date(Date.now() - agoMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...overrides,
  };
}

async function ingest(events: unknown, credentials: Credentials = management, options: { gzip?: boolean } = {}) {
  const text = typeof events === 'string' ? events : JSON.stringify(events);
  const res = await postEvents(ingestUrl, credentials, options.gzip ? gzipSync(text) : text, options);
  return { status: res.status, body: (await res.json()) as Json & { accepted: number; duplicates: number; rejected: Json[] } };
}

async function inHistory(accountId: string, eventId: string): Promise<Json | undefined> {
  const raw = await history.get([accountId], eventId);
  return raw ? (JSON.parse(raw) as Json) : undefined;
}

const waitForHistory = (accountId: string, eventId: string) => waitUntil(() => inHistory(accountId, eventId), 10_000, `event ${eventId} in history`);

async function createTrail(input: Partial<TrailInput> & { name: string; accountId: string }) {
  const now = Date.now();
  await new RedisTrailStore(redis).create(
    trailSchema.parse({
      homeRegion: 'cn-hangzhou',
      ossBucketName: ARCHIVE,
      status: 'Enable',
      createdAtMs: now - 1000,
      updatedAtMs: now,
      startLoggingTimeMs: now - 10 * 60_000,
      ...input,
    }),
  );
}

async function outboxIds(accountId: string, trail: string): Promise<string[]> {
  return (await outbox.peek(accountId, trail, 'oss', 10_000)).map((e) => e.eventId);
}

async function readText(bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await res.Body?.transformToString()) ?? '';
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE] });
  ingestUrl = stack.emulator.httpUrls['ingest'] as string;
  redis = new Redis(stack.redisUrl);
  history = new RedisHistoryStore(redis);
  outbox = new RedisOutbox(redis);
  s3 = s3ClientFor(stack);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  management = await accounts.createKey(MANAGEMENT);
  member = await accounts.createKey(MEMBER);
  disabled = await accounts.createKey(MANAGEMENT);
  await accounts.setKeyStatus(disabled.accessKeyId, 'Inactive');
  await accounts.addMember(MANAGEMENT, MEMBER);
  await createTrail({ name: 'all-events', accountId: MANAGEMENT, eventRW: 'All' });
  await createTrail({ name: 'write-only', accountId: MANAGEMENT, eventRW: 'Write' });
  await createTrail({ name: 'read-only', accountId: MANAGEMENT, eventRW: 'Read' });
  await createTrail({ name: 'shanghai-only', accountId: MANAGEMENT, eventRW: 'All', trailRegion: 'cn-shanghai' });
  await createTrail({ name: 'org-trail', accountId: MANAGEMENT, eventRW: 'All', isOrganizationTrail: true });
  await createTrail({ name: 'stopped-trail', accountId: MANAGEMENT, eventRW: 'All', status: 'Disable', stopLoggingTimeMs: Date.now() - 60_000 });
  await createTrail({ name: 'fresh-trail', accountId: MANAGEMENT, eventRW: 'All', status: 'Fresh', startLoggingTimeMs: undefined });
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('ingest → classify → history', () => {
  it('accepts a signed batch; each event reaches history, classified', async () => {
    const stop = fixture('ecs-stopinstance-legacy-resources');
    const decrypt = fixture('kms-decrypt-after-reclass');
    const { status, body } = await ingest([stop, decrypt]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });
    const stored = await waitForHistory(MANAGEMENT, stop['eventId'] as string);
    expect(stored).toMatchObject({ eventName: 'StopInstance', eventRW: 'Write', eventType: 'ApiCall' });
    // Both resource forms are kept in history.
    expect(Object.keys(stored['referencedResources'] as Json).sort()).toEqual(['ACS::ECS::Instance', 'Instance']);
    // KMS Decrypt is a read after its reclassification, and read events carry no resources.
    expect(await waitForHistory(MANAGEMENT, decrypt['eventId'] as string)).toMatchObject({ eventRW: 'Read', referencedResources: {} });
  });

  it('accepts gzip bodies and NDJSON', async () => {
    const a = fixture('ram-createaccesskey');
    const b = fixture('sts-assumerole');
    expect((await ingest([a], management, { gzip: true })).body).toMatchObject({ accepted: 1 });
    expect((await ingest(`${JSON.stringify(b)}\n${JSON.stringify({ ...b, eventId: `${b['eventId'] as string}-2` })}\n`)).body).toMatchObject({ accepted: 2 });
    await waitForHistory(MANAGEMENT, a['eventId'] as string);
    await waitForHistory(MANAGEMENT, b['eventId'] as string);
  });

  it('drops OSS GetBucket and never shows it', async () => {
    const getBucket = fixture('oss-getbucket');
    const marker = fixture('ecs-describeinstances-read');
    expect((await ingest([getBucket, marker])).body).toMatchObject({ accepted: 2 });
    await waitForHistory(MANAGEMENT, marker['eventId'] as string);
    expect(await inHistory(MANAGEMENT, getBucket['eventId'] as string)).toBeUndefined();
  });

  it('a replayed batch yields duplicates and never double counts', async () => {
    const events = [fixture('ecs-service-event'), fixture('console-signin-root')];
    expect((await ingest(events)).body).toMatchObject({ accepted: 2, duplicates: 0 });
    expect((await ingest(events)).body).toMatchObject({ accepted: 0, duplicates: 2 });
    await waitForHistory(MANAGEMENT, events[1]?.['eventId'] as string);
    expect((await ingest(events)).body).toMatchObject({ accepted: 0, duplicates: 2 });
    const queue = new RedisSummaryQueue(redis);
    // classify queues summary rows just after the history write: wait for them, then count
    const rows = await waitUntil(async () => {
      const found = (await redis.hmget(`{tk:${MANAGEMENT}}:sumq`, ...events.map((e) => e['eventId'] as string))).filter(Boolean);
      return found.length >= 2 ? found : undefined;
    }, 10_000, 'summary rows');
    expect(rows).toHaveLength(2);
    expect(await queue.size(MANAGEMENT)).toBeGreaterThanOrEqual(2);
  });

  it('gives an event without eventId a content-derived id, so its replay is a duplicate', async () => {
    const { eventId: _drop, ...anonymous } = fixture('green-textscan');
    expect((await ingest([anonymous])).body).toMatchObject({ accepted: 1 });
    expect((await ingest([anonymous])).body).toMatchObject({ accepted: 0, duplicates: 1 });
  });
});

describe('bad input: a clear error, nothing valid lost', () => {
  it('invalid JSON → 400 InvalidJSON', async () => {
    const { status, body } = await ingest('[{"eventId": "x",');
    expect(status).toBe(400);
    expect(body).toMatchObject({ Code: 'InvalidJSON', Message: expect.stringContaining('not valid JSON') });
  });

  it('wrong types, missing accountId and a foreign account are rejected per record; the valid record is kept', async () => {
    const valid = fixture('ecs-stopinstance-both-resources');
    const wrongType = fixture('ecs-stopinstance-both-resources', { eventRW: 42 });
    const badTime = fixture('ecs-stopinstance-both-resources', { eventTime: '2026-02-30T10:00:00+08:00' });
    const noAccount = fixture('ecs-stopinstance-both-resources');
    noAccount['userIdentity'] = { type: 'ram-user', userName: 'bob' };
    const foreign = fixture('member-ecs-startinstance');
    const { status, body } = await ingest([wrongType, valid, noAccount, foreign, badTime, 'not an object']);
    expect(status).toBe(200);
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([
      expect.objectContaining({ index: 0, eventId: wrongType['eventId'], code: 'InvalidField', field: 'eventRW' }),
      expect.objectContaining({ index: 2, code: 'MissingField', field: 'userIdentity.accountId' }),
      expect.objectContaining({ index: 3, code: 'ForeignAccount', field: 'userIdentity.accountId' }),
      expect.objectContaining({ index: 4, code: 'InvalidField', field: 'eventTime' }),
      expect.objectContaining({ index: 5, code: 'InvalidRecord' }),
    ]);
    await waitForHistory(MANAGEMENT, valid['eventId'] as string);
  });

  it('oversize body → 413; too many events → 413 TooManyEvents', async () => {
    const big = JSON.stringify([fixture('ecs-stopinstance-both-resources', { requestParameters: { blob: 'x'.repeat(5 * 1024 * 1024) } })]);
    const tooBig = await ingest(big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({ Code: 'PayloadTooLarge' });
    const many = Array.from({ length: INGEST_MAX_EVENTS + 1 }, () => fixture('ecs-describeinstances-read'));
    const tooMany = await ingest(many);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body).toMatchObject({ Code: 'TooManyEvents', Message: expect.stringContaining(String(INGEST_MAX_EVENTS)) });
    for (const event of many.slice(0, 3)) expect(await inHistory(MANAGEMENT, event['eventId'] as string)).toBeUndefined();
  });

  it('unsigned → 401; badly signed → 403 with the Alibaba Cloud code', async () => {
    const body = JSON.stringify([fixture('ecs-stopinstance-both-resources')]);
    const unsigned = await fetch(`${ingestUrl}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ Code: 'IncompleteSignature', RequestId: expect.any(String) });

    const signed = (overrides: { secret?: string; keyId?: string; date?: string; nonce?: string } = {}, sentBody = body) => {
      const url = new URL('/events', ingestUrl);
      const headers = signAcs3Request({
        method: 'POST',
        path: '/events',
        headers: { host: url.host, 'content-type': 'application/json' },
        body,
        accessKeyId: overrides.keyId ?? management.accessKeyId,
        accessKeySecret: overrides.secret ?? management.accessKeySecret,
        ...(overrides.date ? { date: overrides.date } : {}),
        ...(overrides.nonce ? { nonce: overrides.nonce } : {}),
      });
      delete headers['host'];
      return fetch(url, { method: 'POST', headers, body: sentBody });
    };
    const codeOf = async (res: Response) => ({ status: res.status, code: ((await res.json()) as Json)['Code'] });
    expect(await codeOf(await signed({}, body.replace('StopInstance', 'StartInstance')))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(await codeOf(await signed({ secret: 'wrong-secret-wrong-secret' }))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    const old = new Date(Date.now() - 16 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(await codeOf(await signed({ date: old }))).toEqual({ status: 403, code: 'InvalidTimeStamp.Expired' });
    expect(await codeOf(await signed({ keyId: 'LTAI5tNoSuchKey000000000' }))).toEqual({ status: 403, code: 'InvalidAccessKeyId.NotFound' });
    expect(await codeOf(await signed({ keyId: disabled.accessKeyId, secret: disabled.accessKeySecret }))).toEqual({ status: 403, code: 'InvalidAccessKeyId.Inactive' });
    const nonce = randomUUID().replace(/-/g, '');
    expect((await signed({ nonce })).status).toBe(200);
    expect(await codeOf(await signed({ nonce }))).toEqual({ status: 403, code: 'SignatureNonceUsed' });
  });
});

describe('trail routing', () => {
  it('Write-only, Read-only, one-region, organization and stopped trails each get exactly their events', async () => {
    const write = fixture('ecs-stopinstance-both-resources', { acsRegion: 'cn-hangzhou' });
    const read = fixture('ecs-describeinstances-read', { acsRegion: 'cn-shanghai' });
    const memberEvent = fixture('member-ecs-startinstance');
    expect((await ingest([write, read])).body).toMatchObject({ accepted: 2 });
    expect((await ingest([memberEvent], member)).body).toMatchObject({ accepted: 1 });
    const id = (e: Json) => e['eventId'] as string;
    await waitUntil(async () => (await outboxIds(MANAGEMENT, 'org-trail')).includes(id(memberEvent)), 10_000, 'member event in org trail');
    const has = async (trail: string, e: Json) => (await outboxIds(MANAGEMENT, trail)).includes(id(e));
    // classify appends to one trail's outbox after another: wait for each trail that gets an event
    for (const [trail, e] of [['all-events', read], ['write-only', write], ['read-only', read], ['shanghai-only', read], ['org-trail', write]] as const) {
      await waitUntil(() => has(trail, e), 10_000, `${trail} routed`);
    }
    expect([await has('all-events', write), await has('all-events', read), await has('all-events', memberEvent)]).toEqual([true, true, false]);
    expect([await has('write-only', write), await has('write-only', read)]).toEqual([true, false]);
    expect([await has('read-only', write), await has('read-only', read)]).toEqual([false, true]);
    expect([await has('shanghai-only', write), await has('shanghai-only', read)]).toEqual([false, true]);
    expect([await has('org-trail', write), await has('org-trail', memberEvent)]).toEqual([true, true]);
    expect(await outboxIds(MANAGEMENT, 'stopped-trail')).toEqual([]);
    expect(await outboxIds(MANAGEMENT, 'fresh-trail')).toEqual([]);
    // The member's event is in the member's history, not the management account's.
    expect(await inHistory(MEMBER, id(memberEvent))).toBeDefined();
    expect(await inHistory(MANAGEMENT, id(memberEvent))).toBeUndefined();
  });

  it('a trail created before 2020-12-01 receives both resource forms, a newer one only ACS::', async () => {
    const createdOld = Date.parse('2020-11-30T15:59:59Z');
    await createTrail({ name: 'legacy-trail', accountId: OTHER, eventRW: 'All', createdAtMs: createdOld, startLoggingTimeMs: createdOld });
    await createTrail({ name: 'modern-trail', accountId: OTHER, eventRW: 'All' });
    const otherKey = await new RedisAccountStore(redis, stack.secrets).createKey(OTHER);
    const event = fixture('ecs-stopinstance-legacy-resources', { userIdentity: { type: 'root-account', principalId: OTHER, accountId: OTHER } });
    expect((await ingest([event], otherKey)).body).toMatchObject({ accepted: 1 });
    const entry = async (trail: string) =>
      waitUntil(async () => (await outbox.peek(OTHER, trail, 'oss', 100)).find((e) => e.eventId === event['eventId']), 10_000, trail);
    expect(Object.keys((JSON.parse((await entry('legacy-trail')).json) as Json)['referencedResources'] as Json).sort()).toEqual(['ACS::ECS::Instance', 'Instance']);
    expect(Object.keys((JSON.parse((await entry('modern-trail')).json) as Json)['referencedResources'] as Json)).toEqual(['ACS::ECS::Instance']);
  });
});

describe('classify is idempotent', () => {
  it('the same staging object classified twice changes nothing', async () => {
    const event = fixture('slb-api-create');
    expect((await ingest([event])).body).toMatchObject({ accepted: 1 });
    await waitForHistory(MANAGEMENT, event['eventId'] as string);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: STAGING, Prefix: 'inbox/' }));
    const objects = await Promise.all(
      (listed.Contents ?? []).map(async (o) => ({ key: o.Key as string, eTag: (o.ETag ?? '').replace(/"/g, ''), text: await readText(STAGING, o.Key as string).catch(() => '') })),
    );
    const staged = objects.find((o) => o.key.endsWith('.json.gz'));
    expect(staged).toBeDefined();
    const before = { all: await outbox.size(MANAGEMENT, 'all-events', 'oss'), queue: await new RedisSummaryQueue(redis).size(MANAGEMENT) };
    const ossEvent = JSON.parse(readFileSync(path.join(repoRoot, 'events', 'oss-inbox.json'), 'utf8')) as { events: { oss: { bucket: { name: string }; object: { key: string; eTag: string } } }[] };
    const record = ossEvent.events[0];
    if (!record || !staged) throw new Error('fixture');
    record.oss.bucket.name = STAGING;
    record.oss.object.key = staged.key;
    record.oss.object.eTag = staged.eTag;
    const result = await stack.emulator.invoke('classify', JSON.stringify(ossEvent));
    expect(result.ok).toBe(true);
    expect({ all: await outbox.size(MANAGEMENT, 'all-events', 'oss'), queue: await new RedisSummaryQueue(redis).size(MANAGEMENT) }).toEqual(before);
  });
});

describe('backfill', () => {
  async function dropBackfill(key: string, body: string | Buffer) {
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));
    const text = await waitUntil(() => readText(STAGING, `${key}.result.json`).catch(() => undefined), 15_000, `result of ${key}`);
    return JSON.parse(text) as Json & { outcome: Json; rejected: Json[] };
  }

  it('absorbs an ActionTrail archive .gz file, keeps old events out of history but routes them to archives', async () => {
    const old = JSON.parse(readFileSync(path.join(FIXTURES, 'slb-console-create.json'), 'utf8')) as Json;
    const recent = fixture('ecs-stopinstance-both-resources');
    const key = 'backfill/AliyunLogs/Actiontrail/cn-hangzhou/2020/11/02/Actiontrail_cn-hangzhou_20201102094011_1002_2_1_x.gz';
    const result = await dropBackfill(key, gzipSync(JSON.stringify([old, recent])));
    expect(result).toMatchObject({ records: 2, accepted: 2, rejected: [] });
    expect(result.outcome).toMatchObject({ kept: 2, historyAdded: 1, beyondHistory: 1 });
    expect(await inHistory(MANAGEMENT, recent['eventId'] as string)).toBeDefined();
    expect(await inHistory(MANAGEMENT, old['eventId'] as string)).toBeUndefined();
    expect(await outboxIds(MANAGEMENT, 'all-events')).toContain(old['eventId']);
    expect(await outboxIds(MANAGEMENT, 'write-only')).toContain(old['eventId']);
  });

  it('reads {"Records":[…]} and NDJSON files and reports rejected records with reasons', async () => {
    const a = fixture('console-signout-root');
    const records = await dropBackfill('backfill/records.json', JSON.stringify({ Records: [a, { eventName: 'NoTime' }] }));
    expect(records).toMatchObject({ records: 2, accepted: 1 });
    expect(records.rejected).toEqual([expect.objectContaining({ index: 1, code: 'MissingField' })]);
    const b = fixture('console-signin-ramuser');
    const ndjson = await dropBackfill('backfill/events.ndjson', `${JSON.stringify(b)}\nnot json\n`);
    expect(ndjson).toMatchObject({ records: 2, accepted: 1 });
    expect(ndjson.rejected).toEqual([expect.objectContaining({ index: 1, code: 'InvalidJSON' })]);
    await waitForHistory(MANAGEMENT, b['eventId'] as string);
  });

  it('processes the same file (same ETag) once', async () => {
    const event = fixture('ecs-stopinstance-both-resources');
    const body = JSON.stringify([event]);
    const first = await dropBackfill('backfill/once.json', body);
    const size = await outbox.size(MANAGEMENT, 'all-events', 'oss');
    await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: 'backfill/once.json', Body: body }));
    await new Promise((r) => setTimeout(r, 1_000));
    const again = JSON.parse(await readText(STAGING, 'backfill/once.json.result.json')) as Json;
    expect(again['processedAt']).toBe(first['processedAt']);
    expect(await outbox.size(MANAGEMENT, 'all-events', 'oss')).toBe(size);
  });
});
