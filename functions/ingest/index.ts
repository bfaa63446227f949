/**
 * ingest (HTTP trigger): `POST /events` with a JSON array, `{"events":[…]}` or NDJSON (gzip
 * accepted), signed ACS3-HMAC-SHA256 with the account's AccessKey pair. Answers
 * `{accepted, duplicates, rejected:[…]}`; accepted events are durable before the answer.
 *
 * Only ACS3 is accepted: its signed x-acs-content-sha256 must be the SHA-256 of the raw body as
 * received (before gunzip), and it covers method and path; the RPC signature covers neither
 * (docs/design.md §3.2). Cheapest refusals first: an oversize body before the event is parsed
 * (onHttp's maxBodyBytes), a missing signature before the body is hashed, a bad signature before
 * it is inflated or parsed.
 */
import { verifyRequest } from '../../shared/auth/verify.ts';
import { ingestBatch } from '../../shared/pipeline/ingest.ts';
import { INGEST_MAX_BODY_BYTES } from '../../shared/pipeline/records.ts';
import { decodeBody } from '../../adapters/fc/body.ts';
import { onHttp } from '../../adapters/fc/handler.ts';
import { json, type HttpRequest } from '../../adapters/fc/http.ts';
import { getServices } from '../../adapters/wiring.ts';

/** No Authorization header: unsigned (a query signature does not sign the body) → 401; badly signed → 403. */
const unsignedIs401 = (request: HttpRequest | undefined) => (code: string) =>
  code === 'IncompleteSignature' && request?.headers['authorization'] === undefined ? 401 : 403;

export const handler = onHttp(
  async (request, { log }) => {
    const { requestId } = request;
    if (request.method === 'GET' && request.path === '/health') return json(200, { service: 'trailkeeper-ingest', status: 'ok' });
    if (request.path !== '/events') return json(404, { RequestId: requestId, Code: 'NotFound', Message: `no route ${request.path}; events are posted to /events` });
    if (request.method !== 'POST') return json(405, { RequestId: requestId, Code: 'MethodNotAllowed', Message: 'POST events to /events' }, { allow: 'POST' });
    const services = getServices();
    const caller = await verifyRequest(request, services.accounts.keyLookup(), services.nonces, new Date(), { schemes: ['acs3'] });
    const body = decodeBody(request, INGEST_MAX_BODY_BYTES);
    const { stagingKey: _key, ...answer } = await ingestBatch(
      { accountId: caller.accountId, accessKeyId: caller.accessKeyId, requestId, sourceIp: request.sourceIp, receivedAt: new Date(), body },
      services,
    );
    log.info('batch ingested', { accountId: caller.accountId, accepted: answer.accepted, duplicates: answer.duplicates, rejected: answer.rejected.length });
    return json(200, { RequestId: requestId, ...answer });
  },
  // The raw body's limit: a gzip body is no larger than what it inflates to (5 MiB).
  { maxBodyBytes: INGEST_MAX_BODY_BYTES, signatureStatus: unsignedIs401 },
);
