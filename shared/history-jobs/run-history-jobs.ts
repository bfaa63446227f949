/**
 * history-jobs-cron's use case (docs/design.md §3.14): advance every account's running history
 * delivery job. A job is a cursor over the account's history by (eventTime, eventId), oldest
 * first, inside its window; each page becomes entries appended to the trail's outboxes, so the
 * deliverers write the logstore and the archive as they write live events.
 *
 * Exactly once, however runs are cut: a page's append and the cursor's move are one atomic step
 * (`advance`) that happens only if the cursor is still where this run read from — a run killed
 * before it leaves the cursor where it was (the next run reads the same page again), a run killed
 * after has appended and moved; two runs at once both read the page, one moves the cursor and the
 * other finds it moved and stops. Every appended eventId is also claimed for the trail, which keeps
 * the live path from appending the same event again (history-job.ts, THE BOUNDARY).
 */
import type { HistoryCursor, HistoryQuery, HistoryStore } from '../history/history-store.ts';
import type { Trail } from '../trails/model.ts';
import { jobEntriesOf, type HistoryJob, type JobEntry } from './history-job.ts';

/** Events read per history page (a scan page; one advance script appends them). */
export const HISTORY_JOB_PAGE_SIZE = 500;
/** Most pages one run reads per account (50,000 events). */
export const HISTORY_JOB_MAX_PAGES_PER_RUN = 100;
/** A run starts no new page after this long (history-jobs-cron's timeout in s.yaml is 60 s). */
export const HISTORY_JOB_RUN_BUDGET_MS = 30_000;
/** A job waits while its trail's outbox holds this many entries (the deliverers catch up first). */
export const HISTORY_JOB_OUTBOX_CEILING = 20_000;
/** While it waits within a run, how often a job looks at the outbox again. */
export const HISTORY_JOB_ROOM_POLL_MS = 1_000;

export interface AdvanceStep {
  /** Where this run read from (undefined: the window's start). */
  from: HistoryCursor | undefined;
  /** The last position read. */
  to: HistoryCursor | undefined;
  /** The page was the window's last. */
  done: boolean;
  entries: readonly JobEntry[];
}

