/** deliver-logstore: drains trail outboxes (flush timer, or woken by classify with an async invocation). */
import { fcHandler } from '../../adapters/fc/handler.ts';

export const handler = fcHandler(async (event, _context, log) => {
  log.info('woken', { bytes: event.length });
  return { delivered: 0 };
});
