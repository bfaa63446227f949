/**
 * Runs inside one function instance (a worker thread): loads the function's bundle once,
 * then answers invocations with FC's calling convention — `handler(event: Buffer, context)`
 * returning a promise, or `handler(event, context, callback)`.
 */
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { httpParts, transferable } from './http-response.ts';
import type { FcErrorBody, FromWorker, InvocationContextData, ToWorker, WorkerData } from './protocol.ts';

type Callback = (error: unknown, result?: unknown) => void;
type Handler = (event: Buffer, context: unknown, callback: Callback) => unknown;

const data = workerData as WorkerData;
const port = parentPort;
if (!port) throw new Error('worker-host must run in a worker thread');

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function toErrorBody(error: unknown): FcErrorBody {
  if (error instanceof Error) {
    return {
      errorMessage: error.message,
      errorType: error.name || 'Error',
      stackTrace: (error.stack ?? '').split('\n').slice(1).map((l) => l.trim()).filter(Boolean),
    };
  }
  return { errorMessage: typeof error === 'string' ? error : format('%o', error), errorType: 'Error', stackTrace: [] };
}

function encodeResult(result: unknown): Uint8Array {
  if (result === undefined || result === null) return new Uint8Array();
  if (result instanceof Uint8Array) return result;
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  return Buffer.from(JSON.stringify(result), 'utf8');
}

function makeLogger(requestId: string) {
  const log = (level: string) => (...args: unknown[]) => {
    send({ type: 'log', requestId, level, line: format(...args) });
  };
  return { debug: log('DEBUG'), info: log('INFO'), warn: log('WARN'), error: log('ERROR'), log: log('INFO') };
}

let handler: Handler;
try {
  const required: unknown = createRequire(import.meta.url)(data.bundlePath);
  const candidate = (required as Record<string, unknown>)[data.handlerExport];
  if (typeof candidate !== 'function') {
    throw new Error(`${data.bundlePath} does not export a function named "${data.handlerExport}"`);
  }
  handler = candidate as Handler;
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'init-error', error: toErrorBody(error) });
  throw error;
}

function run(event: Buffer, context: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback: Callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(result);
    };
    try {
      const returned = handler(event, context, callback);
      if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(
          (value) => callback(null, value),
          (error: unknown) => callback(error ?? new Error('handler rejected')),
        );
      } else if (handler.length < 3) {
        callback(null, returned);
      }
    } catch (error) {
      callback(error);
    }
  });
}

port.on('message', (message: ToWorker) => {
  if (message.type !== 'invoke') return;
  const ctxData: InvocationContextData = message.context;
  const context = { ...ctxData, logger: makeLogger(ctxData.requestId) };
  const event = Buffer.from(message.event.buffer, message.event.byteOffset, message.event.byteLength);
  const httpResponse = message.httpResponse === true;
  run(event, context).then(
    (result) => {
      const parts = httpResponse ? httpParts(result) : undefined;
      if (parts) send({ type: 'result', id: message.id, ok: true, http: parts }, transferable(parts.body));
      else send({ type: 'result', id: message.id, ok: true, payload: encodeResult(result) });
    },
    (error: unknown) => send({ type: 'result', id: message.id, ok: false, error: toErrorBody(error) }),
  );
});
