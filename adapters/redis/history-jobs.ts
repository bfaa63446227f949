/**
 * History delivery jobs on Redis (docs/design.md §3.14; shared/history-jobs/). Keys of account A
 * share its hash tag, so each script touches one slot:
 *   {tk:A}:hjob:<id>            hash  the job: its fields (below), `cursor` ("<timeMs>:<eventId>"),
 *                                     `delivered`, and `r:<region>` counts
 *   {tk:A}:hjob:running         the id of A's running job (one at a time)
 *   {tk:A}:hjob:seq             the last job id given (ids count per account)
 *   {tk:A}:hjobs                zset  id → id: A's jobs
 *   {tk:A}:hjob:token:<sha256>  the job a ClientToken made (kept CLIENT_TOKEN_TTL_S)
 *   {tk}:hjobs:running          set of accounts that may have a running job (history-jobs-cron's
 *                               index; added before a job exists, dropped once none runs)
 * A page's append joins the trail's outboxes and claims (outbox.ts), same tag, same script.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RedisClient } from '../redis.ts';
import type { Trail } from '../../shared/trails/model.ts';
import type { HistoryCursor } from '../../shared/history/history-store.ts';
import { HISTORY_RETENTION_MS } from '../../shared/history/history-store.ts';
import { JOB_STATUS, type HistoryJob, type JobStatus } from '../../shared/history-jobs/history-job.ts';
import type { CreateOutcome, HistoryJobApiPorts, NewHistoryJob } from '../../shared/history-jobs/history-job-api.ts';
import type { AdvanceStep, HistoryJobRunPorts } from '../../shared/history-jobs/run-history-jobs.ts';
import { CLAIM_LUA, CLAIMS_TTL_MS, claimsKey, destinationKeys, destinationsOf, outboxIndexKey } from './outbox.ts';

/** How long a ClientToken returns the job it made. */
export const CLIENT_TOKEN_TTL_S = 7 * 24 * 3600;
export const RUNNING_ACCOUNTS_KEY = '{tk}:hjobs:running';

const tag = (accountId: string) => `{tk:${accountId}}`;
const jobKey = (accountId: string, jobId: number | string) => `${tag(accountId)}:hjob:${jobId}`;

/** KEYS: running, seq, list, token. ARGV: job key prefix, has token, token ttl, then field/value pairs of the new job. */
const CREATE = `
local prefix = ARGV[1]
if ARGV[2] == '1' then
  local made = redis.call('GET', KEYS[4])
  if made and redis.call('EXISTS', prefix .. made) == 1 then return {'replayed', made} end
end
local running = redis.call('GET', KEYS[1])
if running then
  local status = redis.call('HGET', prefix .. running, 'status')
  if status == '0' or status == '1' then return {'running', running} end
end
local id = tostring(redis.call('INCR', KEYS[2]))
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', prefix .. id, 'status', '0', 'cursor', '', 'delivered', '0', unpack(fields))
redis.call('SET', KEYS[1], id)
redis.call('ZADD', KEYS[3], tonumber(id), id)
if ARGV[2] == '1' then redis.call('SET', KEYS[4], id, 'EX', tonumber(ARGV[3])) end
return {'created', id}`;

/**
 * KEYS: job, running, claims, then zset/data per destination. ARGV: job id, expected cursor, new
 * cursor, done, now, retention, claims ttl, then eventId, eventTime, region, json per entry.
 * Returns -1 when the job no longer runs or its cursor moved, else the entries appended.
 */
const ADVANCE = `${CLAIM_LUA}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= '0' and status ~= '1' then return -1 end
if (redis.call('HGET', KEYS[1], 'cursor') or '') ~= ARGV[2] then return -1 end
local now = tonumber(ARGV[5])
local dests = {}
for k = 4, #KEYS do dests[#dests + 1] = KEYS[k] end
local added = 0
for i = 8, #ARGV, 4 do
  if claimAndAppend(KEYS[3], dests, now, ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 3]) == 1 then
    added = added + 1
    redis.call('HINCRBY', KEYS[1], 'r:' .. ARGV[i + 2], 1)
  end
end
if #ARGV >= 8 then keepClaims(KEYS[3], now, tonumber(ARGV[6]), tonumber(ARGV[7])) end
redis.call('HSET', KEYS[1], 'cursor', ARGV[3], 'updatedMs', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'delivered', added)
if status == '0' then redis.call('HSET', KEYS[1], 'status', '1', 'startedMs', ARGV[5]) end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'status', '2', 'endMs', ARGV[5])
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
end
return added`;

