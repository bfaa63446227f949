import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DigestFormatError,
  canonicalJson,
  createDigestDocument,
  describeArchiveFile,
  digestSha256,
  generateSigningKeyPair,
  linkTo,
  parseSignedDigest,
  publicKeyFingerprint,
  serialiseSignedDigest,
  signDigest,
  verifyDigestSignature,
  type DigestDocument,
  type PreviousDigestLink,
  type SignedDigest,
} from '../../shared/archive/digest.ts';
import { archiveFileKey, digestKey } from '../../shared/archive/layout.ts';

const keys = generateSigningKeyPair();
const otherKeys = generateSigningKeyPair();
const scope = { ossKeyPrefix: 'audit', region: 'cn-hangzhou' };

function archiveFile(deliveredAt: Date, events: { eventId: string; eventTime: string }[]) {
  const body = gzipSync(JSON.stringify(events));
  const md5 = createHash('md5').update(body).digest('hex');
  const key = archiveFileKey({ ...scope, deliveredAt, eventCount: events.length, fileSize: body.byteLength, md5 });
  return describeArchiveFile({ key, body, events });
}

function hourDoc(hour: Date, previous: PreviousDigestLink | null): DigestDocument {
  const files = [
    archiveFile(new Date(hour.getTime() + 10_000), [
      { eventId: 'a', eventTime: new Date(hour.getTime() + 2_000).toISOString().replace('.000', '') },
      { eventId: 'b', eventTime: new Date(hour.getTime() + 1_000).toISOString().replace('.000', '') },
    ]),
  ];
  return createDigestDocument({
    trailName: 'default-trail',
    accountId: '1234567890123456',
    region: 'cn-hangzhou',
    hour,
    files,
    previous,
    publicKeyFingerprint: keys.fingerprint,
    signedAt: new Date(hour.getTime() + 3_700_000),
  });
}

describe('canonical JSON', () => {
  it('sorts members recursively, keeps array order, has no whitespace, drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: null }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":1}]},"b":1}');
    expect(canonicalJson({ '\u00e9': 1, e: 2, E: 3 })).toBe('{"E":3,"e":2,"\u00e9":1}');
    expect(canonicalJson('line\n"q"')).toBe('"line\\n\\"q\\""');
  });

  it('refuses what JSON cannot say exactly', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(TypeError);
    expect(() => canonicalJson({ b: 1n })).toThrow(TypeError);
  });
});

