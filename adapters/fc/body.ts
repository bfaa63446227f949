/**
 * Request bodies: gzip (`Content-Encoding: gzip`) decoded under a size limit. The raw body is
 * held to the limit before it is inflated, and inflation stops at the limit (docs/design.md §3).
 */
import { gunzipSync } from 'node:zlib';
import { PayloadTooLargeError, ValidationError } from '../../shared/errors.ts';
import type { HttpRequest } from './http.ts';

export function decodeBody(request: Pick<HttpRequest, 'headers' | 'body'>, limitBytes: number): string {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const tooLarge = () => new PayloadTooLargeError('PayloadTooLarge', `the decoded body exceeds ${limitBytes} bytes; split it into smaller requests`);
  if (request.body.length > limitBytes) throw tooLarge();
  if (encoding === 'gzip') {
    try {
      return gunzipSync(request.body, { maxOutputLength: limitBytes }).toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooLarge();
      throw new ValidationError('InvalidBody', 'Content-Encoding is gzip but the body is not valid gzip', 'body');
    }
  }
  if (encoding !== 'identity') throw new ValidationError('UnsupportedEncoding', `Content-Encoding ${encoding} is not supported; use gzip or none`, 'Content-Encoding');
  return request.body.toString('utf8');
}