/** KEYS: job, running. ARGV: job id, now, error. */
const FAIL = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= '0' and status ~= '1' then return 0 end
redis.call('HSET', KEYS[1], 'status', '3', 'endMs', ARGV[2], 'updatedMs', ARGV[2], 'error', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1`;

/** KEYS: job, list. ARGV: job id. */
const DELETE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'absent' end
if status == '0' or status == '1' then return 'running' end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 'deleted'`;

const epoch = z.string().regex(/^\d{1,16}$/).transform(Number);
const storedJobSchema = z.looseObject({
  trailName: z.string().min(1),
  homeRegion: z.string().min(1),
  trailCreatedAtMs: epoch,
  createdMs: epoch,
  updatedMs: epoch,
  windowStartMs: epoch,
  windowEndMs: epoch,
  status: z.enum(['0', '1', '2', '3']).transform((s) => Number(s) as JobStatus),
  cursor: z.string().default(''),
  delivered: epoch.default(0),
  startedMs: epoch.optional(),
  endMs: epoch.optional(),
  error: z.string().optional(),
});

function cursorText(cursor: HistoryCursor | undefined): string {
  return cursor ? `${cursor.timeMs}:${cursor.eventId}` : '';
}

function cursorOf(text: string): HistoryCursor | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return { timeMs: Number(text.slice(0, colon)), eventId: text.slice(colon + 1) };
}

function jobOf(accountId: string, jobId: number, fields: Record<string, string>): HistoryJob | undefined {
  if (Object.keys(fields).length === 0) return undefined;
  const f = storedJobSchema.parse(fields);
  const regions: Record<string, number> = {};
  for (const [name, value] of Object.entries(fields)) if (name.startsWith('r:')) regions[name.slice(2)] = Number(value);
  const cursor = cursorOf(f.cursor);
  return {
    accountId,
    jobId,
    trailName: f.trailName,
    homeRegion: f.homeRegion,
    trailCreatedAtMs: f.trailCreatedAtMs,
    status: f.status,
    createdMs: f.createdMs,
    updatedMs: f.updatedMs,
    windowStartMs: f.windowStartMs,
    windowEndMs: f.windowEndMs,
    delivered: f.delivered,
    regions,
    ...(cursor ? { cursor } : {}),
    ...(f.startedMs !== undefined ? { startedMs: f.startedMs } : {}),
    ...(f.endMs !== undefined ? { endMs: f.endMs } : {}),
    ...(f.error !== undefined ? { error: f.error } : {}),
  };
}

export class RedisHistoryJobs {
  constructor(private readonly redis: RedisClient) {}

  async get(accountId: string, jobId: number): Promise<HistoryJob | undefined> {
    return jobOf(accountId, jobId, await this.redis.hgetall(jobKey(accountId, jobId)));
  }

  async create(accountId: string, job: NewHistoryJob, clientToken: string | undefined): Promise<CreateOutcome> {
    // indexed before the job exists: the cron's index is a superset of the accounts with a running job
    await this.redis.sadd(RUNNING_ACCOUNTS_KEY, accountId);
    const t = tag(accountId);
    const token = clientToken === undefined ? '' : createHash('sha256').update(clientToken).digest('hex');
    const fields = [
      ['trailName', job.trailName],
      ['homeRegion', job.homeRegion],
      ['trailCreatedAtMs', String(job.trailCreatedAtMs)],
      ['createdMs', String(job.createdMs)],
      ['updatedMs', String(job.createdMs)],
      ['windowStartMs', String(job.windowStartMs)],
      ['windowEndMs', String(job.windowEndMs)],
    ].flat();
    const [kind, id] = (await this.redis.eval(
      CREATE,
      4,
      `${t}:hjob:running`,
      `${t}:hjob:seq`,
      `${t}:hjobs`,
      `${t}:hjob:token:${token}`,
      `${t}:hjob:`,
      clientToken === undefined ? '0' : '1',
      String(CLIENT_TOKEN_TTL_S),
      ...fields,
    )) as [string, string];
    const stored = await this.get(accountId, Number(id));
    if (!stored) throw new Error(`history job ${id} of ${accountId} vanished after ${kind}`);
    if (kind === 'running') return { running: stored };
    return kind === 'replayed' ? { replayed: stored } : { created: stored };
  }

