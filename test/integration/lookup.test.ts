/**
 * LookupEvents and GetEvent through lookup-http, signed with the RPC signature, on events that
 * went through ingest and classify — real Redis, real S3 server, through the emulator.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';
import { productProject, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '1234567890123456';
const B = '6234567890123456';
let stack: TestStack;
let redis: Redis;
let keyA: Credentials;
let keyB: Credentials;
const marker = `Probe${randomUUID().slice(0, 8)}`;
const ids: string[] = [];

async function lookup(credentials: Credentials, params: Record<string, string>) {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, { Action: 'LookupEvents', ...params });
  return { status: res.status, body: (await res.json()) as { Events?: { eventId: string; eventName: string }[]; NextToken?: string; Code?: string } };
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
  const base = Date.now() - 10 * 60_000;
  const events = Array.from({ length: 25 }, (_v, n) => ({ ...sampleEvent(A, n, new Date(base + n * 1000)), eventName: marker }));
  for (const e of events) ids.push(String((e as Record<string, unknown>)['eventId']));
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, keyA, JSON.stringify(events));
  expect(res.status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(A, ids)).every(Boolean), 15_000, 'events in history');
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('LookupEvents', () => {
  it('finds events by EventName, newest first, and pages with NextToken without gaps or repeats', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const { status, body } = await lookup(keyA, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '10', ...(token ? { NextToken: token } : {}) });
      expect(status).toBe(200);
      seen.push(...(body.Events ?? []).map((e) => e.eventId));
      token = body.NextToken;
    } while (token);
    expect(seen).toEqual([...ids].reverse());
  });

  it('never shows account A’s events to account B, by condition, NextToken or event id', async () => {
    expect((await lookup(keyB, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker })).body.Events).toEqual([]);
    const page = await lookup(keyA, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '5' });
    const stolen = await lookup(keyB, { 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': marker, MaxResults: '5', NextToken: page.body.NextToken ?? '' });
    expect(stolen.body.Code).toBe('InvalidNextToken');
    const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, keyB, { Action: 'GetEvent', EventId: ids[0] as string });
    expect(res.status).toBe(404);
  });

  it('refuses a forged NextToken and an end before the start', async () => {
    expect((await lookup(keyA, { NextToken: 'forged.token' })).body.Code).toBe('InvalidNextToken');
    const bad = await lookup(keyA, { StartTime: '2026-11-20T10:00:00Z', EndTime: '2026-11-19T10:00:00Z' });
    expect(bad.status).toBe(400);
    expect(bad.body.Code).toBe('InvalidParameterCombination');
  });
});
