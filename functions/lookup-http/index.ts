/**
 * lookup-http (HTTP trigger): the signed ActionTrail-style API, `GET|POST /?Action=…`
 * (actions in adapters/lookup-actions.ts).
 */
import { fcHandler } from '../../adapters/fc/handler.ts';
import { decodeHttpEvent, encodeHttpResponse, json } from '../../adapters/fc/http.ts';
import { handleRpc, type RpcAction } from '../../adapters/fc/rpc.ts';
import { lookupActions } from '../../adapters/lookup-actions.ts';
import { getServices } from '../../adapters/wiring.ts';

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
    actions ??= lookupActions(services);
    return encodeHttpResponse(await handleRpc(request, actions, { keys: services.accounts.keyLookup(), nonces: services.nonces }, log));
  }
  return encodeHttpResponse(json(404, { RequestId: request.requestId, Code: 'NotFound', Message: `no route for ${request.method} ${request.path}` }));
});
