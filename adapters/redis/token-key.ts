/**
 * The server secret NextTokens are signed with: created once, shared by every instance.
 *   {tk}:lookup:token-key   string  a secret-box envelope of 32 random bytes (TK_SECRETS_KEY,
 *                                   context `lookup-token-key:{tk}:lookup:token-key`)
 * A key an older release stored in plain text (base64) is sealed in place the first time it is read.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis.ts';
import { isSealed, secretContext, type SecretBox } from '../../shared/crypto/secret-box.ts';
import { sealStringInPlace } from './sealed-secrets.ts';

export const TOKEN_KEY_KEY = '{tk}:lookup:token-key';
export const TOKEN_KEY_PURPOSE = 'lookup-token-key';
const TOKEN_KEY_BYTES = 32;
const CONTEXT = secretContext(TOKEN_KEY_PURPOSE, TOKEN_KEY_KEY);

export class TokenKeyError extends Error {
  override name = 'TokenKeyError';
}

/** The NextToken HMAC key. Throws SecretBoxError when it was sealed with another TK_SECRETS_KEY. */
export async function lookupTokenKey(redis: RedisClient, secrets: SecretBox): Promise<Buffer> {
  await redis.set(TOKEN_KEY_KEY, secrets.seal(randomBytes(TOKEN_KEY_BYTES), CONTEXT), 'NX');
  const stored = await redis.get(TOKEN_KEY_KEY);
  if (!stored) throw new TokenKeyError(`${TOKEN_KEY_KEY} could not be read`);
  if (isSealed(stored)) return secrets.open(stored, CONTEXT);
  // written by a release before secrets were sealed: the base64 of the key
  const key = Buffer.from(stored, 'base64');
  if (key.length !== TOKEN_KEY_BYTES) throw new TokenKeyError(`${TOKEN_KEY_KEY} is malformed (not a sealed key, nor the base64 of ${TOKEN_KEY_BYTES} bytes)`);
  await sealStringInPlace(redis, TOKEN_KEY_KEY, stored, secrets.seal(key, CONTEXT));
  return key;
}
