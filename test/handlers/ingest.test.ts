/**
 * functions/ingest/index.ts called directly with FC HTTP events built from
 * events/http-ingest-post.json (no emulator): a real Redis and S3 server behind its ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessKey } from '../../shared/accounts/accounts.ts';
import { signEventsPost } from '../../adapters/client/signed-fetch.ts';
import { INGEST_MAX_BODY_BYTES } from '../../shared/pipeline/records.ts';
import { eventBuffer, fcContext, gunzipJson, httpEvent, jsonBody, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers, type HttpCase } from '../helpers/handler-harness.ts';

type Json = Record<string, unknown>;
const HOST = '127.0.0.1:8710';

let servers: HandlerServers;
let handler: (typeof import('../../functions/ingest/index.ts'))['handler'];
let key: AccessKey;
let quit: () => Promise<unknown>;

/** The sample's one record, with a fresh id and a current time. */
function record(override: Json = {}): Json {
  const [sample] = JSON.parse(sampleEvent<{ body: string }>('http-ingest-post').body) as Json[];
  return { ...sample, eventId: `ingest-${Math.random().toString(16).slice(2)}`, eventTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), ...override };
}

/** The sample POST /events with `body` signed ACS3 with the test's key (as adapters/client/signed-fetch.ts signs). */
function signedPost(body: string, c: HttpCase = {}): ReturnType<typeof httpEvent> {
  const headers = signEventsPost(HOST, key, body);
  return httpEvent('http-ingest-post', { body, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, requestId: `1-${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 14)}`, ...c });
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('ingest'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  const wiring = await import('../../adapters/wiring.ts');
  const services = wiring.getServices();
  quit = () => services.redis.quit();
  key = await services.accounts.createKey(SAMPLE_ACCOUNT);
  ({ handler } = await import('../../functions/ingest/index.ts'));
});

afterAll(async () => {
  await quit?.();
  await servers?.stop();
});

describe('ingest handler', () => {
  it('answers in FC’s HTTP response struct: statusCode, headers, a string body, isBase64Encoded', async () => {
    const response = await invoke(httpEvent('http-ingest-post', { method: 'GET', path: '/health', headers: { Host: HOST } }));
    expect(Object.keys(response).sort()).toEqual(['body', 'headers', 'isBase64Encoded', 'statusCode']);
    expect(typeof response.statusCode).toBe('number');
    expect(typeof response.body).toBe('string');
    expect(response.isBase64Encoded).toBe(false);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });

  it('GET /health answers 200 ok', async () => {
    const response = await invoke(httpEvent('http-ingest-post', { method: 'GET', path: '/health', headers: { Host: HOST } }));
    expect(response.statusCode).toBe(200);
    expect(jsonBody(response)).toEqual({ service: 'trailkeeper-ingest', status: 'ok' });
  });

  it('a signed POST /events answers 200 with the verdicts and leaves a staging object holding the events', async () => {
    const events = [record(), record()];
    const event = signedPost(JSON.stringify(events));
    const response = await invoke(event);
    expect(response.statusCode, response.body).toBe(200);
    const requestId = event.requestContext.requestId;
    expect(jsonBody(response)).toEqual({ RequestId: requestId, accepted: 2, duplicates: 0, rejected: [] });
    const keys = await servers.list(STAGING_BUCKET, 'inbox/');
    const staged = keys.find((k) => k.endsWith(`/${requestId}.json.gz`));
    expect(staged, keys.join(', ')).toMatch(/^inbox\/\d{4}\/\d\d\/\d\d\/\d\d\//);
    const batch = gunzipJson<{ accountId: string; requestId: string; events: Json[] }>((await servers.get(STAGING_BUCKET, staged as string)) as Buffer);
    expect(batch.accountId).toBe(SAMPLE_ACCOUNT);
    expect(batch.requestId).toBe(requestId);
    expect(batch.events.map((e) => e['eventId'])).toEqual(events.map((e) => e['eventId']));
  });

  it('an unsigned POST /events answers 401 IncompleteSignature and stages nothing', async () => {
    const before = await servers.list(STAGING_BUCKET, 'inbox/');
    const body = JSON.stringify([record()]);
    const response = await invoke(httpEvent('http-ingest-post', { body, headers: { Host: HOST, 'Content-Type': 'application/json', 'Content-Length': String(body.length) } }));
    expect(response.statusCode).toBe(401);
    expect(jsonBody(response)).toMatchObject({ Code: 'IncompleteSignature' });
    expect(await servers.list(STAGING_BUCKET, 'inbox/')).toEqual(before);
  });

  it('the sample as captured (its signature stale, its key unknown) is refused with 403', async () => {
    const response = await invoke(sampleEvent('http-ingest-post'));
    expect(response.statusCode).toBe(403);
    expect(jsonBody(response)['Code']).toEqual(expect.any(String));
  });

  it('a path other than /events answers 404 NotFound', async () => {
    const response = await invoke(httpEvent('http-ingest-post', { path: '/event' }));
    expect(response.statusCode).toBe(404);
    expect(jsonBody(response)).toMatchObject({ Code: 'NotFound' });
  });

  it('an event too large for any allowed body answers 413 before it is parsed (it is not even JSON)', async () => {
    const oversize = Buffer.alloc(INGEST_MAX_BODY_BYTES * 2 + 128 * 1024, 'x');
    const response = await handler(oversize, fcContext('ingest'));
    expect(response.statusCode).toBe(413);
    expect(jsonBody(response)).toMatchObject({ Code: 'PayloadTooLarge' });
  });

  it('a body declared over the limit by Content-Length answers 413 before the signature is checked', async () => {
    const event = httpEvent('http-ingest-post', { headers: { Host: HOST, 'Content-Type': 'application/json', 'Content-Length': String(INGEST_MAX_BODY_BYTES + 1) } });
    const response = await invoke(event);
    expect(response.statusCode).toBe(413);
    expect(jsonBody(response)).toMatchObject({ Code: 'PayloadTooLarge' });
  });

  it('a record with 150,000 bad referencedResources names is one rejected record; the rest of the batch is accepted (was a 500)', async () => {
    const wide = record({ referencedResources: { 'ACS::ECS::Instance': Array.from({ length: 150_000 }, () => 1) } });
    const response = await invoke(signedPost(JSON.stringify([record(), wide, record()])));
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    expect(jsonBody(response)).toMatchObject({ accepted: 2, duplicates: 0, rejected: [{ index: 1, code: 'InvalidField', field: 'referencedResources.ACS::ECS::Instance.0' }] });
    expect(response.body.length).toBeLessThan(2000);
  });
});
