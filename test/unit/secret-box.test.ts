import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError, isSealed, keyIdOf, sealedKeyId, secretContext, secretsKeyProblem, type SecretBoxFailure } from '../../shared/crypto/secret-box.ts';

const KEY = randomBytes(32);
const OTHER_KEY = randomBytes(32);
const SECRET = 'Zq3xHhT0vN9mC2kLp8sYw4RbE6uJdA';
const CONTEXT = secretContext('accesskey', 'LTAI5tExampleKeyId000000');

function failure(action: () => unknown): SecretBoxError {
  try {
    action();
  } catch (error) {
    if (error instanceof SecretBoxError) return error;
    throw error;
  }
  throw new Error('expected a SecretBoxError');
}

function expectFailure(action: () => unknown, reason: SecretBoxFailure): SecretBoxError {
  const error = failure(action);
  expect(error.reason).toBe(reason);
  // messages never carry the key or the secret
  expect(error.message).not.toContain(SECRET);
  expect(error.message).not.toContain(KEY.toString('base64'));
  expect(error.message).not.toContain(OTHER_KEY.toString('base64'));
  return error;
}

/** Replaces one base64url character of the envelope's part `index` (2: nonce, 3: ciphertext). */
function flipPart(envelope: string, index: 2 | 3, at: number): string {
  const parts = envelope.split(':');
  const part = parts[index] as string;
  const c = part[at] as string;
  parts[index] = `${part.slice(0, at)}${c === 'A' ? 'B' : 'A'}${part.slice(at + 1)}`;
  return parts.join(':');
}

