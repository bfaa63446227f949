/**
 * Request bodies: gzip (`Content-Encoding: gzip`) decoded under a size limit. The raw body is
 * held to the limit before it is inflated, and inflation stops at the limit (docs/design.md §3).
 */
import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { PayloadTooLargeError, ValidationError } from '../../shared/errors.ts';
import type { HttpRequest } from './http.ts';

export function decodeBody(request: Pick<HttpRequest, 'headers' | 'body'>, limitBytes: number): string {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const tooLarge = () => new PayloadTooLargeError('PayloadTooLarge', `the decoded body exceeds ${limitBytes} bytes; split it into smaller requests`);
  if (request.body.length > limitBytes) throw tooLarge();
  let bytes: Buffer;
  if (encoding === 'gzip') {
    try {
      bytes = gunzipSync(request.body, { maxOutputLength: limitBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooLarge();
      throw new ValidationError('InvalidBody', 'Content-Encoding is gzip but the body is not valid gzip', 'body');
    }
  } else if (encoding === 'identity') {
    bytes = request.body;
  } else {
    throw new ValidationError('UnsupportedEncoding', `Content-Encoding ${encoding} is not supported; use gzip or none`, 'Content-Encoding');
  }
  // Decoding invalid UTF-8 would replace bytes: what is stored would not be what was sent.
  if (!isUtf8(bytes)) throw new ValidationError('InvalidBody', 'the body is not valid UTF-8; send JSON or NDJSON encoded as UTF-8', 'body');
  return bytes.toString('utf8');
}
