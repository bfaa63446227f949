/**
 * The history delivery job API on lookup-http (ActionTrail 2020-07-06, docs/design.md §3.14):
 * CreateDeliveryHistoryJob, GetDeliveryHistoryJob, ListDeliveryHistoryJobs,
 * DeleteDeliveryHistoryJob. A caller sees and changes only its own account's jobs; one job runs
 * per account at a time; a running job cannot be deleted. The jobs run in history-jobs-cron
 * (run-history-jobs.ts).
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import { TrailRequestError, formatTime } from '../trails/trail-api.ts';
import type { Trail } from '../trails/model.ts';
import { jobWindow, refusalOf, type HistoryJob } from './history-job.ts';

export const LIST_PAGE_SIZE_DEFAULT = 20;
export const LIST_PAGE_SIZE_MAX = 100;
/** Highest PageNumber accepted (bounds the offset a caller can ask for). */
export const LIST_PAGE_NUMBER_MAX = 100_000;
/** ClientToken: ASCII, at most 64 characters (ActionTrail's idempotence token). */
export const CLIENT_TOKEN_MAX_CHARS = 64;

export interface NewHistoryJob {
  trailName: string;
  homeRegion: string;
  trailCreatedAtMs: number;
  windowStartMs: number;
  windowEndMs: number;
  createdMs: number;
}

export type CreateOutcome = { created: HistoryJob } | { replayed: HistoryJob } | { running: HistoryJob };

export interface HistoryJobApiPorts {
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  jobs: {
    /** Atomically: the job a ClientToken already made, or the account's running job, or a new job. */
    create(accountId: string, job: NewHistoryJob, clientToken: string | undefined): Promise<CreateOutcome>;
    get(accountId: string, jobId: number): Promise<HistoryJob | undefined>;
    /** Newest first. */
    list(accountId: string, offset: number, limit: number): Promise<{ jobs: HistoryJob[]; total: number }>;
    /** Atomically refuses a running job. */
    delete(accountId: string, jobId: number): Promise<'deleted' | 'running' | 'absent'>;
  };
  now(): number;
}

type Caller = { accountId: string };
export type HistoryJobAction = (params: Record<string, string>, caller: Caller, ports: HistoryJobApiPorts) => Promise<Record<string, unknown>>;

const trailNameSchema = z.string().max(64, { error: 'at most 64 characters' });
const clientTokenSchema = z
  .string()
  .max(CLIENT_TOKEN_MAX_CHARS, { error: `at most ${CLIENT_TOKEN_MAX_CHARS} characters` })
  .regex(/^[\x21-\x7e]+$/, { error: 'printable ASCII only' });
const jobIdSchema = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, { error: 'a positive integer' })
  .transform(Number);
const pageSizeSchema = z
  .string()
  .regex(/^\d{1,4}$/, { error: 'an integer' })
  .transform(Number)
  .refine((n) => n >= 1 && n <= LIST_PAGE_SIZE_MAX, { error: `1 to ${LIST_PAGE_SIZE_MAX}` });
const pageNumberSchema = z
  .string()
  .regex(/^\d{1,7}$/, { error: 'an integer' })
  .transform(Number)
  .refine((n) => n >= 1 && n <= LIST_PAGE_NUMBER_MAX, { error: `1 to ${LIST_PAGE_NUMBER_MAX}` });

/** A parameter checked by its schema: MissingParameter when required and absent, InvalidParameter naming the field otherwise. */
function param<T>(schema: z.ZodType<T, string>, params: Record<string, string>, name: string, required: boolean): T | undefined {
  const value = Object.hasOwn(params, name) ? params[name] : undefined;
  if (value === undefined || value === '') {
    if (required) throw new ValidationError('MissingParameter', `the parameter ${name} is required`, name);
    return undefined;
  }
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError('InvalidParameter', `the parameter ${name} is invalid: ${r.error.issues[0]?.message ?? 'bad value'}`, name);
}

function notFound(jobId: number): NotFoundError {
  return new NotFoundError('DeliveryHistoryJobNotFoundException', `The specified delivery history job does not exist: ${jobId}.`);
}

/** The regions a job reports: those it delivered to, else the trail's region (All: its home region). */
function regionStatuses(job: HistoryJob): { Region: string; Status: number; DeliveredCount: number }[] {
  const regions = Object.keys(job.regions).sort();
  if (regions.length === 0) return [{ Region: job.homeRegion, Status: job.status, DeliveredCount: 0 }];
  // one cursor reads the account's history in time order, so every region is as far as the job
  return regions.map((r) => ({ Region: r, Status: job.status, DeliveredCount: job.regions[r] ?? 0 }));
}

