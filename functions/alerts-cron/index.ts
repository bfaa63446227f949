/**
 * alerts-cron (timer trigger, every minute; also woken by insights-cron when its drain matched
 * events, and by itself for a retry due sooner; docs/design.md §3.12): evaluates the alert rules
 * over the matched events and sends, retries and logs their notifications. Safe to run twice.
 */
import { runAlerts } from '../../shared/alerts/engine.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { alertsCronPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer', 'wake'], async (trigger, { context, log }) => {
  const report = await runAlerts(alertsCronPorts(context, log));
  const cause = trigger.kind === 'timer' ? { triggerTime: trigger.timer.triggerTime } : { reason: trigger.wake.reason };
  log[report.failed > 0 ? 'error' : report.gaveUp > 0 || report.retrying > 0 ? 'warn' : 'info']('alerts run', { ...cause, ...report });
  return { ...cause, ...report };
});
