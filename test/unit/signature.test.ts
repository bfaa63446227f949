import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { percentEncode } from '../../shared/auth/percent-encode.ts';
import { RPC_DOC_PARAMS, RPC_DOC_SIGNATURE } from '../helpers/rpc-doc-vector.ts';
import {
  canonicalizeRpcParams,
  rpcStringToSign,
  signRpc,
  signRpcRequest,
} from '../../shared/auth/rpc-signature.ts';
import {
  acs3StringToSign,
  canonicalRequest,
  hashPayload,
  parseAcs3Authorization,
  signAcs3,
  signAcs3Request,
} from '../../shared/auth/acs3-signature.ts';
import { parseRequestParameters } from '../../shared/auth/request-params.ts';
import {
  ACS3_MAX_AUTHORIZATION_LENGTH,
  ACS3_MAX_SIGNED_HEADERS,
  ACS3_MAX_SIGNED_HEADER_VALUE_LENGTH,
  RPC_MAX_SIGNATURE_LENGTH,
  SIGNATURE_MAX_ACCESS_KEY_ID_LENGTH,
  SIGNATURE_MAX_NONCE_LENGTH,
  SIGNATURE_MAX_CLOCK_SKEW_SECONDS,
  SIGNATURE_NONCE_TTL_SECONDS,
  SignatureError,
  verifyRequest,
  type KeyLookup,
  type NonceStore,
  type SignatureErrorCode,
  type SignedRequest,
} from '../../shared/auth/verify.ts';

// ---------------------------------------------------------------------------
// Independent reference implementation (written from the docs, shares no code
// with shared/auth/*). Used to produce requests that verifyRequest must accept.
// ---------------------------------------------------------------------------

/** RFC 3986: encodeURIComponent leaves !'()* alone, the Alibaba rules encode them. */
function refEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function refSha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function refRpcSignature(method: 'GET' | 'POST', params: Record<string, string>, secret: string): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${refEncode(k)}=${refEncode(params[k] ?? '')}`)
    .join('&');
  const stringToSign = `${method}&${refEncode('/')}&${refEncode(canonical)}`;
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

interface RefAcs3Input {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Must already contain host, x-acs-date and x-acs-signature-nonce. */
  headers: Record<string, string>;
  body: string | Buffer;
  accessKeyId: string;
  secret: string;
}

function refAcs3Headers(input: RefAcs3Input): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) h[k.toLowerCase()] = v;
  const payloadHash = refSha256Hex(input.body);
  h['x-acs-content-sha256'] = payloadHash;
  const names = Object.keys(h)
    .filter((n) => n === 'host' || n === 'content-type' || n.startsWith('x-acs-'))
    .sort();
  const canonicalHeaders = names.map((n) => `${n}:${(h[n] ?? '').trim()}\n`).join('');
  const canonicalQuery = Object.keys(input.query)
    .sort()
    .map((k) => `${refEncode(k)}=${refEncode(input.query[k] ?? '')}`)
    .join('&');
  const canonicalUri = input.path.split('/').map(refEncode).join('/') || '/';
  const cr = [input.method, canonicalUri, canonicalQuery, canonicalHeaders, names.join(';'), payloadHash].join('\n');
  const signature = createHmac('sha256', input.secret).update(`ACS3-HMAC-SHA256\n${refSha256Hex(cr)}`).digest('hex');
  h['authorization'] = `ACS3-HMAC-SHA256 Credential=${input.accessKeyId},SignedHeaders=${names.join(';')},Signature=${signature}`;
  return h;
}

// ---------------------------------------------------------------------------
// In-memory stores (fine for a pure unit test).
// ---------------------------------------------------------------------------

interface KeyRecord {
  accountId: string;
  accessKeySecret: string;
  enabled: boolean;
}

function memoryKeys(entries: Record<string, KeyRecord>): KeyLookup {
  const map = new Map(Object.entries(entries));
  return async (accessKeyId) => map.get(accessKeyId) ?? null;
}

class MemoryNonceStore implements NonceStore {
  readonly claims: Array<{ accessKeyId: string; nonce: string; ttlSeconds: number }> = [];
  private readonly used = new Set<string>();

  async claim(accessKeyId: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    this.claims.push({ accessKeyId, nonce, ttlSeconds });
    const key = `${accessKeyId}\u0000${nonce}`;
    if (this.used.has(key)) return false;
    this.used.add(key);
    return true;
  }
}

const NOW = new Date('2024-05-01T12:00:00Z');
const NOW_TS = '2024-05-01T12:00:00Z';
const AK_ID = 'LTAI5tTestKeyId';
const AK_SECRET = 'testSecret-do-not-leak-4f9c';
const keys = memoryKeys({
  [AK_ID]: { accountId: '1234567890', accessKeySecret: AK_SECRET, enabled: true },
  LTAIdisabled: { accountId: '1234567890', accessKeySecret: 'disabled-secret', enabled: false },
});

function tsMinutesFromNow(minutes: number): string {
  return new Date(NOW.getTime() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function rpcGetRequest(params: Record<string, string>): SignedRequest {
  return { method: 'GET', path: '/', query: params, headers: { host: 'trail.example.com' }, body: Buffer.alloc(0) };
}

function refRpcParams(overrides: Record<string, string> = {}, secret = AK_SECRET): Record<string, string> {
  const params: Record<string, string> = {
    Action: 'LookupEvents',
    Version: '2020-07-06',
    Format: 'JSON',
    AccessKeyId: AK_ID,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: 'nonce-rpc-1',
    Timestamp: NOW_TS,
    EventName: 'Create*Bucket (v2) ~ é 你好',
    ...overrides,
  };
  params['Signature'] = refRpcSignature('GET', params, secret);
  return params;
}

function refAcs3Request(
  opts: { nonce?: string; date?: string; body?: string; query?: Record<string, string>; accessKeyId?: string; secret?: string } = {},
): SignedRequest {
  const body = opts.body ?? JSON.stringify({ EventName: 'DeleteBucket', MaxResults: 50 });
  const query = opts.query ?? { RegionId: 'cn-hangzhou', 'Filter.1.Name': 'a b*c' };
  const headers = refAcs3Headers({
    method: 'POST',
    path: '/api/v1/trails/my trail',
    query,
    headers: {
      Host: 'trail.example.com',
      'Content-Type': 'application/json',
      'x-acs-action': 'LookupEvents',
      'x-acs-version': '2020-07-06',
      'x-acs-date': opts.date ?? NOW_TS,
      'x-acs-signature-nonce': opts.nonce ?? 'nonce-acs3-1',
      'user-agent': 'ref-client/1.0',
    },
    body,
    accessKeyId: opts.accessKeyId ?? AK_ID,
    secret: opts.secret ?? AK_SECRET,
  });
  return { method: 'POST', path: '/api/v1/trails/my trail', query, headers, body: Buffer.from(body, 'utf8') };
}

async function expectSignatureError(promise: Promise<unknown>, code: SignatureErrorCode): Promise<SignatureError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignatureError);
  const sigError = error as SignatureError;
  expect(sigError.code).toBe(code);
  expect(sigError.message).not.toContain(AK_SECRET);
  expect(sigError.message).not.toContain('disabled-secret');
  return sigError;
}

// ---------------------------------------------------------------------------
// Known-answer tests from the published docs.
// ---------------------------------------------------------------------------

describe('percentEncode', () => {
  it('follows RFC 3986 with the Alibaba Cloud adjustments', () => {
    expect(percentEncode('a b*c~d')).toBe('a%20b%2Ac~d');
    expect(percentEncode("!'()")).toBe('%21%27%28%29');
    expect(percentEncode('/:=&+')).toBe('%2F%3A%3D%26%2B');
    expect(percentEncode('AZaz09-_.~')).toBe('AZaz09-_.~');
    expect(percentEncode('é你')).toBe('%C3%A9%E4%BD%A0');
    expect(percentEncode('2023-03-13T08:34:30Z')).toBe('2023-03-13T08%3A34%3A30Z');
  });

  it('agrees with the reference encoder on awkward input', () => {
    const sample = "Hello, World! (a+b)*c=d&e~f/g?h#i[j]k@l$m%n^o|p\\q\"r'<s>{t}`u 中文 😀";
    expect(percentEncode(sample)).toBe(refEncode(sample));
  });
});

