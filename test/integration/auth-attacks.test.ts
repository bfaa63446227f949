/**
 * Issue 11 items 2, 3 and 8, replayed through the emulator (product s.yaml, real Redis, real S3
 * server): each attack is refused with its status, code and the field named, and a legitimate
 * request right after still succeeds.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { signAcs3Request } from '../../shared/auth/acs3-signature.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '1234567890123456';
const VERSION = '2020-07-06';
let stack: TestStack;
let redis: Redis;
let history: RedisHistoryStore;
let key: Credentials;
let ingestUrl: string;
let lookupUrl: string;

type Answer = { status: number; body: Record<string, unknown> };

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function freshEvent(marker: string): Record<string, unknown> {
  return { ...(sampleEvent(A, 0, new Date(Date.now() - 60_000)) as Record<string, unknown>), eventId: `${marker}-${randomUUID()}`, eventName: marker };
}

/** RPC-signed parameters, as a captured lookup call carries them. */
function rpcSigned(params: Record<string, string>, method: 'GET' | 'POST' = 'GET', nonce?: string): Record<string, string> {
  return signRpcRequest({ method, params: { Version: VERSION, ...params }, ...key, ...(nonce === undefined ? {} : { nonce }) });
}

const queryOf = (params: Record<string, string>): string => new URLSearchParams(params).toString().replace(/\+/g, '%20');

async function callerIdentityWorks(): Promise<void> {
  const res = await answer(await callRpc(lookupUrl, key, { Action: 'GetCallerIdentity' }));
  expect(res).toMatchObject({ status: 200, body: { AccountId: A, AccessKeyId: key.accessKeyId } });
}

