/**
 * Hourly signed digests of a trail's archive (docs/design.md §3.5). Pure; node:crypto only.
 *
 * A digest covers one trail, one scope (region, and for organization trails one member
 * account) and one UTC hour: it lists every archive file delivered in that hour with the
 * SHA-256 of the stored .gz bytes, and links to the previous digest of the same chain by key,
 * SHA-256 of its stored bytes and signature. It is signed with Ed25519.
 *
 * Signature: Ed25519 (RFC 8032, pure, no pre-hash) over the UTF-8 bytes of
 * `canonicalJson(document)` — the document is every field except `signature`. The stored
 * file is `serialiseSignedDigest(signed)` (the canonical JSON of the document plus its
 * `signature`); the next digest's `previousDigest.sha256` is the SHA-256 of exactly those
 * stored bytes (`digestSha256`).
 *
 * Canonical JSON (`canonicalJson`): no whitespace; object members sorted by key in UTF-16
 * code-unit order (JavaScript's default string sort), recursively; array order kept; strings
 * and numbers written as `JSON.stringify` writes them; members whose value is `undefined` are
 * left out; non-finite numbers, bigints, functions and symbols are refused. For the values a
 * digest holds (strings, integers, null, arrays, objects) this is RFC 8785 (JCS).
 *
 * Public-key fingerprint: lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo.
 *
 * How the deliverer writes the digest of hour H (after `digestIsDue(H, now)`, layout.ts):
 *  1. take the files IT delivered in H from its own records (not from a bucket listing, which
 *     would also hold other trails' files and anything inserted) — `describeArchiveFile` per file;
 *  2. `createDigestDocument({ …, files, previous })` where `previous` is the last digest written
 *     for the same trail and scope (`linkTo(key, storedText)`), null only for the first ever;
 *  3. `signDigest(doc, privateKeyPem)`, store `serialiseSignedDigest(signed)` at `digestKey(…)`,
 *     and remember `{ key, text }` as the next `previous`.
 * Write a digest for every hour of a logging trail, with `files: []` when nothing was
 * delivered: a missing hour then shows up as a broken chain.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { HOUR_MS, hourStartOf } from './layout.ts';

export const DIGEST_VERSION = 1;
export const DIGEST_SIGNATURE_ALGORITHM = 'Ed25519';

const isoInstant = z.iso.datetime({ offset: false });
const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' });
const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, { error: 'must be base64' });
const count = z.number().int().nonnegative();

export const digestFileEntrySchema = z.strictObject({
  key: z.string().min(1),
  /** Hex SHA-256 of the stored .gz bytes. */
  sha256: sha256HexSchema,
  size: count,
  eventCount: count,
  /** Earliest and latest `eventTime` of the file's events, as the events carry them. */
  firstEventTime: z.string().min(1),
  lastEventTime: z.string().min(1),
});
export type DigestFileEntry = z.infer<typeof digestFileEntrySchema>;

export const previousDigestLinkSchema = z.strictObject({
  key: z.string().min(1),
  /** Hex SHA-256 of the previous digest's stored bytes. */
  sha256: sha256HexSchema,
  /** The previous digest's `signature`. */
  signature: base64,
});
export type PreviousDigestLink = z.infer<typeof previousDigestLinkSchema>;

export const digestDocumentSchema = z.strictObject({
  version: z.literal(DIGEST_VERSION),
  trailName: z.string().min(1),
  /** The trail's account, or for an organization trail the member account of the scope. */
  accountId: z.string().min(1),
  region: z.string().min(1),
  hourStart: isoInstant,
  hourEnd: isoInstant,
  files: z.array(digestFileEntrySchema),
  previousDigest: previousDigestLinkSchema.nullable(),
  publicKeyFingerprint: sha256HexSchema,
  signedAt: isoInstant,
});
export type DigestDocument = z.infer<typeof digestDocumentSchema>;

export const signedDigestSchema = digestDocumentSchema.extend({ signature: base64 });
export type SignedDigest = z.infer<typeof signedDigestSchema>;

export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  fingerprint: string;
}

export class DigestFormatError extends Error {
  override name = 'DigestFormatError';
}

/** Deterministic JSON (see the header). */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError('canonical JSON holds only plain objects');
      const entries = Object.keys(value)
        .sort()
        .flatMap((k) => {
          const v = (value as Record<string, unknown>)[k];
          return v === undefined ? [] : [`${JSON.stringify(k)}:${canonicalJson(v)}`];
        });
      return `{${entries.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** Lowercase hex SHA-256 of a serialised (stored) digest, as `previousDigest.sha256` holds it. */
export function digestSha256(serialisedSignedDigest: string | Uint8Array): string {
  return createHash('sha256').update(serialisedSignedDigest).digest('hex');
}

/** Lowercase hex SHA-256 of bytes (archive files). */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function publicKeyObject(publicKeyPem: string): KeyObject {
  const key = createPublicKey(publicKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`the digest public key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** Hex SHA-256 of the DER SubjectPublicKeyInfo of a public (or private) key. */
