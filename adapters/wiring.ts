/**
 * The stores and clients a function instance uses, built once per instance from its
 * environment (FC reuses an instance across invocations).
 */
import { readEnv, secretBoxOf, type Env } from './env.ts';
import { redisFor } from './redis.ts';
import { putJson, s3For } from './s3.ts';
import { readObject, S3Staging } from './s3-staging.ts';
import type { FcContext } from './fc/context.ts';
import type { Log } from './fc/handler.ts';
import type { WakeEvent } from './fc/trigger.ts';
import { FunctionInvoker } from './fc-invoker.ts';
import type { ClassifyObjectPorts } from '../shared/pipeline/classify-object.ts';
import { RedisAccountStore, redisNonceStore } from './redis/account-store.ts';
import { RedisHistoryStore } from './redis/history-store.ts';
import { RedisIngestClaims } from './redis/ingest-claims.ts';
import { RedisTrailStore } from './redis/trail-store.ts';
import { RedisObjectMarkers } from './redis/object-markers.ts';
import { RedisOutbox } from './redis/outbox.ts';
import { RedisSummaryQueue } from './redis/summary-queue.ts';
import type { ClassifyPorts } from '../shared/pipeline/classify-batch.ts';
import { RedisDeliveryStatus } from './redis/delivery-status.ts';
import { RedisLogstore } from './redis/logstore.ts';

/** The deliverers classify wakes after filling outboxes (s.yaml functionName values). */
export const DELIVERER_FUNCTIONS = ['trailkeeper-deliver-oss', 'trailkeeper-deliver-logstore'] as const;

function build(env: Env) {
  const redis = redisFor(env.TK_REDIS_URL);
  const s3 = s3For({
    endpoint: env.TK_S3_ENDPOINT,
    region: env.TK_S3_REGION,
    accessKeyId: env.TK_S3_ACCESS_KEY_ID,
    secretAccessKey: env.TK_S3_SECRET_ACCESS_KEY,
    forcePathStyle: env.TK_S3_FORCE_PATH_STYLE === 'true',
  });
  /** Seals and opens the secrets kept in Redis (AccessKey secrets, the digest signing key, the NextToken key). */
  const secrets = secretBoxOf(env);
  return {
    env,
    redis,
    s3,
    secrets,
    accounts: new RedisAccountStore(redis, secrets),
    nonces: redisNonceStore(redis),
    history: new RedisHistoryStore(redis),
    trails: new RedisTrailStore(redis),
    claims: new RedisIngestClaims(redis),
    staging: new S3Staging(s3, env.TK_STAGING_BUCKET),
    outbox: new RedisOutbox(redis),
    summaryQueue: new RedisSummaryQueue(redis),
    markers: new RedisObjectMarkers(redis),
    deliveryStatus: new RedisDeliveryStatus(redis),
    /** The local logstore (Redis streams); production selects Log Service with TK_LOGSTORE=sls. */
    redisLogstore: new RedisLogstore(redis),
  };
}

export type Services = ReturnType<typeof build>;
let services: Services | undefined;

export function getServices(): Services {
  services ??= build(readEnv());
  return services;
}

/** What classify needs for the objects of one invocation (it wakes the deliverers as `context`'s function). */
export function classifyObjectPorts(context: FcContext, log: Log, services: Services = getServices()): ClassifyObjectPorts {
  const invoker = new FunctionInvoker(context, services.env.TK_FC_ENDPOINT);
  return {
    ...classifyPorts(services),
    readObject: (bucket, key, maxBytes) => readObject(services.s3, bucket, key, { maxBytes }),
    writeJson: (bucket, key, document) => putJson(services.s3, bucket, key, document),
    wakeDeliverers: async (objectKey) => {
      const wake: WakeEvent = { reason: 'classified', object: objectKey };
      await Promise.all(DELIVERER_FUNCTIONS.map((fn) => invoker.invokeAsync(fn, wake)));
    },
    log,
    now: () => Date.now(),
  };
}

export function classifyPorts(services: Services): ClassifyPorts {
  return {
    history: services.history,
    trailsOf: (accountId) => services.trails.list(accountId),
    managementAccountOf: (accountId) => services.accounts.managementAccountOf(accountId),
    appendOutbox: async (trail, entries) => {
      await services.outbox.append(trail, entries);
    },
    enqueueSummaries: (accountId, rows) => services.summaryQueue.enqueue(accountId, rows),
    beginObject: (objectId) => services.markers.begin(objectId),
    finishObject: (objectId) => services.markers.finish(objectId),
  };
}
