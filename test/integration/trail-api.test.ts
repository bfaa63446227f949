/**
 * The trail API through lookup-http (RPC, signed with the RPC signature v1, GET and form POST),
 * against a real Redis server and the real S3 server, through the emulator.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { productProject, startTestStack, type TestStack } from '../helpers/stack.ts';

const A = '1234567890123456';
const B = '5234567890123456';
let stack: TestStack;
let redis: Redis;
let keyA: Credentials;
let keyB: Credentials;
let lookupUrl: string;

async function call(credentials: Credentials, params: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const res = await callRpc(lookupUrl, credentials, params, { method });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('trail API', () => {
  it('creates a Fresh trail, starts and stops it, and reports its status', async () => {
    const created = await call(keyA, { Action: 'CreateTrail', Name: 'audit-trail', OssBucketName: 'trailkeeper-archive', EventRW: 'All' }, 'POST');
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ RequestId: expect.any(String), Name: 'audit-trail', OssBucketName: 'trailkeeper-archive', EventRW: 'All' });
    expect((await call(keyA, { Action: 'GetTrailStatus', Name: 'audit-trail' })).body).toMatchObject({ IsLogging: false });
    expect((await call(keyA, { Action: 'StartLogging', Name: 'audit-trail' })).status).toBe(200);
    const status = await call(keyA, { Action: 'GetTrailStatus', Name: 'audit-trail' });
    expect(status.body).toMatchObject({ IsLogging: true, StartLoggingTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    const described = await call(keyA, { Action: 'DescribeTrails' });
    expect(described.body['TrailList']).toEqual([expect.objectContaining({ Name: 'audit-trail', Status: 'Enable' })]);
    expect((await call(keyA, { Action: 'StopLogging', Name: 'audit-trail' })).status).toBe(200);
    expect((await call(keyA, { Action: 'DescribeTrails' })).body['TrailList']).toEqual([expect.objectContaining({ Status: 'Disable' })]);
  });

  it('refuses path-like names, missing buckets, duplicates and unknown trails with ActionTrail codes', async () => {
    for (const name of ['../escape', 'a/b/c/d/e', 'UPPERCASE', 'short']) {
      const res = await call(keyA, { Action: 'CreateTrail', Name: name, OssBucketName: 'trailkeeper-archive' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ Code: 'InvalidTrailNameException' });
    }
    expect((await call(keyA, { Action: 'CreateTrail', Name: 'nobucket-trail', OssBucketName: 'no-such-bucket' })).body).toMatchObject({ Code: 'BucketDoesNotExistException' });
    expect((await call(keyA, { Action: 'CreateTrail', Name: 'audit-trail', OssBucketName: 'trailkeeper-archive' })).body).toMatchObject({ Code: 'TrailAlreadyExistsException' });
    const missing = await call(keyA, { Action: 'StartLogging', Name: 'no-such-trail' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ Code: 'TrailNotFoundException' });
  });

  it("keeps accounts apart: B sees none of A's trails and cannot start them", async () => {
    expect((await call(keyB, { Action: 'DescribeTrails' })).body['TrailList']).toEqual([]);
    expect((await call(keyB, { Action: 'StartLogging', Name: 'audit-trail' })).body).toMatchObject({ Code: 'TrailNotFoundException' });
  });

  it('publishes the public key that verifies archive digests', async () => {
    const { status, body } = await call(keyA, { Action: 'GetDigestPublicKey' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ Algorithm: 'Ed25519', PublicKey: expect.stringContaining('BEGIN PUBLIC KEY'), Fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('refuses unsigned calls and unknown actions', async () => {
    const unsigned = await fetch(`${lookupUrl}/?Action=DescribeTrails&Version=2020-07-06`);
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ Code: 'IncompleteSignature' });
    const unknown = await call(keyA, { Action: 'NoSuchAction' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ Code: 'InvalidAction.NotFound' });
  });
});
