/** summarize-cron: folds queued summary rows into 2-hour windows (timer trigger, every minute). */
import { decodeTimerEvent } from '../../adapters/fc/timer.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { RedisSummaryStore } from '../../adapters/redis/summary-store.ts';
import { getServices } from '../../adapters/wiring.ts';
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';

let store: RedisSummaryStore | undefined;

export const handler = fcHandler(async (event, _context, log) => {
  const timer = decodeTimerEvent(event);
  store ??= new RedisSummaryStore(getServices().redis);
  const report = await drainSummaryQueues(store, Date.now);
  const level = report.malformed > 0 || !report.complete ? 'warn' : 'info';
  log[level]('summary drain', { triggerTime: timer.triggerTime, ...report });
  return { triggerTime: timer.triggerTime, ...report };
});
