/**
 * Trails deliver: archive files (names, contents, per-trail selection, S3 outage), logstore
 * entries, re-delivery from the archive, and signed digests that catch tampering — against a
 * real Redis server and the real S3 server, through the emulator.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { S3ArchiveReader, putArchiveObject } from '../../adapters/archive/s3-archive.ts';
import { putJson } from '../../adapters/s3.ts';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { archiveDeliveryState } from '../../adapters/redis/archive-delivery.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisDeliveryStatus } from '../../adapters/redis/delivery-status.ts';
import { RedisLogstore } from '../../adapters/redis/logstore.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { parseArchiveFileKey } from '../../shared/archive/layout.ts';
import { verifyArchive } from '../../shared/archive/verify.ts';
import { deliverToArchives, type OssDeliveryPorts } from '../../shared/delivery/oss-delivery.ts';
import { trailSchema, type TrailInput } from '../../shared/trails/model.ts';
import { internalAuth, productProject, repoRoot, startTestStack, s3ClientFor, waitUntil, type TestStack } from '../helpers/stack.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const ACCOUNT = '1234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const FILE_NAME = /^AliyunLogs\/Actiontrail\/([a-z0-9-]+)\/(\d{4})\/(\d\d)\/(\d\d)\/Actiontrail_\1_(\d{14})_1002_(\d+)_(\d+)_([0-9a-f]{32})\.gz$/;

type Json = Record<string, unknown>;
let stack: TestStack;
let redis: Redis;
let s3: S3Client;
let key: Credentials;

function fixture(name: string, overrides: Json = {}): Json {
  const event = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Json;
  return { ...event, eventId: `${name}-${randomUUID()}`, eventTime: new Date(Date.now() - 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), ...overrides };
}

async function ingest(events: Json[]): Promise<void> {
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
}

async function createTrail(input: Partial<TrailInput> & { name: string }) {
  const now = Date.now();
  await new RedisTrailStore(redis).create(
    trailSchema.parse({ accountId: ACCOUNT, homeRegion: 'cn-hangzhou', status: 'Enable', createdAtMs: now, updatedAtMs: now, startLoggingTimeMs: now - 3_600_000, ...input }),
  );
}

async function bytesOf(bucket: string, objectKey: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
  return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** Every event id in the archive files under a prefix. */
async function archivedIds(bucket: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const ids: string[] = [];
  for (const o of listed.Contents ?? []) {
    if (!o.Key?.endsWith('.gz')) continue;
    const events = JSON.parse(gunzipSync(await bytesOf(bucket, o.Key)).toString('utf8')) as Json[];
    ids.push(...events.map((e) => e['eventId'] as string));
  }
  return ids;
}

