/**
 * The digest signing key pair (Ed25519), one per deployment, in Redis:
 *   {tk}:digest:signing-key   hash  privateKeyPem, publicKeyPem, fingerprint, algorithm, createdAt
 * Created once with an atomic create-if-absent script, so concurrent deliverer instances agree on
 * one pair (the loser of a race discards its generated pair and uses the stored one).
 * The private key never leaves this module's callers; never log what ensureSigningKey returns.
 */
import type { RedisClient } from '../redis.ts';
import { z } from 'zod';
import { DIGEST_SIGNATURE_ALGORITHM, generateSigningKeyPair, publicKeyFingerprint, type SigningKeyPair } from '../../shared/archive/digest.ts';

export const SIGNING_KEY_KEY = '{tk}:digest:signing-key';

const CREATE_IF_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'privateKeyPem', ARGV[1], 'publicKeyPem', ARGV[2], 'fingerprint', ARGV[3], 'algorithm', ARGV[4], 'createdAt', ARGV[5])
return 1`;

const storedPairSchema = z.object({
  privateKeyPem: z.string().includes('PRIVATE KEY'),
  publicKeyPem: z.string().includes('PUBLIC KEY'),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  algorithm: z.literal(DIGEST_SIGNATURE_ALGORITHM),
});

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

function validate(raw: Record<string, string>): SigningKeyPair {
  const parsed = storedPairSchema.safeParse(raw);
  // Field names only: the values are secrets.
  if (!parsed.success) throw new SigningKeyError(`${SIGNING_KEY_KEY} is malformed (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
  const { privateKeyPem, publicKeyPem, fingerprint } = parsed.data;
  if (publicKeyFingerprint(publicKeyPem) !== fingerprint || publicKeyFingerprint(privateKeyPem) !== fingerprint) {
    throw new SigningKeyError(`${SIGNING_KEY_KEY} holds keys that do not match their fingerprint`);
  }
  return { privateKeyPem, publicKeyPem, fingerprint };
}

/** The deployment's signing pair, created on first use. */
export async function ensureSigningKey(redis: RedisClient): Promise<SigningKeyPair> {
  const existing = await redis.hgetall(SIGNING_KEY_KEY);
  if (Object.keys(existing).length > 0) return validate(existing);
  const pair = generateSigningKeyPair();
  await redis.eval(CREATE_IF_ABSENT, 1, SIGNING_KEY_KEY, pair.privateKeyPem, pair.publicKeyPem, pair.fingerprint, DIGEST_SIGNATURE_ALGORITHM, new Date().toISOString());
  return validate(await redis.hgetall(SIGNING_KEY_KEY));
}

/** The public key (PEM) digests are verified with, or undefined when none was ever created. */
export async function publicKey(redis: RedisClient): Promise<string | undefined> {
  const [pem, fingerprint] = await redis.hmget(SIGNING_KEY_KEY, 'publicKeyPem', 'fingerprint');
  if (!pem) return undefined;
  if (fingerprint && publicKeyFingerprint(pem) !== fingerprint) throw new SigningKeyError(`${SIGNING_KEY_KEY} holds a public key that does not match its fingerprint`);
  return pem;
}

/** The namespace the brief asked for: `signingKeyStore.ensureSigningKey(redis)`, `signingKeyStore.publicKey(redis)`. */
export const signingKeyStore = { ensureSigningKey, publicKey } as const;