async function nonceKeys(): Promise<string[]> {
  return (await redis.keys(`{tk:nonce:${key.accessKeyId}}:*`)).sort();
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  redis = new Redis(stack.redisUrl);
  history = new RedisHistoryStore(redis);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(A);
  ingestUrl = stack.emulator.httpUrls['ingest'] as string;
  lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('item 2: ingest requires a signature that covers the body', () => {
  it('a captured signed DescribeTrails query replayed as POST /events with any body is refused 401, and its events never enter history', async () => {
    const captured = rpcSigned({ Action: 'DescribeTrails' }, 'POST');
    const forged = freshEvent('ReplayedQuery');
    const res = await answer(await fetch(`${ingestUrl}/events?${queryOf(captured)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([forged]) }));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ Code: 'IncompleteSignature', Field: 'authorization', Message: expect.stringContaining('x-acs-content-sha256') });

    const legit = freshEvent('LegitAfterReplay');
    const ok = await answer(await postEvents(ingestUrl, key, JSON.stringify([legit])));
    expect(ok).toMatchObject({ status: 200, body: { accepted: 1 } });
    await waitUntil(async () => (await history.has(A, [String(legit['eventId'])]))[0], 15_000, 'the legitimate event in history');
    expect((await history.has(A, [String(forged['eventId'])]))[0]).toBe(false);
  });

  it('ACS3 that does not cover this body, path or method is refused 403 with the field named', async () => {
    const body = JSON.stringify([freshEvent('BadAcs3')]);
    const url = new URL('/events', ingestUrl);
    const sign = (over: { path?: string; method?: string; signedBody?: string | Buffer; dropHashFromSigned?: boolean } = {}) => {
      const headers = signAcs3Request({ method: over.method ?? 'POST', path: over.path ?? '/events', headers: { host: url.host, 'content-type': 'application/json' }, body: over.signedBody ?? body, ...key });
      delete headers['host'];
      if (over.dropHashFromSigned) headers['authorization'] = (headers['authorization'] ?? '').replace(';x-acs-content-sha256', '');
      return headers;
    };
    const post = async (headers: Record<string, string>, sent: string | Buffer = body) => answer(await fetch(url, { method: 'POST', headers, body: sent }));

    expect(await post(sign({ signedBody: '[]' }))).toMatchObject({ status: 403, body: { Code: 'SignatureDoesNotMatch', Field: 'x-acs-content-sha256' } });
    expect(await post(sign({ path: '/other' }))).toMatchObject({ status: 403, body: { Code: 'SignatureDoesNotMatch', Field: 'authorization' } });
    expect(await post(sign({ method: 'PUT' }))).toMatchObject({ status: 403, body: { Code: 'SignatureDoesNotMatch' } });
    expect(await post(sign({ dropHashFromSigned: true }))).toMatchObject({ status: 403, body: { Code: 'IncompleteSignature', Field: 'x-acs-content-sha256' } });
    // gzip: the hash is the raw (compressed) body's; a hash of the inflated text does not pass
    const gz = gzipSync(body);
    const inflatedHash = { ...sign({ signedBody: body }), 'content-encoding': 'gzip' };
    expect((await post(inflatedHash, gz)).status).toBe(403);

    expect(await answer(await postEvents(ingestUrl, key, gz, { gzip: true }))).toMatchObject({ status: 200, body: { accepted: 1 } });
  });
});

describe('bodies that are not valid UTF-8', () => {
  it('a correctly signed body with invalid UTF-8 is refused 400 InvalidBody naming the body, not as a bad signature, and nothing is stored', async () => {
    const event = freshEvent('BadUtf8');
    const bytes = Buffer.from(JSON.stringify([event]).replace('BadUtf8', 'Bad\u0001Utf8'), 'utf8');
    // Replace the marker byte by a lone 0xFF: not UTF-8 anywhere.
    const at = bytes.indexOf(0x01);
    expect(at).toBeGreaterThan(0);
    bytes[at] = 0xff;
    for (const gzip of [false, true]) {
      const res = await answer(await postEvents(ingestUrl, key, gzip ? gzipSync(bytes) : bytes, { gzip }));
      expect(res).toMatchObject({ status: 400, body: { Code: 'InvalidBody', Field: 'body', Message: expect.stringContaining('UTF-8') } });
    }
    expect(await history.has(A, [event['eventId'] as string])).toEqual([false]);
    await callerIdentityWorks();
  });
});

describe('item 3: lookup-http runs exactly what was signed', () => {
  it('a GetCallerIdentity signature with body Action=DescribeTrails under `application/x-www-form-urlencodedX` runs GetCallerIdentity', async () => {
    const signed = rpcSigned({ Action: 'GetCallerIdentity' }, 'POST');
    const res = await answer(
      await fetch(`${lookupUrl}/?${queryOf(signed)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencodedX' }, body: 'Action=DescribeTrails' }),
    );
    expect(res).toMatchObject({ status: 200, body: { AccountId: A } });
    expect(res.body).not.toHaveProperty('TrailList');
  });

  it('under the exact form type, a body parameter that repeats a query parameter is refused 400 InvalidParameter naming it', async () => {
    const signed = rpcSigned({ Action: 'GetCallerIdentity' }, 'POST');
    const res = await answer(
      await fetch(`${lookupUrl}/?${queryOf(signed)}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeTrails' }),
    );
    expect(res).toMatchObject({ status: 400, body: { Code: 'InvalidParameter', Field: 'Action', Message: expect.stringContaining('Action') } });
  });

  it('an unsigned x-acs-action header does not choose the action of an RPC-signed call', async () => {
    const signed = rpcSigned({});
    const res = await answer(await fetch(`${lookupUrl}/?${queryOf(signed)}`, { headers: { 'x-acs-action': 'DescribeTrails', 'x-acs-version': VERSION } }));
    expect(res).toMatchObject({ status: 400, body: { Code: 'MissingParameter', Field: 'Action' } });
  });

  it('ACS3 on lookup-http: a form body is covered by its hash', async () => {
    const url = new URL('/', lookupUrl);
    const sign = (signedBody: string) => {
      const headers = signAcs3Request({ method: 'POST', path: '/', query: { Version: VERSION }, headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' }, body: signedBody, ...key });
      delete headers['host'];
      return headers;
    };
    const swapped = await answer(await fetch(`${lookupUrl}/?Version=${VERSION}`, { method: 'POST', headers: sign('Action=GetCallerIdentity'), body: 'Action=DescribeTrails' }));
    expect(swapped).toMatchObject({ status: 400, body: { Code: 'SignatureDoesNotMatch', Field: 'x-acs-content-sha256' } });
    const honest = await answer(await fetch(`${lookupUrl}/?Version=${VERSION}`, { method: 'POST', headers: sign('Action=DescribeTrails'), body: 'Action=DescribeTrails' }));
    expect(honest).toMatchObject({ status: 200, body: { TrailList: expect.any(Array) } });
  });
});

describe('ACS3 with the action in signed headers alone', () => {
  it('GET / with no query runs the x-acs-action it signed, not the health answer', async () => {
    const url = new URL('/', lookupUrl);
    const headers = signAcs3Request({ method: 'GET', path: '/', query: {}, headers: { host: url.host, 'x-acs-action': 'GetCallerIdentity', 'x-acs-version': VERSION }, body: '', ...key });
    delete headers['host'];
    const res = await answer(await fetch(url, { headers }));
    expect(res).toMatchObject({ status: 200, body: { AccountId: A, AccessKeyId: key.accessKeyId } });
  });
});

describe('item 8: prototype names, nonce and body bounds', () => {
  it('Action=constructor, __proto__, toString, hasOwnProperty are unknown actions (404), not Object.prototype members', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await answer(await callRpc(lookupUrl, key, { Action: name, Marker: 'echo-me' }));
      expect(res, name).toMatchObject({ status: 404, body: { Code: 'InvalidAction.NotFound', Message: expect.stringContaining(name) } });
      expect(JSON.stringify(res.body)).not.toContain('echo-me');
    }
    await callerIdentityWorks();
  });

  it('parameters named after Object.prototype members reach the action as plain parameters', async () => {
    const res = await answer(await callRpc(lookupUrl, key, { Action: 'LookupEvents', constructor: 'x', toString: 'y', 'LookupAttribute.1.Key': 'toString', 'LookupAttribute.1.Value': 'v' }));
    expect(res).toMatchObject({ status: 400, body: { Code: 'InvalidQueryParameter', Field: 'LookupAttribute.1.Key' } });
  });

  it('a 200 KB SignatureNonce is refused and nothing is stored in Redis for it; an over-bound one that fits is refused 400 naming it', async () => {
    const before = await nonceKeys();
    const huge = 'n'.repeat(200 * 1024);
    const big = await answer(await fetch(lookupUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: queryOf(rpcSigned({ Action: 'GetCallerIdentity' }, 'POST', huge)) }));
    expect(big).toMatchObject({ status: 413, body: { Code: 'PayloadTooLarge' } });
    const long = 'n'.repeat(4096);
    const res = await answer(await fetch(lookupUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: queryOf(rpcSigned({ Action: 'GetCallerIdentity' }, 'POST', long)) }));
    expect(res).toMatchObject({ status: 400, body: { Code: 'InvalidParameter', Field: 'SignatureNonce', Message: expect.stringContaining('SignatureNonce') } });
    expect(await redis.exists(`{tk:nonce:${key.accessKeyId}}:${huge}`, `{tk:nonce:${key.accessKeyId}}:${long}`)).toBe(0);
    expect(await nonceKeys()).toEqual(before);

    const nonce = randomUUID();
    const ok = await answer(await fetch(lookupUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: queryOf(rpcSigned({ Action: 'GetCallerIdentity' }, 'POST', nonce)) }));
    expect(ok).toMatchObject({ status: 200, body: { AccountId: A } });
    expect(await redis.exists(`{tk:nonce:${key.accessKeyId}}:${nonce}`)).toBe(1);
  });

  it('a 10 MB unsigned body is refused 413 PayloadTooLarge on ingest and on lookup-http, and signed calls still work', async () => {
    const tenMb = 'x'.repeat(10 * 1024 * 1024);
    const ingest = await answer(await fetch(`${ingestUrl}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: tenMb }));
    expect(ingest).toMatchObject({ status: 413, body: { Code: 'PayloadTooLarge', Message: expect.stringContaining('body') } });
    const lookup = await answer(await fetch(lookupUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=${tenMb}` }));
    expect(lookup).toMatchObject({ status: 413, body: { Code: 'PayloadTooLarge' } });
    const unsignedSmall = await answer(await fetch(`${ingestUrl}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' }));
    expect(unsignedSmall).toMatchObject({ status: 401, body: { Code: 'IncompleteSignature' } });

    expect(await answer(await postEvents(ingestUrl, key, JSON.stringify([freshEvent('AfterBigBody')])))).toMatchObject({ status: 200, body: { accepted: 1 } });
    await callerIdentityWorks();
  });
});
