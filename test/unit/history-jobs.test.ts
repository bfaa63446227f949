/**
 * History delivery jobs without I/O: the window and the trail checks, a history page turned into
 * a trail's outbox entries (the boundary with live delivery at the trail's StartLoggingTime), the
 * API's parameters, and the runner over an in-memory history and store — each event appended once
 * when runs are cut between pages, crash before an append, or race.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import type { HistoryCursor, HistoryQuery, HistoryScanPage } from '../../shared/history/history-store.ts';
import { HISTORY_JOB_WINDOW_MS, JOB_STATUS, jobEntriesOf, jobWindow, needsClaim, refusalOf, type HistoryJob } from '../../shared/history-jobs/history-job.ts';
import {
  createDeliveryHistoryJob,
  deleteDeliveryHistoryJob,
  getDeliveryHistoryJob,
  listDeliveryHistoryJobs,
  type CreateOutcome,
  type HistoryJobApiPorts,
} from '../../shared/history-jobs/history-job-api.ts';
import { HISTORY_JOB_OUTBOX_CEILING, HISTORY_JOB_PAGE_SIZE, HISTORY_JOB_RUN_BUDGET_MS, runHistoryJobs, type AdvanceStep, type HistoryJobRunPorts } from '../../shared/history-jobs/run-history-jobs.ts';
import { trailSchema, type Trail, type TrailInput } from '../../shared/trails/model.ts';
import { syntheticEvent, type Json } from '../helpers/synthetic-event.ts';

const ACCOUNT = '1234567890123456';
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-03T12:00:00Z');
const START = NOW - 10 * 60_000;

function trail(input: Partial<TrailInput> = {}): Trail {
  return trailSchema.parse({
    name: 'new-trail',
    accountId: ACCOUNT,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    trailRegion: 'All',
    slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper`,
    ossBucketName: 'trail-archive',
    status: 'Enable',
    createdAtMs: START - 60_000,
    updatedAtMs: START,
    startLoggingTimeMs: START,
    ...input,
  });
}

/** A stored (classified) event at `timeMs`. */
function stored(timeMs: number, overrides: Json = {}): Json {
  return syntheticEvent(ACCOUNT, overrides, timeMs);
}

describe('the window and the trail checks', () => {
  it('covers the 90 days before the trail started logging, clipped to what history holds', () => {
    // started 10 minutes ago: 90 days back from its start, less the 10 minutes history has dropped since
    expect(jobWindow(trail(), NOW)).toEqual({ windowStartMs: NOW - HISTORY_JOB_WINDOW_MS, windowEndMs: START });
    // started 30 days ago: history holds 90 days back from now, so the window starts there
    const early = trail({ startLoggingTimeMs: NOW - 30 * DAY });
    expect(jobWindow(early, NOW)).toEqual({ windowStartMs: NOW - 90 * DAY, windowEndMs: NOW - 30 * DAY });
    // started 100 days ago: nothing of its window is left
    const ancient = jobWindow(trail({ startLoggingTimeMs: NOW - 100 * DAY }), NOW);
    expect(ancient.windowEndMs - ancient.windowStartMs).toBe(0);
  });

  it('takes a logging single-account trail that delivers to Log Service and was never stopped', () => {
    expect(refusalOf(trail(), 'new-trail')).toBeUndefined();
    expect(refusalOf(undefined, 'gone-trail')).toMatchObject({ code: 'TrailNotFoundException' });
    const refused = (t: Trail) => refusalOf(t, t.name)?.code;
    expect(refused(trail({ isOrganizationTrail: true }))).toBe('InvalidTrailForHistoryDeliveryException');
    expect(refused(trail({ slsProjectArn: undefined }))).toBe('InvalidTrailForHistoryDeliveryException');
    expect(refused(trail({ status: 'Fresh', startLoggingTimeMs: undefined }))).toBe('InvalidTrailForHistoryDeliveryException');
    expect(refusalOf(trail({ stopLoggingTimeMs: START - 1000 }), 'new-trail')?.message).toMatch(/stopped before/);
  });
});

