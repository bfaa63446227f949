/**
 * The emulator's HTTP hardening (docs/design.md §Security): every request listener runs inside
 * `guardListener`, so a throw or a rejection becomes an answer — 4xx for bad input, a generic
 * 500 without the error's text otherwise — and never an uncaught exception; malformed request
 * lines and headers get Node's 400/431 and a closed socket; and the emulator's process keeps
 * serving after anything that still escapes (`installLastResort`).
 *
 * Internal routes (`/-/…`) take the stack's token: `Authorization: Bearer <token>` (what MinIO
 * sends for a webhook target's `auth_token`), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Logger } from './logger.ts';

/** Bytes of a generated internal token (hex-encoded: 64 characters). */
export const INTERNAL_TOKEN_BYTES = 32;
/** The longest Authorization header an internal route reads. */
const MAX_AUTHORIZATION_LENGTH = 1024;

/** Bad input from the client: answered with its status, code and message. */
export class HttpInputError extends Error {
  override name = 'HttpInputError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Request body bytes one server holds at once (bodies being received or waiting for their
 * invocation), so that clients holding many large uploads open cannot make it buffer without
 * bound: a request that would go past it is answered 429 `ResourceExhausted`.
 */
export class BodyBudget {
  private held = 0;
  constructor(private readonly limit: number) {}
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }
  give(bytes: number): void {
    this.held -= bytes;
  }
}

export function bodyBudgetExhausted(what: string): HttpInputError {
  return new HttpInputError(429, 'ResourceExhausted', `${what} holds too many request bodies at once; retry later`);
}

/**
 * A request's body within `limit` bytes, taking its bytes from `budget` as they arrive (added to
 * `held.bytes`, which the caller gives back once the request is done); null when the body is
 * declared (Content-Length, refused before it is read) or found over `limit` (the rest is
 * drained, not kept). Rejects 429 `ResourceExhausted` when the budget runs out (`what` names the
 * server), and 400 `RequestAborted` when the client goes before the body's end.
 */
export function readBodyWithin(req: http.IncomingMessage, limit: number, budget: BodyBudget, held: { bytes: number }, what: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume();
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      done();
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
      } else if (!budget.take(chunk.length)) {
        chunks.length = 0;
        settle(() => reject(bodyBudgetExhausted(what)));
      } else {
        held.bytes += chunk.length;
        chunks.push(chunk);
      }
    });
    req.on('error', (error) => settle(() => reject(error)));
    req.on('close', () => settle(() => reject(new HttpInputError(400, 'RequestAborted', 'the request ended before its body'))));
    req.on('end', () => settle(() => resolve(size > limit ? null : Buffer.concat(chunks))));
  });
}

/** `decodeURIComponent` that answers 400 (naming what was being decoded) instead of throwing a URIError. */
export function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpInputError(400, 'InvalidURI', `${what} has a malformed percent-escape`);
  }
}

/** The request's URL (path and query); a request target no URL can be made of answers 400. */
export function requestUrl(req: Pick<http.IncomingMessage, 'url'>): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new HttpInputError(400, 'InvalidURI', 'the request target is not a valid URL path');
  }
}

export function generateInternalToken(): string {
  return randomBytes(INTERNAL_TOKEN_BYTES).toString('hex');
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time comparison of a presented secret with the expected one (over equal-length digests). */
export function secretMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export type BearerCheck = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string };

/** Checks `Authorization: Bearer <token>`: 401 when absent or not a Bearer token, 403 when wrong. */
export function checkBearer(header: string | string[] | undefined, token: string): BearerCheck {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined || value === '') {
    return { ok: false, status: 401, code: 'Unauthorized', message: 'the Authorization header is required: Bearer <the stack token>' };
  }
  const match = value.length <= MAX_AUTHORIZATION_LENGTH ? /^Bearer +(\S+) *$/i.exec(value) : null;
  if (!match) return { ok: false, status: 401, code: 'Unauthorized', message: 'the Authorization header must be Bearer <the stack token>' };
  if (!secretMatches(match[1] as string, token)) return { ok: false, status: 403, code: 'Forbidden', message: 'the Authorization header carries a wrong token' };
  return { ok: true };
}

function answer(res: http.ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ ErrorCode: code, ErrorMessage: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  res.end(body);
}

/**
 * Wraps a request listener: a thrown or rejected HttpInputError (or URIError) is answered as
 * bad input; any other error is logged and answered with a generic 500 (no error text).
 */
export function guardListener(
  name: string,
  logger: Pick<Logger, 'error'>,
  listener: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    // an aborted upload or a reset socket must not become an unhandled 'error' event
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const fail = (error: unknown) => {
      if (error instanceof HttpInputError) {
        req.resume();
        answer(res, error.status, error.code, error.message);
        return;
      }
      if (error instanceof URIError) {
        req.resume();
        answer(res, 400, 'InvalidURI', 'the request has a malformed percent-escape');
        return;
      }
      logger.error(`${name}: ${req.method ?? '?'} request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      req.resume();
      answer(res, 500, 'InternalServerError', 'the request failed; see the emulator log');
    };
    try {
      const pending = listener(req, res);
      if (pending) pending.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/** Answers malformed requests Node's parser refuses (bad request line, bad or huge headers) and closes the socket. */
/** A request's headers must arrive within this time (Node's default is 60 s). */
export const HEADERS_TIMEOUT_MS = 20_000;
/** A whole request, body included, must arrive within this time (Node's default is 300 s): a 5 MiB ingest body takes well under it. */
export const REQUEST_TIMEOUT_MS = 60_000;

export function guardServer(server: http.Server): void {
  // Half-sent requests (slowloris, a body that never completes) are cut off in bounded time.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // CONNECT is no method of ours: answer it instead of leaving the socket hanging.
  server.on('connect', (_request, socket) => {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (error.code === 'ECONNRESET')) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
}

let lastResortInstalled = false;

/**
 * The emulator process's last resort: an exception or rejection nothing caught is logged (its
 * stack, to the emulator's log) and the process keeps serving. Installed once per process.
 */
export function installLastResort(logger: Pick<Logger, 'error'>): void {
  if (lastResortInstalled) return;
  lastResortInstalled = true;
  process.on('uncaughtException', (error) => {
    logger.error(`uncaught exception (the stack keeps serving): ${error.stack ?? error.message}`);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error(`unhandled rejection (the stack keeps serving): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });
}
