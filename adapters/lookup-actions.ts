/**
 * The RPC actions lookup-http serves, wired to their stores: the trail API, LookupEvents,
 * GetEvent, LookupEventSummaries, GetLogs, GetDigestPublicKey, GetCallerIdentity, the AccessKey
 * audit (GetAccessKeyLastUsed*, and our ListAccessKeyLastUsed), Insights (with our
 * Put/GetInsightIpAllowlist) and the history delivery jobs.
 */
import { bucketExists } from './s3.ts';
import { getLogs } from '../shared/logstore/get-logs-action.ts';
import { LOOKUP_ACTIONS, type LookupPorts } from '../shared/lookup/lookup-events.ts';
import { lookupTokenKey } from './redis/token-key.ts';
import { ensureSigningKey } from './archive/signing-key-store.ts';
import { TRAIL_ACTIONS, type TrailApiPorts } from '../shared/trails/trail-api.ts';
import type { TrailStore } from '../shared/trails/trail-store.ts';
import { organizationMembershipOf } from '../shared/trails/bucket-claims.ts';
import { RedisBucketClaims } from './redis/trail-store.ts';
import type { DeliveryStatusStore } from '../shared/delivery/delivery-status.ts';
import type { RpcAction, RpcCaller } from './fc/rpc.ts';
import { recordingApiCalls } from '../shared/trails/api-events.ts';
import type { Services } from './wiring.ts';
import { archiveQueryPorts } from './archive-query-wiring.ts';
import { archiveQueryPort } from '../shared/archive-query/archive-port.ts';
import { lookupEventSummaries } from '../shared/summaries/lookup-summaries.ts';
import { INSIGHT_ACTIONS, type InsightApiPorts } from '../shared/insights/insight-api.ts';
import { ACCESS_KEY_AUDIT_ACTIONS, type AccessKeyAuditPorts } from '../shared/accesskeys/accesskey-actions.ts';
import { runAdvancedQuery, type RunQueryPorts } from '../shared/query/run-query.ts';
import { SAVED_QUERY_ACTIONS, type SavedQueryPorts } from '../shared/query/saved-queries.ts';
import { HISTORY_JOB_ACTIONS, type HistoryJobApiPorts } from '../shared/history-jobs/history-job-api.ts';
import { describeTrailDeliveryMetricData, type MetricApiPorts } from '../shared/delivery/delivery-metrics.ts';
import { getComplianceReport } from '../shared/compliance/compliance-action.ts';
import { complianceActionPorts } from './compliance/ports.ts';
import { ALERT_ACTIONS, type AlertApiPorts } from '../shared/alerts/alert-api.ts';
import { openAlertChannel, sealAlertChannelSecret } from './alert-channels.ts';
import { webhookSender } from './http/webhook-sender.ts';

/** Trails as GetTrailStatus shows them: with the deliverers' latest delivery time and error. */
function withDeliveryStatus(trails: TrailStore, status: DeliveryStatusStore): TrailStore {
  return {
    list: (accountId) => trails.list(accountId),
    create: (trail) => trails.create(trail),
    update: (trail, expected) => trails.update(trail, expected),
    delete: (accountId, name) => trails.delete(accountId, name),
    get: async (accountId, name) => {
      const trail = await trails.get(accountId, name);
      if (!trail) return undefined;
      const s = await status.get(accountId, name);
      return {
        ...trail,
        ...(s.latestDeliveryTimeMs !== undefined ? { latestDeliveryTimeMs: s.latestDeliveryTimeMs } : {}),
        ...(s.latestDeliveryError !== undefined ? { latestDeliveryError: s.latestDeliveryError } : {}),
      };
    },
  };
}

