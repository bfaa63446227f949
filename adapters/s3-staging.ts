/** Staging objects in the S3-compatible store: gzip JSON, written before ingest answers. */
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RetryableError } from '../shared/errors.ts';
import type { StagingWriter } from '../shared/pipeline/ingest.ts';
import type { StagingBatch } from '../shared/pipeline/staging.ts';

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
      throw new RetryableError(`the staging store is unavailable; nothing was accepted, retry the request`, { cause: error });
    }
  }
}

/** Reads an object whole; gunzips it when its bytes are gzip. */
export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}
