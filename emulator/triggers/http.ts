/**
 * HTTP triggers: each listens on its own port (each has its own domain in Function Compute),
 * turns the request into FC 3.0's HTTP event (`version: 'v1'`), invokes the function
 * synchronously, and turns the response struct back into an HTTP response.
 */
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { FunctionSpec, HttpTrigger } from '../config.ts';
import { BodyBudget, decodeComponent, guardListener, guardServer, HttpInputError, readBodyWithin, requestUrl } from '../http-guard.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { InvocationResult } from '../runtime/function-runtime.ts';

/** FC's limit on a synchronous request body. */
export const HTTP_TRIGGER_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/**
 * Request body bytes one HTTP trigger holds at once (bodies being received or waiting for their
 * invocation): eight bodies at FC's limit. Past it a request is answered 429 `ResourceExhausted`
 * at once, so clients holding many large uploads open cannot make the emulator buffer without
 * bound (each connection could otherwise pin 32 MiB for the whole request timeout).
 */
export const HTTP_TRIGGER_MAX_BUFFERED_BYTES = 8 * HTTP_TRIGGER_BODY_LIMIT_BYTES;

function tooLargeBody(): HttpInputError {
  return new HttpInputError(413, 'EntityTooLarge', `payload size exceeds maximum allowed size (${HTTP_TRIGGER_BODY_LIMIT_BYTES} bytes)`);
}

const TEXT_CONTENT_TYPE = /^(text\/|application\/(json|x-ndjson|x-www-form-urlencoded|xml|javascript)|[^;]*\+json|[^;]*\+xml)/i;

export interface FcHttpEvent {
  version: 'v1';
  rawPath: string;
  body: string;
  isBase64Encoded: boolean;
  headers: Record<string, string>;
  queryParameters: Record<string, string>;
  requestContext: {
    accountId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    time: string;
    timeEpoch: string;
  };
}

const ResponseStruct = z.object({
  statusCode: z.number().int().min(100).max(599),
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.array(z.string())])).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});
const ResponseHead = ResponseStruct.pick({ statusCode: true, headers: true });

/** Header names as FC shows them: `content-type` → `Content-Type`. */
function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export function buildHttpEvent(
  req: http.IncomingMessage,
  body: Buffer,
  meta: { accountId: string; domainName: string; domainPrefix: string; requestId: string; now?: Date },
): FcHttpEvent {
  const url = requestUrl(req);
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = canonicalHeaderName((req.rawHeaders[i] as string).toLowerCase());
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]},${value}` : value;
  }
  const queryParameters: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    queryParameters[key] = Object.hasOwn(queryParameters, key) ? `${queryParameters[key]},${value}` : value;
  }
  const contentType = req.headers['content-type'] ?? '';
  const encoded = req.headers['content-encoding'];
  // A text body that is not valid UTF-8 goes as base64, or decoding it would replace bytes (and
  // the body the function sees would not be the body that was signed).
  const asText = body.length === 0 || (TEXT_CONTENT_TYPE.test(contentType) && (!encoded || encoded === 'identity') && isUtf8(body));
  const now = meta.now ?? new Date();
  return {
    version: 'v1',
    rawPath: url.pathname,
    body: asText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !asText,
    headers,
    queryParameters,
    requestContext: {
      accountId: meta.accountId,
      domainName: meta.domainName,
      domainPrefix: meta.domainPrefix,
      http: {
        method: req.method ?? 'GET',
        path: decodeComponent(url.pathname, 'the request path'),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: meta.requestId,
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      timeEpoch: String(now.getTime()),
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Writes FC's answer to an HTTP-triggered invocation. */
export function writeHttpResult(res: http.ServerResponse, result: InvocationResult): void {
  const base = { 'x-fc-request-id': result.requestId, 'x-fc-invocation-duration': String(result.durationMs) };
  if (!result.ok) {
    sendJson(res, 502, result.error, { ...base, 'x-fc-error-type': result.errorType });
    return;
  }
  let statusCode: number;
  let structHeaders: Record<string, string | number | string[]>;
  let body: Buffer | string;
  if (result.response) {
    // decoded by the instance (a struct its JSON carries unchanged): checked as the JSON one is
    const head = ResponseHead.safeParse({ statusCode: result.response.statusCode, headers: result.response.headers });
    if (!head.success) {
      sendJson(res, 502, { ErrorCode: 'InvalidFunctionResponse', ErrorMessage: 'the function returned an invalid response struct' }, base);
      return;
    }
    statusCode = head.data.statusCode;
    structHeaders = head.data.headers ?? {};
    const bytes = result.response.body;
    body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.payload.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const struct = ResponseStruct.safeParse(parsed);
    if (!struct.success) {
      res.writeHead(200, base);
      res.end(result.payload);
      return;
    }
    statusCode = struct.data.statusCode;
    structHeaders = struct.data.headers ?? {};
    const text = struct.data.body ?? '';
    body = struct.data.isBase64Encoded ? Buffer.from(text, 'base64') : text;
  }
  const headers: Record<string, string | string[]> = { ...base };
  for (const [k, v] of Object.entries(structHeaders)) headers[k.toLowerCase()] = Array.isArray(v) ? v : String(v);
  try {
    res.writeHead(statusCode, headers);
  } catch {
    // a header name or value HTTP cannot carry: FC answers such a response struct as a bad gateway
    sendJson(res, 502, { ErrorCode: 'InvalidFunctionResponse', ErrorMessage: 'the function returned headers HTTP cannot carry' }, base);
    return;
  }
  res.end(body);
}

export interface HttpTriggerServer {
  readonly url: string;
  readonly functionName: string;
  close(): Promise<void>;
}

export async function startHttpTrigger(options: {
  fn: FunctionSpec;
  trigger: HttpTrigger;
  host: string;
  port: number;
  accountId: string;
  invoke: (event: Buffer, requestId: string) => Promise<InvocationResult>;
  logger?: Logger;
}): Promise<HttpTriggerServer> {
  const { fn, trigger } = options;
  const methods = new Set(trigger.triggerConfig.methods.map((m) => m.toUpperCase()));
  const budget = new BodyBudget(HTTP_TRIGGER_MAX_BUFFERED_BYTES);
  const server = http.createServer(
    guardListener(`HTTP trigger ${fn.functionName}/${trigger.triggerName}`, options.logger ?? silentLogger, async (req, res) => {
      const requestId = `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
      if (!methods.has(req.method ?? '')) {
        req.resume();
        sendJson(res, 405, { ErrorCode: 'MethodNotAllowed', ErrorMessage: `method ${req.method} is not allowed by trigger ${trigger.triggerName}` });
        return;
      }
      const held = { bytes: 0 };
      try {
        const body = await readBodyWithin(req, HTTP_TRIGGER_BODY_LIMIT_BYTES, budget, held, `trigger ${trigger.triggerName}`);
        if (!body) throw tooLargeBody();
        const event = buildHttpEvent(req, body, {
          accountId: options.accountId,
          domainName,
          domainPrefix: fn.functionName,
          requestId,
        });
        writeHttpResult(res, await options.invoke(Buffer.from(JSON.stringify(event)), requestId));
      } finally {
        budget.give(held.bytes);
      }
    }),
  );
  guardServer(server);
  server.keepAliveTimeout = 65_000;
  // the trigger's domain, known once it listens (no request arrives before)
  let domainName = `${options.host}:${options.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  domainName = `${options.host}:${address.port}`;
  return {
    url: `http://${options.host}:${address.port}`,
    functionName: fn.functionName,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
