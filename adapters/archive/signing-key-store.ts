/**
 * The digest signing key pair (Ed25519), one per deployment, in Redis:
 *   {tk}:digest:signing-key   hash  privateKeyPem, publicKeyPem, fingerprint, algorithm, createdAt
 * privateKeyPem is sealed (a secret-box envelope under TK_SECRETS_KEY, context
 * `digest-signing-key:<fingerprint>`); the rest is public. A private key an older release stored in
 * plain text is sealed in place the first time it is read.
 * Created once with an atomic create-if-absent script, so concurrent deliverer instances agree on
 * one pair (the loser of a race discards its generated pair and uses the stored one).
 * The private key never leaves this module's callers; never log what ensureSigningKey returns.
 */
import type { RedisClient } from '../redis.ts';
import { z } from 'zod';
import { DIGEST_SIGNATURE_ALGORITHM, generateSigningKeyPair, publicKeyFingerprint, type SigningKeyPair } from '../../shared/archive/digest.ts';
import { isSealed, secretContext, type SecretBox } from '../../shared/crypto/secret-box.ts';
import { sealHashFieldInPlace } from '../redis/sealed-secrets.ts';

/** The purpose the private key is sealed for (with the pair's fingerprint as its record). */
export const SIGNING_KEY_PURPOSE = 'digest-signing-key';
const PRIVATE_KEY_FIELD = 'privateKeyPem';

export const SIGNING_KEY_KEY = '{tk}:digest:signing-key';

const CREATE_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'privateKeyPem', ARGV[1], 'publicKeyPem', ARGV[2], 'fingerprint', ARGV[3], 'algorithm', ARGV[4], 'createdAt', ARGV[5])
return 1`;

const storedPairSchema = z.object({
  /** An envelope (or, written by an older release, the PEM itself). */
  privateKeyPem: z.string().min(1),
  publicKeyPem: z.string().includes('PUBLIC KEY'),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  algorithm: z.literal(DIGEST_SIGNATURE_ALGORITHM),
});

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

function validate({ publicKeyPem, fingerprint }: { publicKeyPem: string; fingerprint: string }, privateKeyPem: string): SigningKeyPair {
  if (!privateKeyPem.includes('PRIVATE KEY')) throw new SigningKeyError(`${SIGNING_KEY_KEY} is malformed (privateKeyPem)`);
  if (publicKeyFingerprint(publicKeyPem) !== fingerprint || publicKeyFingerprint(privateKeyPem) !== fingerprint) {
    throw new SigningKeyError(`${SIGNING_KEY_KEY} holds keys that do not match their fingerprint`);
  }
  return { privateKeyPem, publicKeyPem, fingerprint };
}

/** Opens the stored pair (sealing a plain-text private key of an older release in place). */
async function open(redis: RedisClient, secrets: SecretBox, raw: Record<string, string>): Promise<SigningKeyPair> {
  const parsed = storedPairSchema.safeParse(raw);
  // Field names only: the values are secrets.
  if (!parsed.success) throw new SigningKeyError(`${SIGNING_KEY_KEY} is malformed (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
  const { privateKeyPem: stored, fingerprint } = parsed.data;
  const context = secretContext(SIGNING_KEY_PURPOSE, fingerprint);
  if (isSealed(stored)) return validate(parsed.data, secrets.openText(stored, context));
  const pair = validate(parsed.data, stored);
  await sealHashFieldInPlace(redis, SIGNING_KEY_KEY, PRIVATE_KEY_FIELD, stored, secrets.seal(stored, context));
  return pair;
}

/**
 * The deployment's signing pair, created on first use. Throws SecretBoxError when the private key
 * was sealed with another TK_SECRETS_KEY (the message names the key id it needs).
 */
export async function ensureSigningKey(redis: RedisClient, secrets: SecretBox): Promise<SigningKeyPair> {
  const existing = await redis.hgetall(SIGNING_KEY_KEY);
  if (Object.keys(existing).length > 0) return open(redis, secrets, existing);
  const pair = generateSigningKeyPair();
  const sealed = secrets.seal(pair.privateKeyPem, secretContext(SIGNING_KEY_PURPOSE, pair.fingerprint));
  await redis.eval(CREATE_IF_ABSENT, 1, SIGNING_KEY_KEY, sealed, pair.publicKeyPem, pair.fingerprint, DIGEST_SIGNATURE_ALGORITHM, new Date().toISOString());
  return open(redis, secrets, await redis.hgetall(SIGNING_KEY_KEY));
}

/** The public key (PEM) digests are verified with, or undefined when none was ever created. */
export async function publicKey(redis: RedisClient): Promise<string | undefined> {
  const [pem, fingerprint] = await redis.hmget(SIGNING_KEY_KEY, 'publicKeyPem', 'fingerprint');
  if (!pem) return undefined;
  if (fingerprint && publicKeyFingerprint(pem) !== fingerprint) throw new SigningKeyError(`${SIGNING_KEY_KEY} holds a public key that does not match its fingerprint`);
  return pem;
}

/** The namespace the brief asked for: `signingKeyStore.ensureSigningKey(redis, secrets)`, `signingKeyStore.publicKey(redis)`. */
export const signingKeyStore = { ensureSigningKey, publicKey } as const;
