/**
 * lookup-http (HTTP trigger): the signed ActionTrail-style API (`GET|POST /?Action=…`) and the
 * console page.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { getLogs } from '../../shared/logstore/get-logs-action.ts';
import { LOOKUP_ACTIONS, type LookupPorts } from '../../shared/lookup/lookup-events.ts';
import { lookupTokenKey } from '../../adapters/redis/token-key.ts';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { TRAIL_ACTIONS, type TrailApiPorts } from '../../shared/trails/trail-api.ts';
import type { TrailStore } from '../../shared/trails/trail-store.ts';
import type { DeliveryStatusStore } from '../../shared/delivery/delivery-status.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { decodeHttpEvent, encodeHttpResponse, json } from '../../adapters/fc/http.ts';
import { handleRpc, type RpcAction } from '../../adapters/fc/rpc.ts';
import { getServices, type Services } from '../../adapters/wiring.ts';
import { RedisSummaryStore } from '../../adapters/redis/summary-store.ts';
import { lookupEventSummaries } from '../../shared/summaries/lookup-summaries.ts';

/** Trails as GetTrailStatus shows them: with the deliverers' latest delivery time and error. */
function withDeliveryStatus(trails: TrailStore, status: DeliveryStatusStore): TrailStore {
  return {
    list: (accountId) => trails.list(accountId),
    create: (trail) => trails.create(trail),
    update: (trail) => trails.update(trail),
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
    bucketExists: async (bucket) => {
      try {
        await services.s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return true;
      } catch {
        return false;
      }
    },
    organizationIdOf: (accountId) => services.accounts.organizationIdOf(accountId),
    now: () => Date.now(),
  };
}

function actionsFor(services: Services): Record<string, RpcAction> {
  const ports = trailPorts(services);
  const region = services.env.TK_REGION;
  const actions: Record<string, RpcAction> = {};
  for (const [name, action] of Object.entries(TRAIL_ACTIONS)) {
    actions[name] = (params, caller) => action(params, { accountId: caller.accountId, region }, ports);
  }
  // The public key that verifies archive digests (Ed25519, PEM), as CloudTrail publishes its own.
  actions['GetDigestPublicKey'] = async () => {
    const key = await ensureSigningKey(services.redis);
    return { Algorithm: 'Ed25519', PublicKey: key.publicKeyPem, Fingerprint: key.fingerprint };
  };
  actions['GetLogs'] = (params, caller) => getLogs(params, caller, { trails: services.trails, logstore: services.redisLogstore });
  let tokenKey: Promise<Buffer> | undefined;
  const lookupPorts: LookupPorts = {
    history: services.history,
    accountsVisibleTo: async (accountId) => [accountId, ...(await services.accounts.membersOf(accountId))],
    tokenKey: () => (tokenKey ??= lookupTokenKey(services.redis)),
    now: () => Date.now(),
  };
  for (const [name, action] of Object.entries(LOOKUP_ACTIONS)) actions[name] = (params, caller) => action(params, caller, lookupPorts);
  const summaryPorts = { summaries: new RedisSummaryStore(services.redis), accountsVisibleTo: lookupPorts.accountsVisibleTo, tokenKey: lookupPorts.tokenKey, now: lookupPorts.now };
  actions['LookupEventSummaries'] = (params, caller) => lookupEventSummaries(params, caller, summaryPorts);
  return actions;
}

let actions: Record<string, RpcAction> | undefined;

export const handler = fcHandler(async (event, _context, log) => {
  const request = decodeHttpEvent(event);
  if (request.method === 'GET' && request.path === '/health') {
    return encodeHttpResponse(json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId: request.requestId }));
  }
  if (request.path === '/' && (request.method === 'GET' || request.method === 'POST')) {
    if (request.method === 'GET' && Object.keys(request.query).length === 0) {
      return encodeHttpResponse(json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId: request.requestId }));
    }
    const services = getServices();
    actions ??= actionsFor(services);
    return encodeHttpResponse(await handleRpc(request, actions, { keys: services.accounts.keyLookup(), nonces: services.nonces }, log));
  }
  return encodeHttpResponse(json(404, { RequestId: request.requestId, Code: 'NotFound', Message: `no route for ${request.method} ${request.path}` }));
});
