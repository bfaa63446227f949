/**
 * A webhook receiver for alert tests: a real HTTP server on a free local port that records each
 * request and answers as told (a queue of statuses, then 200). For DingTalk-shaped requests it
 * checks the robot signature as DingTalk does: `timestamp` within an hour of now and `sign` the
 * base64 HMAC-SHA256 of "<timestamp>\n<secret>" keyed by the secret, and answers errcode 310000
 * to a bad one, as DingTalk does.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  query: URLSearchParams;
  body: unknown;
  receivedAtMs: number;
  /** DingTalk only: whether the signature checked out. */
  signatureValid?: boolean;
}

export interface AlertReceiver {
  url: string;
  received: ReceivedRequest[];
  /** The statuses of the next answers (then 200 again). */
  failNext(statuses: number[]): void;
  close(): Promise<void>;
}

const DINGTALK_MAX_SKEW_MS = 60 * 60_000;

export function dingTalkSignatureValid(query: URLSearchParams, secret: string, nowMs = Date.now()): boolean {
  const timestamp = query.get('timestamp');
  const sign = query.get('sign');
  if (!timestamp || !sign || !/^\d{13}$/.test(timestamp)) return false;
  if (Math.abs(nowMs - Number(timestamp)) > DINGTALK_MAX_SKEW_MS) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest();
  const given = Buffer.from(sign, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `dingTalkSecret`: requests under `/dingtalk` are checked against it. */
export async function startAlertReceiver(options: { dingTalkSecret?: string } = {}): Promise<AlertReceiver> {
  const received: ReceivedRequest[] = [];
  const failures: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      const entry: ReceivedRequest = { path: url.pathname, query: url.searchParams, body, receivedAtMs: Date.now() };
      if (url.pathname.startsWith('/dingtalk') && options.dingTalkSecret !== undefined) entry.signatureValid = dingTalkSignatureValid(url.searchParams, options.dingTalkSecret);
      received.push(entry);
      const status = failures.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      if (entry.signatureValid === false) res.end('{"errcode":310000,"errmsg":"sign not match"}');
      else res.end(url.pathname.startsWith('/dingtalk') ? '{"errcode":0,"errmsg":"ok"}' : '{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    failNext: (statuses) => failures.push(...statuses),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
