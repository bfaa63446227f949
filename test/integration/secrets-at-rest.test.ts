/**
 * Secrets at rest (issue 11 item 10): AccessKey secrets, the digest signing private key and the
 * NextToken key are sealed in Redis with TK_SECRETS_KEY. On one redis-server and a three-master
 * cluster: no Redis value holds a plaintext secret, signatures, digests and tokens still work,
 * plain text written by an older release is sealed on first read, another key or a moved
 * ciphertext is refused with a clear message. Then the product itself, through the emulator: the
 * functions seal and open with the key the stack gives them.
 */
import { createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSigningKey, publicKey, SIGNING_KEY_KEY } from '../../adapters/archive/signing-key-store.ts';
import { callRpc, postEvents } from '../../adapters/client/signed-fetch.ts';
import { createRedisClient, mastersOf, type RedisClient } from '../../adapters/redis.ts';
import { RedisAccountStore, redisNonceStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { lookupTokenKey, TOKEN_KEY_KEY } from '../../adapters/redis/token-key.ts';
import { createDigestDocument, generateSigningKeyPair, signDigest, verifyDigestSignature, type SigningKeyPair } from '../../shared/archive/digest.ts';
import type { AccessKey } from '../../shared/accounts/accounts.ts';
import { signAcs3Request } from '../../shared/auth/acs3-signature.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';
import { verifyRequest, type SignedRequest } from '../../shared/auth/verify.ts';
import { isSealed, SecretBoxError, type SecretBoxFailure } from '../../shared/crypto/secret-box.ts';
import { issueToken, readToken, type TokenBinding } from '../../shared/lookup/next-token.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { flushAll, REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';
import { testSecretBox } from '../helpers/secrets.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const ACCOUNT = '1234567890123456';
const OTHER_ACCOUNT = '6234567890123456';
const AK_PREFIX = '{tk:auth}:ak:';
const BINDING: TokenBinding = { callerAccountId: ACCOUNT, accountIds: [ACCOUNT], startTime: undefined, endTime: undefined, direction: 'BACKWARD', conditions: [] };

/** Every key name and every value held, over every master, as bytes (strings, hashes, sets, sorted sets, lists, streams). */
async function everyStoredByte(client: RedisClient): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const node of await mastersOf(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scanBuffer(cursor, 'COUNT', 500);
      cursor = next.toString();
      for (const key of keys) {
        out.push(key);
        const type = await node.type(key);
        if (type === 'string') out.push((await node.getBuffer(key)) ?? Buffer.alloc(0));
        else if (type === 'hash') for (const [field, value] of Object.entries(await node.hgetallBuffer(key))) out.push(Buffer.from(field), value);
        else if (type === 'set') out.push(...(await node.smembersBuffer(key)));
        else if (type === 'zset') out.push(...(await node.zrangeBuffer(key, 0, -1)));
        else if (type === 'list') out.push(...(await node.lrangeBuffer(key, 0, -1)));
        else if (type === 'stream') for (const [id, fields] of await node.xrangeBuffer(key, '-', '+')) out.push(id, ...fields);
        else throw new Error(`a key of type ${type}: read it too`);
      }
    } while (cursor !== '0');
  }
  return out;
}

/** The byte strings that must never be stored: each secret raw, and as the text encodings it could be written in. */
function secretNeedles(secrets: { accessKeySecrets: string[]; signing?: SigningKeyPair; tokenKey?: Buffer }): Array<[string, Buffer]> {
  const needles: Array<[string, Buffer]> = secrets.accessKeySecrets.map((s, i) => [`accessKeySecret ${i}`, Buffer.from(s)]);
  if (secrets.signing) {
    const pem = secrets.signing.privateKeyPem;
    const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    needles.push(['private key PEM', Buffer.from(pem)], ['private key PEM body', Buffer.from(body)], ['private key DER', der], ['Ed25519 seed', der.subarray(der.length - 32)]);
  }
  if (secrets.tokenKey) {
    const key = secrets.tokenKey;
    needles.push(['token key', key], ['token key base64', Buffer.from(key.toString('base64'))], ['token key base64url', Buffer.from(key.toString('base64url'))], ['token key hex', Buffer.from(key.toString('hex'))]);
  }
  return needles;
}

