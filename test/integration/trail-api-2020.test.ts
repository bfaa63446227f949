/**
 * The ActionTrail 2020-07-06 API as it is today, through lookup-http with the platform's RPC
 * client (@alicloud/openapi-client): TrailKeeper's own write calls become events of the caller's
 * account (StopLogging, DeleteTrail found by LookupEvents with the caller's identity and no
 * secrets), the SensitiveAction and RoleName keys, DescribeRegions, and OssWriteRoleArn.
 * Real Redis, real S3 server, through the emulator.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { callAction, openApiClient, type OpenApiClient } from '../helpers/openapi-client.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

type Body = Record<string, unknown>;

const ACCOUNT = '1234567890123456';
const OTHER = '2234567890123456';
const ARCHIVE = 'trailkeeper-archive';
const OSS_ROLE = `acs:ram::${ACCOUNT}:role/aliyunserviceroleforactiontrail`;
let stack: TestStack;
let redis: Redis;
const keys = new Map<string, Credentials>();

const client = (account: string, signatureAlgorithm?: 'v2'): OpenApiClient => openApiClient(stack.emulator.httpUrls['lookup-http'] as string, keys.get(account) as Credentials, signatureAlgorithm);

async function rpc(account: string, action: string, query: Record<string, string> = {}, signatureAlgorithm?: 'v2'): Promise<Body> {
  return (await callAction(client(account, signatureAlgorithm), action, query)).body as Body;
}

async function rpcError(account: string, action: string, query: Record<string, string>): Promise<{ code?: string; statusCode?: number }> {
  try {
    await rpc(account, action, query);
  } catch (error) {
    return error as { code?: string; statusCode?: number };
  }
  throw new Error(`${action} did not fail`);
}

async function lookup(account: string, key: string, value: string): Promise<Body[]> {
  const body = await rpc(account, 'LookupEvents', { 'LookupAttribute.1.Key': key, 'LookupAttribute.1.Value': value, MaxResults: '50' });
  return body['Events'] as Body[];
}

/** The events LookupEvents finds once `probe` holds (the pipeline files events within seconds). */
async function eventually(account: string, key: string, value: string, probe: (events: Body[]) => boolean): Promise<Body[]> {
  return waitUntil(async () => {
    const events = await lookup(account, key, value);
    return probe(events) ? events : undefined;
  }, 20_000, `${key}=${value} in history`);
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', ARCHIVE, 'trailkeeper-other'] });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keys.set(ACCOUNT, await accounts.createKey(ACCOUNT));
  keys.set(OTHER, await accounts.createKey(OTHER));
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('the ActionTrail 2020-07-06 API through @alicloud/openapi-client', () => {
  it('keeps OssWriteRoleArn: CreateTrail, UpdateTrail and DescribeTrails return it; EventRW defaults to All', async () => {
    const created = await rpc(ACCOUNT, 'CreateTrail', { Name: 'audit-trail', OssBucketName: ARCHIVE, OssKeyPrefix: 'audit-logs', OssWriteRoleArn: OSS_ROLE });
    expect(created).toMatchObject({ Name: 'audit-trail', OssWriteRoleArn: OSS_ROLE, EventRW: 'All', TrailRegion: 'All', HomeRegion: 'cn-hangzhou' });
    const described = (await rpc(ACCOUNT, 'DescribeTrails'))['TrailList'] as Body[];
    expect(described).toEqual([expect.objectContaining({ Name: 'audit-trail', OssWriteRoleArn: OSS_ROLE, OssBucketLocation: expect.any(String), Status: 'Fresh' })]);
    const role = `acs:ram::${ACCOUNT}:role/other-writer`;
    expect(await rpc(ACCOUNT, 'UpdateTrail', { Name: 'audit-trail', OssWriteRoleArn: role })).toMatchObject({ OssWriteRoleArn: role });
  });

  it('DescribeRegions answers Regions.Region with RegionId, LocalName and RegionEndpoint', async () => {
    const body = await rpc(ACCOUNT, 'DescribeRegions', { AcceptLanguage: 'en-US' }, 'v2');
    const regions = (body['Regions'] as { Region: Body[] }).Region;
    expect(regions).toEqual(expect.arrayContaining([{ RegionId: 'cn-hangzhou', LocalName: 'China (Hangzhou)', RegionEndpoint: 'actiontrail.cn-hangzhou.aliyuncs.com' }]));
    expect(await rpcError(ACCOUNT, 'DescribeRegions', { AcceptLanguage: 'xx' })).toMatchObject({ code: 'InvalidQueryParameter' });
  });

  it("records StopLogging and DeleteTrail as the caller's own events, found by LookupEvents without secrets", async () => {
    await rpc(ACCOUNT, 'StartLogging', { Name: 'audit-trail' });
    const stopped = await rpc(ACCOUNT, 'StopLogging', { Name: 'audit-trail' });
    const requestId = stopped['RequestId'] as string;
    const events = await eventually(ACCOUNT, 'EventName', 'StopLogging', (found) => found.some((e) => e['requestId'] === requestId));
    const event = events.find((e) => e['requestId'] === requestId) as Body;
    expect(event).toMatchObject({
      eventName: 'StopLogging',
      eventType: 'ApiCall',
      eventRW: 'Write',
      serviceName: 'Actiontrail',
      eventSource: 'actiontrail.cn-hangzhou.aliyuncs.com',
      apiVersion: '2020-07-06',
      userIdentity: { accountId: ACCOUNT, accessKeyId: keys.get(ACCOUNT)?.accessKeyId, type: 'root-account' },
      requestParameters: expect.objectContaining({ Name: 'audit-trail' }),
    });
    expect(event['sourceIpAddress']).toEqual(expect.any(String));
    const text = JSON.stringify(event);
    expect(text).not.toContain(keys.get(ACCOUNT)?.accessKeySecret);
    expect(Object.keys(event['requestParameters'] as Body).filter((k) => /^Signature/.test(k))).toEqual([]);

    // A refused call is recorded with its error; deleting the trail shows up too.
    await rpcError(ACCOUNT, 'StopLogging', { Name: 'no-such-trail' });
    await rpc(ACCOUNT, 'DeleteTrail', { Name: 'audit-trail' });
    const deleted = await eventually(ACCOUNT, 'ServiceName', 'Actiontrail', (found) =>
      found.some((e) => e['eventName'] === 'DeleteTrail') && found.some((e) => e['errorCode'] === 'TrailNotFoundException'),
    );
    expect(deleted.find((e) => e['errorCode'] === 'TrailNotFoundException')).toMatchObject({ eventName: 'StopLogging', requestParameters: { Name: 'no-such-trail' } });
    // Another account sees none of them.
    expect(await lookup(OTHER, 'ServiceName', 'Actiontrail')).toEqual([]);
    // Reads are not recorded.
    expect(deleted.some((e) => e['eventName'] === 'DescribeTrails' || e['eventName'] === 'LookupEvents')).toBe(false);
  });

  it('looks events up by SensitiveAction=true and by RoleName', async () => {
    const marker = `Sens${randomUUID().slice(0, 8)}`;
    const at = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const base = { eventVersion: 1, eventTime: at, eventType: 'ApiCall', eventRW: 'Write', eventSource: 'ram.aliyuncs.com', serviceName: 'Ram', acsRegion: 'cn-hangzhou', sourceIpAddress: '203.0.113.5' };
    const sensitive = { ...base, eventId: `${marker}-sensitive`, eventName: 'DeleteUser', eventAttributes: { SensitiveAction: true }, userIdentity: { type: 'ram-user', accountId: ACCOUNT, userName: 'alice', principalId: '2001', accessKeyId: 'LTAIalice' } };
    const assumed = {
      ...base,
      eventId: `${marker}-assumed`,
      eventName: 'CreateUser',
      userIdentity: { type: 'assumed-role', accountId: ACCOUNT, userName: `${marker}Role:session-1`, principalId: '3001:session-1', accessKeyId: 'STS.Nexample' },
    };
    const plain = { ...base, eventId: `${marker}-plain`, eventName: 'ListUsers', eventRW: 'Read', userIdentity: { type: 'ram-user', accountId: ACCOUNT, userName: 'bob', principalId: '2002', accessKeyId: 'LTAIbob' } };
    const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, keys.get(ACCOUNT) as Credentials, JSON.stringify([sensitive, assumed, plain]));
    expect(res.status).toBe(200);
    const found = await eventually(ACCOUNT, 'SensitiveAction', 'true', (events) => events.some((e) => e['eventId'] === sensitive.eventId));
    expect(found.map((e) => e['eventId'])).not.toContain(plain.eventId);
    expect(found.map((e) => e['eventId'])).not.toContain(assumed.eventId);
    const byRole = await eventually(ACCOUNT, 'RoleName', `${marker}Role`, (events) => events.length > 0);
    expect(byRole.map((e) => e['eventId'])).toEqual([assumed.eventId]);
    expect(await rpcError(ACCOUNT, 'LookupEvents', { 'LookupAttribute.1.Key': 'SensitiveAction', 'LookupAttribute.1.Value': 'false' })).toMatchObject({
      code: 'InvalidQueryParameter',
    });
  });
});
