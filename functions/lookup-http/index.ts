/**
 * lookup-http (HTTP trigger): the signed ActionTrail-style API, `GET|POST /?Action=…` (actions in
 * adapters/lookup-actions.ts, dispatched by adapters/fc/rpc.ts), and the console, `GET /console`
 * (browser files from functions/lookup-http/web/, shipped in the bundle's `web/` folder by
 * emulator/build.ts).
 */
import path from 'node:path';
import { onHttp } from '../../adapters/fc/handler.ts';
import { json } from '../../adapters/fc/http.ts';
import { handleRpc, RPC_DECODE_LIMITS } from '../../adapters/fc/rpc.ts';
import { staticSite } from '../../adapters/fc/static-assets.ts';
import { rpcPorts } from '../../adapters/wiring.ts';

// The bundle is CommonJS: __dirname is its folder, next to which the build puts web/.
const consoleSite = staticSite({ prefix: '/console', dir: () => path.join(__dirname, 'web') });
const health = (requestId: string) => json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId });

export const handler = onHttp(
  async (request, { log }) => {
    if (request.method === 'GET' && request.path === '/health') return health(request.requestId);
    const page = consoleSite.respond(request);
    if (page) return page;
    if (request.path !== '/' || (request.method !== 'GET' && request.method !== 'POST')) {
      return json(404, { RequestId: request.requestId, Code: 'NotFound', Message: `no route for ${request.method} ${request.path}` });
    }
    // An ACS3 call may carry its action in signed headers alone (x-acs-action), with no query.
    if (request.method === 'GET' && Object.keys(request.query).length === 0 && request.headers['authorization'] === undefined) {
      // A person who opens the API's address in a browser lands on the console.
      return (request.headers['accept'] ?? '').includes('text/html') ? { statusCode: 302, headers: { location: '/console' } } : health(request.requestId);
    }
    const { actions, auth, options } = rpcPorts();
    return handleRpc(request, actions, auth, log, options);
  },
  // No route takes more than an RPC form body: anything larger is refused before it is parsed.
  { maxBodyBytes: RPC_DECODE_LIMITS.maxBodyBytes },
);