describe('the boundary with live delivery', () => {
  const window = { windowStartMs: START - HISTORY_JOB_WINDOW_MS, windowEndMs: START };

  it('takes events before the trail started logging and leaves those at or after it to live delivery', () => {
    const before = stored(START - 1000);
    const at = stored(START);
    const first = stored(window.windowStartMs);
    const tooOld = stored(window.windowStartMs - 1000);
    const { entries } = jobEntriesOf(trail(), window, [tooOld, first, before, at].map((e) => JSON.stringify(e)));
    expect(entries.map((e) => e.entry.eventId)).toEqual([first['eventId'], before['eventId']]);
    // the live path claims exactly the entries a job could also append
    expect(needsClaim(trail(), { eventTimeMs: START - 1000 })).toBe(true);
    expect(needsClaim(trail(), { eventTimeMs: START })).toBe(false);
    expect(needsClaim(trail({ isOrganizationTrail: true }), { eventTimeMs: START - 1000 })).toBe(false);
  });

  it("applies the trail's selection and the resource form it receives, counts what does not read back", () => {
    const t = trail({ eventRW: 'Write', trailRegion: 'cn-hangzhou' });
    const write = stored(START - 5000, { referencedResources: { Instance: ['i-1'], 'ACS::ECS::Instance': ['i-1'] } });
    const read = stored(START - 4000, { eventRW: 'Read', eventName: 'DescribeInstances' });
    const elsewhere = stored(START - 3000, { acsRegion: 'cn-shanghai' });
    const global = stored(START - 2000, { acsRegion: 'cn-shanghai', isGlobal: true, serviceName: 'Ram', eventName: 'CreateUser' });
    const { entries, skipped } = jobEntriesOf(t, window, [write, read, elsewhere, global].map((e) => JSON.stringify(e)).concat(['{not json', '{"eventId":"x"}']));
    expect(entries.map((e) => [e.entry.eventId, e.region])).toEqual([
      [write['eventId'], 'cn-hangzhou'],
      [global['eventId'], 'cn-shanghai'],
    ]);
    expect(skipped).toBe(2);
    // a trail created after 2020-12-01 receives only the ACS:: resource keys, as classify gives it
    expect(JSON.parse(entries[0]?.entry.json ?? '{}')).toMatchObject({ referencedResources: { 'ACS::ECS::Instance': ['i-1'] } });
    expect(JSON.parse(entries[0]?.entry.json ?? '{}').referencedResources).not.toHaveProperty('Instance');
  });
});

/** An in-memory account history and job store with the Redis store's semantics (claims, compare-and-set cursor). */
class Memory {
  events: { timeMs: number; eventId: string; json: string }[] = [];
  claims = new Set<string>();
  outbox: string[] = [];
  job: HistoryJob;
  crashBeforeAdvance = -1;
  advances = 0;
  /** Entries waiting for the deliverers, and whether a wake-up drains them. */
  waitingEntries = 0;
  drainsWhenWoken = true;
  wakes = 0;
  clock = NOW;

  constructor(readonly trail: Trail) {
    this.job = { accountId: ACCOUNT, jobId: 1, trailName: trail.name, homeRegion: trail.homeRegion, trailCreatedAtMs: trail.createdAtMs, status: 0, createdMs: NOW, updatedMs: NOW, delivered: 0, regions: {}, ...jobWindow(trail, NOW) };
  }

  add(e: Json): void {
    this.events.push({ timeMs: Date.parse(e['eventTime'] as string), eventId: e['eventId'] as string, json: JSON.stringify(e) });
    this.events.sort((a, b) => a.timeMs - b.timeMs || (a.eventId < b.eventId ? -1 : 1));
  }

  /** Live delivery's claimed append of an event before the trail's start (a backfilled one). */
  liveAppend(e: Json): void {
    const id = e['eventId'] as string;
    if (this.claims.has(id)) return;
    this.claims.add(id);
    this.outbox.push(id);
  }

  scan(q: HistoryQuery): HistoryScanPage {
    const after = (e: { timeMs: number; eventId: string }, c: HistoryCursor) => e.timeMs > c.timeMs || (e.timeMs === c.timeMs && e.eventId > c.eventId);
    const hits = this.events.filter((e) => e.timeMs >= q.startMs && e.timeMs <= q.endMs && (!q.after || after(e, q.after)));
    const page = hits.slice(0, q.limit);
    const last = page.at(-1);
    return { entries: page, ...(hits.length > q.limit && last ? { next: { timeMs: last.timeMs, eventId: last.eventId } } : {}) };
  }

  advance(step: AdvanceStep): { moved: boolean; appended: number } {
    if (this.advances++ === this.crashBeforeAdvance) throw new Error('killed before the append');
    const same = (a?: HistoryCursor, b?: HistoryCursor) => a?.timeMs === b?.timeMs && a?.eventId === b?.eventId;
    if (this.job.status > 1 || !same(this.job.cursor, step.from)) return { moved: false, appended: 0 };
    let appended = 0;
    for (const { entry } of step.entries) {
      if (this.claims.has(entry.eventId)) continue;
      this.claims.add(entry.eventId);
      this.outbox.push(entry.eventId);
      appended++;
    }
    this.job = { ...this.job, status: step.done ? 2 : 1, delivered: this.job.delivered + appended, ...(step.to ? { cursor: step.to } : {}) };
    return { moved: true, appended };
  }

