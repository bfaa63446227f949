/**
 * classifyObject's ports on one Redis for benchmarks that run classify's use case in process
 * (`insights --part classify`, `scale-out --part ceiling`): the product's stores, one trail of
 * `accountId` taking every event, set-asides dropped, and — with the analysis on, as TK_ANALYSIS=on
 * runs it — the per-object fold and the AccessKey audit, failing loudly if the analysis ever went
 * the way round (the analysis queue).
 */
import type { RedisClient } from '../../adapters/redis.ts';
import { RedisAccessKeyAudit } from '../../adapters/redis/accesskey-audit.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { RedisInsightsStore } from '../../adapters/redis/insights-store.ts';
import { RedisObjectMarkers } from '../../adapters/redis/object-markers.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { RedisSummaryQueue } from '../../adapters/redis/summary-queue.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { analyseBatch } from '../../shared/insights/engine.ts';
import type { ClassifyPorts, SetAsidePort } from '../../shared/pipeline/classify-batch.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';

/** A started trail of `accountId` on both destinations' defaults, taking every event. */
export function benchTrail(accountId: string): Trail {
  return trailSchema.parse({
    name: 'bench-trail', accountId, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: 'trailkeeper-archive',
    status: 'Enable', createdAtMs: 0, updatedAtMs: 0, startLoggingTimeMs: 0,
  });
}

/**
 * Creates the stack's bench trail of `accountId` (archive and logstore), started an hour ago: before
 * the event times of a live-stream run (bench/lib/live-stream.ts), so its events are delivered too.
 */
export async function createBenchTrail(redis: RedisClient, accountId: string): Promise<void> {
  const now = Date.now();
  await new RedisTrailStore(redis).create(
    trailSchema.parse({
      name: 'bench-trail',
      accountId,
      homeRegion: 'cn-hangzhou',
      eventRW: 'All',
      ossBucketName: 'trailkeeper-archive',
      slsProjectArn: `acs:log:cn-hangzhou:${accountId}:project/trailkeeper-bench`,
      status: 'Enable',
      createdAtMs: now,
      updatedAtMs: now,
      startLoggingTimeMs: now - 3_600_000,
    }),
  );
}

export function benchClassifyPorts(redis: RedisClient, trail: Trail, analysis: boolean): { ports: ClassifyPorts & SetAsidePort; insights: RedisInsightsStore } {
  const queue = new RedisSummaryQueue(redis);
  const outbox = new RedisOutbox(redis);
  const markers = new RedisObjectMarkers(redis);
  const insights = new RedisInsightsStore(redis);
  const audit = new RedisAccessKeyAudit(redis);
  const ports: ClassifyPorts & SetAsidePort = {
    history: new RedisHistoryStore(redis),
    trailsOf: async () => [trail],
    managementAccountOf: async () => undefined,
    appendOutbox: async (t, entries) => {
      await outbox.append(t, entries);
    },
    enqueueSummaries: (accountId, rows) => queue.enqueue(accountId, rows),
    beginObject: (id) => markers.begin(id),
    finishObject: (id) => markers.finish(id),
    setAside: async () => {},
    ...(analysis
      ? {
          analyse: async (accountId: string, objectId: string, rows: readonly AnalysisRow[]) => {
            const out = await analyseBatch(
              { store: insights, consumers: [audit], queue: (a, q) => queue.enqueue(a, [], q), now: () => Date.now(), warn: (m) => process.stderr.write(`${m}\n`) },
              accountId,
              objectId,
              rows,
            );
            if (out.queued > 0) throw new Error('the analysis went the way round');
          },
        }
      : {}),
  };
  return { ports, insights };
}