describe('signing keys', () => {
  it('are Ed25519 PEM pairs with a SHA-256 SPKI fingerprint', () => {
    expect(keys.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(keys.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect(keys.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyFingerprint(keys.publicKeyPem)).toBe(keys.fingerprint);
    expect(publicKeyFingerprint(keys.privateKeyPem)).toBe(keys.fingerprint);
    expect(otherKeys.fingerprint).not.toBe(keys.fingerprint);
  });
});

describe('digest signatures', () => {
  const hour = new Date('2024-03-05T07:00:00Z');
  const signed = signDigest(hourDoc(hour, null), keys.privateKeyPem);

  it('round-trip: sign, serialise, parse, verify', () => {
    expect(signed.signature).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(verifyDigestSignature(signed, keys.publicKeyPem)).toBe(true);
    const text = serialiseSignedDigest(signed);
    const parsed = parseSignedDigest(text);
    expect(parsed).toEqual(signed);
    expect(verifyDigestSignature(parsed, keys.publicKeyPem)).toBe(true);
    // Deterministic: the same digest serialises to the same bytes whatever the member order.
    const reordered = Object.fromEntries(Object.entries(signed).reverse()) as SignedDigest;
    expect(serialiseSignedDigest(reordered)).toBe(text);
    expect(parseSignedDigest(Buffer.from(text))).toEqual(signed);
  });

  it('holds the hour, the files and their time span', () => {
    expect(signed.version).toBe(1);
    expect(signed.hourStart).toBe('2024-03-05T07:00:00.000Z');
    expect(signed.hourEnd).toBe('2024-03-05T08:00:00.000Z');
    expect(signed.files[0]).toMatchObject({ eventCount: 2, firstEventTime: '2024-03-05T07:00:01Z', lastEventTime: '2024-03-05T07:00:02Z' });
    expect(signed.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(signed.previousDigest).toBeNull();
    expect(signed.publicKeyFingerprint).toBe(keys.fingerprint);
  });

  it('fails for any tampered field, another key or a mangled signature', () => {
    const first = signed.files[0];
    if (!first) throw new Error('fixture has a file');
    const tampered: SignedDigest[] = [
      { ...signed, files: [{ ...first, sha256: '0'.repeat(64) }] },
      { ...signed, files: [] },
      { ...signed, files: [{ ...first, eventCount: 3 }] },
      { ...signed, hourStart: '2024-03-05T08:00:00.000Z' },
      { ...signed, trailName: 'other-trail' },
      { ...signed, previousDigest: { key: 'k', sha256: 'a'.repeat(64), signature: signed.signature } },
    ];
    for (const t of tampered) expect(verifyDigestSignature(t, keys.publicKeyPem)).toBe(false);
    expect(verifyDigestSignature(signed, otherKeys.publicKeyPem)).toBe(false);
    expect(verifyDigestSignature({ ...signed, signature: 'AAAA' }, keys.publicKeyPem)).toBe(false);
    const flipped = Buffer.from(signed.signature, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(verifyDigestSignature({ ...signed, signature: flipped.toString('base64') }, keys.publicKeyPem)).toBe(false);
  });

  it('parses strictly', () => {
    expect(() => parseSignedDigest('not json')).toThrow(DigestFormatError);
    expect(() => parseSignedDigest(JSON.stringify({ ...signed, extra: 1 }))).toThrow(DigestFormatError);
    expect(() => parseSignedDigest(JSON.stringify({ ...signed, version: 2 }))).toThrow(DigestFormatError);
    const { signature: _s, ...unsigned } = signed;
    expect(() => parseSignedDigest(JSON.stringify(unsigned))).toThrow(DigestFormatError);
  });

  it('refuses to sign with a key that is not Ed25519 or verify with one', () => {
    expect(() => verifyDigestSignature(signed, 'not a key')).toThrow();
  });
});

describe('digest chain', () => {
  it('links each digest to the stored bytes and signature of the previous one', () => {
    const h0 = new Date('2024-03-05T05:00:00Z');
    const texts: string[] = [];
    const docs: SignedDigest[] = [];
    let previous: PreviousDigestLink | null = null;
    for (let i = 0; i < 3; i++) {
      const hour = new Date(h0.getTime() + i * 3_600_000);
      const key = digestKey({ ...scope, trailName: 'default-trail', hourStart: hour });
      const signed = signDigest(hourDoc(hour, previous), keys.privateKeyPem);
      const text = serialiseSignedDigest(signed);
      texts.push(text);
      docs.push(signed);
      previous = linkTo(key, text);
      expect(previous).toEqual({ key, sha256: digestSha256(text), signature: signed.signature });
    }
    const [d0, d1, d2] = docs as [SignedDigest, SignedDigest, SignedDigest];
    expect(d0.previousDigest).toBeNull();
    expect(d1.previousDigest?.sha256).toBe(digestSha256(texts[0] as string));
    expect(d1.previousDigest?.signature).toBe(d0.signature);
    expect(d2.previousDigest?.sha256).toBe(digestSha256(Buffer.from(texts[1] as string)));
    expect(d2.previousDigest?.key).toBe('audit/AliyunLogs/Actiontrail-Digest/cn-hangzhou/2024/03/05/Actiontrail-Digest_default-trail_cn-hangzhou_2024030506.json');
    // Re-signing a changed middle digest (even with the right key) changes its hash: the link breaks.
    const forged = serialiseSignedDigest(signDigest({ ...d1, files: [] }, keys.privateKeyPem));
    expect(digestSha256(forged)).not.toBe(d2.previousDigest?.sha256);
  });
});
