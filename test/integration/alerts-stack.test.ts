/**
 * Alerts through the emulator on the product's s.yaml (docs/design.md §3.12): rules and channels
 * made with signed API calls; events ingested; classify's analysis of each staged batch matches
 * them and wakes alerts-cron (an async invocation), which sends to a DingTalk-shaped receiver the
 * test started — signature checked — and to a generic webhook. Covered: a root logon without MFA
 * notified once however often alerts-cron fires after; an event arriving late (eventTime ten
 * minutes back) notified; a webhook failing then recovering through the delayed retry
 * alerts-cron schedules for itself; the delivery log; the write calls recorded without the URL
 * or the secret; the channel masked in answers; another account seeing none of it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { alertKeys } from '../../adapters/redis/alerts-store.ts';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver.ts';
import { internalAuth, productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';

const A = '5534567890123456';
const OTHER = '5634567890123456';
const DING_SECRET = 'SECstack0123456789abcdefghijklmnopqrstuvwxyz0123';
type Json = Record<string, unknown>;

let stack: TestStack;
let redis: Redis;
let receiver: AlertReceiver;
let key: Credentials;
let otherKey: Credentials;

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await callRpc(stack.emulator.httpUrls['lookup-http'] as string, credentials, params);
  return { status: res.status, body: (await res.json()) as Json };
}

/** A fixture event (test/fixtures/events/), cloned, of account A, with a fresh id and `over` merged. */
function fixture(name: string, over: Json = {}, identity: Json = {}): Json {
  const base = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'events', `${name}.json`), 'utf8')) as Json;
  const id = crypto.randomUUID().toUpperCase();
  return { ...base, eventId: id, requestId: id, eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), ...over, userIdentity: { ...(base['userIdentity'] as Json), principalId: A, accountId: A, ...identity } };
}

async function ingest(events: Json[]): Promise<void> {
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
}

async function fireAndWait(fn: string, trigger: string): Promise<void> {
  const requestId = await stack.emulator.fireTimer(fn, trigger);
  await waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 40_000, `${fn} ${trigger}`);
}

const at = (p: string) => receiver.received.filter((r) => r.path === p);
let ruleId = '';
let hookRuleId = '';

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'], env: { TK_ALERTS_ALLOW_PRIVATE_NETWORKS: 'true' } });
  redis = new Redis(stack.redisUrl);
  receiver = await startAlertReceiver({ dingTalkSecret: DING_SECRET });
  const accounts = new RedisAccountStore(redis, stack.secrets);
  key = await accounts.createKey(A);
  otherKey = await accounts.createKey(OTHER);
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  redis?.disconnect();
  await stack?.stop();
});

