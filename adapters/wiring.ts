/**
 * The stores and clients a function instance uses, built once per instance from its
 * environment (FC reuses an instance across invocations).
 */
import { cachedKeyLookup } from '../shared/auth/key-cache.ts';
import { readEnv, secretBoxOf, type Env } from './env.ts';
import { redisFor } from './redis.ts';
import { objectExists, putJson, s3For } from './s3.ts';
import { readObject, S3Staging } from './s3-staging.ts';
import type { FcContext } from './fc/context.ts';
import type { Log } from './fc/handler.ts';
import type { WakeEvent } from './fc/trigger.ts';
import { FunctionInvoker } from './fc-invoker.ts';
import type { ClassifyObjectPorts } from '../shared/pipeline/classify-object.ts';
import type { ArchivePassPorts } from '../shared/delivery/oss-delivery.ts';
import type { LogstoreDeliveryPorts } from '../shared/delivery/logstore-delivery.ts';
import type { RedeliveryObjectPorts } from '../shared/delivery/redelivery.ts';
import type { RejectedObjectPorts } from '../shared/pipeline/set-aside.ts';
import type { LogstoreWriter } from '../shared/logstore/logstore.ts';
import { archiveRootPrefix } from '../shared/archive/layout.ts';
import { putArchiveObject, S3ArchiveReader } from './archive/s3-archive.ts';
import { ensureSigningKey } from './archive/signing-key-store.ts';
import { archiveDeliveryState, claimDeferredFlush } from './redis/archive-delivery.ts';
import { trailLock } from './redis/trail-lock.ts';
import { SlsLogstore } from './sls/logstore.ts';
import type { RpcAction, RpcOptions } from './fc/rpc.ts';
import { lookupActions, READ_ONLY_ACTIONS } from './lookup-actions.ts';
import type { KeyLookup, NonceStore } from '../shared/auth/verify.ts';
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
import { RedisSummaryStore } from './redis/summary-store.ts';
import { RedisDeadLetterStore } from './redis/dead-letter-store.ts';
import { RedisAccessKeyAudit } from './redis/accesskey-audit.ts';
import { RedisInsightsStore } from './redis/insights-store.ts';
import { RedisSavedQueryStore } from './redis/saved-queries.ts';
import { analyseBatch, type InsightsRunPorts } from '../shared/insights/engine.ts';
import type { AnalysisConsumer, AnalysisRow } from '../shared/analysis/analysis-row.ts';
import type { InsightEvent } from '../shared/insights/detector.ts';
import { candidateInsightTrails, routeInsightEvents } from '../shared/insights/routing.ts';
import { RedisHistoryJobs } from './redis/history-jobs.ts';
import { RedisDeliveryMetrics } from './redis/delivery-metrics.ts';
import type { HistoryJobRunPorts } from '../shared/history-jobs/run-history-jobs.ts';
import { RedisAlertStore } from './redis/alerts-store.ts';
import { AlertMatcher, alertMatcherConsumer, insightRows, type AlertsRunPorts } from '../shared/alerts/engine.ts';
import { openAlertChannel } from './alert-channels.ts';
import { webhookSender } from './http/webhook-sender.ts';

/** The deliverers classify wakes after filling outboxes (s.yaml functionName values). */
export const DELIVERER_FUNCTIONS = ['trailkeeper-deliver-oss', 'trailkeeper-deliver-logstore'] as const;
/** The function that evaluates alert rules and sends notifications (s.yaml functionName). */
export const ALERTS_FUNCTION = 'trailkeeper-alerts-cron';

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
    summaries: new RedisSummaryStore(redis),
    deadLetters: new RedisDeadLetterStore(redis),
    /** The AccessKey audit (§3.10): an AnalysisConsumer of the insights drain, read by lookup-http. */
    accessKeyAudit: new RedisAccessKeyAudit(redis),
    /** Insights (§3.9): the analysis queue's drain, counters, open insights and insight events. */
    insights: new RedisInsightsStore(redis),
    /** Advanced query templates and history (§3.13). */
    savedQueries: new RedisSavedQueryStore(redis),
    /** History delivery jobs (§3.14): written by lookup-http's API, run by history-jobs-cron. */
    historyJobs: new RedisHistoryJobs(redis),
    /** Alerts (§3.12): rules, channels, matches, deliveries and their log. */
    alerts: new RedisAlertStore(redis),
    /** Per-minute delivery counts per trail (§3.14 DescribeTrailDeliveryMetricData), kept by the deliverers. */
    deliveryMetrics: new RedisDeliveryMetrics(redis),
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
    ...classifyPorts(services, log, alertsWaker(context, services)),
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