function expectNoPlaintext(stored: Buffer[], needles: Array<[string, Buffer]>): void {
  expect(stored.length).toBeGreaterThan(0);
  for (const [name, needle] of needles) {
    if (stored.some((value) => value.includes(needle))) throw new Error(`${name} is stored in plain text`);
  }
}

async function failureOf(promise: Promise<unknown>, reason: SecretBoxFailure): Promise<SecretBoxError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SecretBoxError);
    expect((error as SecretBoxError).reason).toBe(reason);
    return error as SecretBoxError;
  }
  throw new Error(`expected a SecretBoxError (${reason})`);
}

function acs3Request(key: AccessKey): SignedRequest {
  const body = '[]';
  const headers = signAcs3Request({ method: 'POST', path: '/events', headers: { host: 'ingest.example', 'content-type': 'application/json' }, body, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
  return { method: 'POST', path: '/events', query: {}, headers, body: Buffer.from(body) };
}

function rpcRequest(key: AccessKey): SignedRequest {
  const query = signRpcRequest({ method: 'GET', params: { Action: 'LookupEvents', Version: '2020-07-06' }, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
  return { method: 'GET', path: '/', query, headers: { host: 'lookup.example' }, body: Buffer.alloc(0) };
}

const backends = useRedisBackends();

describe.each(REDIS_BACKENDS)('secrets at rest (%s)', (backendName) => {
  let redis: RedisClient;
  const secrets = testSecretBox();

  beforeAll(async () => {
    redis = backends.get(backendName).client();
    await flushAll(redis);
  });

  afterAll(() => redis?.disconnect());

  it('after a key pair, the digest key and the token key are created, no Redis value holds them in plain text; signatures still verify', async () => {
    const accounts = new RedisAccountStore(redis, secrets);
    const key = await accounts.createKey(ACCOUNT);
    const other = await accounts.createKey(OTHER_ACCOUNT);
    const signing = await ensureSigningKey(redis, secrets);
    const tokenKey = await lookupTokenKey(redis, secrets);
    // what the functions do with them, so every store of the flow has written
    await redisNonceStore(redis).claim(key.accessKeyId, 'warm-up-nonce', 60);

    const stored = await everyStoredByte(redis);
    expectNoPlaintext(stored, secretNeedles({ accessKeySecrets: [key.accessKeySecret, other.accessKeySecret], signing, tokenKey }));
    // sealed where they live; the rest of the key record stays readable
    const record = await redis.hgetall(`${AK_PREFIX}${key.accessKeyId}`);
    expect(isSealed(record['accessKeySecret'] ?? '')).toBe(true);
    expect(record).toMatchObject({ accessKeyId: key.accessKeyId, accountId: ACCOUNT, status: 'Active', createdAt: key.createdAt });
    expect(isSealed((await redis.hget(SIGNING_KEY_KEY, 'privateKeyPem')) ?? '')).toBe(true);
    expect(await redis.hget(SIGNING_KEY_KEY, 'publicKeyPem')).toBe(signing.publicKeyPem);
    expect(isSealed((await redis.get(TOKEN_KEY_KEY)) ?? '')).toBe(true);

    // a fresh client and store (another instance) opens the same secrets
    const fresh = backends.get(backendName).client();
    try {
      const store = new RedisAccountStore(fresh, secrets);
      expect(await store.getKey(key.accessKeyId)).toEqual(key);
      const verify = (request: SignedRequest) => verifyRequest(request, store.keyLookup(), redisNonceStore(fresh));
      await expect(verify(acs3Request(key))).resolves.toEqual({ accountId: ACCOUNT, accessKeyId: key.accessKeyId, scheme: 'acs3' });
      await expect(verify(rpcRequest(key))).resolves.toEqual({ accountId: ACCOUNT, accessKeyId: key.accessKeyId, scheme: 'rpc-v1' });
      await expect(verify(acs3Request(other))).resolves.toEqual({ accountId: OTHER_ACCOUNT, accessKeyId: other.accessKeyId, scheme: 'acs3' });
      await expect(verifyRequest(acs3Request({ ...key, accessKeySecret: `${key.accessKeySecret}x` }), store.keyLookup(), redisNonceStore(fresh))).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
      // digests signed with the opened private key verify with the served public key
      const reopened = await ensureSigningKey(fresh, secrets);
      expect(reopened).toEqual(signing);
      const doc = createDigestDocument({ trailName: 't', accountId: ACCOUNT, region: 'cn-hangzhou', hour: new Date(), files: [], previous: null, publicKeyFingerprint: reopened.fingerprint });
      expect(verifyDigestSignature(signDigest(doc, reopened.privateKeyPem), (await publicKey(fresh)) as string)).toBe(true);
      // a NextToken issued by one instance reads back on another
      const token = issueToken({ cursor: { timeMs: 1, eventId: 'e' }, startMs: 0, endMs: 2 }, BINDING, tokenKey);
      expect(readToken(token, BINDING, await lookupTokenKey(fresh, secrets))).toMatchObject({ startMs: 0, endMs: 2 });
    } finally {
      fresh.disconnect();
    }
  });

  it('seals plain text an older release stored the first time it is read, and reads the same values after', async () => {
    await flushAll(redis);
    // as the previous release wrote them
    const legacy = { accessKeyId: 'LTAI5tLegacyKey0000000000', accountId: ACCOUNT, accessKeySecret: 'LegacySecretValue0123456789abc', status: 'Active', createdAt: '2026-01-01T00:00:00.000Z' };
    await redis.hset(`${AK_PREFIX}${legacy.accessKeyId}`, legacy);
    await redis.sadd(`{tk:auth}:account:${ACCOUNT}:keys`, legacy.accessKeyId);
    const pair = generateSigningKeyPair();
    await redis.hset(SIGNING_KEY_KEY, { privateKeyPem: pair.privateKeyPem, publicKeyPem: pair.publicKeyPem, fingerprint: pair.fingerprint, algorithm: 'Ed25519', createdAt: '2026-01-01T00:00:00.000Z' });
    const legacyTokenKey = Buffer.alloc(32, 9);
    await redis.set(TOKEN_KEY_KEY, legacyTokenKey.toString('base64'));

    const needles = secretNeedles({ accessKeySecrets: [legacy.accessKeySecret], signing: pair, tokenKey: legacyTokenKey });
    // the scan does see plain text where it is
    const before = await everyStoredByte(redis);
    for (const needle of needles.filter(([name]) => ['accessKeySecret 0', 'private key PEM', 'token key base64'].includes(name))) {
      expect(() => expectNoPlaintext(before, [needle])).toThrow(`${needle[0]} is stored in plain text`);
    }

    const accounts = new RedisAccountStore(redis, secrets);
    expect(await accounts.getKey(legacy.accessKeyId)).toEqual(legacy);
    expect(await ensureSigningKey(redis, secrets)).toEqual(pair);
    expect((await lookupTokenKey(redis, secrets)).equals(legacyTokenKey)).toBe(true);

    expectNoPlaintext(await everyStoredByte(redis), needles);
    expect(await accounts.getKey(legacy.accessKeyId)).toEqual(legacy);
    expect(await ensureSigningKey(redis, secrets)).toEqual(pair);
    expect((await lookupTokenKey(redis, secrets)).equals(legacyTokenKey)).toBe(true);
    await expect(verifyRequest(acs3Request(legacy as AccessKey), accounts.keyLookup(), redisNonceStore(redis))).resolves.toMatchObject({ accountId: ACCOUNT });
  });

  it('another TK_SECRETS_KEY is refused naming the key id needed; listing, disabling and deleting keys still work without opening secrets', async () => {
    await flushAll(redis);
    const accounts = new RedisAccountStore(redis, secrets);
    const key = await accounts.createKey(ACCOUNT);
    await ensureSigningKey(redis, secrets);
    await lookupTokenKey(redis, secrets);
    const rotated = testSecretBox();
    const elsewhere = new RedisAccountStore(redis, rotated);
    for (const attempt of [elsewhere.getKey(key.accessKeyId), ensureSigningKey(redis, rotated), lookupTokenKey(redis, rotated)]) {
      const error = await failureOf(attempt, 'wrong-key');
      expect(error.sealedWithKeyId).toBe(secrets.keyId);
      expect(error.message).toContain(`supply the key with id ${secrets.keyId}`);
      expect(error.message).toContain(`TK_SECRETS_KEY is key ${rotated.keyId}`);
      expect(error.message).not.toContain(key.accessKeySecret);
    }
    // a request signed with that key is not accepted (the error propagates; nothing is verified)
    await expect(verifyRequest(acs3Request(key), elsewhere.keyLookup(), redisNonceStore(redis))).rejects.toBeInstanceOf(SecretBoxError);
    expect((await elsewhere.listKeys(ACCOUNT)).map((k) => k.accessKeyId)).toEqual([key.accessKeyId]);
    expect(await elsewhere.setKeyStatus(key.accessKeyId, 'Inactive')).toBe(true);
    expect(await elsewhere.deleteKey(key.accessKeyId)).toBe(true);
    expect(await accounts.getKey(key.accessKeyId)).toBeUndefined();
  });

  it('a sealed secret copied into another key record does not open there', async () => {
    await flushAll(redis);
    const accounts = new RedisAccountStore(redis, secrets);
    const victim = await accounts.createKey(ACCOUNT);
    const attacker = await accounts.createKey(OTHER_ACCOUNT);
    const sealed = (await redis.hget(`${AK_PREFIX}${victim.accessKeyId}`, 'accessKeySecret')) as string;
    await redis.hset(`${AK_PREFIX}${attacker.accessKeyId}`, 'accessKeySecret', sealed);
    const error = await failureOf(accounts.getKey(attacker.accessKeyId), 'not-authentic');
    expect(error.message).toContain(`accesskey:${attacker.accessKeyId}`);
    expect(error.message).not.toContain(victim.accessKeySecret);
    await expect(verifyRequest(acs3Request({ ...attacker, accessKeySecret: victim.accessKeySecret }), accounts.keyLookup(), redisNonceStore(redis))).rejects.toBeInstanceOf(SecretBoxError);
    // the signing key's private half sealed for another pair's fingerprint does not open either
    const pair = await ensureSigningKey(redis, secrets);
    const replacement = generateSigningKeyPair();
    await redis.hset(SIGNING_KEY_KEY, { publicKeyPem: replacement.publicKeyPem, fingerprint: replacement.fingerprint });
    await failureOf(ensureSigningKey(redis, secrets), 'not-authentic');
    expect(pair.fingerprint).not.toBe(replacement.fingerprint);
  });
});

describe('the product, through the emulator', () => {
  let stack: TestStack;
  let redis: RedisClient;

  beforeAll(async () => {
    stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
    redis = createRedisClient(stack.redisUrl);
  });

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('the functions open what the tools sealed with TK_SECRETS_KEY, seal what they create, and store no plaintext secret', async () => {
    const key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
    const events = Array.from({ length: 3 }, (_v, n) => sampleEvent(ACCOUNT, n, new Date(Date.now() - 60_000 + n * 1000)));
    const ids = events.map((e) => String((e as Record<string, unknown>)['eventId']));
    const ingest = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events));
    expect(ingest.status).toBe(200);
    expect(((await ingest.json()) as { accepted: number }).accepted).toBe(3);
    const history = new RedisHistoryStore(redis);
    await waitUntil(async () => (await history.has(ACCOUNT, ids)).every(Boolean), 15_000, 'events in history');

    // lookup-http creates the token key (a NextToken) and the signing key (GetDigestPublicKey)
    const lookupUrl = stack.emulator.httpUrls['lookup-http'] as string;
    const first = await callRpc(lookupUrl, key, { Action: 'LookupEvents', MaxResults: '1' });
    expect(first.status).toBe(200);
    const token = ((await first.json()) as { NextToken?: string }).NextToken;
    expect(token).toBeTruthy();
    const second = await callRpc(lookupUrl, key, { Action: 'LookupEvents', MaxResults: '1', NextToken: token as string });
    expect(second.status).toBe(200);
    const served = await callRpc(lookupUrl, key, { Action: 'GetDigestPublicKey' });
    expect(served.status).toBe(200);
    const { PublicKey } = (await served.json()) as { PublicKey: string };
    const bad = await callRpc(lookupUrl, { ...key, accessKeySecret: `${key.accessKeySecret}x` }, { Action: 'LookupEvents' });
    // refused for its signature (not a server error): the functions compared against the opened secret
    expect(((await bad.json()) as { Code?: string }).Code).toBe('SignatureDoesNotMatch');
    expect(bad.status).toBeLessThan(500);

    // the test opens what the functions sealed: the same key, from the same environment
    const signing = await ensureSigningKey(redis, stack.secrets);
    expect(signing.publicKeyPem).toBe(PublicKey);
    const tokenKey = await lookupTokenKey(redis, stack.secrets);
    expectNoPlaintext(await everyStoredByte(redis), secretNeedles({ accessKeySecrets: [key.accessKeySecret], signing, tokenKey }));
  });
});