describe('RPC HMAC-SHA1 signature (known answers)', () => {
  // the documented fixed-parameter example (test/helpers/rpc-doc-vector.ts)
  const docParams: Record<string, string> = { ...RPC_DOC_PARAMS };

  it('reproduces the documented DescribeDedicatedHosts signature', () => {
    expect(canonicalizeRpcParams(docParams)).toBe(
      'AccessKeyId=testid&Action=DescribeDedicatedHosts&Format=JSON&RegionId=cn-beijing&SignatureMethod=HMAC-SHA1' +
        '&SignatureNonce=edb2b34af0af9a6d14deaf7c1a5315eb&SignatureVersion=1.0&Timestamp=2023-03-13T08%3A34%3A30Z' +
        '&Version=2014-05-26',
    );
    expect(signRpc('GET', docParams, 'testsecret')).toBe('9NaGiOspFP5UPcwX8Iwt2YJXXuk=');
    expect(refRpcSignature('GET', docParams, 'testsecret')).toBe('9NaGiOspFP5UPcwX8Iwt2YJXXuk=');
    // the method is part of the string to sign
    expect(signRpc('POST', docParams, 'testsecret')).not.toBe('9NaGiOspFP5UPcwX8Iwt2YJXXuk=');
  });

  it('signRpcRequest fills the common parameters and reproduces the same signature', () => {
    const signed = signRpcRequest({
      method: 'GET',
      params: { Action: 'DescribeDedicatedHosts', RegionId: 'cn-beijing', Version: '2014-05-26' },
      accessKeyId: 'testid',
      accessKeySecret: 'testsecret',
      nonce: 'edb2b34af0af9a6d14deaf7c1a5315eb',
      timestamp: new Date('2023-03-13T08:34:30.123Z'),
    });
    expect(signed).toEqual({ ...docParams, Signature: '9NaGiOspFP5UPcwX8Iwt2YJXXuk=' });
  });

  it('ignores an existing Signature parameter when canonicalizing', () => {
    expect(canonicalizeRpcParams({ ...docParams, Signature: 'x' })).toBe(canonicalizeRpcParams(docParams));
  });

  it('reproduces the legacy ECS DescribeRegions example (StringToSign and signature)', () => {
    // ECS "Signature mechanism" example (testid / testsecret, TimeStamp=2016-02-23T12:46:24Z),
    // e.g. https://developer.aliyun.com/ask/210168 and the ECS API reference.
    const params = {
      TimeStamp: '2016-02-23T12:46:24Z',
      Format: 'XML',
      AccessKeyId: 'testid',
      Action: 'DescribeRegions',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      Version: '2014-05-26',
      SignatureVersion: '1.0',
    };
    expect(rpcStringToSign('GET', params)).toBe(
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1' +
        '%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0' +
        '%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26',
    );
    expect(signRpc('GET', params, 'testsecret')).toBe('CT9X0VtwR86fNWSnsc6v8YGOjuE=');
  });
});

