/**
 * deliver-oss: drains trail outboxes into archive files (gzip JSON arrays in ActionTrail's
 * layout, server-side encryption, object-lock retention where the bucket supports it) and writes
 * the signed hourly digests (shared/delivery/oss-delivery.ts). Woken by classify (writes full or
 * aged files), by the deferred pass it schedules for entries a wake-up found too young, and by
 * its flush timer (writes everything).
 */
import { runArchivePass } from '../../shared/delivery/oss-delivery.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { archivePassPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer', 'wake'], async (trigger, { context, log }) => {
  const result = await runArchivePass(archivePassPorts(context, log), { force: trigger.kind === 'timer' });
  if (result.delivered > 0 || result.digests > 0 || result.setAside > 0) log.info('archive delivery', { ...result });
  return result;
});
