/**
 * The console's browser signer (functions/lookup-http/web/sign.ts) against the server's:
 * the same parameters give the same RPC v1 signature with WebCrypto and with the plain
 * TypeScript SHA-1 the console falls back to on plain-http LAN addresses (and the documented
 * Alibaba Cloud vector), and verify.ts accepts what it sends. Then the console's API client
 * (api.ts) on a computer whose clock is off: it learns the server's time from Date headers,
 * signs a refused request again once, and keeps the skew for every later call.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signRpc } from '../../shared/auth/rpc-signature.ts';
import { SignatureError, verifyRequest, type KeyLookup, type NonceStore } from '../../shared/auth/verify.ts';
import { ApiError, createApiClient, type ApiClientOptions, type Clock } from '../../functions/lookup-http/web/api.ts';
import { hmacSha1, sha1 } from '../../functions/lookup-http/web/sha1.ts';
import { chooseHmacSha1, queryString, randomNonce, signRpcParams, type HmacSha1 } from '../../functions/lookup-http/web/sign.ts';
import { RPC_DOC_PARAMS, RPC_DOC_SIGNATURE } from '../helpers/rpc-doc-vector.ts';

const credentials = { accessKeyId: 'LTAI5tConsoleKey01', accessKeySecret: 'c0nsole/Secret+with=odd&chars' };
const hmacs: [string, HmacSha1][] = [
  ['WebCrypto', chooseHmacSha1(globalThis.crypto.subtle)],
  ['plain TypeScript', chooseHmacSha1(undefined)],
];

describe('sha1 and hmacSha1 (no WebCrypto)', () => {
  it('equal node:crypto on every padding boundary and on long inputs', () => {
    for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 70_001]) {
      const data = randomBytes(length);
      expect(Buffer.from(sha1(data)).toString('hex'), `length ${length}`).toBe(createHash('sha1').update(data).digest('hex'));
    }
  });

  it('equal node:crypto for short, block-sized and long keys', () => {
    for (const keyLength of [0, 1, 20, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const message = randomBytes(77 + keyLength);
      expect(Buffer.from(hmacSha1(key, message)).toString('base64'), `key length ${keyLength}`).toBe(createHmac('sha1', key).update(message).digest('base64'));
    }
  });
});

describe('signRpcParams', () => {
  const params = {
    Action: 'LookupEvents',
    StartTime: '2026-11-22T09:00:00Z',
    EndTime: '2026-11-22T10:00:00Z',
    'LookupAttribute.1.Key': 'ResourceName',
    'LookupAttribute.1.Value': 'i-bp1 * ~+/ 名前',
    MaxResults: '20',
  };
  const now = new Date('2026-11-22T10:00:07.345Z');

  for (const [name, hmac] of hmacs) {
    it(`signs as the server does (${name})`, async () => {
      const signed = await signRpcParams(params, credentials, { hmac, nonce: '0123456789abcdef0123456789abcdef', now });
      expect(signed).toMatchObject({
        ...params,
        Version: '2020-07-06',
        Format: 'JSON',
        AccessKeyId: credentials.accessKeyId,
        SignatureMethod: 'HMAC-SHA1',
        SignatureVersion: '1.0',
        SignatureNonce: '0123456789abcdef0123456789abcdef',
        Timestamp: '2026-11-22T10:00:07Z',
      });
      const { Signature, ...unsigned } = signed;
      expect(Signature).toBe(signRpc('GET', unsigned, credentials.accessKeySecret));
    });
  }

  it('sends a query string the server parses back and verifies', async () => {
    const signed = await signRpcParams(params, credentials, { hmac: hmacs[1]![1], nonce: randomNonce((b) => globalThis.crypto.getRandomValues(b)), now: new Date() });
    const qs = queryString(signed);
    expect(qs).not.toContain('+');
    const query = Object.fromEntries(new URLSearchParams(qs));
    expect(query).toEqual(signed);
    const keys: KeyLookup = async (id) => (id === credentials.accessKeyId ? { accountId: '1234567890123456', accessKeySecret: credentials.accessKeySecret, enabled: true } : null);
    const nonces: NonceStore = { claim: async () => true };
    const verified = await verifyRequest({ method: 'GET', path: '/', query, headers: { host: '127.0.0.1:8711' }, body: Buffer.alloc(0) }, keys, nonces);
    expect(verified).toMatchObject({ accountId: '1234567890123456', scheme: 'rpc-v1' });
  });

  for (const [name, hmac] of hmacs) {
    it(`reproduces the documented Alibaba Cloud RPC v1 example, DescribeDedicatedHosts (${name})`, async () => {
      // "Request syntax and signature method V2 for RPC APIs", as in signature.test.ts.
      const signed = await signRpcParams(
        { Action: 'DescribeDedicatedHosts', RegionId: 'cn-beijing', Version: '2014-05-26' },
        { accessKeyId: 'testid', accessKeySecret: 'testsecret' },
        { hmac, nonce: 'edb2b34af0af9a6d14deaf7c1a5315eb', now: new Date('2023-03-13T08:34:30.123Z') },
      );
      expect(signed).toEqual({ ...RPC_DOC_PARAMS, Signature: RPC_DOC_SIGNATURE });
    });
  }

  it('makes 32-hex-digit nonces from getRandomValues (randomUUID needs a secure context)', () => {
    const nonce = randomNonce((b) => globalThis.crypto.getRandomValues(b));
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(randomNonce((b) => b.fill(255))).toBe('f'.repeat(32));
  });
});

describe('the API client and a clock that is off', () => {
  const MINUTE = 60_000;
  const ACCOUNT = '1234567890123456';
  const keys: KeyLookup = async (id) => (id === credentials.accessKeyId ? { accountId: ACCOUNT, accessKeySecret: credentials.accessKeySecret, enabled: true } : null);

  /**
   * lookup-http in miniature: verify.ts at the server's time, a Date header on every answer
   * (whole seconds, as HTTP has it), GetCallerIdentity and LookupEvents.
   */
  function fakeServer(serverNow: () => number) {
    const seen: { action: string; timestamp: string; status: number }[] = [];
    const used = new Set<string>();
    const nonces: NonceStore = { claim: async (_id, nonce) => !used.has(nonce) && Boolean(used.add(nonce)) };
    const fetch: ApiClientOptions['fetch'] = async (url) => {
      const query = Object.fromEntries(new URL(url).searchParams);
      const date = new Date(serverNow()).toUTCString();
      const answer = (status: number, body: unknown) => {
        seen.push({ action: query['Action'] ?? '', timestamp: query['Timestamp'] ?? '', status });
        return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', date } });
      };
      try {
        await verifyRequest({ method: 'GET', path: '/', query, headers: { host: '127.0.0.1:8711' }, body: Buffer.alloc(0) }, keys, nonces, new Date(serverNow()));
      } catch (error) {
        if (!(error instanceof SignatureError)) throw error;
        return answer(error.status, { RequestId: 'r-refused', Code: error.code, Message: error.message });
      }
      return answer(200, { RequestId: 'r-ok', AccountId: ACCOUNT, Events: [] });
    };
    return { fetch, seen };
  }

  function client(options: { fetch: ApiClientOptions['fetch']; now: () => number; clock?: Clock }) {
    return createApiClient({
      endpoint: 'http://127.0.0.1:8711/',
      credentials,
      hmac: hmacs[1]![1],
      randomBytes: (b) => globalThis.crypto.getRandomValues(b),
      ...options,
    });
  }

  const serverStart = Date.parse('2026-11-22T10:00:00.250Z');
  const ts = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

  it('signs a request refused for its timestamp again with the server time, and keeps the skew for later calls', async () => {
    // This computer is 40 minutes behind; each request takes 30 ms.
    let local = serverStart - 40 * MINUTE;
    const now = () => (local += 15);
    const server = fakeServer(() => local + 40 * MINUTE);
    const clock: Clock = { skewMs: 0 };
    const api = client({ fetch: server.fetch, now, clock });

    expect(await api.call('GetCallerIdentity')).toMatchObject({ AccountId: ACCOUNT });
    expect(server.seen.map((s) => s.status)).toEqual([400, 200]);
    expect(server.seen[0]).toMatchObject({ action: 'GetCallerIdentity', timestamp: ts(serverStart - 40 * MINUTE) });
    // The retry is signed at the server's time (Date headers are whole seconds: within 2 s).
    expect(Math.abs(Date.parse(server.seen[1]!.timestamp) - (local + 40 * MINUTE))).toBeLessThanOrEqual(2_000);
    expect(Math.abs(clock.skewMs - 40 * MINUTE)).toBeLessThanOrEqual(2_000);
    expect(Math.abs(api.now() - (local + 40 * MINUTE))).toBeLessThanOrEqual(2_000);

    // The next call is right the first time, and so is another client sharing the clock.
    await api.call('LookupEvents', { MaxResults: '20' });
    await client({ fetch: server.fetch, now, clock }).call('LookupEvents', { MaxResults: '20' });
    expect(server.seen.map((s) => s.status)).toEqual([400, 200, 200, 200]);
  });

  it('learns the skew from any answer, and does not chase the Date header within its precision', async () => {
    let local = serverStart;
    const now = () => local;
    let serverOffset = 5 * MINUTE; // within the 15 minutes the server allows: no refusal
    const server = fakeServer(() => local + serverOffset);
    const clock: Clock = { skewMs: 0 };
    const api = client({ fetch: server.fetch, now, clock });
    await api.call('GetCallerIdentity');
    expect(server.seen.map((s) => s.status)).toEqual([200]);
    expect(Math.abs(clock.skewMs - 5 * MINUTE)).toBeLessThanOrEqual(1_000);
    const learnt = clock.skewMs;
    local += 10_000;
    serverOffset += 700; // less than a Date header's resolution: noise, not a change
    await api.call('LookupEvents');
    expect(clock.skewMs).toBe(learnt);
  });

  it('retries once only: a second refusal is the error', async () => {
    let local = serverStart;
    const now = () => local;
    // A server whose clock runs away between the two attempts.
    const server = fakeServer(() => (local += 20 * MINUTE));
    const api = client({ fetch: server.fetch, now });
    const error = await api.call('GetCallerIdentity').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'InvalidTimeStamp.Expired', status: 400 });
    expect(server.seen.map((s) => s.status)).toEqual([400, 400]);
  });
});