describe('ACS3-HMAC-SHA256 signature (known answers)', () => {
  // "Request syntax and signature method V3", section "Fixed parameter values":
  // https://alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature
  const emptyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const docHeaders = {
    host: 'ecs.cn-shanghai.aliyuncs.com',
    'x-acs-action': 'RunInstances',
    'x-acs-content-sha256': emptyHash,
    'x-acs-date': '2023-10-26T10:22:32Z',
    'x-acs-signature-nonce': '3156853299f313e23d1673dc12e1703d',
    'x-acs-version': '2014-05-26',
  };
  const docQuery = { ImageId: 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd', RegionId: 'cn-shanghai' };
  const docSignedHeaders = [
    'host',
    'x-acs-action',
    'x-acs-content-sha256',
    'x-acs-date',
    'x-acs-signature-nonce',
    'x-acs-version',
  ];
  const docCanonicalRequest = [
    'POST',
    '/',
    'ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai',
    'host:ecs.cn-shanghai.aliyuncs.com',
    'x-acs-action:RunInstances',
    `x-acs-content-sha256:${emptyHash}`,
    'x-acs-date:2023-10-26T10:22:32Z',
    'x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d',
    'x-acs-version:2014-05-26',
    '',
    'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
    emptyHash,
  ].join('\n');
  const docSignature = '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0';
  const docAuthorization =
    'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;' +
    `x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=${docSignature}`;
  const docInput = {
    method: 'POST',
    path: '/',
    query: docQuery,
    headers: docHeaders,
    signedHeaders: docSignedHeaders,
    hashedPayload: emptyHash,
  };

  it('reproduces each documented step', () => {
    expect(hashPayload('')).toBe(emptyHash);
    expect(hashPayload(Buffer.alloc(0))).toBe(emptyHash);
    expect(canonicalRequest(docInput)).toBe(docCanonicalRequest);
    expect(acs3StringToSign(docCanonicalRequest)).toBe(
      'ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259',
    );
    expect(signAcs3(docInput, 'YourAccessKeySecret')).toBe(docSignature);
  });

  it('signAcs3Request produces the documented Authorization header', () => {
    const headers = signAcs3Request({
      method: 'POST',
      path: '/',
      query: docQuery,
      headers: { Host: 'ecs.cn-shanghai.aliyuncs.com', 'x-acs-action': 'RunInstances', 'x-acs-version': '2014-05-26' },
      body: '',
      accessKeyId: 'YourAccessKeyId',
      accessKeySecret: 'YourAccessKeySecret',
      nonce: '3156853299f313e23d1673dc12e1703d',
      date: new Date('2023-10-26T10:22:32Z'),
    });
    expect(headers).toEqual({ ...docHeaders, authorization: docAuthorization });
  });

  it('the reference implementation agrees with the docs', () => {
    const headers = refAcs3Headers({
      method: 'POST',
      path: '/',
      query: docQuery,
      headers: {
        host: docHeaders.host,
        'x-acs-action': 'RunInstances',
        'x-acs-version': '2014-05-26',
        'x-acs-date': '2023-10-26T10:22:32Z',
        'x-acs-signature-nonce': '3156853299f313e23d1673dc12e1703d',
      },
      body: '',
      accessKeyId: 'YourAccessKeyId',
      secret: 'YourAccessKeySecret',
    });
    expect(headers['authorization']).toBe(docAuthorization);
  });

  it('verifyRequest accepts the documented requests at the documented time', async () => {
    const docKeys = memoryKeys({
      YourAccessKeyId: { accountId: 'acct-doc', accessKeySecret: 'YourAccessKeySecret', enabled: true },
      testid: { accountId: 'acct-rpc', accessKeySecret: 'testsecret', enabled: true },
    });
    await expect(
      verifyRequest(
        {
          method: 'POST',
          path: '/',
          query: docQuery,
          headers: { ...docHeaders, authorization: docAuthorization },
          body: Buffer.alloc(0),
        },
        docKeys,
        new MemoryNonceStore(),
        new Date('2023-10-26T10:22:32Z'),
      ),
    ).resolves.toEqual({ accountId: 'acct-doc', accessKeyId: 'YourAccessKeyId', scheme: 'acs3' });

    await expect(
      verifyRequest(
        rpcGetRequest({
          ...RPC_DOC_PARAMS,
          Signature: RPC_DOC_SIGNATURE,
        }),
        docKeys,
        new MemoryNonceStore(),
        new Date('2023-03-13T08:40:00Z'),
      ),
    ).resolves.toEqual({ accountId: 'acct-rpc', accessKeyId: 'testid', scheme: 'rpc-v1' });
  });
});

describe('parseAcs3Authorization', () => {
  const sig = 'ab'.repeat(32);

  it('parses a well-formed header', () => {
    expect(parseAcs3Authorization(`ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;x-acs-date,Signature=${sig}`)).toEqual({
      accessKeyId: 'AK1',
      signedHeaders: ['host', 'x-acs-date'],
      signature: sig,
    });
    expect(
      parseAcs3Authorization(`ACS3-HMAC-SHA256 Credential=AK1, SignedHeaders=Host, Signature=${sig.toUpperCase()}`),
    ).toEqual({ accessKeyId: 'AK1', signedHeaders: ['host'], signature: sig });
  });

  it('rejects malformed headers', () => {
    for (const header of [
      '',
      `Bearer abc`,
      `ACS3-HMAC-SHA256 SignedHeaders=host,Signature=${sig}`,
      `ACS3-HMAC-SHA256 Credential=AK1,Signature=${sig}`,
      `ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host`,
      `ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host,Signature=xyz`,
      `ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=${sig}`,
      `ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;;x,Signature=${sig}`,
      `ACS3-HMAC-SHA256 Credential=AK1,Credential=AK2,SignedHeaders=host,Signature=${sig}`,
      `ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host,Signature=${sig},Extra=1`,
      `ACS3-HMAC-SHA256Credential=AK1,SignedHeaders=host,Signature=${sig}`,
    ]) {
      expect(parseAcs3Authorization(header)).toBeNull();
    }
  });
});

// ---------------------------------------------------------------------------
// verifyRequest with requests produced by the independent implementation.
// ---------------------------------------------------------------------------

describe('verifyRequest: RPC HMAC-SHA1', () => {
  it('accepts a GET request signed by the reference implementation', async () => {
    const nonces = new MemoryNonceStore();
    await expect(verifyRequest(rpcGetRequest(refRpcParams()), keys, nonces, NOW)).resolves.toEqual({
      accountId: '1234567890',
      accessKeyId: AK_ID,
      scheme: 'rpc-v1',
    });
    expect(nonces.claims).toHaveLength(1);
    expect(nonces.claims[0]).toMatchObject({ accessKeyId: AK_ID, nonce: 'nonce-rpc-1' });
    expect(nonces.claims[0]?.ttlSeconds).toBeGreaterThanOrEqual(SIGNATURE_NONCE_TTL_SECONDS);
  });

  it('accepts a form-urlencoded POST (parameters split between query and body)', async () => {
    const all: Record<string, string> = {
      Action: 'PutEvents',
      Version: '2020-07-06',
      Format: 'JSON',
      AccessKeyId: AK_ID,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: 'nonce-form-1',
      Timestamp: NOW_TS,
      Payload: '{"a":"b c","d":[1,2]} * ~ + & = 你好',
    };
    all['Signature'] = refRpcSignature('POST', all, AK_SECRET);
    const { Payload, Action, ...queryPart } = all;
    const body = new URLSearchParams({ Payload: Payload ?? '', Action: Action ?? '' }).toString();
    const req: SignedRequest = {
      method: 'POST',
      path: '/',
      query: queryPart,
      headers: { host: 'trail.example.com', 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: Buffer.from(body, 'utf8'),
    };
    await expect(verifyRequest(req, keys, new MemoryNonceStore(), NOW)).resolves.toMatchObject({ scheme: 'rpc-v1' });
  });

  it('accepts a form POST with every parameter in the body', async () => {
    const params = signRpcRequest({
      method: 'POST',
      params: { Action: 'PutEvents', Version: '2020-07-06', Data: 'x y*z' },
      accessKeyId: AK_ID,
      accessKeySecret: AK_SECRET,
      timestamp: NOW,
    });
    expect(params['Signature']).toBe(refRpcSignature('POST', params, AK_SECRET));
    const req: SignedRequest = {
      method: 'POST',
      path: '/',
      query: {},
      headers: { host: 'trail.example.com', 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(new URLSearchParams(params).toString(), 'utf8'),
    };
    await expect(verifyRequest(req, keys, new MemoryNonceStore(), NOW)).resolves.toMatchObject({ accessKeyId: AK_ID });
  });

  it('ignores the body when it is not form-urlencoded', async () => {
    const params = refRpcParams();
    const { Signature: _sig, ...withoutSignature } = params;
    const req: SignedRequest = {
      method: 'POST',
      path: '/',
      query: withoutSignature,
      headers: { host: 'h', 'content-type': 'application/json' },
      body: Buffer.from(`Signature=${encodeURIComponent(params['Signature'] ?? '')}`),
    };
    await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'IncompleteSignature');
  });

  it('rejects a tampered parameter with SignatureDoesNotMatch', async () => {
    const params = { ...refRpcParams(), EventName: 'Something else' };
    const err = await expectSignatureError(
      verifyRequest(rpcGetRequest(params), keys, new MemoryNonceStore(), NOW),
      'SignatureDoesNotMatch',
    );
    expect(err.status).toBe(400);
    expect(err.message).toContain('Signature');
  });

  it('rejects a signature made with the wrong secret', async () => {
    await expectSignatureError(
      verifyRequest(rpcGetRequest(refRpcParams({}, 'wrong-secret')), keys, new MemoryNonceStore(), NOW),
      'SignatureDoesNotMatch',
    );
  });

  it('rejects the same signature replayed with a different HTTP method', async () => {
    const req = { ...rpcGetRequest(refRpcParams()), method: 'POST' };
    await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'SignatureDoesNotMatch');
  });

  it('rejects a reused nonce with SignatureNonceUsed', async () => {
    const nonces = new MemoryNonceStore();
    const req = rpcGetRequest(refRpcParams());
    await verifyRequest(req, keys, nonces, NOW);
    const err = await expectSignatureError(verifyRequest(req, keys, nonces, NOW), 'SignatureNonceUsed');
    expect(err.message).toContain('SignatureNonce');
  });

  it('does not burn the nonce when the signature is bad', async () => {
    const nonces = new MemoryNonceStore();
    const good = refRpcParams();
    await expectSignatureError(
      verifyRequest(rpcGetRequest({ ...good, EventName: 'tampered' }), keys, nonces, NOW),
      'SignatureDoesNotMatch',
    );
    expect(nonces.claims).toHaveLength(0);
    await expect(verifyRequest(rpcGetRequest(good), keys, nonces, NOW)).resolves.toMatchObject({ scheme: 'rpc-v1' });
  });

  it('rejects a timestamp 16 minutes old (and 16 minutes ahead) with InvalidTimeStamp.Expired', async () => {
    const old = await expectSignatureError(
      verifyRequest(rpcGetRequest(refRpcParams({ Timestamp: tsMinutesFromNow(-16) })), keys, new MemoryNonceStore(), NOW),
      'InvalidTimeStamp.Expired',
    );
    expect(old.message).toContain('Timestamp');
    await expectSignatureError(
      verifyRequest(rpcGetRequest(refRpcParams({ Timestamp: tsMinutesFromNow(16) })), keys, new MemoryNonceStore(), NOW),
      'InvalidTimeStamp.Expired',
    );
    await expect(
      verifyRequest(rpcGetRequest(refRpcParams({ Timestamp: tsMinutesFromNow(-14) })), keys, new MemoryNonceStore(), NOW),
    ).resolves.toMatchObject({ scheme: 'rpc-v1' });
  });

  it('keeps a nonce claimed for as long as its timestamp stays valid', async () => {
    const nonces = new MemoryNonceStore();
    await verifyRequest(rpcGetRequest(refRpcParams({ Timestamp: tsMinutesFromNow(14) })), keys, nonces, NOW);
    expect(nonces.claims[0]?.ttlSeconds).toBeGreaterThanOrEqual(14 * 60 + SIGNATURE_MAX_CLOCK_SKEW_SECONDS);
  });

  it('rejects a malformed timestamp with InvalidTimeStamp.Format', async () => {
    for (const ts of ['2024-05-01 12:00:00', '2024-05-01T12:00:00.000Z', '2024-02-30T12:00:00Z', '1714564800']) {
      await expectSignatureError(
        verifyRequest(rpcGetRequest(refRpcParams({ Timestamp: ts })), keys, new MemoryNonceStore(), NOW),
        'InvalidTimeStamp.Format',
      );
    }
  });

  it('rejects an unknown key with InvalidAccessKeyId.NotFound (404)', async () => {
    const err = await expectSignatureError(
      verifyRequest(rpcGetRequest(refRpcParams({ AccessKeyId: 'LTAInobody' })), keys, new MemoryNonceStore(), NOW),
      'InvalidAccessKeyId.NotFound',
    );
    expect(err.status).toBe(404);
    expect(err.message).toContain('AccessKeyId');
  });

  it('rejects a disabled key with InvalidAccessKeyId.Inactive', async () => {
    const err = await expectSignatureError(
      verifyRequest(
        rpcGetRequest(refRpcParams({ AccessKeyId: 'LTAIdisabled' }, 'disabled-secret')),
        keys,
        new MemoryNonceStore(),
        NOW,
      ),
      'InvalidAccessKeyId.Inactive',
    );
    expect(err.status).toBe(400);
  });

  it('rejects missing signature pieces with IncompleteSignature naming the field', async () => {
    for (const field of ['Signature', 'AccessKeyId', 'SignatureNonce', 'Timestamp', 'SignatureMethod', 'SignatureVersion']) {
      const params = refRpcParams();
      delete params[field];
      const err = await expectSignatureError(
        verifyRequest(rpcGetRequest(params), keys, new MemoryNonceStore(), NOW),
        'IncompleteSignature',
      );
      expect(err.message).toContain(field);
      expect(err.status).toBe(400);
    }
    await expectSignatureError(
      verifyRequest(rpcGetRequest(refRpcParams({ SignatureMethod: 'HMAC-SHA256' })), keys, new MemoryNonceStore(), NOW),
      'IncompleteSignature',
    );
  });

  it('refuses a parameter given in both query and body (400 InvalidParameter naming it), even with the same value', async () => {
    const params = refRpcParams();
    for (const value of ['other', params['EventName'] ?? '']) {
      const req: SignedRequest = {
        ...rpcGetRequest(params),
        method: 'POST',
        headers: { host: 'h', 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(new URLSearchParams({ EventName: value }).toString()),
      };
      const nonces = new MemoryNonceStore();
      const err = await expectSignatureError(verifyRequest(req, keys, nonces, NOW), 'InvalidParameter');
      expect(err.status).toBe(400);
      expect(err.field).toBe('EventName');
      expect(err.message).toContain('EventName');
      expect(nonces.claims).toHaveLength(0);
    }
  });
});

describe('verifyRequest: ACS3-HMAC-SHA256', () => {
  it('accepts a request signed by the reference implementation', async () => {
    const nonces = new MemoryNonceStore();
    await expect(verifyRequest(refAcs3Request(), keys, nonces, NOW)).resolves.toEqual({
      accountId: '1234567890',
      accessKeyId: AK_ID,
      scheme: 'acs3',
    });
    expect(nonces.claims).toEqual([{ accessKeyId: AK_ID, nonce: 'nonce-acs3-1', ttlSeconds: SIGNATURE_NONCE_TTL_SECONDS }]);
  });

  it('accepts a request signed by signAcs3Request and agrees with the reference signer', async () => {
    const body = Buffer.from('{"hello":"world"}');
    const query = { RegionId: 'cn-hangzhou', Name: "it's (a) test*" };
    const headers = signAcs3Request({
      method: 'put',
      path: '/things/a b',
      query,
      headers: { Host: 'trail.example.com', 'Content-Type': 'application/json', 'x-acs-action': 'PutThing' },
      body,
      accessKeyId: AK_ID,
      accessKeySecret: AK_SECRET,
      nonce: 'n-1',
      date: NOW,
    });
    const ref = refAcs3Headers({
      method: 'PUT',
      path: '/things/a b',
      query,
      headers: {
        host: 'trail.example.com',
        'content-type': 'application/json',
        'x-acs-action': 'PutThing',
        'x-acs-date': NOW_TS,
        'x-acs-signature-nonce': 'n-1',
      },
      body,
      accessKeyId: AK_ID,
      secret: AK_SECRET,
    });
    expect(headers).toEqual(ref);
    await expect(
      verifyRequest({ method: 'PUT', path: '/things/a b', query, headers, body }, keys, new MemoryNonceStore(), NOW),
    ).resolves.toMatchObject({ scheme: 'acs3' });
  });

  it('signAcs3Request generates a nonce and date when not given, and requires host', () => {
    const headers = signAcs3Request({
      method: 'GET',
      path: '/',
      headers: { host: 'h' },
      accessKeyId: AK_ID,
      accessKeySecret: AK_SECRET,
    });
    expect(headers['x-acs-signature-nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(headers['x-acs-date']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(() =>
      signAcs3Request({ method: 'GET', path: '/', headers: {}, accessKeyId: AK_ID, accessKeySecret: AK_SECRET }),
    ).toThrow(/host/);
  });

  it('rejects a tampered body with SignatureDoesNotMatch', async () => {
    const req = refAcs3Request();
    req.body = Buffer.from(JSON.stringify({ EventName: 'DeleteBucket', MaxResults: 5000 }));
    const err = await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'SignatureDoesNotMatch');
    expect(err.message).toContain('x-acs-content-sha256');
  });

  it('rejects a tampered body whose x-acs-content-sha256 was updated to match', async () => {
    const req = refAcs3Request();
    req.body = Buffer.from('{"EventName":"Evil"}');
    req.headers['x-acs-content-sha256'] = refSha256Hex(req.body);
    await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'SignatureDoesNotMatch');
  });

  it('rejects a tampered query parameter, path, method or signed header', async () => {
    const variants: Array<(r: SignedRequest) => void> = [
      (r) => {
        r.query['RegionId'] = 'cn-shanghai';
      },
      (r) => {
        r.query['Extra'] = '1';
      },
      (r) => {
        r.path = '/api/v1/trails/other';
      },
      (r) => {
        r.method = 'PUT';
      },
      (r) => {
        r.headers['x-acs-action'] = 'DeleteTrail';
      },
    ];
    for (const mutate of variants) {
      const req = refAcs3Request();
      mutate(req);
      await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'SignatureDoesNotMatch');
    }
  });

  it('rejects a reused nonce, without burning it on a bad signature', async () => {
    const nonces = new MemoryNonceStore();
    const bad = refAcs3Request({ secret: 'wrong' });
    await expectSignatureError(verifyRequest(bad, keys, nonces, NOW), 'SignatureDoesNotMatch');
    expect(nonces.claims).toHaveLength(0);
    await verifyRequest(refAcs3Request(), keys, nonces, NOW);
    const err = await expectSignatureError(verifyRequest(refAcs3Request(), keys, nonces, NOW), 'SignatureNonceUsed');
    expect(err.message).toContain('x-acs-signature-nonce');
  });

  it('rejects an x-acs-date 16 minutes old with InvalidTimeStamp.Expired', async () => {
    const err = await expectSignatureError(
      verifyRequest(refAcs3Request({ date: tsMinutesFromNow(-16) }), keys, new MemoryNonceStore(), NOW),
      'InvalidTimeStamp.Expired',
    );
    expect(err.message).toContain('x-acs-date');
    await expectSignatureError(
      verifyRequest(refAcs3Request({ date: 'Wed, 01 May 2024 12:00:00 GMT' }), keys, new MemoryNonceStore(), NOW),
      'InvalidTimeStamp.Format',
    );
  });

  it('rejects unknown and disabled keys', async () => {
    await expectSignatureError(
      verifyRequest(refAcs3Request({ accessKeyId: 'LTAInobody' }), keys, new MemoryNonceStore(), NOW),
      'InvalidAccessKeyId.NotFound',
    );
    await expectSignatureError(
      verifyRequest(
        refAcs3Request({ accessKeyId: 'LTAIdisabled', secret: 'disabled-secret' }),
        keys,
        new MemoryNonceStore(),
        NOW,
      ),
      'InvalidAccessKeyId.Inactive',
    );
  });

  it('rejects incomplete signatures with IncompleteSignature', async () => {
    const cases: Array<[string, (r: SignedRequest) => void]> = [
      ['authorization', (r) => (r.headers['authorization'] = 'ACS3-HMAC-SHA256 Credential=x')],
      [
        'x-acs-signature-nonce',
        (r) => {
          delete r.headers['x-acs-signature-nonce'];
        },
      ],
      [
        'x-acs-date',
        (r) => {
          r.headers['authorization'] = (r.headers['authorization'] ?? '').replace(';x-acs-date', '');
        },
      ],
      ['x-acs-extra', (r) => (r.headers['x-acs-extra'] = 'unsigned')],
      [
        'content-type',
        (r) => {
          r.headers['authorization'] = (r.headers['authorization'] ?? '').replace('content-type;', '');
        },
      ],
      [
        'x-acs-action',
        (r) => {
          delete r.headers['x-acs-action'];
        },
      ],
    ];
    for (const [field, mutate] of cases) {
      const req = refAcs3Request();
      mutate(req);
      const err = await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW), 'IncompleteSignature');
      expect(err.message).toContain(field);
    }
  });

  it('falls back to RPC when the authorization header is not ACS3', async () => {
    const req = rpcGetRequest(refRpcParams());
    req.headers['authorization'] = 'Bearer something';
    await expect(verifyRequest(req, keys, new MemoryNonceStore(), NOW)).resolves.toMatchObject({ scheme: 'rpc-v1' });
  });

  it('treats header names case-insensitively', async () => {
    const req = refAcs3Request();
    const upper: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) upper[k.toUpperCase()] = v;
    await expect(verifyRequest({ ...req, headers: upper }, keys, new MemoryNonceStore(), NOW)).resolves.toMatchObject({
      scheme: 'acs3',
    });
  });
});

