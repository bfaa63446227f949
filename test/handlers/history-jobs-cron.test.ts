/**
 * functions/history-jobs-cron/index.ts called directly with events/timer-history-jobs.json (no
 * emulator): history and a logging trail are written through the stores of adapters/wiring.ts, a
 * job is created through the API's store, and the handler's report, the trail's outboxes and the
 * finished job are read back from the real Redis. TK_FC_ENDPOINT is a closed port here, so the
 * wake-up of the deliverers fails — which the run reports without failing (the entries wait in the
 * outboxes for the deliverers' flush timer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../../shared/classify/classify.ts';
import { actionTrailEventSchema } from '../../shared/events/schema.ts';
import { historyRecordOf } from '../../shared/history/history-store.ts';
import { JOB_STATUS, jobWindow } from '../../shared/history-jobs/history-job.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const DAY = 86_400_000;
const TRAIL = 'handler-history';

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/history-jobs-cron/index.ts'))['handler'];

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('history-jobs-cron'));

/** Puts events into history as classify does. */
async function intoHistory(times: number[]): Promise<string[]> {
  const records = times.map((t) => {
    const result = classifyEvent(actionTrailEventSchema.parse(syntheticEvent(SAMPLE_ACCOUNT, {}, t)));
    if (!result.kept) throw new Error('the synthetic event was dropped');
    const event = result.event as typeof result.event & { eventId: string };
    return historyRecordOf(event, SAMPLE_ACCOUNT, t, { types: resourceTypesOf(event), names: resourceNamesOf(event) });
  });
  await services.history.put(records);
  return records.map((r) => r.eventId);
}

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/history-jobs-cron/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('history-jobs-cron handler', () => {
  it('a timer with no job returns an empty report with the trigger time', async () => {
    const report = await invoke(sampleEvent('timer-history-jobs'));
    expect(report).toMatchObject({ triggerTime: '2026-11-22T02:01:00Z', accounts: 0, pages: 0, appended: 0, errors: [] });
  });

  it("a timer runs a job to its end: the window's events in the trail's outboxes once, the job done", async () => {
    const now = Date.now();
    const start = now - 60_000;
    const trail = trailSchema.parse({
      name: TRAIL,
      accountId: SAMPLE_ACCOUNT,
      homeRegion: 'cn-hangzhou',
      eventRW: 'All',
      slsProjectArn: `acs:log:cn-hangzhou:${SAMPLE_ACCOUNT}:project/trailkeeper`,
      status: 'Enable',
      createdAtMs: start - 1000,
      updatedAtMs: start,
      startLoggingTimeMs: start,
    });
    await services.trails.create(trail);
    const before = await intoHistory([now - 2 * DAY, now - DAY, start - 5000]);
    await intoHistory([start + 1000]); // live delivery's, not the job's
    const outcome = await services.historyJobs.create(SAMPLE_ACCOUNT, { trailName: TRAIL, homeRegion: 'cn-hangzhou', trailCreatedAtMs: trail.createdAtMs, createdMs: now, ...jobWindow(trail, now) }, undefined);
    if (!('created' in outcome)) throw new Error('no job was created');

    const triggerTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const report = await invoke(sampleEvent('timer-history-jobs', { triggerTime }));
    expect(report).toMatchObject({ triggerTime, accounts: 1, appended: 3, finished: 1, errors: [], wakeError: expect.any(String) });
    const queued = await services.outbox.peek(SAMPLE_ACCOUNT, TRAIL, 'logstore', 10);
    expect(queued.map((e) => e.eventId).sort()).toEqual([...before].sort());
    expect(await services.historyJobs.get(SAMPLE_ACCOUNT, outcome.created.jobId)).toMatchObject({ status: JOB_STATUS.done, delivered: 3 });

    // a second run finds no running job and appends nothing
    expect(await invoke(sampleEvent('timer-history-jobs'))).toMatchObject({ accounts: 0, appended: 0 });
    expect(await services.outbox.size(SAMPLE_ACCOUNT, TRAIL, 'logstore')).toBe(3);
  });

  it('an OSS event is refused: the invocation rejects with BadTriggerEventError', async () => {
    await expect(invoke(sampleEvent('oss-inbox'))).rejects.toBeInstanceOf(BadTriggerEventError);
  });
});