  async list(accountId: string, offset: number, limit: number): Promise<{ jobs: HistoryJob[]; total: number }> {
    const key = `${tag(accountId)}:hjobs`;
    const [ids, total] = await Promise.all([this.redis.zrevrange(key, offset, offset + limit - 1), this.redis.zcard(key)]);
    const jobs = await Promise.all(ids.map((id) => this.get(accountId, Number(id))));
    return { jobs: jobs.filter((j): j is HistoryJob => j !== undefined), total };
  }

  async delete(accountId: string, jobId: number): Promise<'deleted' | 'running' | 'absent'> {
    return (await this.redis.eval(DELETE, 2, jobKey(accountId, jobId), `${tag(accountId)}:hjobs`, String(jobId))) as 'deleted' | 'running' | 'absent';
  }

  async runningAccounts(): Promise<string[]> {
    return this.redis.smembers(RUNNING_ACCOUNTS_KEY);
  }

  async running(accountId: string): Promise<HistoryJob | undefined> {
    const id = await this.redis.get(`${tag(accountId)}:hjob:running`);
    if (!id) return undefined;
    const job = await this.get(accountId, Number(id));
    return job && (job.status === JOB_STATUS.initialising || job.status === JOB_STATUS.delivering) ? job : undefined;
  }

  /** Drops the account from the index unless a job was created meanwhile (checked again after). */
  async forget(accountId: string): Promise<void> {
    await this.redis.srem(RUNNING_ACCOUNTS_KEY, accountId);
    if (await this.running(accountId)) await this.redis.sadd(RUNNING_ACCOUNTS_KEY, accountId);
  }

  async advance(job: HistoryJob, trail: Trail, step: AdvanceStep, nowMs: number): Promise<{ moved: boolean; appended: number }> {
    for (const destination of destinationsOf(trail)) await this.redis.sadd(outboxIndexKey(destination), `${trail.accountId}/${trail.name}`);
    const keys = [jobKey(job.accountId, job.jobId), `${tag(job.accountId)}:hjob:running`, claimsKey(trail.accountId, trail.name), ...destinationKeys(trail)];
    const args = step.entries.flatMap(({ entry, region }) => [entry.eventId, String(entry.eventTimeMs), region, entry.json]);
    const result = (await this.redis.eval(
      ADVANCE,
      keys.length,
      ...keys,
      String(job.jobId),
      cursorText(step.from),
      cursorText(step.to),
      step.done ? '1' : '0',
      String(nowMs),
      String(HISTORY_RETENTION_MS),
      String(CLAIMS_TTL_MS),
      ...args,
    )) as number;
    return result < 0 ? { moved: false, appended: 0 } : { moved: true, appended: result };
  }

  async fail(job: HistoryJob, error: string, nowMs: number): Promise<void> {
    await this.redis.eval(FAIL, 2, jobKey(job.accountId, job.jobId), `${tag(job.accountId)}:hjob:running`, String(job.jobId), String(nowMs), error.slice(0, 500));
  }

  /** The API's view of the store. */
  apiPorts(): HistoryJobApiPorts['jobs'] {
    return {
      create: (a, j, t) => this.create(a, j, t),
      get: (a, id) => this.get(a, id),
      list: (a, o, l) => this.list(a, o, l),
      delete: (a, id) => this.delete(a, id),
    };
  }

  /** The runner's view of the store. */
  runPorts(now: () => number): HistoryJobRunPorts['jobs'] {
    return {
      runningAccounts: () => this.runningAccounts(),
      running: (a) => this.running(a),
      forget: (a) => this.forget(a),
      advance: (job, trail, step) => this.advance(job, trail, step, now()),
      fail: (job, error) => this.fail(job, error, now()),
    };
  }
}
