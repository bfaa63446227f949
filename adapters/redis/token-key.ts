/** The server secret NextTokens are signed with: created once, shared by every instance. */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis.ts';

export const TOKEN_KEY_KEY = '{tk}:lookup:token-key';

export async function lookupTokenKey(redis: RedisClient): Promise<Buffer> {
  await redis.set(TOKEN_KEY_KEY, randomBytes(32).toString('base64'), 'NX');
  const stored = await redis.get(TOKEN_KEY_KEY);
  if (!stored) throw new Error('the NextToken key could not be read');
  return Buffer.from(stored, 'base64');
}