function trailPorts(services: Services): TrailApiPorts {
  return {
    trails: withDeliveryStatus(services.trails, services.deliveryStatus),
    logstoreStatus: async (trail) => {
      if (!trail.slsProjectArn) return undefined;
      const s = await services.deliveryStatus.get(trail.accountId, trail.name);
      return {
        available: s.latestLogstoreDeliveryError === undefined,
        ...(s.latestLogstoreDeliveryTimeMs !== undefined ? { latestDeliveryTimeMs: s.latestLogstoreDeliveryTimeMs } : {}),
        ...(s.latestLogstoreDeliveryError !== undefined ? { latestDeliveryError: s.latestLogstoreDeliveryError } : {}),
      };
    },
    // false only when S3 says the bucket does not exist; an outage is a retryable error, not BucketDoesNotExistException
    bucketExists: (bucket) => bucketExists(services.s3, bucket),
    reservedBuckets: [services.env.TK_STAGING_BUCKET],
    organizationIdOf: (accountId) => services.accounts.organizationIdOf(accountId),
    bucketClaims: new RedisBucketClaims(services.redis),
    organizationOf: (accountId) => organizationMembershipOf(services.accounts, accountId),
    // every bucket of the object store lives in its one region (DescribeTrails' OssBucketLocation)
    bucketLocation: async () => services.env.TK_S3_REGION,
    now: () => Date.now(),
  };
}

/**
 * The actions that only read (no store write, no recorded API event, no outside call): LookupEvents
 * and GetEvent, the busiest. handleRpc sends their first reads with the nonce claim and answers
 * only once the claim holds (adapters/fc/rpc.ts RpcOptions).
 */
export const READ_ONLY_ACTIONS: ReadonlySet<string> = new Set(['LookupEvents', 'GetEvent']);

