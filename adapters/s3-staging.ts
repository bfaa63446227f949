/** Staging objects in the S3-compatible store: gzip JSON, written before ingest answers. */
import { gunzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PayloadTooLargeError, RetryableError, UnreadableObjectError } from '../shared/errors.ts';
import type { StagingWriter } from '../shared/pipeline/ingest.ts';
import type { StagingBatch } from '../shared/pipeline/staging.ts';
import { isS3Transient } from './s3.ts';

const gunzipAsync = promisify(gunzip);

/** Default bound of `readObject` (stored and decompressed bytes) when the caller names none. */
export const READ_OBJECT_MAX_BYTES = 64 * 1024 * 1024;

export class S3Staging implements StagingWriter {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, batch: StagingBatch): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // Fastest gzip level: staging objects are short-lived; speed matters more than size.
          Body: gzipSync(JSON.stringify(batch), { level: 1 }),
          ContentType: 'application/gzip',
          ServerSideEncryption: 'AES256',
        }),
      );
    } catch (error) {
      // Only an outage is "unavailable, retry"; anything else (AccessDenied, a missing bucket,
      // a bug) is not the caller's to retry and surfaces as the error it is.
      if (!isS3Transient(error)) throw error;
      throw new RetryableError(`the staging store is unavailable; nothing was accepted, retry the request`, { cause: error });
    }
  }
}

/**
 * Reads an object whole; gunzips it when its bytes are gzip. At most `maxBytes` stored bytes and
 * `maxBytes` decompressed bytes (a gzip bomb stops there): beyond that, PayloadTooLargeError
 * `ObjectTooLarge`. Gzip bytes zlib cannot decompress: UnreadableObjectError `InvalidGzip`.
 */
export async function readObject(s3: S3Client, bucket: string, key: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? READ_OBJECT_MAX_BYTES;
  const tooLarge = (what: string) =>
    new PayloadTooLargeError('ObjectTooLarge', `${key} is larger than ${maxBytes} bytes ${what}; split it into smaller files`);
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) throw new RetryableError(`GetObject ${bucket}/${key} returned no body`);
  if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
    (res.Body as { destroy?: () => void }).destroy?.();
    throw tooLarge('as stored');
  }
  const bytes = Buffer.from(await res.Body.transformToByteArray());
  if (bytes.byteLength > maxBytes) throw tooLarge('as stored');
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return await gunzipAsync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooLarge('once decompressed');
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR: truncated, not deflate…): the bytes are broken, a retry reads the same
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new UnreadableObjectError('InvalidGzip', `${key} starts like gzip but cannot be decompressed: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