/**
 * The analysis consumers beside the Insights counters (docs/design.md §3.9), in classify and in
 * insights-cron's drain: the AccessKey audit, and the alert matcher (§3.12: one rules-version read
 * per account and batch, writes only for matches; `wakeAlerts` runs when a batch recorded new ones).
 */
export function analysisConsumers(services: Services, wakeAlerts: () => Promise<void> = async () => undefined, now: () => number = Date.now): AnalysisConsumer[] {
  return [services.accessKeyAudit, alertMatcherConsumer(alertMatcherOf(services, now), wakeAlerts)];
}

/** Wakes alerts-cron (an async invocation), best effort: a failed wake-up never fails the analysis — its timer runs within a minute. */
function alertsWaker(context: FcContext, services: Services): () => Promise<void> {
  return async () => {
    await new FunctionInvoker(context, services.env.TK_FC_ENDPOINT).invokeAsync(ALERTS_FUNCTION, { reason: 'matched' } satisfies WakeEvent).catch(() => undefined);
  };
}

export function classifyPorts(services: Services, log?: Log, wakeAlerts?: () => Promise<void>): ClassifyPorts {
  return {
    history: services.history,
    trailsOf: (accountId) => services.trails.list(accountId),
    managementAccountOf: (accountId) => services.accounts.managementAccountOf(accountId),
    appendOutbox: async (trail, entries) => {
      await services.outbox.append(trail, entries);
    },
    enqueueSummaries: (accountId, rows) => services.summaryQueue.enqueue(accountId, rows),
    ...(services.env.TK_ANALYSIS === 'off'
      ? {}
      : {
          analyse: async (accountId: string, objectId: string, rows: readonly AnalysisRow[]) => {
            await analyseBatch(
              {
                store: services.insights,
                consumers: analysisConsumers(services, wakeAlerts),
                queue: (account, queued) => services.summaryQueue.enqueue(account, [], queued),
                now: () => Date.now(),
                warn: (message, fields) => log?.warn(message, fields),
              },
              accountId,
              objectId,
              rows,
            );
          },
        }),
    beginObject: (objectId) => services.markers.begin(objectId),
    finishObject: (objectId) => services.markers.finish(objectId),
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where deliver-logstore writes: the local Redis streams, or Log Service with the function's credentials. */
function logstoreOf(services: Services, context: FcContext): LogstoreWriter {
  if (services.env.TK_LOGSTORE === 'redis') return services.redisLogstore;
  return new SlsLogstore({
    trails: services.trails,
    credentials: context.credentials,
    ...(services.env.TK_SLS_ENDPOINT ? { endpoint: services.env.TK_SLS_ENDPOINT } : {}),
  });
}

/** Where a deliverer sets aside the entries it cannot write: the staging bucket's `rejected/`, as classify does. */
function rejectedObjectPorts(services: Services, log: Log): RejectedObjectPorts {
  return { bucket: services.env.TK_STAGING_BUCKET, writeJson: (bucket, key, document) => putJson(services.s3, bucket, key, document), log };
}

/** What deliver-oss needs for one pass (it schedules its deferred pass as `context`'s function). */
export function archivePassPorts(context: FcContext, log: Log, services: Services = getServices()): ArchivePassPorts {
  const { redis, s3, outbox, env } = services;
  const lockDays = env.TK_ARCHIVE_LOCK_DAYS;
  return {
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
    metrics: services.deliveryMetrics,
    rejected: rejectedObjectPorts(services, log),
    now: () => Date.now(),
    // One deferred pass at a time, however many wake-ups find entries too young to write.
    scheduleDeferredPass: async (delayMs) => {
      if (!(await claimDeferredFlush(redis, delayMs))) return;
      const wake: WakeEvent = { reason: 'deferred-flush' };
      await new FunctionInvoker(context, env.TK_FC_ENDPOINT).invokeAsync(context.function.name, wake, { delaySeconds: Math.ceil(delayMs / 1000) });
    },
  };
}

/** What deliver-logstore needs for one pass. */
export function logstorePassPorts(context: FcContext, log: Log, services: Services = getServices()): LogstoreDeliveryPorts {
  return {
    outbox: {
      trails: () => services.outbox.trails('logstore'),
      peek: (accountId, trailName, limit) => services.outbox.peekWithArrival(accountId, trailName, 'logstore', limit),
      ack: (accountId, trailName, ids) => services.outbox.ack(accountId, trailName, 'logstore', ids),
    },
    withLock: trailLock(services.redis, 'logstore'),
    logstore: logstoreOf(services, context),
    rejected: rejectedObjectPorts(services, log),
    status: services.deliveryStatus,
    metrics: services.deliveryMetrics,
    now: () => Date.now(),
  };
}

/** What deliver-logstore needs for a re-delivery request object. */
export function redeliveryObjectPorts(context: FcContext, services: Services = getServices()): RedeliveryObjectPorts {
  return {
    getTrail: (accountId, name) => services.trails.get(accountId, name),
    listArchiveFiles: async (bucket, prefix) => (await new S3ArchiveReader(services.s3, bucket).list(archiveRootPrefix(prefix))).map((o) => o.key),
    readArchiveFile: async (bucket, key) => JSON.parse((await readObject(services.s3, bucket, key)).toString('utf8')) as unknown[],
    managementAccountOf: (accountId) => services.accounts.managementAccountOf(accountId),
    logstore: logstoreOf(services, context),
    readJson: async (bucket, key) => JSON.parse((await readObject(services.s3, bucket, key)).toString('utf8')) as unknown,
    writeJson: (bucket, key, document) => putJson(services.s3, bucket, key, document),
  };
}

let rpc: { actions: Readonly<Record<string, RpcAction>>; auth: { keys: KeyLookup; nonces: NonceStore }; options: RpcOptions } | undefined;

/** lookup-http's action table and request authentication, built once per instance. */
export function rpcPorts(services: Services = getServices()): NonNullable<typeof rpc> {
  // AccessKey records cached for KEY_CACHE_TTL_MS (shared/auth/key-cache.ts: a disable or delete takes effect within it)
  rpc ??= {
    actions: lookupActions(services),
    auth: { keys: cachedKeyLookup(services.accounts.keyLookup()), nonces: services.nonces },
    // their first reads go out with the nonce claim (adapters/fc/rpc.ts RpcOptions)
    options: { readOnly: READ_ONLY_ACTIONS },
  };
  return rpc;
}


/**
 * What insights-cron needs (docs/design.md §3.9): the store, the other analysis consumers of the
 * drained rows, and delivery of insight events to the outboxes of the logging trails whose
 * InsightSelectors include the type — the account's own and its management account's
 * organization trails (shared/insights/routing.ts) — then the deliverers are woken, as classify does.
 */
export function insightsCronPorts(context: FcContext, services: Services = getServices(), now: () => number = Date.now): InsightsRunPorts {
  // alerts (§3.12): the drained rows (as in classify) and the insights opened are matched against the
  // account's rules; new matches wake alerts-cron at once
  const wakeAlerts = alertsWaker(context, services);
  const alertConsumer = alertMatcherConsumer(alertMatcherOf(services, now), wakeAlerts);
  return {
    store: services.insights,
    consumers: analysisConsumers(services, wakeAlerts, now),
    now,
    region: services.env.TK_REGION,
    deliver: async (accountId: string, events: readonly InsightEvent[]) => {
      const insightsAsRows = insightRows(accountId, events);
      if (insightsAsRows.length > 0) await alertConsumer.consume(accountId, insightsAsRows);
      const management = await services.accounts.managementAccountOf(accountId);
      const candidates = candidateInsightTrails(await services.trails.list(accountId), management ? await services.trails.list(management) : []);
      let appended = 0;
      for (const { trail, events: received } of routeInsightEvents(events, candidates, management)) {
        const entries = received.map((e) => ({ eventId: e.eventId, eventTimeMs: Date.parse(e.eventTime), json: JSON.stringify(e) }));
        await services.outbox.append(trail, entries);
        appended += entries.length;
      }
      if (appended === 0) return;
      const invoker = new FunctionInvoker(context, services.env.TK_FC_ENDPOINT);
      const wake: WakeEvent = { reason: 'classified' };
      await Promise.all(DELIVERER_FUNCTIONS.map((fn) => invoker.invokeAsync(fn, wake)));
    },
  };
}

/**
 * What history-jobs-cron needs (docs/design.md §3.14): the jobs, the trails, history to read,
 * the outbox sizes it waits on, and the deliverers to wake once it has appended, as classify does.
 */
export function historyJobsCronPorts(context: FcContext, services: Services = getServices(), now: () => number = Date.now): HistoryJobRunPorts {
  return {
    jobs: services.historyJobs.runPorts(now),
    getTrail: (accountId, name) => services.trails.get(accountId, name),
    history: services.history,
    outboxSize: async (trail) => {
      const sizes = await Promise.all([services.outbox.size(trail.accountId, trail.name, 'oss'), services.outbox.size(trail.accountId, trail.name, 'logstore')]);
      return Math.max(...sizes);
    },
    wakeDeliverers: async () => {
      const invoker = new FunctionInvoker(context, services.env.TK_FC_ENDPOINT);
      const wake: WakeEvent = { reason: 'classified' };
      await Promise.all(DELIVERER_FUNCTIONS.map((fn) => invoker.invokeAsync(fn, wake)));
    },
    now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

const matchers = new WeakMap<Services, AlertMatcher>();

/** The instance's alert matcher (its compiled rules are cached per account and rules version). */
function alertMatcherOf(services: Services, now: () => number): AlertMatcher {
  if (now !== Date.now) return new AlertMatcher(services.alerts, now);
  let matcher = matchers.get(services);
  if (!matcher) matchers.set(services, (matcher = new AlertMatcher(services.alerts, now)));
  return matcher;
}

/** What alerts-cron needs (docs/design.md §3.12): the store, the guarded sender, the sealed channels opened, a delayed re-run for a retry. */
export function alertsCronPorts(context: FcContext, log: Log, services: Services = getServices(), now: () => number = Date.now): AlertsRunPorts {
  return {
    store: services.alerts,
    send: webhookSender({ allowPrivateNetworks: services.env.TK_ALERTS_ALLOW_PRIVATE_NETWORKS === 'true' }),
    openChannel: (channel) => openAlertChannel(services.secrets, channel),
    now,
    scheduleRun: async (delayMs) => {
      const wake: WakeEvent = { reason: 'retry' };
      await new FunctionInvoker(context, services.env.TK_FC_ENDPOINT).invokeAsync(context.function.name, wake, { delaySeconds: Math.max(1, Math.ceil(delayMs / 1000)) });
    },
    log: (level, message, fields) => log[level](message, fields),
  };
}

// Archive queries and compaction (docs/design.md §3.13 "Over the archive"): adapters/archive-query-wiring.ts
export { archiveQueryPorts, compactionPorts } from './archive-query-wiring.ts';
