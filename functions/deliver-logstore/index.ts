/**
 * deliver-logstore: drains trail outboxes into the logstore `actiontrail_<trail>` (woken by
 * classify with an async invocation, and by its flush timer), and re-delivers archived ranges
 * when a request object is put under `redeliver/` (OSS trigger). Locally the logstore is Redis
 * streams; with TK_LOGSTORE=sls it is Alibaba Cloud Log Service.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { deliverToLogstores } from '../../shared/delivery/logstore-delivery.ts';
import { parseRedeliveryRequest, redeliver, REDELIVER_PREFIX, REDELIVER_RESULT_SUFFIX } from '../../shared/delivery/redelivery.ts';
import { archiveRootPrefix } from '../../shared/archive/layout.ts';
import { DomainError } from '../../shared/errors.ts';
import type { LogstoreWriter } from '../../shared/logstore/logstore.ts';
import { fcHandler, type Log } from '../../adapters/fc/handler.ts';
import type { FcContext } from '../../adapters/fc/context.ts';
import { FcOssEventSchema, decodeOssEvent, type ObjectNotice } from '../../adapters/fc/oss.ts';
import { readObject } from '../../adapters/s3-staging.ts';
import { S3ArchiveReader } from '../../adapters/archive/s3-archive.ts';
import { SlsLogstore } from '../../adapters/sls/logstore.ts';
import { getServices, type Services } from '../../adapters/wiring.ts';
import { trailLock } from '../../adapters/redis/trail-lock.ts';

function logstoreOf(services: Services, context: FcContext): LogstoreWriter {
  if (services.env.TK_LOGSTORE === 'redis') return services.redisLogstore;
  return new SlsLogstore({
    trails: services.trails,
    credentials: context.credentials,
    ...(services.env.TK_SLS_ENDPOINT ? { endpoint: services.env.TK_SLS_ENDPOINT } : {}),
  });
}

async function handleRedelivery(services: Services, context: FcContext, object: ObjectNotice, log: Log): Promise<void> {
  if (!object.key.startsWith(REDELIVER_PREFIX) || object.key.endsWith(REDELIVER_RESULT_SUFFIX)) return;
  let answer: unknown;
  try {
    const request = parseRedeliveryRequest(JSON.parse((await readObject(services.s3, object.bucket, object.key)).toString('utf8')));
    answer = await redeliver(request, {
      getTrail: (accountId, name) => services.trails.get(accountId, name),
      listArchiveFiles: async (bucket, prefix) => (await new S3ArchiveReader(services.s3, bucket).list(archiveRootPrefix(prefix))).map((o) => o.key),
      readArchiveFile: async (bucket, key) => JSON.parse((await readObject(services.s3, bucket, key)).toString('utf8')) as unknown[],
      managementAccountOf: (accountId) => services.accounts.managementAccountOf(accountId),
      logstore: logstoreOf(services, context),
    });
    log.info('range re-delivered', { key: object.key, ...(answer as Record<string, unknown>) });
  } catch (error) {
    if (!(error instanceof DomainError) && !(error instanceof SyntaxError)) throw error;
    answer = { error: { code: error instanceof DomainError ? error.code : 'InvalidJSON', message: error.message } };
  }
  await services.s3.send(
    new PutObjectCommand({ Bucket: object.bucket, Key: `${object.key}${REDELIVER_RESULT_SUFFIX}`, Body: JSON.stringify(answer, null, 2), ContentType: 'application/json' }),
  );
}

function isOssEvent(event: Buffer): boolean {
  try {
    return FcOssEventSchema.safeParse(JSON.parse(event.toString('utf8'))).success;
  } catch {
    return false;
  }
}

export const handler = fcHandler(async (event, context, log) => {
  const services = getServices();
  if (isOssEvent(event)) {
    for (const object of decodeOssEvent(event)) await handleRedelivery(services, context, object, log);
    return { redelivery: true };
  }
  const result = await deliverToLogstores({
    outbox: {
      trails: () => services.outbox.trails('logstore'),
      peek: (accountId, trailName, limit) => services.outbox.peek(accountId, trailName, 'logstore', limit),
      ack: (accountId, trailName, ids) => services.outbox.ack(accountId, trailName, 'logstore', ids),
    },
    withLock: trailLock(services.redis, 'logstore'),
    logstore: logstoreOf(services, context),
    status: services.deliveryStatus,
    now: () => Date.now(),
  });
  if (result.delivered > 0 || result.failed.length > 0) log.info('logstore delivery', { ...result });
  // A failed trail keeps its entries in the outbox; failing the invocation makes FC retry it.
  if (result.failed.length > 0) throw new Error(`logstore delivery failed for ${result.failed.join(', ')}; entries stay in the outbox`);
  return result;
});
