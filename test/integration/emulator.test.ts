/**
 * The emulator against a real Redis server and the real embedded S3 server: trigger payload
 * shapes, the invoke API with the platform's own clients, async retries and destinations,
 * timeouts, and object-storage triggers with filters.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import FC from '@alicloud/fc2';
import fc3, { InvokeFunctionRequest } from '@alicloud/fc20230330';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureProject, internalAuth, repoRoot, startTestStack, s3ClientFor, TEST_IDENTITY, waitUntil, type TestStack } from '../helpers/stack.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

let stack: TestStack;
let redis: Redis;
let s3: S3Client;

function sample(name: string): unknown {
  return JSON.parse(readFileSync(path.join(repoRoot, 'events', name), 'utf8'));
}

/** The shape of a JSON value: every key path, with the type at each leaf. */
function shapeOf(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length ? shapeOf(value[0], `${prefix}[]`) : [`${prefix}[]`];
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => shapeOf(v, prefix ? `${prefix}.${k}` : k));
  }
  return [`${prefix}:${typeof value}`];
}

function fc2Client(secret = TEST_IDENTITY.credentials.accessKeySecret): FC {
  return new FC(TEST_IDENTITY.accountId, {
    accessKeyID: TEST_IDENTITY.credentials.accessKeyId,
    accessKeySecret: secret,
    region: 'cn-hangzhou',
    endpoint: stack.emulator.invokeUrl,
    timeout: 20_000,
  });
}

async function probeEvents(fn: string): Promise<unknown[]> {
  const raw = await redis.lrange(`probe:${fn}`, 0, -1);
  return raw.map((r) => JSON.parse(r) as unknown);
}

