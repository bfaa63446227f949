/**
 * Accounts, AccessKeys, signature nonces and the organization directory on Redis.
 * Keys (one hash tag, `{tk:auth}`: the directory is small and read on every signed request):
 *   {tk:auth}:ak:<AccessKeyId>        hash  the key record
 *   {tk:auth}:account:<id>:keys       set   AccessKeyIds of an account
 *   {tk:auth}:org:member              hash  member account → management account
 *   {tk:auth}:org:<management>:members set
 *   {tk:auth}:org:id                  hash  management account → organization id
 * Nonces: {tk:nonce:<AccessKeyId>}:<nonce> with a TTL (spread over the cluster by key).
 * Listing every key scans every master (`scanKeys`): a tool's operation, not a request's.
 */
import { scanKeys, type RedisClient } from '../redis.ts';
import { AccessKeySchema, newAccessKey, summaryOf, type AccessKey, type AccessKeySummary, type AccountStore } from '../../shared/accounts/accounts.ts';
import type { KeyLookup, NonceStore } from '../../shared/auth/verify.ts';

const P = '{tk:auth}';

export class RedisAccountStore implements AccountStore {
  constructor(private readonly redis: RedisClient) {}

  async createKey(accountId: string): Promise<AccessKey> {
    const key = newAccessKey(accountId);
    await this.redis
      .multi()
      .hset(`${P}:ak:${key.accessKeyId}`, key)
      .sadd(`${P}:account:${key.accountId}:keys`, key.accessKeyId)
      .exec();
    return key;
  }

  async getKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const raw = await this.redis.hgetall(`${P}:ak:${accessKeyId}`);
    if (!raw['accessKeyId']) return undefined;
    const parsed = AccessKeySchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async listKeys(accountId?: string): Promise<AccessKeySummary[]> {
    const ids = accountId
      ? await this.redis.smembers(`${P}:account:${accountId}:keys`)
      : (await scanKeys(this.redis, `${P}:ak:*`)).map((k) => k.slice(`${P}:ak:`.length));
    const keys = await Promise.all(ids.map((id) => this.getKey(id)));
    return keys.filter((k): k is AccessKey => k !== undefined).map(summaryOf).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async setKeyStatus(accessKeyId: string, status: AccessKey['status']): Promise<boolean> {
    if (!(await this.getKey(accessKeyId))) return false;
    await this.redis.hset(`${P}:ak:${accessKeyId}`, 'status', status);
    return true;
  }

  async deleteKey(accessKeyId: string): Promise<boolean> {
    const key = await this.getKey(accessKeyId);
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
