/**
 * FC 3.0 HTTP trigger ⇄ a plain request/response. Decodes FC's quirks once: the Buffer
 * event, comma-joined header values, base64 bodies, `timeEpoch` as a string.
 */
import { z } from 'zod';
import { PayloadTooLargeError } from '../../shared/errors.ts';
import { stringifyJson } from '../../shared/json-text.ts';

export const FcHttpEventSchema = z.object({
  version: z.literal('v1'),
  rawPath: z.string(),
  body: z.string().default(''),
  isBase64Encoded: z.boolean().default(false),
  headers: z.record(z.string(), z.string()).default({}),
  queryParameters: z.record(z.string(), z.string()).default({}),
  requestContext: z.object({
    accountId: z.string().optional(),
    domainName: z.string().optional(),
    requestId: z.string(),
    http: z.object({
      method: z.string(),
      path: z.string(),
      protocol: z.string().optional(),
      sourceIp: z.string().default(''),
      userAgent: z.string().default(''),
    }),
    time: z.string().optional(),
    timeEpoch: z.string().optional(),
  }),
});
export type FcHttpEvent = z.infer<typeof FcHttpEventSchema>;

export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  query: Record<string, string>;
  body: Buffer;
  sourceIp: string;
  requestId: string;
  host: string;
}

export interface HttpResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface FcHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

export class BadTriggerEventError extends Error {
  override name = 'BadTriggerEventError';
}

/**
 * Room in an HTTP event for what is not the body: headers, query, request context (FC caps
 * headers and URL well below this).
 */
export const HTTP_EVENT_OVERHEAD_BYTES = 64 * 1024;
/**
 * How much larger than the body its text in the event can be: base64 is 4/3, and JSON escaping
 * of a text body (quotes, newlines) stays under 2 for any JSON, NDJSON or form body.
 */
export const HTTP_EVENT_BODY_EXPANSION = 2;

export interface HttpDecodeLimits {
  /** The route's largest raw body (as sent, before any Content-Encoding is undone). */
  maxBodyBytes: number;
}

export function tooLargeBody(limitBytes: number, size?: number): PayloadTooLargeError {
  const got = size === undefined ? '' : ` (${size} bytes)`;
  return new PayloadTooLargeError('PayloadTooLarge', `the request body${got} exceeds ${limitBytes} bytes; send a smaller body`);
}

/** Bytes a base64 string decodes to, without decoding it. */
function base64DecodedLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** Refuses (PayloadTooLargeError) a body over the limit by Content-Length or its text's length, without decoding it. */
export function checkHttpBodySize(e: FcHttpEvent, limits: HttpDecodeLimits): void {
  for (const [name, value] of Object.entries(e.headers)) {
    if (name.toLowerCase() !== 'content-length') continue;
    const declared = Number(value);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) throw tooLargeBody(limits.maxBodyBytes, declared);
  }
  const size = e.isBase64Encoded ? base64DecodedLength(e.body) : Buffer.byteLength(e.body, 'utf8');
  if (size > limits.maxBodyBytes) throw tooLargeBody(limits.maxBodyBytes, size);
}

/** A checked FC HTTP event as a plain request: lower-cased headers (no prototype), the body as bytes. */
export function httpRequestOf(e: FcHttpEvent): HttpRequest {
  const headers = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(e.headers)) headers[k.toLowerCase()] = v;
  return {
    method: e.requestContext.http.method.toUpperCase(),
    path: e.requestContext.http.path,
    headers,
    query: e.queryParameters,
    body: e.isBase64Encoded ? Buffer.from(e.body, 'base64') : Buffer.from(e.body, 'utf8'),
    sourceIp: e.requestContext.http.sourceIp,
    requestId: e.requestContext.requestId,
    host: headers['host'] ?? e.requestContext.domainName ?? '',
  };
}

export function encodeHttpResponse(response: HttpResponse): FcHttpResponse {
  const binary = Buffer.isBuffer(response.body);
  return {
    statusCode: response.statusCode,
    headers: response.headers ?? {},
    body: binary ? (response.body as Buffer).toString('base64') : ((response.body as string | undefined) ?? ''),
    isBase64Encoded: binary,
  };
}

/** A JSON answer; `nosniff` so no browser ever reads one as HTML or script. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }, body: stringifyJson(body) };
}
