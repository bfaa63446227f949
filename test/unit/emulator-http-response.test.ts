/**
 * The emulator's HTTP trigger answers a response struct the instance decoded (httpParts, sent
 * between threads without JSON) exactly as it answers the struct's JSON (what Function Compute
 * itself serialises): same status, headers and body bytes, for every struct httpParts accepts;
 * the structs it refuses go the JSON way.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpParts, transferable } from '../../emulator/runtime/http-response.ts';
import type { InvocationResult } from '../../emulator/runtime/function-runtime.ts';
import { writeHttpResult } from '../../emulator/triggers/http.ts';

let server: http.Server;
let url: string;
let next: InvocationResult | undefined;

beforeAll(async () => {
  server = http.createServer((_req, res) => writeHttpResult(res, next as InvocationResult));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function answer(result: InvocationResult): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  next = result;
  const res = await fetch(url, { redirect: 'manual' });
  const headers = Object.fromEntries([...res.headers].filter(([name]) => name !== 'date' && name !== 'x-fc-invocation-duration'));
  return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString('base64') };
}

const viaJson = (struct: unknown): InvocationResult => ({ ok: true, requestId: 'r-1', durationMs: 1, payload: Buffer.from(JSON.stringify(struct) ?? '', 'utf8') });

const accepted: [string, Record<string, unknown>][] = [
  ['a JSON answer', { statusCode: 200, headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' }, body: '{"RequestId":"x","Events":[{"a":"é ✓ \\" \\n"}]}' }],
  ['a lone surrogate in the body (UTF-8 replacement either way)', { statusCode: 200, body: 'a\uD800b' }],
  ['a base64 body', { statusCode: 201, headers: { 'content-type': 'image/png' }, body: Buffer.from([0, 1, 2, 255, 254]).toString('base64'), isBase64Encoded: true }],
  ['a number header and a repeated header', { statusCode: 302, headers: { Location: '/console', 'X-Count': 12.5, 'Set-Cookie': ['a=1', 'b=2'] } }],
  ['no headers and no body', { statusCode: 204 }],
  ['isBase64Encoded false', { statusCode: 200, body: 'plain', isBase64Encoded: false }],
  ['a null-prototype struct', Object.assign(Object.create(null) as Record<string, unknown>, { statusCode: 200, body: 'x' })],
];

const refused: [string, unknown][] = [
  ['a Buffer body', { statusCode: 200, body: Buffer.from('x') }],
  ['an extra field', { statusCode: 200, body: 'x', extra: 1 }],
  ['a NaN status', { statusCode: Number.NaN, body: 'x' }],
  ['a status out of range', { statusCode: 700, body: 'x' }],
  ['a fractional status', { statusCode: 200.5, body: 'x' }],
  ['an infinite header', { statusCode: 200, headers: { 'x-n': Number.POSITIVE_INFINITY } }],
  ['an undefined header', { statusCode: 200, headers: { 'x-n': undefined } }],
  ['an object header', { statusCode: 200, headers: { 'x-n': { toJSON: () => 'v' } } }],
  ['a class instance', new (class Answer { statusCode = 200; body = 'x'; })()],
  ['a string result', 'just text'],
  ['undefined', undefined],
];

describe('emulator HTTP trigger: the instance-decoded response struct', () => {
  it.each(accepted)('answers %s as its JSON would be answered', async (_name, struct) => {
    const parts = httpParts(struct);
    expect(parts).toBeDefined();
    const direct = await answer({ ok: true, requestId: 'r-1', durationMs: 1, payload: Buffer.alloc(0), response: parts! });
    expect(direct).toEqual(await answer(viaJson(struct)));
  });

  it.each(refused)('leaves %s to the JSON path', (_name, result) => {
    expect(httpParts(result)).toBeUndefined();
  });

  it('moves a body buffer only when the body owns all of it', () => {
    const owned = httpParts({ statusCode: 200, body: 'x'.repeat(46_000) })!;
    expect(transferable(owned.body)).toEqual([owned.body.buffer]);
    // small bodies are made in Node's shared Buffer pool: copied, never moved
    for (const small of [{ statusCode: 200, body: 'AAEC', isBase64Encoded: true }, { statusCode: 200, body: 'x'.repeat(100) }]) {
      const pooled = httpParts(small)!;
      expect(pooled.body.buffer.byteLength).toBeGreaterThan(pooled.body.byteLength);
      expect(transferable(pooled.body)).toEqual([]);
    }
  });
});
