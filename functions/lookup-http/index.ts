/**
 * lookup-http (HTTP trigger): the signed ActionTrail-style API, `GET|POST /?Action=…`
 * (actions in adapters/lookup-actions.ts), and the console, `GET /console` (browser files from
 * functions/lookup-http/web/, shipped in the bundle's `web/` folder by emulator/build.ts).
 */
import path from 'node:path';
import { PayloadTooLargeError } from '../../shared/errors.ts';
import { errorAnswer } from '../../adapters/fc/errors.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { decodeHttpEvent, encodeHttpResponse, json, type HttpRequest } from '../../adapters/fc/http.ts';
import { handleRpc, RPC_DECODE_LIMITS, type RpcAction } from '../../adapters/fc/rpc.ts';
import { staticSite } from '../../adapters/fc/static-assets.ts';
import { lookupActions } from '../../adapters/lookup-actions.ts';
import { getServices } from '../../adapters/wiring.ts';

let actions: Record<string, RpcAction> | undefined;
// The bundle is CommonJS: __dirname is its folder, next to which the build puts web/.
const consoleSite = staticSite({ prefix: '/console', dir: () => path.join(__dirname, 'web') });

export const handler = fcHandler(async (event, context, log) => {
  let request: HttpRequest;
  try {
    // No route takes more than an RPC form body: anything larger is refused before it is parsed.
    request = decodeHttpEvent(event, RPC_DECODE_LIMITS);
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return encodeHttpResponse(errorAnswer(error, context.requestId, log));
    throw error;
  }
  if (request.method === 'GET' && request.path === '/health') {
    return encodeHttpResponse(json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId: request.requestId }));
  }
  const page = consoleSite.respond(request);
  if (page) return encodeHttpResponse(page);
  if (request.path === '/' && (request.method === 'GET' || request.method === 'POST')) {
    if (request.method === 'GET' && Object.keys(request.query).length === 0) {
      // A person who opens the API's address in a browser lands on the console.
      if ((request.headers['accept'] ?? '').includes('text/html')) return encodeHttpResponse({ statusCode: 302, headers: { location: '/console' } });
      return encodeHttpResponse(json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId: request.requestId }));
    }
    const services = getServices();
    actions ??= lookupActions(services);
    return encodeHttpResponse(await handleRpc(request, actions, { keys: services.accounts.keyLookup(), nonces: services.nonces }, log));
  }
  return encodeHttpResponse(json(404, { RequestId: request.requestId, Code: 'NotFound', Message: `no route for ${request.method} ${request.path}` }));
});
