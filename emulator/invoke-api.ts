/**
 * The invoke API, as Function Compute serves it:
 *   POST /2016-08-15/services/{service}/functions/{name}/invocations   (FC 2.0, `@alicloud/fc2`)
 *   POST /2023-03-30/functions/{name}/invocations                       (FC 3.0, ACS3-HMAC-SHA256)
 * Sync answers with the function's result (function errors: 200 + `x-fc-error-type`);
 * Async (`x-fc-invocation-type: Async`) answers 202 at once and runs from the durable queue.
 *
 * Emulator-only routes live under `/-/` (not part of FC's API): fire a timer trigger now,
 * receive S3 webhook notifications (MinIO, or our embedded server), read an async status.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EntityTooLargeError } from './async-queue.ts';
import { verifyFcSignature, type FcAuthFailure } from './fc-signature.ts';
import { BodyBudget, checkBearer, decodeComponent, guardListener, guardServer, HttpInputError, readBodyWithin, requestUrl } from './http-guard.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { InvocationResult } from './runtime/function-runtime.ts';

/** FC's longest async delay (`x-fc-async-delay`, seconds). */
const MAX_ASYNC_DELAY_SECONDS = 3600;
/** The largest S3 notification `/-/s3-events` reads. */
export const S3_NOTIFICATION_LIMIT_BYTES = 1024 * 1024;
/** FC's limit on a synchronous invocation payload. */
export const SYNC_PAYLOAD_LIMIT_BYTES = 32 * 1024 * 1024;
/**
 * Request body bytes the invoke API holds at once (bodies are read before their signature is
 * checked): eight payloads at FC's limit; past it, 429 `ResourceExhausted` (http-guard.ts BodyBudget).
 */
export const INVOKE_API_MAX_BUFFERED_BYTES = 8 * SYNC_PAYLOAD_LIMIT_BYTES;

/** A request's share of the server's BodyBudget: `held.bytes` is given back when the request is done. */
interface BodyAccount {
  budget: BodyBudget;
  held: { bytes: number };
}

export interface InvokeApiCore {
  readonly accountId: string;
  readonly credentials: { accessKeyId: string; accessKeySecret: string };
  hasFunction(name: string): boolean;
  invokeSync(name: string, event: Buffer, requestId: string): Promise<InvocationResult>;
  /** `delaySeconds`: FC's `x-fc-async-delay` (0–3600). */
  invokeAsync(name: string, event: Buffer, requestId: string, delaySeconds?: number): Promise<void>;
  /** Verifies an ACS3-HMAC-SHA256 request (FC 3.0 API); null when valid. */
  verifyAcs3(req: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: Buffer }): Promise<FcAuthFailure | null>;
  fireTimer(functionName: string, triggerName: string): Promise<string | undefined>;
  acceptS3Notification(body: unknown, keyEncoded: boolean): Promise<number>;
  asyncStatus(requestId: string): Promise<unknown>;
  /** The stack's token, required on every `/-/…` route as `Authorization: Bearer <token>` (MinIO's webhook `auth_token`). */
  readonly internalToken: string;
}

type ApiVersion = '2016-08-15' | '2023-03-30';