export interface HistoryJobRunPorts {
  jobs: {
    /** Accounts that may have a running job (a superset). */
    runningAccounts(): Promise<string[]>;
    running(accountId: string): Promise<HistoryJob | undefined>;
    /** Drops an account without a running job from runningAccounts. */
    forget(accountId: string): Promise<void>;
    /**
     * Atomically, if the job still runs and its cursor is `step.from`: claims each entry's eventId
     * for the trail, appends the newly claimed ones to the trail's outboxes, moves the cursor to
     * `step.to` (and ends the job when `step.done`). `moved` false: another run moved it first.
     */
    advance(job: HistoryJob, trail: Trail, step: AdvanceStep): Promise<{ moved: boolean; appended: number }>;
    fail(job: HistoryJob, error: string): Promise<void>;
  };
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  history: Pick<HistoryStore, 'scan'>;
  /** The larger of the trail's outbox sizes. */
  outboxSize(trail: Trail): Promise<number>;
  wakeDeliverers(): Promise<void>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface HistoryJobRunReport {
  accounts: number;
  pages: number;
  appended: number;
  /** Claimed already (live delivery or an earlier page took them), so not appended again. */
  claimedBefore: number;
  skipped: number;
  finished: number;
  failed: number;
  /** Jobs another run was advancing. */
  contended: number;
  /** Jobs that stopped for this run waiting for their trail's outbox to drain. */
  waiting: number;
  /** Accounts whose run threw (a store failed); their jobs resume next run. */
  errors: string[];
  /** The deliverers could not be woken: what was appended waits for their minute flush timer. */
  wakeError?: string;
}

/** Why a job stops for good: its trail is gone, was replaced, or no longer takes history. */
function trailProblem(job: HistoryJob, trail: Trail | undefined): string | undefined {
  if (!trail) return `the trail ${job.trailName} was deleted`;
  if (trail.createdAtMs !== job.trailCreatedAtMs) return `the trail ${job.trailName} was deleted and created again`;
  if (trail.isOrganizationTrail || !trail.slsProjectArn) return `the trail ${job.trailName} no longer delivers to Log Service`;
  return undefined;
}

export interface HistoryJobRunOptions {
  /** Events per history page (default HISTORY_JOB_PAGE_SIZE; 1–MAX_SCAN_LIMIT). */
  pageSize?: number;
}

interface RunContext {
  ports: HistoryJobRunPorts;
  report: HistoryJobRunReport;
  pageSize: number;
  /** Wakes the deliverers if anything was appended since the last wake-up, or always when `always` (a failure is reported, not thrown). */
  wake(always?: boolean): Promise<void>;
}

/**
 * Room in the trail's outbox for another page: when there is none, the deliverers are woken and
 * the outbox looked at again every HISTORY_JOB_ROOM_POLL_MS until there is, or until the deadline (0).
 */
async function roomFor(trail: Trail, run: RunContext, deadline: number): Promise<number> {
  let room = HISTORY_JOB_OUTBOX_CEILING - (await run.ports.outboxSize(trail));
  if (room >= run.pageSize) return room;
  await run.wake(true);
  while (room < run.pageSize && run.ports.now() + HISTORY_JOB_ROOM_POLL_MS < deadline) {
    await run.ports.sleep(HISTORY_JOB_ROOM_POLL_MS);
    room = HISTORY_JOB_OUTBOX_CEILING - (await run.ports.outboxSize(trail));
  }
  return room >= run.pageSize ? room : 0;
}

async function runJob(job: HistoryJob, run: RunContext, deadline: number): Promise<void> {
  const { ports, report, pageSize } = run;
  const trail = await ports.getTrail(job.accountId, job.trailName);
  const problem = trailProblem(job, trail);
  if (problem || !trail) {
    await ports.jobs.fail(job, problem ?? 'the trail is gone');
    report.failed++;
    return;
  }
  let current = job;
  let room = 0;
  for (let page = 0; page < HISTORY_JOB_MAX_PAGES_PER_RUN && ports.now() < deadline; page++) {
    if (room < pageSize) {
      room = await roomFor(trail, run, deadline);
      if (room === 0) {
        report.waiting++;
        return;
      }
    }
    const from = current.cursor;
    let events: string[] = [];
    let next: HistoryCursor | undefined;
    if (current.windowEndMs > current.windowStartMs) {
      const query: HistoryQuery = {
        accountIds: [current.accountId],
        startMs: current.windowStartMs,
        endMs: current.windowEndMs - 1,
        direction: 'FORWARD',
        limit: pageSize,
        ...(trail.eventRW !== 'All' ? { condition: { key: 'EventRW', value: trail.eventRW } } : {}),
        ...(from ? { after: from } : {}),
      };
      const page = await ports.history.scan(query);
      events = page.entries.map((e) => e.json);
      next = page.next;
    }
    const { entries, skipped } = jobEntriesOf(trail, current, events);
    const done = next === undefined;
    const to = next ?? from;
    const result = await ports.jobs.advance(current, trail, { from, to, done, entries });
    report.pages++;
    if (!result.moved) {
      report.contended++;
      return;
    }
    report.appended += result.appended;
    report.claimedBefore += entries.length - result.appended;
    report.skipped += skipped;
    room -= result.appended;
    if (done) {
      report.finished++;
      return;
    }
    current = { ...current, ...(to ? { cursor: to } : {}) };
  }
}

export async function runHistoryJobs(ports: HistoryJobRunPorts, options: HistoryJobRunOptions = {}): Promise<HistoryJobRunReport> {
  const pageSize = options.pageSize ?? HISTORY_JOB_PAGE_SIZE;
  const report: HistoryJobRunReport = { accounts: 0, pages: 0, appended: 0, claimedBefore: 0, skipped: 0, finished: 0, failed: 0, contended: 0, waiting: 0, errors: [] };
  const deadline = ports.now() + HISTORY_JOB_RUN_BUDGET_MS;
  let wokenAt = 0;
  const run: RunContext = {
    ports,
    report,
    pageSize,
    wake: async (always = false) => {
      if (!always && report.appended === wokenAt) return;
      wokenAt = report.appended;
      try {
        await ports.wakeDeliverers();
      } catch (error) {
        // the entries are in the outboxes already: the deliverers' flush timer takes them
        report.wakeError = (error instanceof Error ? error.message : String(error)).slice(0, 300);
      }
    },
  };
  const accounts = await ports.jobs.runningAccounts();
  for (const [index, accountId] of accounts.entries()) {
    // each account gets an equal share of what is left of the run's budget
    const share = ports.now() + (deadline - ports.now()) / (accounts.length - index);
    try {
      const job = await ports.jobs.running(accountId);
      if (!job) {
        await ports.jobs.forget(accountId);
        continue;
      }
      report.accounts++;
      await runJob(job, run, share);
    } catch (error) {
      report.errors.push(`${accountId}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300));
    }
  }
  await run.wake();
  return report;
}

