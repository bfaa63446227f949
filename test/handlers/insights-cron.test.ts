/**
 * functions/insights-cron/index.ts called directly with a timer payload cloned from events/
 * (events/timer-insights.json, cloned per case; no emulator):
 * an analysis row is queued through the summary queue store of adapters/wiring.ts as classify
 * queues it, and the handler's report, the emptied queue, the AccessKey audit and the insight
 * event it opened are read back from the real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import { analysisQueueKey } from '../../adapters/redis/analysis-queue.ts';
import type { Services } from '../../adapters/wiring.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { analysisRow } from '../helpers/analysis-rows.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

const MIN = 60_000;
const TRAIL_NAME = 'handler-trail';
const CALLER_KEY = 'LTAI5tHandlerCallerKey01';

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/insights-cron/index.ts'))['handler'];

/** insights-cron's timer payload (s.yaml: trigger `every-minute`, payload `{"reason":"insights"}`). */
const timer = (override: Record<string, unknown> = {}) => sampleEvent('timer-insights', override);
const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('insights-cron'));

/** A successful StopLogging of TRAIL_NAME in the minute that just completed, as classify queues it. */
function stopLoggingRow(): AnalysisRow {
  const lastMinute = Math.floor(Date.now() / MIN) * MIN - MIN;
  return analysisRow({
    accountId: SAMPLE_ACCOUNT,
    eventTimeMs: lastMinute + 1000,
    eventName: 'StopLogging',
    serviceName: 'Actiontrail',
    eventRW: 'Write',
    sourceIpAddress: '192.0.2.44',
    accessKeyId: CALLER_KEY,
    requestParameters: { Name: TRAIL_NAME },
    resources: [{ type: 'ACS::ActionTrail::Trail', name: TRAIL_NAME }],
  });
}

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/insights-cron/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('insights-cron handler', () => {
  it('a timer with nothing queued returns an empty report with the trigger time', async () => {
    const report = await invoke(timer());
    expect(report).toMatchObject({ triggerTime: '2026-11-22T02:01:00Z', accounts: 0, read: 0, counted: 0, malformed: 0, remaining: 0, evaluated: 0, started: 0 });
  });

  it('a timer folds a queued analysis row exactly once, feeds the AccessKey audit and opens the insight it shows', async () => {
    await services.insights.setType(SAMPLE_ACCOUNT, 'TrailConcealmentInsight', true);
    const row = stopLoggingRow();
    await services.summaryQueue.enqueue(SAMPLE_ACCOUNT, [], [row]);
    expect(await services.redis.hlen(analysisQueueKey(SAMPLE_ACCOUNT))).toBe(1);

    const triggerTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const report = await invoke(timer({ triggerTime }));
    expect(report).toMatchObject({ triggerTime, accounts: 1, batches: 1, read: 1, counted: 1, duplicates: 0, malformed: 0, remaining: 0, evaluated: 1, started: 1, ended: 0, open: 1 });

    // the queue is empty, the key's last use is the row, the insight event is stored
    expect(await services.redis.hlen(analysisQueueKey(SAMPLE_ACCOUNT))).toBe(0);
    expect(await services.accessKeyAudit.lastUse(SAMPLE_ACCOUNT, CALLER_KEY, Date.now())).toMatchObject({ usedMs: row.eventTimeMs, eventName: 'StopLogging', sourceIpAddress: '192.0.2.44' });
    const stored = await services.insights.page(SAMPLE_ACCOUNT, { startMs: row.eventTimeMs - 2 * MIN, endMs: Date.now() + MIN, limit: 10 });
    expect(stored.events.map((json) => JSON.parse(json) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ eventType: 'ActionTrailInsight', recipientAccountId: SAMPLE_ACCOUNT, insightDetails: expect.objectContaining({ state: 'Start', insightType: 'TrailConcealmentInsight', insightObject: TRAIL_NAME }) }),
    ]);

    // a second run has nothing to read and opens nothing again (the insight stays open)
    const again = await invoke(timer());
    expect(again).toMatchObject({ read: 0, counted: 0, started: 0 });
  });

  it('an OSS event is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('oss-inbox'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/OSS event reached a function that accepts only timer/);
  });
});
