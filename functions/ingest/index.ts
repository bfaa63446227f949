/**
 * ingest (HTTP trigger): `POST /events` with a JSON array, `{"events":[…]}` or NDJSON (gzip
 * accepted), signed ACS3-HMAC-SHA256 with the account's AccessKey pair. Answers
 * `{accepted, duplicates, rejected:[…]}`; accepted events are durable before the answer.
 *
 * Only ACS3 is accepted: its signed x-acs-content-sha256 must be the SHA-256 of the raw body as
 * received (before gunzip), and it covers method and path; the RPC signature covers neither
 * body nor path (docs/design.md §3.2). Cheapest refusals first: an oversize body before the event
 * is parsed (decodeHttpEvent), a missing signature before the body is hashed, a bad signature
 * before it is inflated or parsed.
 */
import { verifyRequest } from '../../shared/auth/verify.ts';
import { PayloadTooLargeError } from '../../shared/errors.ts';
import { INGEST_MAX_BODY_BYTES } from '../../shared/pipeline/records.ts';
import { ingestBatch } from '../../shared/pipeline/ingest.ts';
import { decodeBody } from '../../adapters/fc/body.ts';
import { errorAnswer } from '../../adapters/fc/errors.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { decodeHttpEvent, encodeHttpResponse, json, type HttpRequest } from '../../adapters/fc/http.ts';
import { getServices } from '../../adapters/wiring.ts';

/** The raw body's limit: a gzip body is no larger than what it inflates to (5 MiB). */
const INGEST_DECODE_LIMITS = { maxBodyBytes: INGEST_MAX_BODY_BYTES };

export const handler = fcHandler(async (event, context, log) => {
  let request: HttpRequest;
  try {
    request = decodeHttpEvent(event, INGEST_DECODE_LIMITS);
  } catch (error) {
    if (error instanceof PayloadTooLargeError) return encodeHttpResponse(errorAnswer(error, context.requestId, log));
    throw error;
  }
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
    const caller = await verifyRequest(request, services.accounts.keyLookup(), services.nonces, new Date(), { schemes: ['acs3'] });
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
        // No Authorization header: unsigned (a query signature does not sign the body) → 401.
        signatureStatus: (e) => (e.code === 'IncompleteSignature' && request.headers['authorization'] === undefined ? 401 : 403),
      }),
    );
  }
});
