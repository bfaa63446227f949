/**
 * An HTTP trigger's response struct handed from a function instance to the gateway without a
 * JSON round trip (protocol.ts HttpResponseParts). Function Compute serialises what the handler
 * returns and its gateway decodes that; the emulator sends the decoded struct instead, but only
 * when the JSON would carry it unchanged, so what the client receives is the same either way
 * (test/unit/emulator-http-response.test.ts compares the two paths).
 */
import type { HttpResponseParts } from './protocol.ts';

const RESPONSE_STRUCT_KEYS = new Set(['statusCode', 'headers', 'body', 'isBase64Encoded']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * An HTTP trigger's response struct as the gateway would decode it from the JSON FC makes of it,
 * without that JSON: only for a struct that JSON carries unchanged — a plain object of the
 * struct's own fields, an integer status 100–599, headers of strings, finite numbers or arrays
 * of strings, a string body, a boolean isBase64Encoded. Anything else (extra fields, a Buffer
 * body, a toJSON, NaN…) is undefined and goes the JSON way, as before.
 */
export function httpParts(result: unknown): HttpResponseParts | undefined {
  if (!isPlainObject(result)) return undefined;
  for (const key of Object.keys(result)) if (!RESPONSE_STRUCT_KEYS.has(key)) return undefined;
  const { statusCode, headers, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return undefined;
  if (body !== undefined && typeof body !== 'string') return undefined;
  if (isBase64Encoded !== undefined && typeof isBase64Encoded !== 'boolean') return undefined;
  const copied: Record<string, string | number | string[]> = {};
  if (headers !== undefined) {
    if (!isPlainObject(headers)) return undefined;
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) copied[name] = value;
      else if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype && value.every((v) => typeof v === 'string')) copied[name] = [...(value as string[])];
      else return undefined;
    }
  }
  const text = body ?? '';
  // the bytes the gateway writes: base64 decoded as Buffer.from does, text as UTF-8
  // (Buffer.from, not TextEncoder: ~9× faster on a 46 KB answer in Node 20)
  const bytes = Buffer.from(text, isBase64Encoded === true ? 'base64' : 'utf8');
  return { statusCode, headers: copied, body: bytes };
}

/** The body's buffer when the body alone owns it (then it is moved, not copied; a pooled Buffer is copied). */
export function transferable(bytes: Uint8Array): ArrayBuffer[] {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? [buffer] : [];
}