/** A job as GetDeliveryHistoryJob and ListDeliveryHistoryJobs answer it. */
export function jobAnswer(job: HistoryJob, detail: boolean): Record<string, unknown> {
  return {
    JobId: job.jobId,
    TrailName: job.trailName,
    HomeRegion: job.homeRegion,
    JobStatus: job.status,
    CreatedTime: formatTime(job.createdMs),
    UpdatedTime: formatTime(job.updatedMs),
    // ActionTrail's StartTime is the start of the delivered period (CreatedTime − 90 days in its examples)
    StartTime: formatTime(job.windowStartMs),
    ...(job.endMs !== undefined ? { EndTime: formatTime(job.endMs) } : {}),
    ...(detail ? { Status: regionStatuses(job), HistoryEndTime: formatTime(job.windowEndMs), DeliveredCount: job.delivered } : {}),
    ...(detail && job.error !== undefined ? { ErrorMessage: job.error } : {}),
  };
}

export const createDeliveryHistoryJob: HistoryJobAction = async (params, caller, ports) => {
  const name = param(trailNameSchema, params, 'TrailName', true) as string;
  const clientToken = param(clientTokenSchema, params, 'ClientToken', false);
  const trail = await ports.getTrail(caller.accountId, name);
  const refusal = refusalOf(trail, name);
  if (refusal?.code === 'TrailNotFoundException') throw new NotFoundError(refusal.code, refusal.message);
  if (refusal) throw new TrailRequestError(refusal.code, refusal.message, 400, 'TrailName');
  const t = trail as Trail;
  const nowMs = ports.now();
  const outcome = await ports.jobs.create(
    caller.accountId,
    { trailName: t.name, homeRegion: t.homeRegion, trailCreatedAtMs: t.createdAtMs, createdMs: nowMs, ...jobWindow(t, nowMs) },
    clientToken,
  );
  if ('running' in outcome) {
    throw new TrailRequestError(
      'DeliveryHistoryJobRunningException',
      `The account already has a running delivery history job (${outcome.running.jobId}, trail ${outcome.running.trailName}); one runs at a time.`,
      400,
      'TrailName',
    );
  }
  const job = 'created' in outcome ? outcome.created : outcome.replayed;
  return { JobId: job.jobId };
};

export const getDeliveryHistoryJob: HistoryJobAction = async (params, caller, ports) => {
  const jobId = param(jobIdSchema, params, 'JobId', true) as number;
  const job = await ports.jobs.get(caller.accountId, jobId);
  if (!job) throw notFound(jobId);
  return jobAnswer(job, true);
};

export const listDeliveryHistoryJobs: HistoryJobAction = async (params, caller, ports) => {
  const pageSize = param(pageSizeSchema, params, 'PageSize', false) ?? LIST_PAGE_SIZE_DEFAULT;
  const pageNumber = param(pageNumberSchema, params, 'PageNumber', false) ?? 1;
  const { jobs, total } = await ports.jobs.list(caller.accountId, (pageNumber - 1) * pageSize, pageSize);
  return { DeliveryHistoryJobs: jobs.map((j) => jobAnswer(j, false)), TotalCount: total, PageNumber: pageNumber, PageSize: pageSize };
};

export const deleteDeliveryHistoryJob: HistoryJobAction = async (params, caller, ports) => {
  const jobId = param(jobIdSchema, params, 'JobId', true) as number;
  const result = await ports.jobs.delete(caller.accountId, jobId);
  if (result === 'absent') throw notFound(jobId);
  if (result === 'running') {
    throw new TrailRequestError('DeliveryHistoryJobRunningException', `The delivery history job ${jobId} is still running and cannot be deleted.`, 400, 'JobId');
  }
  return {};
};

export const HISTORY_JOB_ACTIONS: Readonly<Record<string, HistoryJobAction>> = {
  CreateDeliveryHistoryJob: createDeliveryHistoryJob,
  GetDeliveryHistoryJob: getDeliveryHistoryJob,
  ListDeliveryHistoryJobs: listDeliveryHistoryJobs,
  DeleteDeliveryHistoryJob: deleteDeliveryHistoryJob,
};

