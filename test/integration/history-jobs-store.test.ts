/**
 * The history job store on a real Redis server and on a three-master cluster
 * (adapters/redis/history-jobs.ts with the outbox's claims, adapters/redis/outbox.ts): one running
 * job per account and ClientToken replay in one script, the compare-and-set cursor, claims shared
 * with live delivery's append in either order, the end of a job, failure, and deletion.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { RedisHistoryJobs } from '../../adapters/redis/history-jobs.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { jobWindow, type HistoryJob, type JobEntry } from '../../shared/history-jobs/history-job.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';

const A = '5234567890123456';
const C = '6234567890123456';
const backends = useRedisBackends();

function trailOf(accountId: string, name: string): Trail {
  const now = Date.now();
  return trailSchema.parse({
    name,
    accountId,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    ossBucketName: 'history-store-archive',
    slsProjectArn: `acs:log:cn-hangzhou:${accountId}:project/trailkeeper`,
    status: 'Enable',
    createdAtMs: now - 120_000,
    updatedAtMs: now,
    startLoggingTimeMs: now - 60_000,
  });
}

const entry = (trail: Trail, id: string, ageMs: number): JobEntry => {
  const eventTimeMs = (trail.startLoggingTimeMs ?? 0) - ageMs;
  return { entry: { eventId: id, eventTimeMs, json: JSON.stringify({ eventId: id, eventTime: new Date(eventTimeMs).toISOString() }) }, region: 'cn-hangzhou' };
};

describe.each(REDIS_BACKENDS)('RedisHistoryJobs (%s)', (backendName) => {
  let redis: RedisClient;
  let jobs: RedisHistoryJobs;
  let outbox: RedisOutbox;
  beforeAll(() => {
    redis = backends.get(backendName).client();
    jobs = new RedisHistoryJobs(redis);
    outbox = new RedisOutbox(redis);
  });
  afterAll(() => redis?.disconnect());

  const newJob = (trail: Trail) => ({ trailName: trail.name, homeRegion: trail.homeRegion, trailCreatedAtMs: trail.createdAtMs, createdMs: Date.now(), ...jobWindow(trail, Date.now()) });

  it('keeps one running job per account, returns the job of a ClientToken, and lists by account', async () => {
    const trail = trailOf(A, `store-${backendName}`);
    const first = await jobs.create(A, newJob(trail), 'token-1');
    expect(first).toMatchObject({ created: { jobId: 1, status: 0, trailName: trail.name } });
    expect(await jobs.create(A, newJob(trail), 'token-1')).toMatchObject({ replayed: { jobId: 1 } });
    expect(await jobs.create(A, newJob(trail), 'token-2')).toMatchObject({ running: { jobId: 1 } });
    expect(await jobs.create(A, newJob(trail), undefined)).toMatchObject({ running: { jobId: 1 } });
    // another account has its own
    expect(await jobs.create(C, newJob(trailOf(C, 'c-trail-1')), 'token-1')).toMatchObject({ created: { jobId: 1 } });
    expect(await jobs.get(C, 2)).toBeUndefined();
    expect((await jobs.list(A, 0, 10)).total).toBe(1);
    expect(await jobs.runningAccounts()).toEqual(expect.arrayContaining([A, C]));
    expect(await jobs.delete(A, 1)).toBe('running');
  });

  it('moves the cursor only from where it is, claims each eventId once with live delivery, and ends the job', async () => {
    const trail = trailOf(A, `store-${backendName}`);
    const job = (await jobs.running(A)) as HistoryJob;
    expect(job).toMatchObject({ jobId: 1 });
    // live delivery appends a backfilled event from before the start first (it claims it)
    expect(await outbox.append(trail, [entry(trail, 'e-live-first', 5000).entry])).toBe(2);

    const page = [entry(trail, 'e-1', 9000), entry(trail, 'e-live-first', 5000), entry(trail, 'e-2', 4000)];
    const to = { timeMs: page[2]?.entry.eventTimeMs ?? 0, eventId: 'e-2' };
    expect(await jobs.advance(job, trail, { from: undefined, to, done: false, entries: page }, Date.now())).toEqual({ moved: true, appended: 2 });
    // a second run that read the same page finds the cursor moved
    expect(await jobs.advance(job, trail, { from: undefined, to, done: false, entries: page }, Date.now())).toEqual({ moved: false, appended: 0 });
    // live delivery of an event the job claimed first adds nothing; an event at or after the start is not claimed
    expect(await outbox.append(trail, [entry(trail, 'e-1', 9000).entry])).toBe(0);
    expect(await outbox.append(trail, [entry(trail, 'e-after-start', -1000).entry])).toBe(2);

    const ids = async (d: 'oss' | 'logstore') => (await outbox.peek(A, trail.name, d, 100)).map((e) => e.eventId).sort();
    expect(await ids('logstore')).toEqual(['e-1', 'e-2', 'e-after-start', 'e-live-first']);
    expect(await ids('oss')).toEqual(await ids('logstore'));

    const moved = (await jobs.running(A)) as HistoryJob;
    expect(moved).toMatchObject({ status: 1, cursor: to, delivered: 2, regions: { 'cn-hangzhou': 2 } });
    expect(await jobs.advance(moved, trail, { from: to, to, done: true, entries: [] }, Date.now())).toEqual({ moved: true, appended: 0 });
    expect(await jobs.running(A)).toBeUndefined();
    expect(await jobs.get(A, 1)).toMatchObject({ status: 2, endMs: expect.any(Number) });
    expect(await jobs.delete(A, 1)).toBe('deleted');
    expect(await jobs.delete(A, 1)).toBe('absent');
    await jobs.forget(A);
    expect(await jobs.runningAccounts()).not.toContain(A);
  });

  it('a failed job stops running and frees the account for a new one', async () => {
    const job = (await jobs.running(C)) as HistoryJob;
    await jobs.fail(job, 'the trail c-trail-1 was deleted', Date.now());
    expect(await jobs.get(C, 1)).toMatchObject({ status: 3, error: 'the trail c-trail-1 was deleted' });
    expect(await jobs.advance(job, trailOf(C, 'c-trail-1'), { from: undefined, to: undefined, done: true, entries: [] }, Date.now())).toEqual({ moved: false, appended: 0 });
    expect(await jobs.create(C, newJob(trailOf(C, 'c-trail-2')), undefined)).toMatchObject({ created: { jobId: 2 } });
  });
});
