/**
 * Alert notifications and where they may go, pure (docs/design.md §3.12): DingTalk's signing
 * checked against an independent HMAC (WebCrypto), each channel type's body, event values
 * escaped, DingTalk's errcode read, and the SSRF address rules.
 */
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blockedAddress, maskedUrlOf, webhookUrlProblem } from '../../shared/alerts/address-policy.ts';
import { deliveredBy, dingTalkSignedUrl, messageBody, outgoingRequest, type Notification } from '../../shared/alerts/notify.ts';

const notification: Notification = {
  notificationId: 'an-1',
  accountId: '1234567890123456',
  ruleId: 'ar-0123456789abcdef',
  ruleName: 'Root logon',
  group: 'root',
  groupBy: 'userIdentity.userName',
  threshold: 1,
  windowMinutes: 1,
  count: 1,
  events: [
    {
      eventId: 'ev-1',
      eventTimeMs: Date.UTC(2026, 10, 24, 3, 0, 0),
      eventName: 'ConsoleSignin',
      eventType: 'ConsoleSignin',
      userName: '<b>*root*</b>\n# injected',
      identityType: 'root-account',
      sourceIpAddress: '203.0.113.9',
      errorCode: '',
      acsRegion: 'cn-hangzhou',
    },
  ],
};

async function independentSign(secret: string, timestamp: number): Promise<string> {
  const key = await webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await webcrypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${timestamp}\n${secret}`));
  return Buffer.from(mac).toString('base64');
}

describe('DingTalk', () => {
  it('signs with timestamp and the URL-encoded base64 HMAC-SHA256 of "<timestamp>\\n<secret>", keeping the access_token', async () => {
    const secret = 'SEC0123456789abcdef+/=test';
    for (const ts of [1_700_000_000_000, 1_764_733_200_123, 1_800_000_000_999]) {
      const signed = new URL(dingTalkSignedUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', secret, ts));
      expect(signed.searchParams.get('access_token')).toBe('abc');
      expect(signed.searchParams.get('timestamp')).toBe(String(ts));
      expect(signed.searchParams.get('sign')).toBe(await independentSign(secret, ts));
      // the raw query carries it percent-encoded (no bare + / =)
      expect(signed.search).not.toMatch(/sign=[^&]*[+/=]/);
    }
  });

  it('sends a markdown message with the title and the events, markup escaped', () => {
    const body = JSON.parse(messageBody('dingtalk', notification)) as { msgtype: string; markdown: { title: string; text: string } };
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.title).toContain('Root logon');
    expect(body.markdown.text).toContain('ConsoleSignin');
    expect(body.markdown.text).toContain('203.0.113.9');
    expect(body.markdown.text).not.toContain('<b>');
    expect(body.markdown.text).not.toMatch(/\n# injected/);
  });

  it('reads errcode: 0 is delivered, another is a failure; a non-2xx always is', () => {
    expect(deliveredBy('dingtalk', 200, '{"errcode":0,"errmsg":"ok"}')).toEqual({ ok: true });
    expect(deliveredBy('dingtalk', 200, '{"errcode":310000,"errmsg":"sign not match"}')).toMatchObject({ ok: false, error: expect.stringContaining('310000') });
    expect(deliveredBy('webhook', 503, '')).toEqual({ ok: false, error: 'HTTP 503' });
    expect(deliveredBy('slack', 302, '')).toMatchObject({ ok: false });
  });
});

describe('webhook and Slack bodies', () => {
  it('the generic webhook gets structured JSON; Slack gets {text} with <>& escaped', () => {
    const generic = JSON.parse(messageBody('webhook', notification)) as Record<string, unknown>;
    expect(generic).toMatchObject({ version: 1, notificationId: 'an-1', rule: { id: 'ar-0123456789abcdef', name: 'Root logon' }, group: 'root', count: 1 });
    expect((generic['events'] as { eventTime: string }[])[0]?.eventTime).toBe('2026-11-24T03:00:00Z');
    const slack = JSON.parse(messageBody('slack', notification)) as { text: string };
    expect(Object.keys(slack)).toEqual(['text']);
    expect(slack.text).toContain('&lt;b&gt;');
    expect(outgoingRequest({ type: 'slack', url: 'https://hooks.example/x' }, notification, 1).url).toBe('https://hooks.example/x');
  });
});

describe('where a webhook may go', () => {
  it('never to link-local or metadata addresses, even with private networks allowed', () => {
    for (const ip of ['169.254.169.254', '100.100.100.200', '0.0.0.0', 'fe80::1', '::ffff:169.254.169.254', '224.0.0.1']) {
      expect(blockedAddress(ip, true), ip).toBeDefined();
      expect(blockedAddress(ip, false), ip).toBeDefined();
    }
  });

  it('private and loopback only when allowed; public always', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '::1', 'fd00::1', '100.64.0.1', '::ffff:10.0.0.1']) {
      expect(blockedAddress(ip, false), ip).toBeDefined();
      expect(blockedAddress(ip, true), ip).toBeUndefined();
    }
    expect(blockedAddress('203.0.113.9', false)).toBeUndefined();
    expect(blockedAddress('2001:db8::1', false)).toBeUndefined();
  });

  it('URLs: http(s) only, no credentials, bounded; answers show scheme and host only', () => {
    expect(webhookUrlProblem('https://oapi.dingtalk.com/robot/send?access_token=x')).toBeUndefined();
    expect(webhookUrlProblem('ftp://example.com/')).toBeDefined();
    expect(webhookUrlProblem('https://user:pw@example.com/')).toBeDefined();
    expect(webhookUrlProblem('not a url')).toBeDefined();
    expect(webhookUrlProblem(`https://example.com/${'a'.repeat(3000)}`)).toBeDefined();
    expect(maskedUrlOf('https://oapi.dingtalk.com/robot/send?access_token=secret')).toBe('https://oapi.dingtalk.com/…');
  });
});
