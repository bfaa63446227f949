/**
 * The emulator's HTTP trigger bounds what it buffers: a body declared over FC's 32 MiB limit is
 * refused before it is read, and the bodies one trigger holds at once are capped
 * (HTTP_TRIGGER_MAX_BUFFERED_BYTES), so clients holding many large uploads open get 429 instead
 * of making the gateway buffer 32 MiB per connection without bound; an aborted upload gives its
 * bytes back.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpec, HttpTrigger } from '../../emulator/config.ts';
import type { InvocationResult } from '../../emulator/runtime/function-runtime.ts';
import { HTTP_TRIGGER_BODY_LIMIT_BYTES, HTTP_TRIGGER_MAX_BUFFERED_BYTES, startHttpTrigger, type HttpTriggerServer } from '../../emulator/triggers/http.ts';

const fn = { functionName: 'probe' } as FunctionSpec;
const trigger = { triggerName: 'http', triggerType: 'http', triggerConfig: { authType: 'anonymous', methods: ['POST'] } } as HttpTrigger;
let server: HttpTriggerServer;
let port: number;

beforeAll(async () => {
  const invoke = async (event: Buffer, requestId: string): Promise<InvocationResult> => ({
    ok: true,
    requestId,
    durationMs: 1,
    payload: Buffer.from(JSON.stringify({ statusCode: 200, body: String(event.length) })),
  });
  server = await startHttpTrigger({ fn, trigger, host: '127.0.0.1', port: 0, accountId: '1234567890123456', invoke });
  port = Number(new URL(server.url).port);
});
afterAll(() => server?.close());

/** Opens a POST declaring `declared` bytes and sends `sent` of them; resolves once they are written. */
async function openUpload(declared: number, sent: number): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  let received = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (/\r\n\r\n/.test(received)) resolve(received);
    });
    socket.on('close', () => resolve(received));
  });
  socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  let answered = false;
  void answer.then(() => (answered = true));
  for (let left = sent; left > 0 && !answered && !socket.destroyed; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    // an answer before the whole body (413, 429) stops the upload
    if (!socket.write(part)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), answer]);
  }
  return { socket, answer };
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);

describe('HTTP trigger body bounds', () => {
  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const { socket, answer } = await openUpload(HTTP_TRIGGER_BODY_LIMIT_BYTES + 1, 1024);
    expect(statusOf(await answer)).toBe(413);
    socket.destroy();
  });

  it('answers 429 once the held bodies reach the cap, and takes uploads again when they go', async () => {
    const held = HTTP_TRIGGER_MAX_BUFFERED_BYTES / HTTP_TRIGGER_BODY_LIMIT_BYTES;
    const uploads = [];
    // every upload but its last byte: each holds ~32 MiB until it completes
    for (let i = 0; i < held; i++) uploads.push(await openUpload(HTTP_TRIGGER_BODY_LIMIT_BYTES, HTTP_TRIGGER_BODY_LIMIT_BYTES - 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const extra = await openUpload(HTTP_TRIGGER_BODY_LIMIT_BYTES, 4 * 1024 * 1024);
    const text = await extra.answer;
    expect(statusOf(text)).toBe(429);
    expect(text).toContain('ResourceExhausted');
    extra.socket.destroy();
    for (const u of uploads) u.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await fetch(`${server.url}/`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(res.status).toBe(200);
  }, 60_000);
});