async function flushArchives(): Promise<void> {
  const requestId = await stack.emulator.fireTimer('deliver-oss', 'flush');
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Retrying' || status.state === 'Failed' ? status.state : undefined;
  }, 15_000, 'deliver-oss flush');
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE, 'trail-w', 'trail-r'] });
  redis = new Redis(stack.redisUrl);
  s3 = s3ClientFor(stack);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
  await createTrail({ name: 'all-trail', eventRW: 'All', ossBucketName: ARCHIVE, slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper` });
  await createTrail({ name: 'write-trail', eventRW: 'Write', ossBucketName: 'trail-w' });
  await createTrail({ name: 'read-trail', eventRW: 'Read', ossBucketName: 'trail-r' });
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('archive files', () => {
  it('are named as ActionTrail names them, and the count, size and MD5 in the name are true', async () => {
    const events = [fixture('ecs-stopinstance-both-resources'), fixture('ecs-describeinstances-read'), fixture('ram-createaccesskey')];
    await ingest(events);
    await waitUntil(async () => (await new RedisOutbox(redis).size(ACCOUNT, 'all-trail', 'oss')) >= 3, 10_000, 'outbox');
    await flushArchives();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: ARCHIVE, Prefix: 'AliyunLogs/Actiontrail/' }));
    const files = (listed.Contents ?? []).map((o) => o.Key as string);
    expect(files.length).toBeGreaterThan(0);
    let total = 0;
    for (const file of files) {
      const match = FILE_NAME.exec(file);
      expect(match, file).not.toBeNull();
      const [, , , , , , count, size, md5] = match as RegExpExecArray;
      const body = await bytesOf(ARCHIVE, file);
      expect(body.length).toBe(Number(size));
      expect(createHash('md5').update(body).digest('hex')).toBe(md5);
      const content = JSON.parse(gunzipSync(body).toString('utf8')) as Json[];
      expect(content).toHaveLength(Number(count));
      total += content.length;
    }
    expect(total).toBe(3);
    expect(new Set(await archivedIds(ARCHIVE, 'AliyunLogs/Actiontrail/'))).toEqual(new Set(events.map((e) => e['eventId'])));
  });

  it('Write, Read and All trails each receive exactly their events', async () => {
    const write = fixture('slb-api-create');
    const read = fixture('ecs-describeinstances-read');
    await ingest([write, read]);
    const outbox = new RedisOutbox(redis);
    await waitUntil(async () => (await outbox.size(ACCOUNT, 'read-trail', 'oss')) >= 1 && (await outbox.size(ACCOUNT, 'write-trail', 'oss')) >= 1, 10_000, 'outboxes');
    await flushArchives();
    const w = await archivedIds('trail-w', 'AliyunLogs/');
    const r = await archivedIds('trail-r', 'AliyunLogs/');
    expect(w).toContain(write['eventId']);
    expect(w).not.toContain(read['eventId']);
    expect(r).toContain(read['eventId']);
    expect(r).not.toContain(write['eventId']);
    expect(await archivedIds(ARCHIVE, 'AliyunLogs/')).toEqual(expect.arrayContaining([write['eventId'], read['eventId']]));
  });

  it('GetTrailStatus shows the latest delivery time', async () => {
    const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, key, { Action: 'GetTrailStatus', Name: 'all-trail' });
    expect(await res.json()).toMatchObject({ IsLogging: true, LatestDeliveryTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
  });

  it('while the S3 server is away events wait in the outbox; when it returns each is delivered once', async () => {
    const events = [fixture('kms-decrypt-after-reclass'), fixture('sts-assumerole')];
    await ingest(events);
    await waitUntil(async () => (await new RedisOutbox(redis).size(ACCOUNT, 'all-trail', 'oss')) >= 2, 10_000, 'outbox');
    await stack.stopS3();
    await flushArchives();
    expect(await new RedisOutbox(redis).size(ACCOUNT, 'all-trail', 'oss')).toBe(2);
    const status = await new RedisDeliveryStatus(redis).get(ACCOUNT, 'all-trail');
    expect(status.latestDeliveryError).toBeTruthy();
    await stack.startS3Again();
    await flushArchives();
    await waitUntil(async () => (await new RedisOutbox(redis).size(ACCOUNT, 'all-trail', 'oss')) === 0, 15_000, 'outbox drained');
    const ids = await archivedIds(ARCHIVE, 'AliyunLogs/Actiontrail/');
    for (const e of events) expect(ids.filter((id) => id === e['eventId'])).toHaveLength(1);
    expect(ids.length).toBe(new Set(ids).size);
  });
});

describe('logstore', () => {
  it('receives each event within seconds, and a re-delivered range twice adds no duplicates', async () => {
    const event = fixture('console-signin-root');
    await ingest([event]);
    const logstore = new RedisLogstore(redis);
    const from = Math.floor(Date.now() / 1000) - 3600;
    const to = Math.floor(Date.now() / 1000) + 60;
    await waitUntil(async () => (await logstore.getLogs({ accountId: ACCOUNT, trailName: 'all-trail', from, to })).logs.some((l) => l.eventId === event['eventId']), 10_000, 'logstore entry');
    const before = (await logstore.getLogs({ accountId: ACCOUNT, trailName: 'all-trail', from, to })).count;
    await flushArchives();
    const request = { accountId: ACCOUNT, trailName: 'all-trail', from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() };
    for (const n of [1, 2]) {
      const objectKey = `redeliver/range-${n}.json`;
      await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: objectKey, Body: JSON.stringify(request) }));
      const result = JSON.parse(
        await waitUntil(async () => (await bytesOf(STAGING, `${objectKey}.result.json`).catch(() => undefined))?.toString('utf8'), 15_000, 'redelivery result'),
      ) as Json;
      expect(result).toMatchObject({ trailName: 'all-trail', written: 0 });
      expect(result['eventsInRange']).toBeGreaterThan(0);
    }
    expect((await logstore.getLogs({ accountId: ACCOUNT, trailName: 'all-trail', from, to })).count).toBe(before);
  });
});

describe('digests', () => {
  it('chain hourly digests that verify clean and expose deleted, edited and inserted files', async () => {
    // Drive the deliverer with a clock, against the real Redis and S3 servers.
    const bucket = 'trail-r';
    const trailName = 'digest-trail';
    await createTrail({ name: trailName, eventRW: 'All', ossBucketName: bucket, ossKeyPrefix: 'dig-prefix' });
    const outbox = new RedisOutbox(redis);
    const trail = await new RedisTrailStore(redis).get(ACCOUNT, trailName);
    if (!trail) throw new Error('trail');
    let clock = Date.parse('2026-11-20T10:15:00Z');
    const ports: OssDeliveryPorts = {
      trails: async () => [{ accountId: ACCOUNT, trailName }],
      getTrail: async () => trail,
      peek: (a, t, limit) => outbox.peekWithArrival(a, t, 'oss', limit),
      ack: (a, t, ids) => outbox.ack(a, t, 'oss', ids),
      ...archiveDeliveryState(redis),
      objects: {
        put: async (b, k, body, contentType) => {
          await putArchiveObject(s3, b, k, body, { contentType });
        },
        exists: async () => false,
      },
      signingKey: () => ensureSigningKey(redis, stack.secrets),
      status: new RedisDeliveryStatus(redis),
      rejected: { bucket: STAGING, writeJson: (b, k, document) => putJson(s3, b, k, document), log: { warn: () => undefined } },
      now: () => clock,
    };
    const deliverAt = async (iso: string, events: Json[]) => {
      clock = Date.parse(iso);
      await outbox.append(trail, events.map((e) => ({ eventId: e['eventId'] as string, eventTimeMs: clock, json: JSON.stringify(e) })));
      await deliverToArchives(ports, { force: true });
    };
    await deliverAt('2026-11-20T10:15:00Z', [fixture('ecs-stopinstance-both-resources'), fixture('slb-api-create')]);
    await deliverAt('2026-11-20T11:20:00Z', [fixture('ram-createaccesskey')]);
    await deliverAt('2026-11-20T13:05:00Z', [fixture('sts-assumerole')]);
    clock = Date.parse('2026-11-20T14:10:00Z');
    expect((await deliverToArchives(ports, { force: true })).digests).toBeGreaterThanOrEqual(1);

    const publicKeyPem = (await ensureSigningKey(redis, stack.secrets)).publicKeyPem;
    const verify = () =>
      verifyArchive({
        reader: new S3ArchiveReader(s3, bucket),
        trail: { name: trailName, accountId: ACCOUNT, ossKeyPrefix: 'dig-prefix', regions: ['cn-hangzhou'] },
        from: new Date('2026-11-20T10:00:00Z'),
        to: new Date('2026-11-20T14:00:00Z'),
        publicKeyPem,
        now: new Date(clock),
      });
    const clean = await verify();
    expect(clean.ok).toBe(true);
    expect(clean.digestsChecked).toBe(4);
    expect(clean.brokenChain).toEqual([]);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dig-prefix/AliyunLogs/Actiontrail/' }));
    const files = (listed.Contents ?? []).map((o) => o.Key as string).filter((k) => parseArchiveFileKey(k));
    expect(files.length).toBe(3);
    const [first, second, third] = files as [string, string, string];
    const original = await bytesOf(bucket, second);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: first }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: second, Body: Buffer.concat([original, Buffer.from('x')]) }));
    const inserted = third.replace(/_(\d{14})_/, (_m, stamp: string) => `_${String(Number(stamp) + 1)}_`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: inserted, Body: await bytesOf(bucket, third) }));
    const tampered = await verify();
    expect(tampered.ok).toBe(false);
    expect(tampered.deleted.map((d) => d.key)).toEqual([first]);
    expect(tampered.modified.map((d) => d.key)).toEqual([second]);
    expect(tampered.inserted.map((d) => d.key)).toEqual([inserted]);
  });
});
