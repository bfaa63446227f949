/**
 * insights-cron (timer trigger, every minute; docs/design.md §3.9): drains the analysis queues into
 * the per-minute counters (and the AccessKey audit), then opens and closes insights.
 */
import { runInsights } from '../../shared/insights/engine.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { insightsCronPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer'], async ({ timer }, { context, log }) => {
  const report = await runInsights(insightsCronPorts(context));
  log[report.malformed > 0 || report.remaining > 0 ? 'warn' : 'info']('insights run', { triggerTime: timer.triggerTime, ...report });
  return { triggerTime: timer.triggerTime, ...report };
});
