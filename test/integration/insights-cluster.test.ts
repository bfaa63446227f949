/**
 * Insights (docs/design.md §3.9) on a three-master Redis Cluster through the emulator: the
 * anomaly of test/integration/insights.test.ts — a day of backfilled baseline, then a burst of
 * DeleteInstance from a new IP with a new AccessKey — opens the same insights (ApiCallRate, Ip,
 * and Ak twice: the key's rate and its new network), each once, with the same statistics, however often insights-cron runs. Every script of the
 * drain and the evaluation touches one account's slot; the two global sets share the `{tk}` slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { createRedisClient, isCluster, type RedisClient } from '../../adapters/redis.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { analysisQueueKey } from '../../adapters/redis/analysis-queue.ts';
import { EVALUATION_ACCOUNTS_KEY } from '../../adapters/redis/insights-store.ts';
import { BURST_API, BURST_IP, BURST_KEY, BURST_SIZE, baselineTraffic, burstTraffic, countedRows } from '../helpers/insight-traffic.ts';
import { REDIS_BACKENDS } from '../helpers/redis-backends.ts';
import { internalAuth, productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const ACCOUNT = '7234567890123456';

interface InsightJson {
  eventType: string;
  recipientAccountId: string;
  insightDetails: { state: string; insightType: string; insightObject: string; insightContext: { statistics: Record<string, number> } };
}

let stack: TestStack;
let redis: RedisClient;
let key: Credentials;

async function rpc(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, key, params);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Fires insights-cron's timer and waits for that invocation to finish. */
async function runCron(): Promise<void> {
  const requestId = await stack.emulator.fireTimer('insights-cron', 'every-minute');
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 30_000, 'insights-cron');
}

// TK_TEST_REDIS=standalone leaves the cluster runs out
describe.runIf(REDIS_BACKENDS.includes('cluster'))('Insights on a Redis Cluster', () => {
  beforeAll(async () => {
    stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'], redis: 'cluster' });
    redis = createRedisClient(stack.redisUrl);
    key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('the burst opens the same ApiCallRate, Ip and Ak insights as on one server, each once across runs', async () => {
    expect(isCluster(redis)).toBe(true);
    // the test's recorded API calls come from loopback: allowlisted, so only the burst's IP is new
    expect((await rpc({ Action: 'PutInsightIpAllowlist', IpAllowlist: '["127.0.0.0/8","::1"]' })).status).toBe(200);
    for (const type of ['ApiCallRateInsight', 'IpInsight', 'AkInsight']) expect((await rpc({ Action: 'EnableInsight', InsightType: type })).status).toBe(200);

    const now = Date.now();
    const traffic = [...baselineTraffic(ACCOUNT, now), ...burstTraffic(ACCOUNT, now)];
    const before = await countedRows(redis, ACCOUNT);
    for (let i = 0; i < traffic.length; i += 200) {
      const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(traffic.slice(i, i + 200)));
      expect(res.status).toBe(200);
    }
    await waitUntil(async () => {
      if ((await countedRows(redis, ACCOUNT)) >= before + traffic.length) return true;
      // a batch whose analysis failed in classify went the way round: insights-cron's drain counts it
      if ((await redis.hlen(analysisQueueKey(ACCOUNT))) > 0) await runCron();
      return undefined;
    }, 60_000, 'the traffic counted');
    expect(await redis.sismember(EVALUATION_ACCOUNTS_KEY, ACCOUNT)).toBe(1);

    const burstObjects = new Set([BURST_API, BURST_IP, BURST_KEY]);
    const burstStarts = async (): Promise<InsightJson[]> => {
      const events = ((await rpc({ Action: 'LookupInsightEvents', MaxResults: '50' })).body['Events'] ?? []) as InsightJson[];
      return events.filter((e) => e.insightDetails.state === 'Start' && burstObjects.has(e.insightDetails.insightObject));
    };
    await runCron();
    const starts = await waitUntil(async () => {
      const found = await burstStarts();
      return found.length >= 4 ? found : undefined;
    }, 30_000, 'the burst insights');
    // AkInsight twice, as on one server: the key's rate, and the key from a network it never used
    expect(starts.map((e) => [e.insightDetails.insightType, e.insightDetails.insightObject]).sort()).toEqual([
      ['AkInsight', BURST_KEY],
      ['AkInsight', BURST_KEY],
      ['ApiCallRateInsight', BURST_API],
      ['IpInsight', BURST_IP],
    ]);
    const rate = starts.find((e) => e.insightDetails.insightType === 'ApiCallRateInsight');
    expect(rate).toMatchObject({ eventType: 'ActionTrailInsight', recipientAccountId: ACCOUNT });
    expect(rate?.insightDetails.insightContext.statistics).toMatchObject({ insightCount: BURST_SIZE, insightDuration: 1, baselineDuration: 1440 });
    expect(await redis.hlen(analysisQueueKey(ACCOUNT))).toBe(0);

    // a second run (a second second: the emulator keys timer invocations by the second) opens none again
    await new Promise((r) => setTimeout(r, 1100));
    await runCron();
    expect(await burstStarts()).toHaveLength(4);
  }, 150_000);
});