// ---------------------------------------------------------------------------
// Bounds (issue 11 item 8) and accepted schemes (item 2): refused before any store call.
// ---------------------------------------------------------------------------

/** A key lookup and nonce store that count their calls (stand-ins for the two Redis calls). */
function countingStores(): { keys: KeyLookup; nonces: MemoryNonceStore; lookups: string[] } {
  const lookups: string[] = [];
  return {
    keys: async (id) => {
      lookups.push(id);
      return keys(id);
    },
    nonces: new MemoryNonceStore(),
    lookups,
  };
}

describe('verifyRequest: bounds before any store call', () => {
  it('refuses a 200 KB RPC SignatureNonce, correctly signed, without a key lookup or a nonce claim; a normal one still passes', async () => {
    const stores = countingStores();
    // 200 KB is stopped by the parameter bound, 129 characters by the nonce's own bound.
    for (const length of [200 * 1024, SIGNATURE_MAX_NONCE_LENGTH + 1]) {
      const nonce = 'n'.repeat(length);
      const err = await expectSignatureError(
        verifyRequest(rpcGetRequest(refRpcParams({ SignatureNonce: nonce })), stores.keys, stores.nonces, NOW),
        'InvalidParameter',
      );
      expect(err.status).toBe(400);
      expect(err.field).toBe('SignatureNonce');
      expect(err.message).toContain(`${length} characters`);
      expect(err.message.length).toBeLessThan(300);
    }
    expect(stores.lookups).toEqual([]);
    expect(stores.nonces.claims).toEqual([]);
    await expect(verifyRequest(rpcGetRequest(refRpcParams()), stores.keys, stores.nonces, NOW)).resolves.toMatchObject({ scheme: 'rpc-v1' });
  });

  it('refuses an over-long ACS3 x-acs-signature-nonce without a key lookup or a nonce claim', async () => {
    const stores = countingStores();
    const err = await expectSignatureError(
      verifyRequest(refAcs3Request({ nonce: 'n'.repeat(SIGNATURE_MAX_NONCE_LENGTH + 1) }), stores.keys, stores.nonces, NOW),
      'InvalidParameter',
    );
    expect(err.field).toBe('x-acs-signature-nonce');
    expect(stores.lookups).toEqual([]);
    expect(stores.nonces.claims).toEqual([]);
    await expect(verifyRequest(refAcs3Request({ nonce: 'n'.repeat(SIGNATURE_MAX_NONCE_LENGTH) }), stores.keys, stores.nonces, NOW)).resolves.toMatchObject({ scheme: 'acs3' });
  });

  it('refuses an over-long or malformed AccessKeyId and an over-long Signature before the key lookup', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ AccessKeyId: 'L'.repeat(SIGNATURE_MAX_ACCESS_KEY_ID_LENGTH + 1) }, 'AccessKeyId'],
      [{ AccessKeyId: 'LTAI}{tk:auth}:x' }, 'AccessKeyId'],
      [{ Signature: 'A'.repeat(RPC_MAX_SIGNATURE_LENGTH + 1) }, 'Signature'],
    ];
    for (const [override, field] of cases) {
      const stores = countingStores();
      const params = { ...refRpcParams(), ...override };
      const err = await expectSignatureError(verifyRequest(rpcGetRequest(params), stores.keys, stores.nonces, NOW), 'InvalidParameter');
      expect(err.field).toBe(field);
      expect(err.message).toContain(field);
      expect(stores.lookups).toEqual([]);
    }
  });

  it('refuses an over-long Credential, authorization header, SignedHeaders list or signed header value before the key lookup', async () => {
    const cases: Array<[string, (r: SignedRequest) => void]> = [
      ['Credential', (r) => (r.headers['authorization'] = (r.headers['authorization'] ?? '').replace(`Credential=${AK_ID}`, `Credential=${'K'.repeat(SIGNATURE_MAX_ACCESS_KEY_ID_LENGTH + 1)}`))],
      ['authorization', (r) => (r.headers['authorization'] = `${r.headers['authorization'] ?? ''}${' '.repeat(ACS3_MAX_AUTHORIZATION_LENGTH)}`)],
      [
        'SignedHeaders',
        (r) => {
          const extra = Array.from({ length: ACS3_MAX_SIGNED_HEADERS }, (_v, i) => `x-acs-pad-${i}`);
          for (const name of extra) r.headers[name] = '1';
          r.headers['authorization'] = (r.headers['authorization'] ?? '').replace('SignedHeaders=', `SignedHeaders=${extra.join(';')};`);
        },
      ],
      ['x-acs-action', (r) => (r.headers['x-acs-action'] = 'A'.repeat(ACS3_MAX_SIGNED_HEADER_VALUE_LENGTH + 1))],
    ];
    for (const [field, mutate] of cases) {
      const stores = countingStores();
      const req = refAcs3Request();
      mutate(req);
      const err = await expectSignatureError(verifyRequest(req, stores.keys, stores.nonces, NOW), 'InvalidParameter');
      expect(err.field).toBe(field);
      expect(stores.lookups).toEqual([]);
    }
  });

  it('refuses an ACS3 body whose hash is not the declared x-acs-content-sha256 before the key lookup', async () => {
    const stores = countingStores();
    const req = refAcs3Request();
    req.body = Buffer.from('{"other":"body"}');
    const err = await expectSignatureError(verifyRequest(req, stores.keys, stores.nonces, NOW), 'SignatureDoesNotMatch');
    expect(err.field).toBe('x-acs-content-sha256');
    expect(stores.lookups).toEqual([]);
    const unsignedPayload = refAcs3Request();
    unsignedPayload.headers['x-acs-content-sha256'] = 'UNSIGNED-PAYLOAD';
    await expectSignatureError(verifyRequest(unsignedPayload, stores.keys, stores.nonces, NOW), 'SignatureDoesNotMatch');
    expect(stores.lookups).toEqual([]);
  });
});