  ports(): HistoryJobRunPorts {
    return {
      jobs: {
        runningAccounts: async () => [ACCOUNT],
        running: async () => (this.job.status <= 1 ? this.job : undefined),
        forget: async () => undefined,
        advance: async (_job, _trail, step) => this.advance(step),
        fail: async (_job, error) => {
          this.job = { ...this.job, status: 3, error };
        },
      },
      getTrail: async () => this.trail,
      history: { scan: async (q) => this.scan(q) },
      outboxSize: async () => this.waitingEntries,
      wakeDeliverers: async () => {
        this.wakes++;
        if (this.drainsWhenWoken) this.waitingEntries = 0;
      },
      now: () => this.clock,
      sleep: async (ms) => {
        this.clock += ms;
      },
    };
  }
}

function threeDaysOfHistory(memory: Memory, count: number): Json[] {
  const events = Array.from({ length: count }, (_v, i) => stored(START - 3 * DAY + Math.floor((i * 3 * DAY) / count)));
  for (const e of events) memory.add(e);
  return events;
}

describe('the runner', () => {
  it('appends every event of the window once, across pages, and ends the job', async () => {
    const memory = new Memory(trail());
    const events = threeDaysOfHistory(memory, HISTORY_JOB_PAGE_SIZE * 3 + 7);
    memory.add(stored(START + 1000)); // live delivery's
    const report = await runHistoryJobs(memory.ports());
    expect(report).toMatchObject({ accounts: 1, appended: events.length, finished: 1, errors: [] });
    expect(memory.outbox).toEqual(events.map((e) => e['eventId']));
    expect(memory.job).toMatchObject({ status: JOB_STATUS.done, delivered: events.length });
  });

  it('a run killed before an append leaves the cursor; the next run resumes and appends each event once', async () => {
    const memory = new Memory(trail());
    const events = threeDaysOfHistory(memory, HISTORY_JOB_PAGE_SIZE * 4);
    memory.crashBeforeAdvance = 2;
    const first = await runHistoryJobs(memory.ports());
    expect(first.errors).toEqual([expect.stringMatching(/killed before the append/)]);
    expect(memory.outbox).toHaveLength(HISTORY_JOB_PAGE_SIZE * 2);
    expect(memory.job.status).toBe(JOB_STATUS.delivering);
    await runHistoryJobs(memory.ports());
    expect(memory.outbox).toEqual(events.map((e) => e['eventId']));
    expect(memory.job.status).toBe(JOB_STATUS.done);
  });

  it('two runs at once: one moves the cursor per page, the other stops, nothing is appended twice', async () => {
    const memory = new Memory(trail());
    const events = threeDaysOfHistory(memory, HISTORY_JOB_PAGE_SIZE * 3);
    const reports = await Promise.all([runHistoryJobs(memory.ports()), runHistoryJobs(memory.ports())]);
    expect(reports.reduce((n, r) => n + r.appended, 0)).toBe(events.length);
    expect(new Set(memory.outbox).size).toBe(memory.outbox.length);
    expect(memory.outbox.sort()).toEqual(events.map((e) => e['eventId'] as string).sort());
  });

  it('skips a backfilled event live delivery already claimed, and live skips one the job claimed first', async () => {
    const memory = new Memory(trail());
    const events = threeDaysOfHistory(memory, 20);
    const [liveFirst, jobFirst] = [events[3] as Json, events[15] as Json];
    memory.liveAppend(liveFirst);
    await runHistoryJobs(memory.ports());
    memory.liveAppend(jobFirst);
    expect(memory.outbox.filter((id) => id === liveFirst['eventId'])).toHaveLength(1);
    expect(memory.outbox.filter((id) => id === jobFirst['eventId'])).toHaveLength(1);
    expect(memory.outbox).toHaveLength(events.length);
  });

  it('a full outbox: the deliverers are woken and the job goes on once they have made room', async () => {
    const memory = new Memory(trail());
    const events = threeDaysOfHistory(memory, HISTORY_JOB_PAGE_SIZE * 2);
    memory.waitingEntries = HISTORY_JOB_OUTBOX_CEILING;
    const report = await runHistoryJobs(memory.ports());
    expect(report).toMatchObject({ appended: events.length, finished: 1, waiting: 0 });
    expect(memory.wakes).toBeGreaterThan(0);
  });

  it('an outbox that stays full: the run stops within its budget and the job waits for the next', async () => {
    const memory = new Memory(trail());
    threeDaysOfHistory(memory, 10);
    memory.waitingEntries = HISTORY_JOB_OUTBOX_CEILING;
    memory.drainsWhenWoken = false;
    const report = await runHistoryJobs(memory.ports());
    expect(report).toMatchObject({ appended: 0, waiting: 1, pages: 0 });
    expect(memory.clock - NOW).toBeLessThanOrEqual(HISTORY_JOB_RUN_BUDGET_MS);
    expect(memory.job.status).toBe(JOB_STATUS.initialising);
  });

  it('fails the job when its trail was deleted and created again under the same name', async () => {
    const memory = new Memory(trail());
    const ports = memory.ports();
    const replaced = trail({ createdAtMs: START + 5000 });
    await runHistoryJobs({ ...ports, getTrail: async () => replaced });
    expect(memory.job).toMatchObject({ status: JOB_STATUS.failed, error: expect.stringMatching(/created again/) });
  });
});