export function publicKeyFingerprint(keyPem: string): string {
  const key = keyPem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(keyPem)) : publicKeyObject(keyPem);
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey, fingerprint: publicKeyFingerprint(publicKey) };
}

function documentOf(doc: DigestDocument | SignedDigest): DigestDocument {
  const { signature: _signature, ...rest } = doc as SignedDigest;
  return rest;
}

/** The bytes a signature covers: the canonical JSON of the document without `signature`. */
export function signedBytes(doc: DigestDocument | SignedDigest): Buffer {
  return Buffer.from(canonicalJson(documentOf(doc)), 'utf8');
}

export function signDigest(doc: DigestDocument, privateKeyPem: string): SignedDigest {
  const document = digestDocumentSchema.parse(documentOf(doc));
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the digest signing key must be Ed25519');
  const signature = sign(null, signedBytes(document), privateKey).toString('base64');
  return { ...document, signature };
}

/**
 * Whether `signed.signature` is a valid Ed25519 signature of the document by `publicKeyPem`.
 * False for a malformed signature; throws only when `publicKeyPem` is not an Ed25519 key.
 */
export function verifyDigestSignature(signed: SignedDigest, publicKeyPem: string): boolean {
  const key = publicKeyObject(publicKeyPem);
  try {
    const signature = Buffer.from(signed.signature, 'base64');
    if (signature.length !== 64) return false;
    return verify(null, signedBytes(signed), key, signature);
  } catch {
    return false;
  }
}

/** The stored form of a signed digest (canonical JSON, UTF-8). */
export function serialiseSignedDigest(signed: SignedDigest): string {
  return canonicalJson(signedDigestSchema.parse(signed));
}

/** Parses stored digest bytes strictly (unknown fields are an error: a v1 digest has exactly these). */
export function parseSignedDigest(stored: string | Uint8Array): SignedDigest {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof stored === 'string' ? stored : Buffer.from(stored).toString('utf8'));
  } catch (error) {
    throw new DigestFormatError(`the digest is not JSON: ${(error as Error).message}`);
  }
  const parsed = signedDigestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DigestFormatError(`the digest is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The `previousDigest` link to a stored digest. */
export function linkTo(key: string, stored: string | Uint8Array): PreviousDigestLink {
  const signed = parseSignedDigest(stored);
  return { key, sha256: digestSha256(stored), signature: signed.signature };
}

/** A digest entry for one stored archive file. */
export function describeArchiveFile(input: { key: string; body: Uint8Array; events: readonly { eventTime: string }[] }): DigestFileEntry {
  if (input.events.length === 0) throw new RangeError('an archive file holds at least one event');
  let first = input.events[0] as { eventTime: string };
  let last = first;
  let firstMs = Date.parse(first.eventTime);
  let lastMs = firstMs;
  for (const event of input.events) {
    const t = Date.parse(event.eventTime);
    if (Number.isNaN(t)) throw new RangeError(`eventTime is not a time: ${JSON.stringify(event.eventTime)}`);
    if (t < firstMs) {
      first = event;
      firstMs = t;
    }
    if (t > lastMs) {
      last = event;
      lastMs = t;
    }
  }
  return {
    key: input.key,
    sha256: sha256Hex(input.body),
    size: input.body.byteLength,
    eventCount: input.events.length,
    firstEventTime: first.eventTime,
    lastEventTime: last.eventTime,
  };
}

export function createDigestDocument(input: {
  trailName: string;
  accountId: string;
  region: string;
  /** Any instant of the covered hour. */
  hour: Date;
  files: readonly DigestFileEntry[];
  previous: PreviousDigestLink | null;
  publicKeyFingerprint: string;
  signedAt?: Date;
}): DigestDocument {
  const hourStart = hourStartOf(input.hour);
  return digestDocumentSchema.parse({
    version: DIGEST_VERSION,
    trailName: input.trailName,
    accountId: input.accountId,
    region: input.region,
    hourStart: hourStart.toISOString(),
    hourEnd: new Date(hourStart.getTime() + HOUR_MS).toISOString(),
    files: [...input.files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    previousDigest: input.previous,
    publicKeyFingerprint: input.publicKeyFingerprint,
    signedAt: (input.signedAt ?? new Date()).toISOString(),
  });
}
