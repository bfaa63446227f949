/**
 * history-jobs-cron (timer trigger, every minute; docs/design.md §3.14): advances each account's
 * running history delivery job by bounded pages of history into its trail's outboxes, resuming
 * where the last run (or an interrupted one) left off, then wakes the deliverers.
 */
import { runHistoryJobs } from '../../shared/history-jobs/run-history-jobs.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { historyJobsCronPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer'], async ({ timer }, { context, log }) => {
  const report = await runHistoryJobs(historyJobsCronPorts(context));
  const trouble = report.errors.length > 0 || report.wakeError !== undefined;
  if (report.accounts > 0 || trouble) log[trouble ? 'warn' : 'info']('history jobs run', { triggerTime: timer.triggerTime, ...report });
  return { triggerTime: timer.triggerTime, ...report };
});
