/**
 * functions/summarize-cron/index.ts called directly with events/timer-summarize.json (no
 * emulator): a summary row is queued through the summary queue store of adapters/wiring.ts, and
 * the window it is folded into is read back from the real Redis.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { windowStartOf, type SummaryRow } from '../../shared/summaries/summary-row.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/summarize-cron/index.ts'))['handler'];

/** A summary row as classify queues it (shared/summaries/summary-row.ts), for the sample's StopInstance by bob. */
function summaryRow(eventTimeMs: number): SummaryRow {
  return {
    eventId: `summary-${randomUUID()}`,
    accountId: SAMPLE_ACCOUNT,
    windowStartMs: windowStartOf(eventTimeMs),
    eventTimeMs,
    dimensions: {
      userName: 'bob',
      identityType: 'ram-user',
      accountId: SAMPLE_ACCOUNT,
      accessKeyId: 'LTAI5tBob0006',
      serviceName: 'Ecs',
      eventName: 'StopInstance',
      apiVersion: '2014-05-26',
      eventRW: 'Write',
      resourceType: 'ACS::ECS::Instance',
      resourceName: 'i-bp1fadfadf0007',
      acsRegion: 'cn-hangzhou',
      sourceIpAddress: '42.120.75.1',
    },
  };
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('summarize-cron'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/summarize-cron/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('summarize-cron handler', () => {
  it('a timer with nothing queued returns an empty, complete report with the trigger time', async () => {
    const report = await invoke(sampleEvent('timer-summarize'));
    expect(report).toMatchObject({ triggerTime: '2026-11-22T02:01:00Z', accounts: 0, read: 0, folded: 0, complete: true });
  });

  it('a timer drains a queued summary row into its 2-hour window and reports it', async () => {
    const eventTimeMs = Date.now() - 60_000;
    const row = summaryRow(eventTimeMs);
    await services.summaryQueue.enqueue(SAMPLE_ACCOUNT, [row]);
    expect(await services.summaryQueue.size(SAMPLE_ACCOUNT)).toBe(1);

    const triggerTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const report = await invoke(sampleEvent('timer-summarize', { triggerTime }));
    expect(report).toMatchObject({ triggerTime, accounts: 1, read: 1, folded: 1, malformed: 0, remaining: 0, complete: true });

    expect(await services.summaryQueue.size(SAMPLE_ACCOUNT)).toBe(0);
    const window = await services.summaries.readWindow([SAMPLE_ACCOUNT], windowStartOf(eventTimeMs));
    expect(window).toHaveLength(1);
    expect(window[0]).toMatchObject({ count: 1, firstMs: eventTimeMs, lastMs: eventTimeMs, dimensions: { userName: 'bob', eventName: 'StopInstance' } });
  });

  it('an OSS event is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('oss-inbox'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/OSS event reached a function that accepts only timer/);
  });
});