describe('alerts through the emulator', () => {
  it('a root logon without MFA reaches the DingTalk receiver, signed, once — alerts-cron fired twice more adds nothing', async () => {
    const channel = await rpc(key, { Action: 'CreateAlertChannel', Name: 'ops robot', Type: 'dingtalk', WebhookUrl: `${receiver.url}/dingtalk/ops?access_token=stack-token`, Secret: DING_SECRET });
    expect(channel.status).toBe(200);
    const channelId = (channel.body['Channel'] as { ChannelId: string; Url: string }).ChannelId;
    expect(JSON.stringify(channel.body)).not.toContain('stack-token');
    const rule = await rpc(key, { Action: 'CreateAlertRule', Name: 'No MFA', Template: 'logon-without-mfa', ChannelIds: JSON.stringify([channelId]) });
    expect(rule.status).toBe(200);
    ruleId = (rule.body['Rule'] as { RuleId: string }).RuleId;

    const signin = fixture('console-signin-root');
    await ingest([signin, fixture('ecs-describeinstances-read')]);
    const got = await waitUntil(async () => (at('/dingtalk/ops').length > 0 ? at('/dingtalk/ops') : undefined), 40_000, 'the DingTalk notification');
    expect(got[0]?.signatureValid).toBe(true);
    expect(got[0]?.query.get('access_token')).toBe('stack-token');
    expect(got[0]?.body).toMatchObject({ msgtype: 'markdown', markdown: { title: expect.stringContaining('No MFA') } });
    expect((got[0]?.body as { markdown: { text: string } }).markdown.text).toContain(String(signin['eventId']));

    await fireAndWait('alerts-cron', 'every-minute');
    await fireAndWait('alerts-cron', 'every-minute');
    await fireAndWait('insights-cron', 'every-minute');
    expect(at('/dingtalk/ops')).toHaveLength(1);
    const history = await rpc(key, { Action: 'DescribeAlertHistory', RuleId: ruleId });
    expect(history.body['History']).toEqual([expect.objectContaining({ Outcome: 'sent', ChannelId: channelId, ChannelName: 'ops robot', Status: 200, Attempt: 1 })]);
  }, 120_000);

  it('an event arriving late (eventTime ten minutes back) is still notified', async () => {
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const late = fixture('console-signin-ramuser', { eventTime: tenMinutesAgo, additionalEventData: { mfaChecked: 'false' } }, { type: 'ram-user', userName: 'late-dave' });
    await ingest([late]);
    const got = await waitUntil(async () => (at('/dingtalk/ops').length > 1 ? at('/dingtalk/ops') : undefined), 40_000, 'the late notification');
    expect((got[1]?.body as { markdown: { text: string } }).markdown.text).toContain('late-dave');
    expect(got[1]?.signatureValid).toBe(true);
  }, 120_000);

  it('a webhook that fails is retried (alerts-cron schedules its own delayed run) and recovers', async () => {
    const hook = await rpc(key, { Action: 'CreateAlertChannel', Name: 'hook', Type: 'webhook', WebhookUrl: `${receiver.url}/hook/a?key=hook-token` });
    const hookId = (hook.body['Channel'] as { ChannelId: string }).ChannelId;
    const rule = await rpc(key, { Action: 'CreateAlertRule', Name: 'Trail changes', Template: 'trail-change', ChannelIds: JSON.stringify([hookId]) });
    hookRuleId = (rule.body['Rule'] as { RuleId: string }).RuleId;
    receiver.failNext([503]);
    await ingest([fixture('ecs-describeinstances-read', { eventName: 'StopLogging', serviceName: 'Actiontrail', eventType: 'ApiCall', eventRW: 'Write', requestParameters: { Name: 'default-trail' } })]);
    const got = await waitUntil(async () => (at('/hook/a').length >= 2 ? at('/hook/a') : undefined), 60_000, 'the retried webhook');
    expect(got).toHaveLength(2);
    expect(got.map((r) => (r.body as { notificationId: string }).notificationId)[0]).toBe((got[1]?.body as { notificationId: string }).notificationId);
    const history = await waitUntil(async () => {
      const h = (await rpc(key, { Action: 'DescribeAlertHistory', RuleId: hookRuleId })).body['History'] as { Outcome: string; Attempt: number }[];
      return h.length >= 2 ? h : undefined;
    }, 10_000, 'the delivery log');
    expect(history.map((h) => [h.Outcome, h.Attempt])).toEqual([
      ['sent', 2],
      ['retrying', 1],
    ]);
  }, 120_000);

  it('secrets stay secret: sealed in Redis, masked in answers, absent from the recorded calls; another account sees nothing', async () => {
    const listed = await rpc(key, { Action: 'ListAlertChannels' });
    const text = JSON.stringify(listed.body);
    for (const secret of ['stack-token', 'hook-token', DING_SECRET]) expect(text).not.toContain(secret);
    const stored = JSON.stringify(await redis.hgetall(alertKeys.channels(A)));
    for (const secret of ['stack-token', 'hook-token', DING_SECRET]) expect(stored).not.toContain(secret);

    const recorded = await waitUntil(async () => {
      const { body } = await rpc(key, { Action: 'LookupEvents', 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'CreateAlertChannel', MaxResults: '50' });
      const events = (body['Events'] ?? []) as { requestParameters: Json }[];
      return events.length >= 2 ? events : undefined;
    }, 30_000, 'the recorded CreateAlertChannel calls');
    const recordedText = JSON.stringify(recorded);
    for (const secret of ['stack-token', 'hook-token', DING_SECRET, 'WebhookUrl', 'Secret']) expect(recordedText).not.toContain(secret);
    expect(recorded[0]?.requestParameters).toMatchObject({ Type: expect.any(String), Name: expect.any(String) });

    expect((await rpc(otherKey, { Action: 'ListAlertRules' })).body['Rules']).toEqual([]);
    expect((await rpc(otherKey, { Action: 'ListAlertChannels' })).body['Channels']).toEqual([]);
    expect(await rpc(otherKey, { Action: 'DescribeAlertHistory', RuleId: ruleId })).toMatchObject({ status: 404, body: { Code: 'AlertRuleNotFound' } });
    expect(await rpc(otherKey, { Action: 'DeleteAlertRule', RuleId: ruleId })).toMatchObject({ status: 404 });
    expect((await rpc(key, { Action: 'GetAlertRule', RuleId: ruleId })).status).toBe(200);
  }, 60_000);
});
