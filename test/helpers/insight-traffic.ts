/**
 * Traffic for the Insights integration tests (docs/design.md §3.9): a day of steady baseline with
 * past eventTimes (so ingest builds the baseline at once) and a burst of DeleteInstance in the
 * minute that just completed, from a new IP with a new AccessKey — far above the baseline for
 * ApiCallRateInsight (`Ecs:DeleteInstance`), new for IpInsight and AkInsight.
 */
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import type { RedisClient } from '../../adapters/redis.ts';
import { RedisInsightsStore } from '../../adapters/redis/insights-store.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const BURST_IP = '203.0.113.9';
export const BURST_KEY = 'LTAI5tBurstKey0001';
export const BURST_SIZE = 35;
export const BURST_API = 'Ecs:DeleteInstance';

type Json = Record<string, unknown>;

export function insightEvent(accountId: string, n: number, time: number, over: Json = {}, identity: Json = {}): Json {
  const e = sampleEvent(accountId, n, new Date(time));
  return { ...e, ...over, userIdentity: { ...(e['userIdentity'] as object), ...identity } };
}

/** Steady traffic over the last 25 hours: a write and a read every 10 minutes from two known IPs. */
export function baselineTraffic(accountId: string, nowMs = Date.now()): Json[] {
  const out: Json[] = [];
  for (let t = nowMs - 25 * HOUR, n = 0; t < nowMs - 5 * MIN; t += 10 * MIN, n += 2) {
    const identity = { accessKeyId: 'LTAI5tSteadyKey0001', userName: 'alice' };
    out.push(insightEvent(accountId, n, t, { eventName: 'StartInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: '10.0.0.1' }, identity));
    out.push(insightEvent(accountId, n + 1, t + 1000, { eventName: 'DescribeInstances', eventRW: 'Read', serviceName: 'Ecs', sourceIpAddress: '10.0.0.2' }, identity));
  }
  return out;
}

/** BURST_SIZE DeleteInstance calls in the minute that just completed, from `ip` (default BURST_IP) with BURST_KEY. */
export function burstTraffic(accountId: string, nowMs = Date.now(), ip = BURST_IP, firstN = 100_000): Json[] {
  const minute = Math.floor(nowMs / MIN) * MIN - MIN;
  return Array.from({ length: BURST_SIZE }, (_v, i) =>
    insightEvent(accountId, firstN + i, minute + i * 1000, { eventName: 'DeleteInstance', eventRW: 'Write', serviceName: 'Ecs', sourceIpAddress: ip }, { accessKeyId: BURST_KEY, userName: 'mallory' }),
  );
}

/** Rows the account's Insights counters have counted so far: classify folds each batch's new events as it classifies them. */
export async function countedRows(redis: RedisClient, accountId: string): Promise<number> {
  return (await new RedisInsightsStore(redis).meta(accountId)).counted;
}
