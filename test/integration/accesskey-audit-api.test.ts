/**
 * The AccessKey audit end to end, through the emulator and @alicloud/openapi-client: events
 * ingested with one AccessKey are classified (their analysis rows queued), insights-cron's timer
 * drains the queue into the audit (one of its consumers); then lookup-http answers
 * GetAccessKeyLastUsedInfo / Products / Events / Ips / Resources as ActionTrail does, pages with
 * NextToken, lists the account's keys with ListAccessKeyLastUsed, and another account's caller
 * gets the same not-found answer for that key as for a key that does not exist.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countedRows } from '../helpers/insight-traffic.ts';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { analysisQueueKey } from '../../adapters/redis/analysis-queue.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { callAction, openApiClient, type OpenApiClient } from '../helpers/openapi-client.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';


const A = '1234567890123456';
const B = '2234567890123456';
const EVENTS = 25;
let stack: TestStack;
let redis: Redis;
let keyA: Credentials;
let keyB: Credentials;
let unusedKey: string;
const marker = `Audit${randomUUID().slice(0, 8)}`;
const base = Date.now() - 10 * 60_000;

const client = (key: Credentials): OpenApiClient => openApiClient(stack.emulator.httpUrls['lookup-http'] as string, key);

async function call(key: Credentials, action: string, query: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await callAction(client(key), action, query);
  expect(res.statusCode).toBe(200);
  return res.body;
}


beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
  unusedKey = (await accounts.createKey(A)).accessKeyId;
  // EVENTS calls with A's key: distinct event names and IPs, Ecs first, then Oss for the last two
  const events: Record<string, unknown>[] = Array.from({ length: EVENTS }, (_v, n) => {
    const e = sampleEvent(A, 0, new Date(base + n * 1000));
    const identity = e['userIdentity'] as Record<string, unknown>;
    return {
      ...e,
      eventName: `${marker}${String(n).padStart(2, '0')}`,
      serviceName: n >= EVENTS - 2 ? 'Oss' : 'Ecs',
      sourceIpAddress: `198.51.100.${n}`,
      referencedResources: { 'ACS::ECS::Instance': [`i-audit${n}`] },
      userIdentity: { ...identity, accessKeyId: keyA.accessKeyId, userName: 'alice', type: 'ram-user' },
    };
  });
  const ids = events.map((e) => String(e['eventId']));
  expect((await postEvents(stack.emulator.httpUrls['ingest'] as string, keyA, JSON.stringify(events))).status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(A, ids)).every(Boolean), 15_000, 'events in history');
  // classify feeds the audit as it classifies (docs/design.md §3.9), before it finishes the object
  await waitUntil(async () => (await countedRows(redis, A)) >= EVENTS, 15_000, 'the batch analysed');
  expect(await redis.hlen(analysisQueueKey(A))).toBe(0);
  // insights-cron (nothing queued) changes nothing; the audit's own idempotence is the store test's
  await stack.emulator.fireTimer('insights-cron', 'every-minute');
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('the AccessKey audit through lookup-http', () => {
  it('GetAccessKeyLastUsedInfo: the newest use with ActionTrail\'s fields', async () => {
    const info = await call(keyA, 'GetAccessKeyLastUsedInfo', { AccessKey: keyA.accessKeyId });
    expect(info).toMatchObject({
      AccessKeyId: keyA.accessKeyId,
      AccountId: A,
      AccountType: 'ram-user',
      UserName: 'alice',
      ServiceName: 'Oss',
      Source: 'ManagementEvent',
      UsedTimestamp: Math.floor((base + (EVENTS - 1) * 1000) / 1000) * 1000,
    });
    expect(typeof info.RequestId).toBe('string');
    expect(JSON.parse(info.Detail as string)).toMatchObject({ eventName: `${marker}${EVENTS - 1}`, sourceIpAddress: `198.51.100.${EVENTS - 1}` });
  });

  it('GetAccessKeyLastUsedProducts: each service with its newest use', async () => {
    const { Products } = await call(keyA, 'GetAccessKeyLastUsedProducts', { AccessKey: keyA.accessKeyId });
    expect((Products as { ServiceName: string }[]).map((p) => p.ServiceName)).toEqual(['Oss', 'Ecs']);
  });

  it('GetAccessKeyLastUsedEvents pages by NextToken within a ServiceName, newest first', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await call(keyA, 'GetAccessKeyLastUsedEvents', { AccessKey: keyA.accessKeyId, ServiceName: 'Ecs', PageSize: '10', ...(token ? { NextToken: token } : {}) });
      const events = page.Events as { EventName: string; Source: string; UsedTimestamp: number; Detail: string }[];
      expect(events.every((e) => e.Source === 'ManagementEvent' && typeof e.Detail === 'string')).toBe(true);
      seen.push(...events.map((e) => e.EventName));
      token = page.NextToken as string | undefined;
      pages += 1;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: EVENTS - 2 }, (_v, n) => `${marker}${String(EVENTS - 3 - n).padStart(2, '0')}`));
  });

  it('GetAccessKeyLastUsedIps and GetAccessKeyLastUsedResources, filtered by ServiceName', async () => {
    const ips = await call(keyA, 'GetAccessKeyLastUsedIps', { AccessKey: keyA.accessKeyId, ServiceName: 'Oss' });
    expect((ips.Ips as { Ip: string }[]).map((i) => i.Ip)).toEqual([`198.51.100.${EVENTS - 1}`, `198.51.100.${EVENTS - 2}`]);
    expect(ips.NextToken).toBeUndefined();
    const resources = await call(keyA, 'GetAccessKeyLastUsedResources', { AccessKey: keyA.accessKeyId, ServiceName: 'Ecs', PageSize: '2' });
    expect(resources.Resources).toEqual([
      expect.objectContaining({ ResourceType: 'ACS::ECS::Instance', ResourceName: `i-audit${EVENTS - 3}`, Source: 'ManagementEvent' }),
      expect.objectContaining({ ResourceName: `i-audit${EVENTS - 4}` }),
    ]);
    expect(typeof resources.NextToken).toBe('string');
  });

  it('another account gets the same not-found for that key as for a key that does not exist, and cannot use A\'s NextToken', async () => {
    const actions = ['GetAccessKeyLastUsedInfo', 'GetAccessKeyLastUsedProducts', 'GetAccessKeyLastUsedEvents', 'GetAccessKeyLastUsedIps', 'GetAccessKeyLastUsedResources'];
    for (const action of actions) {
      const query = { ServiceName: 'Ecs' };
      const foreign = call(keyB, action, { ...query, AccessKey: keyA.accessKeyId });
      await expect(foreign).rejects.toMatchObject({ code: 'AccessKeyNotFound', statusCode: 404 });
      const foreignError = await foreign.catch((e: { message: string }) => e.message.replace(/request id: \S+/i, ''));
      const unknownError = await call(keyB, action, { ...query, AccessKey: 'LTAI5tNoSuchKey00000000' }).catch((e: { message: string }) => e.message.replace(/request id: \S+/i, ''));
      expect(foreignError).toBe(unknownError);
    }
    const page = await call(keyA, 'GetAccessKeyLastUsedEvents', { AccessKey: keyA.accessKeyId, ServiceName: 'Ecs', PageSize: '5' });
    await expect(call(keyB, 'GetAccessKeyLastUsedEvents', { AccessKey: keyA.accessKeyId, ServiceName: 'Ecs', NextToken: page.NextToken as string })).rejects.toMatchObject({
      code: 'InvalidNextToken',
      statusCode: 400,
    });
  });

  it('ListAccessKeyLastUsed (ours): the caller\'s keys, used and unused', async () => {
    const { AccessKeys } = await call(keyA, 'ListAccessKeyLastUsed', {});
    const byId = new Map((AccessKeys as { AccessKeyId: string }[]).map((k) => [k.AccessKeyId, k]));
    expect([...byId.keys()].sort()).toEqual([keyA.accessKeyId, unusedKey].sort());
    expect(byId.get(keyA.accessKeyId)).toMatchObject({ Status: 'Active', ServiceName: 'Oss', UnusedFor90Days: false, RootAccessKey: false, Source: 'ManagementEvent' });
    expect(byId.get(unusedKey)).toMatchObject({ UnusedFor90Days: true, RootAccessKey: false });
    expect(byId.get(unusedKey)).not.toHaveProperty('UsedTimestamp');
    const other = await call(keyB, 'ListAccessKeyLastUsed', {});
    expect((other.AccessKeys as { AccessKeyId: string }[]).map((k) => k.AccessKeyId)).toEqual([keyB.accessKeyId]);
  });
});