function errorBody(version: ApiVersion, code: string, message: string, requestId: string): unknown {
  return version === '2016-08-15'
    ? { ErrorCode: code, ErrorMessage: message, RequestId: requestId }
    : { Code: code, Message: message, RequestId: requestId };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function lowerHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

const ROUTE_2016 = /^\/2016-08-15\/services\/([^/]+)\/functions\/([^/]+)\/invocations$/;
const ROUTE_2023 = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/;

export async function startInvokeApi(core: InvokeApiCore, host: string, port: number, logger: Logger = silentLogger): Promise<{ url: string; close(): Promise<void> }> {
  const budget = new BodyBudget(INVOKE_API_MAX_BUFFERED_BYTES);
  const server = http.createServer(
    guardListener('invoke API', logger, async (req, res) => {
      const account: BodyAccount = { budget, held: { bytes: 0 } };
      try {
        await handle(core, req, res, account);
      } finally {
        budget.give(account.held.bytes);
      }
    }),
  );
  guardServer(server);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(core: InvokeApiCore, req: http.IncomingMessage, res: http.ServerResponse, account: BodyAccount): Promise<void> {
  const url = requestUrl(req);
  const path = url.pathname;
  if (path === '/-' || path.startsWith('/-/')) return handleAdmin(core, req, res, url, account);

  const requestId = req.headers['x-fc-request-id']?.toString() || randomUUID();
  const m2016 = ROUTE_2016.exec(path);
  const m2023 = m2016 ? null : ROUTE_2023.exec(path);
  if (!m2016 && !m2023) {
    send(res, 404, { ErrorCode: 'PathNotSupported', ErrorMessage: `path ${path} is not supported by this emulator` });
    return;
  }
  const version: ApiVersion = m2016 ? '2016-08-15' : '2023-03-30';
  // a malformed escape is bad input whoever sends it (400, before the signature is looked at)
  const rawName = decodeComponent(((m2016 ?? m2023) as RegExpExecArray)[m2016 ? 2 : 1] as string, 'the function name in the path');
  if (req.method !== 'POST') {
    send(res, 405, errorBody(version, 'MethodNotAllowed', 'invocations take POST', requestId));
    return;
  }
  const body = await readBodyWithin(req, SYNC_PAYLOAD_LIMIT_BYTES, account.budget, account.held, 'the invoke API');
  if (!body) {
    send(res, 400, errorBody(version, 'EntityTooLarge', `payload size exceeds maximum allowed size (${SYNC_PAYLOAD_LIMIT_BYTES} bytes)`, requestId));
    return;
  }
  const headers = lowerHeaders(req);
  const failure =
    version === '2016-08-15'
      ? verifyFcSignature({ method: 'POST', path, headers, body }, core.credentials)
      : await core.verifyAcs3({ method: 'POST', path, query: Object.fromEntries(url.searchParams), headers, body });
  if (failure) {
    send(res, failure.status, errorBody(version, failure.code, failure.message, requestId));
    return;
  }
  const accountHeader = headers['x-fc-account-id'];
  if (accountHeader && accountHeader !== core.accountId) {
    send(res, 403, errorBody(version, 'AccessDenied', `account ${accountHeader} is not this emulator's account`, requestId));
    return;
  }
  const name = rawName.split('.')[0] as string; // `name.qualifier` → name; every qualifier is LATEST here
  if (!core.hasFunction(name)) {
    send(res, 404, errorBody(version, 'FunctionNotFound', `function '${name}' does not exist`, requestId));
    return;
  }

  if ((headers['x-fc-invocation-type'] ?? 'Sync').toLowerCase() === 'async') {
    const delay = headers['x-fc-async-delay'];
    let delaySeconds = 0;
    if (delay !== undefined) {
      delaySeconds = /^\d{1,4}$/.test(delay.trim()) ? Number(delay.trim()) : Number.NaN;
      if (!(delaySeconds >= 0 && delaySeconds <= MAX_ASYNC_DELAY_SECONDS)) {
        send(res, 400, errorBody(version, 'InvalidArgument', `x-fc-async-delay must be a whole number of seconds from 0 to ${MAX_ASYNC_DELAY_SECONDS}; got ${JSON.stringify(delay)}`, requestId));
        return;
      }
    }
    try {
      await core.invokeAsync(name, body, requestId, delaySeconds);
    } catch (error) {
      if (error instanceof EntityTooLargeError) {
        send(res, 400, errorBody(version, 'EntityTooLarge', `payload size exceeds maximum allowed size (${error.message})`, requestId));
        return;
      }
      throw error;
    }
    res.writeHead(202, { 'x-fc-request-id': requestId });
    res.end();
    return;
  }

  const result = await core.invokeSync(name, body, requestId);
  const base = { 'x-fc-request-id': requestId, 'x-fc-invocation-duration': String(result.durationMs) };
  if (result.ok) {
    res.writeHead(200, { ...base, 'content-type': 'application/octet-stream' });
    res.end(result.payload);
  } else {
    send(res, 200, result.error, { ...base, 'x-fc-error-type': result.errorType });
  }
}

async function handleAdmin(core: InvokeApiCore, req: http.IncomingMessage, res: http.ServerResponse, url: URL, account: BodyAccount): Promise<void> {
  const path = url.pathname;
  const auth = checkBearer(req.headers.authorization, core.internalToken);
  if (!auth.ok) {
    req.resume();
    send(res, auth.status, { ErrorCode: auth.code, ErrorMessage: auth.message }, auth.status === 401 ? { 'www-authenticate': 'Bearer realm="trailkeeper-emulator"' } : {});
    return;
  }
  if (path === '/-/health') {
    req.resume();
    send(res, 200, { ok: true, accountId: core.accountId });
    return;
  }
  const timer = /^\/-\/timers\/([^/]+)\/([^/]+)$/.exec(path);
  if (timer && req.method === 'POST') {
    req.resume();
    const functionName = decodeComponent(timer[1] as string, 'the function name in the timer route');
    const triggerName = decodeComponent(timer[2] as string, 'the trigger name in the timer route');
    const requestId = await core.fireTimer(functionName, triggerName);
    if (!requestId) send(res, 404, { ErrorCode: 'TriggerNotFound', ErrorMessage: `no timer trigger ${JSON.stringify(triggerName)} on function ${JSON.stringify(functionName)}` });
    else send(res, 202, { requestId });
    return;
  }
  if (path === '/-/s3-events' && req.method === 'POST') {
    const body = await readBodyWithin(req, S3_NOTIFICATION_LIMIT_BYTES, account.budget, account.held, 'the invoke API');
    if (!body) throw new HttpInputError(413, 'EntityTooLarge', `the notification body exceeds ${S3_NOTIFICATION_LIMIT_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      send(res, 400, { ErrorCode: 'InvalidJSON', ErrorMessage: 'the notification body is not JSON' });
      return;
    }
    // Our embedded server sends raw keys (x-tk-key-encoding: raw); S3 and MinIO URL-encode them.
    const keyEncoded = req.headers['x-tk-key-encoding'] !== 'raw';
    const invoked = await core.acceptS3Notification(parsed, keyEncoded);
    send(res, 200, { invoked });
    return;
  }
  const status = /^\/-\/async\/([^/]+)$/.exec(path);
  if (status && req.method === 'GET') {
    req.resume();
    const found = await core.asyncStatus(decodeComponent(status[1] as string, 'the request id in the async route'));
    if (found) send(res, 200, found);
    else send(res, 404, { ErrorCode: 'NotFound', ErrorMessage: 'no such async request' });
    return;
  }
  req.resume();
  send(res, 404, { ErrorCode: 'PathNotSupported', ErrorMessage: 'unknown emulator route' });
}
