/**
 * insights-cron (timer trigger, every minute; docs/design.md §3.9): drains the analysis queues into
 * the per-minute counters (and the AccessKey audit), then opens and closes insights.
 */
import { runInsights } from '../../shared/insights/engine.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { getServices, insightsCronPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer'], async ({ timer }, { context, log }) => {
  // TK_ANALYSIS=off: Insights and the AccessKey audit are switched off (nothing is queued either)
  if (getServices().env.TK_ANALYSIS === 'off') return { triggerTime: timer.triggerTime, analysis: 'off' };
  const report = await runInsights(insightsCronPorts(context));
  log[report.failed > 0 ? 'error' : report.malformed > 0 || report.remaining > 0 ? 'warn' : 'info']('insights run', { triggerTime: timer.triggerTime, ...report });
  return { triggerTime: timer.triggerTime, ...report };
});
