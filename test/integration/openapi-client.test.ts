/**
 * The platform's own RPC client, @alicloud/openapi-client (what every Alibaba Cloud SDK and the
 * CLI are built on), pointed at lookup-http: LookupEvents with the V3 signature
 * (ACS3-HMAC-SHA256, the client's default) and with the RPC signature v1 (HMAC-SHA1,
 * `signatureAlgorithm: 'v2'`), answers shaped as ActionTrail's, errors raised by the client
 * with ActionTrail's codes. Real Redis, real S3 server, through the emulator.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { callAction, openApiClient, type OpenApiClient } from '../helpers/openapi-client.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';


const ACCOUNT = '1234567890123456';
let stack: TestStack;
let redis: Redis;
let key: Credentials;
const marker = `Sdk${randomUUID().slice(0, 8)}`;
const ids: string[] = [];

const client = (signatureAlgorithm?: 'v2'): OpenApiClient => openApiClient(stack.emulator.httpUrls['lookup-http'] as string, key, signatureAlgorithm);

const lookupEvents = (c: OpenApiClient, query: Record<string, string>) => callAction(c, 'LookupEvents', query);

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  redis = new Redis(stack.redisUrl);
  key = await new RedisAccountStore(redis, stack.secrets).createKey(ACCOUNT);
  const base = Date.now() - 5 * 60_000;
  const events = Array.from({ length: 7 }, (_v, n) => ({ ...sampleEvent(ACCOUNT, n, new Date(base + n * 1000)), eventName: marker }));
  for (const e of events) ids.push(String((e as Record<string, unknown>)['eventId']));
  expect((await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events))).status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(ACCOUNT, ids)).every(Boolean), 15_000, 'events in history');
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('@alicloud/openapi-client against lookup-http', () => {
  for (const [name, algorithm] of [['V3 signature (ACS3-HMAC-SHA256)', undefined], ['RPC signature v1 (HMAC-SHA1)', 'v2']] as const) {
    it(`LookupEvents with the ${name}: ActionTrail's answer, newest first, paged by NextToken`, async () => {
      const c = client(algorithm);
      const first = await lookupEvents(c, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '5' });
      expect(first.statusCode).toBe(200);
      expect(Object.keys(first.body).sort()).toEqual(['EndTime', 'Events', 'NextToken', 'RequestId', 'StartTime']);
      expect(first.body['StartTime']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const page1 = first.body['Events'] as { eventId: string; eventName: string }[];
      expect(page1.map((e) => e.eventId)).toEqual([...ids].reverse().slice(0, 5));
      const second = await lookupEvents(c, {
        'LookupAttribute.1.Key': 'EventName',
        'LookupAttribute.1.Value': marker,
        MaxResults: '5',
        NextToken: String(first.body['NextToken']),
      });
      expect((second.body['Events'] as { eventId: string }[]).map((e) => e.eventId)).toEqual([...ids].reverse().slice(5));
      expect(second.body['NextToken']).toBeUndefined();
    });
  }

  it('raises ActionTrail error codes through the client, and refuses a wrong secret', async () => {
    await expect(lookupEvents(client(), { StartTime: 'yesterday' })).rejects.toMatchObject({ code: 'InvalidParameterStartTime', statusCode: 400 });
    const wrong = openApiClient(stack.emulator.httpUrls['lookup-http'] as string, { ...key, accessKeySecret: `${key.accessKeySecret}x` }, 'v2');
    await expect(lookupEvents(wrong, {})).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});
