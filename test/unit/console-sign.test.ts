/**
 * The console's browser signer (functions/lookup-http/web/sign.ts) against the server's:
 * the same parameters give the same RPC v1 signature with WebCrypto and with the plain
 * TypeScript SHA-1 the console falls back to on plain-http LAN addresses, and verify.ts
 * accepts what it sends.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signRpc } from '../../shared/auth/rpc-signature.ts';
import { verifyRequest, type KeyLookup, type NonceStore } from '../../shared/auth/verify.ts';
import { hmacSha1, sha1 } from '../../functions/lookup-http/web/sha1.ts';
import { chooseHmacSha1, queryString, randomNonce, signRpcParams, type HmacSha1 } from '../../functions/lookup-http/web/sign.ts';

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

  it('makes 32-hex-digit nonces from getRandomValues (randomUUID needs a secure context)', () => {
    const nonce = randomNonce((b) => globalThis.crypto.getRandomValues(b));
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(randomNonce((b) => b.fill(255))).toBe('f'.repeat(32));
  });
});