describe('verifyRequest: a route that accepts only ACS3 (ingest)', () => {
  it('refuses a correctly RPC-signed request (query signature, any body) with IncompleteSignature naming authorization, before any lookup', async () => {
    const stores = countingStores();
    const req: SignedRequest = { ...rpcGetRequest(refRpcParams({ Action: 'DescribeTrails' })), method: 'POST', path: '/events', body: Buffer.from('[{"eventId":"x"}]') };
    const err = await expectSignatureError(verifyRequest(req, stores.keys, stores.nonces, NOW, { schemes: ['acs3'] }), 'IncompleteSignature');
    expect(err.field).toBe('authorization');
    expect(err.message).toContain('x-acs-content-sha256');
    expect(stores.lookups).toEqual([]);
    expect(stores.nonces.claims).toEqual([]);
    // the same stores still accept an ACS3 request
    await expect(verifyRequest(refAcs3Request(), stores.keys, stores.nonces, NOW, { schemes: ['acs3'] })).resolves.toMatchObject({ scheme: 'acs3' });
  });

  it('requires x-acs-content-sha256 to be signed, and checks the signed path and method', async () => {
    const unsignedHash = refAcs3Request();
    unsignedHash.headers['authorization'] = (unsignedHash.headers['authorization'] ?? '').replace(';x-acs-content-sha256', '');
    const err = await expectSignatureError(verifyRequest(unsignedHash, keys, new MemoryNonceStore(), NOW, { schemes: ['acs3'] }), 'IncompleteSignature');
    expect(err.message).toContain('x-acs-content-sha256');
    await expectSignatureError(verifyRequest({ ...refAcs3Request(), path: '/events' }, keys, new MemoryNonceStore(), NOW, { schemes: ['acs3'] }), 'SignatureDoesNotMatch');
    await expectSignatureError(verifyRequest({ ...refAcs3Request(), method: 'PUT' }, keys, new MemoryNonceStore(), NOW, { schemes: ['acs3'] }), 'SignatureDoesNotMatch');
  });
});

