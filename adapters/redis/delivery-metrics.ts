/**
 * Delivery metrics on Redis (shared/delivery/delivery-metrics.ts): per trail and UTC day one hash,
 *   {tk:<account>}:dmetric:<trail>:<day>   field `<metric>:<minute of the day>` → count
 * incremented by the deliverers (one HINCRBY and an expiry per batch) and expiring
 * DELIVERY_METRICS_RETENTION_DAYS after its day ends.
 */
import type { RedisClient } from '../redis.ts';
import { DELIVERY_METRICS_RETENTION_DAYS, MINUTE_MS, type DeliveryMetric, type DeliveryMetricsPort, type DeliveryMetricsReader } from '../../shared/delivery/delivery-metrics.ts';

const DAY_MS = 86_400_000;
const key = (accountId: string, trailName: string, day: number) => `{tk:${accountId}}:dmetric:${trailName}:${day}`;

/** Where a count at `atMs` goes: the day's hash, the minute's field, and when the hash expires (for scripts that count with other writes). */
export function metricCounter(accountId: string, trailName: string, metric: DeliveryMetric, atMs: number): { key: string; field: string; expireAtMs: number } {
  const day = Math.floor(atMs / DAY_MS);
  return {
    key: key(accountId, trailName, day),
    field: `${metric}:${Math.floor((atMs - day * DAY_MS) / MINUTE_MS)}`,
    expireAtMs: (day + 1 + DELIVERY_METRICS_RETENTION_DAYS) * DAY_MS,
  };
}

export class RedisDeliveryMetrics implements DeliveryMetricsPort, DeliveryMetricsReader {
  constructor(private readonly redis: RedisClient) {}

  async add(accountId: string, trailName: string, metric: DeliveryMetric, count: number, atMs: number): Promise<void> {
    if (count <= 0) return;
    const counter = metricCounter(accountId, trailName, metric, atMs);
    await this.redis.multi().hincrby(counter.key, counter.field, count).pexpireat(counter.key, counter.expireAtMs).exec();
  }

  async perMinute(accountId: string, trailName: string, metric: DeliveryMetric, fromMs: number, toMs: number): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const days: number[] = [];
    for (let day = Math.floor(fromMs / DAY_MS); day * DAY_MS < toMs; day++) days.push(day);
    const hashes = await Promise.all(days.map((day) => this.redis.hgetall(key(accountId, trailName, day))));
    const prefix = `${metric}:`;
    hashes.forEach((fields, i) => {
      const dayStart = (days[i] as number) * DAY_MS;
      for (const [field, value] of Object.entries(fields)) {
        if (!field.startsWith(prefix)) continue;
        const minute = dayStart + Number(field.slice(prefix.length)) * MINUTE_MS;
        if (minute >= fromMs - (fromMs % MINUTE_MS) && minute < toMs) out.set(minute, (out.get(minute) ?? 0) + Number(value));
      }
    });
    return out;
  }
}
