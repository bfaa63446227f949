/**
 * Accounts, AccessKeys, signature nonces and the organization directory on Redis.
 * Keys (one hash tag, `{tk:auth}`: the directory is small and read on every signed request):
 *   {tk:auth}:ak:<AccessKeyId>        hash  the key record: accessKeyId, accountId, status, createdAt in
 *                                           plain text; accessKeySecret sealed (a secret-box envelope,
 *                                           context `accesskey:<AccessKeyId>`, TK_SECRETS_KEY)
 *   {tk:auth}:account:<id>:keys       set   AccessKeyIds of an account
 *   {tk:auth}:org:member              hash  member account → management account
 *   {tk:auth}:org:<management>:members set
 *   {tk:auth}:org:id                  hash  management account → organization id
 * Nonces: {tk:nonce:<AccessKeyId>}:<nonce> with a TTL (spread over the cluster by key).
 * Listing every key scans every master (`scanKeys`): a tool's operation, not a request's.
 * A secret an older release stored in plain text is sealed in place the first time it is read.
 * Listing, disabling and deleting keys never open a secret.
 */
import { scanKeys, type RedisClient } from '../redis.ts';
import {
  ACCESS_KEY_SECRET_PURPOSE,
  AccessKeySchema,
  AccessKeySummarySchema,
  newAccessKey,
  type AccessKey,
  type AccessKeySummary,
  type AccountStore,
} from '../../shared/accounts/accounts.ts';
import type { KeyLookup, NonceStore } from '../../shared/auth/verify.ts';
import { isSealed, secretContext, type SecretBox } from '../../shared/crypto/secret-box.ts';
import { sealHashFieldInPlace } from './sealed-secrets.ts';

const P = '{tk:auth}';
const SECRET_FIELD = 'accessKeySecret';

function secretContextOf(accessKeyId: string): string {
  return secretContext(ACCESS_KEY_SECRET_PURPOSE, accessKeyId);
}

export class RedisAccountStore implements AccountStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly secrets: SecretBox,
  ) {}

  async createKey(accountId: string): Promise<AccessKey> {
    const key = newAccessKey(accountId);
    const stored: Record<string, string> = { ...key, [SECRET_FIELD]: this.secrets.seal(key.accessKeySecret, secretContextOf(key.accessKeyId)) };
    await this.redis
      .multi()
      .hset(`${P}:ak:${key.accessKeyId}`, stored)
      .sadd(`${P}:account:${key.accountId}:keys`, key.accessKeyId)
      .exec();
    return key;
  }

  /**
   * The key with its secret opened. Throws SecretBoxError when the secret was sealed with another
   * TK_SECRETS_KEY (the message names the key id it needs) or does not open for this record.
   */
  async getKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const redisKey = `${P}:ak:${accessKeyId}`;
    const raw = await this.redis.hgetall(redisKey);
    if (!raw['accessKeyId']) return undefined;
    const stored = raw[SECRET_FIELD];
    if (stored === undefined) return undefined;
    let secret: string;
    if (isSealed(stored)) {
      secret = this.secrets.openText(stored, secretContextOf(accessKeyId));
    } else {
      // written by a release before secrets were sealed: seal it now
      secret = stored;
      await sealHashFieldInPlace(this.redis, redisKey, SECRET_FIELD, stored, this.secrets.seal(stored, secretContextOf(accessKeyId)));
    }
    const parsed = AccessKeySchema.safeParse({ ...raw, [SECRET_FIELD]: secret });
    return parsed.success && parsed.data.accessKeyId === accessKeyId ? parsed.data : undefined;
  }

  private async getSummary(accessKeyId: string): Promise<AccessKeySummary | undefined> {
    const raw = await this.redis.hgetall(`${P}:ak:${accessKeyId}`);
    if (!raw['accessKeyId'] || raw[SECRET_FIELD] === undefined) return undefined;
    const parsed = AccessKeySummarySchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async listKeys(accountId?: string): Promise<AccessKeySummary[]> {
    const ids = accountId
      ? await this.redis.smembers(`${P}:account:${accountId}:keys`)
      : (await scanKeys(this.redis, `${P}:ak:*`)).map((k) => k.slice(`${P}:ak:`.length));
    const keys = await Promise.all(ids.map((id) => this.getSummary(id)));
    return keys.filter((k): k is AccessKeySummary => k !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async setKeyStatus(accessKeyId: string, status: AccessKey['status']): Promise<boolean> {
    if (!(await this.getSummary(accessKeyId))) return false;
    await this.redis.hset(`${P}:ak:${accessKeyId}`, 'status', status);
    return true;
  }

  async deleteKey(accessKeyId: string): Promise<boolean> {
    const key = await this.getSummary(accessKeyId);
    if (!key) return false;
    await this.redis.multi().del(`${P}:ak:${accessKeyId}`).srem(`${P}:account:${key.accountId}:keys`, accessKeyId).exec();
    return true;
  }

  async addMember(managementAccountId: string, memberAccountId: string, organizationId?: string): Promise<void> {
    const orgId = organizationId ?? (await this.organizationIdOf(managementAccountId)) ?? `rd-${managementAccountId.slice(-6)}`;
    await this.redis
      .multi()
      .hset(`${P}:org:member`, memberAccountId, managementAccountId)
      .sadd(`${P}:org:${managementAccountId}:members`, memberAccountId)
      .hsetnx(`${P}:org:id`, managementAccountId, orgId)
      .exec();
  }

  async removeMember(memberAccountId: string): Promise<boolean> {
    const management = await this.managementAccountOf(memberAccountId);
    if (!management) return false;
    await this.redis.multi().hdel(`${P}:org:member`, memberAccountId).srem(`${P}:org:${management}:members`, memberAccountId).exec();
    return true;
  }

  async managementAccountOf(accountId: string): Promise<string | undefined> {
    return (await this.redis.hget(`${P}:org:member`, accountId)) ?? undefined;
  }

  async membersOf(managementAccountId: string): Promise<string[]> {
    return (await this.redis.smembers(`${P}:org:${managementAccountId}:members`)).sort();
  }

  async organizationIdOf(managementAccountId: string): Promise<string | undefined> {
    return (await this.redis.hget(`${P}:org:id`, managementAccountId)) ?? undefined;
  }

  /** The signature verifier's view of the keys. */
  keyLookup(): KeyLookup {
    return async (accessKeyId) => {
      const key = await this.getKey(accessKeyId);
      return key ? { accountId: key.accountId, accessKeySecret: key.accessKeySecret, enabled: key.status === 'Active' } : null;
    };
  }
}

export function redisNonceStore(redis: RedisClient): NonceStore {
  return {
    claim: async (accessKeyId, nonce, ttlSeconds) =>
      (await redis.set(`{tk:nonce:${accessKeyId}}:${nonce}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK',
  };
}