beforeAll(async () => {
  stack = await startTestStack({ project: fixtureProject, buckets: ['fixture-bucket'] });
  redis = new Redis(stack.redisUrl);
  s3 = s3ClientFor(stack);
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('HTTP trigger', () => {
  it('passes FC 3.0 HTTP event as a Buffer, with the context and FC_* environment', async () => {
    const res = await fetch(`${stack.emulator.httpUrls['echo']}/some/path?a=1&a=2&b=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-multi': 'one' },
      body: JSON.stringify({ hello: 'fc' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('x-fc-request-id')).toMatch(/^1-/);
    const body = (await res.json()) as {
      isBuffer: boolean;
      event: Record<string, unknown> & { queryParameters: Record<string, string>; body: string; headers: Record<string, string> };
      context: Record<string, unknown>;
      env: Record<string, string>;
    };
    expect(body.isBuffer).toBe(true);
    expect(shapeOf(body.event).sort()).toEqual(
      shapeOf(sample('http-ingest-post.json'))
        .filter((k) => !k.startsWith('headers.') && !k.startsWith('queryParameters.'))
        .concat(shapeOf(body.event).filter((k) => k.startsWith('headers.') || k.startsWith('queryParameters.')))
        .sort(),
    );
    expect(body.event['version']).toBe('v1');
    expect(body.event['rawPath']).toBe('/some/path');
    expect(body.event.queryParameters).toEqual({ a: '1,2', b: 'x' });
    expect(body.event.headers['Content-Type']).toBe('application/json');
    expect(body.event.body).toBe('{"hello":"fc"}');
    expect(body.context).toMatchObject({
      accountId: TEST_IDENTITY.accountId,
      region: 'cn-hangzhou',
      function: { name: 'fixture-echo', handler: 'index.handler', memory: 256, timeout: 10 },
      credentials: { accessKeyId: TEST_IDENTITY.credentials.accessKeyId },
    });
    expect(body.env).toMatchObject({
      FC_FUNCTION_NAME: 'fixture-echo',
      FC_FUNCTION_HANDLER: 'index.handler',
      FC_FUNCTION_MEMORY_SIZE: '256',
      FC_REGION: 'cn-hangzhou',
      FC_ACCOUNT_ID: TEST_IDENTITY.accountId,
      GREETING: 'hello',
    });
  });

  it('keeps module state within an instance and isolates functions', async () => {
    const call = async () => ((await (await fetch(`${stack.emulator.httpUrls['echo']}/`)).json()) as { invocations: number }).invocations;
    const first = await call();
    const second = await call();
    expect(second).toBeGreaterThan(first);
    const probeEnv = await fetch(`${stack.emulator.httpUrls['echo']}/`).then((r) => r.json() as Promise<{ env: Record<string, string> }>);
    expect(probeEnv.env['PROBE_REDIS_URL']).toBeUndefined();
  });

  it('answers a thrown error with FC error body and X-Fc-Error-Type', async () => {
    const res = await fetch(`${stack.emulator.httpUrls['echo']}/boom`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    expect(await res.json()).toMatchObject({ errorMessage: 'boom requested', errorType: 'TypeError', stackTrace: expect.any(Array) });
  });

  it('refuses methods the trigger does not allow', async () => {
    const res = await fetch(`${stack.emulator.httpUrls['echo']}/`, { method: 'DELETE' });
    expect(res.status).toBe(405);
  });
});

describe('invoke API', () => {
  it('@alicloud/fc2 invokes a function synchronously', async () => {
    const httpEvent = JSON.stringify(sample('http-lookup-get.json'));
    const res = await fc2Client().invokeFunction('any-service', 'fixture-echo', httpEvent);
    const body = JSON.parse(res.data.toString()) as { statusCode: number; body: string };
    expect(body.statusCode).toBe(200);
    expect((JSON.parse(body.body) as { event: { rawPath: string } }).event.rawPath).toBe('/');
    expect(res.headers['x-fc-request-id']).toBeTruthy();
  });

  it('defers an async invocation by x-fc-async-delay seconds, and refuses a delay out of 0–3600', async () => {
    const marker = `"delayed":${Date.now()}`;
    const sent = Date.now();
    await fc2Client().invokeFunction('svc', 'fixture-sink', `{${marker}}`, { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': '2' });
    // not before its time …
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await redis.lrange('probe:sink', 0, -1)).some((e) => e.includes(marker))).toBe(false);
    // … and then once
    await waitUntil(async () => (await redis.lrange('probe:sink', 0, -1)).some((e) => e.includes(marker)), 10_000, 'delayed sink');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(2_000);
    for (const bad of ['3601', '-1', '1.5', 'soon']) {
      const failure = await fc2Client()
        .invokeFunction('svc', 'fixture-sink', '{}', { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': bad })
        .then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
      expect(failure, bad).toMatchObject({ code: 'InvalidArgument' });
      expect(failure?.message, bad).toContain('x-fc-async-delay');
    }
  });

  it('@alicloud/fc2 invokes asynchronously: 202 at once, the function runs from the queue', async () => {
    const res = await fc2Client().invokeFunction('svc', 'fixture-sink', '{"async":true}', { 'x-fc-invocation-type': 'Async' });
    expect(res.headers['x-fc-request-id']).toBeTruthy();
    const stored = await waitUntil(async () => (await redis.lrange('probe:sink', 0, -1)).find((e) => e.includes('"async":true')), 10_000, 'async sink');
    expect(JSON.parse(stored)).toEqual({ async: true });
  });

  it('the FC 3.0 client (ACS3-HMAC-SHA256) invokes through /2023-03-30', async () => {
    // The package is CommonJS with `exports.default`; loaders differ on which one `import` gives.
    const Client = (typeof fc3 === 'function' ? fc3 : fc3.default) as typeof fc3.default;
    const client = new Client(
      new $OpenApiUtil.Config({
        accessKeyId: TEST_IDENTITY.credentials.accessKeyId,
        accessKeySecret: TEST_IDENTITY.credentials.accessKeySecret,
        endpoint: stack.emulator.invokeUrl.replace('http://', ''),
        protocol: 'http',
        regionId: 'cn-hangzhou',
      }),
    );
    const event = JSON.stringify(sample('http-lookup-get.json'));
    const res = await client.invokeFunction('fixture-echo', new InvokeFunctionRequest({ body: Readable.from([Buffer.from(event)]) }));
    expect(res.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body as Readable) chunks.push(Buffer.from(chunk as Buffer));
    expect((JSON.parse(Buffer.concat(chunks).toString()) as { statusCode: number }).statusCode).toBe(200);
  });

  it('refuses an unsigned call with 403', async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/2016-08-15/services/s/functions/fixture-echo/invocations`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ ErrorCode: 'MissingAuthorization' });
    const res3 = await fetch(`${stack.emulator.invokeUrl}/2023-03-30/functions/fixture-echo/invocations`, { method: 'POST', body: '{}' });
    expect(res3.status).toBe(403);
  });

  it('refuses a wrongly signed call with 403', async () => {
    await expect(fc2Client('not-the-secret').invokeFunction('s', 'fixture-echo', '{}')).rejects.toMatchObject({
      code: 'SignatureNotMatch',
    });
  });

  it('answers 404 for an unknown function and 400 EntityTooLarge for an async payload over 128 KB', async () => {
    await expect(fc2Client().invokeFunction('s', 'no-such-function', '{}')).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(
      fc2Client().invokeFunction('s', 'fixture-sink', Buffer.alloc(128 * 1024 + 1, 'a'), { 'x-fc-invocation-type': 'Async' }),
    ).rejects.toMatchObject({ code: 'EntityTooLarge' });
  });

  it('stops a function that times out and reports it', async () => {
    const started = Date.now();
    const res = await fc2Client().invokeFunction('s', 'fixture-sleeper', '{}');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    // fc2 parses JSON answers itself.
    expect(res.data).toMatchObject({ errorType: 'FunctionTimeoutError', errorMessage: expect.stringContaining('timed out after 1 seconds') });
  });

  it('retries a failing async invocation 3 times, then sends the record to the on-failure destination', async () => {
    await redis.del('probe:flaky-attempts', 'probe:sink');
    const requestId = await stack.emulator.invokeAsync('fixture-flaky', '{"n":1}');
    const record = await waitUntil(async () => (await redis.lrange('probe:sink', 0, -1))[0], 15_000, 'destination record');
    expect(await redis.llen('probe:flaky-attempts')).toBe(4);
    const parsed = JSON.parse(record) as Record<string, unknown>;
    expect(shapeOf(parsed).sort()).toEqual(shapeOf(sample('async-on-failure.json')).sort());
    expect(parsed).toMatchObject({
      requestContext: {
        requestId,
        functionArn: `acs:fc:cn-hangzhou:${TEST_IDENTITY.accountId}:functions/fixture-flaky`,
        condition: 'UnhandledInvocationError',
        approximateInvokeCount: 4,
      },
      requestPayload: '{"n":1}',
    });
    expect(JSON.parse(parsed['responsePayload'] as string)).toMatchObject({ errorMessage: 'flaky always fails' });
  });
});

describe('timer trigger', () => {
  it('fires now with FC timer event shape', async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/timers/fixture-probe/tick`, { method: 'POST', headers: internalAuth(stack) });
    expect(res.status).toBe(202);
    const [event] = await waitUntil(async () => {
      const events = await probeEvents('fixture-probe');
      const timers = events.filter((e) => typeof e === 'object' && e !== null && 'triggerTime' in e);
      return timers.length ? timers : undefined;
    });
    expect(shapeOf(event).sort()).toEqual(shapeOf(sample('timer-summarize.json')).sort());
    expect(event).toMatchObject({ triggerName: 'tick', payload: 'awesome-fc', triggerTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
  });

  it('answers 404 for an unknown timer trigger', async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/timers/fixture-probe/nope`, { method: 'POST', headers: internalAuth(stack) });
    expect(res.status).toBe(404);
  });
});