describe('verifyRequest with the dispatcher’s parameters', () => {
  it('verifies the very object parseRequestParameters returned: a body that is not a form is not a parameter', async () => {
    // Signed for GetCallerIdentity in the query; the body tries Action=DescribeTrails under a near-form type.
    const signed = signRpcRequest({ method: 'POST', params: { Action: 'GetCallerIdentity', Version: '2020-07-06' }, accessKeyId: AK_ID, accessKeySecret: AK_SECRET, timestamp: NOW, nonce: 'n-form-trick' });
    const req: SignedRequest = {
      method: 'POST',
      path: '/',
      query: signed,
      headers: { host: 'h', 'content-type': 'application/x-www-form-urlencodedX' },
      body: Buffer.from('Action=DescribeTrails'),
    };
    const params = parseRequestParameters(req);
    expect(params.bodyIsForm).toBe(false);
    await expect(verifyRequest(req, keys, new MemoryNonceStore(), NOW, { params })).resolves.toMatchObject({ scheme: 'rpc-v1' });
    expect(params.all['Action']).toBe('GetCallerIdentity');
  });

  it('a form body is signed like the query: moving Action into the body under the exact type needs a signature over it', async () => {
    const signed = signRpcRequest({ method: 'POST', params: { Action: 'GetCallerIdentity', Version: '2020-07-06' }, accessKeyId: AK_ID, accessKeySecret: AK_SECRET, timestamp: NOW, nonce: 'n-form-2' });
    const { Action: _a, ...query } = signed;
    const req: SignedRequest = { method: 'POST', path: '/', query, headers: { host: 'h', 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: Buffer.from('Action=DescribeTrails') };
    await expectSignatureError(verifyRequest(req, keys, new MemoryNonceStore(), NOW, { params: parseRequestParameters(req) }), 'SignatureDoesNotMatch');
    const honest: SignedRequest = { ...req, body: Buffer.from('Action=GetCallerIdentity') };
    const params = parseRequestParameters(honest);
    await expect(verifyRequest(honest, keys, new MemoryNonceStore(), NOW, { params })).resolves.toMatchObject({ scheme: 'rpc-v1' });
    expect(params.all['Action']).toBe('GetCallerIdentity');
  });
});
