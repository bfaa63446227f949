/** lookup-http: the signed ActionTrail-style API and the console (HTTP trigger). */
import { decodeHttpEvent, encodeHttpResponse, json } from '../../adapters/fc/http.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';

export const handler = fcHandler(async (event) => {
  const request = decodeHttpEvent(event);
  if (request.method === 'GET' && (request.path === '/' || request.path === '/health')) {
    return encodeHttpResponse(json(200, { service: 'trailkeeper-lookup', status: 'ok', requestId: request.requestId }));
  }
  return encodeHttpResponse(json(404, { RequestId: request.requestId, Code: 'NotFound', Message: `no route for ${request.method} ${request.path}` }));
});
