/** summarize-cron: folds queued summary rows into 2-hour windows (timer trigger). */
import { decodeTimerEvent } from '../../adapters/fc/timer.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';

export const handler = fcHandler(async (event, _context, log) => {
  const timer = decodeTimerEvent(event);
  log.info('summary tick', { triggerTime: timer.triggerTime });
  return { triggerTime: timer.triggerTime };
});
