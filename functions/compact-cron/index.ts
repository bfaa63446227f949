/**
 * compact-cron (timer trigger, every 30 minutes; docs/design.md §3.13 "Over the archive"): writes
 * one Parquet file per trail, scope and closed day of the archive, from the files the trail's
 * signed digests vouch for, with a manifest; days already compacted and unchanged are skipped.
 * A payload `{"fromDay":"YYYY-MM-DD","toDay":"YYYY-MM-DD"}` compacts an older range instead of
 * the recent days.
 */
import { compactArchives } from '../../shared/archive-query/compaction.ts';
import { compactionRangeOf } from '../../shared/archive-query/compaction-request.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { compactionPorts, getServices } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer'], async ({ timer }, { log }) => {
  const report = await compactArchives(compactionPorts(log, getServices()), compactionRangeOf(timer.payload));
  const count = (outcome: string) => report.days.filter((d) => d.outcome === outcome).length;
  const summary = { compacted: count('compacted'), unchanged: count('unchanged'), pending: count('pending'), tooLarge: count('too-large'), more: report.more };
  log.info('compaction run', { triggerTime: timer.triggerTime, ...summary });
  return { triggerTime: timer.triggerTime, ...summary, days: report.days };
});
