/**
 * Tenancy of archive buckets through lookup-http (issue 11 item 6, docs/design.md §3.5): one
 * account's trail cannot deliver into another account's bucket and prefix, while the accounts
 * of a resource directory still share the bucket their organization trail delivers to.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisBucketClaims } from '../../adapters/redis/trail-store.ts';
import { internalAuth, productProject, s3ClientFor, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '1234567890123456';
const C = '3234567890123456';
const MANAGEMENT = '5234567890123456';
const MEMBER = '6234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const ORG_BUCKET = 'trailkeeper-org';
const A_PREFIX = 'team-a-logs';

let stack: TestStack;
let redis: Redis;
let s3: S3Client;
const keys = new Map<string, Credentials>();

async function call(account: string, params: Record<string, string>) {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, keys.get(account) as Credentials, params, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function event(account: string): Record<string, unknown> {
  return {
    eventId: `tenancy-${randomUUID()}`,
    eventVersion: 1,
    // not before the trails' StartLogging (whole seconds, rounded up), so routing delivers it
    eventTime: new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventType: 'ApiCall',
    eventName: 'StopInstance',
    eventSource: 'ecs.aliyuncs.com',
    eventRW: 'Write',
    serviceName: 'Ecs',
    acsRegion: 'cn-hangzhou',
    sourceIpAddress: '203.0.113.7',
    requestId: randomUUID(),
    userIdentity: { type: 'root-account', accountId: account, principalId: account, accessKeyId: keys.get(account)?.accessKeyId },
  };
}

async function ingest(account: string, events: Record<string, unknown>[]): Promise<void> {
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, keys.get(account) as Credentials, JSON.stringify(events));
  expect(res.status).toBe(200);
}

async function archivedIds(bucket: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const ids: string[] = [];
  for (const o of listed.Contents ?? []) {
    if (!o.Key?.endsWith('.gz')) continue;
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
    const bytes = Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    ids.push(...(JSON.parse(gunzipSync(bytes).toString('utf8')) as { eventId: string }[]).map((e) => e.eventId));
  }
  return ids;
}

async function flushArchives(): Promise<void> {
  const requestId = await stack.emulator.fireTimer('deliver-oss', 'flush');
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 45_000, 'deliver-oss flush');
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE, ORG_BUCKET, 'trailkeeper-c-own'] });
  redis = new Redis(stack.redisUrl);
  s3 = s3ClientFor(stack);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  for (const account of [A, C, MANAGEMENT, MEMBER]) keys.set(account, await accounts.createKey(account));
  await accounts.addMember(MANAGEMENT, MEMBER);
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('bucket tenancy through lookup-http', () => {
  it("refuses C's trail on A's bucket and prefix, and nothing of C's lands in A's folder", async () => {
    expect((await call(A, { Action: 'CreateTrail', Name: 'a-trail', OssBucketName: ARCHIVE, OssKeyPrefix: A_PREFIX, EventRW: 'All' })).status).toBe(200);
    expect((await call(A, { Action: 'StartLogging', Name: 'a-trail' })).status).toBe(200);

    const refused = await call(C, { Action: 'CreateTrail', Name: 'a-trail', OssBucketName: ARCHIVE, OssKeyPrefix: A_PREFIX, EventRW: 'All' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ Code: 'InsufficientBucketPolicyException' });
    expect(JSON.stringify(refused.body)).not.toContain(A);
    expect((await call(C, { Action: 'CreateTrail', Name: 'c-elsewhere', OssBucketName: ARCHIVE, OssKeyPrefix: 'c-own-logs' })).body).toMatchObject({
      Code: 'InsufficientBucketPolicyException',
    });
    // C's own bucket works; moving that trail onto A's bucket does not.
    expect((await call(C, { Action: 'CreateTrail', Name: 'c-trail', OssBucketName: 'trailkeeper-c-own', EventRW: 'All' })).status).toBe(200);
    expect((await call(C, { Action: 'StartLogging', Name: 'c-trail' })).status).toBe(200);
    const moved = await call(C, { Action: 'UpdateTrail', Name: 'c-trail', OssBucketName: ARCHIVE, OssKeyPrefix: A_PREFIX });
    expect(moved).toMatchObject({ status: 403, body: { Code: 'InsufficientBucketPolicyException' } });
    expect((await call(C, { Action: 'DescribeTrails' })).body['TrailList']).toEqual([expect.objectContaining({ Name: 'c-trail', OssBucketName: 'trailkeeper-c-own' })]);

    const ofA = event(A);
    const ofC = event(C);
    await ingest(A, [ofA]);
    await ingest(C, [ofC]);
    await waitUntil(async () => {
      await flushArchives();
      const inA = await archivedIds(ARCHIVE, `${A_PREFIX}/`);
      const inC = await archivedIds('trailkeeper-c-own', '');
      return inA.includes(ofA['eventId'] as string) && inC.includes(ofC['eventId'] as string) ? true : undefined;
    }, 90_000, 'both archives');
    const inA = await archivedIds(ARCHIVE, `${A_PREFIX}/`);
    expect(inA).toContain(ofA['eventId']);
    expect(inA).not.toContain(ofC['eventId']);
  }, 150_000);

  it("frees A's bucket when A's last trail on it is deleted", async () => {
    expect(await new RedisBucketClaims(redis).holders(ARCHIVE)).toEqual([A]);
    expect((await call(A, { Action: 'DeleteTrail', Name: 'a-trail' })).status).toBe(200);
    expect(await new RedisBucketClaims(redis).holders(ARCHIVE)).toEqual([]);
    expect((await call(C, { Action: 'CreateTrail', Name: 'c-archive', OssBucketName: ARCHIVE, OssKeyPrefix: 'c-archive-logs' })).status).toBe(200);
  });

  it('lets the accounts of an organization share the bucket of its organization trail, with same-named trails on their own prefixes', async () => {
    expect((await call(MANAGEMENT, { Action: 'CreateTrail', Name: 'org-trail', OssBucketName: ORG_BUCKET, IsOrganizationTrail: 'true' })).status).toBe(200);
    expect((await call(MANAGEMENT, { Action: 'CreateTrail', Name: 'same-name', OssBucketName: ORG_BUCKET, OssKeyPrefix: 'management-logs' })).status).toBe(200);
    expect((await call(MEMBER, { Action: 'CreateTrail', Name: 'same-name', OssBucketName: ORG_BUCKET, OssKeyPrefix: 'member-logs' })).status).toBe(200);
    // …but not the same prefix folder, and not an outsider.
    expect((await call(MEMBER, { Action: 'CreateTrail', Name: 'member-two', OssBucketName: ORG_BUCKET, OssKeyPrefix: 'management-logs' })).body).toMatchObject({
      Code: 'InsufficientBucketPolicyException',
    });
    expect((await call(A, { Action: 'CreateTrail', Name: 'outsider', OssBucketName: ORG_BUCKET, OssKeyPrefix: 'outsider-logs' })).status).toBe(403);
    expect(await new RedisBucketClaims(redis).holders(ORG_BUCKET)).toEqual([MANAGEMENT, MEMBER]);
  });
});
