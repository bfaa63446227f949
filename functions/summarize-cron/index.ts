/** summarize-cron (timer trigger, every minute): folds queued summary rows into 2-hour windows. */
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { getServices } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer'], async ({ timer }, { log }) => {
  const report = await drainSummaryQueues(getServices().summaries, Date.now);
  log[report.failed > 0 ? 'error' : report.malformed > 0 || !report.complete ? 'warn' : 'info']('summary drain', { triggerTime: timer.triggerTime, ...report });
  return { triggerTime: timer.triggerTime, ...report };
});
