/**
 * History delivery jobs (ActionTrail's CreateDeliveryHistoryJob, docs/design.md §3.14): a
 * single-account trail that delivers to Log Service receives, once, the events of the 90 days
 * before it started logging, from history, next to its live delivery.
 *
 * THE BOUNDARY between the job and live delivery (why no event is delivered twice or missed):
 * - live delivery (classify, shared/trails/routing.ts) routes a live event to a logging trail when
 *   its eventTime is at or after the trail's StartLoggingTime B; a backfilled event goes to every
 *   trail logging when it is classified, whatever its eventTime;
 * - the job covers eventTime in [max(B − 90 d, now − 90 d), B), B fixed when the job is created, of
 *   the events the trail's selection takes (eventRW, region; its own account);
 * - so the two overlap only on backfilled events with eventTime < B classified while the trail
 *   logs. Both paths append those through one claim per (trail, eventId) — a sorted set the append
 *   script adds to with NX in the same Lua call that fills the outboxes — so whichever comes first
 *   delivers the event and the other skips it, in either order, also when they race;
 * - a trail that was ever stopped (StopLoggingTime set) delivered an earlier logging period that
 *   ends before B: such a trail is refused (its window would repeat that period).
 * Events classified after the job's cursor has passed their eventTime (a late live event with
 * eventTime < B arriving hours later) reach neither path: the job reads history as it is when it
 * reads each page, as LookupEvents would.
 *
 * This file is pure: the window, the trail checks, and a history page turned into outbox entries.
 */
import { z } from 'zod';
import { resourcesForTrail } from '../classify/resource-types.ts';
import type { ClassifiedEvent } from '../classify/classify.ts';
import { actionTrailEventSchema, eventTimeMs } from '../events/schema.ts';
import { HISTORY_RETENTION_MS, type HistoryCursor } from '../history/history-store.ts';
import type { OutboxEntry } from '../pipeline/classify-batch.ts';
import type { Trail } from '../trails/model.ts';
import { selectsEvent } from '../trails/routing.ts';

/** How far back before the trail's start a job reaches (ActionTrail: 90 days; history holds no more). */
export const HISTORY_JOB_WINDOW_MS = HISTORY_RETENTION_MS;

/** ActionTrail's JobStatus values (GetDeliveryHistoryJob, ListDeliveryHistoryJobs). */
export const JOB_STATUS = { initialising: 0, delivering: 1, done: 2, failed: 3 } as const;
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

/** A job as stored. */
export interface HistoryJob {
  accountId: string;
  jobId: number;
  trailName: string;
  homeRegion: string;
  /** The trail's creation time: a trail deleted and created again under the name is another trail. */
  trailCreatedAtMs: number;
  status: JobStatus;
  createdMs: number;
  updatedMs: number;
  /** When the first page was appended. */
  startedMs?: number;
  /** When the job ended (done or failed). */
  endMs?: number;
  /** Event times covered: [windowStartMs, windowEndMs). windowEndMs is the trail's StartLoggingTime. */
  windowStartMs: number;
  windowEndMs: number;
  /** The last history position appended (absent before the first page). */
  cursor?: HistoryCursor;
  delivered: number;
  /** Events appended per region. */
  regions: Record<string, number>;
  error?: string;
}

export function isRunning(job: Pick<HistoryJob, 'status'>): boolean {
  return job.status === JOB_STATUS.initialising || job.status === JOB_STATUS.delivering;
}

/** Why a trail cannot have a history job (ActionTrail: a single-account trail delivering to Log Service). */
export type TrailRefusal = { code: 'TrailNotFoundException'; message: string } | { code: 'InvalidTrailForHistoryDeliveryException'; message: string };

export function refusalOf(trail: Trail | undefined, name: string): TrailRefusal | undefined {
  if (!trail) return { code: 'TrailNotFoundException', message: `The specified Trail does not exist: ${name}.` };
  const invalid = (why: string): TrailRefusal => ({ code: 'InvalidTrailForHistoryDeliveryException', message: `The trail ${name} cannot deliver history: ${why}.` });
  if (trail.isOrganizationTrail) return invalid('it is an organization trail; history delivery is for single-account trails');
  if (!trail.slsProjectArn) return invalid('it does not deliver to Log Service (SlsProjectArn)');
  if (trail.status !== 'Enable' || trail.startLoggingTimeMs === undefined) return invalid('it is not logging; call StartLogging first');
  if (trail.stopLoggingTimeMs !== undefined) return invalid('it has been stopped before, so it already delivered events from before its current start of logging');
  return undefined;
}

/** The event times a job for `trail` covers, created at `nowMs` (empty when the trail started over 90 days ago). */
export function jobWindow(trail: Pick<Trail, 'startLoggingTimeMs'>, nowMs: number): { windowStartMs: number; windowEndMs: number } {
  const end = trail.startLoggingTimeMs ?? nowMs;
  const start = Math.max(end - HISTORY_JOB_WINDOW_MS, nowMs - HISTORY_RETENTION_MS);
  return { windowStartMs: Math.min(start, end), windowEndMs: end };
}

/** What a page of history becomes for a trail: its outbox entries, each with the region it is counted under. */
export interface JobEntry {
  entry: OutboxEntry;
  region: string;
}

/** What the job reads of a stored event (history stores classified events; anything else is skipped). */
const storedEventSchema = actionTrailEventSchema.extend({
  eventId: z.string().min(1),
  eventRW: z.enum(['Read', 'Write']),
  referencedResources: z.record(z.string(), z.array(z.string())).default({}),
});

/**
 * The entries of one history page for the job's trail: events inside the window that the trail's
 * selection takes, in the resource form the trail receives (as classify makes them). Records that
 * do not read back as events are counted in `skipped`.
 */
export function jobEntriesOf(trail: Trail, job: Pick<HistoryJob, 'windowStartMs' | 'windowEndMs'>, page: readonly string[]): { entries: JobEntry[]; skipped: number } {
  const entries: JobEntry[] = [];
  let skipped = 0;
  const ownAccountOnly = { managementAccountOf: () => undefined };
  for (const json of page) {
    let raw: unknown;
    try {
      raw = JSON.parse(json);
    } catch {
      skipped++;
      continue;
    }
    const parsed = storedEventSchema.safeParse(raw);
    if (!parsed.success) {
      skipped++;
      continue;
    }
    const event = parsed.data as ClassifiedEvent & { eventId: string };
    const timeMs = eventTimeMs(event);
    if (timeMs < job.windowStartMs || timeMs >= job.windowEndMs) continue;
    if (!selectsEvent(trail, event, ownAccountOnly)) continue;
    const view = { ...event, referencedResources: resourcesForTrail(event.referencedResources, trail.createdAtMs) };
    const region = typeof event.acsRegion === 'string' && event.acsRegion !== '' ? event.acsRegion : trail.homeRegion;
    entries.push({ entry: { eventId: event.eventId, eventTimeMs: timeMs, json: JSON.stringify(view) }, region });
  }
  return { entries, skipped };
}

/**
 * Whether an entry a live path appends to a trail's outbox falls inside what a history job of the
 * trail could also append (eventTime before the trail's StartLoggingTime, a single-account trail):
 * such entries go through the trail's claims (see THE BOUNDARY above).
 */
export function needsClaim(trail: Pick<Trail, 'isOrganizationTrail' | 'startLoggingTimeMs'>, entry: Pick<OutboxEntry, 'eventTimeMs'>): boolean {
  return !trail.isOrganizationTrail && trail.startLoggingTimeMs !== undefined && entry.eventTimeMs < trail.startLoggingTimeMs;
}
