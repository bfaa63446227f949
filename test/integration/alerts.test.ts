/**
 * Alerts end to end at the use-case level (docs/design.md §3.12), on a real Redis (one server
 * and a three-master cluster) with a real HTTP receiver, and a test clock so time can move an
 * hour: rules and channels made through the API's use cases, rows matched as the insights drain
 * hands them over, alerts-cron's run evaluating and sending. Covered: a root logon without MFA
 * reaching a DingTalk-shaped receiver once (signature checked) however often the run fires, in
 * parallel too; a batch consumed twice; a late event completing a threshold and one past the
 * lateness bound ignored; a webhook failing then recovering; giving up; hourly de-duplication
 * per rule and group; the delivery log; channels' secrets sealed at rest and masked in answers.
 * (test/integration/alerts-stack.test.ts runs the same path through the emulator.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { ALERT_RECORD_CHUNK, alertKeys, RedisAlertStore } from '../../adapters/redis/alerts-store.ts';
import { openAlertChannel, sealAlertChannelSecret } from '../../adapters/alert-channels.ts';
import { webhookSender } from '../../adapters/http/webhook-sender.ts';
import { ALERT_ACTIONS, type AlertApiPorts } from '../../shared/alerts/alert-api.ts';
import { AlertMatcher, alertMatcherConsumer, runAlerts, type AlertsRunPorts } from '../../shared/alerts/engine.ts';
import { ALERT_MAX_ATTEMPTS, ALERT_RETRY_DELAYS_MS } from '../../shared/alerts/evaluate.ts';
import { ALERT_LATENESS_MS, ALERT_MAX_RULES } from '../../shared/alerts/model.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { NotFoundError, ValidationError } from '../../shared/errors.ts';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver.ts';
import { analysisRow } from '../helpers/analysis-row.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';
import { testSecretBox } from '../helpers/secrets.ts';

const backends = useRedisBackends();
const MIN = 60_000;
const DING_SECRET = 'SECtest0123456789abcdefghijklmnopqrstuvwxyz+/=';
const box = testSecretBox();
let receiver: AlertReceiver;

beforeAll(async () => {
  receiver = await startAlertReceiver({ dingTalkSecret: DING_SECRET });
});
afterAll(async () => {
  await receiver?.close();
});

let accountSeq = 0;

describe.each(REDIS_BACKENDS)('alerts (%s)', (backendName) => {
  let redis: RedisClient;
  let store: RedisAlertStore;
  let clock = Date.now();
  const now = () => clock;

  beforeAll(() => {
    redis = backends.get(backendName).client();
    store = new RedisAlertStore(redis);
  });
  afterAll(() => redis?.disconnect());

  const apiPorts = (): AlertApiPorts => ({
    store,
    seal: (a, c, what, text) => sealAlertChannelSecret(box, a, c, what, text),
    open: (channel) => openAlertChannel(box, channel),
    send: webhookSender({ allowPrivateNetworks: true }),
    allowPrivateNetworks: true,
    now,
  });
  const runPorts = (): AlertsRunPorts => ({ store, send: webhookSender({ allowPrivateNetworks: true }), openChannel: (c) => openAlertChannel(box, c), now });
  const call = async (action: string, accountId: string, params: Record<string, string>) => {
    const fn = ALERT_ACTIONS[action];
    if (!fn) throw new Error(action);
    return fn(params, { accountId }, apiPorts());
  };

  /** A fresh account with one channel and one rule; the receiver path tells its requests apart. */
  async function setUp(kind: 'dingtalk' | 'webhook', rule: Record<string, string>) {
    accountSeq += 1;
    const accountId = `${backendName === 'cluster' ? 8 : 7}${String(accountSeq).padStart(15, '0')}`;
    const path = `/${kind}/${accountId}`;
    const channel = (await call('CreateAlertChannel', accountId, {
      Name: `${kind} ${accountId}`,
      Type: kind,
      WebhookUrl: `${receiver.url}${path}?access_token=tok-${accountId}`,
      ...(kind === 'dingtalk' ? { Secret: DING_SECRET } : {}),
    })) as { Channel: { ChannelId: string } };
    const created = (await call('CreateAlertRule', accountId, { Name: 'rule', ChannelIds: JSON.stringify([channel.Channel.ChannelId]), ...rule })) as { Rule: { RuleId: string } };
    return { accountId, path, channelId: channel.Channel.ChannelId, ruleId: created.Rule.RuleId, requests: () => receiver.received.filter((r) => r.path === path) };
  }

  const drain = (accountId: string, rows: AnalysisRow[]) => alertMatcherConsumer(new AlertMatcher(store, now), async () => undefined).consume(accountId, rows);
  const rootSignin = (accountId: string, t: number, over: Partial<AnalysisRow> = {}) =>
    analysisRow(accountId, t, { eventType: 'ConsoleSignin', eventName: 'ConsoleSignin', identityType: 'root-account', userName: 'root', mfa: false, sourceIpAddress: '203.0.113.9', ...over });

  it('a root logon without MFA reaches the DingTalk receiver once, signed; the run fired again, twice at once, or the batch consumed twice adds nothing', async () => {
    clock = Date.now();
    const s = await setUp('dingtalk', { Template: 'logon-without-mfa' });
    const row = rootSignin(s.accountId, clock - 5_000);
    await drain(s.accountId, [row]);
    await drain(s.accountId, [row]); // the drain's at-least-once: the same batch again
    const [first, second] = await Promise.all([runAlerts(runPorts()), runAlerts(runPorts())]);
    expect(first.sent + second.sent).toBe(1);
    await runAlerts(runPorts());
    clock += 5 * MIN;
    await runAlerts(runPorts());
    const got = s.requests();
    expect(got).toHaveLength(1);
    expect(got[0]?.signatureValid).toBe(true);
    expect(got[0]?.query.get('access_token')).toBe(`tok-${s.accountId}`);
    const body = got[0]?.body as { msgtype: string; markdown: { title: string; text: string } };
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.text).toContain(row.eventId);
    const history = (await call('DescribeAlertHistory', s.accountId, { RuleId: s.ruleId })) as { History: { Outcome: string; Attempt?: number; Status?: number }[] };
    expect(history.History).toEqual([expect.objectContaining({ Outcome: 'sent', Attempt: 1, Status: 200 })]);
  });

  it("one account whose alerts fail is reported and the others' alerts still go out; its matches stay pending", async () => {
    clock = Date.now();
    const broken = await setUp('webhook', { Template: 'root-logon' });
    const healthy = await setUp('webhook', { Template: 'root-logon' });
    await drain(broken.accountId, [rootSignin(broken.accountId, clock - 1000)]);
    await drain(healthy.accountId, [rootSignin(healthy.accountId, clock - 1000)]);
    // the broken account's store refuses its pending matches (as a store fault limited to it would)
    const failing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'pending') {
          return async (accountId: string, limit: number) => {
            if (accountId === broken.accountId) throw new Error('pending refused');
            return target.pending(accountId, limit);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const report = await runAlerts({ ...runPorts(), store: failing });
    expect(report.failures).toContainEqual({ accountId: broken.accountId, stage: 'evaluate', message: 'pending refused' });
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(healthy.requests()).toHaveLength(1);
    expect(broken.requests()).toHaveLength(0);
    // the fault gone, the next run sends what was left pending
    await runAlerts(runPorts());
    expect(broken.requests()).toHaveLength(1);
  });

  it('a threshold rule: a late event (eventTime before the others) completes the window; one older than the lateness bound is not alerted', async () => {
    clock = Date.now();
    const s = await setUp('webhook', { Template: 'logon-failures', TemplateParameters: JSON.stringify({ count: 3, windowMinutes: 5 }) });
    const fail = (t: number, user = 'alice') => analysisRow(s.accountId, t, { eventType: 'ConsoleSignin', eventName: 'ConsoleSignin', errorCode: 'InvalidPassword', userName: user });
    // two failures, evaluated: below the threshold
    await drain(s.accountId, [fail(clock - 2 * MIN), fail(clock - MIN), fail(clock - MIN, 'bob')]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 0 });
    // far too late: no alert, whatever it would complete
    await drain(s.accountId, [fail(clock - ALERT_LATENESS_MS - 10 * MIN), fail(clock - ALERT_LATENESS_MS - 9 * MIN)]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 0 });
    expect(s.requests()).toHaveLength(0);
    // the third arrives late, dated between the two: the window of alice's three fires
    clock += 3 * MIN;
    await drain(s.accountId, [fail(clock - 4 * MIN - 30_000)]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 1, sent: 1 });
    const got = s.requests();
    expect(got).toHaveLength(1);
    expect(got[0]?.body).toMatchObject({ group: 'alice', groupBy: 'userIdentity.userName', count: 3, threshold: 3, windowMinutes: 5 });
  });

  it('a webhook that fails is retried with backoff and recovers: one notification, the log shows each attempt', async () => {
    clock = Date.now();
    const s = await setUp('webhook', { Template: 'root-logon' });
    receiver.failNext([500, 503]);
    await drain(s.accountId, [rootSignin(s.accountId, clock - 1000)]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 1, retrying: 1, sent: 0 });
    expect(await runAlerts(runPorts())).toMatchObject({ retrying: 0, sent: 0 }); // not due yet
    clock += ALERT_RETRY_DELAYS_MS[0];
    expect(await runAlerts(runPorts())).toMatchObject({ retrying: 1 });
    clock += ALERT_RETRY_DELAYS_MS[1];
    expect(await runAlerts(runPorts())).toMatchObject({ sent: 1 });
    const got = s.requests();
    expect(got).toHaveLength(3);
    const ids = new Set(got.map((r) => (r.body as { notificationId: string }).notificationId));
    expect(ids.size).toBe(1);
    const history = (await call('DescribeAlertHistory', s.accountId, { RuleId: s.ruleId })) as { History: { Outcome: string; Attempt: number; Error?: string }[] };
    expect(history.History.map((h) => [h.Outcome, h.Attempt])).toEqual([
      ['sent', 3],
      ['retrying', 2],
      ['retrying', 1],
    ]);
    expect(history.History[2]?.Error).toBe('HTTP 500');
  });

  it(`a webhook that never recovers is given up after ${ALERT_MAX_ATTEMPTS} attempts`, async () => {
    clock = Date.now();
    const s = await setUp('webhook', { Template: 'root-logon' });
    receiver.failNext(Array.from({ length: ALERT_MAX_ATTEMPTS }, () => 500));
    await drain(s.accountId, [rootSignin(s.accountId, clock - 1000)]);
    await runAlerts(runPorts());
    for (const delay of ALERT_RETRY_DELAYS_MS) {
      clock += delay;
      await runAlerts(runPorts());
    }
    clock += 60 * MIN;
    expect(await runAlerts(runPorts())).toMatchObject({ sent: 0, retrying: 0, gaveUp: 0 });
    expect(s.requests()).toHaveLength(ALERT_MAX_ATTEMPTS);
    const history = (await call('DescribeAlertHistory', s.accountId, { RuleId: s.ruleId })) as { History: { Outcome: string }[] };
    expect(history.History[0]?.Outcome).toBe('gave-up');
  });

  it('at most one notification per rule and group an hour: the same group again is suppressed, another group is not, and after the hour it notifies again', async () => {
    clock = Date.now();
    const s = await setUp('webhook', { Condition: JSON.stringify({ field: 'eventName', equals: 'DeleteInstance' }), GroupBy: 'userIdentity.userName' });
    const del = (user: string) => analysisRow(s.accountId, clock - 1000, { eventName: 'DeleteInstance', userName: user });
    await drain(s.accountId, [del('alice')]);
    await runAlerts(runPorts());
    clock += 20 * MIN;
    await drain(s.accountId, [del('alice'), del('bob')]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 2, suppressed: 1, sent: 1 });
    clock += 41 * MIN;
    await drain(s.accountId, [del('alice')]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 1, suppressed: 0, sent: 1 });
    expect(s.requests().map((r) => (r.body as { group: string }).group)).toEqual(['alice', 'bob', 'alice']);
    const history = (await call('DescribeAlertHistory', s.accountId, { RuleId: s.ruleId })) as { History: { Outcome: string; Group: string }[] };
    expect(history.History.map((h) => `${h.Outcome}:${h.Group}`)).toEqual(['sent:alice', 'sent:bob', 'suppressed:alice', 'sent:alice']);
  });

  it("channels' URL and secret are sealed at rest and never answered; another account sees none of it; a disabled rule notifies nobody", async () => {
    clock = Date.now();
    const s = await setUp('dingtalk', { Template: 'root-logon' });
    const stored = await redis.hget(alertKeys.channels(s.accountId), s.channelId);
    expect(stored).not.toContain(`tok-${s.accountId}`);
    expect(stored).not.toContain(DING_SECRET);
    const listed = JSON.stringify(await call('ListAlertChannels', s.accountId, {}));
    expect(listed).not.toContain('tok-');
    expect(listed).not.toContain(DING_SECRET);
    expect(listed).toContain('"Url":"http://127.0.0.1:');
    const other = '9999999999999999';
    expect(await call('ListAlertRules', other, {})).toEqual({ Rules: [] });
    await expect(call('GetAlertRule', other, { RuleId: s.ruleId })).rejects.toBeInstanceOf(NotFoundError);
    await expect(call('TestAlertChannel', other, { ChannelId: s.channelId })).rejects.toBeInstanceOf(NotFoundError);
    await expect(call('DeleteAlertChannel', s.accountId, { ChannelId: s.channelId })).rejects.toMatchObject({ code: 'AlertChannelInUse' });
    // the test action sends a signed test message
    expect(await call('TestAlertChannel', s.accountId, { ChannelId: s.channelId })).toMatchObject({ Delivered: true, Status: 200 });
    expect(s.requests().at(-1)?.signatureValid).toBe(true);
    // a rule without channels fires into its log only
    const quiet = (await call('CreateAlertRule', s.accountId, { Name: 'quiet', Template: 'root-logon' })) as { Rule: { RuleId: string } };
    await drain(s.accountId, [rootSignin(s.accountId, clock - 2000)]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 2, sent: 1 });
    expect(((await call('DescribeAlertHistory', s.accountId, { RuleId: quiet.Rule.RuleId })) as { History: { Outcome: string }[] }).History).toEqual([expect.objectContaining({ Outcome: 'no-channel' })]);
    await call('DeleteAlertRule', s.accountId, { RuleId: quiet.Rule.RuleId });
    await call('UpdateAlertRule', s.accountId, { RuleId: s.ruleId, Enabled: 'false' });
    await drain(s.accountId, [rootSignin(s.accountId, clock - 1000)]);
    expect(await runAlerts(runPorts())).toMatchObject({ fired: 0 });
    expect(s.requests()).toHaveLength(2);
  });

  it('an account with ALERT_MAX_RULES rules matching every event records the matches of a whole analysis batch (was RangeError: the batch went to the queue and the drain failed on it every run)', async () => {
    clock = Date.now();
    const s = await setUp('webhook', { Condition: '{"field":"eventName","exists":true}' });
    for (let i = 1; i < ALERT_MAX_RULES; i++) await call('CreateAlertRule', s.accountId, { Name: `all-${i}`, Condition: '{"field":"eventName","exists":true}' });
    const rows = Array.from({ length: 1000 }, (_, i) => analysisRow(s.accountId, clock - 10_000 + i, { eventName: 'DescribeInstances' }));
    await drain(s.accountId, rows);
    expect(await redis.zcard(alertKeys.pending(s.accountId))).toBe(ALERT_MAX_RULES * rows.length);
    // recorded in chunks of ALERT_RECORD_CHUNK: the same batch again (the drain's at-least-once) adds nothing
    await drain(s.accountId, rows);
    expect(await redis.zcard(alertKeys.pending(s.accountId))).toBe(ALERT_MAX_RULES * rows.length);
    expect(ALERT_MAX_RULES * rows.length).toBeGreaterThan(ALERT_RECORD_CHUNK);
  });

  it('lists every template, with its default expansion where it has one', async () => {
    const { Templates } = (await call('ListAlertTemplates', '7000000000009998', {})) as { Templates: { Id: string; Condition?: unknown; Parameters: unknown }[] };
    expect(Templates.map((t) => t.Id)).toEqual(expect.arrayContaining(['root-logon', 'logon-without-mfa', 'logon-failures', 'logon-unauthorized-ip', 'logon-outside-hours', 'accesskey-change', 'trail-change', 'ram-policy-change', 'unauthorized-calls', 'any-insight']));
    expect(Templates.find((t) => t.Id === 'logon-failures')).toMatchObject({ Parameters: { count: 5, windowMinutes: 10 }, Condition: expect.any(Object) });
    expect(Templates.find((t) => t.Id === 'logon-unauthorized-ip')?.Condition).toBeUndefined();
  });

  it('bad input is refused with the field named', async () => {
    const a = '7000000000009999';
    const refused = async (action: string, params: Record<string, string>) => {
      try {
        await call(action, a, params);
      } catch (error) {
        if (error instanceof ValidationError || error instanceof NotFoundError) return { code: error.code, field: 'field' in error ? error.field : undefined, message: error.message };
        throw error;
      }
      throw new Error(`${action} was accepted`);
    };
    expect(await refused('CreateAlertRule', { Name: 'x', Condition: '{"field":"eventName","like":"x"}' })).toMatchObject({ code: 'InvalidParameter', field: 'Condition' });
    expect(await refused('CreateAlertRule', { Name: 'x', Template: 'nope' })).toMatchObject({ code: 'AlertTemplateNotFound', field: 'Template' });
    expect(await refused('CreateAlertRule', { Name: 'x', Template: 'root-logon', Threshold: '3' })).toMatchObject({ code: 'InvalidParameter', field: 'Threshold' });
    expect(await refused('CreateAlertRule', { Name: 'x', Template: 'logon-outside-hours', TemplateParameters: '{"timeZone":"Nowhere/Else"}' })).toMatchObject({ field: 'TemplateParameters' });
    expect(await refused('CreateAlertRule', { Name: 'x', Condition: '{"field":"eventName","equals":"x"}', ChannelIds: '["ac-0000000000000000"]' })).toMatchObject({ code: 'AlertChannelNotFound' });
    expect(await refused('CreateAlertChannel', { Name: 'x', Type: 'webhook', WebhookUrl: 'http://169.254.169.254/latest' })).toMatchObject({ field: 'WebhookUrl' });
    expect(await refused('CreateAlertChannel', { Name: 'x', Type: 'email', WebhookUrl: 'https://example.com/' })).toMatchObject({ field: 'Type' });
    expect(await refused('CreateAlertChannel', { Name: 'x', Type: 'slack', WebhookUrl: 'https://example.com/', Secret: 'x' })).toMatchObject({ field: 'Secret' });
  });
});

describe('the sender refuses what it must not call', () => {
  it('metadata and link-local always, private networks unless allowed; no redirect followed', async () => {
    const strict = webhookSender({ allowPrivateNetworks: false, timeoutMs: 2000 });
    expect(await strict(`${receiver.url}/webhook/strict`, '{}')).toMatchObject({ error: expect.stringContaining('private') });
    expect(await strict('http://localhost:1/x', '{}')).toMatchObject({ error: expect.stringContaining('refused') });
    const open = webhookSender({ allowPrivateNetworks: true, timeoutMs: 2000 });
    expect(await open('http://169.254.169.254/latest/meta-data', '{}')).toMatchObject({ error: expect.stringContaining('link-local') });
    expect(await open('http://100.100.100.200/latest/meta-data', '{}')).toMatchObject({ error: expect.stringContaining('metadata') });
    receiver.failNext([302]);
    expect(await open(`${receiver.url}/webhook/redirect`, '{}')).toMatchObject({ status: 302 });
  });
});
