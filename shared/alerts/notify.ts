/**
 * Notification messages per channel type (docs/design.md §3.12), pure:
 *   webhook   POST JSON {version, notificationId, accountId, rule {id, name}, group, count, windowMinutes, events […]}
 *   dingtalk  POST {"msgtype":"markdown","markdown":{"title","text"}}; with a secret, the URL gets
 *             `timestamp` (ms) and `sign` = base64 HMAC-SHA256 of "<timestamp>\n<secret>" keyed by
 *             the secret, URL-encoded, as query parameters (DingTalk's robot signing)
 *   slack     POST {"text": …} (Slack-compatible incoming webhooks)
 * Event values are data from the events (user names, IPs): they are escaped for each format.
 */
import { createHmac } from 'node:crypto';
import type { ChannelType, MatchedEvent } from './model.ts';

/** Most events listed in one notification (the count says how many there were). */
export const ALERT_MAX_LISTED_EVENTS = 10;
export const NOTIFICATION_VERSION = 1;

export interface Notification {
  notificationId: string;
  accountId: string;
  ruleId: string;
  ruleName: string;
  group: string;
  groupBy?: string | undefined;
  threshold: number;
  windowMinutes: number;
  /** Events in the firing window (count), and the first ALERT_MAX_LISTED_EVENTS of them. */
  count: number;
  events: MatchedEvent[];
  /** A test message (TestAlertChannel): says so. */
  test?: boolean | undefined;
}

export interface OutgoingRequest {
  url: string;
  body: string;
}

/** DingTalk's signature of a request at `timestampMs`: the value of the `sign` parameter before URL encoding. */
export function dingTalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** The URL with DingTalk's `timestamp` and `sign` added (replacing any already there). */
export function dingTalkSignedUrl(url: string, secret: string, timestampMs: number): string {
  const u = new URL(url);
  u.searchParams.delete('timestamp');
  u.searchParams.delete('sign');
  const query = u.search === '' ? '?' : `${u.search}&`;
  // encodeURIComponent, as DingTalk's own samples do (URLSearchParams would write a space as '+')
  return `${u.origin}${u.pathname}${query}timestamp=${timestampMs}&sign=${encodeURIComponent(dingTalkSign(secret, timestampMs))}`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One line of text without markup: control characters and markdown/Slack specials neutralised. */
function plain(value: string, max = 128): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);
  return flat;
}
/** Markdown's inline specials escaped (every line starts with our own text, so line-start markers cannot occur). */
const markdown = (value: string) => plain(value).replace(/([\\`*_[\]|<>~#])/g, '\\$1');
const slack = (value: string) => plain(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function title(n: Notification): string {
  return `${n.test ? '[Test] ' : ''}TrailKeeper alert: ${plain(n.ruleName, 64)}`;
}

function summaryLine(n: Notification, esc: (v: string) => string): string {
  const group = n.groupBy && n.group !== '' ? ` for ${esc(n.groupBy)} ${esc(n.group)}` : '';
  const window = n.threshold > 1 ? ` within ${n.windowMinutes} min` : '';
  return `${n.count} matching event${n.count === 1 ? '' : 's'}${window}${group} in account ${esc(n.accountId)}`;
}

function eventLine(e: MatchedEvent, esc: (v: string) => string): string {
  const who = e.userName || e.identityType || 'unknown';
  const parts = [iso(e.eventTimeMs), esc(e.eventName), `by ${esc(who)}`];
  if (e.sourceIpAddress) parts.push(`from ${esc(e.sourceIpAddress)}`);
  if (e.errorCode) parts.push(`error ${esc(e.errorCode)}`);
  parts.push(`(event ${esc(e.eventId)})`);
  return parts.join(' ');
}

/** The JSON body a channel type receives for a notification. */
export function messageBody(type: ChannelType, n: Notification): string {
  const listed = n.events.slice(0, ALERT_MAX_LISTED_EVENTS);
  if (type === 'dingtalk') {
    const text = [`#### ${markdown(title(n))}`, '', summaryLine(n, markdown), '', ...listed.map((e) => `- ${eventLine(e, markdown)}`)].join('\n');
    return JSON.stringify({ msgtype: 'markdown', markdown: { title: title(n), text } });
  }
  if (type === 'slack') {
    const text = [`*${slack(title(n))}*`, summaryLine(n, slack), ...listed.map((e) => `• ${eventLine(e, slack)}`)].join('\n');
    return JSON.stringify({ text });
  }
  return JSON.stringify({
    version: NOTIFICATION_VERSION,
    notificationId: n.notificationId,
    test: n.test === true,
    accountId: n.accountId,
    rule: { id: n.ruleId, name: n.ruleName },
    ...(n.groupBy ? { groupBy: n.groupBy } : {}),
    group: n.group,
    threshold: n.threshold,
    windowMinutes: n.windowMinutes,
    count: n.count,
    events: listed.map((e) => ({ ...e, eventTime: iso(e.eventTimeMs) })),
  });
}

/** The request to send: the URL (signed for DingTalk with a secret) and the body. */
export function outgoingRequest(channel: { type: ChannelType; url: string; secret?: string | undefined }, n: Notification, nowMs: number): OutgoingRequest {
  const url = channel.type === 'dingtalk' && channel.secret ? dingTalkSignedUrl(channel.url, channel.secret, nowMs) : channel.url;
  return { url, body: messageBody(channel.type, n) };
}

/**
 * Whether an answer means delivered: a 2xx, and for DingTalk also `errcode` 0 (DingTalk answers
 * 200 with a non-zero errcode to a bad signature or a throttled robot).
 */
export function deliveredBy(type: ChannelType, status: number, body: string): { ok: boolean; error?: string } {
  if (status < 200 || status >= 300) return { ok: false, error: `HTTP ${status}` };
  if (type !== 'dingtalk') return { ok: true };
  try {
    const answer = JSON.parse(body) as { errcode?: unknown; errmsg?: unknown };
    if (answer.errcode === undefined || answer.errcode === 0) return { ok: true };
    return { ok: false, error: `DingTalk errcode ${String(answer.errcode).slice(0, 16)}: ${String(answer.errmsg ?? '').slice(0, 120)}` };
  } catch {
    return { ok: true };
  }
}