describe('the API parameters', () => {
  const job: HistoryJob = { accountId: ACCOUNT, jobId: 7, trailName: 'new-trail', homeRegion: 'cn-hangzhou', trailCreatedAtMs: START, status: 1, createdMs: NOW, updatedMs: NOW, delivered: 3, regions: { 'cn-hangzhou': 2, 'cn-beijing': 1 }, windowStartMs: START - HISTORY_JOB_WINDOW_MS, windowEndMs: START };
  const ports = (outcome: CreateOutcome = { created: job }): HistoryJobApiPorts => ({
    getTrail: async (_a, name) => (name === 'new-trail' ? trail() : undefined),
    jobs: {
      create: async () => outcome,
      get: async (_a, id) => (id === 7 ? job : undefined),
      list: async () => ({ jobs: [job], total: 1 }),
      delete: async (_a, id) => (id === 7 ? 'running' : 'absent'),
    },
    now: () => NOW,
  });
  const caller = { accountId: ACCOUNT };
  const refusedField = async (p: Promise<unknown>) => {
    const error = await p.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    return [(error as ValidationError).code, (error as ValidationError).field];
  };

  it('name the field at fault', async () => {
    expect(await refusedField(createDeliveryHistoryJob({}, caller, ports()))).toEqual(['MissingParameter', 'TrailName']);
    expect(await refusedField(createDeliveryHistoryJob({ TrailName: 'new-trail', ClientToken: 'x'.repeat(65) }, caller, ports()))).toEqual(['InvalidParameter', 'ClientToken']);
    expect(await refusedField(getDeliveryHistoryJob({ JobId: 'abc' }, caller, ports()))).toEqual(['InvalidParameter', 'JobId']);
    expect(await refusedField(getDeliveryHistoryJob({ JobId: '0' }, caller, ports()))).toEqual(['InvalidParameter', 'JobId']);
    expect(await refusedField(listDeliveryHistoryJobs({ PageSize: '101' }, caller, ports()))).toEqual(['InvalidParameter', 'PageSize']);
    expect(await refusedField(listDeliveryHistoryJobs({ PageSize: '0' }, caller, ports()))).toEqual(['InvalidParameter', 'PageSize']);
    expect(await refusedField(listDeliveryHistoryJobs({ PageNumber: '-1' }, caller, ports()))).toEqual(['InvalidParameter', 'PageNumber']);
  });

  it("answer with ActionTrail's fields and codes", async () => {
    expect(await createDeliveryHistoryJob({ TrailName: 'new-trail' }, caller, ports())).toEqual({ JobId: 7 });
    await expect(createDeliveryHistoryJob({ TrailName: 'new-trail' }, caller, ports({ running: job }))).rejects.toMatchObject({ code: 'DeliveryHistoryJobRunningException', status: 400 });
    await expect(createDeliveryHistoryJob({ TrailName: 'other-trail' }, caller, ports())).rejects.toMatchObject({ code: 'TrailNotFoundException', status: 404 });
    expect(await getDeliveryHistoryJob({ JobId: '7' }, caller, ports())).toMatchObject({
      JobId: 7,
      TrailName: 'new-trail',
      HomeRegion: 'cn-hangzhou',
      JobStatus: 1,
      StartTime: '2026-09-04T11:50:00Z',
      Status: [
        { Region: 'cn-beijing', Status: 1, DeliveredCount: 1 },
        { Region: 'cn-hangzhou', Status: 1, DeliveredCount: 2 },
      ],
    });
    expect(await listDeliveryHistoryJobs({}, caller, ports())).toMatchObject({ TotalCount: 1, PageNumber: 1, PageSize: 20, DeliveryHistoryJobs: [{ JobId: 7, JobStatus: 1 }] });
    await expect(deleteDeliveryHistoryJob({ JobId: '7' }, caller, ports())).rejects.toMatchObject({ code: 'DeliveryHistoryJobRunningException' });
    await expect(deleteDeliveryHistoryJob({ JobId: '8' }, caller, ports())).rejects.toMatchObject({ code: 'DeliveryHistoryJobNotFoundException', status: 404 });
  });
});