describe('object-storage trigger', () => {
  const ossEvents = async () =>
    (await probeEvents('fixture-probe')).filter((e): e is { events: { oss: { object: { key: string } } }[] } => typeof e === 'object' && e !== null && 'events' in e);

  it('an object put under the watched prefix invokes the function once, with the FC OSS event', async () => {
    const body = JSON.stringify({ n: 1 });
    await s3.send(new PutObjectCommand({ Bucket: 'fixture-bucket', Key: 'watched/a b.json', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: 'fixture-bucket', Key: 'elsewhere/b.json', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: 'fixture-bucket', Key: 'watched/c.txt', Body: body }));
    const hits = await waitUntil(async () => {
      const found = (await ossEvents()).filter((e) => e.events[0]?.oss.object.key === 'watched/a b.json');
      return found.length ? found : undefined;
    });
    // Give a duplicate (or a wrongly matched object) time to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
    const all = await ossEvents();
    expect(all.filter((e) => e.events[0]?.oss.object.key === 'watched/a b.json')).toHaveLength(1);
    expect(all.map((e) => e.events[0]?.oss.object.key)).not.toContain('elsewhere/b.json');
    expect(all.map((e) => e.events[0]?.oss.object.key)).not.toContain('watched/c.txt');
    const [event] = hits;
    expect(shapeOf(event).sort()).toEqual(shapeOf(sample('oss-inbox.json')).sort());
    expect(event?.events[0]).toMatchObject({
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      oss: { bucket: { name: 'fixture-bucket' }, object: { key: 'watched/a b.json', size: body.length, eTag: expect.stringMatching(/^[0-9A-F]{32}$/) } },
    });
  });

  it('accepts MinIO webhook notifications (URL-encoded keys)', async () => {
    const notification = {
      EventName: 's3:ObjectCreated:Put',
      Key: 'fixture-bucket/watched/from minio.json',
      Records: [
        {
          eventVersion: '2.0',
          eventSource: 'minio:s3',
          awsRegion: '',
          eventTime: new Date().toISOString(),
          eventName: 's3:ObjectCreated:Put',
          s3: {
            s3SchemaVersion: '1.0',
            bucket: { name: 'fixture-bucket', arn: 'arn:aws:s3:::fixture-bucket' },
            object: { key: 'watched%2Ffrom+minio.json', size: 12, eTag: 'd41d8cd98f00b204e9800998ecf8427e' },
          },
        },
      ],
    };
    const res = await fetch(`${stack.emulator.invokeUrl}/-/s3-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...internalAuth(stack) },
      body: JSON.stringify(notification),
    });
    expect(await res.json()).toEqual({ invoked: 1 });
    await waitUntil(async () => (await ossEvents()).some((e) => e.events[0]?.oss.object.key === 'watched/from minio.json'));
  });
});

describe('provisioned instances (warm)', () => {
  it('starts as many instances as asked of the functions named, one of the others, at most maxInstancesPerFunction', async () => {
    const warmStack = await startTestStack({ project: fixtureProject, buckets: ['fixture-bucket'], emulator: { warm: { echo: 3, 'fixture-sleeper': 9 }, maxInstancesPerFunction: 4 } });
    try {
      const { emulator } = warmStack;
      expect(emulator.instanceCount('echo')).toBe(3);
      expect(emulator.instanceCount('fixture-echo')).toBe(3);
      expect(emulator.instanceCount('sleeper')).toBe(4);
      expect(emulator.instanceCount('probe')).toBe(1);
      expect(emulator.instanceCount('no-such-function')).toBe(0);
      // a call is served by a started instance: none is added
      const res = await fetch(`${emulator.httpUrls['echo']}/`);
      expect(((await res.json()) as { invocations: number }).invocations).toBe(1);
      expect(emulator.instanceCount('echo')).toBe(3);
    } finally {
      await warmStack.stop();
    }
  });
});
