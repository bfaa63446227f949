/**
 * deliver-oss: drains trail outboxes into archive files (gzip JSON arrays, ActionTrail layout,
 * server-side encryption, object-lock retention where the bucket supports it) and writes the
 * signed hourly digests. Woken by classify (writes full or aged batches), by its flush timer
 * (writes everything), and by the deferred pass it schedules for entries a wake-up found too
 * young (see ARCHIVE_FLUSH_AGE_MS).
 */
import { deferredFlushDelayMs, deliverToArchives } from '../../shared/delivery/oss-delivery.ts';
import { FunctionInvoker } from '../../adapters/fc-invoker.ts';
import { claimDeferredFlush } from '../../adapters/redis/archive-delivery.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { putArchiveObject } from '../../adapters/archive/s3-archive.ts';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { archiveDeliveryState } from '../../adapters/redis/archive-delivery.ts';
import { getServices } from '../../adapters/wiring.ts';
import { objectExists } from '../../adapters/s3.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Timer events carry `triggerTime`; classify's wake-ups do not. */
function isTimer(event: Buffer): boolean {
  try {
    const parsed: unknown = JSON.parse(event.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && 'triggerTime' in parsed;
  } catch {
    return false;
  }
}

export const handler = fcHandler(async (event, context, log) => {
  const services = getServices();
  const { redis, s3, outbox, env } = services;
  const lockDays = env.TK_ARCHIVE_LOCK_DAYS;
  const result = await deliverToArchives(
    {
      trails: () => outbox.trails('oss'),
      getTrail: (accountId, name) => services.trails.get(accountId, name),
      peek: (accountId, name, limit) => outbox.peekWithArrival(accountId, name, 'oss', limit),
      ack: (accountId, name, ids) => outbox.ack(accountId, name, 'oss', ids),
      ...archiveDeliveryState(redis),
      objects: {
        put: async (bucket, key, body, contentType) => {
          await putArchiveObject(s3, bucket, key, body, {
            contentType,
            ...(lockDays > 0 ? { retainUntil: new Date(Date.now() + lockDays * DAY_MS) } : {}),
          });
        },
        // Not found is "absent"; any other failure (timeout, 503, AccessDenied) throws, so the
        // pending file is kept and the invocation retried — never written again under a new name.
        exists: (bucket, key) => objectExists(s3, bucket, key),
      },
      signingKey: () => ensureSigningKey(redis, services.secrets),
      status: services.deliveryStatus,
      now: () => Date.now(),
    },
    { force: isTimer(event) },
  );
  // Entries too young to write: one deferred pass of this function writes them when they come of
  // age (one scheduled at a time, however many wake-ups find them).
  const delayMs = deferredFlushDelayMs(result, Date.now());
  if (delayMs !== undefined && (await claimDeferredFlush(redis, delayMs))) {
    const invoker = new FunctionInvoker(context, env.TK_FC_ENDPOINT);
    await invoker.invokeAsync(context.function.name, { reason: 'deferred-flush' }, { delaySeconds: Math.ceil(delayMs / 1000) });
  }
  if (result.delivered > 0 || result.digests > 0 || result.failed.length > 0) log.info('archive delivery', { ...result });
  if (result.failed.length > 0) throw new Error(`archive delivery failed for ${result.failed.join(', ')}; events stay in the outbox`);
  return result;
});