describe('SecretBox', () => {
  const box = new SecretBox(KEY);

  it('round-trips text and bytes, with a fresh nonce every time', () => {
    const a = box.seal(SECRET, CONTEXT);
    const b = box.seal(SECRET, CONTEXT);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1:[0-9a-f]{16}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(a).not.toContain(SECRET);
    expect(box.openText(a, CONTEXT)).toBe(SECRET);
    expect(box.openText(b, CONTEXT)).toBe(SECRET);
    const bytes = randomBytes(32);
    expect(box.open(box.seal(bytes, 'lookup-token-key:k'), 'lookup-token-key:k').equals(bytes)).toBe(true);
    expect(box.openText(box.seal('', CONTEXT), CONTEXT)).toBe('');
  });

  it('names the key in the envelope: the first 8 bytes of a labelled SHA-256, the same for the same key', () => {
    expect(box.keyId).toBe(keyIdOf(KEY));
    expect(new SecretBox(Buffer.from(KEY)).keyId).toBe(box.keyId);
    expect(new SecretBox(OTHER_KEY).keyId).not.toBe(box.keyId);
    expect(sealedKeyId(box.seal(SECRET, CONTEXT))).toBe(box.keyId);
  });

  it('another key: a clear error naming the key id the value needs and the one supplied', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    const other = new SecretBox(OTHER_KEY);
    const error = expectFailure(() => other.open(sealed, CONTEXT), 'wrong-key');
    expect(error.sealedWithKeyId).toBe(box.keyId);
    expect(error.message).toContain(`secrets key ${box.keyId}`);
    expect(error.message).toContain(`TK_SECRETS_KEY is key ${other.keyId}`);
    expect(error.message).toContain(CONTEXT);
    // a forged key id (the other key's) does not get past GCM either
    const forged = sealed.replace(box.keyId, other.keyId);
    expectFailure(() => other.open(forged, CONTEXT), 'not-authentic');
  });

  it('a tampered ciphertext, tag or nonce fails authentication', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    const body = sealed.split(':')[3] as string;
    expectFailure(() => box.open(flipPart(sealed, 3, 0), CONTEXT), 'not-authentic'); // ciphertext
    expectFailure(() => box.open(flipPart(sealed, 3, body.length - 2), CONTEXT), 'not-authentic'); // tag
    expectFailure(() => box.open(flipPart(sealed, 2, 0), CONTEXT), 'not-authentic'); // nonce
    const truncated = `${sealed.split(':').slice(0, 3).join(':')}:${body.slice(0, 22)}`; // tag cut short
    expectFailure(() => box.open(truncated, CONTEXT), 'not-authentic');
  });

  it('a ciphertext moved to another record or purpose does not open there', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    const error = expectFailure(() => box.open(sealed, secretContext('accesskey', 'LTAI5tAnotherKeyId000000')), 'not-authentic');
    expect(error.message).toContain('belongs to another record');
    expectFailure(() => box.open(sealed, secretContext('digest-signing-key', 'LTAI5tExampleKeyId000000')), 'not-authentic');
  });

  it('malformed envelopes and other versions are refused with their reason', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    const [, keyId, nonce, body] = sealed.split(':') as [string, string, string, string];
    for (const bad of ['', SECRET, 'v1:', `v1:${keyId}:${nonce}`, `v1:${keyId}:${nonce}:${body}:extra`, `v1:${keyId.toUpperCase()}:${nonce}:${body}`, `v1:${keyId}:${nonce}=:${body}`]) {
      expectFailure(() => box.open(bad, CONTEXT), 'malformed');
    }
    expectFailure(() => box.open(`v1:${keyId}:${nonce.slice(0, 8)}:${body}`, CONTEXT), 'malformed'); // a 6-byte nonce
    expectFailure(() => box.open(`v1:${keyId}:${nonce}:AAAA`, CONTEXT), 'malformed'); // shorter than a tag
    const v2 = expectFailure(() => box.open(`v2:${keyId}:${nonce}:${body}`, CONTEXT), 'unsupported-version');
    expect(v2.message).toContain('version v2');
  });

  it('tells sealed values from the plain text older releases stored', () => {
    expect(isSealed(box.seal(SECRET, CONTEXT))).toBe(true);
    expect(isSealed(SECRET)).toBe(false);
    expect(isSealed('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI…')).toBe(false);
    expect(isSealed(randomBytes(32).toString('base64'))).toBe(false);
  });

  it('never shows its key when logged or serialised', () => {
    for (const shown of [inspect(box, { showHidden: true, depth: 5 }), JSON.stringify(box), JSON.stringify({ box }), String(Object.entries(box))]) {
      expect(shown).not.toContain(KEY.toString('base64'));
      expect(shown).not.toContain(KEY.toString('hex'));
    }
    expect(inspect(box)).toContain(box.keyId);
  });
});

describe('secrets key (TK_SECRETS_KEY)', () => {
  it('is the base64 of exactly 32 bytes; the problem names the variable, never the value', () => {
    const good = KEY.toString('base64');
    expect(secretsKeyProblem(good)).toBeUndefined();
    expect(secretsKeyProblem(`${good}\n`)).toBeUndefined(); // a key file's trailing newline
    expect(SecretBox.fromBase64(`${good}\n`).keyId).toBe(keyIdOf(KEY));
    const cases: Array<[string, RegExp]> = [
      ['', /TK_SECRETS_KEY is empty/],
      [randomBytes(16).toString('base64'), /TK_SECRETS_KEY decodes to 16 bytes/],
      [randomBytes(33).toString('base64'), /TK_SECRETS_KEY decodes to 33 bytes/],
      [`${good.slice(0, 40)}!!!=`, /TK_SECRETS_KEY is not base64/],
      [KEY.toString('hex'), /TK_SECRETS_KEY decodes to 48 bytes/],
    ];
    for (const [value, message] of cases) {
      const problem = secretsKeyProblem(value);
      expect(problem).toMatch(message);
      if (value) expect(problem).not.toContain(value);
      const error = failure(() => SecretBox.fromBase64(value));
      expect(error.message).toMatch(message);
      if (value) expect(error.message).not.toContain(value);
    }
    expect(secretsKeyProblem('x', 'MY_KEY')).toMatch(/^MY_KEY /);
    expect(() => new SecretBox(randomBytes(31))).toThrow(/32 bytes/);
  });
});