export function lookupActions(services: Services): Record<string, RpcAction> {
  const ports = trailPorts(services);
  const region = services.env.TK_REGION;
  // No prototype: a caller's Action is never an Object.prototype member (handleRpc also reads own entries only).
  const actions = Object.create(null) as Record<string, RpcAction>;
  for (const [name, action] of Object.entries(TRAIL_ACTIONS)) {
    // write actions are recorded as events of the caller's account before they answer (api-events.ts)
    actions[name] = recordingApiCalls(name, (params, caller: RpcCaller) => action(params, { accountId: caller.accountId, region }, ports), { region, ports: services });
  }
  // The public key that verifies archive digests (Ed25519, PEM), as CloudTrail publishes its own.
  actions['GetDigestPublicKey'] = async () => {
    const key = await ensureSigningKey(services.redis, services.secrets);
    return { Algorithm: 'Ed25519', PublicKey: key.publicKeyPem, Fingerprint: key.fingerprint };
  };
  // Whose key signed the call, as STS GetCallerIdentity answers for an account's own AccessKey
  // pair: the console's sign-in check (a key of ours belongs to an account, not a RAM user).
  actions['GetCallerIdentity'] = async (_params, caller) => ({
    IdentityType: 'Account',
    AccountId: caller.accountId,
    PrincipalId: caller.accountId,
    UserId: caller.accountId,
    Arn: `acs:ram::${caller.accountId}:root`,
    AccessKeyId: caller.accessKeyId,
  });
  actions['GetLogs'] = (params, caller) => getLogs(params, caller, { trails: services.trails, logstore: services.redisLogstore });
  let tokenKey: Promise<Buffer> | undefined;
  const lookupPorts: LookupPorts = {
    history: services.history,
    accountsVisibleTo: async (accountId) => [accountId, ...(await services.accounts.membersOf(accountId))],
    // a failure (Redis down, another TK_SECRETS_KEY) is not cached: the next call tries again
    tokenKey: () =>
      (tokenKey ??= lookupTokenKey(services.redis, services.secrets).catch((error: unknown) => {
        tokenKey = undefined;
        throw error;
      })),
    now: () => Date.now(),
  };
  for (const [name, action] of Object.entries(LOOKUP_ACTIONS)) actions[name] = (params, caller) => action(params, caller, lookupPorts);
  const summaryPorts = { summaries: services.summaries, accountsVisibleTo: lookupPorts.accountsVisibleTo, tokenKey: lookupPorts.tokenKey, now: lookupPorts.now };
  actions['LookupEventSummaries'] = (params, caller) => lookupEventSummaries(params, caller, summaryPorts);
  const auditPorts: AccessKeyAuditPorts = {
    audit: services.accessKeyAudit,
    keysOf: (accountId) => services.accounts.listKeys(accountId),
    tokenKey: lookupPorts.tokenKey,
    now: lookupPorts.now,
  };
  for (const [name, action] of Object.entries(ACCESS_KEY_AUDIT_ACTIONS)) actions[name] = (params, caller) => action(params, caller, auditPorts);
  // Insights (docs/design.md §3.9): the caller's own account only
  const insightPorts: InsightApiPorts = {
    enabledTypes: (accountId) => services.insights.enabledTypes(accountId),
    setType: (accountId, type, enabled) => services.insights.setType(accountId, type, enabled),
    allowlist: (accountId) => services.insights.allowlist(accountId),
    setAllowlist: (accountId, entries) => services.insights.setAllowlist(accountId, entries),
    getTrail: (accountId, name) => services.trails.get(accountId, name),
    updateTrail: async (trail) => (await services.trails.update(trail, trail)) === true,
    page: (accountId, q) => services.insights.page(accountId, q),
    tokenKey: lookupPorts.tokenKey,
    now: lookupPorts.now,
  };
  // the write actions (EnableInsight, DisableInsight, PutInsightSelectors, PutInsightIpAllowlist) are recorded as the trail API's are
  for (const [name, action] of Object.entries(INSIGHT_ACTIONS)) {
    actions[name] = recordingApiCalls(name, (params, caller: RpcCaller) => action(params, caller, insightPorts), { region, ports: services });
  }
  // Advanced query (docs/design.md §3.13): RunAdvancedQuery over history or a trail's archive,
  // templates and history; the template and history writes are recorded as the trail API's are
  const queryPorts: RunQueryPorts = { history: services.history, accountsVisibleTo: lookupPorts.accountsVisibleTo, tokenKey: lookupPorts.tokenKey, now: lookupPorts.now };
  // Source=archive: the trail's archive through the embedded engine (shared/archive-query/, §3.13 "Over the archive")
  queryPorts.archiveQuery = archiveQueryPort({ ...archiveQueryPorts(services), tokenKey: lookupPorts.tokenKey });
  actions['RunAdvancedQuery'] = (params, caller) => runAdvancedQuery(params, caller, queryPorts);
  const savedQueryPorts: SavedQueryPorts = { store: services.savedQueries, now: lookupPorts.now };
  for (const [name, action] of Object.entries(SAVED_QUERY_ACTIONS)) {
    actions[name] = recordingApiCalls(name, (params, caller: RpcCaller) => action(params, caller, savedQueryPorts), { region, ports: services });
  }
  // History delivery jobs (docs/design.md §3.14): the caller's own account; Create and Delete are recorded
  const historyJobPorts: HistoryJobApiPorts = {
    getTrail: (accountId, name) => services.trails.get(accountId, name),
    jobs: services.historyJobs.apiPorts(),
    now: lookupPorts.now,
  };
  for (const [name, action] of Object.entries(HISTORY_JOB_ACTIONS)) {
    actions[name] = recordingApiCalls(name, (params, caller: RpcCaller) => action(params, caller, historyJobPorts), { region, ports: services });
  }
  // Delivery metrics of the caller's own trails (docs/design.md §3.14), counted by the deliverers
  const metricPorts: MetricApiPorts = { getTrail: (accountId, name) => services.trails.get(accountId, name), metrics: services.deliveryMetrics, now: lookupPorts.now };
  actions['DescribeTrailDeliveryMetricData'] = (params, caller) => describeTrailDeliveryMetricData(params, caller, metricPorts);
  // The compliance report (docs/design.md §3.11): the caller's account, or a member its organization manages
  const compliancePorts = complianceActionPorts(services);
  actions['GetComplianceReport'] = (params, caller) => getComplianceReport(params, caller, compliancePorts);
  // Alerts (docs/design.md §3.12): rules and channels of the caller's own account; the writes (and TestAlertChannel) recorded
  const allowPrivateNetworks = services.env.TK_ALERTS_ALLOW_PRIVATE_NETWORKS === 'true';
  const alertPorts: AlertApiPorts = {
    store: services.alerts,
    seal: (accountId, channelId, what, plaintext) => sealAlertChannelSecret(services.secrets, accountId, channelId, what, plaintext),
    open: (channel) => openAlertChannel(services.secrets, channel),
    send: webhookSender({ allowPrivateNetworks }),
    allowPrivateNetworks,
    now: lookupPorts.now,
  };
  for (const [name, action] of Object.entries(ALERT_ACTIONS)) {
    actions[name] = recordingApiCalls(name, (params, caller: RpcCaller) => action(params, caller, alertPorts), { region, ports: services });
  }
  return actions;
}
