/**
 * ingest (HTTP trigger): `POST /events` with a JSON array, `{"events":[…]}` or NDJSON (gzip
 * accepted), signed ACS3-HMAC-SHA256 with the account's AccessKey pair. Answers
 * `{accepted, duplicates, rejected:[…]}`; accepted events are durable before the answer.
 */
import { verifyRequest } from '../../shared/auth/verify.ts';
import { INGEST_MAX_BODY_BYTES } from '../../shared/pipeline/records.ts';
import { ingestBatch } from '../../shared/pipeline/ingest.ts';
import { decodeBody } from '../../adapters/fc/body.ts';
import { errorAnswer } from '../../adapters/fc/errors.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { decodeHttpEvent, encodeHttpResponse, json } from '../../adapters/fc/http.ts';
import { getServices } from '../../adapters/wiring.ts';

export const handler = fcHandler(async (event, _context, log) => {
  const request = decodeHttpEvent(event);
  const requestId = request.requestId;
  if (request.method === 'GET' && request.path === '/health') {
    return encodeHttpResponse(json(200, { service: 'trailkeeper-ingest', status: 'ok' }));
  }
  if (request.path !== '/events') {
    return encodeHttpResponse(json(404, { RequestId: requestId, Code: 'NotFound', Message: `no route ${request.path}; events are posted to /events` }));
  }
  if (request.method !== 'POST') {
    return encodeHttpResponse(json(405, { RequestId: requestId, Code: 'MethodNotAllowed', Message: 'POST events to /events' }, { allow: 'POST' }));
  }
  try {
    const services = getServices();
    const caller = await verifyRequest(request, services.accounts.keyLookup(), services.nonces);
    const result = await ingestBatch(
      {
        accountId: caller.accountId,
        accessKeyId: caller.accessKeyId,
        requestId,
        sourceIp: request.sourceIp,
        receivedAt: new Date(),
        body: decodeBody(request, INGEST_MAX_BODY_BYTES),
      },
      services,
    );
    log.info('batch ingested', { accountId: caller.accountId, accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected.length });
    const { stagingKey: _key, ...answer } = result;
    return encodeHttpResponse(json(200, { RequestId: requestId, ...answer }));
  } catch (error) {
    return encodeHttpResponse(
      errorAnswer(error, requestId, log, {
        signatureStatus: (e) => (e.code === 'IncompleteSignature' && !request.headers['authorization'] && !request.query['Signature'] ? 401 : 403),
      }),
    );
  }
});
