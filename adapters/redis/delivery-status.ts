/** Delivery status per trail: `{tk:<accountId>}:delivery:<trail>` hash. */
import type { RedisClient } from '../redis.ts';
import type { DeliveryStatus, DeliveryStatusStore } from '../../shared/delivery/delivery-status.ts';

const key = (accountId: string, trailName: string) => `{tk:${accountId}}:delivery:${trailName}`;

export class RedisDeliveryStatus implements DeliveryStatusStore {
  constructor(private readonly redis: RedisClient) {}

  async get(accountId: string, trailName: string): Promise<DeliveryStatus> {
    const raw = await this.redis.hgetall(key(accountId, trailName));
    const num = (v: string | undefined) => (v ? Number(v) : undefined);
    const status: DeliveryStatus = {};
    const ossTime = num(raw['ossTime']);
    const slsTime = num(raw['logstoreTime']);
    if (ossTime !== undefined) status.latestDeliveryTimeMs = ossTime;
    if (raw['ossError']) status.latestDeliveryError = raw['ossError'];
    if (slsTime !== undefined) status.latestLogstoreDeliveryTimeMs = slsTime;
    if (raw['logstoreError']) status.latestLogstoreDeliveryError = raw['logstoreError'];
    return status;
  }

  async record(accountId: string, trailName: string, destination: 'oss' | 'logstore', outcome: { ok: true; atMs: number } | { ok: false; error: string }): Promise<void> {
    const k = key(accountId, trailName);
    if (outcome.ok) await this.redis.multi().hset(k, `${destination}Time`, String(outcome.atMs)).hdel(k, `${destination}Error`).exec();
    else await this.redis.hset(k, `${destination}Error`, outcome.error.slice(0, 500));
  }
}
