/**
 * functions/lookup-http/index.ts called directly with FC HTTP events built from
 * events/http-lookup-get.json (no emulator): a real Redis and S3 server behind its ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessKey } from '../../shared/accounts/accounts.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { eventBuffer, fcContext, httpEvent, jsonBody, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

const HOST = '127.0.0.1:8711';
const ARCHIVE = 'lookup-trail-archive';

let servers: HandlerServers;
let handler: (typeof import('../../functions/lookup-http/index.ts'))['handler'];
let key: AccessKey;
let quit: () => Promise<unknown>;

/** The sample GET /?Action=… with `params` (Version 2020-07-06) signed with the RPC signature v1 by the test's key. */
function signedGet(params: Record<string, string>): ReturnType<typeof httpEvent> {
  const query = signRpcRequest({ method: 'GET', params: { Version: '2020-07-06', ...params }, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
  return httpEvent('http-lookup-get', { query, requestId: `1-${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 14)}` });
}

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('lookup-http'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET, ARCHIVE] });
  const { getServices } = await import('../../adapters/wiring.ts');
  const services = getServices();
  quit = () => services.redis.quit();
  key = await services.accounts.createKey(SAMPLE_ACCOUNT);
  const now = Date.now();
  await services.trails.create(trailSchema.parse({ name: 'lookup-trail', accountId: SAMPLE_ACCOUNT, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: ARCHIVE, status: 'Enable', createdAtMs: now, updatedAtMs: now, startLoggingTimeMs: now }));
  ({ handler } = await import('../../functions/lookup-http/index.ts'));
});

afterAll(async () => {
  await quit?.();
  await servers?.stop();
});

describe('lookup-http handler', () => {
  it('an RPC-signed GetCallerIdentity answers 200 with the RequestId and the key’s account', async () => {
    const event = signedGet({ Action: 'GetCallerIdentity' });
    const response = await invoke(event);
    expect(response.statusCode, response.body).toBe(200);
    expect(jsonBody(response)).toMatchObject({ RequestId: event.requestContext.requestId, AccountId: SAMPLE_ACCOUNT, AccessKeyId: key.accessKeyId, IdentityType: 'Account' });
  });

  it('an RPC-signed DescribeTrails answers 200 with the RequestId and the account’s trail', async () => {
    const event = signedGet({ Action: 'DescribeTrails' });
    const response = await invoke(event);
    expect(response.statusCode, response.body).toBe(200);
    const body = jsonBody<{ RequestId: string; TrailList: { Name: string; OssBucketName?: string }[] }>(response);
    expect(body.RequestId).toBe(event.requestContext.requestId);
    expect(body.TrailList.map((t) => [t.Name, t.OssBucketName])).toEqual([['lookup-trail', ARCHIVE]]);
  });

  it('a signed call of an unknown action answers 404 InvalidAction.NotFound', async () => {
    const response = await invoke(signedGet({ Action: 'NoSuchAction' }));
    expect(response.statusCode).toBe(404);
    expect(jsonBody(response)).toMatchObject({ Code: 'InvalidAction.NotFound' });
  });

  it('the sample as captured (a fake signature, an unknown key) is refused without running the action', async () => {
    const response = await invoke(sampleEvent('http-lookup-get'));
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(jsonBody(response)['Code']).not.toBe('InvalidAction.NotFound');
  });

  it('GET / without parameters from a browser (Accept text/html) redirects 302 to /console', async () => {
    const response = await invoke(httpEvent('http-lookup-get', { query: {}, headers: { Host: HOST, Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' } }));
    expect(response.statusCode).toBe(302);
    expect(response.headers['location']).toBe('/console');
  });

  it('GET / without parameters from a client that does not want HTML answers the health document', async () => {
    const response = await invoke(httpEvent('http-lookup-get', { query: {}, headers: { Host: HOST, Accept: 'application/json' } }));
    expect(response.statusCode).toBe(200);
    expect(jsonBody(response)).toMatchObject({ service: 'trailkeeper-lookup', status: 'ok' });
  });

  it('a path with no route answers 404 NotFound', async () => {
    const response = await invoke(httpEvent('http-lookup-get', { path: '/nowhere', query: {} }));
    expect(response.statusCode).toBe(404);
    expect(jsonBody(response)).toMatchObject({ Code: 'NotFound' });
  });

  // Run from source, the handler's folder is functions/lookup-http/, so staticSite serves the
  // committed web/ folder: index.html (hand-written, never built) is there whether or not
  // `npm run build` ran; the bundled app.js is not, so only the page itself is checked.
  it('GET /console serves the console page as HTML under the strict Content-Security-Policy', async () => {
    const response = await invoke(httpEvent('http-lookup-get', { path: '/console', query: {}, headers: { Host: HOST, Accept: 'text/html' } }));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    expect(response.isBase64Encoded).toBe(false);
    expect(response.body).toMatch(/^<!doctype html>/i);
  });
});
